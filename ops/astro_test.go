package ops_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/astro"
	"github.com/orgtoken/orgtoken-bot/ops"
)

// fakeAstro mounts the API under /v1, like the real one, and answers every request with the
// status its path asks for.
func fakeAstro(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/organizations/{org}/tokens", jsonReply(http.StatusOK, `{"tokens":[],"totalCount":0}`))
	mux.HandleFunc("GET /v1/organizations/{org}/tokens/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") == "missing" {
			jsonReply(http.StatusNotFound, `{"message":"not found"}`)(w, r)
			return
		}
		jsonReply(http.StatusOK, `{"id":"`+r.PathValue("id")+`","name":"ci"}`)(w, r)
	})
	mux.HandleFunc("POST /v1/organizations/{org}/tokens/{id}/roles", jsonReply(http.StatusOK, `{"organizationRole":"ORGANIZATION_MEMBER"}`))
	mux.HandleFunc("GET /v1/organizations/{org}/workspaces", jsonReply(http.StatusOK, `{"workspaces":[],"totalCount":0}`))
	mux.HandleFunc("DELETE /v1/organizations/{org}/tokens/{id}", jsonReply(http.StatusForbidden, `{}`))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func jsonReply(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

func TestInstrumentAstroLabelsTheCallsTheAstroClientMakes(t *testing.T) {
	t.Parallel()
	srv := fakeAstro(t)
	m := ops.NewMetrics()
	c := astro.New("org-1", "secret-token",
		astro.WithBaseURL(srv.URL+"/v1"),
		astro.WithHTTPClient(&http.Client{Transport: ops.InstrumentAstro(nil, m)}),
		astro.WithRetryPolicy(astro.RetryPolicy{MaxAttempts: 1}),
	)
	ctx := context.Background()
	_, err := c.ListTokens(ctx, astro.ListTokensOptions{})
	require.NoError(t, err)
	_, err = c.GetToken(ctx, "tok-1")
	require.NoError(t, err)
	_, err = c.GetToken(ctx, "missing")
	require.True(t, astro.IsNotFound(err), "fake answers 404: %v", err)
	_, err = c.UpdateTokenRoles(ctx, "tok-1", []astro.Role{{EntityType: "ORGANIZATION", EntityID: "org-1", Role: "ORGANIZATION_MEMBER"}})
	require.NoError(t, err)
	_, err = c.ListWorkspaces(ctx)
	require.NoError(t, err)

	fams := scrape(t, m)
	assert.Equal(t, map[string]float64{
		"endpoint=list_tokens,status=200":     1,
		"endpoint=get_token,status=200":       1,
		"endpoint=get_token,status=404":       1,
		"endpoint=update_roles,status=200":    1,
		"endpoint=list_workspaces,status=200": 1,
	}, series(fams, "orgtoken_astro_requests_total"))
	assert.Equal(t, map[string]float64{
		"endpoint=list_tokens":     1,
		"endpoint=get_token":       2,
		"endpoint=update_roles":    1,
		"endpoint=list_workspaces": 1,
	}, series(fams, "orgtoken_astro_request_duration_seconds"))
}

func TestInstrumentAstroLabelsByPathShape(t *testing.T) {
	t.Parallel()
	srv := fakeAstro(t)
	tests := []struct {
		name, method, path string
		want               string
	}{
		{"ListTokens", http.MethodGet, "/v1/organizations/o/tokens", "endpoint=list_tokens,status=200"},
		{"ListTokensWithQuery", http.MethodGet, "/v1/organizations/o/tokens?workspaceId=w&limit=5", "endpoint=list_tokens,status=200"},
		{"GetTokenEscapedID", http.MethodGet, "/v1/organizations/o/tokens/a%2Fb", "endpoint=get_token,status=200"},
		{"UpdateRoles", http.MethodPost, "/v1/organizations/o/tokens/t/roles", "endpoint=update_roles,status=200"},
		{"ListWorkspaces", http.MethodGet, "/v1/organizations/o/workspaces", "endpoint=list_workspaces,status=200"},
		{"OtherMethodOnAKnownPath", http.MethodDelete, "/v1/organizations/o/tokens/t", "endpoint=other,status=403"},
		{"UnknownPath", http.MethodGet, "/v1/organizations/o/deployments", "endpoint=other,status=404"},
		{"NoOrganization", http.MethodGet, "/v1/tokens", "endpoint=other,status=404"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := ops.NewMetrics()
			hc := &http.Client{Transport: ops.InstrumentAstro(http.DefaultTransport, m)}
			req, err := http.NewRequest(tt.method, srv.URL+tt.path, strings.NewReader(`{}`))
			require.NoError(t, err)
			resp, err := hc.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, map[string]float64{tt.want: 1}, series(scrape(t, m), "orgtoken_astro_requests_total"))
		})
	}
}

func TestInstrumentAstroTracksReachability(t *testing.T) {
	t.Parallel()
	srv := fakeAstro(t)
	// A listener that accepts and hangs up at once: the request reaches nobody who answers.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			conn.Close()
		}
	}()
	dead := "http://" + ln.Addr().String()

	m := ops.NewMetrics()
	hc := &http.Client{Transport: ops.InstrumentAstro(nil, m)}
	get := func(url string) {
		t.Helper()
		resp, err := hc.Get(url)
		if err == nil {
			resp.Body.Close()
		}
	}

	assert.Equal(t, ops.AstroContact{}, m.AstroContact(), "no calls yet")

	get(srv.URL + "/v1/organizations/o/deployments") // 404 is still an answer
	c := m.AstroContact()
	assert.False(t, c.LastAnswer.IsZero())
	assert.True(t, c.FailingSince.IsZero())
	answered := c.LastAnswer

	get(dead + "/v1/organizations/o/tokens")
	get(dead + "/v1/organizations/o/tokens/t")
	c = m.AstroContact()
	assert.Equal(t, answered, c.LastAnswer, "a transport error is not an answer")
	assert.False(t, c.FailingSince.IsZero())
	assert.False(t, c.LastFailure.Before(c.FailingSince))

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/v1/organizations/o/workspaces", nil)
	require.NoError(t, err)
	_, err = hc.Do(req)
	require.Error(t, err)
	assert.Equal(t, c, m.AstroContact(), "our own cancellation says nothing about Astro")

	get(srv.URL + "/v1/organizations/o/workspaces")
	c = m.AstroContact()
	assert.True(t, c.FailingSince.IsZero(), "an answer clears the failure")
	assert.True(t, c.LastFailure.IsZero())

	fams := scrape(t, m)
	assert.Equal(t, map[string]float64{
		"endpoint=other,status=404":                   1,
		"endpoint=list_tokens,status=transport_error": 1,
		"endpoint=get_token,status=transport_error":   1,
		"endpoint=list_workspaces,status=canceled":    1,
		"endpoint=list_workspaces,status=200":         1,
	}, series(fams, "orgtoken_astro_requests_total"))
	assert.NotEqual(t, map[string]float64{"": 0}, series(fams, "orgtoken_astro_last_response_timestamp_seconds"))
}

func TestInstrumentAstroWithoutMetricsIsTheTransportItself(t *testing.T) {
	t.Parallel()
	assert.Same(t, http.DefaultTransport, ops.InstrumentAstro(http.DefaultTransport, nil))
}
