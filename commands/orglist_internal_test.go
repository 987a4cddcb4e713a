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

// organizationTokens answers ListAllTokens with a freshly decoded-like organization each time.
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

// TestACompletedReadKeepsOnlyNamesBetweenReads: once its callers are done with it, a whole
// organization's decoded tokens must be free to collect, yet the names it taught stay known.
// Kept whole, it stayed live (and, with the GC's headroom, twice its size in memory) until the
// next read completed.
func TestACompletedReadKeepsOnlyNamesBetweenReads(t *testing.T) {
	l := &orgTokenList{tokens: organizationTokens{n: 1000}, locker: NewKeyedLocker()}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	toks, _, err := l.get(ctx, "")
	require.NoError(t, err)
	require.Len(t, toks, 1000)
	read := weak.Make(&toks[0])
	toks = nil
	_ = toks

	collected := false
	for range 10 {
		runtime.GC()
		if read.Value() == nil {
			collected = true
			break
		}
	}
	assert.True(t, collected, "the decoded organization is still reachable after its callers are done")

	l.mu.Lock()
	id, stale := l.knownLocked("token-7", 0)
	l.mu.Unlock()
	assert.Equal(t, fmt.Sprintf("cltk%021d", 7), id, "the read still maps names to tokens")
	assert.False(t, stale)
}
