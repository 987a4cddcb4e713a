package astro

import (
	"slices"
	"strings"
)

// WithWorkspaceRole returns the complete role list a token should have after its role in
// workspaceID becomes newRole, ready for UpdateTokenRoles (which replaces every role):
//   - newRole "" drops the WORKSPACE entry for workspaceID;
//   - an existing entry is changed in place, so the list keeps its order;
//   - otherwise a new entry is appended.
//
// Every other entry (the ORGANIZATION role, other workspaces, DEPLOYMENT and DAG roles) is
// kept exactly and in order; losing one would silently revoke access. Duplicate entries for
// workspaceID collapse into one. current is never modified. An empty workspaceID changes
// nothing.
func WithWorkspaceRole(current []Role, workspaceID, newRole string) []Role {
	out := make([]Role, 0, len(current)+1)
	if workspaceID == "" {
		return append(out, current...)
	}
	placed := newRole == ""
	for _, r := range current {
		if !isWorkspaceEntry(r, workspaceID) {
			out = append(out, r)
			continue
		}
		if !placed {
			r.Role = newRole
			out = append(out, r)
			placed = true
		}
	}
	if !placed {
		out = append(out, Role{EntityType: EntityWorkspace, EntityID: workspaceID, Role: newRole})
	}
	return out
}

// WorkspaceRoleOf returns the role held in workspaceID, or "" when none.
func WorkspaceRoleOf(roles []Role, workspaceID string) string {
	i := slices.IndexFunc(roles, func(r Role) bool { return isWorkspaceEntry(r, workspaceID) })
	if i < 0 {
		return ""
	}
	return roles[i].Role
}

// OrganizationRoleOf returns the token's ORGANIZATION role, or "" when none.
func OrganizationRoleOf(roles []Role) string {
	i := slices.IndexFunc(roles, func(r Role) bool { return r.EntityType == EntityOrganization })
	if i < 0 {
		return ""
	}
	return roles[i].Role
}

// RoleRank places a workspace role on the ladder MEMBER(1) < AUTHOR(2) < OPERATOR(3) <
// OWNER(4); anything else, including "", ranks 0.
func RoleRank(role string) int {
	return slices.Index(WorkspaceRoles, role) + 1
}

// NormalizeRole turns user input such as "operator", "Workspace_Owner" or " member " into the
// API's role name. It accepts only the roles the bot grants.
func NormalizeRole(s string) (string, bool) {
	upper := strings.ToUpper(strings.TrimSpace(s))
	if upper == "" {
		return "", false
	}
	for _, role := range WorkspaceRoles {
		if upper == role || "WORKSPACE_"+upper == role {
			return role, true
		}
	}
	return "", false
}

func isWorkspaceEntry(r Role, workspaceID string) bool {
	return r.EntityType == EntityWorkspace && r.EntityID == workspaceID
}
