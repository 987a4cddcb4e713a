package contract_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/emulators/astroemu/contract"
)

const (
	tokensPath = "/v1/organizations/org-1/tokens"
	tokenPath  = "/v1/organizations/org-1/tokens/tok-1"
	rolesPath  = "/v1/organizations/org-1/tokens/tok-1/roles"
	wsPath     = "/v1/organizations/org-1/workspaces"

	validToken = `{"id":"tok-1","name":"ci","description":"","type":"ORGANIZATION","kind":"STANDARD",
		"shortToken":"short","createdAt":"2024-03-01T10:00:00Z","updatedAt":"2024-03-01T10:00:00Z",
		"startAt":"2024-03-01T10:00:00Z","createdBy":{"id":"u1","subjectType":"USER","username":"a@example.com"},
		"roles":[{"entityType":"ORGANIZATION","entityId":"org-1","role":"ORGANIZATION_MEMBER"},
		{"entityType":"DAG","entityId":"daily","role":"DAG_VIEWER","deploymentId":"dep-1"}]}`
	validError = `{"message":"nope","requestId":"r-1","statusCode":404}`
)

func newValidator(t *testing.T) *contract.Validator {
	t.Helper()
	v, err := contract.New()
	require.NoError(t, err)
	return v
}

func request(method, target, body string) *http.Request {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	r.Header.Set("Authorization", "Bearer some-token")
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	return r
}

func jsonHeader() http.Header { return http.Header{"Content-Type": {"application/json"}} }

func TestValidateRequest(t *testing.T) {
	t.Parallel()
	v := newValidator(t)
	tests := []struct {
		name    string
		req     func() *http.Request
		body    string
		wantErr string
	}{
		{name: "OK list with filters", req: func() *http.Request {
			return request(http.MethodGet, tokensPath+"?workspaceId=ws-1&includeOnlyOrganizationTokens=true&limit=1000&sorts=name:asc", "")
		}},
		{name: "OK absolute loopback URL as a client sends it", req: func() *http.Request {
			r, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:5555"+tokenPath, nil)
			r.Header.Set("Authorization", "Bearer x")
			return r
		}},
		{name: "OK production URL", req: func() *http.Request {
			r, _ := http.NewRequest(http.MethodGet, "https://api.astronomer.io"+wsPath+"?names=Analytics&names=ML", nil)
			r.Header.Set("Authorization", "Bearer x")
			return r
		}},
		{name: "OK role update with a DAG role", body: `{"roles":[{"entityType":"ORGANIZATION","entityId":"org-1","role":"ORGANIZATION_MEMBER"},{"entityType":"DAG","entityId":"d","role":"DAG_VIEWER","deploymentId":"dep"}]}`,
			req: func() *http.Request { return request(http.MethodPost, rolesPath, "x") }},
		{name: "ErrLimitAboveMaximum", wantErr: "limit", req: func() *http.Request { return request(http.MethodGet, tokensPath+"?limit=1001", "") }},
		{name: "ErrUnknownSort", wantErr: "sorts", req: func() *http.Request { return request(http.MethodGet, tokensPath+"?sorts=id:asc", "") }},
		{name: "ErrNotABoolean", wantErr: "includeOnlyOrganizationTokens", req: func() *http.Request {
			return request(http.MethodGet, tokensPath+"?includeOnlyOrganizationTokens=yes", "")
		}},
		{name: "ErrNoBearer", wantErr: "Authorization", req: func() *http.Request {
			r := request(http.MethodGet, tokensPath, "")
			r.Header.Del("Authorization")
			return r
		}},
		{name: "ErrEmptyRoles", wantErr: "minItems", body: `{"roles":[]}`, req: func() *http.Request { return request(http.MethodPost, rolesPath, "x") }},
		{name: "ErrMisspeltField", wantErr: "deploymentID", body: `{"roles":[{"entityType":"DAG","entityId":"d","role":"DAG_VIEWER","deploymentID":"dep"}]}`,
			req: func() *http.Request { return request(http.MethodPost, rolesPath, "x") }},
		{name: "ErrUnknownEntityType", wantErr: "entityType", body: `{"roles":[{"entityType":"TEAM","entityId":"t","role":"X"}]}`,
			req: func() *http.Request { return request(http.MethodPost, rolesPath, "x") }},
		{name: "ErrMissingContentType", wantErr: "Content-Type", body: `{"roles":[{"entityType":"ORGANIZATION","entityId":"o","role":"ORGANIZATION_MEMBER"}]}`,
			req: func() *http.Request {
				r := request(http.MethodPost, rolesPath, "x")
				r.Header.Del("Content-Type")
				return r
			}},
		{name: "ErrPathWithoutV1Base", wantErr: "no operation", req: func() *http.Request { return request(http.MethodGet, "/organizations/org-1/tokens", "") }},
		{name: "ErrIAMv1beta1BaseIsNotV1", wantErr: "no operation", req: func() *http.Request { return request(http.MethodGet, "/iam/v1beta1/organizations/org-1/tokens", "") }},
		{name: "ErrMethodNotInContract", wantErr: "method", req: func() *http.Request { return request(http.MethodPut, rolesPath, "") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := v.ValidateRequest(tc.req(), []byte(tc.body))
			if tc.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
		})
	}
}

func TestValidateResponse(t *testing.T) {
	t.Parallel()
	v := newValidator(t)
	tests := []struct {
		name    string
		method  string
		path    string
		status  int
		header  http.Header
		body    string
		wantErr string
	}{
		{name: "OK token with v1 additions", path: tokenPath, status: 200, body: validToken},
		{name: "OK token page", path: tokensPath, status: 200, body: `{"tokens":[` + validToken + `],"totalCount":1,"offset":0,"limit":20}`},
		{name: "OK subject roles with DAG roles", method: http.MethodPost, path: rolesPath, status: 200,
			body: `{"organizationRole":"ORGANIZATION_MEMBER","workspaceRoles":[{"workspaceId":"w","role":"WORKSPACE_MEMBER"}],"deploymentRoles":[],"dagRoles":[{"deploymentId":"d","dagId":"x","role":"DAG_VIEWER"}]}`},
		{name: "OK workspace page", path: wsPath, status: 200,
			body: `{"workspaces":[{"id":"w","name":"A","organizationId":"org-1","cicdEnforcedDefault":false,"createdAt":"2024-01-01T00:00:00Z","updatedAt":"2024-01-01T00:00:00Z"}],"totalCount":1,"offset":0,"limit":20}`},
		{name: "OK error envelope", path: tokenPath, status: 404, body: validError},
		{name: "OK gateway rate limit is not the API's to document", path: tokensPath, status: 429, body: `{"message":"slow down","requestId":"r","statusCode":429}`},
		{name: "ErrTokenWithoutID", path: tokenPath, status: 200, wantErr: "id", body: strings.Replace(validToken, `"id":"tok-1",`, "", 1)},
		{name: "ErrUnknownTokenType", path: tokenPath, status: 200, wantErr: "type", body: strings.Replace(validToken, `"type":"ORGANIZATION"`, `"type":"TEAM"`, 1)},
		{name: "ErrUnknownKind", path: tokenPath, status: 200, wantErr: "kind", body: strings.Replace(validToken, `"kind":"STANDARD"`, `"kind":"SPECIAL"`, 1)},
		{name: "ErrTimeNotDateTime", path: tokenPath, status: 200, wantErr: "createdAt", body: strings.Replace(validToken, `"createdAt":"2024-03-01T10:00:00Z"`, `"createdAt":"yesterday"`, 1)},
		{name: "ErrDAGRoleWithoutDeployment", method: http.MethodPost, path: rolesPath, status: 200, wantErr: "deploymentId",
			body: `{"dagRoles":[{"dagId":"x","role":"DAG_VIEWER"}]}`},
		{name: "ErrPageWithoutTotalCount", path: tokensPath, status: 200, wantErr: "totalCount", body: `{"tokens":[],"offset":0,"limit":20}`},
		{name: "ErrErrorWithoutRequestID", path: tokenPath, status: 404, wantErr: "requestId", body: `{"message":"nope","statusCode":404}`},
		{name: "ErrUndocumentedStatus", path: tokenPath, status: 418, wantErr: "status", body: validError},
		{name: "ErrWorkspacesHaveNo404", path: wsPath, status: 404, wantErr: "status", body: validError},
		{name: "ErrNotJSON", path: tokenPath, status: 200, header: http.Header{"Content-Type": {"text/plain"}}, wantErr: "text/plain", body: "hello"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			method := tc.method
			if method == "" {
				method = http.MethodGet
			}
			header := tc.header
			if header == nil {
				header = jsonHeader()
			}
			err := v.ValidateResponse(request(method, tc.path, ""), tc.status, header, []byte(tc.body))
			if tc.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
		})
	}
}

func TestMiddleware(t *testing.T) {
	t.Parallel()
	v := newValidator(t)
	tests := []struct {
		name       string
		req        *http.Request
		handler    http.HandlerFunc
		violations int
	}{
		{name: "OK passes a valid exchange", req: request(http.MethodGet, tokenPath, ""), handler: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, validToken)
		}},
		{name: "ErrReportsBadResponse", req: request(http.MethodGet, tokenPath, ""), violations: 1, handler: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"name":"no id"}`)
		}},
		{name: "ErrReportsBadRequestAndResponse", req: request(http.MethodGet, tokensPath+"?limit=-1", ""), violations: 2, handler: func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusTeapot)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var got []error
			h := v.Middleware(tc.handler, func(err error) { mu.Lock(); got = append(got, err); mu.Unlock() })
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, tc.req)
			assert.Len(t, got, tc.violations, "%v", got)
		})
	}
}

func TestMiddlewarePassesTrafficThroughUnchanged(t *testing.T) {
	t.Parallel()
	v := newValidator(t)
	h := v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write(body)
	}), func(error) {})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, request(http.MethodPost, rolesPath, validError))
	assert.Equal(t, http.StatusNotFound, rec.Code)
	assert.JSONEq(t, validError, rec.Body.String())
}
