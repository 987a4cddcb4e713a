package astro_test

import (
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/astro"
	"github.com/orgtoken/orgtoken-bot/emulators/astroemu"
	"github.com/orgtoken/orgtoken-bot/emulators/astroemu/contract"
)

const contractAPIToken = "astro-contract-test-token"

// fastRetries keeps real waits tiny: this package cannot swap the client's clock.
var fastRetries = astro.WithRetryPolicy(astro.RetryPolicy{BaseBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond})

// newContractEmulator starts the emulator behind the published-contract validator and fails the
// test if any request the client sent, or any answer it got, breaks the contract.
func newContractEmulator(t *testing.T) (*astroemu.Server, *astro.Client) {
	t.Helper()
	validator, err := contract.New()
	require.NoError(t, err)
	var mu sync.Mutex
	var violations []error
	emu := astroemu.New(astroemu.Options{
		APIToken: contractAPIToken,
		Middleware: func(next http.Handler) http.Handler {
			return validator.Middleware(next, func(err error) {
				mu.Lock()
				defer mu.Unlock()
				violations = append(violations, err)
			})
		},
	})
	t.Cleanup(func() {
		emu.Close()
		mu.Lock()
		defer mu.Unlock()
		assert.Empty(t, violations, "contract violations")
	})
	return emu, astro.New(emu.OrganizationID(), contractAPIToken, astro.WithBaseURL(emu.URL()), fastRetries)
}

func tokenIDs(tokens []astro.Token) []string {
	ids := make([]string, 0, len(tokens))
	for _, t := range tokens {
		ids = append(ids, t.ID)
	}
	return ids
}

func TestContractListTokens(t *testing.T) {
	t.Parallel()
	emu, c := newContractEmulator(t)
	emu.SeedSample()
	all := emu.Tokens()
	tests := []struct {
		name string
		opts astro.ListTokensOptions
		want func(astro.Token) bool
	}{
		{name: "Everything", want: func(astro.Token) bool { return true }},
		{name: "OnlyOrganizationTokens", opts: astro.ListTokensOptions{IncludeOnlyOrganizationTokens: true},
			want: func(t astro.Token) bool { return t.Type == astro.ScopeOrganization }},
		{name: "WithRoleInWorkspace", opts: astro.ListTokensOptions{WorkspaceID: astroemu.SampleWorkspaceAnalytics},
			want: func(t astro.Token) bool {
				return astro.WorkspaceRoleOf(t.Roles, astroemu.SampleWorkspaceAnalytics) != ""
			}},
		{name: "OrganizationTokensInWorkspaceInSmallPages", opts: astro.ListTokensOptions{WorkspaceID: astroemu.SampleWorkspaceDataPlatform, IncludeOnlyOrganizationTokens: true, Limit: 2},
			want: func(t astro.Token) bool {
				return t.Type == astro.ScopeOrganization && astro.WorkspaceRoleOf(t.Roles, astroemu.SampleWorkspaceDataPlatform) != ""
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.ListAllTokens(t.Context(), tt.opts)
			require.NoError(t, err)

			var want []string
			for _, et := range all {
				roles := make([]astro.Role, 0, len(et.Roles))
				for _, r := range et.Roles {
					roles = append(roles, astro.Role{EntityType: r.EntityType, EntityID: r.EntityID, Role: r.Role, DeploymentID: r.DeploymentID})
				}
				if tt.want(astro.Token{Type: et.Type, Roles: roles}) {
					want = append(want, et.ID)
				}
			}
			require.NotEmpty(t, want)
			assert.ElementsMatch(t, want, tokenIDs(got))
		})
	}

	page, err := c.ListTokens(t.Context(), astro.ListTokensOptions{Offset: 3, Limit: 4})
	require.NoError(t, err)
	assert.Len(t, page.Tokens, 4)
	assert.Equal(t, len(all), page.TotalCount)
	assert.Equal(t, 3, page.Offset)
}

// The page list shows: one workspace's Organization tokens by name, 25 at a time.
func TestContractListTokensSortedPage(t *testing.T) {
	t.Parallel()
	emu, c := newContractEmulator(t)
	emu.SeedLarge(60, astroemu.SampleWorkspaceSandbox)
	opts := astro.ListTokensOptions{WorkspaceID: astroemu.SampleWorkspaceSandbox, IncludeOnlyOrganizationTokens: true, Sorts: []string{"name:asc"}, Limit: 1000}
	all, err := c.ListTokens(t.Context(), opts)
	require.NoError(t, err)
	require.Greater(t, all.TotalCount, 25, "enough for two pages")
	var names []string
	for _, tok := range all.Tokens {
		assert.Equal(t, astro.ScopeOrganization, tok.Type)
		names = append(names, tok.Name)
	}
	assert.True(t, slices.IsSorted(names), "sorted by name: %v", names)
	emu.ResetRequests()

	opts.Offset, opts.Limit = 25, 25
	page, err := c.ListTokens(t.Context(), opts)

	require.NoError(t, err)
	assert.Equal(t, all.TotalCount, page.TotalCount)
	assert.Equal(t, tokenIDs(all.Tokens[25:min(50, len(all.Tokens))]), tokenIDs(page.Tokens), "the second page of the same order")
	assert.Equal(t, 1, emu.CountRequests(astroemu.EndpointListTokens))
}

func TestContractListAllTokensCostsThreeRequestsFor2500(t *testing.T) {
	t.Parallel()
	emu, c := newContractEmulator(t)
	emu.SeedLarge(2500)
	emu.ResetRequests()

	got, err := c.ListAllTokens(t.Context(), astro.ListTokensOptions{})

	require.NoError(t, err)
	assert.Len(t, got, 2500)
	assert.Equal(t, 3, emu.CountRequests(astroemu.EndpointListTokens))
}

func TestContractFindGetAndWorkspaces(t *testing.T) {
	t.Parallel()
	emu, c := newContractEmulator(t)
	emu.SeedSample()

	dupes, err := c.FindTokensByName(t.Context(), "ci-token", astro.ListTokensOptions{})
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{astroemu.SampleTokenCIFirst, astroemu.SampleTokenCISecond}, tokenIDs(dupes))

	for _, et := range emu.Tokens() {
		tok, err := c.GetToken(t.Context(), et.ID)
		require.NoError(t, err, et.ID)
		assert.Equal(t, et.Name, tok.Name)
		assert.Equal(t, et.Type, tok.Type)
		assert.Len(t, tok.Roles, len(et.Roles))
	}

	workspaces, err := c.ListWorkspaces(t.Context())
	require.NoError(t, err)
	var names []string
	for _, ws := range workspaces {
		names = append(names, ws.Name)
	}
	assert.ElementsMatch(t, []string{"Data Platform", "Analytics", "ML Ops", "Sandbox"}, names)
}

func TestContractUpdateRolesKeepsEveryOtherRole(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		tokenID string
		ws      string
		newRole string
	}{
		{name: "AddWorkspace", tokenID: astroemu.SampleTokenCIDeployer, ws: astroemu.SampleWorkspaceSandbox, newRole: astro.RoleWorkspaceMember},
		{name: "UpdateWorkspace", tokenID: astroemu.SampleTokenCIDeployer, ws: astroemu.SampleWorkspaceAnalytics, newRole: astro.RoleWorkspaceOwner},
		{name: "RemoveWorkspace", tokenID: astroemu.SampleTokenCIDeployer, ws: astroemu.SampleWorkspaceDataPlatform, newRole: ""},
		{name: "KeepsDeploymentRole", tokenID: astroemu.SampleTokenMLFeatures, ws: astroemu.SampleWorkspaceMLOps, newRole: astro.RoleWorkspaceAuthor},
		{name: "KeepsDAGRoles", tokenID: astroemu.SampleTokenDAGReporting, ws: astroemu.SampleWorkspaceAnalytics, newRole: astro.RoleWorkspaceMember},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			emu, c := newContractEmulator(t)
			emu.SeedSample()
			before, err := c.GetToken(t.Context(), tt.tokenID)
			require.NoError(t, err)
			want := astro.WithWorkspaceRole(before.Roles, tt.ws, tt.newRole)

			got, err := c.UpdateTokenRoles(t.Context(), tt.tokenID, want)

			require.NoError(t, err)
			assert.Equal(t, tt.newRole, got.WorkspaceRole(tt.ws))
			after, err := c.GetToken(t.Context(), tt.tokenID)
			require.NoError(t, err)
			assert.ElementsMatch(t, want, after.Roles)
		})
	}
}

func TestContractErrorAnswers(t *testing.T) {
	t.Parallel()
	emu, c := newContractEmulator(t)
	emu.SeedSample()

	_, err := c.GetToken(t.Context(), "cltknosuchtoken0000000000")
	assert.True(t, astro.IsNotFound(err), "%v", err)

	_, err = c.UpdateTokenRoles(t.Context(), "cltknosuchtoken0000000000", []astro.Role{{EntityType: astro.EntityOrganization, EntityID: emu.OrganizationID(), Role: "ORGANIZATION_MEMBER"}})
	assert.True(t, astro.IsNotFound(err), "%v", err)
	assert.False(t, astro.IsOutcomeUnknown(err))

	_, err = c.UpdateTokenRoles(t.Context(), astroemu.SampleTokenCIDeployer, []astro.Role{{EntityType: astro.EntityWorkspace, EntityID: astroemu.SampleWorkspaceSandbox, Role: "WORKSPACE_KING"}})
	var apiErr *astro.Error
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusBadRequest, apiErr.StatusCode)
	assert.NotEmpty(t, apiErr.RequestID)
	assert.False(t, astro.IsOutcomeUnknown(err))

	wrongKey := astro.New(emu.OrganizationID(), "not-the-token", astro.WithBaseURL(emu.URL()))
	_, err = wrongKey.ListWorkspaces(t.Context())
	assert.True(t, astro.IsUnauthorized(err), "%v", err)
	assert.NotContains(t, err.Error(), "not-the-token")
}

func TestContractFaults(t *testing.T) {
	t.Parallel()
	t.Run("RetriedGatewayErrorThenSuccess", func(t *testing.T) {
		t.Parallel()
		emu, c := newContractEmulator(t)
		emu.SeedSample()
		emu.ScriptFaults(astroemu.EndpointListWorkspaces, astroemu.Fault{Status: http.StatusServiceUnavailable}, astroemu.Fault{Status: http.StatusBadGateway})
		emu.ResetRequests()

		ws, err := c.ListWorkspaces(t.Context())

		require.NoError(t, err)
		assert.Len(t, ws, 4)
		assert.Equal(t, 3, emu.CountRequests(astroemu.EndpointListWorkspaces))
	})
	t.Run("RateLimitLongerThanDeadlineFailsFast", func(t *testing.T) {
		t.Parallel()
		emu, c := newContractEmulator(t)
		emu.SeedSample()
		emu.ScriptFaults(astroemu.EndpointGetToken, astroemu.Fault{Status: http.StatusTooManyRequests, RetryAfter: 30 * time.Second})
		emu.ResetRequests()

		_, err := c.GetToken(t.Context(), astroemu.SampleTokenCIDeployer)

		wait, limited := astro.IsRateLimited(err)
		assert.True(t, limited, "%v", err)
		assert.Equal(t, 30*time.Second, wait)
		assert.Equal(t, 1, emu.CountRequests(astroemu.EndpointGetToken))
	})
	t.Run("WriteLandedButAnswerLostIsOutcomeUnknown", func(t *testing.T) {
		t.Parallel()
		emu, c := newContractEmulator(t)
		emu.SeedSample()
		before, err := c.GetToken(t.Context(), astroemu.SampleTokenCIDeployer)
		require.NoError(t, err)
		want := astro.WithWorkspaceRole(before.Roles, astroemu.SampleWorkspaceSandbox, astro.RoleWorkspaceOperator)
		emu.ScriptFaults(astroemu.EndpointUpdateRoles, astroemu.Fault{ApplyFirst: true, Status: http.StatusInternalServerError})

		_, err = c.UpdateTokenRoles(t.Context(), astroemu.SampleTokenCIDeployer, want)

		var unknown *astro.OutcomeUnknownError
		require.ErrorAs(t, err, &unknown)
		assert.Equal(t, astroemu.SampleTokenCIDeployer, unknown.TokenID)
		after, err := c.GetToken(t.Context(), astroemu.SampleTokenCIDeployer)
		require.NoError(t, err)
		assert.Equal(t, astro.RoleWorkspaceOperator, astro.WorkspaceRoleOf(after.Roles, astroemu.SampleWorkspaceSandbox), "re-reading shows what happened")
	})
	t.Run("ConnectionResetAfterApplyIsNotResent", func(t *testing.T) {
		t.Parallel()
		emu, c := newContractEmulator(t)
		emu.SeedSample()
		before, err := c.GetToken(t.Context(), astroemu.SampleTokenCIDeployer)
		require.NoError(t, err)
		want := astro.WithWorkspaceRole(before.Roles, astroemu.SampleWorkspaceAnalytics, "")
		emu.ScriptFaults(astroemu.EndpointUpdateRoles, astroemu.Fault{ApplyFirst: true, Reset: true})

		_, err = c.UpdateTokenRoles(t.Context(), astroemu.SampleTokenCIDeployer, want)

		assert.True(t, astro.IsOutcomeUnknown(err), "%v", err)
		assert.Equal(t, 1, emu.CountRequests(astroemu.EndpointUpdateRoles), "a write that may have landed is not sent again")
		after, err := c.GetToken(t.Context(), astroemu.SampleTokenCIDeployer)
		require.NoError(t, err)
		assert.Empty(t, astro.WorkspaceRoleOf(after.Roles, astroemu.SampleWorkspaceAnalytics), "re-reading shows what happened")
	})
}
