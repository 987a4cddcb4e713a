package astro_test

import (
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
	srv, err := astroemu.Start(astroemu.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	srv.SeedLarge(300)
	want := map[string]string{}
	for _, tok := range srv.Tokens() {
		want[tok.ID] = tok.Name
	}
	client := astro.New(srv.OrganizationID(), srv.APIToken(), astro.WithBaseURL(srv.URL()))
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
