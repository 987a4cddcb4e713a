package commands_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/astro"
	"github.com/orgtoken/orgtoken-bot/commands"
	"github.com/orgtoken/orgtoken-bot/emulators/astroemu"
	"github.com/orgtoken/orgtoken-bot/reply"
)

// withRetries is e's service with a client that retries as the bot's does (its default
// attempts), waiting only milliseconds: e's own client makes one attempt.
func withRetries(t *testing.T, e *oncallEnv) *commands.Service {
	t.Helper()
	client := astro.New(e.emu.OrganizationID(), e.emu.APIToken(), astro.WithBaseURL(e.emu.URL()),
		astro.WithRetryPolicy(astro.RetryPolicy{BaseBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond}))
	cfg := e.cfg
	cfg.Tokens, cfg.Workspaces = client, client
	svc, err := commands.New(cfg)
	require.NoError(t, err)
	return svc
}

// giveSandboxRole stands for someone giving the token a role in Sandbox in the Astro UI.
func giveSandboxRole(t *testing.T, e *oncallEnv, id string) func() {
	return func() {
		// assert, not require: this runs on the emulator's goroutine.
		tok, ok := e.emu.Token(id)
		assert.True(t, ok)
		roles := append(tok.Roles, astroemu.Role{EntityType: astroemu.EntityWorkspace, EntityID: wsSand, Role: astroemu.RoleWorkspaceMember})
		assert.NoError(t, e.emu.SetRoles(id, roles))
	}
}

// A role write whose answer is lost after it landed is not sent again: a resend of the full
// list, read before someone gave the token a role elsewhere, would take that role away while
// the bot said its other roles were kept. The bot re-reads instead and reports what holds.
func TestLostAnswerToAWriteIsNotResentOverAnOutsideChange(t *testing.T) {
	t.Parallel()
	e := newOncallEnv(t)
	svc := withRetries(t, e)
	id := astroemu.SampleTokenCIDeployer
	e.emu.ScriptFaults(astroemu.EndpointUpdateRoles,
		astroemu.Fault{ApplyFirst: true, Status: http.StatusBadGateway, After: giveSandboxRole(t, e, id)})

	r := svc.Run(t.Context(), commands.Request{UserID: alice, ChannelID: opsChan, Text: "update " + id + " -r operator -w 'Data Platform'"})

	checkRenders(t, r)
	require.Equal(t, reply.Success, r.Tone, text(r))
	assert.Contains(t, text(r), "Astro's answer was lost; reading the token again confirmed the change.")
	assert.Equal(t, 1, e.emu.CountRequests(astroemu.EndpointUpdateRoles), "the write is not sent again")
	assert.Equal(t, astro.RoleWorkspaceOperator, e.roleIn(t, id, wsData))
	assert.Equal(t, astro.RoleWorkspaceMember, e.roleIn(t, id, wsSand), "the role given elsewhere is kept")
}

// The revert worker's write is not sent again either: a lost answer leaves the revert to its
// next attempt, which reads the token afresh, finds the role already back and reports the revert.
func TestLostAnswerToARevertIsNotResentOverAnOutsideChange(t *testing.T) {
	t.Parallel()
	e := newOncallEnv(t)
	svc := withRetries(t, e)
	id := astroemu.SampleTokenCIDeployer
	r := svc.Run(t.Context(), commands.Request{UserID: alice, ChannelID: opsChan, Text: "update" + ciDeployerIn + " -r owner --for 2h"})
	require.Equal(t, reply.Success, r.Tone, text(r))
	writes := e.emu.CountRequests(astroemu.EndpointUpdateRoles)
	e.emu.ScriptFaults(astroemu.EndpointUpdateRoles,
		astroemu.Fault{ApplyFirst: true, Status: http.StatusBadGateway, After: giveSandboxRole(t, e, id)})

	e.clock.Advance(3 * time.Hour)
	require.NoError(t, svc.ProcessDueReverts(t.Context(), "replica-a"))

	assert.Equal(t, writes+1, e.emu.CountRequests(astroemu.EndpointUpdateRoles), "the revert is not sent again")
	assert.Equal(t, astro.RoleWorkspaceAuthor, e.ciDeployerRole(t), "the revert landed")
	assert.Equal(t, astro.RoleWorkspaceMember, e.roleIn(t, id, wsSand), "the role given elsewhere is kept")
	require.Len(t, e.pendingReverts(t), 1, "an unknown outcome is tried again later")

	e.clock.Advance(5 * time.Minute)
	require.NoError(t, svc.ProcessDueReverts(t.Context(), "replica-a"))

	assert.Empty(t, e.pendingReverts(t))
	assert.Equal(t, writes+1, e.emu.CountRequests(astroemu.EndpointUpdateRoles), "the fresh read finds nothing to write")
	assert.Equal(t, astro.RoleWorkspaceMember, e.roleIn(t, id, wsSand))
	posts := e.ann.all()
	require.NotEmpty(t, posts)
	// The earlier attempt's write landed with its answer lost: it is told as the revert it was.
	assert.Contains(t, text(posts[len(posts)-1].r), "put back to `WORKSPACE_AUTHOR`")
	assert.Contains(t, text(posts[len(posts)-1].r), "reading the token back shows the role put back")
}
