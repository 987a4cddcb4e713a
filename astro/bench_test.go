package astro_test

import (
	"testing"

	"github.com/orgtoken/orgtoken-bot/astro"
)

var everyOrganizationToken = astro.ListTokensOptions{IncludeOnlyOrganizationTokens: true, Limit: astro.MaxPageSize}

// BenchmarkListAllTokens1000 is the bot's heaviest Astro read: every Organization token of a
// 1,000-token organization in one page, over a loopback socket, decoded.
func BenchmarkListAllTokens1000(b *testing.B) {
	_, client := seededOrganization(b, 1000) // 950 Organization-scoped
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
	_, client := seededOrganization(b, 1000) // 950 Organization-scoped
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

// BenchmarkListTokensPage25 is what `list` reads: one 25-token page of a workspace.
func BenchmarkListTokensPage25(b *testing.B) {
	_, client := seededOrganization(b, 1000)
	opts := astro.ListTokensOptions{IncludeOnlyOrganizationTokens: true, Offset: 100, Limit: 25, Sorts: []string{"name:asc"}}
	b.ReportAllocs()
	for b.Loop() {
		page, err := client.ListTokens(b.Context(), opts)
		if err != nil {
			b.Fatal(err)
		}
		if len(page.Tokens) != 25 {
			b.Fatalf("got %d tokens", len(page.Tokens))
		}
	}
}

// BenchmarkGetToken is the first read of a change by ID.
func BenchmarkGetToken(b *testing.B) {
	srv, client := seededOrganization(b, 100)
	id := srv.Tokens()[50].ID
	b.ReportAllocs()
	for b.Loop() {
		if _, err := client.GetToken(b.Context(), id); err != nil {
			b.Fatal(err)
		}
	}
}
