package commands_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/astro"
	"github.com/orgtoken/orgtoken-bot/commands"
	"github.com/orgtoken/orgtoken-bot/emulators/astroemu"
)

func TestCatalogSuggestsFromTheOrganization(t *testing.T) {
	t.Parallel()
	srv, err := astroemu.Start(astroemu.Options{})
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	srv.SeedSample()
	c := commands.NewCatalog(astro.New(srv.OrganizationID(), srv.APIToken(), astro.WithBaseURL(srv.URL())), nil)
	assert.Empty(t, c.SuggestTokens("ci", 10), "empty until refreshed")
	require.NoError(t, c.Refresh(context.Background()))

	got := c.SuggestTokens("CI", 10)
	require.NotEmpty(t, got)
	assert.Equal(t, "ci-token", got[0].Label, "names starting with the query come first")
	var labels []string
	for _, ch := range got {
		labels = append(labels, ch.Label)
	}
	assert.Contains(t, labels, "airflow-ci-deployer", "substring matches follow")
	assert.NotContains(t, labels, "analytics-workspace-token", "only Organization tokens are offered")
	assert.Len(t, c.SuggestTokens("", 3), 3, "the limit holds")

	assert.Equal(t, "WORKSPACE_OWNER", c.CurrentRole(astroemu.SampleTokenMLFeatures, astroemu.SampleWorkspaceMLOps))
	assert.Equal(t, "ml-feature-pipeline", c.TokenName(astroemu.SampleTokenMLFeatures))
	ws := c.Workspaces()
	require.Len(t, ws, 4)
	assert.Equal(t, "Analytics", ws[0].Label, "workspaces sorted by name")
}
