package commands

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"
	"weak"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/astro"
)

// organizationTokens answers ListAllTokens and ListTokenSummaries with a freshly decoded-like
// organization each time.
type organizationTokens struct {
	unusedTokens
	n int
}

func (o organizationTokens) ListAllTokens(context.Context, astro.ListTokensOptions) ([]astro.Token, error) {
	toks := make([]astro.Token, o.n)
	for i := range toks {
		toks[i] = astro.Token{
			ID: fmt.Sprintf("cltk%021d", i), Name: fmt.Sprintf("token-%d", i), Description: "a description",
			CreatedBy: &astro.Profile{ID: "clusr", FullName: "Someone"},
			Roles:     []astro.Role{{EntityType: astro.EntityOrganization, EntityID: "org", Role: "ORGANIZATION_MEMBER"}},
		}
	}
	return toks, nil
}

func (o organizationTokens) ListTokenSummaries(ctx context.Context, opts astro.ListTokensOptions) ([]astro.TokenSummary, error) {
	toks, _ := o.ListAllTokens(ctx, opts)
	sums := make([]astro.TokenSummary, len(toks))
	for i := range toks {
		sums[i] = astro.SummaryOf(toks[i])
	}
	return sums, nil
}

// TestACompletedReadKeepsOnlyNamesBetweenReads: once its callers are done with it, a whole
// organization's token summaries must be free to collect, yet the names it taught stay known.
// Kept whole, it stayed live (and, with the GC's headroom, twice its size in memory) until the
// next read completed.
func TestACompletedReadKeepsOnlyNamesBetweenReads(t *testing.T) {
	l := &orgTokenList{tokens: organizationTokens{n: 1000}, locker: NewKeyedLocker()}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	read := func() weak.Pointer[astro.TokenSummary] {
		toks, _, err := l.get(ctx, "")
		require.NoError(t, err)
		require.Len(t, toks, 1000)
		return weak.Make(&toks[0])
	}()
	assert.True(t, collectedSoon(read), "the decoded organization is still reachable after its callers are done")

	l.mu.Lock()
	id, stale := l.knownLocked("token-7", 0)
	l.mu.Unlock()
	assert.Equal(t, fmt.Sprintf("cltk%021d", 7), id, "the read still maps names to tokens")
	assert.False(t, stale)
}

// TestTheCatalogDoesNotPinDecodedTokens: the catalog lives as long as the bot, so what it keeps
// of a refresh must not hold on to the decoded tokens or their role arrays.
func TestTheCatalogDoesNotPinDecodedTokens(t *testing.T) {
	src := &catalogOf{organizationTokens: organizationTokens{n: 100}}
	c := NewCatalog(src, nil)
	require.NoError(t, c.Refresh(context.Background()))
	require.NotNil(t, src.roles)
	roles := weak.Make(src.roles)
	src.roles = nil
	assert.True(t, collectedSoon(roles), "a decoded role list is still reachable from the catalog")
	assert.Equal(t, "WORKSPACE_MEMBER", c.CurrentRole(fmt.Sprintf("cltk%021d", 3), "ws-1"), "the catalog still knows each token's workspace roles")
}

// catalogOf serves a catalog refresh and remembers the first token's decoded roles.
type catalogOf struct {
	organizationTokens
	roles *astro.Role
}

func (c *catalogOf) ListAllTokens(ctx context.Context, opts astro.ListTokensOptions) ([]astro.Token, error) {
	toks, err := c.organizationTokens.ListAllTokens(ctx, opts)
	for i := range toks {
		roles := make([]astro.Role, 2, 10) // as the JSON decoder sizes it
		roles[0] = toks[i].Roles[0]
		roles[1] = astro.Role{EntityType: astro.EntityWorkspace, EntityID: "ws-1", Role: "WORKSPACE_MEMBER"}
		toks[i].Roles = roles
	}
	c.roles = &toks[0].Roles[0]
	return toks, err
}

func (c *catalogOf) ListWorkspaces(context.Context) ([]astro.Workspace, error) {
	return []astro.Workspace{{ID: "ws-1", Name: "One"}}, nil
}

// collectedSoon reports whether what p points to is garbage collected within a few cycles.
func collectedSoon[T any](p weak.Pointer[T]) bool {
	for range 10 {
		runtime.GC()
		if p.Value() == nil {
			return true
		}
	}
	return false
}
