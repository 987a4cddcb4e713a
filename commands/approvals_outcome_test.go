package commands_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
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

// revertsUnreadable cannot list pending reverts, as a store having a bad moment.
type revertsUnreadable struct{ commands.Reverts }

func (revertsUnreadable) ListPendingReverts(context.Context, string) ([]store.Revert, error) {
	return nil, errors.New("database is busy")
}

func TestApprovedChangeThatLandedIsAppliedWhateverItsNotes(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t)
	// Time-boxed: a lasting change reads the token's time-boxes before its write (and is not made
	// while they cannot be read, below), a time-boxed one settles them after it lands.
	id := e.request(t, alice, oneReq+" --for 2h")
	e.svc = e.serviceOver(t, e.st, e.now, func(c *commands.Config) { c.Reverts = revertsUnreadable{c.Reverts} })

	r := e.click(t, bob, commands.ActionApprove, id)
	assert.Contains(t, r.Title, "approved and applied", text(r))
	assert.Equal(t, "WORKSPACE_OPERATOR", e.roleIn(t, astroemu.SampleTokenCIDeployer, wsData))
	got := e.state(t, id)
	assert.Equal(t, store.StateApplied, got.State, "the role landed; a warning about time-boxes does not make it fail")
	require.Len(t, e.msgs.threadTexts(), 1)
	assert.Contains(t, e.msgs.threadTexts()[0], "approved and applied")
}

func TestApprovedChangeWithAnUnknownOutcomeIsSettledFromTheToken(t *testing.T) {
	t.Parallel()
	for _, landed := range []bool{true, false} {
		t.Run(map[bool]string{true: "WriteLanded", false: "WriteDidNotLand"}[landed], func(t *testing.T) {
			t.Parallel()
			e := newApprovalEnv(t)
			id := e.request(t, alice, oneReq)
			lostWrite(e.emu, landed, 2) // the reads before the write (stale check, apply) work; the write and the re-read fail

			r := e.click(t, bob, commands.ActionApprove, id)
			assert.Equal(t, "You gave the last approval of "+id+", but its outcome could not be recorded.", r.Title, text(r))
			assert.Contains(t, text(r), "its outcome is not known yet")
			assert.Equal(t, store.StateApplying, e.state(t, id).State, "not called failed: Astro may still carry it out")
			assert.Empty(t, e.msgs.threadTexts(), "the requester is told nothing before the outcome is known")

			e.advance(30 * time.Second)
			require.NoError(t, e.svc.SweepExpired(t.Context(), e.now()))
			assert.Equal(t, store.StateApplying, e.state(t, id).State, "Astro is given time first")

			e.advance(2 * time.Minute)
			require.NoError(t, e.svc.SweepExpired(t.Context(), e.now()))
			got := e.state(t, id)
			assert.Equal(t, 1, e.emu.CountRequests(astroemu.EndpointUpdateRoles), "never written twice")
			require.Len(t, e.msgs.threadTexts(), 1)
			if landed {
				assert.Equal(t, store.StateApplied, got.State)
				assert.Contains(t, e.msgs.threadTexts()[0], "approved and applied")
			} else {
				assert.Equal(t, store.StateFailed, got.State)
				assert.Contains(t, got.Result, "the token has WORKSPACE_AUTHOR, not the requested WORKSPACE_OPERATOR")
			}
		})
	}
}

func TestTimeBoxOfAnApprovedChangeSurvivesALostOutcome(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t)
	lost := &outcomeLost{Store: e.st}
	lost.fail.Store(1)
	reverts := &schedulingFails{Reverts: e.st}
	reverts.fail.Store(true) // the store is down when Astro answers: no revert, no outcome
	e.svc = e.serviceOver(t, lost, e.now, func(c *commands.Config) { c.Reverts = reverts })
	id := e.request(t, alice, oneReq+" --for 2h")

	r := e.click(t, bob, commands.ActionApprove, id)
	require.Equal(t, "You gave the last approval of "+id+", but its outcome could not be recorded.", r.Title, text(r))
	require.Equal(t, "WORKSPACE_OPERATOR", e.roleIn(t, astroemu.SampleTokenCIDeployer, wsData))
	pending, err := e.st.ListPendingReverts(t.Context(), astroemu.SampleTokenCIDeployer)
	require.NoError(t, err)
	require.Empty(t, pending)

	reverts.fail.Store(false) // the store is back for the sweeper
	e.advance(2 * time.Minute)
	require.NoError(t, e.svc.SweepExpired(t.Context(), e.now()))
	got := e.state(t, id)
	require.Equal(t, store.StateApplied, got.State)
	assert.Contains(t, got.Result, "Time-boxed: in 1h 58m (2025-11-05 14:00 UTC) the bot puts it back to WORKSPACE_AUTHOR")
	pending, err = e.st.ListPendingReverts(t.Context(), astroemu.SampleTokenCIDeployer)
	require.NoError(t, err)
	require.Len(t, pending, 1, "the approved elevation still ends")
	assert.Equal(t, id, pending[0].RequestID)
	assert.Equal(t, "WORKSPACE_AUTHOR", pending[0].RevertTo)
	assert.WithinDuration(t, e.now().Add(2*time.Hour-2*time.Minute), pending[0].DueAt, time.Second, "due when it would have been")

	require.NoError(t, e.svc.SweepExpired(t.Context(), e.now()))
	pending, err = e.st.ListPendingReverts(t.Context(), astroemu.SampleTokenCIDeployer)
	require.NoError(t, err)
	assert.Len(t, pending, 1, "scheduled once")
}

func TestAQuorumLeftUndecidedIsDecidedByTheNextClick(t *testing.T) {
	t.Parallel()
	for _, clicker := range []string{bob, dave} {
		t.Run(map[string]string{bob: "ByAnApproverWhoApproved", dave: "ByAnotherApprover"}[clicker], func(t *testing.T) {
			t.Parallel()
			e := newApprovalEnv(t)
			id := e.request(t, alice, ownerReq)
			// Two approvals recorded at the same moment whose clicks could not check each other's
			// approver (a Slack error): both recorded, neither decided.
			for _, u := range []string{bob, carol} {
				_, won, err := e.st.AddApproval(t.Context(), id, u, e.now(), store.Tally{})
				require.NoError(t, err)
				require.False(t, won)
			}
			require.Equal(t, store.StatePending, e.state(t, id).State)

			r := e.click(t, clicker, commands.ActionApprove, id)
			assert.Contains(t, r.Title, "approved and applied", text(r))
			assert.Equal(t, "WORKSPACE_OWNER", e.roleIn(t, astroemu.SampleTokenCIDeployer, wsData))
			assert.Equal(t, store.StateApplied, e.state(t, id).State)
		})
	}
}

func TestSweeperLeavesTheTimeBoxesOfALaterChangeAlone(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t)
	id := e.request(t, alice, oneReq+" --for 2h")
	lostWrite(e.emu, false, 2) // the write does not land, and the read after it fails
	r := e.click(t, bob, commands.ActionApprove, id)
	require.Equal(t, "You gave the last approval of "+id+", but its outcome could not be recorded.", r.Title, text(r))
	require.Equal(t, store.StateApplying, e.state(t, id).State)

	// Within the minute an admin makes WORKSPACE_OPERATOR lasting, which ends the request's
	// revert (scheduled in case its write had landed).
	admin := e.runAs(t, "U0ADMIN01", "update "+astroemu.SampleTokenCIDeployer+" --role operator")
	require.Contains(t, admin.Title, "Token role updated", text(admin))

	e.advance(2 * time.Minute)
	require.NoError(t, e.svc.SweepExpired(t.Context(), e.now()))
	got := e.state(t, id)
	assert.Equal(t, store.StateApplied, got.State)
	assert.Contains(t, got.Result, "the bot recorded another change to the token in this workspace since")
	pending, err := e.st.ListPendingReverts(t.Context(), astroemu.SampleTokenCIDeployer)
	require.NoError(t, err)
	assert.Empty(t, pending, "nothing is scheduled to undo the admin's lasting change")
}

func TestApprovedTimeBoxThatCannotBeSetUpIsToldInTheResult(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t)
	reverts := &schedulingFails{Reverts: e.st}
	reverts.fail.Store(true)
	e.svc = e.serviceOver(t, e.st, e.now, func(c *commands.Config) { c.Reverts = reverts })
	id := e.request(t, alice, oneReq+" --for 2h")

	r := e.click(t, bob, commands.ActionApprove, id)
	assert.Contains(t, r.Title, "approved and applied", text(r))
	assert.Contains(t, text(r), "The bot could NOT schedule putting the role back after 2h")
	require.Len(t, e.msgs.threadTexts(), 1)
	assert.Contains(t, e.msgs.threadTexts()[0], "The bot could NOT schedule putting the role back after 2h", "the requester is told too")
}

func TestSweeperEndsTheEarlierTimeBoxesALandedRequestOverrides(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t)
	admin := e.runAs(t, "U0ADMIN01", "update "+astroemu.SampleTokenCIDeployer+" --role owner --for 1h")
	require.Contains(t, admin.Title, "Token role updated", text(admin))
	e.advance(time.Minute)
	id := e.request(t, alice, oneReq+" --for 2h")
	lostWrite(e.emu, true, 2) // the write lands; the read after it fails
	e.click(t, bob, commands.ActionApprove, id)
	require.Equal(t, store.StateApplying, e.state(t, id).State)
	require.Len(t, e.pendingRevertsOf(t, astroemu.SampleTokenCIDeployer), 2)

	e.advance(2 * time.Minute)
	require.NoError(t, e.svc.SweepExpired(t.Context(), e.now()))
	got := e.state(t, id)
	assert.Equal(t, store.StateApplied, got.State)
	assert.Contains(t, got.Result, "This takes over the earlier time-box")
	pending := e.pendingRevertsOf(t, astroemu.SampleTokenCIDeployer)
	require.Len(t, pending, 1, "the admin's shorter time-box is ended, the request's own stays")
	assert.Equal(t, id, pending[0].RequestID)
	assert.Equal(t, "WORKSPACE_AUTHOR", pending[0].RevertTo, "back to the role from before both")
}

func (e *approvalEnv) pendingRevertsOf(t *testing.T, tokenID string) []store.Revert {
	t.Helper()
	pending, err := e.st.ListPendingReverts(t.Context(), tokenID)
	require.NoError(t, err)
	return pending
}

func TestSweeperWaitsToSettleUntilTimeBoxesCanBeRead(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t)
	id := e.request(t, alice, oneReq+" --for 2h")
	lostWrite(e.emu, true, 2) // the write lands; the read after it fails
	e.click(t, bob, commands.ActionApprove, id)
	require.Equal(t, store.StateApplying, e.state(t, id).State)

	e.advance(2 * time.Minute)
	unreadable := e.serviceOver(t, e.st, e.now, func(c *commands.Config) { c.Reverts = revertsUnreadable{c.Reverts} })
	require.NoError(t, unreadable.SweepExpired(t.Context(), e.now()))
	assert.Equal(t, store.StateApplying, e.state(t, id).State, "not settled without its time-boxes")
	assert.Empty(t, e.msgs.threadTexts())

	require.NoError(t, e.svc.SweepExpired(t.Context(), e.now()))
	assert.Equal(t, store.StateApplied, e.state(t, id).State)
	assert.Len(t, e.pendingRevertsOf(t, astroemu.SampleTokenCIDeployer), 1, "its one revert")
}

// An admin's *Revert now* of an outer time-box that fails at Astro while an approved request's
// write is unseen: the sweeper must not take over the retry it left (which undoes the request's
// role), or nothing would end the elevation.
func TestSweeperAfterAFailedRevertNowOfAnOuterTimeBox(t *testing.T) {
	t.Parallel()
	revertNowFails := func(e *approvalEnv, outer reply.Button) {
		e.emu.ScriptFaults(astroemu.EndpointUpdateRoles, astroemu.Fault{Status: http.StatusServiceUnavailable})
		early := e.svc.Act(t.Context(), commands.Action{UserID: admin, ChannelID: opsChan, ActionID: outer.ActionID, Value: outer.Value})
		require.Contains(t, text(early), "The bot will keep trying in the background.", text(early))
	}
	settle := func(t *testing.T, e *approvalEnv) {
		e.advance(2 * time.Minute)
		require.NoError(t, e.svc.SweepExpired(t.Context(), e.now()))
		for range 8 {
			e.advance(30 * time.Minute)
			require.NoError(t, e.svc.ProcessDueReverts(t.Context(), "replica-a"))
		}
		assert.Equal(t, astro.RoleWorkspaceAuthor, e.roleIn(t, astroemu.SampleTokenCIDeployer, wsData), "the admin ended the elevation")
		assert.Empty(t, e.pendingRevertsOf(t, astroemu.SampleTokenCIDeployer))
	}
	t.Run("NestedInTheRequestsOwnTimeBox", func(t *testing.T) {
		t.Parallel()
		e := newApprovalEnv(t)
		r := e.runAs(t, admin, "update "+astroemu.SampleTokenCIDeployer+" --role operator --for 3h")
		require.Contains(t, r.Title, "Token role updated", text(r))
		outer := button(t, r, commands.ActionRevertNow)
		r = e.runAs(t, admin, "update "+astroemu.SampleTokenCIDeployer+" --role owner --for 1h")
		require.Contains(t, r.Title, "Token role updated", text(r))
		e.advance(time.Minute)
		id := e.request(t, alice, oneReq+" --for 2h") // OWNER -> OPERATOR, for 2h
		lostWrite(e.emu, true, 2)                     // the write lands; the read after it fails
		e.click(t, bob, commands.ActionApprove, id)
		require.Equal(t, store.StateApplying, e.state(t, id).State)
		revertNowFails(e, outer)
		settle(t, e)
	})
	for _, endingAudited := range []bool{true, false} {
		t.Run(map[bool]string{true: "OnlyTheRequestsOwnNested", false: "OnlyTheRequestsOwnNestedEndingNotAudited"}[endingAudited], func(t *testing.T) {
			t.Parallel()
			e := newApprovalEnv(t)
			if !endingAudited {
				e.svc = e.serviceOver(t, e.st, e.now, func(c *commands.Config) { c.Audit = auditDropsEnded{c.Audit} })
			}
			r := e.runAs(t, admin, "update "+astroemu.SampleTokenCIDeployer+" --role operator --for 3h")
			require.Contains(t, r.Title, "Token role updated", text(r))
			outer := button(t, r, commands.ActionRevertNow)
			e.advance(time.Minute)
			id := e.request(t, alice, ownerReq+" --for 2h") // OPERATOR -> OWNER, for 2h, two approvals
			e.click(t, bob, commands.ActionApprove, id)
			lostWrite(e.emu, true, 2)
			e.click(t, carol, commands.ActionApprove, id)
			require.Equal(t, store.StateApplying, e.state(t, id).State)
			revertNowFails(e, outer)
			settle(t, e)
		})
	}
}

// auditDropsEnded loses the audit entries of nested time-boxes' endings, as a store having a bad
// moment would.
type auditDropsEnded struct{ commands.Audit }

func (a auditDropsEnded) AppendAudit(ctx context.Context, e store.AuditEntry) (store.AuditEntry, error) {
	if e.Action == "revert.ended" {
		return store.AuditEntry{}, errors.New("database is busy")
	}
	return a.Audit.AppendAudit(ctx, e)
}

// A request the sweeper settles as failed must not leave the revert scheduled while its outcome
// was unknown: at its time it would undo whatever role the token then has, if that happens to be
// the one the request asked for (here set by an admin in the Astro UI, for good).
func TestFailedRequestLeavesARevertThatUndoesALaterChange(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t)
	id := e.request(t, alice, oneReq+" --for 2h")
	lostWrite(e.emu, false, 2)
	e.click(t, bob, commands.ActionApprove, id)
	e.advance(2 * time.Minute)
	require.NoError(t, e.svc.SweepExpired(t.Context(), e.now()))
	require.Equal(t, store.StateFailed, e.state(t, id).State)
	tok, _ := e.emu.Token(astroemu.SampleTokenCIDeployer)
	for i, r := range tok.Roles {
		if r.EntityType == astroemu.EntityWorkspace && r.EntityID == wsData {
			tok.Roles[i].Role = astroemu.RoleWorkspaceOperator
		}
	}
	require.NoError(t, e.emu.SetRoles(tok.ID, tok.Roles)) // an admin, for good, in the Astro UI
	e.advance(3 * time.Hour)
	require.NoError(t, e.svc.ProcessDueReverts(t.Context(), "a"))
	assert.Equal(t, "WORKSPACE_OPERATOR", e.roleIn(t, astroemu.SampleTokenCIDeployer, wsData))

	got := e.state(t, id)
	assert.Regexp(t, `not the requested WORKSPACE_OPERATOR; nothing more was written; its time-box \(revert v[a-z2-7]{12}\) was ended$`, got.Result)
	assert.Contains(t, e.auditActions(t, id), "revert.cancelled")
	assert.Empty(t, e.pendingRevertsOf(t, astroemu.SampleTokenCIDeployer))
}

// A request the sweeper calls failed because the token has another role than it asked for may
// have landed after all, with a later change through the bot on top: a time-box nested in the
// request's own, which leads back to the request's role. The request's revert is then the only
// thing to end that role, so it stays, whether the later change's audit entry was stored or lost.
func TestFailedRequestKeepsItsTimeBoxWhenALaterChangeNestsInIt(t *testing.T) {
	t.Parallel()
	for _, audited := range []bool{true, false} {
		t.Run(map[bool]string{true: "Audited", false: "AuditEntryLost"}[audited], func(t *testing.T) {
			t.Parallel()
			e := newApprovalEnv(t)
			if !audited {
				e.svc = e.serviceOver(t, e.st, e.now, func(c *commands.Config) { c.Audit = auditDropsChanges{c.Audit} })
			}
			id := e.request(t, alice, oneReq+" --for 2h") // AUTHOR -> OPERATOR
			lostWrite(e.emu, true, 2)                     // the write lands; the read after it fails
			e.click(t, bob, commands.ActionApprove, id)
			require.Equal(t, store.StateApplying, e.state(t, id).State)
			r := e.runAs(t, admin, "update "+astroemu.SampleTokenCIDeployer+" --role owner --for 1h") // back to OPERATOR after 1h
			require.Contains(t, r.Title, "Token role updated", text(r))

			e.advance(2 * time.Minute)
			require.NoError(t, e.svc.SweepExpired(t.Context(), e.now()))
			got := e.state(t, id)
			require.Equal(t, store.StateFailed, got.State)
			assert.Contains(t, got.Result, "its time-box was left in place")
			for range 5 {
				e.advance(30 * time.Minute)
				require.NoError(t, e.svc.ProcessDueReverts(t.Context(), "a"))
			}
			assert.Equal(t, "WORKSPACE_AUTHOR", e.roleIn(t, astroemu.SampleTokenCIDeployer, wsData), "the elevation ends")
		})
	}
}

// auditDropsChanges loses the audit entries of role changes, as a store having a bad moment
// would.
type auditDropsChanges struct{ commands.Audit }

func (a auditDropsChanges) AppendAudit(ctx context.Context, e store.AuditEntry) (store.AuditEntry, error) {
	if e.Action == "role.changed" {
		return store.AuditEntry{}, errors.New("database is busy")
	}
	return a.Audit.AppendAudit(ctx, e)
}

// A failed request whose time-box was ended but whose failure could not be stored, found landed
// at the next sweep (Astro carried the write out late): it is applied with a time-box, not left
// elevated for good because its first one was ended.
func TestRequestFoundLandedAfterItsTimeBoxWasEndedGetsAnother(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t)
	lost := &outcomeLost{Store: e.st, states: []store.State{store.StateFailed}}
	e.svc = e.serviceOver(t, lost, e.now)
	id := e.request(t, alice, oneReq+" --for 2h")
	lostWrite(e.emu, false, 2)
	e.click(t, bob, commands.ActionApprove, id)
	first := e.pendingRevertsOf(t, astroemu.SampleTokenCIDeployer)
	require.Len(t, first, 1)

	lost.fail.Store(1)
	e.advance(2 * time.Minute)
	require.NoError(t, e.svc.SweepExpired(t.Context(), e.now()))
	require.Equal(t, store.StateApplying, e.state(t, id).State, "the failure could not be stored")
	require.Empty(t, e.pendingRevertsOf(t, astroemu.SampleTokenCIDeployer))

	require.NoError(t, e.emu.SetRoles(astroemu.SampleTokenCIDeployer, []astroemu.Role{
		{EntityType: astroemu.EntityOrganization, EntityID: e.emu.OrganizationID(), Role: "ORGANIZATION_MEMBER"},
		wsRole(wsData, "WORKSPACE_OPERATOR"),
	})) // Astro carries the write out late
	e.advance(2 * time.Minute)
	require.NoError(t, e.svc.SweepExpired(t.Context(), e.now()))
	require.Equal(t, store.StateApplied, e.state(t, id).State)
	pending := e.pendingRevertsOf(t, astroemu.SampleTokenCIDeployer)
	require.Len(t, pending, 1, "a time-box again")
	assert.Equal(t, id, pending[0].RequestID)
	assert.NotEqual(t, first[0].ID, pending[0].ID)
	assert.Equal(t, "WORKSPACE_AUTHOR", pending[0].RevertTo)
}

// A write the sweeper finds landed is the bot's own change: it is audited as such, so the drift
// check does not report it as made outside the bot.
func TestApprovedLostWriteIsNotDrift(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t)
	e.runAs(t, admin, "update "+astroemu.SampleTokenCIDeployer+" --role member")
	n, err := e.svc.CheckDrift(t.Context(), "")
	require.NoError(t, err)
	require.Zero(t, n)
	id := e.request(t, alice, oneReq)
	lostWrite(e.emu, true, 2)
	e.click(t, bob, commands.ActionApprove, id)
	e.advance(2 * time.Minute)
	require.NoError(t, e.svc.SweepExpired(t.Context(), e.now()))
	require.Equal(t, store.StateApplied, e.state(t, id).State)
	n, err = e.svc.CheckDrift(t.Context(), "")
	require.NoError(t, err)
	assert.Zero(t, n)
	changes, err := e.st.ListAudit(t.Context(), store.AuditFilter{RequestID: id})
	require.NoError(t, err)
	changes = slices.DeleteFunc(changes, func(a store.AuditEntry) bool { return a.Action != "role.changed" })
	require.Len(t, changes, 1)
	assert.Equal(t, alice, changes[0].ActorID)
	assert.Equal(t, []string{"WORKSPACE_MEMBER", "WORKSPACE_OPERATOR"}, []string{changes[0].Before, changes[0].After})
	assert.Equal(t, "the outcome of the write was never recorded; confirmed by reading the token back", changes[0].Detail)
}

// A write Astro confirmed whose request's outcome could not be stored is audited when it is
// made; the sweeper settling the request does not audit it again.
func TestApprovedChangeIsAuditedOnceWhenItsOutcomeIsStoredLate(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t)
	lost := &outcomeLost{Store: e.st}
	lost.fail.Store(1)
	e.svc = e.serviceOver(t, lost, e.now)
	id := e.request(t, alice, oneReq)
	e.click(t, bob, commands.ActionApprove, id)
	require.Equal(t, store.StateApplying, e.state(t, id).State)
	e.advance(2 * time.Minute)
	require.NoError(t, e.svc.SweepExpired(t.Context(), e.now()))
	require.Equal(t, store.StateApplied, e.state(t, id).State)
	assert.Equal(t, 1, countActions(e.auditActions(t, id), "role.changed"))
	n, err := e.svc.CheckDrift(t.Context(), "")
	require.NoError(t, err)
	assert.Zero(t, n)
}

func countActions(actions []string, action string) int {
	n := 0
	for _, a := range actions {
		if a == action {
			n++
		}
	}
	return n
}

// A lasting change is decided from where the token's time-boxes lead back, so when the store
// cannot say what time-boxes there are, the change is refused rather than guessed at, typed or
// approved.
func TestLastingChangeIsRefusedWhileTimeBoxesCannotBeRead(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t)
	id := e.request(t, alice, oneReq)
	e.svc = e.serviceOver(t, e.st, e.now, func(c *commands.Config) { c.Reverts = revertsUnreadable{c.Reverts} })
	r := e.runAs(t, admin, "update "+astroemu.SampleTokenCIDeployer+" --role operator")
	assert.Equal(t, "Could not read the token's time-boxed changes, so this was refused.", r.Title, text(r))
	clicked := e.click(t, bob, commands.ActionApprove, id)
	assert.Contains(t, text(clicked), "Could not check whether the requester may still make this change")
	assert.Zero(t, e.emu.CountRequests(astroemu.EndpointUpdateRoles))
	assert.Equal(t, store.StatePending, e.state(t, id).State, "left for a later click")
}

// A change the bot made after a request's write went out is seen by the sweeper settling the
// request even when its audit entry carries an earlier time (made on a replica whose clock is
// behind): the role read back is that change's, and no time-box of the request is set up to undo it.
func TestSweeperSeesALaterChangeRecordedWithAnEarlierTime(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t)
	reverts := &schedulingFails{Reverts: e.st}
	reverts.fail.Store(true) // no revert is scheduled in case the write landed
	e.svc = e.serviceOver(t, e.st, e.now, func(c *commands.Config) { c.Reverts = reverts })
	id := e.request(t, alice, oneReq+" --for 2h")
	lostWrite(e.emu, false, 2) // the write does not land, and the read after it fails
	r := e.click(t, bob, commands.ActionApprove, id)
	require.Equal(t, "You gave the last approval of "+id+", but its outcome could not be recorded.", r.Title, text(r))
	require.Equal(t, store.StateApplying, e.state(t, id).State)
	require.Empty(t, e.pendingRevertsOf(t, astroemu.SampleTokenCIDeployer))
	reverts.fail.Store(false)

	// An admin then makes WORKSPACE_OPERATOR lasting through a replica whose clock is 10s behind.
	e.advance(time.Second)
	behind := e.newService(t, func() time.Time { return e.now().Add(-10 * time.Second) })
	admin := behind.Run(t.Context(), commands.Request{UserID: "U0ADMIN01", ChannelID: opsChan,
		Text: "update " + astroemu.SampleTokenCIDeployer + " --role operator"})
	require.Contains(t, admin.Title, "Token role updated", text(admin))

	e.advance(2 * time.Minute)
	require.NoError(t, e.svc.SweepExpired(t.Context(), e.now()))
	got := e.state(t, id)
	assert.Equal(t, store.StateApplied, got.State)
	assert.Contains(t, got.Result, "the bot recorded another change to the token in this workspace since")
	assert.Empty(t, e.pendingRevertsOf(t, astroemu.SampleTokenCIDeployer), "nothing is scheduled to undo the admin's lasting change")
}
