package astro_test

import (
	"testing"

	"github.com/orgtoken/orgtoken-bot/astro"
	"github.com/orgtoken/orgtoken-bot/emulators/astroemu"
)

// largeOrganization serves a 1,000-token organization (950 of them Organization-scoped:
// SeedLarge makes every 20th token Workspace-scoped) on loopback, and a client for it.
func largeOrganization(b *testing.B) *astro.Client {
	srv, err := astroemu.Start(astroemu.Options{MaxRecorded: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(srv.Close)
	srv.SeedLarge(1000)
	return astro.New(srv.OrganizationID(), srv.APIToken(), astro.WithBaseURL(srv.URL()))
}

var everyOrganizationToken = astro.ListTokensOptions{IncludeOnlyOrganizationTokens: true, Limit: astro.MaxPageSize}

// BenchmarkListAllTokens1000 is the bot's heaviest Astro read: every Organization token of a
// 1,000-token organization in one page, over a loopback socket, decoded.
func BenchmarkListAllTokens1000(b *testing.B) {
	client := largeOrganization(b)
	b.ReportAllocs()
	for b.Loop() {
		toks, err := client.ListAllTokens(b.Context(), everyOrganizationToken)
		if err != nil {
			b.Fatal(err)
		}
		if len(toks) != 950 {
			b.Fatalf("got %d tokens", len(toks))
		}
	}
}

// BenchmarkListTokenSummaries1000 is the same read decoded as lookups by name decode it.
func BenchmarkListTokenSummaries1000(b *testing.B) {
	client := largeOrganization(b)
	b.ReportAllocs()
	for b.Loop() {
		toks, err := client.ListTokenSummaries(b.Context(), everyOrganizationToken)
		if err != nil {
			b.Fatal(err)
		}
		if len(toks) != 950 {
			b.Fatalf("got %d tokens", len(toks))
		}
	}
}
