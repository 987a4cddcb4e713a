package astro_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/astro"
	"github.com/orgtoken/orgtoken-bot/emulators/astroemu"
)

// walkTokens runs one of the two full walks the bot looks names up with and returns the IDs
// and names it listed, in order.
type walkTokens func(ctx context.Context, c *astro.Client, opts astro.ListTokensOptions) (ids, names []string, err error)

var fullWalks = map[string]walkTokens{
	"ListAllTokens": func(ctx context.Context, c *astro.Client, opts astro.ListTokensOptions) (ids, names []string, err error) {
		toks, err := c.ListAllTokens(ctx, opts)
		for _, t := range toks {
			ids, names = append(ids, t.ID), append(names, t.Name)
		}
		return ids, names, err
	},
	"ListTokenSummaries": func(ctx context.Context, c *astro.Client, opts astro.ListTokensOptions) (ids, names []string, err error) {
		toks, err := c.ListTokenSummaries(ctx, opts)
		for _, t := range toks {
			ids, names = append(ids, t.ID), append(names, t.Name)
		}
		return ids, names, err
	},
}

// namedIDs is the IDs listed under name.
func namedIDs(ids, names []string, name string) []string {
	var out []string
	for i := range ids {
		if names[i] == name {
			out = append(out, ids[i])
		}
	}
	return out
}

// A token deleted while an organization is read page by page shifts every later token one
// place up: the second page, read at offset 1000, starts one token late. The token that slid
// onto the first page was skipped, and with it the second holder of a shared name, so the bot
// would have taken an ambiguous name for a unique one (or said "not found").
func TestFullWalksMissNoTokenWhenTheListChangesBetweenPages(t *testing.T) {
	t.Parallel()
	deleted := func(srv *astroemu.Server, victim string) { srv.RemoveToken(victim) }
	tests := []struct {
		name   string
		n      int
		change func(srv *astroemu.Server, victim string)
	}{
		// 1,200 tokens: the second page is read one token early, and starts with the wrong one.
		{name: "Deleted", n: 1200, change: deleted},
		// 2,000 tokens: the second page is read on time (early would cost a third request);
		// the total tells.
		{name: "DeletedFromTwoFullPages", n: 2000, change: deleted},
		// Deleted and another created, at the end (the default order is creation time): the
		// total is the same before and after, so only the page boundary tells.
		{name: "DeletedAndAnotherCreated", n: 1200, change: func(srv *astroemu.Server, victim string) {
			srv.RemoveToken(victim)
			srv.AddToken(astroemu.Token{Name: "created-during-the-walk"})
		}},
	}
	for _, tt := range tests {
		for walk, list := range fullWalks {
			t.Run(tt.name+"/"+walk, func(t *testing.T) {
				t.Parallel()
				srv, c := seededOrganization(t, tt.n)
				toks := srv.Tokens()
				shared := toks[1000] // the first token of the second page, until one before it goes
				twin := toks[10]
				twin.Name = shared.Name
				srv.AddToken(twin)
				victim := toks[5].ID
				srv.ScriptFaults(astroemu.EndpointListTokens, astroemu.Fault{}, astroemu.Fault{Before: func() { tt.change(srv, victim) }})

				ids, names, err := list(t.Context(), c, astro.ListTokensOptions{Limit: astro.MaxPageSize})

				require.NoError(t, err)
				assert.ElementsMatch(t, []string{twin.ID, shared.ID}, namedIDs(ids, names, shared.Name), "both tokens named %q", shared.Name)
				assert.False(t, slices.Contains(ids, victim), "the deleted token is gone")
				assert.Equal(t, len(srv.Tokens()), len(ids), "every token, once")
				assert.Equal(t, len(ids), len(uniq(ids)), "no token twice")
			})
		}
	}
}

// A token created during the walk that sorts ahead of the page already read pushes the list
// one place down: the next page repeats a token and the new one is never seen, though someone
// may have just created it to ask the bot about it.
func TestFullWalksListATokenCreatedBetweenPagesOnce(t *testing.T) {
	t.Parallel()
	for walk, list := range fullWalks {
		t.Run(walk, func(t *testing.T) {
			t.Parallel()
			srv, c := seededOrganization(t, 1200)
			var created astroemu.Token
			srv.ScriptFaults(astroemu.EndpointListTokens, astroemu.Fault{}, astroemu.Fault{Before: func() {
				created = srv.AddToken(astroemu.Token{Name: "000-first-by-name"})
			}})

			ids, _, err := list(t.Context(), c, astro.ListTokensOptions{Limit: astro.MaxPageSize, Sorts: []string{"name:asc"}})

			require.NoError(t, err)
			assert.True(t, slices.Contains(ids, created.ID), "the new token is listed")
			assert.Equal(t, 1201, len(ids))
			assert.Equal(t, len(ids), len(uniq(ids)), "no token twice")
		})
	}
}

// An organization that changes under every page read is not listed forever, nor half: the walk
// gives up after a few tries with an error that says why.
func TestFullWalksGiveUpWhenTheOrganizationKeepsChanging(t *testing.T) {
	t.Parallel()
	for walk, list := range fullWalks {
		t.Run(walk, func(t *testing.T) {
			t.Parallel()
			srv, c := seededOrganization(t, 1200)
			toks := srv.Tokens()
			faults := make([]astroemu.Fault, 50)
			for i := range faults {
				victim := toks[i].ID
				faults[i].Before = func() { srv.RemoveToken(victim) }
			}
			srv.ScriptFaults(astroemu.EndpointListTokens, faults...)

			ids, _, err := list(t.Context(), c, astro.ListTokensOptions{Limit: astro.MaxPageSize})

			require.Error(t, err)
			assert.True(t, errors.Is(err, astro.ErrListKeptChanging), "%v", err)
			assert.Zero(t, len(ids), "a partial list would look complete")
			assert.LessOrEqual(t, srv.CountRequests(astroemu.EndpointListTokens), 6, "a bounded number of walks")
		})
	}
}

func uniq(ids []string) map[string]bool {
	m := make(map[string]bool, len(ids))
	for _, id := range ids {
		m[id] = true
	}
	return m
}
