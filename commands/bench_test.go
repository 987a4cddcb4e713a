package commands_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/orgtoken/orgtoken-bot/astro"
	"github.com/orgtoken/orgtoken-bot/commands"
	"github.com/orgtoken/orgtoken-bot/policy"
	"github.com/orgtoken/orgtoken-bot/reply/blockkit"
)

// memTokens serves a fixed token list from memory, for benchmarks without HTTP. Pages come in
// the list's own order.
type memTokens struct{ tokens []astro.Token }

func (m memTokens) ListTokens(_ context.Context, opts astro.ListTokensOptions) (*astro.TokensPage, error) {
	start := min(opts.Offset, len(m.tokens))
	end := min(start+opts.Limit, len(m.tokens))
	return &astro.TokensPage{Tokens: append([]astro.Token(nil), m.tokens[start:end]...), TotalCount: len(m.tokens), Offset: start, Limit: opts.Limit}, nil
}

func (m memTokens) GetToken(context.Context, string) (*astro.Token, error) { return nil, errBroken }
func (m memTokens) ListAllTokens(context.Context, astro.ListTokensOptions) ([]astro.Token, error) {
	return append([]astro.Token(nil), m.tokens...), nil
}
func (m memTokens) ListTokenSummaries(context.Context, astro.ListTokensOptions) ([]astro.TokenSummary, error) {
	sums := make([]astro.TokenSummary, len(m.tokens))
	for i := range m.tokens {
		sums[i] = astro.SummaryOf(m.tokens[i])
	}
	return sums, nil
}
func (m memTokens) UpdateTokenRoles(context.Context, string, []astro.Role) (*astro.SubjectRoles, error) {
	return nil, errBroken
}

// BenchmarkRenderList2000 builds and renders the first page of a 2,000-token workspace list.
func BenchmarkRenderList2000(b *testing.B) {
	toks := make([]astro.Token, 2000)
	for i := range toks {
		toks[i] = astro.Token{
			ID: fmt.Sprintf("cltk%021d", i), Name: fmt.Sprintf("team-%03d-token-%04d", i%97, i),
			Description: "A generated token with a reasonably long description for benchmarking", Type: astro.ScopeOrganization,
			CreatedAt: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), CreatedBy: &astro.Profile{FullName: "Bench User"},
			Roles: []astro.Role{{EntityType: astro.EntityWorkspace, EntityID: "ws1", Role: astro.RoleWorkspaceMember}},
		}
	}
	svc, err := commands.New(commands.Config{
		Tokens: memTokens{toks}, DefaultWorkspace: "ws1",
		Authorizer: commands.AuthorizerFunc(func(context.Context, policy.Input) (policy.Decision, error) {
			return policy.Decision{Allowed: true}, nil
		}),
	})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		r := svc.Run(b.Context(), commands.Request{UserID: "U1", Text: "list"})
		blocks, _ := blockkit.Render(r)
		if len(blocks) < 25 {
			b.Fatalf("got %d blocks", len(blocks))
		}
	}
}
