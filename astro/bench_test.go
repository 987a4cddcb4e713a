package astro_test

import (
	"testing"

	"github.com/orgtoken/orgtoken-bot/astro"
	"github.com/orgtoken/orgtoken-bot/emulators/astroemu"
)

// BenchmarkListAllTokens1000 is the bot's heaviest Astro read: every Organization token of a
// 1,000-token organization in one page, over a loopback socket, decoded.
func BenchmarkListAllTokens1000(b *testing.B) {
	srv, err := astroemu.Start(astroemu.Options{MaxRecorded: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(srv.Close)
	srv.SeedLarge(1000)
	client := astro.New(srv.OrganizationID(), srv.APIToken(), astro.WithBaseURL(srv.URL()))
	opts := astro.ListTokensOptions{IncludeOnlyOrganizationTokens: true, Limit: astro.MaxPageSize}
	b.ReportAllocs()
	for b.Loop() {
		toks, err := client.ListAllTokens(b.Context(), opts)
		if err != nil {
			b.Fatal(err)
		}
		if len(toks) != 950 { // SeedLarge makes every 20th token Workspace-scoped
			b.Fatalf("got %d tokens", len(toks))
		}
	}
}

// BenchmarkListTokenSummaries1000 is the same read as BenchmarkListAllTokens1000 decoded as
// lookups by name decode it.
func BenchmarkListTokenSummaries1000(b *testing.B) {
	srv, err := astroemu.Start(astroemu.Options{MaxRecorded: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(srv.Close)
	srv.SeedLarge(1000)
	client := astro.New(srv.OrganizationID(), srv.APIToken(), astro.WithBaseURL(srv.URL()))
	opts := astro.ListTokensOptions{IncludeOnlyOrganizationTokens: true, Limit: astro.MaxPageSize}
	b.ReportAllocs()
	for b.Loop() {
		toks, err := client.ListTokenSummaries(b.Context(), opts)
		if err != nil {
			b.Fatal(err)
		}
		if len(toks) != 950 {
			b.Fatalf("got %d tokens", len(toks))
		}
	}
}
