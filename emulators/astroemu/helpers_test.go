package astroemu_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/emulators/astroemu"
)

const (
	testOrg   = "org-1"
	testToken = "astro-test-token"
)

func newSample(t *testing.T, mutate ...func(*astroemu.Options)) *astroemu.Server {
	t.Helper()
	opts := astroemu.Options{OrganizationID: testOrg, APIToken: testToken}
	for _, m := range mutate {
		m(&opts)
	}
	srv, err := astroemu.Start(opts)
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	srv.SeedSample()
	return srv
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) decode(t *testing.T, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(r.body, v), "body: %s", r.body)
}

type apiErr struct {
	Message    string `json:"message"`
	RequestID  string `json:"requestId"`
	StatusCode int    `json:"statusCode"`
}

// call sends one request with the test bearer token; path is relative to the base URL.
func call(t *testing.T, srv *astroemu.Server, method, path string, body any) response {
	t.Helper()
	return callWith(t, http.DefaultClient, srv, method, path, body, "Bearer "+testToken)
}

func callWith(t *testing.T, client *http.Client, srv *astroemu.Server, method, path string, body any, auth string) response {
	t.Helper()
	resp, err := do(context.Background(), client, srv, method, path, body, auth)
	require.NoError(t, err)
	return resp
}

func do(ctx context.Context, client *http.Client, srv *astroemu.Server, method, path string, body any, auth string) (response, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			return response{}, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, srv.URL()+path, rd)
	if err != nil {
		return response{}, err
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, err
	}
	return response{status: resp.StatusCode, header: resp.Header, body: raw}, nil
}

// Wire shapes as a client sees them, written here rather than shared with the emulator.
type tokenJSON struct {
	ID                 string          `json:"id"`
	Name               string          `json:"name"`
	Description        string          `json:"description"`
	Type               string          `json:"type"`
	Kind               string          `json:"kind"`
	ShortToken         string          `json:"shortToken"`
	CreatedAt          string          `json:"createdAt"`
	UpdatedAt          string          `json:"updatedAt"`
	StartAt            string          `json:"startAt"`
	EndAt              string          `json:"endAt"`
	LastUsedAt         string          `json:"lastUsedAt"`
	ExpiryPeriodInDays *int            `json:"expiryPeriodInDays"`
	CreatedBy          *subjectJSON    `json:"createdBy"`
	UpdatedBy          *subjectJSON    `json:"updatedBy"`
	Roles              []roleJSON      `json:"roles"`
	Token              json.RawMessage `json:"token"`
}

type subjectJSON struct {
	ID           string `json:"id"`
	SubjectType  string `json:"subjectType"`
	Username     string `json:"username"`
	FullName     string `json:"fullName"`
	APITokenName string `json:"apiTokenName"`
}

type roleJSON struct {
	EntityType   string `json:"entityType"`
	EntityID     string `json:"entityId"`
	Role         string `json:"role"`
	DeploymentID string `json:"deploymentId,omitempty"`
}

type tokenPage struct {
	Tokens     []tokenJSON `json:"tokens"`
	TotalCount int         `json:"totalCount"`
	Offset     int         `json:"offset"`
	Limit      int         `json:"limit"`
}

type workspacePage struct {
	Workspaces []struct {
		ID                  string `json:"id"`
		Name                string `json:"name"`
		OrganizationID      string `json:"organizationId"`
		CICDEnforcedDefault bool   `json:"cicdEnforcedDefault"`
	} `json:"workspaces"`
	TotalCount int `json:"totalCount"`
	Offset     int `json:"offset"`
	Limit      int `json:"limit"`
}

type subjectRolesJSON struct {
	OrganizationRole string `json:"organizationRole"`
	WorkspaceRoles   []struct {
		WorkspaceID string `json:"workspaceId"`
		Role        string `json:"role"`
	} `json:"workspaceRoles"`
	DeploymentRoles []struct {
		DeploymentID string `json:"deploymentId"`
		Role         string `json:"role"`
	} `json:"deploymentRoles"`
	DagRoles []struct {
		DeploymentID string `json:"deploymentId"`
		DagID        string `json:"dagId"`
		DagTag       string `json:"dagTag"`
		Role         string `json:"role"`
	} `json:"dagRoles"`
}

func ids(tokens []tokenJSON) []string {
	out := make([]string, len(tokens))
	for i, t := range tokens {
		out[i] = t.ID
	}
	return out
}

func rolesBody(roles ...roleJSON) map[string]any { return map[string]any{"roles": roles} }

func orgRole(role string) roleJSON {
	return roleJSON{EntityType: astroemu.EntityOrganization, EntityID: testOrg, Role: role}
}

func wsRole(ws, role string) roleJSON {
	return roleJSON{EntityType: astroemu.EntityWorkspace, EntityID: ws, Role: role}
}
