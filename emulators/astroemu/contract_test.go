package astroemu_test

import (
	"bytes"
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/emulators/astroemu"
	"github.com/orgtoken/orgtoken-bot/emulators/astroemu/contract"
)

type violations struct {
	mu   sync.Mutex
	errs []error
}

func (v *violations) report(err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.errs = append(v.errs, err)
}

func (v *violations) list() []error {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]error(nil), v.errs...)
}

// contractServer wraps the emulator in the contract validator; inner, when set, sits between
// the validator and the emulator (to corrupt responses on purpose).
func contractServer(t *testing.T, inner func(http.Handler) http.Handler) (*astroemu.Server, *violations) {
	t.Helper()
	v, err := contract.New()
	require.NoError(t, err)
	got := &violations{}
	srv := newSample(t, func(o *astroemu.Options) {
		o.Middleware = func(h http.Handler) http.Handler {
			if inner != nil {
				h = inner(h)
			}
			return v.Middleware(h, got.report)
		}
	})
	return srv, got
}

func TestEmulatorHonoursTheContract(t *testing.T) {
	t.Parallel()
	srv, got := contractServer(t, nil)
	tokens := "/organizations/" + testOrg + "/tokens"
	member := orgRole(astroemu.RoleOrganizationMember)
	tests := []struct {
		name   string
		method string
		path   string
		body   any
		auth   string
		fault  *astroemu.Fault
		ep     astroemu.Endpoint
		want   int
	}{
		{name: "list tokens", method: http.MethodGet, path: tokens, want: 200},
		{name: "list tokens filtered and sorted", method: http.MethodGet, path: tokens + "?workspaceId=" + astroemu.SampleWorkspaceAnalytics + "&includeOnlyOrganizationTokens=true&sorts=name:asc&sorts=createdAt:desc&limit=1000&offset=1", want: 200},
		{name: "list tokens by deployment", method: http.MethodGet, path: tokens + "?deploymentId=" + astroemu.SampleDeploymentReporting, want: 200},
		{name: "list tokens unknown workspace", method: http.MethodGet, path: tokens + "?workspaceId=clwsnope", want: 404},
		{name: "list tokens unknown organization", method: http.MethodGet, path: "/organizations/other/tokens", want: 404},
		{name: "list tokens wrong token", method: http.MethodGet, path: tokens, auth: "Bearer wrong", want: 401},
		{name: "get every kind of token", method: http.MethodGet, path: tokens + "/" + astroemu.SampleTokenDAGReporting, want: 200},
		{name: "get workspace token", method: http.MethodGet, path: tokens + "/" + astroemu.SampleTokenAnalyticsWS, want: 200},
		{name: "get deployment token", method: http.MethodGet, path: tokens + "/" + astroemu.SampleTokenFeatureDeploy, want: 200},
		{name: "get expired token", method: http.MethodGet, path: tokens + "/" + astroemu.SampleTokenLegacyETL, want: 200},
		{name: "get missing token", method: http.MethodGet, path: tokens + "/cltknope", want: 404},
		{name: "get wrong token", method: http.MethodGet, path: tokens + "/" + astroemu.SampleTokenCIFirst, auth: "Bearer wrong", want: 401},
		{name: "update roles", method: http.MethodPost, path: tokens + "/" + astroemu.SampleTokenCIFirst + "/roles",
			body: rolesBody(member, wsRole(astroemu.SampleWorkspaceSandbox, astroemu.RoleWorkspaceOwner), roleJSON{EntityType: astroemu.EntityDAG, EntityID: "d", Role: astroemu.RoleDAGViewer, DeploymentID: "dep"}), want: 200},
		{name: "update roles of workspace token (no organization role)", method: http.MethodPost, path: tokens + "/" + astroemu.SampleTokenAnalyticsWS + "/roles",
			body: rolesBody(wsRole(astroemu.SampleWorkspaceAnalytics, astroemu.RoleWorkspaceAuthor)), want: 200},
		{name: "update roles invalid", method: http.MethodPost, path: tokens + "/" + astroemu.SampleTokenCIFirst + "/roles",
			body: rolesBody(wsRole(astroemu.SampleWorkspaceSandbox, astroemu.RoleWorkspaceOwner)), want: 400},
		{name: "update roles unknown workspace", method: http.MethodPost, path: tokens + "/" + astroemu.SampleTokenCIFirst + "/roles",
			body: rolesBody(member, wsRole("clwsnope", astroemu.RoleWorkspaceOwner)), want: 400},
		{name: "update roles missing token", method: http.MethodPost, path: tokens + "/cltknope/roles", body: rolesBody(member), want: 404},
		{name: "update roles server error", method: http.MethodPost, path: tokens + "/" + astroemu.SampleTokenCIFirst + "/roles",
			body: rolesBody(member), fault: &astroemu.Fault{Status: 500}, ep: astroemu.EndpointUpdateRoles, want: 500},
		{name: "rate limited", method: http.MethodGet, path: tokens, fault: &astroemu.Fault{Status: 429, RetryAfter: time.Second}, ep: astroemu.EndpointListTokens, want: 429},
		{name: "list workspaces", method: http.MethodGet, path: "/organizations/" + testOrg + "/workspaces?names=Analytics&names=Sandbox&sorts=name:asc", want: 200},
		{name: "list workspaces by id", method: http.MethodGet, path: "/organizations/" + testOrg + "/workspaces?workspaceIds=" + astroemu.SampleWorkspaceMLOps, want: 200},
		{name: "list workspaces unknown organization", method: http.MethodGet, path: "/organizations/other/workspaces", want: 403},
		{name: "list workspaces wrong token", method: http.MethodGet, path: "/organizations/" + testOrg + "/workspaces", auth: "Bearer wrong", want: 401},
	}
	// Sequential: faults are per endpoint, and the violation list must stay attributable.
	for _, tc := range tests {
		if tc.fault != nil {
			srv.ScriptFaults(tc.ep, *tc.fault)
		}
		auth := tc.auth
		if auth == "" {
			auth = "Bearer " + testToken
		}
		resp := callWith(t, http.DefaultClient, srv, tc.method, tc.path, tc.body, auth)
		assert.Equal(t, tc.want, resp.status, "%s: %s", tc.name, resp.body)
		assert.Empty(t, got.list(), tc.name)
		got.errs = nil
	}
	// Every sample token, as listed, is contract-valid.
	callWith(t, http.DefaultClient, srv, http.MethodGet, tokens+"?limit=1000", nil, "Bearer "+testToken)
	assert.Empty(t, got.list())
}

func TestContractCatchesInvalidRequests(t *testing.T) {
	t.Parallel()
	srv, got := contractServer(t, nil)
	tokens := "/organizations/" + testOrg + "/tokens"
	tests := []struct {
		name   string
		method string
		path   string
		body   any
		auth   string
	}{
		{name: "missing bearer", method: http.MethodGet, path: tokens},
		{name: "limit above maximum", method: http.MethodGet, path: tokens + "?limit=1001", auth: "Bearer " + testToken},
		{name: "empty roles", method: http.MethodPost, path: tokens + "/" + astroemu.SampleTokenCIFirst + "/roles", body: rolesBody(), auth: "Bearer " + testToken},
		{name: "misspelt field", method: http.MethodPost, path: tokens + "/" + astroemu.SampleTokenCIFirst + "/roles",
			body: `{"roles":[{"entityType":"ORGANIZATION","entityID":"org-1","role":"ORGANIZATION_MEMBER"}]}`, auth: "Bearer " + testToken},
	}
	for _, tc := range tests {
		got.errs = nil
		// The emulator may accept some of these (Go decodes "entityID" into entityId, as a Go
		// server would): the contract is what flags them.
		callWith(t, http.DefaultClient, srv, tc.method, tc.path, tc.body, tc.auth)
		assert.NotEmpty(t, got.list(), "%s: the validator reports the bad request", tc.name)
	}
}

func TestContractCatchesADriftingResponse(t *testing.T) {
	t.Parallel()
	// Rename a required field in every response, as an emulator (or API) drift would.
	drift := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec := &capture{header: http.Header{}}
			next.ServeHTTP(rec, r)
			for k, v := range rec.header {
				w.Header()[k] = v
			}
			w.Header().Del("Content-Length")
			w.WriteHeader(rec.status)
			_, _ = w.Write(bytes.ReplaceAll(rec.body.Bytes(), []byte(`"shortToken"`), []byte(`"short_token"`)))
		})
	}
	srv, got := contractServer(t, drift)
	resp := call(t, srv, http.MethodGet, "/organizations/"+testOrg+"/tokens/"+astroemu.SampleTokenCIFirst, nil)
	require.Equal(t, http.StatusOK, resp.status)
	errs := got.list()
	require.Len(t, errs, 1)
	assert.Contains(t, errs[0].Error(), "shortToken")
}

type capture struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (c *capture) Header() http.Header { return c.header }
func (c *capture) WriteHeader(s int)   { c.status = s }
func (c *capture) Write(p []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	return c.body.Write(p)
}

func TestContractMiddlewareSurvivesResets(t *testing.T) {
	t.Parallel()
	srv, got := contractServer(t, nil)
	srv.ScriptFaults(astroemu.EndpointUpdateRoles, astroemu.Fault{Reset: true, ApplyFirst: true})
	_, err := do(context.Background(), noReuse(), srv, http.MethodPost, rolesPath(astroemu.SampleTokenCIFirst), promoteBody(), "Bearer "+testToken)
	require.Error(t, err)
	assert.Equal(t, astroemu.RoleWorkspaceOwner, sandboxRole(t, srv))
	assert.Empty(t, got.list())
}
