package astro

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
)

var (
	orgMember  = Role{EntityType: EntityOrganization, EntityID: "org-1", Role: "ORGANIZATION_MEMBER"}
	ws1Author  = Role{EntityType: EntityWorkspace, EntityID: "ws-1", Role: RoleWorkspaceAuthor}
	ws1Owner   = Role{EntityType: EntityWorkspace, EntityID: "ws-1", Role: RoleWorkspaceOwner}
	ws2Member  = Role{EntityType: EntityWorkspace, EntityID: "ws-2", Role: RoleWorkspaceMember}
	ws3Member  = Role{EntityType: EntityWorkspace, EntityID: "ws-3", Role: RoleWorkspaceMember}
	depAdmin   = Role{EntityType: EntityDeployment, EntityID: "dep-1", Role: "DEPLOYMENT_ADMIN"}
	dagViewer  = Role{EntityType: "DAG", EntityID: "dag-1", DeploymentID: "dep-1", Role: "DAG_VIEWER"}
	dagTagRole = Role{EntityType: "DAG_TAG", EntityID: "nightly", DeploymentID: "dep-1", Role: "DAG_AUTHOR"}
	// Same ID as ws-1 but another entity type: must never be mistaken for the workspace entry.
	depNamedWs1 = Role{EntityType: EntityDeployment, EntityID: "ws-1", Role: "DEPLOYMENT_ADMIN"}
)

func TestWithWorkspaceRole(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		current   []Role
		workspace string
		newRole   string
		want      []Role
	}{
		{name: "AddToTokenWithOnlyOrgRole", current: []Role{orgMember}, workspace: "ws-1", newRole: RoleWorkspaceAuthor,
			want: []Role{orgMember, ws1Author}},
		{name: "AddToNilList", current: nil, workspace: "ws-1", newRole: RoleWorkspaceAuthor, want: []Role{ws1Author}},
		{name: "AddAppendsAfterEveryKindOfEntry", current: []Role{orgMember, ws2Member, depAdmin, dagViewer, dagTagRole},
			workspace: "ws-1", newRole: RoleWorkspaceAuthor,
			want: []Role{orgMember, ws2Member, depAdmin, dagViewer, dagTagRole, ws1Author}},
		{name: "UpdateReplacesInPlace", current: []Role{orgMember, ws1Author, ws2Member, depAdmin, dagViewer},
			workspace: "ws-1", newRole: RoleWorkspaceOwner,
			want: []Role{orgMember, ws1Owner, ws2Member, depAdmin, dagViewer}},
		{name: "UpdateToSameRoleIsUnchanged", current: []Role{orgMember, ws1Author, ws2Member},
			workspace: "ws-1", newRole: RoleWorkspaceAuthor, want: []Role{orgMember, ws1Author, ws2Member}},
		{name: "RemoveDropsOnlyThatWorkspace", current: []Role{orgMember, ws1Author, ws2Member, depAdmin, dagViewer, dagTagRole},
			workspace: "ws-1", newRole: "", want: []Role{orgMember, ws2Member, depAdmin, dagViewer, dagTagRole}},
		{name: "RemoveAbsentIsUnchanged", current: []Role{orgMember, ws2Member}, workspace: "ws-1", newRole: "",
			want: []Role{orgMember, ws2Member}},
		{name: "OtherEntityTypeWithSameIDIsKept", current: []Role{orgMember, depNamedWs1}, workspace: "ws-1", newRole: RoleWorkspaceAuthor,
			want: []Role{orgMember, depNamedWs1, ws1Author}},
		{name: "RemoveKeepsOtherEntityTypeWithSameID", current: []Role{depNamedWs1, ws1Author}, workspace: "ws-1", newRole: "",
			want: []Role{depNamedWs1}},
		{name: "DuplicateEntriesCollapseIntoTheFirst", current: []Role{ws1Author, orgMember, ws1Owner, ws3Member},
			workspace: "ws-1", newRole: RoleWorkspaceMember,
			want: []Role{{EntityType: EntityWorkspace, EntityID: "ws-1", Role: RoleWorkspaceMember}, orgMember, ws3Member}},
		{name: "RemoveDropsEveryDuplicate", current: []Role{ws1Author, orgMember, ws1Owner}, workspace: "ws-1", newRole: "",
			want: []Role{orgMember}},
		{name: "EmptyWorkspaceIDChangesNothing", current: []Role{orgMember, ws1Author}, workspace: "", newRole: RoleWorkspaceOwner,
			want: []Role{orgMember, ws1Author}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			before := slices.Clone(tt.current)

			got := WithWorkspaceRole(tt.current, tt.workspace, tt.newRole)

			assert.Equal(t, tt.want, got)
			assert.Equal(t, before, tt.current, "input not mutated")
			if len(tt.current) > 0 && len(got) > 0 {
				got[0].Role = "CHANGED"
				assert.Equal(t, before, tt.current, "result does not share the input's array")
			}
		})
	}
}

func TestWorkspaceRoleOf(t *testing.T) {
	t.Parallel()
	roles := []Role{orgMember, depNamedWs1, ws2Member, ws1Author, dagViewer}
	tests := []struct {
		name      string
		workspace string
		want      string
	}{
		{name: "Held", workspace: "ws-1", want: RoleWorkspaceAuthor},
		{name: "OtherWorkspace", workspace: "ws-2", want: RoleWorkspaceMember},
		{name: "NotHeld", workspace: "ws-9", want: ""},
		{name: "OrganizationIDIsNotAWorkspace", workspace: "org-1", want: ""},
		{name: "DeploymentIDIsNotAWorkspace", workspace: "dep-1", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, WorkspaceRoleOf(roles, tt.workspace))
		})
	}
	assert.Equal(t, "ORGANIZATION_MEMBER", OrganizationRoleOf(roles))
	assert.Empty(t, OrganizationRoleOf([]Role{ws1Author}))
}

func TestRoleRank(t *testing.T) {
	t.Parallel()
	tests := []struct {
		role string
		want int
	}{
		{RoleWorkspaceMember, 1},
		{RoleWorkspaceAuthor, 2},
		{RoleWorkspaceOperator, 3},
		{RoleWorkspaceOwner, 4},
		{"WORKSPACE_ACCESSOR", 0},
		{"workspace_owner", 0},
		{"", 0},
	}
	for _, tt := range tests {
		t.Run(tt.role, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, RoleRank(tt.role))
		})
	}
	for i := 1; i < len(WorkspaceRoles); i++ {
		assert.Less(t, RoleRank(WorkspaceRoles[i-1]), RoleRank(WorkspaceRoles[i]), "ladder ascends")
	}
}

func TestNormalizeRole(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in     string
		want   string
		wantOK bool
	}{
		{"WORKSPACE_MEMBER", RoleWorkspaceMember, true},
		{"workspace_author", RoleWorkspaceAuthor, true},
		{"Workspace_Operator", RoleWorkspaceOperator, true},
		{"owner", RoleWorkspaceOwner, true},
		{"Member", RoleWorkspaceMember, true},
		{"  operator ", RoleWorkspaceOperator, true},
		{"AUTHOR", RoleWorkspaceAuthor, true},
		{"admin", "", false},
		{"WORKSPACE_ACCESSOR", "", false},
		{"ORGANIZATION_OWNER", "", false},
		{"DEPLOYMENT_ADMIN", "", false},
		{"workspace", "", false},
		{"WORKSPACE_", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, ok := NormalizeRole(tt.in)
			assert.Equal(t, tt.wantOK, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}
