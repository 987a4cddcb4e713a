package astroemu_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/emulators/astroemu"
)

const sampleTokenCount = 13

func TestAuthentication(t *testing.T) {
	t.Parallel()
	srv := newSample(t)
	paths := map[string]string{
		"list tokens":     "/organizations/" + testOrg + "/tokens",
		"get token":       "/organizations/" + testOrg + "/tokens/" + astroemu.SampleTokenCIDeployer,
		"list workspaces": "/organizations/" + testOrg + "/workspaces",
	}
	tests := []struct {
		name string
		auth string
		want int
	}{
		{name: "OK bearer", auth: "Bearer " + testToken, want: http.StatusOK},
		{name: "OK scheme is case-insensitive", auth: "bearer " + testToken, want: http.StatusOK},
		{name: "ErrNoHeader", auth: "", want: http.StatusUnauthorized},
		{name: "ErrWrongToken", auth: "Bearer not-the-token", want: http.StatusUnauthorized},
		{name: "ErrBasicScheme", auth: "Basic " + testToken, want: http.StatusUnauthorized},
		{name: "ErrTokenWithoutScheme", auth: testToken, want: http.StatusUnauthorized},
	}
	for _, tc := range tests {
		for what, path := range paths {
			t.Run(tc.name+"/"+what, func(t *testing.T) {
				t.Parallel()
				resp := callWith(t, http.DefaultClient, srv, http.MethodGet, path, nil, tc.auth)
				assert.Equal(t, tc.want, resp.status)
				assert.NotEmpty(t, resp.header.Get("X-Request-Id"))
				if tc.want != http.StatusOK {
					var e apiErr
					resp.decode(t, &e)
					assert.Equal(t, tc.want, e.StatusCode)
					assert.NotEmpty(t, e.Message)
					assert.Equal(t, resp.header.Get("X-Request-Id"), e.RequestID)
					assert.NotContains(t, string(resp.body), testToken, "errors never echo the token")
				}
			})
		}
	}
}

func TestRoleUpdateWithoutAuthChangesNothing(t *testing.T) {
	t.Parallel()
	srv := newSample(t)
	before, _ := srv.Token(astroemu.SampleTokenCIFirst)
	resp := callWith(t, http.DefaultClient, srv, http.MethodPost, "/organizations/"+testOrg+"/tokens/"+astroemu.SampleTokenCIFirst+"/roles",
		rolesBody(orgRole(astroemu.RoleOrganizationOwner)), "Bearer wrong")
	assert.Equal(t, http.StatusUnauthorized, resp.status)
	after, _ := srv.Token(astroemu.SampleTokenCIFirst)
	assert.Equal(t, before, after)
}

func TestErrorsCarryFreshRequestIDs(t *testing.T) {
	t.Parallel()
	srv := newSample(t)
	seen := map[string]bool{}
	for range 3 {
		var e apiErr
		call(t, srv, http.MethodGet, "/organizations/"+testOrg+"/tokens/nope", nil).decode(t, &e)
		assert.False(t, seen[e.RequestID], "request ID %q reused", e.RequestID)
		seen[e.RequestID] = true
	}
}

func TestUnknownOrganization(t *testing.T) {
	t.Parallel()
	srv := newSample(t)
	tests := []struct {
		name   string
		method string
		path   string
		body   any
		want   int
	}{
		{name: "list tokens", method: http.MethodGet, path: "/organizations/other/tokens", want: http.StatusNotFound},
		{name: "get token", method: http.MethodGet, path: "/organizations/other/tokens/" + astroemu.SampleTokenCIFirst, want: http.StatusNotFound},
		{name: "update roles", method: http.MethodPost, path: "/organizations/other/tokens/" + astroemu.SampleTokenCIFirst + "/roles",
			body: rolesBody(orgRole(astroemu.RoleOrganizationMember)), want: http.StatusNotFound},
		{name: "list workspaces is forbidden (no 404 in its contract)", method: http.MethodGet, path: "/organizations/other/workspaces", want: http.StatusForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp := call(t, srv, tc.method, tc.path, tc.body)
			require.Equal(t, tc.want, resp.status)
			var e apiErr
			resp.decode(t, &e)
			assert.Contains(t, e.Message, `"other"`)
		})
	}
}

func TestUnknownRoutes(t *testing.T) {
	t.Parallel()
	srv := newSample(t)
	tests := []struct {
		name   string
		method string
		path   string
		want   int
	}{
		{name: "ErrUnknownPath", method: http.MethodGet, path: "/organizations/" + testOrg + "/teams", want: http.StatusNotFound},
		{name: "ErrWrongMethodOnRoles", method: http.MethodGet, path: "/organizations/" + testOrg + "/tokens/x/roles", want: http.StatusMethodNotAllowed},
		{name: "ErrWrongMethodOnList", method: http.MethodDelete, path: "/organizations/" + testOrg + "/tokens", want: http.StatusMethodNotAllowed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp := call(t, srv, tc.method, tc.path, nil)
			assert.Equal(t, tc.want, resp.status)
			var e apiErr
			resp.decode(t, &e)
			assert.Equal(t, tc.want, e.StatusCode)
		})
	}
	resp, err := http.Get(strings.TrimSuffix(srv.URL(), "/v1") + "/iam/v1beta1/organizations/" + testOrg + "/tokens")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "only the /v1 base is served")
}

func TestGetToken(t *testing.T) {
	t.Parallel()
	srv := newSample(t)

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		resp := call(t, srv, http.MethodGet, "/organizations/"+testOrg+"/tokens/"+astroemu.SampleTokenDBTSync, nil)
		require.Equal(t, http.StatusOK, resp.status)
		assert.Equal(t, "application/json", resp.header.Get("Content-Type"))
		var tok tokenJSON
		resp.decode(t, &tok)
		assert.Equal(t, astroemu.SampleTokenDBTSync, tok.ID)
		assert.Equal(t, "dbt-cloud-sync", tok.Name)
		assert.Equal(t, astroemu.TypeOrganization, tok.Type)
		assert.Equal(t, astroemu.KindStandard, tok.Kind)
		assert.Equal(t, "2024-03-15T13:00:00Z", tok.CreatedAt)
		assert.Equal(t, "2030-03-15T13:00:00Z", tok.EndAt)
		require.NotNil(t, tok.ExpiryPeriodInDays)
		assert.Equal(t, 365, *tok.ExpiryPeriodInDays)
		require.NotNil(t, tok.CreatedBy)
		assert.Equal(t, astroemu.SubjectUser, tok.CreatedBy.SubjectType)
		assert.Equal(t, "Marcus Chen", tok.CreatedBy.FullName)
		assert.Equal(t, []roleJSON{orgRole(astroemu.RoleOrganizationMember), wsRole(astroemu.SampleWorkspaceAnalytics, astroemu.RoleWorkspaceMember)}, tok.Roles)
		assert.Nil(t, tok.Token, "the secret token value is never returned")
	})
	t.Run("OK escaped special characters survive", func(t *testing.T) {
		t.Parallel()
		var tok tokenJSON
		call(t, srv, http.MethodGet, "/organizations/"+testOrg+"/tokens/"+astroemu.SampleTokenChannelAlerts, nil).decode(t, &tok)
		assert.Equal(t, "<!channel> alerts & paging", tok.Name)
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		t.Parallel()
		resp := call(t, srv, http.MethodGet, "/organizations/"+testOrg+"/tokens/cltkmissing", nil)
		require.Equal(t, http.StatusNotFound, resp.status)
		var e apiErr
		resp.decode(t, &e)
		assert.Equal(t, http.StatusNotFound, e.StatusCode)
		assert.Contains(t, e.Message, "cltkmissing")
	})
}

func TestListTokens(t *testing.T) {
	t.Parallel()
	srv := newSample(t)
	all := srv.Tokens()
	require.Len(t, all, sampleTokenCount)
	allIDs := make([]string, len(all))
	for i, tok := range all {
		allIDs[i] = tok.ID
	}

	tests := []struct {
		name      string
		query     url.Values
		wantIDs   []string
		wantTotal int
		wantLimit int
	}{
		{name: "OK defaults to offset 0 limit 20 in creation order", wantIDs: allIDs, wantTotal: sampleTokenCount, wantLimit: 20},
		{name: "OK offset and limit page", query: url.Values{"offset": {"2"}, "limit": {"3"}}, wantIDs: allIDs[2:5], wantTotal: sampleTokenCount, wantLimit: 3},
		{name: "OK offset past the end", query: url.Values{"offset": {"50"}}, wantIDs: []string{}, wantTotal: sampleTokenCount, wantLimit: 20},
		{name: "OK limit zero counts only", query: url.Values{"limit": {"0"}}, wantIDs: []string{}, wantTotal: sampleTokenCount, wantLimit: 0},
		{name: "OK workspace holds org tokens and its workspace token", query: url.Values{"workspaceId": {astroemu.SampleWorkspaceAnalytics}},
			wantIDs:   []string{astroemu.SampleTokenCIDeployer, astroemu.SampleTokenDBTSync, astroemu.SampleTokenChannelAlerts, astroemu.SampleTokenAnalyticsWS},
			wantTotal: 4, wantLimit: 20},
		{name: "OK only organization tokens in a workspace", query: url.Values{"workspaceId": {astroemu.SampleWorkspaceAnalytics}, "includeOnlyOrganizationTokens": {"true"}},
			wantIDs:   []string{astroemu.SampleTokenCIDeployer, astroemu.SampleTokenDBTSync, astroemu.SampleTokenChannelAlerts},
			wantTotal: 3, wantLimit: 20},
		{name: "OK deployment filter includes deployment and DAG roles", query: url.Values{"deploymentId": {astroemu.SampleDeploymentFeatures}},
			wantIDs: []string{astroemu.SampleTokenMLFeatures, astroemu.SampleTokenFeatureDeploy}, wantTotal: 2, wantLimit: 20},
		{name: "OK DAG roles count for their deployment", query: url.Values{"deploymentId": {astroemu.SampleDeploymentReporting}},
			wantIDs: []string{astroemu.SampleTokenDAGReporting}, wantTotal: 1, wantLimit: 20},
		{name: "OK sorted by name then creation", query: url.Values{"sorts": {"name:asc"}, "limit": {"4"}},
			wantIDs:   []string{astroemu.SampleTokenChannelAlerts, astroemu.SampleTokenCIDeployer, astroemu.SampleTokenAnalyticsWS, astroemu.SampleTokenBillingExport},
			wantTotal: sampleTokenCount, wantLimit: 4},
		{name: "OK two sort keys", query: url.Values{"sorts": {"name:desc", "createdAt:desc"}, "workspaceId": {astroemu.SampleWorkspaceDataPlatform}},
			wantIDs:   []string{astroemu.SampleTokenLegacyETL, astroemu.SampleTokenCISecond, astroemu.SampleTokenCIDeployer},
			wantTotal: 3, wantLimit: 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp := call(t, srv, http.MethodGet, "/organizations/"+testOrg+"/tokens?"+tc.query.Encode(), nil)
			require.Equal(t, http.StatusOK, resp.status, "%s", resp.body)
			var page tokenPage
			resp.decode(t, &page)
			assert.Equal(t, tc.wantIDs, ids(page.Tokens))
			assert.Equal(t, tc.wantTotal, page.TotalCount)
			assert.Equal(t, tc.wantLimit, page.Limit)
			assert.Equal(t, tc.query.Get("offset") == "", page.Offset == 0)
			assert.NotContains(t, string(resp.body), `"token":`)
		})
	}
}

func TestListTokensRejectsBadParameters(t *testing.T) {
	t.Parallel()
	srv := newSample(t)
	tests := []struct {
		name  string
		query string
		want  int
		msg   string
	}{
		{name: "ErrLimitAbove1000", query: "limit=1001", want: http.StatusBadRequest, msg: "limit"},
		{name: "ErrNegativeLimit", query: "limit=-1", want: http.StatusBadRequest, msg: "limit"},
		{name: "ErrNegativeOffset", query: "offset=-5", want: http.StatusBadRequest, msg: "offset"},
		{name: "ErrOffsetNotANumber", query: "offset=ten", want: http.StatusBadRequest, msg: "offset"},
		{name: "ErrBooleanNotABoolean", query: "includeOnlyOrganizationTokens=maybe", want: http.StatusBadRequest, msg: "includeOnlyOrganizationTokens"},
		{name: "ErrUnknownSort", query: "sorts=id:asc", want: http.StatusBadRequest, msg: "sorts"},
		{name: "ErrUnknownWorkspace", query: "workspaceId=clwsnope", want: http.StatusNotFound, msg: "clwsnope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp := call(t, srv, http.MethodGet, "/organizations/"+testOrg+"/tokens?"+tc.query, nil)
			require.Equal(t, tc.want, resp.status)
			var e apiErr
			resp.decode(t, &e)
			assert.Equal(t, tc.want, e.StatusCode)
			assert.Contains(t, e.Message, tc.msg)
		})
	}
}

func TestListWorkspaces(t *testing.T) {
	t.Parallel()
	srv := newSample(t)
	tests := []struct {
		name      string
		query     url.Values
		wantNames []string
		wantTotal int
		wantCode  int
	}{
		{name: "OK all in creation order", wantNames: []string{"Data Platform", "Analytics", "ML Ops", "Sandbox"}, wantTotal: 4},
		{name: "OK page", query: url.Values{"offset": {"1"}, "limit": {"2"}}, wantNames: []string{"Analytics", "ML Ops"}, wantTotal: 4},
		{name: "OK by names", query: url.Values{"names": {"Sandbox", "Analytics"}}, wantNames: []string{"Analytics", "Sandbox"}, wantTotal: 2},
		{name: "OK by IDs", query: url.Values{"workspaceIds": {astroemu.SampleWorkspaceMLOps}}, wantNames: []string{"ML Ops"}, wantTotal: 1},
		{name: "OK names are exact", query: url.Values{"names": {"analytics"}}, wantNames: []string{}, wantTotal: 0},
		{name: "OK sorted by name", query: url.Values{"sorts": {"name:desc"}}, wantNames: []string{"Sandbox", "ML Ops", "Data Platform", "Analytics"}, wantTotal: 4},
		{name: "ErrLimitAbove1000", query: url.Values{"limit": {"5000"}}, wantCode: http.StatusBadRequest},
		{name: "ErrUnknownSort", query: url.Values{"sorts": {"description:asc"}}, wantCode: http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp := call(t, srv, http.MethodGet, "/organizations/"+testOrg+"/workspaces?"+tc.query.Encode(), nil)
			if tc.wantCode != 0 {
				require.Equal(t, tc.wantCode, resp.status)
				var e apiErr
				resp.decode(t, &e)
				assert.Equal(t, tc.wantCode, e.StatusCode)
				return
			}
			require.Equal(t, http.StatusOK, resp.status, "%s", resp.body)
			var page workspacePage
			resp.decode(t, &page)
			names := []string{}
			for _, ws := range page.Workspaces {
				names = append(names, ws.Name)
				assert.Equal(t, testOrg, ws.OrganizationID)
			}
			assert.Equal(t, tc.wantNames, names)
			assert.Equal(t, tc.wantTotal, page.TotalCount)
		})
	}
}
