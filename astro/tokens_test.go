package astro

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tokenCatalog serves GET /organizations/{org}/tokens over n generated tokens, honouring
// offset and limit (default 20, at most 1000) like the API, and records every query.
type tokenCatalog struct {
	n           int
	reportTotal int // what totalCount says; the API may disagree with the data while it changes
	mu          sync.Mutex
	queries     []url.Values
}

func (tc *tokenCatalog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	tc.mu.Lock()
	tc.queries = append(tc.queries, q)
	tc.mu.Unlock()
	offset, _ := strconv.Atoi(q.Get("offset"))
	limit := 20
	if v := q.Get("limit"); v != "" {
		limit, _ = strconv.Atoi(v)
	}
	if limit > MaxPageSize {
		apiError(http.StatusBadRequest, "limit too large")(w, r)
		return
	}
	page := TokensPage{Tokens: []Token{}, TotalCount: tc.reportTotal, Offset: offset, Limit: limit}
	for i := offset; i < min(offset+limit, tc.n); i++ {
		page.Tokens = append(page.Tokens, Token{ID: fmt.Sprintf("tok-%04d", i), Name: fmt.Sprintf("token-%d", i%7), Type: ScopeOrganization})
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(page)
}

func (tc *tokenCatalog) Queries() []url.Values {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	return append([]url.Values(nil), tc.queries...)
}

func newCatalogRoute(tc http.Handler) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /organizations/org-1/tokens", tc)
	return mux
}

func TestListTokensSendsFilters(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts ListTokensOptions
		want url.Values
	}{
		{name: "NoOptionsUsesAPIDefaults", opts: ListTokensOptions{}, want: url.Values{}},
		{name: "WorkspaceAndOrgOnly", opts: ListTokensOptions{WorkspaceID: "ws 1", IncludeOnlyOrganizationTokens: true, Offset: 40, Limit: 20},
			want: url.Values{"workspaceId": {"ws 1"}, "includeOnlyOrganizationTokens": {"true"}, "offset": {"40"}, "limit": {"20"}}},
		{name: "OversizedLimitIsClamped", opts: ListTokensOptions{Limit: 5000}, want: url.Values{"limit": {"1000"}}},
		{name: "SortKeysRepeatInOrder", opts: ListTokensOptions{Sorts: []string{"name:asc", "createdAt:desc"}, Limit: 25},
			want: url.Values{"sorts": {"name:asc", "createdAt:desc"}, "limit": {"25"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tc := &tokenCatalog{n: 30, reportTotal: 30}
			ts := newTestServer(t, newCatalogRoute(tc))
			c, _ := newTestClient(t, ts)

			page, err := c.ListTokens(t.Context(), tt.opts)

			require.NoError(t, err)
			assert.Equal(t, 30, page.TotalCount)
			require.Len(t, tc.Queries(), 1)
			assert.Equal(t, tt.want, tc.Queries()[0])
		})
	}
}

func TestListTokensRejectsNegativePaging(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, newCatalogRoute(&tokenCatalog{}))
	c, _ := newTestClient(t, ts)

	_, err := c.ListTokens(t.Context(), ListTokensOptions{Offset: -1})

	require.Error(t, err)
	assert.Equal(t, 0, ts.Requests())
}

func TestListAllTokensWalksEveryPage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		n            int
		reportTotal  int
		opts         ListTokensOptions
		wantTokens   int
		wantRequests int
	}{
		{name: "Empty", n: 0, reportTotal: 0, wantTokens: 0, wantRequests: 1},
		{name: "OnePartialPage", n: 999, reportTotal: 999, wantTokens: 999, wantRequests: 1},
		{name: "ExactlyTwoFullPagesStopOnTotal", n: 2000, reportTotal: 2000, wantTokens: 2000, wantRequests: 2},
		{name: "TwoThousandFiveHundredInThreeRequests", n: 2500, reportTotal: 2500, wantTokens: 2500, wantRequests: 3},
		{name: "StopsOnShortPageWhenTotalOverstates", n: 1200, reportTotal: 5000, wantTokens: 1200, wantRequests: 2},
		{name: "StopsOnEmptyPageWhenTotalOverstates", n: 1000, reportTotal: 5000, wantTokens: 1000, wantRequests: 2},
		{name: "StopsOnTotalWhenTotalUnderstates", n: 3000, reportTotal: 1000, wantTokens: 1000, wantRequests: 1},
		{name: "SmallerPagesOnRequest", n: 45, reportTotal: 45, opts: ListTokensOptions{Limit: 20}, wantTokens: 45, wantRequests: 3},
		{name: "StartsAtOffset", n: 1500, reportTotal: 1500, opts: ListTokensOptions{Offset: 1000}, wantTokens: 500, wantRequests: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// Full tokens and summaries are listed page by page alike.
			listers := map[string]func(*Client) ([]string, error){
				"Tokens": func(c *Client) ([]string, error) {
					toks, err := c.ListAllTokens(t.Context(), tt.opts)
					ids := make([]string, len(toks))
					for i, tok := range toks {
						ids[i] = tok.ID
					}
					return ids, err
				},
				"Summaries": func(c *Client) ([]string, error) {
					toks, err := c.ListTokenSummaries(t.Context(), tt.opts)
					ids := make([]string, len(toks))
					for i, tok := range toks {
						ids[i] = tok.ID
					}
					return ids, err
				},
			}
			for what, list := range listers {
				tc := &tokenCatalog{n: tt.n, reportTotal: tt.reportTotal}
				ts := newTestServer(t, newCatalogRoute(tc))
				c, _ := newTestClient(t, ts)

				ids, err := list(c)

				require.NoError(t, err, what)
				assert.Len(t, ids, tt.wantTokens, what)
				assert.Equal(t, tt.wantRequests, ts.Requests(), what)
				if len(ids) > 0 {
					assert.Equal(t, fmt.Sprintf("tok-%04d", tt.opts.Offset), ids[0], what)
					assert.Equal(t, fmt.Sprintf("tok-%04d", tt.opts.Offset+tt.wantTokens-1), ids[len(ids)-1], what)
				}
			}
		})
	}
}

func TestListAllTokensKeepsFiltersOnEveryPage(t *testing.T) {
	t.Parallel()
	tc := &tokenCatalog{n: 2500, reportTotal: 2500}
	ts := newTestServer(t, newCatalogRoute(tc))
	c, _ := newTestClient(t, ts)

	_, err := c.ListAllTokens(t.Context(), ListTokensOptions{WorkspaceID: "ws-1", IncludeOnlyOrganizationTokens: true})

	require.NoError(t, err)
	var offsets []string
	for _, q := range tc.Queries() {
		assert.Equal(t, "ws-1", q.Get("workspaceId"))
		assert.Equal(t, "true", q.Get("includeOnlyOrganizationTokens"))
		assert.Equal(t, "1000", q.Get("limit"))
		offsets = append(offsets, q.Get("offset"))
	}
	// Each later page is read one token early, to check the list did not move: free here,
	// as 1,500 tokens after the first page fit in two pages either way.
	assert.Equal(t, []string{"", "999", "1998"}, offsets)
}

func TestListAllTokensStartsOverOnATokenSeenTwice(t *testing.T) {
	t.Parallel()
	// The second page repeats b with the total unchanged: the list slid down (a token created
	// ahead, another deleted behind), so this walk may have missed one. The next one sees d.
	ts := newTestServer(t, script(
		writeJSON(http.StatusOK, `{"tokens":[{"id":"a"},{"id":"b"}],"totalCount":4,"offset":0,"limit":2}`),
		writeJSON(http.StatusOK, `{"tokens":[{"id":"b"},{"id":"c"}],"totalCount":4,"offset":2,"limit":2}`),
		writeJSON(http.StatusOK, `{"tokens":[{"id":"a"},{"id":"b"}],"totalCount":4,"offset":0,"limit":2}`),
		writeJSON(http.StatusOK, `{"tokens":[{"id":"c"},{"id":"d"}],"totalCount":4,"offset":2,"limit":2}`),
	))
	c, _ := newTestClient(t, ts)

	tokens, err := c.ListAllTokens(t.Context(), ListTokensOptions{Limit: 2})

	require.NoError(t, err)
	var ids []string
	for _, tok := range tokens {
		ids = append(ids, tok.ID)
	}
	assert.Equal(t, []string{"a", "b", "c", "d"}, ids)
	assert.Equal(t, 4, ts.Requests())
}

func TestListAllTokensFailsWholeOnAPageError(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, script(
		writeJSON(http.StatusOK, `{"tokens":[{"id":"a"},{"id":"b"}],"totalCount":4,"offset":0,"limit":2}`),
		apiError(http.StatusForbidden, "no access"),
	))
	c, _ := newTestClient(t, ts)

	tokens, err := c.ListAllTokens(t.Context(), ListTokensOptions{Limit: 2})

	assert.True(t, IsForbidden(err))
	assert.Nil(t, tokens, "a partial list would look complete")
}

func TestFindTokensByName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		lookFor string
		wantIDs []string
	}{
		{name: "SeveralMatchesAcrossPages", lookFor: "token-3", wantIDs: []string{"tok-0003", "tok-0010", "tok-0017", "tok-0024"}},
		{name: "NoMatch", lookFor: "nope"},
		{name: "ExactNotCaseInsensitive", lookFor: "TOKEN-3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := newTestServer(t, newCatalogRoute(&tokenCatalog{n: 30, reportTotal: 30}))
			c, _ := newTestClient(t, ts)

			got, err := c.FindTokensByName(t.Context(), tt.lookFor, ListTokensOptions{Limit: 10})

			require.NoError(t, err)
			var ids []string
			for _, tok := range got {
				ids = append(ids, tok.ID)
			}
			assert.Equal(t, tt.wantIDs, ids)
			assert.Equal(t, 3, ts.Requests())
		})
	}
}

func TestGetToken(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /organizations/org-1/tokens/tok-1", writeJSON(http.StatusOK, tokenJSON))
	mux.HandleFunc("GET /organizations/org-1/tokens/missing", apiError(http.StatusNotFound, "token not found"))
	ts := newTestServer(t, mux)
	c, _ := newTestClient(t, ts)

	tok, err := c.GetToken(t.Context(), "tok-1")
	require.NoError(t, err)
	assert.Equal(t, "ci-deployer", tok.Name)
	assert.Equal(t, ScopeOrganization, tok.Type)
	assert.Equal(t, time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC), tok.CreatedAt)
	assert.Equal(t, RoleWorkspaceAuthor, WorkspaceRoleOf(tok.Roles, "ws-1"))

	_, err = c.GetToken(t.Context(), "missing")
	assert.True(t, IsNotFound(err))

	before := ts.Requests()
	_, err = c.GetToken(t.Context(), "")
	require.Error(t, err, "an empty ID would address the list endpoint")
	assert.Equal(t, before, ts.Requests())
}

func TestUpdateTokenRolesSendsFullReplacement(t *testing.T) {
	t.Parallel()
	var gotBody string
	mux := http.NewServeMux()
	mux.HandleFunc("POST /organizations/org-1/tokens/tok-1/roles", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		gotBody = string(b)
		writeJSON(http.StatusOK, `{"organizationRole":"ORGANIZATION_MEMBER",
		  "workspaceRoles":[{"workspaceId":"ws-1","role":"WORKSPACE_OWNER"}],
		  "deploymentRoles":[{"deploymentId":"dep-1","role":"DEPLOYMENT_ADMIN"}],
		  "dagRoles":[{"deploymentId":"dep-1","dagId":"dag-1","role":"DAG_VIEWER"}],
		  "somethingNew":1}`)(w, r)
	})
	ts := newTestServer(t, mux)
	c, _ := newTestClient(t, ts)
	roles := []Role{
		{EntityType: EntityOrganization, EntityID: "org-1", Role: "ORGANIZATION_MEMBER"},
		{EntityType: EntityWorkspace, EntityID: "ws-1", Role: RoleWorkspaceOwner},
		{EntityType: EntityDeployment, EntityID: "dep-1", Role: "DEPLOYMENT_ADMIN"},
		{EntityType: "DAG", EntityID: "dag-1", DeploymentID: "dep-1", Role: "DAG_VIEWER"},
	}

	got, err := c.UpdateTokenRoles(t.Context(), "tok-1", roles)

	require.NoError(t, err)
	assert.JSONEq(t, `{"roles":[
	  {"entityType":"ORGANIZATION","entityId":"org-1","role":"ORGANIZATION_MEMBER"},
	  {"entityType":"WORKSPACE","entityId":"ws-1","role":"WORKSPACE_OWNER"},
	  {"entityType":"DEPLOYMENT","entityId":"dep-1","role":"DEPLOYMENT_ADMIN"},
	  {"entityType":"DAG","entityId":"dag-1","deploymentId":"dep-1","role":"DAG_VIEWER"}]}`, gotBody)
	assert.Equal(t, RoleWorkspaceOwner, got.WorkspaceRole("ws-1"))
	assert.Equal(t, "ORGANIZATION_MEMBER", got.OrganizationRole)
	assert.Equal(t, []DagRole{{DeploymentID: "dep-1", DagID: "dag-1", Role: "DAG_VIEWER"}}, got.DagRoles)
}

func TestUpdateTokenRolesRejectsBadInputBeforeSending(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, writeJSON(http.StatusOK, `{}`))
	c, _ := newTestClient(t, ts)

	_, errNoID := c.UpdateTokenRoles(t.Context(), "", []Role{{EntityType: EntityOrganization, EntityID: "org-1", Role: "ORGANIZATION_MEMBER"}})
	_, errNoRoles := c.UpdateTokenRoles(t.Context(), "tok-1", nil)

	assert.Error(t, errNoID)
	assert.Error(t, errNoRoles)
	assert.Equal(t, 0, ts.Requests())
}

// TestUpdateTokenRolesOutcome pins down when a failed write is reported as "may have been
// applied": only when the request could have reached Astro and no answer proved otherwise. Such
// a write is never sent a second time (its list would undo any change made since it landed);
// only one Astro refused (429) is.
func TestUpdateTokenRolesOutcome(t *testing.T) {
	t.Parallel()
	ok := writeJSON(http.StatusOK, `{"workspaceRoles":[{"workspaceId":"ws-1","role":"WORKSPACE_OWNER"}]}`)
	tests := []struct {
		name         string
		handler      http.HandlerFunc
		policy       RetryPolicy
		wantUnknown  bool
		wantStatus   int // of the *Error inside, 0 when none
		wantIs       error
		wantRequests int
	}{
		{name: "RateLimitedThenSuccess", handler: script(rateLimited("2"), ok), wantRequests: 2},
		{name: "GatewayErrorIsNotResent", handler: script(apiError(502, "bad gateway"), ok), wantUnknown: true, wantStatus: 502, wantRequests: 1},
		{name: "DroppedConnectionIsNotResent", handler: script(dropConnection, ok), wantUnknown: true, wantRequests: 1},
		{name: "BadRequestProvesNothingApplied", handler: apiError(400, "invalid role"), wantStatus: 400, wantRequests: 1},
		{name: "ForbiddenProvesNothingApplied", handler: apiError(403, "forbidden"), wantStatus: 403, wantRequests: 1},
		{name: "NotFoundProvesNothingApplied", handler: apiError(404, "token not found"), wantStatus: 404, wantRequests: 1},
		{name: "RateLimitExhaustedProvesNothingApplied", handler: rateLimited("60"), wantStatus: 429, wantRequests: 1},
		{name: "InternalErrorMayHaveHalfApplied", handler: apiError(500, "boom"), wantUnknown: true, wantStatus: 500, wantRequests: 1},
		{name: "ServiceUnavailableIsNotResent", handler: apiError(503, "down"), wantUnknown: true, wantStatus: 503, wantRequests: 1},
		{name: "GatewayTimeoutIsNotResent", handler: script(apiError(504, "timeout"), apiError(404, "gone")), wantUnknown: true, wantStatus: 504, wantRequests: 1},
		{name: "SuccessWithUnreadableBody", handler: writeJSON(http.StatusOK, `{"workspaceRoles": nope`), wantUnknown: true, wantRequests: 1},
		{name: "NoAnswerBeforeDeadline", handler: hang, policy: RetryPolicy{MaxElapsed: 300 * time.Millisecond}, wantUnknown: true, wantIs: context.DeadlineExceeded, wantRequests: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := newTestServer(t, tt.handler)
			c, _ := newTestClient(t, ts, WithRetryPolicy(tt.policy))

			got, err := c.UpdateTokenRoles(t.Context(), "tok-1", []Role{{EntityType: EntityWorkspace, EntityID: "ws-1", Role: RoleWorkspaceOwner}})

			assert.Equal(t, tt.wantRequests, ts.Requests())
			if !tt.wantUnknown && tt.wantStatus == 0 {
				require.NoError(t, err)
				assert.Equal(t, RoleWorkspaceOwner, got.WorkspaceRole("ws-1"))
				return
			}
			require.Error(t, err)
			var unknown *OutcomeUnknownError
			assert.Equal(t, tt.wantUnknown, IsOutcomeUnknown(err))
			if tt.wantUnknown && assert.ErrorAs(t, err, &unknown) {
				assert.Equal(t, "tok-1", unknown.TokenID)
				assert.Contains(t, err.Error(), "may or may not have been applied")
			}
			var apiErr *Error
			if tt.wantStatus != 0 && assert.ErrorAs(t, err, &apiErr) {
				assert.Equal(t, tt.wantStatus, apiErr.StatusCode)
			}
			if tt.wantIs != nil {
				assert.ErrorIs(t, err, tt.wantIs)
			}
		})
	}
}

func TestUpdateTokenRolesOutcomeOnCancellation(t *testing.T) {
	t.Parallel()
	role := []Role{{EntityType: EntityWorkspace, EntityID: "ws-1", Role: RoleWorkspaceOwner}}
	t.Run("CancelledBeforeSendingIsPlain", func(t *testing.T) {
		t.Parallel()
		ts := newTestServer(t, writeJSON(http.StatusOK, `{}`))
		c, _ := newTestClient(t, ts)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()

		_, err := c.UpdateTokenRoles(ctx, "tok-1", role)

		assert.ErrorIs(t, err, context.Canceled)
		assert.False(t, IsOutcomeUnknown(err))
	})
	t.Run("CancelledWhileWaitingForAnswerIsUnknown", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(t.Context())
		ts := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { cancel(); hang(w, r) }))
		c, _ := newTestClient(t, ts)

		_, err := c.UpdateTokenRoles(ctx, "tok-1", role)

		assert.ErrorIs(t, err, context.Canceled)
		assert.True(t, IsOutcomeUnknown(err))
	})
}

func TestReadsAreNeverOutcomeUnknown(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, apiError(500, "boom"))
	c, _ := newTestClient(t, ts)

	_, err := c.GetToken(t.Context(), "tok-1")

	require.Error(t, err)
	assert.False(t, IsOutcomeUnknown(err))
}

// Workspaces are walked like tokens: one deleted between the two page reads of a 1,001-workspace
// organization slides the last one onto the first page, where the second read misses it.
func TestListWorkspacesStartsOverWhenTheListChanges(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var list []Workspace
	for i := range 1001 {
		list = append(list, Workspace{ID: fmt.Sprintf("ws-%04d", i)})
	}
	reads := 0
	ts := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if reads++; reads == 2 {
			list = append(list[:5:5], list[6:]...) // ws-0005 deleted just before the second read
		}
		offset, _ := strconv.Atoi(r.URL.Query().Get("offset"))
		offset = min(offset, len(list))
		page := WorkspacesPage{Workspaces: list[offset:min(offset+MaxPageSize, len(list))], TotalCount: len(list), Offset: offset, Limit: MaxPageSize}
		body, err := json.Marshal(page)
		assert.NoError(t, err)
		writeJSON(http.StatusOK, string(body))(w, r)
	}))
	c, _ := newTestClient(t, ts)

	got, err := c.ListWorkspaces(t.Context())

	require.NoError(t, err)
	ids := make(map[string]bool, len(got))
	for _, ws := range got {
		ids[ws.ID] = true
	}
	assert.Equal(t, 1000, len(got))
	assert.True(t, ids["ws-1000"], "the last workspace is listed")
	assert.False(t, ids["ws-0005"], "the deleted workspace is not")
	assert.Equal(t, 3, ts.Requests(), "one walk of two pages, then one of one")
}
