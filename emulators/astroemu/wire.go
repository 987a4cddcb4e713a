package astroemu

import (
	"encoding/json"
	"time"
)

// The wire structs below are written from Astronomer's OpenAPI descriptions (iam/platform
// v1beta1 plus the v1 additions), not shared with the bot's client, on purpose.

// wireTimeLayout is the API's documented `YYYY-MM-DDTHH:MM:SSZ`.
const wireTimeLayout = "2006-01-02T15:04:05Z"

type wireSubject struct {
	ID           string `json:"id"`
	SubjectType  string `json:"subjectType,omitempty"`
	Username     string `json:"username,omitempty"`
	FullName     string `json:"fullName,omitempty"`
	AvatarURL    string `json:"avatarUrl,omitempty"`
	APITokenName string `json:"apiTokenName,omitempty"`
}

type wireRole struct {
	EntityType   string `json:"entityType"`
	EntityID     string `json:"entityId"`
	Role         string `json:"role"`
	DeploymentID string `json:"deploymentId,omitempty"`
}

type wireToken struct {
	ID                 string       `json:"id"`
	Name               string       `json:"name"`
	Description        string       `json:"description"`
	Type               string       `json:"type"`
	Kind               string       `json:"kind,omitempty"`
	ShortToken         string       `json:"shortToken"`
	CreatedAt          string       `json:"createdAt"`
	CreatedBy          *wireSubject `json:"createdBy,omitempty"`
	UpdatedAt          string       `json:"updatedAt"`
	UpdatedBy          *wireSubject `json:"updatedBy,omitempty"`
	StartAt            string       `json:"startAt"`
	EndAt              string       `json:"endAt,omitempty"`
	ExpiryPeriodInDays *int         `json:"expiryPeriodInDays,omitempty"`
	LastUsedAt         string       `json:"lastUsedAt,omitempty"`
	Roles              []wireRole   `json:"roles"`
}

type wireWorkspace struct {
	ID                  string       `json:"id"`
	Name                string       `json:"name"`
	Description         string       `json:"description,omitempty"`
	OrganizationID      string       `json:"organizationId"`
	OrganizationName    string       `json:"organizationName,omitempty"`
	CICDEnforcedDefault bool         `json:"cicdEnforcedDefault"`
	CreatedAt           string       `json:"createdAt"`
	CreatedBy           *wireSubject `json:"createdBy,omitempty"`
	UpdatedAt           string       `json:"updatedAt"`
}

type wireWorkspaceRole struct {
	WorkspaceID string `json:"workspaceId"`
	Role        string `json:"role"`
}

type wireDeploymentRole struct {
	DeploymentID string `json:"deploymentId"`
	Role         string `json:"role"`
}

type wireDAGRole struct {
	DeploymentID string `json:"deploymentId"`
	DagID        string `json:"dagId,omitempty"`
	DagTag       string `json:"dagTag,omitempty"`
	Role         string `json:"role"`
}

type wireSubjectRoles struct {
	OrganizationRole string               `json:"organizationRole,omitempty"`
	WorkspaceRoles   []wireWorkspaceRole  `json:"workspaceRoles"`
	DeploymentRoles  []wireDeploymentRole `json:"deploymentRoles"`
	DagRoles         []wireDAGRole        `json:"dagRoles"`
}

type wireUpdateRolesRequest struct {
	Roles []wireRole `json:"roles"`
}

type wireError struct {
	Message    string `json:"message"`
	RequestID  string `json:"requestId"`
	StatusCode int    `json:"statusCode"`
}

func wireTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(wireTimeLayout)
}

func toWireSubject(s Subject) *wireSubject {
	if s.ID == "" {
		return nil
	}
	return &wireSubject{
		ID: s.ID, SubjectType: s.SubjectType, Username: s.Username,
		FullName: s.FullName, AvatarURL: s.AvatarURL, APITokenName: s.APITokenName,
	}
}

// renderToken is called once per token change; list responses reuse the bytes.
func renderToken(t Token) []byte {
	w := wireToken{
		ID: t.ID, Name: t.Name, Description: t.Description, Type: t.Type, Kind: t.Kind,
		ShortToken: t.ShortToken,
		CreatedAt:  wireTime(t.CreatedAt), CreatedBy: toWireSubject(t.CreatedBy),
		UpdatedAt: wireTime(t.UpdatedAt), UpdatedBy: toWireSubject(t.UpdatedBy),
		StartAt: wireTime(t.StartAt), EndAt: wireTime(t.EndAt), LastUsedAt: wireTime(t.LastUsedAt),
		Roles: make([]wireRole, 0, len(t.Roles)),
	}
	if t.ExpiryPeriodInDays != 0 {
		days := t.ExpiryPeriodInDays
		w.ExpiryPeriodInDays = &days
	}
	for _, r := range t.Roles {
		w.Roles = append(w.Roles, wireRole(r))
	}
	// Only strings, ints and pointers to them: marshalling cannot fail.
	b, _ := json.Marshal(w)
	return b
}

func renderWorkspace(ws Workspace, orgID, orgName string) wireWorkspace {
	return wireWorkspace{
		ID: ws.ID, Name: ws.Name, Description: ws.Description,
		OrganizationID: orgID, OrganizationName: orgName,
		CICDEnforcedDefault: ws.CICDEnforcedDefault,
		CreatedAt:           wireTime(ws.CreatedAt), CreatedBy: toWireSubject(ws.CreatedBy),
		UpdatedAt: wireTime(ws.UpdatedAt),
	}
}

func subjectRoles(roles []Role) wireSubjectRoles {
	out := wireSubjectRoles{
		WorkspaceRoles:  []wireWorkspaceRole{},
		DeploymentRoles: []wireDeploymentRole{},
		DagRoles:        []wireDAGRole{},
	}
	for _, r := range roles {
		switch r.EntityType {
		case EntityOrganization:
			out.OrganizationRole = r.Role
		case EntityWorkspace:
			out.WorkspaceRoles = append(out.WorkspaceRoles, wireWorkspaceRole{WorkspaceID: r.EntityID, Role: r.Role})
		case EntityDeployment:
			out.DeploymentRoles = append(out.DeploymentRoles, wireDeploymentRole{DeploymentID: r.EntityID, Role: r.Role})
		case EntityDAG:
			out.DagRoles = append(out.DagRoles, wireDAGRole{DeploymentID: r.DeploymentID, DagID: r.EntityID, Role: r.Role})
		case EntityDAGTag:
			out.DagRoles = append(out.DagRoles, wireDAGRole{DeploymentID: r.DeploymentID, DagTag: r.EntityID, Role: r.Role})
		}
	}
	return out
}
