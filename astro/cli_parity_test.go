package astro

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWithWorkspaceRoleMatchesAstroCLI compares our role list with the body the astro CLI
// sends for `astro workspace token organization-token add|update|remove`.
//
// Read from github.com/astronomer/astro-cli at ed93cc59 (v1 API client):
// cloud/workspace-token/workspace_token.go, upsertWorkspaceRole as called by
// UpsertOrgTokenWorkspaceRole (add, update) and RemoveOrgTokenWorkspaceRole (remove); `astro
// workspace token add` goes through cloud/organization/organization_token.go, upsertRole, which
// behaves the same. The CLI GETs the token, filters out the WORKSPACE entry for the workspace,
// keeps every other entry in order (its v1 ApiTokenRole models deploymentId, so DEPLOYMENT and
// DAG entries survive intact) and, unless removing, appends the new entry at the end. It POSTs
// nothing when the token already holds the requested role.
//
// The one difference: on update the CLI moves the workspace entry to the end, we change it in
// place. The API treats the list as a set, so both grant the same access; keeping the order
// makes our before/after diff in Slack show exactly one changed line.
func TestWithWorkspaceRoleMatchesAstroCLI(t *testing.T) {
	t.Parallel()
	start := []Role{orgMember, ws1Author, ws2Member, depAdmin, dagViewer, dagTagRole}
	tests := []struct {
		name    string
		ws      string
		newRole string
		cliBody string // what the CLI would POST, as a literal
		ourBody string
	}{
		{
			name: "Add", ws: "ws-3", newRole: RoleWorkspaceOperator,
			cliBody: `{"roles":[
			  {"entityType":"ORGANIZATION","entityId":"org-1","role":"ORGANIZATION_MEMBER"},
			  {"entityType":"WORKSPACE","entityId":"ws-1","role":"WORKSPACE_AUTHOR"},
			  {"entityType":"WORKSPACE","entityId":"ws-2","role":"WORKSPACE_MEMBER"},
			  {"entityType":"DEPLOYMENT","entityId":"dep-1","role":"DEPLOYMENT_ADMIN"},
			  {"entityType":"DAG","entityId":"dag-1","deploymentId":"dep-1","role":"DAG_VIEWER"},
			  {"entityType":"DAG_TAG","entityId":"nightly","deploymentId":"dep-1","role":"DAG_AUTHOR"},
			  {"entityType":"WORKSPACE","entityId":"ws-3","role":"WORKSPACE_OPERATOR"}]}`,
		},
		{
			name: "UpdateCLIMovesEntryToEndWeKeepItsPlace", ws: "ws-1", newRole: RoleWorkspaceOwner,
			cliBody: `{"roles":[
			  {"entityType":"ORGANIZATION","entityId":"org-1","role":"ORGANIZATION_MEMBER"},
			  {"entityType":"WORKSPACE","entityId":"ws-2","role":"WORKSPACE_MEMBER"},
			  {"entityType":"DEPLOYMENT","entityId":"dep-1","role":"DEPLOYMENT_ADMIN"},
			  {"entityType":"DAG","entityId":"dag-1","deploymentId":"dep-1","role":"DAG_VIEWER"},
			  {"entityType":"DAG_TAG","entityId":"nightly","deploymentId":"dep-1","role":"DAG_AUTHOR"},
			  {"entityType":"WORKSPACE","entityId":"ws-1","role":"WORKSPACE_OWNER"}]}`,
			ourBody: `{"roles":[
			  {"entityType":"ORGANIZATION","entityId":"org-1","role":"ORGANIZATION_MEMBER"},
			  {"entityType":"WORKSPACE","entityId":"ws-1","role":"WORKSPACE_OWNER"},
			  {"entityType":"WORKSPACE","entityId":"ws-2","role":"WORKSPACE_MEMBER"},
			  {"entityType":"DEPLOYMENT","entityId":"dep-1","role":"DEPLOYMENT_ADMIN"},
			  {"entityType":"DAG","entityId":"dag-1","deploymentId":"dep-1","role":"DAG_VIEWER"},
			  {"entityType":"DAG_TAG","entityId":"nightly","deploymentId":"dep-1","role":"DAG_AUTHOR"}]}`,
		},
		{
			name: "Remove", ws: "ws-1", newRole: "",
			cliBody: `{"roles":[
			  {"entityType":"ORGANIZATION","entityId":"org-1","role":"ORGANIZATION_MEMBER"},
			  {"entityType":"WORKSPACE","entityId":"ws-2","role":"WORKSPACE_MEMBER"},
			  {"entityType":"DEPLOYMENT","entityId":"dep-1","role":"DEPLOYMENT_ADMIN"},
			  {"entityType":"DAG","entityId":"dag-1","deploymentId":"dep-1","role":"DAG_VIEWER"},
			  {"entityType":"DAG_TAG","entityId":"nightly","deploymentId":"dep-1","role":"DAG_AUTHOR"}]}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := WithWorkspaceRole(start, tt.ws, tt.newRole)
			body, err := json.Marshal(map[string][]Role{"roles": got})
			require.NoError(t, err)

			want := tt.ourBody
			if want == "" {
				want = tt.cliBody
			}
			assert.JSONEq(t, want, string(body))

			var cli struct{ Roles []Role }
			require.NoError(t, json.Unmarshal([]byte(tt.cliBody), &cli))
			assert.ElementsMatch(t, cli.Roles, got, "same grants as the CLI, whatever the order")
		})
	}
}
