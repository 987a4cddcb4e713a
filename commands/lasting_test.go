package commands_test

import (
	"context"
	"errors"
	"strings"
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

// A lasting change ends the token's time-boxes there, so it is also decided as the change it
// really is, from the role they lead back to: but only a raise from there. These pin both sides.

func policyEnv(t *testing.T, yaml string) *oncallEnv {
	t.Helper()
	p, err := policy.Parse([]byte(yaml), "p.yaml")
	require.NoError(t, err)
	return newOncallEnv(t, func(c *commands.Config) { c.Authorizer = &policyAuth{p: p} })
}

const downgradePolicy = `
rules:
  - actions: [list, show]
    who: everyone
  - actions: [add, update, remove]
    who: [U0ADMIN01]
  - actions: [update]
    direction: [downgrade]
    who: everyone
  - actions: [remove]
    direction: [revoke]
    who: everyone
`

// Ending an elevation for good at the role it would go back to is what its revert does anyway.
func TestLastingChangeToWhereTheTimeBoxLeadsIsAllowed(t *testing.T) {
	t.Parallel()
	e := policyEnv(t, downgradePolicy)
	r := e.runAs(t, admin, opsChan, "update"+ciDeployerIn+" -r owner --for 2h")
	require.Equal(t, astro.RoleWorkspaceOwner, e.ciDeployerRole(t), text(r))
	ex := e.runAs(t, alice, opsChan, "explain update"+ciDeployerIn+" -r author")
	assert.Equal(t, "You may do this directly.", ex.Title, text(ex))
	e.changeOK(t, "update"+ciDeployerIn+" -r author")
	assert.Equal(t, astro.RoleWorkspaceAuthor, e.ciDeployerRole(t))
}

// A token added time-boxed may be removed early by whoever may revoke.
func TestRemovingATimeBoxedAddIsAllowed(t *testing.T) {
	t.Parallel()
	e := policyEnv(t, downgradePolicy)
	const in = " -n airflow-ci-deployer -w Sandbox"
	r := e.runAs(t, admin, opsChan, "add"+in+" -r operator --for 2h")
	require.Equal(t, reply.Success, r.Tone, text(r))
	ex := e.runAs(t, alice, opsChan, "explain remove"+in)
	assert.Equal(t, "You may do this directly.", ex.Title, text(ex))
	e.changeOK(t, "remove"+in)
	assert.Empty(t, e.roleIn(t, astroemu.SampleTokenCIDeployer, astroemu.SampleWorkspaceSandbox))
}

// The change it really is may need an approval or a typed confirmation the change as typed does
// not: they are asked for.
func TestLastingChangeAsksWhatTheChangeItReallyIsNeeds(t *testing.T) {
	t.Parallel()
	const head = `
groups:
  approvers: [U0BOB0001, U0CAROL01]
rules:
  - actions: [list, show]
    who: everyone
  - actions: [add, update, remove]
    who: [U0ADMIN01]
  - actions: [update]
    direction: [downgrade]
    who: everyone
  - actions: [add, update]
    direction: [grant, upgrade]
    who: everyone
`
	t.Run("Approval", func(t *testing.T) {
		t.Parallel()
		e := policyEnv(t, head+"    approval: { approvers: [approvers], channel: C0APPROVE }\n")
		r := e.runAs(t, admin, opsChan, "update"+ciDeployerIn+" -r owner --for 1h")
		require.Equal(t, astro.RoleWorkspaceOwner, e.ciDeployerRole(t), text(r))
		ex := e.runAs(t, alice, opsChan, "explain update"+ciDeployerIn+" -r operator")
		assert.Equal(t, "You may ask for this; it needs approval.", ex.Title, text(ex))
		r = e.runAs(t, alice, opsChan, "update"+ciDeployerIn+" -r operator")
		assert.Equal(t, "Approval needed", r.Title, text(r))
		assert.Equal(t, astro.RoleWorkspaceOwner, e.ciDeployerRole(t))
	})
	t.Run("Confirm", func(t *testing.T) {
		t.Parallel()
		e := policyEnv(t, head+"    confirm: true\n")
		r := e.runAs(t, admin, opsChan, "update"+ciDeployerIn+" -r owner --for 1h")
		require.Equal(t, astro.RoleWorkspaceOwner, e.ciDeployerRole(t), text(r))
		r = e.runAs(t, alice, opsChan, "update"+ciDeployerIn+" -r operator")
		assert.Equal(t, reply.Warning, r.Tone, text(r))
		assert.Equal(t, astro.RoleWorkspaceOwner, e.ciDeployerRole(t), "not written before the typed confirmation")
	})
}

// An approved lasting request is decided again as the change it now is: the token may have
// been time-boxed since to the role it had when asked.
func TestApprovedLastingRequestIsDecidedAsTheChangeItNowIs(t *testing.T) {
	t.Parallel()
	e := approvalsUnder(t, `
groups:
  approvers: [U0BOB0001, U0CAROL01]
  admins: [U0ADMIN01]
rules:
  - actions: [list, show]
    who: everyone
  - actions: [add, update, remove]
    who: [admins]
  - actions: [update]
    direction: [downgrade]
    who: everyone
    approval: { approvers: [approvers], channel: C0APPROVE, expires_after: 24h }
`)
	tok, in := astroemu.SampleTokenCIDeployer, deployerIn
	e.adminSets(t, "owner", astro.RoleWorkspaceOwner)
	id := e.request(t, alice, "update"+in+" -r operator")
	e.adminSets(t, "member", astro.RoleWorkspaceMember)
	e.adminSets(t, "owner --for 1h", astro.RoleWorkspaceOwner)
	require.Equal(t, store.StatePending, e.state(t, id).State)

	e.click(t, bob, commands.ActionApprove, id)
	assert.Equal(t, astro.RoleWorkspaceOwner, e.roleIn(t, tok, wsData), "a lasting MEMBER->OPERATOR raise alice may not make is not written")
	got := e.state(t, id)
	assert.Equal(t, store.StateStale, got.State)
	assert.Contains(t, got.Result, "the token's time-boxes changed what this change is")
}

// team approves downgrades (one approval); sec approves raises (two).
const teamAndSecPolicy = `
groups:
  team: [U0BOB0001, U0MALLORY]
  sec: [U0CAROL01, U0DAVE001, U0MALLORY]
  admins: [U0ADMIN01]
rules:
  - actions: [list, show]
    who: everyone
  - actions: [add, update, remove]
    who: [admins]
  - actions: [update]
    direction: [downgrade]
    who: everyone
    approval: { approvers: [team], channel: C0APPROVE, expires_after: 24h }
  - actions: [add, update]
    direction: [grant, upgrade]
    who: everyone
    approval: { approvers: [sec], count: 2, channel: C0APPROVE, expires_after: 24h }
`

// A request opened under the approval of the raise a lasting change really is is re-checked
// the same way at each click, so the approvers it names can approve it.
func TestRequestOpenedUnderTheRaisesApprovalCanBeApproved(t *testing.T) {
	t.Parallel()
	e := approvalsUnder(t, teamAndSecPolicy)
	tok, in := astroemu.SampleTokenCIDeployer, deployerIn
	e.adminSets(t, "owner --for 1h", astro.RoleWorkspaceOwner)

	id := e.request(t, alice, "update"+in+" -r operator")
	got := e.state(t, id)
	require.Equal(t, []string{"sec"}, got.ApproverGroups, "opened under the raise's approval")
	require.Equal(t, 2, got.ApprovalsNeeded)

	r := e.click(t, carol, commands.ActionApprove, id)
	require.Equal(t, store.StatePending, e.state(t, id).State, text(r))
	r = e.click(t, dave, commands.ActionApprove, id)
	got = e.state(t, id)
	assert.Equal(t, store.StateApplied, got.State, "%s / %s", text(r), got.Result)
	assert.Equal(t, astro.RoleWorkspaceOperator, e.roleIn(t, tok, wsData))
}

// A lasting request approved under the typed change's approval is not applied once the token's
// time-boxes make it a raise needing more.
func TestApprovedLastingRequestNeedsTheRaisesApproval(t *testing.T) {
	t.Parallel()
	e := approvalsUnder(t, teamAndSecPolicy)
	tok, in := astroemu.SampleTokenCIDeployer, deployerIn
	e.adminSets(t, "owner", astro.RoleWorkspaceOwner)
	id := e.request(t, alice, "update"+in+" -r operator")
	require.Equal(t, []string{"team"}, e.state(t, id).ApproverGroups)
	e.adminSets(t, "member", astro.RoleWorkspaceMember)
	e.adminSets(t, "owner --for 1h", astro.RoleWorkspaceOwner)

	e.click(t, bob, commands.ActionApprove, id)
	got := e.state(t, id)
	assert.Equal(t, store.StateStale, got.State, got.Result)
	assert.Contains(t, got.Result, "2 approvals")
	assert.Equal(t, astro.RoleWorkspaceOwner, e.roleIn(t, tok, wsData), "a lasting MEMBER->OPERATOR raise is not applied on team's single approval")
}

// With as many approvals asked either way, the raise's approvers stand: it is the change that
// will happen.
func TestRaisesApproversStandAtEqualCounts(t *testing.T) {
	t.Parallel()
	e := approvalsUnder(t, strings.Replace(teamAndSecPolicy, "count: 2, ", "", 1))
	tok, in := astroemu.SampleTokenCIDeployer, deployerIn
	e.adminSets(t, "owner --for 1h", astro.RoleWorkspaceOwner)
	id := e.request(t, alice, "update"+in+" -r operator")
	assert.Equal(t, []string{"sec"}, e.state(t, id).ApproverGroups)
	e.click(t, bob, commands.ActionApprove, id) // team's bob may not approve it
	assert.Equal(t, astro.RoleWorkspaceOwner, e.roleIn(t, tok, wsData))
	e.click(t, carol, commands.ActionApprove, id)
	assert.Equal(t, astro.RoleWorkspaceOperator, e.roleIn(t, tok, wsData))
}

// Asking again when the pending request no longer holds as it was decided closes it, saying
// why, and opens the request the change now needs.
func TestAskingAgainReplacesARequestTheTimeBoxesChanged(t *testing.T) {
	t.Parallel()
	e := approvalsUnder(t, teamAndSecPolicy)
	in := deployerIn
	e.adminSets(t, "owner", astro.RoleWorkspaceOwner)
	old := e.request(t, alice, "update"+in+" -r operator")
	require.Equal(t, []string{"team"}, e.state(t, old).ApproverGroups)
	e.adminSets(t, "member", astro.RoleWorkspaceMember)
	e.adminSets(t, "owner --for 1h", astro.RoleWorkspaceOwner)

	fresh := e.request(t, alice, "update"+in+" -r operator")
	assert.NotEqual(t, old, fresh)
	assert.Equal(t, store.StateStale, e.state(t, old).State)
	assert.Equal(t, []string{"sec"}, e.state(t, fresh).ApproverGroups)
}

// A request whose token role changed is closed for that, not for a policy change.
func TestStaleRoleIsTheReasonGiven(t *testing.T) {
	t.Parallel()
	e := approvalsUnder(t, teamAndSecPolicy)
	tok, in := astroemu.SampleTokenCIDeployer, deployerIn
	e.adminSets(t, "owner --for 1h", astro.RoleWorkspaceOwner)
	id := e.request(t, alice, "update"+in+" -r operator")
	e.advance(2 * time.Hour)
	require.NoError(t, e.svc.ProcessDueReverts(t.Context(), "a"))
	require.Equal(t, astro.RoleWorkspaceAuthor, e.roleIn(t, tok, wsData))

	e.click(t, carol, commands.ActionApprove, id)
	got := e.state(t, id)
	assert.Equal(t, store.StateStale, got.State)
	assert.Contains(t, got.Result, "role changed")
	assert.NotContains(t, got.Result, "policy now asks")
}

// The reason the change it now is requires is checked at approval too.
func TestRaiseNeedingAReasonIsNotAppliedWithout(t *testing.T) {
	t.Parallel()
	e := approvalsUnder(t, `
groups:
  team: [U0BOB0001, U0CAROL01]
  admins: [U0ADMIN01]
rules:
  - actions: [list, show]
    who: everyone
  - actions: [add, update, remove]
    who: [admins]
  - actions: [update]
    direction: [downgrade]
    who: everyone
    approval: { approvers: [team], channel: C0APPROVE, expires_after: 24h }
  - actions: [add, update]
    direction: [grant, upgrade]
    who: everyone
    approval: { approvers: [team], channel: C0APPROVE, expires_after: 24h, require_reason: true }
`)
	tok, in := astroemu.SampleTokenCIDeployer, deployerIn
	e.adminSets(t, "owner", astro.RoleWorkspaceOwner)
	id := e.request(t, alice, "update"+in+" -r operator")
	e.adminSets(t, "member", astro.RoleWorkspaceMember)
	e.adminSets(t, "owner --for 1h", astro.RoleWorkspaceOwner)

	e.click(t, bob, commands.ActionApprove, id)
	got := e.state(t, id)
	assert.Equal(t, store.StateStale, got.State, got.Result)
	assert.Contains(t, got.Result, "requires a reason")
	assert.Equal(t, astro.RoleWorkspaceOwner, e.roleIn(t, tok, wsData))
}

// A lasting request left approved (its last click could not read the token's time-boxes), whose
// role the token then has only time-boxed, is not called applied when the sweeper takes it up.
func TestRequestedRoleOnlyTimeBoxedIsNotApplied(t *testing.T) {
	t.Parallel()
	e := approvalsUnder(t, teamAndSecPolicy)
	tok, in := astroemu.SampleTokenCIDeployer, deployerIn
	e.adminSets(t, "owner", astro.RoleWorkspaceOwner)
	id := e.request(t, alice, "update"+in+" -r author")

	var calls atomic.Int32
	fail := &atomic.Bool{}
	e.svc = e.serviceOver(t, e.st, e.now, func(c *commands.Config) {
		c.Reverts = revertsFailFrom{c.Reverts, &calls, 2, fail} // the click's second read fails
	})
	e.click(t, bob, commands.ActionApprove, id)
	require.Equal(t, store.StateApproved, e.state(t, id).State, "left approved for the sweeper")
	fail.Store(false)
	calls.Store(-1000)

	r := e.runAs(t, admin, "update"+in+" -r author --for 1h")
	require.Equal(t, astro.RoleWorkspaceAuthor, e.roleIn(t, tok, wsData), text(r))
	e.advance(2 * time.Minute)
	require.NoError(t, e.svc.SweepExpired(t.Context(), e.now()))
	got := e.state(t, id)
	assert.Equal(t, store.StateStale, got.State, got.Result)
	assert.Contains(t, got.Result, "only until a time-box")
}

// revertsFailFrom fails listing pending reverts from its nth call on, until fail is cleared.
type revertsFailFrom struct {
	commands.Reverts
	calls *atomic.Int32
	nth   int32
	fail  *atomic.Bool
}

func (f revertsFailFrom) ListPendingReverts(ctx context.Context, id string) ([]store.Revert, error) {
	if f.calls.Add(1) == f.nth {
		f.fail.Store(true)
	}
	if f.fail.Load() {
		return nil, errors.New("database is busy")
	}
	return f.Reverts.ListPendingReverts(ctx, id)
}

// deployerIn names the CI deployer token (AUTHOR in Data Platform) after a verb.
var deployerIn = " " + astroemu.SampleTokenCIDeployer + " -w " + wsData

// approvalsUnder is an approvals env under policy yaml.
func approvalsUnder(t *testing.T, yaml string) *approvalEnv {
	t.Helper()
	e := newApprovalEnv(t)
	e.restartWith(t, yaml, nil)
	return e
}

// adminSets has the admin set the CI deployer's role in Data Platform (what follows -r) and
// requires role to be the result.
func (e *approvalEnv) adminSets(t *testing.T, args, role string) {
	t.Helper()
	r := e.runAs(t, admin, "update"+deployerIn+" -r "+args)
	require.Equal(t, role, e.roleIn(t, astroemu.SampleTokenCIDeployer, wsData), text(r))
}

// failNth fails its nth listing of pending reverts only.
type failNth struct {
	commands.Reverts
	calls *atomic.Int32
	nth   int32
}

func (f failNth) ListPendingReverts(ctx context.Context, id string) ([]store.Revert, error) {
	if f.calls.Add(1) == f.nth {
		return nil, errors.New("database is busy")
	}
	return f.Reverts.ListPendingReverts(ctx, id)
}

// A passing store failure neither turns asking again into an error nor closes an approved
// request with a made-up reason.
func TestPassingTimeBoxReadFailuresChangeNothing(t *testing.T) {
	t.Parallel()
	t.Run("AskingAgain", func(t *testing.T) {
		t.Parallel()
		e := approvalsUnder(t, teamAndSecPolicy)
		in := deployerIn
		e.adminSets(t, "owner", astro.RoleWorkspaceOwner)
		old := e.request(t, alice, "update"+in+" -r operator")
		var calls atomic.Int32
		e.svc = e.serviceOver(t, e.st, e.now, func(c *commands.Config) {
			c.Reverts = failNth{c.Reverts, &calls, 2} // 1: the command's read, 2: the re-check's
		})
		r := e.runAs(t, alice, "update"+in+" -r operator")
		assert.Contains(t, r.Title, "already waiting for approval", text(r))
		assert.Equal(t, store.StatePending, e.state(t, old).State)
	})
	t.Run("SettlingApproved", func(t *testing.T) {
		t.Parallel()
		e := approvalsUnder(t, teamAndSecPolicy)
		in := deployerIn
		e.adminSets(t, "owner", astro.RoleWorkspaceOwner)
		id := e.request(t, alice, "update"+in+" -r author")
		var calls atomic.Int32
		fail := &atomic.Bool{}
		e.svc = e.serviceOver(t, e.st, e.now, func(c *commands.Config) {
			c.Reverts = revertsFailFrom{c.Reverts, &calls, 2, fail}
		})
		e.click(t, bob, commands.ActionApprove, id)
		require.Equal(t, store.StateApproved, e.state(t, id).State)
		fail.Store(false)
		e.runAs(t, admin, "update"+in+" -r author") // for good
		var n atomic.Int32
		e.svc = e.serviceOver(t, e.st, e.now, func(c *commands.Config) {
			c.Reverts = failNth{c.Reverts, &n, 2} // 1: the re-check's, 2: timeBoxedAway's
		})
		e.advance(2 * time.Minute)
		require.NoError(t, e.svc.SweepExpired(t.Context(), e.now()))
		assert.Equal(t, store.StateApproved, e.state(t, id).State, "left for the next sweep")
		require.NoError(t, e.svc.SweepExpired(t.Context(), e.now()))
		got := e.state(t, id)
		assert.Equal(t, store.StateApplied, got.State, got.Result)
	})
}

// cancelFirst cancels a pending request just before the bot closes it as stale, as its
// requester might at that moment.
type cancelFirst struct {
	commands.Requests
	armed atomic.Bool
}

func (r *cancelFirst) Transition(ctx context.Context, id string, from, to store.State, upd store.TransitionUpdate) (store.Request, error) {
	if from == store.StatePending && to == store.StateStale && r.armed.CompareAndSwap(true, false) {
		if _, err := r.Requests.Transition(ctx, id, store.StatePending, store.StateCancelled, store.TransitionUpdate{Result: "cancelled", At: upd.At}); err != nil {
			return store.Request{}, err
		}
	}
	return r.Requests.Transition(ctx, id, from, to, upd)
}

// Asking again opens the new request even if the old one was closed by someone else meanwhile.
func TestAskingAgainWhileTheOldRequestIsClosedOpensTheNew(t *testing.T) {
	t.Parallel()
	e := approvalsUnder(t, teamAndSecPolicy)
	in := deployerIn
	e.adminSets(t, "owner", astro.RoleWorkspaceOwner)
	old := e.request(t, alice, "update"+in+" -r operator")
	e.adminSets(t, "member", astro.RoleWorkspaceMember)
	e.adminSets(t, "owner --for 1h", astro.RoleWorkspaceOwner)

	w := &cancelFirst{Requests: e.st}
	w.armed.Store(true)
	e.svc = e.serviceOver(t, w, e.now)
	r := e.runAs(t, alice, "update"+in+" -r operator")
	assert.Equal(t, store.StateCancelled, e.state(t, old).State)
	assert.Contains(t, r.Title, "Approval requested: ", text(r))
}

// explain takes a change pasted in whole, --for and --reason included (its own answers ask for
// them), and decides it as the change would be decided.
func TestExplainDecidesATimeBoxedChangeAsTheChange(t *testing.T) {
	t.Parallel()
	e := policyEnv(t, `
rules:
  - actions: [list, show]
    who: everyone
  - actions: [add, update, remove]
    who: everyone
    max_elevation: 8h
`)
	explain := func(args string) (reply.Reply, string) {
		r := e.runAs(t, alice, opsChan, "explain update"+ciDeployerIn+" "+args)
		return r, text(r)
	}

	r, out := explain("-r owner")
	assert.Equal(t, "You may do this directly.", r.Title, out)
	assert.Contains(t, out, "Only time-boxed: add `--for 8h` or less.")

	r, out = explain("-r owner --for 2h")
	assert.Equal(t, "You may do this directly.", r.Title, out)
	assert.Contains(t, out, "Time-boxed for 2h")
	assert.NotContains(t, out, "Only time-boxed", "the --for given meets the cap")

	r, out = explain("-r owner --for 10h")
	assert.Equal(t, "You may not do this.", r.Title, out)
	assert.Contains(t, out, "--for 10h is longer than policy allows for this change: at most 8h.")

	r, out = explain("-r owner --for 1m")
	assert.Equal(t, reply.Failure, r.Tone, out)
	assert.Contains(t, out, "too short", "bad input is answered as the change answers it")

	r = e.runAs(t, alice, opsChan, "explain remove"+ciDeployerIn+" --for 2h")
	assert.Contains(t, text(r), "--for works with add and update only.")

	assert.Equal(t, astro.RoleWorkspaceAuthor, e.ciDeployerRole(t), "explain changes nothing")
}

// A reason given to explain is taken as given: it is not asked for again.
func TestExplainTakesAReason(t *testing.T) {
	t.Parallel()
	e := policyEnv(t, `
groups:
  approvers: [U0APPROVER1, U0APPROVER2]
rules:
  - actions: [list, show]
    who: everyone
  - actions: [add, update, remove]
    who: everyone
    approval: { approvers: [approvers], channel: C0APPROVE, expires_after: 24h, require_reason: true }
`)
	without := text(e.runAs(t, alice, opsChan, "explain update"+ciDeployerIn+" -r owner"))
	assert.Contains(t, without, "A reason is required: add `--reason \"why\"`.")
	with := e.runAs(t, alice, opsChan, "explain update"+ciDeployerIn+" -r owner --reason 'deploy fix'")
	assert.Equal(t, "You may ask for this; it needs approval.", with.Title, text(with))
	assert.NotContains(t, text(with), "A reason is required")
}
