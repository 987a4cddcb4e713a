package commands_test

import (
	"context"
	"errors"
	"regexp"

	"github.com/orgtoken/orgtoken-bot/astro"
)

var regexpRef = regexp.MustCompile(`ref ([0-9a-f]{6})`)

// brokenTokens fails like a network outage that is not an API answer.
type brokenTokens struct{}

var errBroken = errors.New("dial tcp: connection refused")

func (brokenTokens) GetToken(context.Context, string) (*astro.Token, error) { return nil, errBroken }
func (brokenTokens) ListTokens(context.Context, astro.ListTokensOptions) (*astro.TokensPage, error) {
	return nil, errBroken
}
func (brokenTokens) ListAllTokens(context.Context, astro.ListTokensOptions) ([]astro.Token, error) {
	return nil, errBroken
}
func (brokenTokens) ListTokenSummaries(context.Context, astro.ListTokensOptions) ([]astro.TokenSummary, error) {
	return nil, errBroken
}
func (brokenTokens) UpdateTokenRoles(context.Context, string, []astro.Role) (*astro.SubjectRoles, error) {
	return nil, errBroken
}

var requestIDs = regexp.MustCompile(`emu-[0-9]{12}`)
