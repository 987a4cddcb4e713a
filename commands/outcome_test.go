package commands_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/astro"
	"github.com/orgtoken/orgtoken-bot/commands"
	"github.com/orgtoken/orgtoken-bot/emulators/astroemu"
	"github.com/orgtoken/orgtoken-bot/reply"
	"github.com/orgtoken/orgtoken-bot/store"
)

// lostWrite makes the next role write fail with an unknown outcome (applied first when landed)
// and the re-read after it fail too; the reads before the write succeed.
func lostWrite(emu *astroemu.Server, landed bool, readsBefore int) {
	emu.ScriptFaults(astroemu.EndpointUpdateRoles, astroemu.Fault{ApplyFirst: landed, Status: http.StatusBadGateway})
	emu.ScriptFaults(astroemu.EndpointGetToken, append(make([]astroemu.Fault, readsBefore), astroemu.Fault{Status: http.StatusInternalServerError})...)
}

// failingReverts refuses to schedule, as a store that is down.
type failingReverts struct{ commands.Reverts }

func (failingReverts) ScheduleRevert(context.Context, store.Revert) (store.Revert, error) {
	return store.Revert{}, errors.New("database is down")
}

func TestTimeBoxOutlivesAnUnconfirmedWrite(t *testing.T) {
	t.Parallel()
	t.Run("WriteLandedIsRevertedOnTime", func(t *testing.T) {
		t.Parallel()
		e := newOncallEnv(t)
		lostWrite(e.emu, true, 1)
		r := e.runAs(t, alice, opsChan, "add "+astroemu.SampleTokenTerraform+" -r operator -w Sandbox --for 1d")
		require.Equal(t, "Could not confirm whether the change was applied.", r.Title, text(r))
		assert.Contains(t, text(r), "if the change landed, the bot removes it from the workspace again in 1d (2025-11-06 12:00 UTC); if it did not, the revert will find nothing to undo. Revert `v")
		button(t, r, commands.ActionRevertNow)
		require.Equal(t, astro.RoleWorkspaceOperator, e.roleIn(t, astroemu.SampleTokenTerraform, wsSand), "the write landed")

		e.clock.Advance(25 * time.Hour)
		require.NoError(t, e.svc.ProcessDueReverts(t.Context(), "replica-a"))
		assert.Equal(t, "", e.roleIn(t, astroemu.SampleTokenTerraform, wsSand), "the elevation ends after 1d")
		posts := e.ann.all()
		require.Len(t, posts, 1)
		assert.Equal(t, "Time-boxed change reverted", posts[0].r.Title)
	})
	t.Run("WriteDidNotLandLeavesNothingToUndo", func(t *testing.T) {
		t.Parallel()
		e := newOncallEnv(t)
		lostWrite(e.emu, false, 1)
		r := e.runAs(t, alice, opsChan, "update "+astroemu.SampleTokenCIDeployer+" -r owner -w 'Data Platform' --for 2h")
		require.Equal(t, "Could not confirm whether the change was applied.", r.Title, text(r))
		assert.Contains(t, text(r), "if the change landed, the bot puts it back to `WORKSPACE_AUTHOR` in 2h")
		writes := e.emu.CountRequests(astroemu.EndpointUpdateRoles)

		e.clock.Advance(3 * time.Hour)
		require.NoError(t, e.svc.ProcessDueReverts(t.Context(), "replica-a"))
		assert.Equal(t, astro.RoleWorkspaceAuthor, e.roleIn(t, astroemu.SampleTokenCIDeployer, wsData))
		assert.Equal(t, writes, e.emu.CountRequests(astroemu.EndpointUpdateRoles), "nothing is written")
		posts := e.ann.all()
		require.Len(t, posts, 1)
		assert.Equal(t, "Time-boxed change ended", posts[0].r.Title)
		assert.Contains(t, text(posts[0].r), "already has `WORKSPACE_AUTHOR`, so nothing needed changing")
	})
	t.Run("SchedulingFailsIsToldLoudly", func(t *testing.T) {
		t.Parallel()
		e := newOncallEnv(t, func(c *commands.Config) { c.Reverts = failingReverts{c.Reverts} })
		lostWrite(e.emu, true, 1)
		r := e.runAs(t, alice, opsChan, "add "+astroemu.SampleTokenTerraform+" -r operator -w Sandbox --for 1d")
		assert.Equal(t, reply.Warning, r.Tone)
		assert.Contains(t, text(r), "The time-box could NOT be set up. If the change landed, it lasts until someone reverts it by hand (ref ")
		assert.Empty(t, r.Buttons, "there is nothing to revert now")
	})
	t.Run("ApprovedRequest", func(t *testing.T) {
		t.Parallel()
		e := newApprovalEnv(t)
		ann := &announcer{}
		svc, err := commands.New(commands.Config{
			Tokens:     astro.New(e.emu.OrganizationID(), e.emu.APIToken(), astro.WithBaseURL(e.emu.URL()), astro.WithRetryPolicy(astro.RetryPolicy{MaxAttempts: 1})),
			Authorizer: e.auth, Approvers: e.auth, Groups: e.auth.p,
			Requests: e.st, Messenger: e.msgs, Audit: e.st, Locker: e.st, Reverts: e.st, Announcer: ann,
			Clock: func() time.Time { return time.Unix(0, e.clock.Load()).UTC() }, DefaultWorkspace: wsData, Logger: slog.New(slog.DiscardHandler),
		})
		require.NoError(t, err)
		e.svc = svc
		id := e.request(t, alice, oneReq+" --for 1h")

		lostWrite(e.emu, true, 2) // stale check, then the read under the lock
		e.click(t, bob, commands.ActionApprove, id)
		require.Equal(t, astro.RoleWorkspaceOperator, e.roleIn(t, astroemu.SampleTokenCIDeployer, wsData), "the write landed")
		pending, err := e.st.ListPendingReverts(t.Context(), astroemu.SampleTokenCIDeployer)
		require.NoError(t, err)
		require.Len(t, pending, 1)
		assert.Equal(t, id, pending[0].RequestID)

		e.advance(2 * time.Hour)
		require.NoError(t, svc.ProcessDueReverts(t.Context(), "replica-a"))
		assert.Equal(t, astro.RoleWorkspaceAuthor, e.roleIn(t, astroemu.SampleTokenCIDeployer, wsData), "the elevation ends after 1h")
	})
}

// A write Astro did not answer in time can still be carried out after the bot's re-read shows
// the old role: the user is not told it failed, and a time-box still ends it.
func TestTimedOutWriteMayStillLand(t *testing.T) {
	t.Parallel()
	e := newOncallEnv(t)
	e.emu.ScriptFaults(astroemu.EndpointUpdateRoles, astroemu.Fault{Status: http.StatusBadGateway})
	r := e.runAs(t, alice, opsChan, "update "+astroemu.SampleTokenCIDeployer+" -r owner -w 'Data Platform' --for 2h")
	assert.Equal(t, "Astro did not answer in time; the change is not in place yet.", r.Title, text(r))
	assert.Equal(t, reply.Warning, r.Tone)
	assert.NotContains(t, text(r), "Nothing was changed")
	assert.Contains(t, text(r), "Time-boxed: if the change landed, the bot puts it back to `WORKSPACE_AUTHOR` in 2h")
	button(t, r, commands.ActionRevertNow)

	// Astro carries the request out late.
	tok, _ := e.emu.Token(astroemu.SampleTokenCIDeployer)
	late := make([]astroemu.Role, 0, len(tok.Roles))
	for _, role := range tok.Roles {
		if role.EntityType == astroemu.EntityWorkspace && role.EntityID == wsData {
			role.Role = astro.RoleWorkspaceOwner
		}
		late = append(late, role)
	}
	require.NoError(t, e.emu.SetRoles(astroemu.SampleTokenCIDeployer, late))

	e.clock.Advance(3 * time.Hour)
	require.NoError(t, e.svc.ProcessDueReverts(t.Context(), "replica-a"))
	assert.Equal(t, astro.RoleWorkspaceAuthor, e.roleIn(t, astroemu.SampleTokenCIDeployer, wsData), "the late elevation still ends on time")
}
