package astroemu_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/emulators/astroemu"
)

func rolesPath(id string) string { return "/organizations/" + testOrg + "/tokens/" + id + "/roles" }

var fixedNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestUpdateRolesReplacesEveryRole(t *testing.T) {
	t.Parallel()
	srv := newSample(t, func(o *astroemu.Options) { o.Now = func() time.Time { return fixedNow } })
	before, ok := srv.Token(astroemu.SampleTokenCIDeployer)
	require.True(t, ok)
	require.Len(t, before.Roles, 3)

	dag := roleJSON{EntityType: astroemu.EntityDAG, EntityID: "daily_revenue_report", Role: astroemu.RoleDAGViewer, DeploymentID: astroemu.SampleDeploymentReporting}
	tag := roleJSON{EntityType: astroemu.EntityDAGTag, EntityID: "finance", Role: astroemu.RoleDAGAuthor, DeploymentID: astroemu.SampleDeploymentReporting}
	dep := roleJSON{EntityType: astroemu.EntityDeployment, EntityID: astroemu.SampleDeploymentReporting, Role: "DEPLOYMENT_ACCESSOR"}
	want := []roleJSON{orgRole(astroemu.RoleOrganizationMember), wsRole(astroemu.SampleWorkspaceMLOps, astroemu.RoleWorkspaceOwner), dep, dag, tag}
	resp := call(t, srv, http.MethodPost, rolesPath(astroemu.SampleTokenCIDeployer), rolesBody(want...))
	require.Equal(t, http.StatusOK, resp.status, "%s", resp.body)

	var sr subjectRolesJSON
	resp.decode(t, &sr)
	assert.Equal(t, astroemu.RoleOrganizationMember, sr.OrganizationRole)
	require.Len(t, sr.WorkspaceRoles, 1, "the two earlier workspace roles are gone")
	assert.Equal(t, astroemu.SampleWorkspaceMLOps, sr.WorkspaceRoles[0].WorkspaceID)
	assert.Equal(t, astroemu.RoleWorkspaceOwner, sr.WorkspaceRoles[0].Role)
	require.Len(t, sr.DeploymentRoles, 1)
	assert.Equal(t, "DEPLOYMENT_ACCESSOR", sr.DeploymentRoles[0].Role)
	require.Len(t, sr.DagRoles, 2)
	assert.Equal(t, "daily_revenue_report", sr.DagRoles[0].DagID)
	assert.Equal(t, "finance", sr.DagRoles[1].DagTag)
	assert.Equal(t, astroemu.SampleDeploymentReporting, sr.DagRoles[1].DeploymentID)

	var got tokenJSON
	call(t, srv, http.MethodGet, "/organizations/"+testOrg+"/tokens/"+astroemu.SampleTokenCIDeployer, nil).decode(t, &got)
	assert.Equal(t, want, got.Roles, "GET shows exactly the new roles, deploymentId included")
	assert.Equal(t, "2026-01-02T03:04:05Z", got.UpdatedAt)
	require.NotNil(t, got.UpdatedBy)
	assert.Equal(t, astroemu.SubjectServiceKey, got.UpdatedBy.SubjectType)
	assert.Equal(t, "orgtoken-bot", got.UpdatedBy.APITokenName)
	assert.Equal(t, "2024-03-01T10:00:00Z", got.CreatedAt, "creation is untouched")

	after, _ := srv.Token(astroemu.SampleTokenCIDeployer)
	assert.Equal(t, fixedNow, after.UpdatedAt)
	assert.Equal(t, before.Name, after.Name)
}

func TestUpdateRolesListsFollowTheChange(t *testing.T) {
	t.Parallel()
	srv := newSample(t)
	resp := call(t, srv, http.MethodPost, rolesPath(astroemu.SampleTokenSandboxPlayroom),
		rolesBody(orgRole(astroemu.RoleOrganizationMember), wsRole(astroemu.SampleWorkspaceSandbox, astroemu.RoleWorkspaceAuthor)))
	require.Equal(t, http.StatusOK, resp.status)
	var page tokenPage
	call(t, srv, http.MethodGet, "/organizations/"+testOrg+"/tokens?workspaceId="+astroemu.SampleWorkspaceSandbox, nil).decode(t, &page)
	assert.Equal(t, []string{astroemu.SampleTokenCIFirst, astroemu.SampleTokenSandboxPlayroom}, ids(page.Tokens))

	var sorted tokenPage
	call(t, srv, http.MethodGet, "/organizations/"+testOrg+"/tokens?sorts=updatedAt:desc&limit=1", nil).decode(t, &sorted)
	assert.Equal(t, []string{astroemu.SampleTokenSandboxPlayroom}, ids(sorted.Tokens), "sort caches see the update")
}

func TestUpdateRolesValidation(t *testing.T) {
	t.Parallel()
	srv := newSample(t)
	member := orgRole(astroemu.RoleOrganizationMember)
	tests := []struct {
		name  string
		token string
		body  any
		want  int
		msg   string
	}{
		{name: "ErrMalformedJSON", token: astroemu.SampleTokenCIFirst, body: `{"roles":[`, want: 400, msg: "not a valid"},
		{name: "ErrNoRolesField", token: astroemu.SampleTokenCIFirst, body: `{}`, want: 400, msg: "at least one role"},
		{name: "ErrEmptyRoles", token: astroemu.SampleTokenCIFirst, body: rolesBody(), want: 400, msg: "at least one role"},
		{name: "ErrUnknownEntityType", token: astroemu.SampleTokenCIFirst, body: rolesBody(member, roleJSON{EntityType: "TEAM", EntityID: "x", Role: "y"}), want: 400, msg: "entityType"},
		{name: "ErrMissingEntityID", token: astroemu.SampleTokenCIFirst, body: rolesBody(member, wsRole("", astroemu.RoleWorkspaceMember)), want: 400, msg: "entityId"},
		{name: "ErrUnknownWorkspaceRole", token: astroemu.SampleTokenCIFirst, body: rolesBody(member, wsRole(astroemu.SampleWorkspaceSandbox, "WORKSPACE_ADMIN")), want: 400, msg: "WORKSPACE_ADMIN"},
		{name: "ErrOrganizationRoleOnWorkspace", token: astroemu.SampleTokenCIFirst, body: rolesBody(member, wsRole(astroemu.SampleWorkspaceSandbox, astroemu.RoleOrganizationOwner)), want: 400, msg: "not a workspace role"},
		{name: "ErrUnknownOrganizationRole", token: astroemu.SampleTokenCIFirst, body: rolesBody(orgRole("ORGANIZATION_ADMIN")), want: 400, msg: "ORGANIZATION_ADMIN"},
		{name: "ErrOtherOrganization", token: astroemu.SampleTokenCIFirst, body: rolesBody(roleJSON{EntityType: astroemu.EntityOrganization, EntityID: "org-2", Role: astroemu.RoleOrganizationMember}), want: 400, msg: "org-2"},
		{name: "ErrUnknownWorkspace", token: astroemu.SampleTokenCIFirst, body: rolesBody(member, wsRole("clwsnope", astroemu.RoleWorkspaceMember)), want: 400, msg: "clwsnope"},
		{name: "ErrDuplicateWorkspace", token: astroemu.SampleTokenCIFirst, body: rolesBody(member, wsRole(astroemu.SampleWorkspaceSandbox, astroemu.RoleWorkspaceMember), wsRole(astroemu.SampleWorkspaceSandbox, astroemu.RoleWorkspaceOwner)), want: 400, msg: "more than once"},
		{name: "ErrOrgTokenWithoutOrgRole", token: astroemu.SampleTokenCIFirst, body: rolesBody(wsRole(astroemu.SampleWorkspaceSandbox, astroemu.RoleWorkspaceMember)), want: 400, msg: "exactly one ORGANIZATION role"},
		{name: "ErrOrgTokenWithTwoOrgRoles", token: astroemu.SampleTokenCIFirst, body: rolesBody(member, orgRole(astroemu.RoleOrganizationOwner)), want: 400, msg: "more than once"},
		{name: "ErrDAGRoleWithoutDeployment", token: astroemu.SampleTokenCIFirst, body: rolesBody(member, roleJSON{EntityType: astroemu.EntityDAG, EntityID: "d", Role: astroemu.RoleDAGViewer}), want: 400, msg: "deploymentId"},
		{name: "ErrDeploymentIDOnWorkspaceRole", token: astroemu.SampleTokenCIFirst, body: rolesBody(member, roleJSON{EntityType: astroemu.EntityWorkspace, EntityID: astroemu.SampleWorkspaceSandbox, Role: astroemu.RoleWorkspaceMember, DeploymentID: "d"}), want: 400, msg: "deploymentId"},
		{name: "ErrWorkspaceRoleOnDeployment", token: astroemu.SampleTokenCIFirst, body: rolesBody(member, roleJSON{EntityType: astroemu.EntityDeployment, EntityID: "dep", Role: astroemu.RoleWorkspaceOwner}), want: 400, msg: "not valid for a DEPLOYMENT"},
		{name: "ErrWorkspaceTokenGetsOrgRole", token: astroemu.SampleTokenAnalyticsWS, body: rolesBody(member, wsRole(astroemu.SampleWorkspaceAnalytics, astroemu.RoleWorkspaceMember)), want: 400, msg: "cannot have an ORGANIZATION role"},
		{name: "ErrWorkspaceTokenMoves", token: astroemu.SampleTokenAnalyticsWS, body: rolesBody(wsRole(astroemu.SampleWorkspaceSandbox, astroemu.RoleWorkspaceMember)), want: 400, msg: "another workspace"},
		{name: "ErrDeploymentTokenGetsWorkspace", token: astroemu.SampleTokenFeatureDeploy, body: rolesBody(wsRole(astroemu.SampleWorkspaceSandbox, astroemu.RoleWorkspaceMember)), want: 400, msg: "only have DEPLOYMENT and DAG roles"},
		{name: "ErrUnknownToken", token: "cltknope", body: rolesBody(member), want: 404, msg: "cltknope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			before, _ := srv.Token(tc.token)
			resp := call(t, srv, http.MethodPost, rolesPath(tc.token), tc.body)
			require.Equal(t, tc.want, resp.status, "%s", resp.body)
			var e apiErr
			resp.decode(t, &e)
			assert.Equal(t, tc.want, e.StatusCode)
			assert.Contains(t, e.Message, tc.msg)
			after, _ := srv.Token(tc.token)
			assert.Equal(t, before, after, "a refused update changes nothing")
		})
	}
}

func TestUpdateRolesAcceptsScopedTokens(t *testing.T) {
	t.Parallel()
	srv := newSample(t)
	tests := []struct {
		name  string
		token string
		roles []roleJSON
	}{
		{name: "OK workspace token changes its role", token: astroemu.SampleTokenAnalyticsWS, roles: []roleJSON{wsRole(astroemu.SampleWorkspaceAnalytics, astroemu.RoleWorkspaceAccessor)}},
		{name: "OK deployment token keeps its deployment", token: astroemu.SampleTokenFeatureDeploy, roles: []roleJSON{{EntityType: astroemu.EntityDeployment, EntityID: astroemu.SampleDeploymentFeatures, Role: "DEPLOYMENT_ACCESSOR"}}},
		{name: "OK org token reduced to its organization role", token: astroemu.SampleTokenCIDeployer, roles: []roleJSON{orgRole(astroemu.RoleOrganizationMember)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp := call(t, srv, http.MethodPost, rolesPath(tc.token), rolesBody(tc.roles...))
			require.Equal(t, http.StatusOK, resp.status, "%s", resp.body)
			var got tokenJSON
			call(t, srv, http.MethodGet, "/organizations/"+testOrg+"/tokens/"+tc.token, nil).decode(t, &got)
			assert.Equal(t, tc.roles, got.Roles)
		})
	}
}

func TestOutsideChanges(t *testing.T) {
	t.Parallel()
	srv := newSample(t)

	t.Run("SetRoles is visible through the API and marks the outside actor", func(t *testing.T) {
		t.Parallel()
		roles := []astroemu.Role{{EntityType: astroemu.EntityOrganization, EntityID: testOrg, Role: astroemu.RoleOrganizationMember},
			{EntityType: astroemu.EntityWorkspace, EntityID: astroemu.SampleWorkspaceMLOps, Role: astroemu.RoleWorkspaceOperator}}
		require.NoError(t, srv.SetRoles(astroemu.SampleTokenBillingExport, roles))
		var got tokenJSON
		call(t, srv, http.MethodGet, "/organizations/"+testOrg+"/tokens/"+astroemu.SampleTokenBillingExport, nil).decode(t, &got)
		assert.Equal(t, []roleJSON{orgRole(astroemu.RoleOrganizationMember), wsRole(astroemu.SampleWorkspaceMLOps, astroemu.RoleWorkspaceOperator)}, got.Roles)
		require.NotNil(t, got.UpdatedBy)
		assert.Equal(t, astroemu.SubjectUser, got.UpdatedBy.SubjectType)
	})
	t.Run("SetRoles on an unknown token fails", func(t *testing.T) {
		t.Parallel()
		assert.Error(t, srv.SetRoles("cltknope", nil))
	})
	t.Run("RemoveToken makes it 404", func(t *testing.T) {
		t.Parallel()
		require.True(t, srv.RemoveToken(astroemu.SampleTokenLegacyETL))
		assert.False(t, srv.RemoveToken(astroemu.SampleTokenLegacyETL))
		resp := call(t, srv, http.MethodGet, "/organizations/"+testOrg+"/tokens/"+astroemu.SampleTokenLegacyETL, nil)
		assert.Equal(t, http.StatusNotFound, resp.status)
	})
	t.Run("Token returns a copy", func(t *testing.T) {
		t.Parallel()
		tok, ok := srv.Token(astroemu.SampleTokenDBTSync)
		require.True(t, ok)
		tok.Roles[0].Role = "MUTATED"
		again, _ := srv.Token(astroemu.SampleTokenDBTSync)
		assert.Equal(t, astroemu.RoleOrganizationMember, again.Roles[0].Role)
	})
}

func TestAddTokenFillsDefaults(t *testing.T) {
	t.Parallel()
	srv, err := astroemu.Start(astroemu.Options{Now: func() time.Time { return fixedNow.Add(750 * time.Millisecond) }})
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	tok := srv.AddToken(astroemu.Token{Name: "fresh"})
	assert.Len(t, tok.ID, 25)
	assert.Equal(t, astroemu.TypeOrganization, tok.Type)
	assert.Equal(t, astroemu.KindStandard, tok.Kind)
	assert.NotEmpty(t, tok.ShortToken)
	assert.Equal(t, fixedNow, tok.CreatedAt, "times are kept to the second, as on the wire")
	assert.Equal(t, tok.CreatedAt, tok.StartAt)
	assert.Equal(t, tok.CreatedAt, tok.UpdatedAt)
	stored, ok := srv.Token(tok.ID)
	require.True(t, ok)
	assert.Equal(t, tok, stored)
	assert.Equal(t, astroemu.DefaultOrganizationID, srv.OrganizationID())
	assert.Equal(t, astroemu.DefaultAPIToken, srv.APIToken())
}
