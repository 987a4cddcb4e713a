package astro_test

import (
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/astro"
)

// Answers are read into recycled buffers; a decoded token must never change when a buffer is
// reused for another answer.
func TestConcurrentReadsKeepTheirOwnTokens(t *testing.T) {
	t.Parallel()
	srv, client := seededOrganization(t, 300)
	want := map[string]string{}
	for _, tok := range srv.Tokens() {
		want[tok.ID] = tok.Name
	}
	var kept [][]astro.Token
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 4 {
				toks, err := client.ListAllTokens(t.Context(), astro.ListTokensOptions{Limit: astro.MaxPageSize})
				if !assert.NoError(t, err) {
					return
				}
				one, err := client.GetToken(t.Context(), toks[len(toks)/2].ID)
				if !assert.NoError(t, err) {
					return
				}
				mu.Lock()
				kept = append(kept, toks, []astro.Token{*one})
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for _, toks := range kept {
		for _, tok := range toks {
			require.Equal(t, want[tok.ID], tok.Name, "token %s", tok.ID)
		}
	}
}

// A page's role lists share one array sized for them all; each token's list must still be its
// own: exactly its roles, and appending to one (as a role change does) leaves the next alone.
func TestAPagesRoleListsAreEachTokensOwn(t *testing.T) {
	t.Parallel()
	srv, client := seededOrganization(t, 50)
	want := map[string][]astro.Role{}
	for _, tok := range srv.Tokens() {
		for _, r := range tok.Roles {
			want[tok.ID] = append(want[tok.ID], astro.Role{EntityType: r.EntityType, EntityID: r.EntityID, Role: r.Role, DeploymentID: r.DeploymentID})
		}
	}
	toks, err := client.ListAllTokens(t.Context(), astro.ListTokensOptions{Limit: astro.MaxPageSize})
	require.NoError(t, err)
	require.Len(t, toks, 50)
	for _, tok := range toks {
		assert.Equal(t, want[tok.ID], tok.Roles, tok.ID)
		assert.Equal(t, len(tok.Roles), cap(tok.Roles), "no room kept beyond the token's roles: %s", tok.ID)
	}
	next := slices.Clone(toks[1].Roles)
	toks[0].Roles = append(toks[0].Roles, astro.Role{EntityType: astro.EntityWorkspace, EntityID: "clwsnew", Role: astro.RoleWorkspaceOwner})
	assert.Equal(t, next, toks[1].Roles, "appending to one token's roles must not overwrite the next token's")
}

// A large page shares one Profile per creator or updater among its tokens, and each token still
// names the right person.
func TestALargePageSharesItsProfiles(t *testing.T) {
	t.Parallel()
	srv, client := seededOrganization(t, 300) // 40 creators, each token updated by its creator
	want := map[string]string{}
	for _, tok := range srv.Tokens() {
		want[tok.ID] = tok.CreatedBy.FullName
	}
	toks, err := client.ListAllTokens(t.Context(), astro.ListTokensOptions{Limit: astro.MaxPageSize})
	require.NoError(t, err)
	require.Len(t, toks, 300)

	profiles := map[*astro.Profile]bool{}
	for _, tok := range toks {
		require.NotNil(t, tok.CreatedBy, tok.ID)
		assert.Equal(t, want[tok.ID], tok.CreatedBy.DisplayName(), tok.ID)
		assert.Same(t, tok.CreatedBy, tok.UpdatedBy, "creator and updater are one person here: %s", tok.ID)
		profiles[tok.CreatedBy] = true
	}
	assert.Len(t, profiles, 40, "one Profile per person, not one per token")
}
