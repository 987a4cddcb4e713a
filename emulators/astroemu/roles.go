package astroemu

import (
	"slices"
	"strings"
)

var (
	organizationRoles = []string{RoleOrganizationOwner, RoleOrganizationBillingAdmin, RoleOrganizationMember}
	workspaceRoles    = []string{RoleWorkspaceOwner, RoleWorkspaceOperator, RoleWorkspaceAuthor, RoleWorkspaceMember, RoleWorkspaceAccessor}
	entityTypes       = []string{EntityOrganization, EntityWorkspace, EntityDeployment, EntityDAG, EntityDAGTag}
)

// validateRoles applies the rules the API enforces on a role replacement, answering 400 with a
// message naming the offending entry.
func validateRoles(orgID string, tok Token, roles []Role, workspaces map[string]Workspace) *apiError {
	if len(roles) == 0 {
		return badRequest("roles must contain at least one role")
	}
	type key struct{ entityType, entityID, deploymentID string }
	seen := map[key]bool{}
	counts := map[string]int{}
	for i, r := range roles {
		if err := validateRole(i, orgID, r, workspaces); err != nil {
			return err
		}
		k := key{r.EntityType, r.EntityID, r.DeploymentID}
		if seen[k] {
			return badRequest("roles[%d]: %s %q appears more than once", i, r.EntityType, r.EntityID)
		}
		seen[k] = true
		counts[r.EntityType]++
	}
	return validateScope(tok, roles, counts)
}

func validateRole(i int, orgID string, r Role, workspaces map[string]Workspace) *apiError {
	switch {
	case !slices.Contains(entityTypes, r.EntityType):
		return badRequest("roles[%d].entityType %q must be one of %s", i, r.EntityType, strings.Join(entityTypes, ", "))
	case r.EntityID == "":
		return badRequest("roles[%d].entityId is required", i)
	case r.Role == "":
		return badRequest("roles[%d].role is required", i)
	}
	isDAG := r.EntityType == EntityDAG || r.EntityType == EntityDAGTag
	if isDAG && r.DeploymentID == "" {
		return badRequest("roles[%d].deploymentId is required for %s roles", i, r.EntityType)
	}
	if !isDAG && r.DeploymentID != "" {
		return badRequest("roles[%d].deploymentId is only allowed for DAG and DAG_TAG roles", i)
	}
	switch r.EntityType {
	case EntityOrganization:
		if r.EntityID != orgID {
			return badRequest("roles[%d]: organization %q is not this token's organization", i, r.EntityID)
		}
		if !slices.Contains(organizationRoles, r.Role) {
			return badRequest("roles[%d].role %q is not an organization role (one of %s)", i, r.Role, strings.Join(organizationRoles, ", "))
		}
	case EntityWorkspace:
		if !slices.Contains(workspaceRoles, r.Role) {
			return badRequest("roles[%d].role %q is not a workspace role (one of %s)", i, r.Role, strings.Join(workspaceRoles, ", "))
		}
		if _, ok := workspaces[r.EntityID]; !ok {
			return badRequest("roles[%d]: workspace %q not found in this organization", i, r.EntityID)
		}
	default:
		// Deployment and DAG roles may be custom roles, so only the obviously wrong scope is refused.
		if strings.HasPrefix(r.Role, "ORGANIZATION_") || strings.HasPrefix(r.Role, "WORKSPACE_") {
			return badRequest("roles[%d].role %q is not valid for a %s", i, r.Role, r.EntityType)
		}
	}
	return nil
}

// validateScope keeps a token within its type: an organization token keeps exactly one
// organization role; workspace and deployment tokens keep their own single scope entry.
func validateScope(tok Token, roles []Role, counts map[string]int) *apiError {
	switch tok.Type {
	case TypeOrganization:
		if counts[EntityOrganization] != 1 {
			return badRequest("an ORGANIZATION API token must have exactly one ORGANIZATION role, got %d", counts[EntityOrganization])
		}
	case TypeWorkspace:
		if counts[EntityOrganization] > 0 {
			return badRequest("a WORKSPACE API token cannot have an ORGANIZATION role")
		}
		if counts[EntityWorkspace] != 1 {
			return badRequest("a WORKSPACE API token must have exactly one WORKSPACE role, got %d", counts[EntityWorkspace])
		}
		if own := scopeEntity(tok.Roles, EntityWorkspace); own != "" && scopeEntity(roles, EntityWorkspace) != own {
			return badRequest("a WORKSPACE API token cannot move to another workspace (it belongs to %q)", own)
		}
	case TypeDeployment:
		if counts[EntityOrganization]+counts[EntityWorkspace] > 0 {
			return badRequest("a DEPLOYMENT API token can only have DEPLOYMENT and DAG roles")
		}
		if counts[EntityDeployment] != 1 {
			return badRequest("a DEPLOYMENT API token must have exactly one DEPLOYMENT role, got %d", counts[EntityDeployment])
		}
		if own := scopeEntity(tok.Roles, EntityDeployment); own != "" && scopeEntity(roles, EntityDeployment) != own {
			return badRequest("a DEPLOYMENT API token cannot move to another deployment (it belongs to %q)", own)
		}
	}
	return nil
}

func scopeEntity(roles []Role, entityType string) string {
	for _, r := range roles {
		if r.EntityType == entityType {
			return r.EntityID
		}
	}
	return ""
}
