package commands_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/astro"
	"github.com/orgtoken/orgtoken-bot/commands"
	"github.com/orgtoken/orgtoken-bot/emulators/astroemu"
	"github.com/orgtoken/orgtoken-bot/policy"
	"github.com/orgtoken/orgtoken-bot/reply"
	"github.com/orgtoken/orgtoken-bot/store"
)

// In the sample organization airflow-ci-deployer is WORKSPACE_AUTHOR in Data Platform.
const ciDeployerIn = " -n airflow-ci-deployer -w 'Data Platform'"

func (e *oncallEnv) pendingReverts(t *testing.T) []store.Revert {
	t.Helper()
	pending, err := e.st.ListPendingReverts(t.Context(), astroemu.SampleTokenCIDeployer)
	require.NoError(t, err)
	return pending
}

func (e *oncallEnv) ciDeployerRole(t *testing.T) string {
	t.Helper()
	return e.roleIn(t, astroemu.SampleTokenCIDeployer, wsData)
}

// changeOK runs cmd as alice in the ops channel and requires it to succeed.
func (e *oncallEnv) changeOK(t *testing.T, cmd string) reply.Reply {
	t.Helper()
	r := e.runAs(t, alice, opsChan, cmd)
	require.Equal(t, reply.Success, r.Tone, text(r))
	return r
}

func TestLastingChangeEndsEarlierTimeBoxes(t *testing.T) {
	t.Parallel()
	e := newOncallEnv(t)
	e.changeOK(t, "update"+ciDeployerIn+" -r owner --for 2h")
	first := e.pendingReverts(t)
	require.Len(t, first, 1)

	r := e.changeOK(t, "update"+ciDeployerIn+" -r operator")
	assert.Contains(t, text(r), "This ends the earlier time-box `"+first[0].ID+"`: it would have put the role back to `WORKSPACE_AUTHOR` at 2025-11-05 14:00 UTC.")
	assert.Empty(t, e.pendingReverts(t))

	// Back to the role the time-box set, for good this time: its end must not undo it.
	r = e.changeOK(t, "update"+ciDeployerIn+" -r owner")
	assert.NotContains(t, text(r), "time-box")
	writes := e.emu.CountRequests(astroemu.EndpointUpdateRoles)

	e.clock.Advance(3 * time.Hour)
	require.NoError(t, e.svc.ProcessDueReverts(t.Context(), "replica-a"))
	assert.Equal(t, astro.RoleWorkspaceOwner, e.ciDeployerRole(t), "the lasting change stands")
	assert.Equal(t, writes, e.emu.CountRequests(astroemu.EndpointUpdateRoles), "nothing is written")
	assert.Empty(t, e.ann.all(), "an ended time-box is not announced again")
	gone, err := e.st.GetRevert(t.Context(), first[0].ID)
	require.NoError(t, err)
	assert.Equal(t, store.RevertCancelled, gone.State)
	assert.Equal(t, alice, gone.CancelledBy)
}

func TestRemovingATimeBoxedTokenEndsItsTimeBox(t *testing.T) {
	t.Parallel()
	e := newOncallEnv(t)
	e.changeOK(t, "add "+astroemu.SampleTokenTerraform+" -r operator -w Sandbox --for 1d")
	r := e.changeOK(t, "remove "+astroemu.SampleTokenTerraform+" -w Sandbox")
	assert.Contains(t, text(r), "it would have put the role back to no role at 2025-11-06 12:00 UTC.")
	pending, err := e.st.ListPendingReverts(t.Context(), astroemu.SampleTokenTerraform)
	require.NoError(t, err)
	assert.Empty(t, pending)
}

func TestTimeBoxOnTopOfAnother(t *testing.T) {
	t.Parallel()
	t.Run("LongerOneTakesOverAndPutsBackTheRoleFromBeforeBoth", func(t *testing.T) {
		t.Parallel()
		e := newOncallEnv(t)
		e.changeOK(t, "update"+ciDeployerIn+" -r operator --for 1h")
		first := e.pendingReverts(t)
		require.Len(t, first, 1)

		r := e.changeOK(t, "update"+ciDeployerIn+" -r owner --for 3h")
		assert.Contains(t, text(r), "in 3h (2025-11-05 15:00 UTC) the bot puts it back to `WORKSPACE_AUTHOR`")
		assert.Contains(t, text(r), "This takes over the earlier time-box `"+first[0].ID+"` (due 2025-11-05 13:00 UTC, before this one)")

		e.clock.Advance(90 * time.Minute)
		require.NoError(t, e.svc.ProcessDueReverts(t.Context(), "replica-a"))
		assert.Equal(t, astro.RoleWorkspaceOwner, e.ciDeployerRole(t))
		assert.Empty(t, e.ann.all(), "the shorter time-box ended quietly")

		e.clock.Advance(2 * time.Hour)
		require.NoError(t, e.svc.ProcessDueReverts(t.Context(), "replica-a"))
		assert.Equal(t, astro.RoleWorkspaceAuthor, e.ciDeployerRole(t), "no elevation outlives its time-box")
		posts := e.ann.all()
		require.Len(t, posts, 1)
		assert.Equal(t, "Time-boxed change reverted", posts[0].r.Title)
	})
	t.Run("ShorterOneNestsInsideTheLongerOne", func(t *testing.T) {
		t.Parallel()
		e := newOncallEnv(t)
		require.Equal(t, reply.Success, e.runAs(t, alice, opsChan, "update"+ciDeployerIn+" -r operator --for 3h").Tone)
		r := e.changeOK(t, "update"+ciDeployerIn+" -r owner --for 1h")
		assert.Contains(t, text(r), "the bot puts it back to `WORKSPACE_OPERATOR`")
		assert.NotContains(t, text(r), "takes over")
		assert.Len(t, e.pendingReverts(t), 2)

		e.clock.Advance(90 * time.Minute)
		require.NoError(t, e.svc.ProcessDueReverts(t.Context(), "replica-a"))
		assert.Equal(t, astro.RoleWorkspaceOperator, e.ciDeployerRole(t))
		e.clock.Advance(2 * time.Hour)
		require.NoError(t, e.svc.ProcessDueReverts(t.Context(), "replica-a"))
		assert.Equal(t, astro.RoleWorkspaceAuthor, e.ciDeployerRole(t))
		assert.Len(t, e.ann.all(), 2)
	})
}

func TestUnconfirmedChangeLeavesEarlierTimeBoxes(t *testing.T) {
	t.Parallel()
	e := newOncallEnv(t)
	require.Equal(t, reply.Success, e.runAs(t, alice, opsChan, "update"+ciDeployerIn+" -r owner --for 2h").Tone)
	lostWrite(e.emu, false, 0) // by name: no read of the token before the write
	r := e.runAs(t, alice, opsChan, "update"+ciDeployerIn+" -r operator")
	require.Equal(t, "Could not confirm whether the change was applied.", r.Title, text(r))
	assert.Len(t, e.pendingReverts(t), 1, "the change may not have landed, so the elevation must still end")

	e.clock.Advance(3 * time.Hour)
	require.NoError(t, e.svc.ProcessDueReverts(t.Context(), "replica-a"))
	assert.Equal(t, astro.RoleWorkspaceAuthor, e.ciDeployerRole(t))
}

func TestNothingToDoSaysTheRoleIsTimeBoxed(t *testing.T) {
	t.Parallel()
	e := newOncallEnv(t)
	require.Equal(t, reply.Success, e.runAs(t, alice, opsChan, "update"+ciDeployerIn+" -r owner --for 2h").Tone)
	rv := e.pendingReverts(t)
	require.Len(t, rv, 1)
	r := e.runAs(t, alice, opsChan, "update"+ciDeployerIn+" -r owner")
	assert.Equal(t, "Nothing to do", r.Title)
	assert.Contains(t, text(r), "The role is time-boxed: revert `"+rv[0].ID+"` puts it back to `WORKSPACE_AUTHOR` at 2025-11-05 14:00 UTC.")
	assert.Contains(t, text(r), "`/orgtoken revert-now "+rv[0].ID+"` ends it now")
}

// gatedLocker holds back the revert worker's lock until the test opens the gate, so that a
// change can land between the worker's claim and its write.
type gatedLocker struct {
	commands.Locker
	gate chan struct{}
}

type workerKey struct{}

func (l gatedLocker) LockToken(ctx context.Context, tokenID string) (func(), error) {
	if ctx.Value(workerKey{}) != nil {
		<-l.gate
	}
	return l.Locker.LockToken(ctx, tokenID)
}

func TestClaimedRevertDoesNotUndoALaterChange(t *testing.T) {
	t.Parallel()
	locker := gatedLocker{Locker: commands.NewKeyedLocker(), gate: make(chan struct{})}
	e := newOncallEnv(t, func(c *commands.Config) { c.Locker = locker })
	require.Equal(t, reply.Success, e.runAs(t, alice, opsChan, "update"+ciDeployerIn+" -r owner --for 2h").Tone)
	rv := e.pendingReverts(t)
	require.Len(t, rv, 1)
	e.clock.Advance(2 * time.Hour)

	worked := make(chan error)
	go func() {
		worked <- e.svc.ProcessDueReverts(context.WithValue(t.Context(), workerKey{}, true), "replica-a")
	}()
	require.Eventually(t, func() bool {
		got, err := e.st.GetRevert(t.Context(), rv[0].ID)
		return err == nil && got.LeaseOwner == "replica-a"
	}, 10*time.Second, time.Millisecond, "the worker claims the revert")

	// While the worker waits for the token, someone moves the role away and back for good.
	require.Equal(t, reply.Success, e.runAs(t, alice, opsChan, "update"+ciDeployerIn+" -r operator").Tone)
	require.Equal(t, reply.Success, e.runAs(t, alice, opsChan, "update"+ciDeployerIn+" -r owner").Tone)
	writes := e.emu.CountRequests(astroemu.EndpointUpdateRoles)
	close(locker.gate)
	require.NoError(t, <-worked)

	assert.Equal(t, astro.RoleWorkspaceOwner, e.ciDeployerRole(t), "the lasting change stands")
	assert.Equal(t, writes, e.emu.CountRequests(astroemu.EndpointUpdateRoles), "the worker writes nothing")
	assert.Empty(t, e.ann.all())
}

// schedulingFails refuses to schedule reverts once fail is set, as a store that went down.
type schedulingFails struct {
	commands.Reverts
	fail atomic.Bool
}

func (r *schedulingFails) ScheduleRevert(ctx context.Context, rv store.Revert) (store.Revert, error) {
	if r.fail.Load() {
		return store.Revert{}, errors.New("database is down")
	}
	return r.Reverts.ScheduleRevert(ctx, rv)
}

func TestEarlierTimeBoxStaysWhenTheNewOneCannotBeScheduled(t *testing.T) {
	t.Parallel()
	var reverts *schedulingFails
	e := newOncallEnv(t, func(c *commands.Config) {
		reverts = &schedulingFails{Reverts: c.Reverts}
		c.Reverts = reverts
	})
	require.Equal(t, reply.Success, e.runAs(t, alice, opsChan, "update"+ciDeployerIn+" -r operator --for 1h").Tone)
	first := e.pendingReverts(t)
	require.Len(t, first, 1)

	reverts.fail.Store(true)
	r := e.runAs(t, alice, opsChan, "update"+ciDeployerIn+" -r owner --for 3h")
	assert.Equal(t, reply.Warning, r.Tone, text(r))
	assert.Contains(t, text(r), "The bot could NOT schedule putting the role back after 3h")
	assert.NotContains(t, text(r), "takes over", "nothing has taken its place")
	assert.Equal(t, first, e.pendingReverts(t), "nothing has replaced it, so it stays")
}

func TestUnconfirmedTimeBoxOnTopPutsBackTheRoleFromBeforeBoth(t *testing.T) {
	t.Parallel()
	e := newOncallEnv(t)
	require.Equal(t, reply.Success, e.runAs(t, alice, opsChan, "update"+ciDeployerIn+" -r operator --for 1h").Tone)
	lostWrite(e.emu, true, 0)
	r := e.runAs(t, alice, opsChan, "update"+ciDeployerIn+" -r owner --for 3h")
	require.Equal(t, "Could not confirm whether the change was applied.", r.Title, text(r))
	assert.Contains(t, text(r), "if the change landed, the bot puts it back to `WORKSPACE_AUTHOR` in 3h")
	assert.Len(t, e.pendingReverts(t), 2, "the earlier one stays: the write may not have landed")

	e.clock.Advance(90 * time.Minute)
	require.NoError(t, e.svc.ProcessDueReverts(t.Context(), "replica-a"))
	assert.Equal(t, astro.RoleWorkspaceOwner, e.ciDeployerRole(t), "it landed; the earlier time-box leaves it")
	e.clock.Advance(2 * time.Hour)
	require.NoError(t, e.svc.ProcessDueReverts(t.Context(), "replica-a"))
	assert.Equal(t, astro.RoleWorkspaceAuthor, e.ciDeployerRole(t), "no elevation outlives its time-box")
}

// unlockHookLocker runs next, once, just after the next lock it hands out is released: a change
// that takes the token at the first moment it can.
type unlockHookLocker struct {
	commands.Locker
	mu   sync.Mutex
	next func()
}

func (l *unlockHookLocker) LockToken(ctx context.Context, tokenID string) (func(), error) {
	unlock, err := l.Locker.LockToken(ctx, tokenID)
	if err != nil {
		return nil, err
	}
	return func() {
		unlock()
		l.mu.Lock()
		next := l.next
		l.next = nil
		l.mu.Unlock()
		if next != nil {
			next()
		}
	}, nil
}

func TestRetryOfAnEarlyRevertIsEndedByTheNextChange(t *testing.T) {
	t.Parallel()
	locker := &unlockHookLocker{Locker: commands.NewKeyedLocker()}
	e := newOncallEnv(t, func(c *commands.Config) { c.Locker = locker })
	r := e.changeOK(t, "update"+ciDeployerIn+" -r owner --for 2h")

	// Revert now: the write lands but Astro's answer is lost, so the bot will try again; the
	// moment the token is free, someone makes OWNER lasting.
	e.emu.ScriptFaults(astroemu.EndpointUpdateRoles, astroemu.Fault{ApplyFirst: true, Status: http.StatusBadGateway})
	var lasting reply.Reply
	locker.mu.Lock()
	locker.next = func() { lasting = e.runAs(t, alice, opsChan, "update"+ciDeployerIn+" -r owner") }
	locker.mu.Unlock()
	early := e.click(t, alice, button(t, r, commands.ActionRevertNow))
	assert.Contains(t, text(early), "The bot will keep trying in the background.")
	require.Equal(t, reply.Success, lasting.Tone, text(lasting))
	assert.Contains(t, text(lasting), "This ends the earlier time-box", "the retry is ended by the lasting change")

	e.clock.Advance(time.Minute)
	require.NoError(t, e.svc.ProcessDueReverts(t.Context(), "replica-a"))
	assert.Equal(t, astro.RoleWorkspaceOwner, e.ciDeployerRole(t), "the lasting change stands")
	assert.Empty(t, e.pendingReverts(t))
}

func TestUnconfirmedTimeBoxSaysWhenEarlierOnesCouldNotBeChecked(t *testing.T) {
	t.Parallel()
	e := newOncallEnv(t, func(c *commands.Config) { c.Reverts = revertsUnreadable{c.Reverts} })
	lostWrite(e.emu, true, 0)
	r := e.runAs(t, alice, opsChan, "update"+ciDeployerIn+" -r owner --for 3h")
	require.Equal(t, "Could not confirm whether the change was applied.", r.Title, text(r))
	assert.Contains(t, text(r), "The bot could not check for earlier time-boxes of this token in this workspace (ref ")
}

// nestedTimeBoxes makes airflow-ci-deployer (WORKSPACE_AUTHOR) OPERATOR for 3h, then OWNER for
// 1h inside it, and returns the two "Revert now" buttons: outer (back to AUTHOR at +3h) and
// inner (back to OPERATOR at +1h).
func nestedTimeBoxes(t *testing.T, e *oncallEnv) (outer, inner reply.Button) {
	t.Helper()
	r := e.changeOK(t, "update"+ciDeployerIn+" -r operator --for 3h")
	outer = button(t, r, commands.ActionRevertNow)
	r = e.changeOK(t, "update"+ciDeployerIn+" -r owner --for 1h")
	inner = button(t, r, commands.ActionRevertNow)
	require.Len(t, e.pendingReverts(t), 2)
	return outer, inner
}

// runSchedule lets both time-boxes come due, as the worker would take them: the role is
// between after the inner one's end, AUTHOR after the outer one's.
func (e *oncallEnv) runSchedule(t *testing.T, between string) {
	t.Helper()
	e.clock.Advance(90 * time.Minute)
	require.NoError(t, e.svc.ProcessDueReverts(t.Context(), "replica-a"))
	assert.Equal(t, between, e.ciDeployerRole(t), "after the inner one's end")
	e.clock.Advance(2 * time.Hour)
	require.NoError(t, e.svc.ProcessDueReverts(t.Context(), "replica-a"))
	assert.Equal(t, astro.RoleWorkspaceAuthor, e.ciDeployerRole(t), "after the outer one's end")
}

func TestRevertNowOfAnOuterTimeBox(t *testing.T) {
	t.Parallel()
	t.Run("EndsTheChainItHeads", func(t *testing.T) {
		t.Parallel()
		e := newOncallEnv(t)
		outer, inner := nestedTimeBoxes(t, e)

		done := e.click(t, dora, outer)
		assert.Equal(t, "Time-boxed change reverted", done.Title, text(done))
		assert.Equal(t, astro.RoleWorkspaceAuthor, e.ciDeployerRole(t), "the role from before both, now")
		assert.Contains(t, text(done), "was `WORKSPACE_OWNER` — put back to `WORKSPACE_AUTHOR`.")
		assert.Contains(t, text(done), "This also ends the time-box `"+inner.Value+"` nested in it: it would have put the role back to `WORKSPACE_OPERATOR` at 2025-11-05 13:00 UTC.")
		assert.Equal(t, policy.Input{UserID: dora, ChannelID: opsChan, Action: policy.ActionUpdate, WorkspaceID: wsData,
			Role: astro.RoleWorkspaceAuthor, CurrentRole: astro.RoleWorkspaceOwner}, e.auth.last(), "the change actually made is the one authorized")
		assert.Empty(t, e.pendingReverts(t))
		ended, err := e.st.GetRevert(t.Context(), inner.Value)
		require.NoError(t, err)
		assert.Equal(t, store.RevertCancelled, ended.State)
		assert.Equal(t, dora, ended.CancelledBy)
		posts := e.ann.all()
		require.Len(t, posts, 1)
		assert.Contains(t, text(posts[0].r), "This also ends the time-box `"+inner.Value+"`", "the channel is told too")

		e.runSchedule(t, astro.RoleWorkspaceAuthor)
		assert.Len(t, e.ann.all(), 1, "the ended time-box ends quietly")
	})
	t.Run("StoreFailsToEndTheChain", func(t *testing.T) {
		t.Parallel()
		armed := &atomic.Bool{}
		e := newOncallEnv(t, func(c *commands.Config) { c.Reverts = endNestedFailsOnce{Reverts: c.Reverts, armed: armed} })
		outer, _ := nestedTimeBoxes(t, e)
		armed.Store(true)
		writes := e.emu.CountRequests(astroemu.EndpointUpdateRoles)

		refused := e.click(t, dora, outer)
		assert.NotEqual(t, reply.Success, refused.Tone, text(refused))
		assert.Equal(t, writes, e.emu.CountRequests(astroemu.EndpointUpdateRoles), "nothing is written")
		assert.Equal(t, astro.RoleWorkspaceOwner, e.ciDeployerRole(t))
		assert.Len(t, e.pendingReverts(t), 2, "both time-boxes end on schedule as before")
		e.runSchedule(t, astro.RoleWorkspaceOperator)
	})
	t.Run("InnerOneRevertsAsBefore", func(t *testing.T) {
		t.Parallel()
		e := newOncallEnv(t)
		outer, inner := nestedTimeBoxes(t, e)

		done := e.click(t, dora, inner)
		assert.Equal(t, "Time-boxed change reverted", done.Title, text(done))
		assert.NotContains(t, text(done), "also ends")
		assert.Equal(t, astro.RoleWorkspaceOperator, e.ciDeployerRole(t))
		pending := e.pendingReverts(t)
		require.Len(t, pending, 1)
		assert.Equal(t, outer.Value, pending[0].ID, "the outer time-box still ends the operator role")
		e.runSchedule(t, astro.RoleWorkspaceOperator)
	})
	t.Run("InnerOneBackToTheOuterOnesStartingRole", func(t *testing.T) {
		t.Parallel()
		e := newOncallEnv(t)
		r := e.runAs(t, alice, opsChan, "update"+ciDeployerIn+" -r operator --for 3h")
		outer := button(t, r, commands.ActionRevertNow)
		r = e.changeOK(t, "update"+ciDeployerIn+" -r author --for 1h")
		inner := button(t, r, commands.ActionRevertNow)

		// The role is already the one the outer time-box puts back, but the inner one would
		// bring OPERATOR back after 1h, for good.
		done := e.click(t, dora, outer)
		assert.Equal(t, "Time-boxed change ended", done.Title, text(done))
		assert.Contains(t, text(done), "This also ends the time-box `"+inner.Value+"` nested in it")
		assert.Empty(t, e.pendingReverts(t))
		e.runSchedule(t, astro.RoleWorkspaceAuthor)
	})
	t.Run("NestedOneThatWouldHaveHadNothingToDo", func(t *testing.T) {
		t.Parallel()
		e := newOncallEnv(t)
		r := e.changeOK(t, "update"+ciDeployerIn+" -r operator --for 3h")
		outer := button(t, r, commands.ActionRevertNow)
		lostWrite(e.emu, false, 0)
		r = e.runAs(t, alice, opsChan, "update"+ciDeployerIn+" -r owner --for 1h")
		require.Equal(t, "Could not confirm whether the change was applied.", r.Title, text(r))
		inner := button(t, r, commands.ActionRevertNow)
		require.Equal(t, astro.RoleWorkspaceOperator, e.ciDeployerRole(t), "the inner change did not land")

		done := e.click(t, dora, outer)
		assert.Equal(t, "Time-boxed change reverted", done.Title, text(done))
		assert.Equal(t, astro.RoleWorkspaceAuthor, e.ciDeployerRole(t))
		assert.Contains(t, text(done), "This also ends the time-box `"+inner.Value+"` nested in it, due at 2025-11-05 13:00 UTC: it would have had nothing to do.")
		assert.NotContains(t, text(done), "would have put the role back")
		ended, err := e.st.GetRevert(t.Context(), inner.Value)
		require.NoError(t, err)
		assert.Equal(t, store.RevertCancelled, ended.State)
		assert.Equal(t, "ended early with "+outer.Value+", the time-box it was nested in; it would have had nothing to do", ended.Outcome)
		e.runSchedule(t, astro.RoleWorkspaceAuthor)
	})
	t.Run("FailedWriteIsRetriedFromTheCurrentRole", func(t *testing.T) {
		t.Parallel()
		e := newOncallEnv(t)
		outer, inner := nestedTimeBoxes(t, e)
		e.emu.ScriptFaults(astroemu.EndpointUpdateRoles, astroemu.Fault{Status: http.StatusServiceUnavailable})

		early := e.click(t, dora, outer)
		assert.Equal(t, "Could not put a token's role back yet", early.Title, text(early))
		assert.Contains(t, text(early), "The bot will keep trying in the background.")
		assert.Contains(t, text(early), "This also ends the time-box `"+inner.Value+"` nested in it")
		assert.Equal(t, astro.RoleWorkspaceOwner, e.ciDeployerRole(t))
		retry := e.pendingReverts(t)
		require.Len(t, retry, 1, "only the retry is left")
		assert.Equal(t, astro.RoleWorkspaceOwner, retry[0].ExpectedRole, "it undoes the role there is now")
		assert.Equal(t, astro.RoleWorkspaceAuthor, retry[0].RevertTo)

		e.clock.Advance(time.Minute)
		require.NoError(t, e.svc.ProcessDueReverts(t.Context(), "replica-a"))
		assert.Equal(t, astro.RoleWorkspaceAuthor, e.ciDeployerRole(t))
		e.runSchedule(t, astro.RoleWorkspaceAuthor)
	})
	t.Run("ChangeOutsideTheBotIsReportedNotOverwritten", func(t *testing.T) {
		t.Parallel()
		e := newOncallEnv(t)
		outer, inner := nestedTimeBoxes(t, e)
		e.setRoleOutside(t, astroemu.SampleTokenCIDeployer, wsData, astro.RoleWorkspaceMember)
		writes := e.emu.CountRequests(astroemu.EndpointUpdateRoles)

		done := e.click(t, dora, outer)
		assert.Equal(t, "Time-boxed change not reverted: the role was changed since", done.Title, text(done))
		assert.Equal(t, astro.RoleWorkspaceMember, e.ciDeployerRole(t))
		assert.Equal(t, writes, e.emu.CountRequests(astroemu.EndpointUpdateRoles), "nothing is written")
		pending := e.pendingReverts(t)
		require.Len(t, pending, 1)
		assert.Equal(t, inner.Value, pending[0].ID, "the inner one is left to report on its own")
	})
	t.Run("PolicyRefusingTheChangeFromTheCurrentRoleRefusesTheClick", func(t *testing.T) {
		t.Parallel()
		auth := commands.AuthorizerFunc(func(_ context.Context, in policy.Input) (policy.Decision, error) {
			if in.CurrentRole == astro.RoleWorkspaceOwner && in.Role == astro.RoleWorkspaceAuthor {
				return policy.Decision{Reason: "owners are demoted by admins"}, nil
			}
			return policy.Decision{Allowed: true}, nil
		})
		e := newOncallEnv(t, func(c *commands.Config) { c.Authorizer = auth })
		outer, _ := nestedTimeBoxes(t, e)
		writes := e.emu.CountRequests(astroemu.EndpointUpdateRoles)

		denied := e.click(t, dora, outer)
		assert.Equal(t, "You are not allowed to do this.", denied.Title, text(denied))
		assert.Equal(t, astro.RoleWorkspaceOwner, e.ciDeployerRole(t))
		assert.Equal(t, writes, e.emu.CountRequests(astroemu.EndpointUpdateRoles), "nothing is written")
		assert.Len(t, e.pendingReverts(t), 2, "both still end on schedule")
		assert.Empty(t, e.ann.all())
	})
	t.Run("ConfirmationNamesTheChangeFromTheCurrentRole", func(t *testing.T) {
		t.Parallel()
		e := newOncallEnv(t)
		outer, _ := nestedTimeBoxes(t, e)
		e.auth.mu.Lock()
		e.auth.decision = policy.Decision{Allowed: true, Confirm: true}
		e.auth.mu.Unlock()

		asked := e.click(t, dora, outer)
		c := confirmOf(t, asked)
		assert.Contains(t, text(asked), "from `WORKSPACE_OWNER` to `WORKSPACE_AUTHOR`")
		assert.Equal(t, astro.RoleWorkspaceOwner, e.ciDeployerRole(t), "nothing changes on the click")
		assert.Len(t, e.pendingReverts(t), 2)

		done := e.svc.Run(t.Context(), commands.Request{UserID: dora, ChannelID: opsChan, Text: c.Text, ConfirmedName: "airflow-ci-deployer"})
		assert.Equal(t, "Time-boxed change reverted", done.Title, text(done))
		assert.Equal(t, astro.RoleWorkspaceAuthor, e.ciDeployerRole(t))
		assert.Empty(t, e.pendingReverts(t))
	})
}

// claimOrder hands out due reverts of the same moment in the order they were scheduled, or the
// reverse, where the store orders them by their random IDs: which of two comes first is then
// up to the test.
type claimOrder struct {
	commands.Reverts
	newestFirst bool
}

func (c claimOrder) ClaimDueReverts(ctx context.Context, now time.Time, owner string, lease time.Duration) ([]store.Revert, error) {
	due, err := c.Reverts.ClaimDueReverts(ctx, now, owner, lease)
	slices.SortStableFunc(due, func(a, b store.Revert) int {
		if n := a.DueAt.Compare(b.DueAt); n != 0 {
			return n
		}
		if c.newestFirst {
			return b.CreatedAt.Compare(a.CreatedAt)
		}
		return a.CreatedAt.Compare(b.CreatedAt)
	})
	return due, err
}

// sameMomentTimeBoxes makes airflow-ci-deployer (WORKSPACE_AUTHOR) OPERATOR for 3h, then an hour
// later OWNER for 2h while the bot cannot read the token's pending reverts, so that the second
// does not take over the first but nests in it: both end at 15:00, the inner one back to
// OPERATOR, the outer one back to AUTHOR.
func sameMomentTimeBoxes(t *testing.T, e *oncallEnv) (outer, inner reply.Button) {
	t.Helper()
	r := e.changeOK(t, "update"+ciDeployerIn+" -r operator --for 3h")
	outer = button(t, r, commands.ActionRevertNow)
	e.clock.Advance(time.Hour)
	cfg := e.cfg
	cfg.Reverts = revertsUnreadable{cfg.Reverts}
	blind, err := commands.New(cfg)
	require.NoError(t, err)
	r = blind.Run(t.Context(), commands.Request{UserID: alice, ChannelID: opsChan, Text: "update" + ciDeployerIn + " -r owner --for 2h"})
	checkRenders(t, r)
	require.Contains(t, text(r), "The bot could not check for earlier time-boxes", text(r))
	inner = button(t, r, commands.ActionRevertNow)
	pending := e.pendingReverts(t)
	require.Len(t, pending, 2)
	require.True(t, pending[0].DueAt.Equal(pending[1].DueAt), "both end at the same moment")
	return outer, inner
}

func TestOuterTimeBoxEndsWhileANestedOneIsPending(t *testing.T) {
	t.Parallel()
	// unavailable makes Astro refuse the next role write.
	unavailable := func(e *oncallEnv) {
		e.emu.ScriptFaults(astroemu.EndpointUpdateRoles, astroemu.Fault{Status: http.StatusServiceUnavailable})
	}
	// innerEndRefused lets the nested time-box fall due while Astro refuses its write.
	innerEndRefused := func(t *testing.T, e *oncallEnv) {
		t.Helper()
		e.clock.Advance(90 * time.Minute)
		unavailable(e)
		require.NoError(t, e.svc.ProcessDueReverts(t.Context(), "replica-a"))
	}
	t.Run("NestedOneKeepsFailing", func(t *testing.T) {
		t.Parallel()
		e := newOncallEnv(t)
		outer, inner := nestedTimeBoxes(t, e)
		innerEndRefused(t, e)
		require.Equal(t, astro.RoleWorkspaceOwner, e.ciDeployerRole(t), "the inner one's end failed")

		// When the outer one falls due, the inner one's retry fails again; the outer one's write
		// goes through.
		e.clock.Advance(2 * time.Hour)
		unavailable(e)
		require.NoError(t, e.svc.ProcessDueReverts(t.Context(), "replica-a"))
		assert.Equal(t, astro.RoleWorkspaceAuthor, e.ciDeployerRole(t), "the role from before both")
		posts := e.ann.all()
		require.Len(t, posts, 1)
		assert.Equal(t, "Time-boxed change reverted", posts[0].r.Title, text(posts[0].r))
		assert.Contains(t, text(posts[0].r), "was `WORKSPACE_OWNER` — put back to `WORKSPACE_AUTHOR`.")
		assert.Contains(t, text(posts[0].r), "This also ends the time-box `"+inner.Value+"` nested in it, due at 2025-11-05 13:00 UTC but not carried out yet: it would have put the role back to `WORKSPACE_OPERATOR`.")
		assert.Empty(t, e.pendingReverts(t))
		ended, err := e.st.GetRevert(t.Context(), inner.Value)
		require.NoError(t, err)
		assert.Equal(t, store.RevertCancelled, ended.State)
		assert.Equal(t, "ended with "+outer.Value+", the time-box it was nested in", ended.Outcome)
		audit, err := e.st.ListAudit(t.Context(), store.AuditFilter{TokenID: astroemu.SampleTokenCIDeployer})
		require.NoError(t, err)
		last := audit[len(audit)-1]
		assert.Equal(t, []string{"revert.done", astro.RoleWorkspaceOwner, astro.RoleWorkspaceAuthor}, []string{last.Action, last.Before, last.After})
		assert.Contains(t, last.Detail, "ended nested "+inner.Value)

		e.clock.Advance(time.Hour)
		require.NoError(t, e.svc.ProcessDueReverts(t.Context(), "replica-a"))
		assert.Equal(t, astro.RoleWorkspaceAuthor, e.ciDeployerRole(t), "nothing brings the elevation back")
		assert.Len(t, e.ann.all(), 1)
	})
	t.Run("NestedOneBackToTheOuterOnesStartingRole", func(t *testing.T) {
		t.Parallel()
		e := newOncallEnv(t)
		require.Equal(t, reply.Success, e.runAs(t, alice, opsChan, "update"+ciDeployerIn+" -r operator --for 3h").Tone)
		r := e.changeOK(t, "update"+ciDeployerIn+" -r author --for 1h")
		inner := button(t, r, commands.ActionRevertNow)
		innerEndRefused(t, e)
		e.clock.Advance(2 * time.Hour)
		unavailable(e)
		writes := e.emu.CountRequests(astroemu.EndpointUpdateRoles)

		// The role already is the one the outer time-box puts back, but the inner one would
		// bring OPERATOR back, for good.
		require.NoError(t, e.svc.ProcessDueReverts(t.Context(), "replica-a"))
		assert.Equal(t, writes+1, e.emu.CountRequests(astroemu.EndpointUpdateRoles), "only the inner one's failed attempt writes")
		posts := e.ann.all()
		require.Len(t, posts, 1)
		assert.Equal(t, "Time-boxed change ended", posts[0].r.Title, text(posts[0].r))
		assert.Contains(t, text(posts[0].r), "This also ends the time-box `"+inner.Value+"` nested in it")
		assert.Empty(t, e.pendingReverts(t))

		e.clock.Advance(time.Hour)
		require.NoError(t, e.svc.ProcessDueReverts(t.Context(), "replica-a"))
		assert.Equal(t, astro.RoleWorkspaceAuthor, e.ciDeployerRole(t))
	})
	t.Run("OuterWriteLandsUnseen", func(t *testing.T) {
		t.Parallel()
		e := newOncallEnv(t)
		_, inner := nestedTimeBoxes(t, e)
		innerEndRefused(t, e)
		// The outer one's end: the inner one's retry is refused; the outer one's write lands,
		// but its answer is lost.
		e.clock.Advance(2 * time.Hour)
		e.emu.ScriptFaults(astroemu.EndpointUpdateRoles, astroemu.Fault{Status: http.StatusServiceUnavailable},
			astroemu.Fault{ApplyFirst: true, Status: http.StatusBadGateway})
		require.NoError(t, e.svc.ProcessDueReverts(t.Context(), "replica-a"))
		e.clock.Advance(5 * time.Minute)
		require.NoError(t, e.svc.ProcessDueReverts(t.Context(), "replica-a"))
		assert.Equal(t, astro.RoleWorkspaceAuthor, e.ciDeployerRole(t))
		assert.Empty(t, e.pendingReverts(t))
		posts := e.ann.all()
		require.NotEmpty(t, posts)
		for _, p := range posts {
			assert.NotEqual(t, "Time-boxed change not reverted: the role was changed since", p.r.Title,
				"the bot made that change itself: %s", text(p.r))
		}
		ended, err := e.st.GetRevert(t.Context(), inner.Value)
		require.NoError(t, err)
		assert.Equal(t, store.RevertCancelled, ended.State, "ended with the outer one")
	})
	t.Run("StoreFailsToEndTheNestedOnes", func(t *testing.T) {
		t.Parallel()
		armed := &atomic.Bool{}
		e := newOncallEnv(t, func(c *commands.Config) { c.Reverts = endNestedFailsOnce{Reverts: c.Reverts, armed: armed} })
		nestedTimeBoxes(t, e)
		innerEndRefused(t, e)
		// The outer one's end: the inner one's retry is refused, and the store fails to end it.
		e.clock.Advance(2 * time.Hour)
		armed.Store(true)
		unavailable(e)
		writes := e.emu.CountRequests(astroemu.EndpointUpdateRoles)
		require.NoError(t, e.svc.ProcessDueReverts(t.Context(), "replica-a"))
		assert.Equal(t, writes+1, e.emu.CountRequests(astroemu.EndpointUpdateRoles), "only the inner one's refused attempt: nothing written for the outer one")
		require.Len(t, e.pendingReverts(t), 2, "nothing ended, nothing retargeted")
		e.clock.Advance(5 * time.Minute)
		require.NoError(t, e.svc.ProcessDueReverts(t.Context(), "replica-a"))
		assert.Equal(t, astro.RoleWorkspaceAuthor, e.ciDeployerRole(t), "the role from before both")
		assert.Empty(t, e.pendingReverts(t))
	})
	t.Run("NestedOneEndedInAFailedAttemptIsAudited", func(t *testing.T) {
		t.Parallel()
		e := newOncallEnv(t)
		_, inner := nestedTimeBoxes(t, e)
		innerEndRefused(t, e)
		e.clock.Advance(2 * time.Hour)
		e.emu.ScriptFaults(astroemu.EndpointUpdateRoles, astroemu.Fault{Status: http.StatusServiceUnavailable},
			astroemu.Fault{Status: http.StatusServiceUnavailable})
		require.NoError(t, e.svc.ProcessDueReverts(t.Context(), "replica-a"))
		e.clock.Advance(5 * time.Minute)
		require.NoError(t, e.svc.ProcessDueReverts(t.Context(), "replica-a"))
		require.Equal(t, astro.RoleWorkspaceAuthor, e.ciDeployerRole(t))
		audit, err := e.st.ListAudit(t.Context(), store.AuditFilter{TokenID: astroemu.SampleTokenCIDeployer})
		require.NoError(t, err)
		var endedInner []string
		for _, a := range audit {
			if a.Action == "revert.ended" {
				endedInner = append(endedInner, a.Detail)
			}
		}
		require.Len(t, endedInner, 1)
		assert.Contains(t, endedInner[0], "revert "+inner.Value+": ended with ")
	})
	t.Run("RetryOfANestedOneEndedEarlyByHand", func(t *testing.T) {
		t.Parallel()
		e := newOncallEnv(t)
		_, inner := nestedTimeBoxes(t, e)
		innerEndRefused(t, e)
		// Past the outer one's end, before the worker's next pass, with Astro still refusing,
		// someone ends the inner one by hand; its retry is handed to the worker.
		e.clock.Advance(2 * time.Hour)
		require.Len(t, e.pendingReverts(t), 2)
		unavailable(e)
		early := e.click(t, dora, inner)
		require.Contains(t, text(early), "The bot will keep trying in the background.", text(early))
		e.clock.Advance(time.Minute) // Astro is back
		require.NoError(t, e.svc.ProcessDueReverts(t.Context(), "replica-a"))
		e.clock.Advance(time.Hour)
		require.NoError(t, e.svc.ProcessDueReverts(t.Context(), "replica-a"))
		assert.Empty(t, e.pendingReverts(t))
		assert.Equal(t, astro.RoleWorkspaceAuthor, e.ciDeployerRole(t), "the role from before both time-boxes")
	})
	t.Run("ChangeOutsideTheBotIsStillReported", func(t *testing.T) {
		t.Parallel()
		e := newOncallEnv(t)
		_, inner := nestedTimeBoxes(t, e)
		innerEndRefused(t, e)
		e.setRoleOutside(t, astroemu.SampleTokenCIDeployer, wsData, astro.RoleWorkspaceMember)
		writes := e.emu.CountRequests(astroemu.EndpointUpdateRoles)

		e.clock.Advance(2 * time.Hour)
		require.NoError(t, e.svc.ProcessDueReverts(t.Context(), "replica-a"))
		assert.Equal(t, astro.RoleWorkspaceMember, e.ciDeployerRole(t))
		assert.Equal(t, writes, e.emu.CountRequests(astroemu.EndpointUpdateRoles), "nothing is written")
		posts := e.ann.all()
		require.Len(t, posts, 2)
		for _, p := range posts {
			assert.Equal(t, "Time-boxed change not reverted: the role was changed since", p.r.Title, text(p.r))
			assert.NotContains(t, text(p.r), "nested")
		}
		gone, err := e.st.GetRevert(t.Context(), inner.Value)
		require.NoError(t, err)
		assert.Equal(t, store.RevertDone, gone.State, "the inner one reported on its own")
	})
	t.Run("BothDueInOnePass", func(t *testing.T) {
		t.Parallel()
		e := newOncallEnv(t)
		nestedTimeBoxes(t, e)
		e.clock.Advance(4 * time.Hour)
		require.NoError(t, e.svc.ProcessDueReverts(t.Context(), "replica-a"))
		assert.Equal(t, astro.RoleWorkspaceAuthor, e.ciDeployerRole(t))
		posts := e.ann.all()
		require.Len(t, posts, 2, "the inner one, then the outer one")
		for _, p := range posts {
			assert.Equal(t, "Time-boxed change reverted", p.r.Title, text(p.r))
			assert.NotContains(t, text(p.r), "nested")
		}
	})
	for _, newestFirst := range []bool{false, true} {
		name := map[bool]string{false: "SameMomentOuterTakenFirst", true: "SameMomentInnerTakenFirst"}[newestFirst]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newOncallEnv(t, func(c *commands.Config) { c.Reverts = claimOrder{Reverts: c.Reverts, newestFirst: newestFirst} })
			_, inner := sameMomentTimeBoxes(t, e)
			e.clock.Advance(3 * time.Hour)
			require.NoError(t, e.svc.ProcessDueReverts(t.Context(), "replica-a"))
			assert.Equal(t, astro.RoleWorkspaceAuthor, e.ciDeployerRole(t), "the role from before both")
			assert.Empty(t, e.pendingReverts(t))
			posts := e.ann.all()
			if newestFirst {
				require.Len(t, posts, 2, "the inner one, then the outer one")
				assert.NotContains(t, text(posts[0].r), "nested")
				return
			}
			require.Len(t, posts, 1)
			assert.Contains(t, text(posts[0].r), "This also ends the time-box `"+inner.Value+"` nested in it")
		})
	}
}

// endNestedFailsOnce fails the store's ending of nested time-boxes (by the worker or by
// revert-now) once it is armed.
type endNestedFailsOnce struct {
	commands.Reverts
	armed *atomic.Bool
}

func (r endNestedFailsOnce) CancelRevertAndNested(ctx context.Context, id, by string, nested []store.NestedEnd) ([]string, error) {
	if r.armed.CompareAndSwap(true, false) {
		return nil, errors.New("database is busy")
	}
	return r.Reverts.CancelRevertAndNested(ctx, id, by, nested)
}

func (r endNestedFailsOnce) EndNestedReverts(ctx context.Context, id, expectedRole, by string, nested []store.NestedEnd) ([]string, error) {
	if r.armed.CompareAndSwap(true, false) {
		return nil, errors.New("database is busy")
	}
	return r.Reverts.EndNestedReverts(ctx, id, expectedRole, by, nested)
}

// scheduleFailsOnce fails the store's scheduling of a revert once it is armed.
type scheduleFailsOnce struct {
	commands.Reverts
	armed *atomic.Bool
}

func (r scheduleFailsOnce) ScheduleRevert(ctx context.Context, rv store.Revert) (store.Revert, error) {
	if r.armed.CompareAndSwap(true, false) {
		return store.Revert{}, errors.New("database is busy")
	}
	return r.Reverts.ScheduleRevert(ctx, rv)
}

// A *Revert now* whose write fails and whose retry cannot be stored leaves nothing to end the
// elevation: the user is told to put the role back by hand, not that the bot will keep trying.
func TestRevertNowThatCannotBeHandedBackSaysSo(t *testing.T) {
	t.Parallel()
	armed := &atomic.Bool{}
	e := newOncallEnv(t, func(c *commands.Config) { c.Reverts = scheduleFailsOnce{Reverts: c.Reverts, armed: armed} })
	outer, _ := nestedTimeBoxes(t, e)
	armed.Store(true)
	e.emu.ScriptFaults(astroemu.EndpointUpdateRoles, astroemu.Fault{Status: http.StatusServiceUnavailable})

	r := e.click(t, dora, outer)
	require.Empty(t, e.pendingReverts(t))
	assert.NotContains(t, text(r), "The bot will keep trying in the background.")
	assert.Contains(t, text(r), "The bot could NOT hand this back to its revert worker")
	assert.Contains(t, text(r), "put back `WORKSPACE_AUTHOR` by hand once Astro answers")
	assert.Equal(t, reply.Warning, r.Tone)
}

// A revert whose answer was lost has been carried out by the bot: the next attempt, finding the
// role put back, says so rather than that nothing needed changing.
func TestRevertLostAnswerReportedAsNothingToDo(t *testing.T) {
	t.Parallel()
	e := newOncallEnv(t)
	e.changeOK(t, "update"+ciDeployerIn+" -r owner --for 1h")
	e.clock.Advance(61 * time.Minute)
	e.emu.ScriptFaults(astroemu.EndpointUpdateRoles, astroemu.Fault{ApplyFirst: true, Status: http.StatusBadGateway})
	require.NoError(t, e.svc.ProcessDueReverts(t.Context(), "a"))
	require.Equal(t, astro.RoleWorkspaceAuthor, e.ciDeployerRole(t))
	e.clock.Advance(3 * time.Minute)
	require.NoError(t, e.svc.ProcessDueReverts(t.Context(), "a"))
	posts := e.ann.all()
	require.Len(t, posts, 1)
	assert.NotContains(t, text(posts[0].r), "nothing needed changing")

	assert.Equal(t, "Time-boxed change reverted", posts[0].r.Title)
	assert.Contains(t, text(posts[0].r), "was `WORKSPACE_OWNER` — put back to `WORKSPACE_AUTHOR`.")
	assert.Contains(t, text(posts[0].r), "Astro's answer to an earlier attempt was lost; reading the token back shows the role put back.")
	entries, err := e.st.ListAudit(t.Context(), store.AuditFilter{TokenID: astroemu.SampleTokenCIDeployer, Newest: true, Limit: 1})
	require.NoError(t, err)
	require.Len(t, entries, 1)
	assert.Equal(t, []string{"revert.done", astro.RoleWorkspaceOwner, astro.RoleWorkspaceAuthor},
		[]string{entries[0].Action, entries[0].Before, entries[0].After})
}

// A *Revert now* whose answer was lost is handed back to the worker remembering that its write
// may have landed: the worker, finding the role put back, reports the revert done.
func TestRevertNowLostAnswerIsReportedDoneByTheWorker(t *testing.T) {
	t.Parallel()
	e := newOncallEnv(t)
	r := e.changeOK(t, "update"+ciDeployerIn+" -r owner --for 2h")
	e.emu.ScriptFaults(astroemu.EndpointUpdateRoles, astroemu.Fault{ApplyFirst: true, Status: http.StatusBadGateway})
	early := e.click(t, dora, button(t, r, commands.ActionRevertNow))
	require.Contains(t, text(early), "The bot will keep trying in the background.", text(early))
	require.Equal(t, astro.RoleWorkspaceAuthor, e.ciDeployerRole(t))
	retry := e.pendingReverts(t)
	require.Len(t, retry, 1)
	assert.True(t, retry[0].MayHaveWritten)

	require.NoError(t, e.svc.ProcessDueReverts(t.Context(), "a"))
	posts := e.ann.all()
	require.Len(t, posts, 1)
	assert.Equal(t, "Time-boxed change reverted", posts[0].r.Title, text(posts[0].r))
	assert.Empty(t, e.pendingReverts(t))
}

// A write Astro refused did not land: a role found put back at the next attempt is someone
// else's doing, and told as such.
func TestRevertRefusedThenFoundBackIsNothingToDo(t *testing.T) {
	t.Parallel()
	e := newOncallEnv(t)
	e.changeOK(t, "update"+ciDeployerIn+" -r owner --for 1h")
	e.clock.Advance(61 * time.Minute)
	e.emu.ScriptFaults(astroemu.EndpointUpdateRoles, astroemu.Fault{Status: http.StatusBadRequest})
	require.NoError(t, e.svc.ProcessDueReverts(t.Context(), "a"))
	require.Equal(t, astro.RoleWorkspaceOwner, e.ciDeployerRole(t))
	e.setRoleOutside(t, astroemu.SampleTokenCIDeployer, wsData, astro.RoleWorkspaceAuthor)
	e.clock.Advance(3 * time.Minute)
	require.NoError(t, e.svc.ProcessDueReverts(t.Context(), "a"))
	posts := e.ann.all()
	require.Len(t, posts, 1)
	assert.Contains(t, text(posts[0].r), "nothing needed changing")
}

// A token whose lock is never let go (a hung holder, another replica cut off while its session
// lives on) must not hold up other tokens' reverts: the worker waits for it a bounded time, then
// hands its revert back untried, neither counting the claim as an attempt nor ever giving up on
// it, and carries it out on a pass once the lock is free.
func TestStuckTokenLockDoesNotHoldUpOtherReverts(t *testing.T) {
	t.Parallel()
	locker := commands.NewKeyedLocker()
	e := newOncallEnv(t, func(c *commands.Config) { c.Locker = locker })
	commands.SetWorkerLockWait(e.svc, 20*time.Millisecond)
	e.changeOK(t, "update"+ciDeployerIn+" -r owner --for 2h")
	e.clock.Advance(time.Minute) // the stuck token's revert falls due first
	e.changeOK(t, "add "+astroemu.SampleTokenTerraform+" -r member --workspace sandbox --for 2h")
	stuck := e.pendingReverts(t)
	require.Len(t, stuck, 1)
	e.clock.Advance(2 * time.Hour)

	unlock, err := locker.LockToken(t.Context(), astroemu.SampleTokenCIDeployer)
	require.NoError(t, err)
	defer unlock()
	pass := func() {
		t.Helper()
		worked := make(chan error, 1)
		go func() { worked <- e.svc.ProcessDueReverts(t.Context(), "replica-a") }()
		select {
		case err := <-worked:
			require.NoError(t, err)
		case <-time.After(10 * time.Second):
			unlock()
			<-worked
			t.Fatal("the revert worker waits for the stuck token's lock without end")
		}
	}
	for range 7 { // more passes than a revert has attempts
		pass()
	}
	assert.Empty(t, e.roleIn(t, astroemu.SampleTokenTerraform, wsSand), "the other token's revert is carried out")
	require.Len(t, e.ann.all(), 1, "and announced")
	assert.Equal(t, astro.RoleWorkspaceOwner, e.ciDeployerRole(t))
	got, err := e.st.GetRevert(t.Context(), stuck[0].ID)
	require.NoError(t, err)
	assert.Equal(t, store.RevertPending, got.State, "the stuck token's revert waits for a later pass")
	assert.Zero(t, got.Attempts, "skipping it costs no attempt")

	unlock()
	pass()
	assert.Equal(t, astro.RoleWorkspaceAuthor, e.ciDeployerRole(t), "carried out once the lock is free")
	got, err = e.st.GetRevert(t.Context(), stuck[0].ID)
	require.NoError(t, err)
	assert.Equal(t, store.RevertDone, got.State)
	assert.Equal(t, 1, got.Attempts)
	require.Len(t, e.ann.all(), 2)
}
