package commands

import (
	"context"
	"errors"

	"github.com/orgtoken/orgtoken-bot/astro"
)

// unusedTokens fails every call: parsing must not reach Astro.
type unusedTokens struct{}

var errUnused = errors.New("unexpected call to Astro")

func (unusedTokens) GetToken(context.Context, string) (*astro.Token, error) { return nil, errUnused }
func (unusedTokens) ListTokens(context.Context, astro.ListTokensOptions) (*astro.TokensPage, error) {
	return nil, errUnused
}
func (unusedTokens) ListAllTokens(context.Context, astro.ListTokensOptions) ([]astro.Token, error) {
	return nil, errUnused
}
func (unusedTokens) ListTokenSummaries(context.Context, astro.ListTokensOptions) ([]astro.TokenSummary, error) {
	return nil, errUnused
}
func (unusedTokens) UpdateTokenRoles(context.Context, string, []astro.Role) (*astro.SubjectRoles, error) {
	return nil, errUnused
}
