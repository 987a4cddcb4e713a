// Package astroemu is a stateful, in-process emulator of the Astro API v1 endpoints orgtoken-bot
// uses: listing, reading and re-roling organization API tokens, and listing workspaces.
//
// It listens on a real loopback socket and speaks the published wire contract (see the contract
// subpackage, which validates it against Astronomer's OpenAPI descriptions). It deliberately does
// not import the bot's astro client: the two sides are written independently so contract tests
// catch drift on either side. Faults (statuses, Retry-After, connection resets, writes that land
// before the failure), latency and request holds can be scripted per endpoint.
package astroemu

import (
	"slices"
	"time"
)

// Token types, as the API's "type" field reports them.
const (
	TypeOrganization = "ORGANIZATION"
	TypeWorkspace    = "WORKSPACE"
	TypeDeployment   = "DEPLOYMENT"
)

// Token kinds (v1 field "kind").
const (
	KindStandard     = "STANDARD"
	KindDirectAccess = "DIRECT_ACCESS"
)

// Entity types of a token role. DAG and DAG_TAG entries carry a DeploymentID (v1 addition):
// EntityID is then the DAG ID or the tag value.
const (
	EntityOrganization = "ORGANIZATION"
	EntityWorkspace    = "WORKSPACE"
	EntityDeployment   = "DEPLOYMENT"
	EntityDAG          = "DAG"
	EntityDAGTag       = "DAG_TAG"
)

// Role names the emulator validates.
const (
	RoleOrganizationOwner        = "ORGANIZATION_OWNER"
	RoleOrganizationBillingAdmin = "ORGANIZATION_BILLING_ADMIN"
	RoleOrganizationMember       = "ORGANIZATION_MEMBER"

	RoleWorkspaceOwner    = "WORKSPACE_OWNER"
	RoleWorkspaceOperator = "WORKSPACE_OPERATOR"
	RoleWorkspaceAuthor   = "WORKSPACE_AUTHOR"
	RoleWorkspaceMember   = "WORKSPACE_MEMBER"
	RoleWorkspaceAccessor = "WORKSPACE_ACCESSOR"

	RoleDeploymentAdmin = "DEPLOYMENT_ADMIN"
	RoleDAGViewer       = "DAG_VIEWER"
	RoleDAGAuthor       = "DAG_AUTHOR"
)

// Subject types of a BasicSubjectProfile.
const (
	SubjectUser       = "USER"
	SubjectServiceKey = "SERVICEKEY"
)

// Subject is who created or updated something: a user, or an API token (SERVICEKEY).
// A zero ID means "absent" and the field is left out of responses.
type Subject struct {
	ID           string
	SubjectType  string
	Username     string
	FullName     string
	AvatarURL    string
	APITokenName string
}

// Role is one entry of a token's role list.
type Role struct {
	EntityType   string
	EntityID     string
	Role         string
	DeploymentID string // only for DAG and DAG_TAG entries
}

// Token is an API token as the emulator stores it. Zero times, a zero ExpiryPeriodInDays and zero
// Subjects mean "absent" and are left out of responses. The secret token value is never modelled.
type Token struct {
	ID                 string
	Name               string
	Description        string
	Type               string
	Kind               string
	ShortToken         string
	CreatedAt          time.Time
	UpdatedAt          time.Time
	StartAt            time.Time
	EndAt              time.Time
	LastUsedAt         time.Time
	ExpiryPeriodInDays int
	CreatedBy          Subject
	UpdatedBy          Subject
	Roles              []Role
}

func (t Token) clone() Token {
	t.Roles = slices.Clone(t.Roles)
	return t
}

// Workspace is a workspace of the emulated organization.
type Workspace struct {
	ID                  string
	Name                string
	Description         string
	CICDEnforcedDefault bool
	CreatedAt           time.Time
	UpdatedAt           time.Time
	CreatedBy           Subject
}
