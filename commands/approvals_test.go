package commands_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/astro"
	"github.com/orgtoken/orgtoken-bot/commands"
	"github.com/orgtoken/orgtoken-bot/emulators/astroemu"
	"github.com/orgtoken/orgtoken-bot/logging/logtest"
	"github.com/orgtoken/orgtoken-bot/policy"
	"github.com/orgtoken/orgtoken-bot/reply"
	"github.com/orgtoken/orgtoken-bot/reply/blockkit"
	"github.com/orgtoken/orgtoken-bot/store"
)

const (
	bob         = "U0BOB0001"
	carol       = "U0CAROL01"
	dave        = "U0DAVE001" // approver through the S0SEC user group
	mallory     = "U0MALLORY"
	admin       = "U0ADMIN01"
	approveChan = "C0APPROVE"
	secGroup    = "S0SEC"
)

// approvalPolicy: admins change anything directly; owner needs two approvals and a reason;
// every other change needs one approval.
const approvalPolicy = `
groups:
  approvers: [U0BOB0001, U0CAROL01, S0SEC]
  admins: [U0ADMIN01]
rules:
  - name: read
    actions: [list, show]
    who: everyone
  - name: admins-direct
    actions: [add, update, remove]
    who: [admins]
  - name: owner-needs-two
    actions: [add, update]
    roles: [WORKSPACE_OWNER]
    who: everyone
    approval: { approvers: [approvers], count: 2, channel: C0APPROVE, expires_after: 1h, require_reason: true }
  - name: others-need-one
    actions: [add, update, remove]
    who: everyone
    approval: { approvers: [approvers], channel: C0APPROVE, expires_after: 1h }
`

// policyAuth decides with a real policy; groups maps users to their Slack user groups. err, when
// set, makes every approver check fail (a Slack outage); errFor makes only the checks of that one
// user fail; decideErr makes every decision fail.
type policyAuth struct {
	p         *policy.Policy
	groups    map[string][]string
	err       atomic.Pointer[error]
	errFor    atomic.Pointer[string]
	decideErr atomic.Pointer[error]
}

func (a *policyAuth) Decide(_ context.Context, in policy.Input) (policy.Decision, error) {
	if e := a.decideErr.Load(); e != nil {
		return policy.Decision{}, *e
	}
	in.UserGroups = a.groups[in.UserID]
	return a.p.Decide(in), nil
}

func (a *policyAuth) CanApprove(_ context.Context, userID string, ap policy.Approval) (bool, error) {
	if e := a.err.Load(); e != nil {
		return false, *e
	}
	if u := a.errFor.Load(); u != nil && *u == userID {
		return false, errors.New("usergroups.users.list: ratelimited")
	}
	return a.p.CanApprove(userID, a.groups[userID], ap), nil
}

// fakeMessenger records what the service posts, as Slack would show it.
type fakeMessenger struct {
	mu       sync.Mutex
	n        int
	posts    map[string]postedMsg // by ts
	threads  []postedMsg
	shown    []string // every version of every channel message, in order
	failPost bool
}

type postedMsg struct {
	channel, ts string
	r           reply.Reply
	edits       int
}

func (m *fakeMessenger) Post(_ context.Context, channel string, r reply.Reply) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failPost {
		return "", errors.New("not_in_channel")
	}
	m.n++
	ts := fmt.Sprintf("1700000000.%06d", m.n)
	if m.posts == nil {
		m.posts = map[string]postedMsg{}
	}
	m.posts[ts] = postedMsg{channel: channel, ts: ts, r: r}
	m.shown = append(m.shown, text(r))
	return ts, nil
}

func (m *fakeMessenger) PostThread(_ context.Context, channel, ts string, r reply.Reply) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.threads = append(m.threads, postedMsg{channel: channel, ts: ts, r: r})
	return nil
}

func (m *fakeMessenger) Update(_ context.Context, channel, ts string, r reply.Reply) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.posts[ts]
	if !ok || p.channel != channel {
		return errors.New("message_not_found")
	}
	p.r, p.edits = r, p.edits+1
	m.posts[ts] = p
	m.shown = append(m.shown, text(r))
	return nil
}

func (m *fakeMessenger) PostEphemeral(context.Context, string, string, reply.Reply) error { return nil }

// only returns the one message posted so far.
func (m *fakeMessenger) only(t *testing.T) postedMsg {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	require.Len(t, m.posts, 1)
	for _, p := range m.posts {
		return p
	}
	return postedMsg{}
}

// message returns the message the request with ID id was posted as.
func (m *fakeMessenger) message(t *testing.T, e *approvalEnv, id string) postedMsg {
	t.Helper()
	ts := e.state(t, id).MessageTS
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.posts[ts]
	require.True(t, ok, "no message for %s", id)
	return p
}

func (m *fakeMessenger) threadTexts() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, p := range m.threads {
		out = append(out, text(p.r))
	}
	return out
}

type approvalEnv struct {
	emu   *astroemu.Server
	svc   *commands.Service
	st    *store.Store
	msgs  *fakeMessenger
	auth  *policyAuth
	clock *atomic.Int64 // Unix nanoseconds
	logs  *logtest.Buffer
}

func newApprovalEnv(t *testing.T) *approvalEnv {
	t.Helper()
	emu := astroemu.New(astroemu.Options{Now: func() time.Time { return testNow }})
	t.Cleanup(emu.Close)
	emu.SeedSample()
	p, err := policy.Parse([]byte(approvalPolicy), "test.yaml")
	require.NoError(t, err)
	e := &approvalEnv{emu: emu, msgs: &fakeMessenger{}, clock: &atomic.Int64{}, logs: &logtest.Buffer{},
		auth: &policyAuth{p: p, groups: map[string][]string{dave: {secGroup}}}}
	e.clock.Store(testNow.UnixNano())
	now := func() time.Time { return time.Unix(0, e.clock.Load()).UTC() }
	st, err := store.Open(t.Context(), "sqlite://"+filepath.Join(t.TempDir(), "s.db"), store.WithClock(now))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	e.st = st
	e.svc = e.newService(t, now)
	return e
}

// newService builds a Service over the env's store, Astro and Slack, like a bot replica.
func (e *approvalEnv) newService(t *testing.T, now func() time.Time) *commands.Service {
	t.Helper()
	return e.serviceOver(t, e.st, now)
}

// serviceOver is newService with reqs in front of the env's store for requests.
func (e *approvalEnv) serviceOver(t *testing.T, reqs commands.Requests, now func() time.Time, tweak ...func(*commands.Config)) *commands.Service {
	t.Helper()
	cfg := commands.Config{
		Tokens:     astro.New(e.emu.OrganizationID(), e.emu.APIToken(), astro.WithBaseURL(e.emu.URL()), astro.WithRetryPolicy(astro.RetryPolicy{MaxAttempts: 1})),
		Authorizer: e.auth, Approvers: e.auth, Groups: e.auth.p,
		Requests: reqs, Messenger: e.msgs, Audit: e.st, History: e.st, Locker: e.st, Reverts: e.st,
		Clock: now, DefaultWorkspace: wsData, Logger: slog.New(slog.NewTextHandler(e.logs, nil)),
	}
	for _, f := range tweak {
		f(&cfg)
	}
	svc, err := commands.New(cfg)
	require.NoError(t, err)
	return svc
}

// burstOfApprovals has two replicas sharing the env's store each hit by a burst of Approve
// clicks on id from bob and carol at once.
func (e *approvalEnv) burstOfApprovals(t *testing.T, id string) {
	t.Helper()
	replicas := []*commands.Service{e.svc, e.newService(t, e.now)}
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			user := []string{bob, carol}[i%2]
			replicas[i%len(replicas)].Act(context.Background(), commands.Action{UserID: user, ActionID: commands.ActionApprove, Value: id})
		}()
	}
	wg.Wait()
}

func (e *approvalEnv) advance(d time.Duration) { e.clock.Add(int64(d)) }

func (e *approvalEnv) now() time.Time { return time.Unix(0, e.clock.Load()).UTC() }

// restartWith replaces the env's service with one deciding under policyYAML, as a replica
// restarted with a new policy file; groups maps users to their Slack user groups.
func (e *approvalEnv) restartWith(t *testing.T, policyYAML string, groups map[string][]string) {
	t.Helper()
	p, err := policy.Parse([]byte(policyYAML), "new.yaml")
	require.NoError(t, err)
	e.auth = &policyAuth{p: p, groups: groups}
	e.svc = e.newService(t, func() time.Time { return time.Unix(0, e.clock.Load()).UTC() })
}

func (e *approvalEnv) runAs(t *testing.T, user, text string) reply.Reply {
	t.Helper()
	r := e.svc.Run(t.Context(), commands.Request{UserID: user, ChannelID: opsChan, Text: text})
	checkRenders(t, r)
	return r
}

func (e *approvalEnv) click(t *testing.T, user, actionID, requestID string) reply.Reply {
	t.Helper()
	r := e.svc.Act(t.Context(), commands.Action{UserID: user, ChannelID: approveChan, ActionID: actionID, Value: requestID})
	checkRenders(t, r)
	return r
}

// request asks for a change and returns the new request's ID.
func (e *approvalEnv) request(t *testing.T, user, text string) string {
	t.Helper()
	r := e.runAs(t, user, text)
	require.True(t, strings.HasPrefix(r.Title, "Approval requested: "), "got %q", plainText(r))
	return strings.TrimPrefix(r.Title, "Approval requested: ")
}

func (e *approvalEnv) state(t *testing.T, id string) store.Request {
	t.Helper()
	r, err := e.st.GetRequest(t.Context(), id)
	require.NoError(t, err)
	return r
}

func (e *approvalEnv) roleIn(t *testing.T, tokenID, ws string) string {
	t.Helper()
	tok, ok := e.emu.Token(tokenID)
	require.True(t, ok)
	for _, r := range tok.Roles {
		if r.EntityType == astroemu.EntityWorkspace && r.EntityID == ws {
			return r.Role
		}
	}
	return ""
}

func (e *approvalEnv) auditActions(t *testing.T, requestID string) []string {
	t.Helper()
	entries, err := e.st.ListAudit(t.Context(), store.AuditFilter{RequestID: requestID})
	require.NoError(t, err)
	var out []string
	for _, a := range entries {
		out = append(out, a.Action)
	}
	return out
}

func plainText(r reply.Reply) string { return text(r) }

const (
	ownerReq = "update " + astroemu.SampleTokenCIDeployer + " --role owner --reason \"incident 4711\""
	oneReq   = "update " + astroemu.SampleTokenCIDeployer + " --role operator"
)

func TestApprovalRequestIsPostedWithEverythingApproversNeed(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t)
	before := e.emu.CountRequests(astroemu.EndpointUpdateRoles)

	r := e.runAs(t, alice, ownerReq)
	id := strings.TrimPrefix(r.Title, "Approval requested: ")
	assert.Equal(t, reply.Ephemeral, r.Visibility, "the requester's answer is for them only")
	assert.Contains(t, text(r), "#"+approveChan, "says where the request went")
	assert.Contains(t, text(r), "2 approvals")
	assert.Contains(t, text(r), "cancel "+id)

	msg := e.msgs.only(t)
	assert.Equal(t, approveChan, msg.channel)
	body := text(msg.r)
	for _, want := range []string{
		"@" + alice + " asks to: Change airflow-ci-deployer (`" + astroemu.SampleTokenCIDeployer + "`) from `WORKSPACE_AUTHOR` to `WORKSPACE_OWNER` in workspace `" + wsData + "`",
		"Reason: `incident 4711`",
		"`astro workspace token organization-token update " + astroemu.SampleTokenCIDeployer + " --role WORKSPACE_OWNER --workspace-id " + wsData + "`",
		"2 approvals from `approvers` (@" + bob + ", @" + carol + ", @" + secGroup + "), never the requester",
		"Expires 2025-11-05 13:00 UTC",
		"Request " + id + ", policy rule 3 (owner-needs-two)",
	} {
		assert.Contains(t, body, want)
	}
	blocks, _ := blockkit.Render(msg.r)
	var rendered strings.Builder
	enc := json.NewEncoder(&rendered)
	enc.SetEscapeHTML(false)
	require.NoError(t, enc.Encode(blocks))
	assert.Contains(t, rendered.String(), "<!subteam^"+secGroup+">", "approver user groups are notified")
	require.Len(t, msg.r.Buttons, 2)
	for _, b := range msg.r.Buttons {
		assert.Equal(t, id, b.Value, "buttons carry only the request ID")
	}

	saved := e.state(t, id)
	assert.Equal(t, store.StatePending, saved.State)
	assert.Equal(t, msg.ts, saved.MessageTS)
	assert.Equal(t, "incident 4711", saved.Reason)
	assert.Equal(t, before, e.emu.CountRequests(astroemu.EndpointUpdateRoles), "nothing is written before approval")
	assert.Equal(t, []string{"request.created"}, e.auditActions(t, id))
}

func TestApprovalRequestRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		text   string
		setup  func(e *approvalEnv)
		want   []string
		posted int
	}{
		{name: "ReasonRequiredByRule", text: "update " + astroemu.SampleTokenCIDeployer + " --role owner",
			want: []string{"This change needs a reason", "Usage: `/orgtoken update", `--reason "why"`}},
		{name: "EmptyReasonIsAParseError", text: oneReq + ` --reason "  "`,
			want: []string{"Invalid value for --reason: the reason is empty."}},
		{name: "PostFailureClosesTheRequest", text: oneReq, setup: func(e *approvalEnv) { e.msgs.failPost = true },
			want: []string{"Could not post the approval request in channel " + approveChan, "Nothing was changed."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newApprovalEnv(t)
			if tt.setup != nil {
				tt.setup(e)
			}
			r := e.runAs(t, alice, tt.text)
			assert.Equal(t, reply.Failure, r.Tone)
			for _, w := range tt.want {
				assert.Contains(t, text(r), w)
			}
			pending, err := e.st.ListRequests(t.Context(), store.RequestFilter{States: []store.State{store.StatePending}})
			require.NoError(t, err)
			assert.Empty(t, pending, "no request is left open")
		})
	}
}

func TestIdenticalPendingRequestIsNotCreatedTwice(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t)
	id := e.request(t, alice, oneReq)
	r := e.runAs(t, mallory, oneReq)
	assert.Equal(t, "This change is already waiting for approval: "+id, r.Title)
	assert.Contains(t, text(r), "asked by @"+alice)
	assert.Len(t, e.msgs.posts, 1, "no second approval message")
}

// Someone who joins another's request is neither its requester nor (here) an approver, so
// requests does not list it for them: the reply must not send them there to follow it.
func TestJoiningAnotherRequestPointsWhereItCanBeFollowed(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t)
	id := e.request(t, alice, oneReq)
	joined := e.runAs(t, mallory, oneReq)
	require.Equal(t, "This change is already waiting for approval: "+id, joined.Title)
	listed := e.runAs(t, mallory, "requests")
	require.NotContains(t, text(listed), id, "requests lists only one's own and those one may approve")
	assert.NotContains(t, text(joined), "requests`", "pointed to a list that does not show it")
	assert.Contains(t, text(joined), "Follow it on its message in #"+approveChan)

	// Its requester asking again is pointed to requests, which lists it for them.
	again := e.runAs(t, alice, oneReq)
	assert.Contains(t, text(again), "See `/orgtoken requests`.")
	assert.Contains(t, text(e.runAs(t, alice, "requests")), id)
}

func TestTwoApprovalsApplyTheChangeOnce(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t)
	id := e.request(t, alice, ownerReq)
	writes := e.emu.CountRequests(astroemu.EndpointUpdateRoles)

	first := e.click(t, bob, commands.ActionApprove, id)
	assert.Equal(t, "Your approval of "+id+" is recorded (1 of 2).", first.Title)
	assert.Equal(t, reply.Ephemeral, first.Visibility)
	msg := e.msgs.only(t)
	assert.Contains(t, text(msg.r), "Approval needed (1 of 2)")
	assert.Contains(t, text(msg.r), "Approved by @"+bob)
	assert.Len(t, msg.r.Buttons, 2, "still open")
	assert.Equal(t, "WORKSPACE_AUTHOR", e.roleIn(t, astroemu.SampleTokenCIDeployer, wsData), "one approval is not enough")

	last := e.click(t, dave, commands.ActionApprove, id) // approver through a user group
	assert.Contains(t, last.Title, "approved and applied")
	assert.Equal(t, "WORKSPACE_OWNER", e.roleIn(t, astroemu.SampleTokenCIDeployer, wsData))
	assert.Equal(t, writes+1, e.emu.CountRequests(astroemu.EndpointUpdateRoles), "exactly one write")

	msg = e.msgs.only(t)
	assert.Empty(t, msg.r.Buttons, "a decided request has no buttons")
	assert.Contains(t, text(msg.r), "Approved and applied")
	assert.Contains(t, text(msg.r), "Approved by @"+bob+" (12:00 UTC), @"+dave)
	assert.Contains(t, text(msg.r), "Result: applied")
	require.Len(t, e.msgs.threadTexts(), 1)
	assert.Contains(t, e.msgs.threadTexts()[0], "@"+alice+" your request "+id+" approved and applied")

	got := e.state(t, id)
	assert.Equal(t, store.StateApplied, got.State)
	assert.Equal(t, []string{"request.created", "request.approved", "request.approved", "role.changed"}, e.auditActions(t, id))
	entries, err := e.st.ListAudit(t.Context(), store.AuditFilter{RequestID: id})
	require.NoError(t, err)
	changed := entries[3]
	assert.Equal(t, "WORKSPACE_AUTHOR", changed.Before)
	assert.Equal(t, "WORKSPACE_OWNER", changed.After)
	assert.Equal(t, alice, changed.ActorID)
	assert.Contains(t, changed.Detail, "incident 4711")
	n, err := e.st.VerifyAudit(t.Context())
	require.NoError(t, err)
	assert.EqualValues(t, 4, n)
}

func TestClickRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		user   string
		action string
		value  string // "" means the request's ID
		setup  func(t *testing.T, e *approvalEnv, id string)
		want   string
		state  store.State
	}{
		{name: "RequesterCannotApprove", user: alice, action: commands.ActionApprove,
			want: "You cannot approve or deny your own request", state: store.StatePending},
		{name: "RequesterCannotDeny", user: alice, action: commands.ActionDeny,
			want: "You cannot approve or deny your own request", state: store.StatePending},
		{name: "NonApproverRefused", user: mallory, action: commands.ActionApprove,
			want: "You are not an approver for request", state: store.StatePending},
		{name: "NonApproverCannotDeny", user: mallory, action: commands.ActionDeny,
			want: "You are not an approver for request", state: store.StatePending},
		{name: "GroupLookupFailureFailsClosed", user: dave, action: commands.ActionApprove,
			setup: func(_ *testing.T, e *approvalEnv, _ string) {
				err := errors.New("slack: ratelimited")
				e.auth.err.Store(&err)
			},
			want: "Could not check whether you may approve this, so the click was refused.", state: store.StatePending},
		{name: "SecondApprovalBySamePersonRefused", user: bob, action: commands.ActionApprove,
			setup: func(t *testing.T, e *approvalEnv, id string) { e.click(t, bob, commands.ActionApprove, id) },
			want:  "You already approved", state: store.StatePending},
		{name: "ForgedValueRefused", user: bob, action: commands.ActionApprove, value: "r123; drop table",
			want: "This button does not name an approval request.", state: store.StatePending},
		{name: "UnknownRequestRefused", user: bob, action: commands.ActionApprove, value: "raaaaaaaaaaaa",
			want: "There is no approval request raaaaaaaaaaaa.", state: store.StatePending},
		{name: "ExpiredRequestIsClosedAtClick", user: bob, action: commands.ActionApprove,
			setup: func(_ *testing.T, e *approvalEnv, _ string) { e.advance(time.Hour) },
			want:  "has expired", state: store.StateExpired},
		{name: "DeniedRequestCannotBeApproved", user: carol, action: commands.ActionApprove,
			setup: func(t *testing.T, e *approvalEnv, id string) { e.click(t, bob, commands.ActionDeny, id) },
			want:  "is no longer open: it was denied", state: store.StateDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newApprovalEnv(t)
			id := e.request(t, alice, ownerReq)
			if tt.setup != nil {
				tt.setup(t, e, id)
			}
			value := tt.value
			if value == "" {
				value = id
			}
			writes := e.emu.CountRequests(astroemu.EndpointUpdateRoles)
			r := e.click(t, tt.user, tt.action, value)
			assert.Equal(t, reply.Ephemeral, r.Visibility, "refusals are shown to the clicker only")
			assert.Equal(t, reply.Failure, r.Tone)
			assert.Contains(t, text(r), tt.want)
			assert.Equal(t, tt.state, e.state(t, id).State)
			assert.Equal(t, writes, e.emu.CountRequests(astroemu.EndpointUpdateRoles), "a refusal writes nothing")
			assert.Equal(t, "WORKSPACE_AUTHOR", e.roleIn(t, astroemu.SampleTokenCIDeployer, wsData))
		})
	}
}

func TestDenyEndsTheRequest(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t)
	id := e.request(t, alice, ownerReq)
	e.click(t, bob, commands.ActionApprove, id)

	r := e.click(t, carol, commands.ActionDeny, id)
	assert.Equal(t, "You denied "+id+".", r.Title)
	got := e.state(t, id)
	assert.Equal(t, store.StateDenied, got.State)
	assert.Equal(t, carol, got.DecidedBy)
	msg := e.msgs.only(t)
	assert.Empty(t, msg.r.Buttons)
	assert.Contains(t, text(msg.r), "Denied by @"+carol)
	assert.Contains(t, e.msgs.threadTexts()[0], "your request "+id+" denied")
	assert.Equal(t, "WORKSPACE_AUTHOR", e.roleIn(t, astroemu.SampleTokenCIDeployer, wsData))
	assert.Equal(t, []string{"request.created", "request.approved", "request.denied"}, e.auditActions(t, id))
}

func TestOutsideChangeMakesTheRequestStale(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t)
	id := e.request(t, alice, oneReq)
	require.NoError(t, e.emu.SetRoles(astroemu.SampleTokenCIDeployer, []astroemu.Role{
		{EntityType: astroemu.EntityOrganization, EntityID: e.emu.OrganizationID(), Role: "ORGANIZATION_MEMBER"},
		wsRole(wsData, "WORKSPACE_MEMBER"),
	}))
	writes := e.emu.CountRequests(astroemu.EndpointUpdateRoles)

	r := e.click(t, bob, commands.ActionApprove, id)
	assert.Contains(t, r.Title, "is out of date, so it was closed")
	assert.Contains(t, text(r), "it now has WORKSPACE_MEMBER")
	assert.Equal(t, store.StateStale, e.state(t, id).State)
	assert.Equal(t, writes, e.emu.CountRequests(astroemu.EndpointUpdateRoles), "nothing written")
	assert.Equal(t, "WORKSPACE_MEMBER", e.roleIn(t, astroemu.SampleTokenCIDeployer, wsData))
	msg := e.msgs.only(t)
	assert.Empty(t, msg.r.Buttons)
	assert.Contains(t, text(msg.r), "Closed as stale")
	assert.Equal(t, []string{"request.created", "request.stale"}, e.auditActions(t, id))
}

func TestApplyFailureMarksTheRequestFailed(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t)
	id := e.request(t, alice, oneReq)
	e.emu.ScriptFaults(astroemu.EndpointUpdateRoles, astroemu.Fault{Status: 403})

	r := e.click(t, bob, commands.ActionApprove, id)
	assert.Contains(t, r.Title, "failed")
	got := e.state(t, id)
	assert.Equal(t, store.StateFailed, got.State)
	assert.Contains(t, got.Result, "Astro refused the change")
	assert.Equal(t, "WORKSPACE_AUTHOR", e.roleIn(t, astroemu.SampleTokenCIDeployer, wsData), "nothing half-applied")
	msg := e.msgs.only(t)
	assert.Empty(t, msg.r.Buttons)
	assert.Contains(t, text(msg.r), "Failed")
	assert.Contains(t, text(msg.r), "Result: Astro refused the change")
	assert.Equal(t, []string{"request.created", "request.approved", "request.failed"}, e.auditActions(t, id))
}

func TestConcurrentClicksApplyExactlyOnce(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t)
	id := e.request(t, alice, ownerReq)
	writes := e.emu.CountRequests(astroemu.EndpointUpdateRoles)
	e.burstOfApprovals(t, id)
	assert.Equal(t, writes+1, e.emu.CountRequests(astroemu.EndpointUpdateRoles), "exactly one write")
	assert.Equal(t, store.StateApplied, e.state(t, id).State)
	assert.Equal(t, []string{"request.created", "request.approved", "request.approved", "role.changed"}, e.auditActions(t, id))
}

func TestCancel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		user  string
		arg   string // "" means the request's ID
		want  string
		state store.State
	}{
		{name: "RequesterCancels", user: alice, want: "is cancelled", state: store.StateCancelled},
		{name: "OthersCannotCancel", user: bob, want: "Only the person who asked", state: store.StatePending},
		{name: "UnknownID", user: alice, arg: "raaaaaaaaaaaa", want: "There is no approval request raaaaaaaaaaaa.", state: store.StatePending},
		{name: "MalformedID", user: alice, arg: "12", want: `"12" is not a request ID.`, state: store.StatePending},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newApprovalEnv(t)
			id := e.request(t, alice, oneReq)
			arg := tt.arg
			if arg == "" {
				arg = id
			}
			r := e.runAs(t, tt.user, "cancel "+arg)
			assert.Contains(t, text(r), tt.want)
			assert.Equal(t, tt.state, e.state(t, id).State)
			if tt.state == store.StateCancelled {
				msg := e.msgs.only(t)
				assert.Empty(t, msg.r.Buttons)
				assert.Contains(t, text(msg.r), "Cancelled by @"+alice)
				assert.Equal(t, []string{"request.created", "request.cancelled"}, e.auditActions(t, id))
			}
		})
	}
}

func TestRequestsListsOwnAndApprovable(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t)
	mine := e.request(t, alice, oneReq)
	theirs := e.request(t, mallory, "add "+astroemu.SampleTokenDBTSync+" --role member")

	tests := []struct {
		name      string
		user      string
		want, not []string
	}{
		{name: "RequesterSeesOwnOnly", user: alice, want: []string{mine}, not: []string{theirs}},
		{name: "ApproverSeesAll", user: bob, want: []string{mine, theirs}},
		{name: "ApproverThroughGroupSeesAll", user: dave, want: []string{mine, theirs}},
		{name: "OutsiderSeesNone", user: "U0NOBODY1", want: []string{"No pending requests"}, not: []string{mine, theirs}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.runAs(t, tt.user, "requests")
			for _, w := range tt.want {
				assert.Contains(t, text(r), w)
			}
			for _, n := range tt.not {
				assert.NotContains(t, text(r), n)
			}
		})
	}
}

func TestSweepExpiresAndRecovers(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t)
	id := e.request(t, alice, oneReq)
	require.NoError(t, e.svc.SweepExpired(t.Context(), testNow.Add(30*time.Minute)))
	assert.Equal(t, store.StatePending, e.state(t, id).State, "not yet expired")

	e.advance(time.Hour)
	require.NoError(t, e.svc.SweepExpired(t.Context(), testNow.Add(time.Hour)))
	assert.Equal(t, store.StateExpired, e.state(t, id).State)
	msg := e.msgs.only(t)
	assert.Empty(t, msg.r.Buttons)
	assert.Contains(t, text(msg.r), "Expired")
	assert.Contains(t, e.msgs.threadTexts()[0], "your request "+id+" expired")
	// A second sweep (another replica) finds nothing to do.
	require.NoError(t, e.svc.SweepExpired(t.Context(), testNow.Add(time.Hour)))
	assert.Equal(t, []string{"request.created", "request.expired"}, e.auditActions(t, id))
}

func TestSweepFinishesARequestLeftApproved(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t)
	id := e.request(t, alice, oneReq)
	// As if the bot died right after the winning approval was stored.
	_, won, err := e.st.AddApproval(t.Context(), id, bob, testNow, store.Tally{})
	require.NoError(t, err)
	require.True(t, won)

	require.NoError(t, e.svc.SweepExpired(t.Context(), testNow.Add(10*time.Second)))
	assert.Equal(t, store.StateApproved, e.state(t, id).State, "a fresh approval may still be being applied")

	e.advance(2 * time.Minute)
	require.NoError(t, e.svc.SweepExpired(t.Context(), testNow.Add(2*time.Minute)))
	assert.Equal(t, store.StateApplied, e.state(t, id).State)
	assert.Equal(t, "WORKSPACE_OPERATOR", e.roleIn(t, astroemu.SampleTokenCIDeployer, wsData))
	writes := e.emu.CountRequests(astroemu.EndpointUpdateRoles)
	require.NoError(t, e.svc.SweepExpired(t.Context(), testNow.Add(3*time.Minute)))
	assert.Equal(t, writes, e.emu.CountRequests(astroemu.EndpointUpdateRoles), "applied once")
}

func TestDirectChangeIsAudited(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t)
	r := e.runAs(t, admin, "update "+astroemu.SampleTokenCIDeployer+" --role owner --reason \"on call\"")
	require.Equal(t, reply.Success, r.Tone, text(r))
	entries, err := e.st.ListAudit(t.Context(), store.AuditFilter{TokenID: astroemu.SampleTokenCIDeployer})
	require.NoError(t, err)
	require.Len(t, entries, 1)
	assert.Equal(t, "role.changed", entries[0].Action)
	assert.Equal(t, admin, entries[0].ActorID)
	assert.Equal(t, "WORKSPACE_AUTHOR", entries[0].Before)
	assert.Equal(t, "WORKSPACE_OWNER", entries[0].After)
	assert.Equal(t, wsData, entries[0].WorkspaceID)
	assert.Equal(t, "reason: on call", entries[0].Detail)
}

func TestExplain(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t)
	tests := []struct {
		name  string
		user  string
		text  string
		title string
		want  []string
	}{
		{name: "AdminMayDirectly", user: admin, text: "explain update " + astroemu.SampleTokenCIDeployer + " --role owner",
			title: "You may do this directly.", want: []string{"policy rule 2 (admins-direct)"}},
		{name: "OwnerNeedsTwoApprovalsAndReason", user: alice, text: "explain update " + astroemu.SampleTokenCIDeployer + " --role owner",
			title: "You may ask for this; it needs approval.",
			want:  []string{"Needs 2 approvals from `approvers` (@" + bob, "#" + approveChan, "expires after 1h", "A reason is required"}},
		{name: "RemoveByName", user: alice, text: "explain remove -n airflow-ci-deployer",
			title: "You may ask for this; it needs approval.", want: []string{"Remove airflow-ci-deployer", "Needs 1 approval from"}},
		{name: "MissingVerbIsAUsageError", user: alice, text: "explain " + astroemu.SampleTokenCIDeployer,
			title: "Which change? Start with add, update or remove.", want: []string{"Usage: `/orgtoken explain"}},
		{name: "NothingToDo", user: alice, text: "explain update " + astroemu.SampleTokenCIDeployer + " --role author",
			title: "Nothing to do"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			writes := e.emu.CountRequests(astroemu.EndpointUpdateRoles)
			r := e.runAs(t, tt.user, tt.text)
			assert.Equal(t, tt.title, r.Title, text(r))
			for _, w := range tt.want {
				assert.Contains(t, text(r), w)
			}
			assert.Equal(t, writes, e.emu.CountRequests(astroemu.EndpointUpdateRoles), "explain never writes")
		})
	}
	pending, err := e.st.ListRequests(t.Context(), store.RequestFilter{})
	require.NoError(t, err)
	assert.Empty(t, pending, "explain never opens a request")
}

func TestRequestWithAnotherTimeBoxIsRefusedNotFolded(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t)
	id := e.request(t, alice, oneReq+" --for 1h")

	// Folded into alice's request, mallory's lasting change would be reverted after an hour.
	r := e.runAs(t, mallory, oneReq)
	assert.Equal(t, reply.Failure, r.Tone, text(r))
	assert.Contains(t, text(r), "Request "+id+" already asks for this change for 1h; you asked for it for good.")
	assert.Contains(t, text(r), "Nothing new was requested")
	assert.Contains(t, text(r), "cancel "+id)

	// The reverse: a time-boxed ask is not folded into a lasting one either.
	other := newApprovalEnv(t)
	lasting := other.request(t, alice, oneReq)
	r = other.runAs(t, mallory, oneReq+" --for 2h")
	assert.Contains(t, text(r), "Request "+lasting+" already asks for this change for good; you asked for it for 2h.")

	// The very same ask is folded, and the reply says it is time-boxed.
	r = e.runAs(t, mallory, oneReq+" --for 1h --reason \"deploys\"")
	assert.Equal(t, "This change is already waiting for approval: "+id, r.Title)
	assert.Contains(t, text(r), "Time-boxed: for 1h once applied.")
	assert.Contains(t, text(r), "Your --reason was not added to it")
	assert.Len(t, e.msgs.posts, 1, "no second approval message")
}

func TestRequestAgainstAnOldRoleIsReplacedNotJoined(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t)
	old := e.request(t, alice, oneReq) // made while the token is AUTHOR
	require.NoError(t, e.emu.SetRoles(astroemu.SampleTokenCIDeployer, []astroemu.Role{
		{EntityType: astroemu.EntityOrganization, EntityID: e.emu.OrganizationID(), Role: "ORGANIZATION_MEMBER"},
		wsRole(wsData, "WORKSPACE_MEMBER"),
	}))

	// Joining alice's request would leave mallory's ask to close as stale at the first click.
	fresh := e.request(t, mallory, oneReq)
	require.NotEqual(t, old, fresh)
	closed := e.state(t, old)
	assert.Equal(t, store.StateStale, closed.State)
	assert.Equal(t, "the token's role changed from WORKSPACE_AUTHOR to WORKSPACE_MEMBER after the request; nothing was changed", closed.Result)
	assert.Contains(t, e.msgs.threadTexts()[0], "your request "+old+" closed as stale", "alice is told")
	assert.Equal(t, []string{"request.created", "request.stale"}, e.auditActions(t, old))

	e.click(t, bob, commands.ActionApprove, fresh)
	assert.Equal(t, store.StateApplied, e.state(t, fresh).State)
	assert.Equal(t, "WORKSPACE_OPERATOR", e.roleIn(t, astroemu.SampleTokenCIDeployer, wsData))
}

// engPolicy lets members of the S0ENG user group ask for changes, with one approval.
const engPolicy = `
groups:
  approvers: [U0BOB0001, U0CAROL01]
  engineers: [S0ENG]
rules:
  - actions: [list, show]
    who: everyone
  - name: eng-with-approval
    actions: [add, update, remove]
    who: [engineers]
    approval: { approvers: [approvers], channel: C0APPROVE, expires_after: 1h }
`

func TestApprovingRechecksTheRequester(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t)
	e.restartWith(t, engPolicy, map[string][]string{alice: {"S0ENG"}})
	id := e.request(t, alice, oneReq)

	e.auth.groups = map[string][]string{} // alice leaves the engineers' user group
	r := e.click(t, bob, commands.ActionApprove, id)
	assert.Equal(t, reply.Failure, r.Tone)
	assert.Contains(t, text(r), "Request "+id+" no longer holds, so it was closed: the policy no longer lets the requester make this change.")
	assert.Contains(t, text(r), "Nothing was changed.")
	assert.Equal(t, "WORKSPACE_AUTHOR", e.roleIn(t, astroemu.SampleTokenCIDeployer, wsData))
	assert.Zero(t, e.emu.CountRequests(astroemu.EndpointUpdateRoles))
	assert.Equal(t, store.StateStale, e.state(t, id).State)
	assert.Equal(t, []string{"request.created", "request.stale"}, e.auditActions(t, id))
	assert.Contains(t, e.msgs.threadTexts()[0], "The policy no longer lets the requester make this change; nothing was changed.")
}

func TestApprovingUnderATightenedPolicyClosesTheRequest(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, policy, why string }{
		{"more approvals", strings.Replace(approvalPolicy, "approval: { approvers: [approvers], channel: C0APPROVE, expires_after: 1h }",
			"approval: { approvers: [approvers], count: 2, channel: C0APPROVE, expires_after: 1h }", 1),
			"the policy now asks for 2 approvals from group approvers"},
		{"other approvers", strings.NewReplacer("approval: { approvers: [approvers], channel: C0APPROVE, expires_after: 1h }",
			"approval: { approvers: [leads], channel: C0APPROVE, expires_after: 1h }", "groups:\n", "groups:\n  leads: [U0CAROL01, U0ADMIN01]\n").Replace(approvalPolicy),
			"the policy now asks for 1 approval from group leads"},
		{"admins only", `
groups:
  approvers: [U0BOB0001, U0CAROL01, S0SEC]
  admins: [U0ADMIN01]
rules:
  - actions: [list, show]
    who: everyone
  - actions: [add, update, remove]
    who: [admins]
`, "the policy no longer lets the requester make this change"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newApprovalEnv(t)
			id := e.request(t, alice, oneReq)
			e.restartWith(t, tt.policy, map[string][]string{dave: {secGroup}})
			r := e.click(t, bob, commands.ActionApprove, id)
			assert.Contains(t, text(r), "no longer holds, so it was closed: "+tt.why+".")
			assert.Equal(t, store.StateStale, e.state(t, id).State)
			assert.Equal(t, "WORKSPACE_AUTHOR", e.roleIn(t, astroemu.SampleTokenCIDeployer, wsData))
		})
	}

	// A looser policy does not close it: what was asked still holds.
	e := newApprovalEnv(t)
	id := e.request(t, alice, oneReq)
	e.restartWith(t, strings.Replace(approvalPolicy, "who: [admins]", "who: [admins, U0ALICE01]", 1), map[string][]string{dave: {secGroup}})
	e.click(t, bob, commands.ActionApprove, id)
	assert.Equal(t, store.StateApplied, e.state(t, id).State)
}

func TestSweeperRechecksTheRequesterBeforeApplying(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t)
	e.restartWith(t, engPolicy, map[string][]string{alice: {"S0ENG"}})
	id := e.request(t, alice, oneReq)
	// As if the bot died right after the winning approval was stored.
	_, won, err := e.st.AddApproval(t.Context(), id, bob, testNow, store.Tally{})
	require.NoError(t, err)
	require.True(t, won)

	e.auth.groups = map[string][]string{}
	e.advance(2 * time.Minute)
	require.NoError(t, e.svc.SweepExpired(t.Context(), testNow.Add(2*time.Minute)))
	got := e.state(t, id)
	assert.Equal(t, store.StateStale, got.State)
	assert.Equal(t, "the policy no longer lets the requester make this change; nothing was changed", got.Result)
	assert.Equal(t, "WORKSPACE_AUTHOR", e.roleIn(t, astroemu.SampleTokenCIDeployer, wsData))
	assert.Zero(t, e.emu.CountRequests(astroemu.EndpointUpdateRoles))
}

// approvalsHidden reads requests without their approvals, as a click does when its twin's
// approval commits just after the read.
type approvalsHidden struct{ *store.Store }

func (s approvalsHidden) GetRequest(ctx context.Context, id string) (store.Request, error) {
	r, err := s.Store.GetRequest(ctx, id)
	r.Approvals = nil
	return r, err
}

func TestDoubleClickRacingItselfIsToldPlainly(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t)
	id := e.request(t, alice, ownerReq)
	svc, err := commands.New(commands.Config{
		Tokens:     astro.New(e.emu.OrganizationID(), e.emu.APIToken(), astro.WithBaseURL(e.emu.URL()), astro.WithRetryPolicy(astro.RetryPolicy{MaxAttempts: 1})),
		Authorizer: e.auth, Approvers: e.auth, Groups: e.auth.p,
		Requests: approvalsHidden{e.st}, Messenger: e.msgs, Audit: e.st, Locker: e.st,
		Clock: func() time.Time { return testNow }, DefaultWorkspace: wsData, Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	click := func() reply.Reply {
		return svc.Act(t.Context(), commands.Action{UserID: bob, ChannelID: approveChan, ActionID: commands.ActionApprove, Value: id})
	}
	click()
	r := click()
	assert.Contains(t, text(r), "You already approved "+id+".")
	assert.Contains(t, text(r), "It needs 2 approvals from different people.")
	assert.Len(t, e.state(t, id).Approvals, 1)
}

func TestApprovalIsRefusedWhenTheRequesterCannotBeChecked(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t)
	id := e.request(t, alice, oneReq)
	outage := errors.New("usergroups.users.list: ratelimited")
	e.auth.decideErr.Store(&outage)

	r := e.click(t, bob, commands.ActionApprove, id)
	assert.Equal(t, reply.Failure, r.Tone)
	assert.Contains(t, text(r), "Could not check whether the requester may still make this change, so the click was refused.")
	assert.NotContains(t, text(r), "ratelimited", "the cause goes to the log, with the ref the reply gives")
	assert.Equal(t, store.StatePending, e.state(t, id).State, "fails closed: nothing recorded, the request still open")
	assert.Empty(t, e.state(t, id).Approvals)
	assert.Zero(t, e.emu.CountRequests(astroemu.EndpointUpdateRoles))

	// The sweeper, finding it approved while the check still fails, leaves it for later.
	_, won, err := e.st.AddApproval(t.Context(), id, bob, testNow, store.Tally{})
	require.NoError(t, err)
	require.True(t, won)
	e.advance(2 * time.Minute)
	require.NoError(t, e.svc.SweepExpired(t.Context(), testNow.Add(2*time.Minute)))
	assert.Equal(t, store.StateApproved, e.state(t, id).State)
	assert.Zero(t, e.emu.CountRequests(astroemu.EndpointUpdateRoles))

	e.auth.decideErr.Store(nil)
	e.advance(2 * time.Minute)
	require.NoError(t, e.svc.SweepExpired(t.Context(), testNow.Add(4*time.Minute)))
	assert.Equal(t, store.StateApplied, e.state(t, id).State)
	assert.Equal(t, "WORKSPACE_OPERATOR", e.roleIn(t, astroemu.SampleTokenCIDeployer, wsData))
}

// approversWithoutSec is approvalPolicy with another user group among the approvers in place of S0SEC.
var approversWithoutSec = strings.Replace(approvalPolicy, "approvers: [U0BOB0001, U0CAROL01, S0SEC]", "approvers: [U0BOB0001, U0CAROL01, S0SRE]", 1)

func TestApprovalFromSomeoneNoLongerAnApproverDoesNotCount(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		leave func(t *testing.T, e *approvalEnv)
	}{
		{"LeftTheUserGroup", func(_ *testing.T, e *approvalEnv) { e.auth.groups = map[string][]string{} }},
		{"PolicyNoLongerNamesTheirGroup", func(t *testing.T, e *approvalEnv) {
			e.restartWith(t, approversWithoutSec, map[string][]string{dave: {secGroup}})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newApprovalEnv(t)
			id := e.request(t, alice, ownerReq)
			e.click(t, dave, commands.ActionApprove, id)
			tt.leave(t, e)
			e.advance(time.Minute)

			r := e.click(t, carol, commands.ActionApprove, id)
			assert.Equal(t, "Your approval of "+id+" is recorded (1 of 2).", r.Title, text(r))
			assert.Contains(t, text(r), "@"+dave+"'s approval no longer counts because they are no longer in group approvers.")
			assert.Equal(t, "WORKSPACE_AUTHOR", e.roleIn(t, astroemu.SampleTokenCIDeployer, wsData), "one valid approval is not enough")
			assert.Zero(t, e.emu.CountRequests(astroemu.EndpointUpdateRoles))
			got := e.state(t, id)
			assert.Equal(t, store.StatePending, got.State)
			msg := e.msgs.only(t)
			assert.Len(t, msg.r.Buttons, 2, "still open for another approver")
			assert.Contains(t, text(msg.r), "Approval needed (1 of 2)")
			assert.Contains(t, text(msg.r), "Approved by @"+carol+" (12:01 UTC).")
			assert.Contains(t, text(msg.r), "@"+dave+"'s approval no longer counts because they are no longer in group approvers.")
			assert.Equal(t, []string{"request.created", "request.approved", "request.approved", "request.approval_void"}, e.auditActions(t, id))

			e.advance(time.Minute)
			last := e.click(t, bob, commands.ActionApprove, id)
			assert.Contains(t, last.Title, "approved and applied", text(last))
			assert.Equal(t, "WORKSPACE_OWNER", e.roleIn(t, astroemu.SampleTokenCIDeployer, wsData))
			assert.Equal(t, 1, e.emu.CountRequests(astroemu.EndpointUpdateRoles))
			assert.Contains(t, text(e.msgs.only(t).r), "Approved by @"+carol+" (12:01 UTC), @"+bob+" (12:02 UTC).")
		})
	}
}

func TestApprovalIsRefusedWhenAnEarlierApproverCannotBeChecked(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t)
	id := e.request(t, alice, ownerReq)
	e.click(t, dave, commands.ActionApprove, id)
	who := dave
	e.auth.errFor.Store(&who)

	r := e.click(t, carol, commands.ActionApprove, id)
	assert.Equal(t, reply.Failure, r.Tone)
	assert.Contains(t, text(r), "Could not check whether the earlier approvals of "+id+" still count, so your click was refused.")
	assert.NotContains(t, text(r), "ratelimited", "the cause goes to the log, with the ref the reply gives")
	got := e.state(t, id)
	assert.Equal(t, store.StatePending, got.State, "fails closed")
	require.Len(t, got.Approvals, 1, "nothing recorded")
	assert.Equal(t, dave, got.Approvals[0].UserID)
	assert.Zero(t, e.emu.CountRequests(astroemu.EndpointUpdateRoles))
	assert.Contains(t, text(e.msgs.only(t).r), "Approval needed (1 of 2)")

	e.auth.errFor.Store(nil)
	r = e.click(t, carol, commands.ActionApprove, id)
	assert.Contains(t, r.Title, "approved and applied", text(r))
}

func TestSweeperRechecksTheApproversBeforeApplying(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t)
	id := e.request(t, alice, ownerReq)
	e.click(t, dave, commands.ActionApprove, id)
	// As if the bot died right after carol's winning approval was stored.
	_, won, err := e.st.AddApproval(t.Context(), id, carol, testNow, store.Tally{Counted: []string{dave}})
	require.NoError(t, err)
	require.True(t, won)

	e.auth.groups = map[string][]string{} // dave leaves the S0SEC user group
	e.advance(2 * time.Minute)
	require.NoError(t, e.svc.SweepExpired(t.Context(), e.now()))
	assert.Equal(t, "WORKSPACE_AUTHOR", e.roleIn(t, astroemu.SampleTokenCIDeployer, wsData))
	assert.Zero(t, e.emu.CountRequests(astroemu.EndpointUpdateRoles))
	assert.Equal(t, store.StatePending, e.state(t, id).State, "waiting for approval again")
	msg := e.msgs.only(t)
	assert.Len(t, msg.r.Buttons, 2)
	assert.Contains(t, text(msg.r), "Approval needed (1 of 2)")
	assert.Contains(t, text(msg.r), "@"+dave+"'s approval no longer counts because they are no longer in group approvers.")
	require.Len(t, e.msgs.threadTexts(), 1)
	assert.Contains(t, e.msgs.threadTexts()[0], "@"+alice+" your request "+id+" needs approval again: @"+dave+"'s approval no longer counts")

	last := e.click(t, bob, commands.ActionApprove, id)
	assert.Contains(t, last.Title, "approved and applied", text(last))
	assert.Equal(t, "WORKSPACE_OWNER", e.roleIn(t, astroemu.SampleTokenCIDeployer, wsData))
}

func TestConcurrentClicksAfterAnApproverLeftApplyOnceWithoutThem(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t)
	id := e.request(t, alice, ownerReq)
	e.click(t, dave, commands.ActionApprove, id)
	e.auth.groups = map[string][]string{}
	e.burstOfApprovals(t, id)
	assert.Equal(t, 1, e.emu.CountRequests(astroemu.EndpointUpdateRoles), "exactly one write")
	got := e.state(t, id)
	assert.Equal(t, store.StateApplied, got.State)
	var approvers []string
	for _, a := range got.Approvals {
		approvers = append(approvers, a.UserID)
	}
	assert.ElementsMatch(t, []string{bob, carol}, approvers, "dave's approval was dropped")
}

// outcomeLost fails the store writes that move a request to one of states (by default applied
// or failed: how an approved request ended), fail times, as a database that goes away just after
// Astro has answered.
type outcomeLost struct {
	*store.Store
	states []store.State
	fail   atomic.Int32
	// committed makes the failing writes happen all the same, as a connection lost just after
	// the commit.
	committed bool
}

func (s *outcomeLost) Transition(ctx context.Context, id string, from, to store.State, upd store.TransitionUpdate) (store.Request, error) {
	states := s.states
	if states == nil {
		states = []store.State{store.StateApplied, store.StateFailed}
	}
	if slices.Contains(states, to) && s.fail.Add(-1) >= 0 {
		if s.committed {
			_, _ = s.Store.Transition(ctx, id, from, to, upd)
		}
		return store.Request{}, errors.New("driver: bad connection")
	}
	return s.Store.Transition(ctx, id, from, to, upd)
}

func TestAnOutcomeThatCouldNotBeRecordedIsNeverContradicted(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// astroRefuses makes Astro refuse the write; adminReverts puts the token's role back by
		// hand after the click, before the sweeper looks.
		astroRefuses, adminReverts bool
		wantRole                   string
		wantState                  store.State
		wantTitle, wantResult      string
		neverSaid                  []string // before the outcome is recorded
	}{
		{name: "AstroRefused", astroRefuses: true, wantRole: "WORKSPACE_AUTHOR", wantState: store.StateFailed,
			wantTitle: "Failed: airflow-ci-deployer to WORKSPACE_OPERATOR", neverSaid: []string{"pproved and applied", "failed", "Failed", "refused"},
			wantResult: "the outcome of the bot's write was never recorded (it may not have been sent); the token has WORKSPACE_AUTHOR, not the requested WORKSPACE_OPERATOR; nothing more was written"},
		{name: "AstroAppliedThenAnAdminReverted", adminReverts: true, wantRole: "WORKSPACE_AUTHOR", wantState: store.StateFailed,
			wantTitle: "Failed: airflow-ci-deployer to WORKSPACE_OPERATOR", neverSaid: []string{"pproved and applied", "failed", "Failed"},
			wantResult: "the outcome of the bot's write was never recorded (it may not have been sent); the token has WORKSPACE_AUTHOR, not the requested WORKSPACE_OPERATOR; nothing more was written"},
		{name: "AstroApplied", wantRole: "WORKSPACE_OPERATOR", wantState: store.StateApplied,
			wantTitle: "Approved and applied: airflow-ci-deployer to WORKSPACE_OPERATOR", neverSaid: []string{"pproved and applied", "failed", "Failed"},
			wantResult: "the outcome of the bot's write was never recorded (it may not have been sent); reading the token back, it has the requested WORKSPACE_OPERATOR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newApprovalEnv(t)
			lost := &outcomeLost{Store: e.st}
			lost.fail.Store(1)
			e.svc = e.serviceOver(t, lost, e.now)
			id := e.request(t, alice, oneReq)
			if tt.astroRefuses {
				e.emu.ScriptFaults(astroemu.EndpointUpdateRoles, astroemu.Fault{Status: 403})
			}

			r := e.click(t, bob, commands.ActionApprove, id)
			assert.Equal(t, "You gave the last approval of "+id+", but its outcome could not be recorded.", r.Title, text(r))
			assert.Contains(t, text(r), "The bot will not write to Astro again for it")
			msg := e.msgs.only(t)
			assert.Empty(t, msg.r.Buttons)
			assert.Contains(t, text(msg.r), "Its outcome is not recorded yet")
			if tt.adminReverts {
				require.NoError(t, e.emu.SetRoles(astroemu.SampleTokenCIDeployer, []astroemu.Role{
					{EntityType: astroemu.EntityOrganization, EntityID: e.emu.OrganizationID(), Role: "ORGANIZATION_MEMBER"},
					wsRole(wsData, "WORKSPACE_AUTHOR"),
				}))
			}

			for range 3 { // later sweeps, in this replica or another, after the store is back
				e.advance(2 * time.Minute)
				require.NoError(t, e.svc.SweepExpired(t.Context(), e.now()))
			}
			assert.Equal(t, tt.wantRole, e.roleIn(t, astroemu.SampleTokenCIDeployer, wsData))
			assert.Equal(t, 1, e.emu.CountRequests(astroemu.EndpointUpdateRoles), "one write, never retried")
			got := e.state(t, id)
			assert.Equal(t, tt.wantState, got.State)
			assert.Equal(t, tt.wantResult, got.Result)
			msg = e.msgs.only(t)
			assert.Contains(t, text(msg.r), tt.wantTitle)
			require.Len(t, e.msgs.threadTexts(), 1, "the requester is told once, when the outcome is recorded")
			assert.Contains(t, e.msgs.threadTexts()[0], "your request "+id+" "+stateWordsFor(tt.wantState))
			// Before the outcome was recorded nothing said how it ended.
			before := text(r) + strings.Join(e.msgs.shown[:len(e.msgs.shown)-1], "\n")
			for _, w := range tt.neverSaid {
				assert.NotContains(t, before, w)
			}
		})
	}
}

func stateWordsFor(st store.State) string {
	if st == store.StateApplied {
		return "approved and applied"
	}
	return string(st)
}

func TestAnApprovedRequestThatCannotBeClaimedIsNotWrittenUntilRetried(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t)
	lost := &outcomeLost{Store: e.st, states: []store.State{store.StateApplying}}
	lost.fail.Store(1)
	e.svc = e.serviceOver(t, lost, e.now)
	id := e.request(t, alice, oneReq)

	r := e.click(t, bob, commands.ActionApprove, id)
	assert.Equal(t, "You gave the last approval of "+id+": approved and is being applied.", r.Title, text(r))
	assert.Zero(t, e.emu.CountRequests(astroemu.EndpointUpdateRoles), "no write without the claim")
	assert.Equal(t, store.StateApproved, e.state(t, id).State)

	e.advance(2 * time.Minute)
	require.NoError(t, e.svc.SweepExpired(t.Context(), e.now()))
	assert.Equal(t, store.StateApplied, e.state(t, id).State)
	assert.Equal(t, "WORKSPACE_OPERATOR", e.roleIn(t, astroemu.SampleTokenCIDeployer, wsData))
	assert.Equal(t, 1, e.emu.CountRequests(astroemu.EndpointUpdateRoles))
	assert.Contains(t, text(e.msgs.only(t).r), "Approved and applied")
}

func TestARequestClosedToMakeWayForANewOneLosesItsButtons(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		outdate  func(t *testing.T, e *approvalEnv)
		state    store.State
		title    string
		result   string
		told     string
		auditEnd string
	}{
		{name: "Expired", outdate: func(_ *testing.T, e *approvalEnv) { e.advance(time.Hour) }, // the sweeper has not run
			state: store.StateExpired, title: "Expired: airflow-ci-deployer to WORKSPACE_OPERATOR",
			result: "Result: expired before enough approvals; nothing was changed", told: "expired", auditEnd: "request.expired"},
		{name: "MadeAgainstAnOldRole", outdate: func(t *testing.T, e *approvalEnv) {
			require.NoError(t, e.emu.SetRoles(astroemu.SampleTokenCIDeployer, []astroemu.Role{
				{EntityType: astroemu.EntityOrganization, EntityID: e.emu.OrganizationID(), Role: "ORGANIZATION_MEMBER"},
				wsRole(wsData, "WORKSPACE_MEMBER"),
			}))
		}, state: store.StateStale, title: "Closed as stale: airflow-ci-deployer to WORKSPACE_OPERATOR",
			result: "Result: the token's role changed from WORKSPACE_AUTHOR to WORKSPACE_MEMBER after the request; nothing was changed",
			told:   "closed as stale", auditEnd: "request.stale"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newApprovalEnv(t)
			old := e.request(t, alice, oneReq)
			tt.outdate(t, e)

			fresh := e.request(t, mallory, oneReq)
			require.NotEqual(t, old, fresh)
			msg := e.msgs.message(t, e, old)
			assert.Empty(t, msg.r.Buttons, "the old request cannot be clicked any more")
			assert.Contains(t, text(msg.r), tt.title)
			assert.Contains(t, text(msg.r), tt.result)
			assert.Equal(t, tt.state, e.state(t, old).State)
			require.Len(t, e.msgs.threadTexts(), 1)
			assert.Contains(t, e.msgs.threadTexts()[0], "@"+alice+" your request "+old+" "+tt.told)
			assert.Equal(t, []string{"request.created", tt.auditEnd}, e.auditActions(t, old))
			assert.Len(t, e.msgs.message(t, e, fresh).r.Buttons, 2, "the new one is open")
		})
	}
}

func TestAnOutcomeStoredDespiteAnErrorIsToldAsStored(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t)
	lost := &outcomeLost{Store: e.st, committed: true}
	lost.fail.Store(1)
	e.svc = e.serviceOver(t, lost, e.now)
	id := e.request(t, alice, oneReq)

	r := e.click(t, bob, commands.ActionApprove, id)
	assert.Equal(t, "You gave the last approval of "+id+": approved and applied.", r.Title, text(r))
	assert.Contains(t, text(e.msgs.only(t).r), "Approved and applied")
	require.Len(t, e.msgs.threadTexts(), 1)
	assert.Contains(t, e.msgs.threadTexts()[0], "your request "+id+" approved and applied")

	e.advance(2 * time.Minute)
	require.NoError(t, e.svc.SweepExpired(t.Context(), e.now()))
	assert.Equal(t, 1, e.emu.CountRequests(astroemu.EndpointUpdateRoles))
	assert.Len(t, e.msgs.threadTexts(), 1, "told once")
}

// stallingAudit holds the audit entry of stallOn's approval until release is closed, as a slow
// audit channel post (Slack rate-limiting it) would, and says on held when it is holding it.
type stallingAudit struct {
	commands.Audit
	stallOn string
	held    chan struct{}
	release chan struct{}
}

func (a *stallingAudit) AppendAudit(ctx context.Context, e store.AuditEntry) (store.AuditEntry, error) {
	if e.Action == "request.approved" && e.ActorID == a.stallOn {
		close(a.held)
		<-a.release
	}
	return a.Audit.AppendAudit(ctx, e)
}

// An approval whose message update comes late, after the last approval has applied the
// change, must not draw the request as still waiting, with buttons, over its outcome.
func TestALateRedrawDoesNotReopenADecidedRequestsMessage(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t)
	id := e.request(t, alice, ownerReq)
	stall := &stallingAudit{Audit: e.st, stallOn: bob, held: make(chan struct{}), release: make(chan struct{})}
	slow := e.serviceOver(t, e.st, e.now, func(c *commands.Config) { c.Audit = stall })

	done := make(chan reply.Reply)
	go func() {
		done <- slow.Act(context.Background(), commands.Action{UserID: bob, ChannelID: approveChan, ActionID: commands.ActionApprove, Value: id})
	}()
	<-stall.held // bob's approval is recorded; his redraw of the message has not happened yet
	last := e.click(t, carol, commands.ActionApprove, id)
	require.Contains(t, last.Title, "approved and applied", text(last))
	close(stall.release)
	first := <-done
	assert.Contains(t, first.Title, "Your approval of "+id+" is recorded", text(first))

	msg := e.msgs.message(t, e, id)
	assert.Empty(t, msg.r.Buttons, "the applied request's message has its buttons back")
	assert.Contains(t, text(msg.r), "Approved and applied", "the message no longer says how the request ended")
}

// A token whose lock is never let go must not hold up the sweep: its request left approved waits
// for a later sweep, while other tokens' requests are finished and later sweeps still expire.
func TestSweepIsNotHeldUpByAStuckTokenLock(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t)
	commands.SetWorkerLockWait(e.svc, 20*time.Millisecond)
	stuck := e.request(t, alice, oneReq)
	other := e.request(t, mallory, "add "+astroemu.SampleTokenDBTSync+" --role member")
	for _, id := range []string{stuck, other} {
		// As if the bot died right after the winning approval was stored.
		_, won, err := e.st.AddApproval(t.Context(), id, bob, testNow, store.Tally{})
		require.NoError(t, err)
		require.True(t, won)
	}
	e.advance(30 * time.Minute)
	expiring := e.request(t, mallory, "add "+astroemu.SampleTokenMLFeatures+" --role member")

	unlock, err := e.st.LockToken(t.Context(), astroemu.SampleTokenCIDeployer)
	require.NoError(t, err)
	defer unlock()
	sweep := func() {
		t.Helper()
		swept := make(chan error, 1)
		go func() { swept <- e.svc.SweepExpired(t.Context(), e.now()) }()
		select {
		case err := <-swept:
			require.NoError(t, err)
		case <-time.After(10 * time.Second):
			unlock()
			<-swept
			t.Fatal("the sweeper waits for the stuck token's lock without end")
		}
	}
	sweep()
	assert.Equal(t, store.StateApplied, e.state(t, other).State, "the other token's request is finished")
	assert.Equal(t, store.StateApproved, e.state(t, stuck).State, "left for a later sweep")
	e.advance(time.Hour)
	sweep()
	assert.Equal(t, store.StateExpired, e.state(t, expiring).State, "later sweeps still expire requests")
	assert.Equal(t, store.StateApproved, e.state(t, stuck).State)

	unlock()
	sweep()
	assert.Equal(t, store.StateApplied, e.state(t, stuck).State, "finished once the lock is free")
	assert.Equal(t, "WORKSPACE_OPERATOR", e.roleIn(t, astroemu.SampleTokenCIDeployer, wsData))
}
