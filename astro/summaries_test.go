package astro_test

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/astro"
	"github.com/orgtoken/orgtoken-bot/emulators/astroemu"
)

// A change by name picks its token from summaries and writes its roles back whole, so a
// summary must give exactly what a full read gives for every field it carries.
func TestSummariesAgreeWithFullTokens(t *testing.T) {
	t.Parallel()
	srv, client := seededOrganization(t, 1200) // two pages
	opts := astro.ListTokensOptions{Limit: astro.MaxPageSize}

	full, err := client.ListAllTokens(t.Context(), opts)
	require.NoError(t, err)
	before := srv.CountRequests(astroemu.EndpointListTokens)
	sums, err := client.ListTokenSummaries(t.Context(), opts)
	require.NoError(t, err)
	assert.Equal(t, 2, srv.CountRequests(astroemu.EndpointListTokens)-before, "1,200 tokens are two pages")

	require.Len(t, sums, len(full))
	for i, want := range full {
		got, err := sums[i].Token()
		require.NoError(t, err, want.ID)
		assert.Equal(t, want.ID, got.ID)
		assert.Equal(t, want.Name, got.Name, want.ID)
		assert.Equal(t, want.Type, got.Type, want.ID)
		assert.True(t, want.CreatedAt.Equal(got.CreatedAt), want.ID)
		assert.Equal(t, want.CreatedBy, got.CreatedBy, want.ID)
		assert.Equal(t, want.Roles, got.Roles, want.ID)
		assert.Empty(t, got.Description, "only summarised fields are set")
	}
}

// Each decoded token is its own: changing one's roles (as a change does before writing)
// leaves the summary and the next decode alone.
func TestATokenFromASummaryIsItsOwn(t *testing.T) {
	t.Parallel()
	s := astro.SummaryOf(astro.Token{ID: "tok-1", Name: "etl", Type: astro.ScopeOrganization,
		CreatedBy: &astro.Profile{ID: "u1", FullName: "Ada"},
		Roles:     []astro.Role{{EntityType: astro.EntityOrganization, EntityID: "org", Role: "ORGANIZATION_MEMBER"}}})
	a, err := s.Token()
	require.NoError(t, err)
	a.Roles = astro.WithWorkspaceRole(a.Roles, "ws-1", astro.RoleWorkspaceOwner)
	a.CreatedBy.FullName = "changed"
	b, err := s.Token()
	require.NoError(t, err)
	assert.Len(t, b.Roles, 1)
	assert.Equal(t, "Ada", b.CreatedBy.FullName)
	assert.Equal(t, "Ada", s.CreatedBy().DisplayName())
}

// A v1 answer names the scope "scope"; an answer whose roles this client cannot read fails
// only the token a command picks, and says which.
func TestSummariesReadV1ScopesAndReportUnreadableRoles(t *testing.T) {
	t.Parallel()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"totalCount": 2, "offset": 0, "limit": 1000, "tokens": [
		  {"id": "tok-1", "name": "a", "scope": "ORGANIZATION", "createdAt": "2024-05-01T10:00:00Z",
		   "roles": [{"entityType": "ORGANIZATION", "entityId": "org", "role": "ORGANIZATION_MEMBER"}]},
		  {"id": "tok-2", "name": "b", "type": "WORKSPACE", "createdAt": "2024-05-02T10:00:00Z", "roles": "not a list"}]}`))
	}))
	t.Cleanup(ts.Close)
	client := astro.New("org", "secret", astro.WithBaseURL(ts.URL))

	sums, err := client.ListTokenSummaries(t.Context(), astro.ListTokensOptions{})
	require.NoError(t, err, "one token's roles do not fail the whole list")
	require.Len(t, sums, 2)
	assert.Equal(t, astro.ScopeOrganization, sums[0].Type)
	assert.Equal(t, time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC), sums[0].CreatedAt.UTC())
	assert.Nil(t, sums[0].CreatedBy())
	tok, err := sums[0].Token()
	require.NoError(t, err)
	assert.Equal(t, "ORGANIZATION_MEMBER", tok.Roles[0].Role)

	_, err = sums[1].Token()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "tok-2")
}

// Summaries are views of their answer's buffer, so that buffer must be theirs alone: raw roles
// and creators still right after other answers (read into recycled buffers) have come in.
func TestConcurrentSummariesKeepTheirOwnRawJSON(t *testing.T) {
	t.Parallel()
	srv, client := seededOrganization(t, 200)
	want := map[string]int{}
	creators := map[string]string{}
	for _, tok := range srv.Tokens() {
		want[tok.ID] = len(tok.Roles)
		creators[tok.ID] = tok.CreatedBy.FullName
	}
	var mu sync.Mutex
	var kept [][]astro.TokenSummary
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			for range 3 {
				sums, err := client.ListTokenSummaries(t.Context(), astro.ListTokensOptions{Limit: 20}) // pages of ≈ 20 KB, pooled buffers
				if !assert.NoError(t, err) {
					return
				}
				mu.Lock()
				kept = append(kept, sums)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.NotEmpty(t, kept)
	for _, sums := range kept {
		require.Len(t, sums, 200)
		for _, s := range sums {
			tok, err := s.Token()
			require.NoError(t, err, s.ID)
			require.Len(t, tok.Roles, want[s.ID], s.ID)
			require.Equal(t, creators[s.ID], s.CreatedBy().DisplayName(), s.ID)
		}
	}
}

// Summaries are decoded as views of the answer, except where JSON escapes must be undone: a
// name with quotes, backslashes, markup and non-ASCII reads as it was written. An answer with
// anything after its JSON value is malformed, as encoding/json has it, and not retried.
func TestSummariesUndoEscapesAndRefuseTrailingData(t *testing.T) {
	t.Parallel()
	var requests atomic.Int32
	trailing := atomic.Bool{}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Header().Set("Content-Type", "application/json")
		body := `{"totalCount": 2, "tokens": [
		  {"id": "tok-1", "name": "deploy \"main\" \\ \u003c!channel\u003e \u0026 caf\u00e9", "type": "ORGANIZATION", "createdAt": "2024-05-01T10:00:00Z", "roles": []},
		  {"id": "tok-2", "name": "plain", "type": "ORGANIZATION", "createdAt": "2024-05-02T10:00:00Z", "roles": []}]}`
		if trailing.Load() {
			body += ` {"tokens": []}`
		}
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(ts.Close)
	client := astro.New("org", "secret", astro.WithBaseURL(ts.URL))

	sums, err := client.ListTokenSummaries(t.Context(), astro.ListTokensOptions{})
	require.NoError(t, err)
	require.Len(t, sums, 2)
	assert.Equal(t, `deploy "main" \ <!channel> & café`, sums[0].Name)
	assert.Equal(t, "plain", sums[1].Name)

	trailing.Store(true)
	before := requests.Load()
	_, err = client.ListTokenSummaries(t.Context(), astro.ListTokensOptions{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "after top-level value")
	assert.Equal(t, before+1, requests.Load(), "a malformed answer will be malformed again")
}
