package astro_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/astro"
	"github.com/orgtoken/orgtoken-bot/emulators/astroemu"
)

// seededOrganization starts an Astro emulator on loopback with n generated tokens (SeedLarge:
// every 20th Workspace-scoped, 40 creators, each token updated by its creator) and a client
// for it. The emulator keeps no request log: these tests count requests or read its tokens.
func seededOrganization(tb testing.TB, n int) (*astroemu.Server, *astro.Client) {
	tb.Helper()
	srv, err := astroemu.Start(astroemu.Options{MaxRecorded: 1})
	require.NoError(tb, err)
	tb.Cleanup(srv.Close)
	srv.SeedLarge(n)
	return srv, astro.New(srv.OrganizationID(), srv.APIToken(), astro.WithBaseURL(srv.URL()))
}
