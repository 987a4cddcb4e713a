package astro

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestClientSendsAuthAndIdentityHeaders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		opts    []Option
		wantUA  string
		call    func(context.Context, *Client) error
		wantCT  string
		wantMth string
	}{
		{
			name: "DefaultUserAgentOnRead", wantUA: DefaultUserAgent, wantMth: http.MethodGet,
			call: func(ctx context.Context, c *Client) error { _, err := c.GetToken(ctx, "tok-1"); return err },
		},
		{
			name: "CustomUserAgentAndJSONBodyOnWrite", opts: []Option{WithUserAgent("orgtoken-bot/1.2.3")},
			wantUA: "orgtoken-bot/1.2.3", wantCT: "application/json", wantMth: http.MethodPost,
			call: func(ctx context.Context, c *Client) error {
				_, err := c.UpdateTokenRoles(ctx, "tok-1", []Role{{EntityType: EntityOrganization, EntityID: testOrg, Role: "ORGANIZATION_MEMBER"}})
				return err
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got http.Header
			var method string
			ts := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got, method = r.Header.Clone(), r.Method
				writeJSON(http.StatusOK, tokenJSON)(w, r)
			}))
			c, _ := newTestClient(t, ts, tt.opts...)

			require.NoError(t, tt.call(t.Context(), c))

			assert.Equal(t, tt.wantMth, method)
			assert.Equal(t, "Bearer "+testAPIToken, got.Get("Authorization"))
			assert.Equal(t, tt.wantUA, got.Get("User-Agent"))
			assert.Equal(t, "application/json", got.Get("Accept"))
			assert.Equal(t, tt.wantCT, got.Get("Content-Type"))
		})
	}
}

func TestClientNeverRevealsAPIToken(t *testing.T) {
	t.Parallel()
	// The server misbehaves in every way that could leak: it echoes the token in its error
	// message and fails often enough that every log line is written.
	ts := newTestServer(t, script(
		apiError(http.StatusServiceUnavailable, "bad token "+testAPIToken),
		apiError(http.StatusBadRequest, "token "+testAPIToken+" is malformed"),
	))
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, _ := newTestClient(t, ts, WithLogger(logger))

	_, err := c.GetToken(t.Context(), "tok-1")
	require.Error(t, err)
	logger.Info("client", "client", c)

	for name, text := range map[string]string{
		"Error":    err.Error(),
		"%v":       fmt.Sprintf("%v", c),
		"%+v":      fmt.Sprintf("%+v", c),
		"%#v":      fmt.Sprintf("%#v", c),
		"%q":       fmt.Sprintf("%q", c),
		"slog":     logs.String(),
		"errorAny": fmt.Sprintf("%+v", err),
	} {
		assert.NotContains(t, text, testAPIToken, name)
	}
	assert.Contains(t, err.Error(), "[redacted]")
	assert.Contains(t, logs.String(), "retrying", "retries are logged")
}

func TestClientErrorsAreTypedAndNotRetried(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		handler    http.HandlerFunc
		wantStatus int
		wantMsg    string
		wantString string
		is         string // the one Is* helper that must say yes
	}{
		{name: "BadRequest", handler: apiError(400, "invalid role"), wantStatus: 400, wantMsg: "invalid role",
			wantString: "Astro API 400: invalid role (request id req-400)"},
		{name: "Unauthorized", handler: apiError(401, "token expired"), wantStatus: 401, wantMsg: "token expired", is: "IsUnauthorized"},
		{name: "Forbidden", handler: apiError(403, "not allowed"), wantStatus: 403, wantMsg: "not allowed", is: "IsForbidden"},
		{name: "NotFound", handler: apiError(404, "token not found"), wantStatus: 404, wantMsg: "token not found", is: "IsNotFound",
			wantString: "Astro API 404: token not found (request id req-404)"},
		{name: "InternalServerError", handler: apiError(500, "boom"), wantStatus: 500, wantMsg: "boom"},
		{name: "NonJSONBodyFallsBackToStatusText", handler: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Header().Set("X-Request-Id", "edge-7")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte("<html>" + strings.Repeat("x", 200<<10) + "</html>"))
		}, wantStatus: 404, wantMsg: "not found", is: "IsNotFound", wantString: "Astro API 404: not found (request id edge-7)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := newTestServer(t, tt.handler)
			c, ft := newTestClient(t, ts)

			_, err := c.GetToken(t.Context(), "tok-1")

			var apiErr *Error
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, tt.wantStatus, apiErr.StatusCode)
			assert.Equal(t, tt.wantMsg, apiErr.Message)
			assert.NotEmpty(t, apiErr.RequestID)
			if tt.wantString != "" {
				assert.Equal(t, tt.wantString, err.Error())
			}
			for name, is := range map[string]func(error) bool{"IsNotFound": IsNotFound, "IsForbidden": IsForbidden, "IsUnauthorized": IsUnauthorized} {
				assert.Equal(t, name == tt.is, is(err), name)
			}
			_, limited := IsRateLimited(err)
			assert.False(t, limited)
			assert.Equal(t, 1, ts.Requests(), "not retried")
			assert.Empty(t, ft.Slept())
		})
	}
}

func TestClientRetriesTransientFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		first     http.HandlerFunc
		wantSleep time.Duration // exact when the server said how long; 0 means backoff
	}{
		{name: "BadGateway", first: apiError(502, "bad gateway")},
		{name: "ServiceUnavailable", first: apiError(503, "unavailable")},
		{name: "GatewayTimeout", first: apiError(504, "timeout")},
		{name: "RateLimitedWithoutHint", first: rateLimited("")},
		{name: "RateLimitedHonoursRetryAfter", first: rateLimited("3"), wantSleep: 3 * time.Second},
		{name: "ConnectionDropped", first: dropConnection},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := newTestServer(t, script(tt.first, writeJSON(http.StatusOK, tokenJSON)))
			c, ft := newTestClient(t, ts)

			tok, err := c.GetToken(t.Context(), "tok-1")

			require.NoError(t, err)
			assert.Equal(t, "tok-1", tok.ID)
			assert.Equal(t, 2, ts.Requests())
			slept := ft.Slept()
			require.Len(t, slept, 1)
			if tt.wantSleep > 0 {
				assert.Equal(t, tt.wantSleep, slept[0])
			} else {
				p := DefaultRetryPolicy()
				assert.GreaterOrEqual(t, slept[0], p.BaseBackoff/2)
				assert.LessOrEqual(t, slept[0], p.BaseBackoff)
			}
		})
	}
}

func TestClientGivesUpWithinTheDeadline(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		policy       RetryPolicy
		handler      http.HandlerFunc
		wantRequests int // 0: more than one, fewer than the attempts allowed (jitter decides)
		wantStatus   int
		wantLimited  time.Duration
	}{
		{name: "AttemptsExhausted", policy: RetryPolicy{MaxAttempts: 3}, handler: apiError(503, "down"),
			wantRequests: 3, wantStatus: 503},
		{name: "BackoffWouldPassDeadline", policy: RetryPolicy{MaxAttempts: 50, MaxElapsed: 3 * time.Second, BaseBackoff: time.Second, MaxBackoff: time.Second},
			handler: apiError(503, "down"), wantStatus: 503},
		{name: "RetryAfterLongerThanDeadlineFailsFast", handler: rateLimited("30"),
			wantRequests: 1, wantStatus: 429, wantLimited: 30 * time.Second},
		{name: "RetryAfterAsHTTPDate", policy: RetryPolicy{MaxElapsed: 5 * time.Second},
			handler:      rateLimited(time.Date(2025, 1, 2, 3, 5, 5, 0, time.UTC).Format(http.TimeFormat)),
			wantRequests: 1, wantStatus: 429, wantLimited: time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := newTestServer(t, tt.handler)
			c, ft := newTestClient(t, ts, WithRetryPolicy(tt.policy))
			start := ft.Now()

			_, err := c.ListTokens(t.Context(), ListTokensOptions{})

			var apiErr *Error
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, tt.wantStatus, apiErr.StatusCode)
			if tt.wantRequests > 0 {
				assert.Equal(t, tt.wantRequests, ts.Requests())
			} else {
				assert.Greater(t, ts.Requests(), 1)
				assert.Less(t, ts.Requests(), c.retry.MaxAttempts)
			}
			assert.LessOrEqual(t, ft.Now().Sub(start), c.retry.MaxElapsed, "never waits past the deadline")
			wait, limited := IsRateLimited(err)
			assert.Equal(t, tt.wantLimited > 0, limited)
			assert.Equal(t, tt.wantLimited, wait)
			assert.False(t, IsOutcomeUnknown(err), "a read is never outcome-unknown")
		})
	}
}

func TestClientReturnsContextErrors(t *testing.T) {
	t.Parallel()
	t.Run("AlreadyCancelledSendsNothing", func(t *testing.T) {
		t.Parallel()
		ts := newTestServer(t, writeJSON(http.StatusOK, tokenJSON))
		c, _ := newTestClient(t, ts)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()

		_, err := c.GetToken(ctx, "tok-1")

		assert.ErrorIs(t, err, context.Canceled)
		assert.Equal(t, 0, ts.Requests())
	})
	t.Run("CancelledDuringRequest", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(t.Context())
		ts := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { cancel(); hang(w, r) }))
		c, _ := newTestClient(t, ts)

		_, err := c.ListWorkspaces(ctx)

		assert.ErrorIs(t, err, context.Canceled)
		assert.Equal(t, 1, ts.Requests())
	})
	t.Run("CancelledBetweenRetries", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(t.Context())
		ts := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { cancel(); apiError(503, "down")(w, r) }))
		c, _ := newTestClient(t, ts)

		_, err := c.GetToken(ctx, "tok-1")

		assert.ErrorIs(t, err, context.Canceled)
		assert.Equal(t, 1, ts.Requests())
	})
	t.Run("CallerDeadlineExpired", func(t *testing.T) {
		t.Parallel()
		ts := newTestServer(t, http.HandlerFunc(hang))
		c, _ := newTestClient(t, ts)
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()

		_, err := c.GetToken(ctx, "tok-1")

		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, ctx.Err(), err)
	})
	t.Run("OwnDeadlineSpentOnSilentServer", func(t *testing.T) {
		t.Parallel()
		ts := newTestServer(t, http.HandlerFunc(hang))
		c, _ := newTestClient(t, ts, WithRetryPolicy(RetryPolicy{MaxElapsed: 50 * time.Millisecond}))

		_, err := c.GetToken(t.Context(), "tok-1")

		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Contains(t, err.Error(), "no answer within 50ms")
	})
}

func TestClientDecodesLeniently(t *testing.T) {
	t.Parallel()
	const secret = "astro-secret-value-from-server"
	ts := newTestServer(t, writeJSON(http.StatusOK, `{
	  "id": "tok-9", "name": "n", "description": "", "scope": "ORGANIZATION", "kind": "STANDARD",
	  "token": "`+secret+`", "futureField": {"nested": [1, 2]}, "lastRotatedAt": "2024-01-01T00:00:00Z",
	  "shortToken": "s", "createdAt": "2024-05-01T10:00:00Z", "updatedAt": "2024-05-01T10:00:00Z",
	  "roles": [{"entityType": "DAG", "entityId": "dag-1", "deploymentId": "dep-1", "role": "DAG_VIEWER", "extra": true}]
	}`))
	c, _ := newTestClient(t, ts)

	tok, err := c.GetToken(t.Context(), "tok-9")

	require.NoError(t, err)
	assert.Equal(t, "tok-9", tok.ID)
	assert.Equal(t, ScopeOrganization, tok.Type, "v1's scope field fills Type")
	assert.Equal(t, []Role{{EntityType: "DAG", EntityID: "dag-1", DeploymentID: "dep-1", Role: "DAG_VIEWER"}}, tok.Roles)
	encoded, err := json.Marshal(tok)
	require.NoError(t, err)
	assert.NotContains(t, string(encoded), secret)
	assert.NotContains(t, fmt.Sprintf("%+v", tok), secret)
}

func TestClientEscapesPathSegments(t *testing.T) {
	t.Parallel()
	var gotPath, gotID string
	mux := http.NewServeMux()
	mux.HandleFunc("GET /organizations/{org}/tokens/{id}", func(w http.ResponseWriter, r *http.Request) {
		gotPath, gotID = r.URL.EscapedPath(), r.PathValue("id")
		writeJSON(http.StatusOK, tokenJSON)(w, r)
	})
	ts := newTestServer(t, mux)
	c, _ := newTestClient(t, ts)

	_, err := c.GetToken(t.Context(), "a/b c?")

	require.NoError(t, err)
	assert.Equal(t, "/organizations/org-1/tokens/a%2Fb%20c%3F", gotPath)
	assert.Equal(t, "a/b c?", gotID)
}

func TestClientTransportFailureIsRetriedThenReported(t *testing.T) {
	t.Parallel()
	// A port nothing listens on: every attempt is refused before anything is sent.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	c := New(testOrg, testAPIToken, WithBaseURL("http://"+addr+"/v1"), WithRetryPolicy(RetryPolicy{MaxAttempts: 2}))
	ft := &fakeTime{now: time.Unix(0, 0)}
	c.now, c.sleep = ft.Now, ft.Sleep

	_, err = c.ListWorkspaces(t.Context())

	require.Error(t, err)
	var apiErr *Error
	assert.False(t, errors.As(err, &apiErr))
	assert.Len(t, ft.Slept(), 1, "retried once")
	assert.NotContains(t, err.Error(), testAPIToken)
}

func TestClientIsSafeForConcurrentUse(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, script(apiError(503, "blip"), writeJSON(http.StatusOK, tokenJSON)))
	c, _ := newTestClient(t, ts)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			_, err := c.GetToken(t.Context(), "tok-1")
			assert.NoError(t, err)
		})
	}
	wg.Wait()
}

func TestClientRejectsUnusableBaseURL(t *testing.T) {
	t.Parallel()
	for _, base := range []string{"", "api.astronomer.io/v1", "ftp://example.com/v1", "http://"} {
		t.Run(base, func(t *testing.T) {
			t.Parallel()
			c := New(testOrg, testAPIToken, WithBaseURL(base))
			ft := &fakeTime{now: time.Unix(0, 0)}
			c.now, c.sleep = ft.Now, ft.Sleep

			_, err := c.ListWorkspaces(t.Context())

			assert.ErrorContains(t, err, "base URL")
			assert.Empty(t, ft.Slept(), "a configuration error is not retried")
		})
	}
}
