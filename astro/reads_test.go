package astro_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/astro"
	"github.com/orgtoken/orgtoken-bot/emulators/astroemu"
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

// Each token of a page gets room for the roles the last page's tokens held on average; a token
// with more, or with none, must come out exactly as Astro sent it, whichever page it is on.
func TestRolesBeyondTheRoomMadeForThemAreKept(t *testing.T) {
	t.Parallel()
	srv, err := astroemu.Start(astroemu.Options{})
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	client := astro.New(srv.OrganizationID(), srv.APIToken(), astro.WithBaseURL(srv.URL()))
	want := map[string][]astro.Role{}
	roleCounts := []int{1, 0, 7, 2, 1, 12, 1, 3}
	for i, n := range roleCounts {
		roles := []astroemu.Role{{EntityType: astroemu.EntityOrganization, EntityID: srv.OrganizationID(), Role: "ORGANIZATION_MEMBER"}}
		for w := 1; w < n; w++ {
			roles = append(roles, astroemu.Role{EntityType: astroemu.EntityWorkspace, EntityID: fmt.Sprintf("clws%02d", w), Role: astro.RoleWorkspaceAuthor})
		}
		if n == 0 {
			roles = nil
		}
		tok := srv.AddToken(astroemu.Token{Name: fmt.Sprintf("token-%d", i), Roles: roles})
		want[tok.ID] = nil
		for _, r := range roles {
			want[tok.ID] = append(want[tok.ID], astro.Role{EntityType: r.EntityType, EntityID: r.EntityID, Role: r.Role})
		}
	}
	for range 3 { // the first read makes room for two roles a token, later ones for what it saw
		for _, limit := range []int{3, astro.MaxPageSize} {
			toks, err := client.ListAllTokens(t.Context(), astro.ListTokensOptions{Limit: limit})
			require.NoError(t, err)
			require.Len(t, toks, len(roleCounts))
			for _, tok := range toks {
				assert.Equal(t, want[tok.ID], tok.Roles, tok.ID)
				assert.Equal(t, len(tok.Roles), cap(tok.Roles), "no room kept beyond the token's roles: %s", tok.ID)
			}
			for i := range toks[:len(toks)-1] {
				next := slices.Clone(toks[i+1].Roles)
				toks[i].Roles = append(toks[i].Roles, astro.Role{EntityType: astro.EntityWorkspace, EntityID: "clwsnew", Role: astro.RoleWorkspaceOwner})
				assert.Equal(t, next, toks[i+1].Roles, "appending to one token's roles must not overwrite the next token's")
			}
		}
		for id, roles := range want {
			tok, err := client.GetToken(t.Context(), id)
			require.NoError(t, err)
			assert.Equal(t, roles, tok.Roles, id)
		}
	}
}
