// Package astro is a small typed client for the Astro API v1 endpoints the bot needs:
// organization API tokens, their roles, and workspaces.
package astro

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Entity types of a token role.
const (
	EntityOrganization = "ORGANIZATION"
	EntityWorkspace    = "WORKSPACE"
	EntityDeployment   = "DEPLOYMENT"
)

// Token scopes, as the API's "type" field reports them.
const (
	ScopeOrganization = "ORGANIZATION"
	ScopeWorkspace    = "WORKSPACE"
	ScopeDeployment   = "DEPLOYMENT"
)

// Workspace roles, lowest to highest.
const (
	RoleWorkspaceMember   = "WORKSPACE_MEMBER"
	RoleWorkspaceAuthor   = "WORKSPACE_AUTHOR"
	RoleWorkspaceOperator = "WORKSPACE_OPERATOR"
	RoleWorkspaceOwner    = "WORKSPACE_OWNER"
)

// WorkspaceRoles lists the roles the bot grants, lowest to highest (the role ladder).
var WorkspaceRoles = []string{RoleWorkspaceMember, RoleWorkspaceAuthor, RoleWorkspaceOperator, RoleWorkspaceOwner}

// Role is one entry of a token's role list. DeploymentID is set on DAG roles (v1 addition).
type Role struct {
	EntityType   string `json:"entityType"`
	EntityID     string `json:"entityId"`
	Role         string `json:"role"`
	DeploymentID string `json:"deploymentId,omitempty"`
}

// Profile is a BasicSubjectProfile: the user or API token that created or updated something.
type Profile struct {
	ID           string `json:"id"`
	SubjectType  string `json:"subjectType,omitempty"` // USER or SERVICEKEY
	Username     string `json:"username,omitempty"`
	FullName     string `json:"fullName,omitempty"`
	AvatarURL    string `json:"avatarUrl,omitempty"`
	APITokenName string `json:"apiTokenName,omitempty"`
}

// DisplayName is the full name of a user, or the token name when an API token acted.
func (p *Profile) DisplayName() string {
	switch {
	case p == nil:
		return ""
	case p.FullName != "":
		return p.FullName
	case p.APITokenName != "":
		return p.APITokenName
	case p.Username != "":
		return p.Username
	default:
		return p.ID
	}
}

// Token is an Astro API token. The secret token value the API may return on creation is
// deliberately not modelled, so it can never be logged or handed to callers. Tokens read in
// one page may share their CreatedBy and UpdatedBy profiles: treat those as read-only.
type Token struct {
	ID                 string     `json:"id"`
	Name               string     `json:"name"`
	Description        string     `json:"description"`
	Type               string     `json:"type"`            // the token's scope: ORGANIZATION, WORKSPACE or DEPLOYMENT
	Scope              string     `json:"scope,omitempty"` // the same, as v1 names it; read Type
	Kind               string     `json:"kind,omitempty"`
	ShortToken         string     `json:"shortToken"`
	CreatedAt          time.Time  `json:"createdAt"`
	UpdatedAt          time.Time  `json:"updatedAt"`
	CreatedBy          *Profile   `json:"createdBy,omitempty"`
	UpdatedBy          *Profile   `json:"updatedBy,omitempty"`
	StartAt            *time.Time `json:"startAt,omitempty"`
	EndAt              *time.Time `json:"endAt,omitempty"`
	ExpiryPeriodInDays *int       `json:"expiryPeriodInDays,omitempty"`
	LastUsedAt         *time.Time `json:"lastUsedAt,omitempty"`
	Roles              []Role     `json:"roles"`
}

// fillScope copies the scope from "scope" (what the v1 API and the astro CLI's v1 model use)
// into Type when the server sent no "type" (the v1beta1 name). A plain field rather than a
// custom UnmarshalJSON keeps decoding a 1,000-token page on encoding/json's fast path.
func (t *Token) fillScope() {
	if t.Type == "" {
		t.Type = t.Scope
	}
}

// TokenSummary is a listed token as far as finding one by name or ID needs it: who it is,
// when and by whom it was created, and its roles and creator still encoded. Lookups decode a
// whole organization to pick one token; decoding the roles and profiles of only that one takes
// a quarter less time and a third of the memory of full Tokens.
type TokenSummary struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Type      string    `json:"type"`            // the token's scope, as in Token
	Scope     string    `json:"scope,omitempty"` // the same, as v1 names it; read Type
	CreatedAt time.Time `json:"createdAt"`
	// RawCreatedBy and RawRoles are the answer's JSON for createdBy and roles, decoded by
	// CreatedBy and Token.
	RawCreatedBy json.RawMessage `json:"createdBy,omitempty"`
	RawRoles     json.RawMessage `json:"roles"`
}

func (s *TokenSummary) fillScope() {
	if s.Type == "" {
		s.Type = s.Scope
	}
}

// CreatedBy decodes who created the token; nil when the answer did not say (or said it in a
// form this client cannot read: it only labels the token).
func (s *TokenSummary) CreatedBy() *Profile {
	if len(s.RawCreatedBy) == 0 {
		return nil
	}
	var p *Profile
	if json.Unmarshal(s.RawCreatedBy, &p) != nil {
		return nil
	}
	return p
}

// Token decodes the summary into a Token of its own (nothing is shared with the summary or
// other tokens). Only the summarised fields are set: ID, Name, Type, CreatedAt, CreatedBy and
// Roles; read the token by ID for the rest.
func (s *TokenSummary) Token() (*Token, error) {
	// Cloned: a summary's strings may be views of a whole page (see ListTokenSummaries), and a
	// token outlives its command in locks and records.
	t := &Token{ID: strings.Clone(s.ID), Name: strings.Clone(s.Name), Type: strings.Clone(s.Type), Scope: strings.Clone(s.Scope),
		CreatedAt: s.CreatedAt, CreatedBy: s.CreatedBy()}
	if len(s.RawRoles) > 0 {
		if err := json.Unmarshal(s.RawRoles, &t.Roles); err != nil {
			return nil, fmt.Errorf("astro: the roles listed for token %s could not be read: %w", s.ID, err)
		}
	}
	return t, nil
}

// SummaryOf is the summary a list would have given for t: for callers (and fakes) that hold
// full tokens.
func SummaryOf(t Token) TokenSummary {
	s := TokenSummary{ID: t.ID, Name: t.Name, Type: t.Type, Scope: t.Scope, CreatedAt: t.CreatedAt}
	if t.CreatedBy != nil {
		s.RawCreatedBy, _ = json.Marshal(t.CreatedBy) // a struct of strings always encodes
	}
	s.RawRoles, _ = json.Marshal(t.Roles)
	return s
}

// TokensPage is one page of GET /organizations/{org}/tokens.
type TokensPage struct {
	Tokens     []Token `json:"tokens"`
	TotalCount int     `json:"totalCount"`
	Offset     int     `json:"offset"`
	Limit      int     `json:"limit"`
}

// ListTokensOptions are the query parameters of GET /organizations/{org}/tokens.
type ListTokensOptions struct {
	WorkspaceID                   string
	IncludeOnlyOrganizationTokens bool
	Offset                        int
	Limit                         int // 0 means the API default; at most MaxPageSize
	// Sorts order the list, each "field:asc" or "field:desc" (fields: name, description,
	// createdAt, updatedAt, tokenStartAt), first key first. Without it the order is the API's.
	Sorts []string
}

// MaxPageSize is the largest page the tokens endpoint accepts.
const MaxPageSize = 1000

// WorkspaceRole, DeploymentRole and DagRole are entries of SubjectRoles.
type WorkspaceRole struct {
	WorkspaceID string `json:"workspaceId"`
	Role        string `json:"role"`
}

type DeploymentRole struct {
	DeploymentID string `json:"deploymentId"`
	Role         string `json:"role"`
}

type DagRole struct {
	DeploymentID string `json:"deploymentId"`
	EntityID     string `json:"entityId,omitempty"`
	DagID        string `json:"dagId,omitempty"`
	DagTag       string `json:"dagTag,omitempty"`
	Role         string `json:"role"`
}

// SubjectRoles is the response of POST /organizations/{org}/tokens/{id}/roles: the token's roles
// after the change, so a caller can confirm it without another read.
type SubjectRoles struct {
	OrganizationRole string           `json:"organizationRole,omitempty"`
	WorkspaceRoles   []WorkspaceRole  `json:"workspaceRoles,omitempty"`
	DeploymentRoles  []DeploymentRole `json:"deploymentRoles,omitempty"`
	DagRoles         []DagRole        `json:"dagRoles,omitempty"`
}

// WorkspaceRole returns the role held in a workspace, or "" when none.
func (s *SubjectRoles) WorkspaceRole(workspaceID string) string {
	for _, r := range s.WorkspaceRoles {
		if r.WorkspaceID == workspaceID {
			return r.Role
		}
	}
	return ""
}

// Workspace is an Astro workspace (only the fields the bot shows).
type Workspace struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	CreatedAt   time.Time `json:"createdAt"`
}

// WorkspacesPage is one page of GET /organizations/{org}/workspaces.
type WorkspacesPage struct {
	Workspaces []Workspace `json:"workspaces"`
	TotalCount int         `json:"totalCount"`
	Offset     int         `json:"offset"`
	Limit      int         `json:"limit"`
}
