package commands_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/astro"
	"github.com/orgtoken/orgtoken-bot/commands"
	"github.com/orgtoken/orgtoken-bot/emulators/astroemu"
	"github.com/orgtoken/orgtoken-bot/reply"
)

// heldLists holds each list of all tokens, once Astro has answered it, until the test lets it
// go: one value on release lets one list go, closing release lets every list go.
type heldLists struct {
	commands.Tokens
	calls   atomic.Int32
	listed  chan struct{} // one value per list, once Astro answered
	release chan struct{}
}

func (h *heldLists) ListTokenSummaries(ctx context.Context, opts astro.ListTokensOptions) ([]astro.TokenSummary, error) {
	h.calls.Add(1)
	toks, err := h.Tokens.ListTokenSummaries(ctx, opts)
	h.listed <- struct{}{}
	<-h.release
	return toks, err
}

// newPausedEnv is newEnv with lists of all tokens held, and joined receiving a value each
// time a lookup by name joins a list already in flight.
func newPausedEnv(t *testing.T, options ...func(*commands.Config)) (e *env, lists *heldLists, joined chan struct{}) {
	t.Helper()
	emu := astroemu.New(astroemu.Options{Now: func() time.Time { return testNow }})
	t.Cleanup(emu.Close)
	emu.SeedSample()
	client := astro.New(emu.OrganizationID(), emu.APIToken(), astro.WithBaseURL(emu.URL()), astro.WithRetryPolicy(astro.RetryPolicy{MaxAttempts: 1}))
	lists = &heldLists{Tokens: client, listed: make(chan struct{}, 8), release: make(chan struct{})}
	e = newEnvWith(t, emu, lists, options...)
	joined = make(chan struct{}, 8)
	commands.OnListJoin(e.svc, func() { joined <- struct{}{} })
	return e, lists, joined
}

// start runs text as alice in the background; the reply arrives on the returned channel.
func (e *env) start(ctx context.Context, text string) <-chan reply.Reply {
	out := make(chan reply.Reply, 1)
	go func() {
		out <- e.svc.Run(ctx, commands.Request{UserID: alice, UserName: "alice", ChannelID: opsChan, Text: text})
	}()
	return out
}

// expectReply receives a reply, checks it renders within Slack's limits and has title want.
func expectReply(t *testing.T, replies <-chan reply.Reply, want string) {
	t.Helper()
	r := <-replies
	checkRenders(t, r)
	assert.Equal(t, want, r.Title, text(r))
}

// warm runs text while no list is in flight, so the bot learns which IDs the names stand for.
func (e *env) warm(t *testing.T, lists *heldLists, text, wantTitle string) {
	t.Helper()
	r := e.start(t.Context(), text)
	<-lists.listed
	lists.release <- struct{}{}
	require.Equal(t, wantTitle, (<-r).Title)
}

// requireTokenReadsWhileHeld waits until n tokens have been read in all while a list is held.
// The bound only turns a regression into a failure rather than a hang (the list waits for the
// test).
func (e *env) requireTokenReadsWhileHeld(t *testing.T, lists *heldLists, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := e.emu.WaitRequests(ctx, astroemu.EndpointGetToken, n); err != nil {
		close(lists.release)
		t.Fatalf("tokens were not read while the list was on its way: %v", err)
	}
}

func TestChangesByNameShareOneList(t *testing.T) {
	t.Parallel()
	t.Run("TwoChangesToDifferentTokensBothApply", func(t *testing.T) {
		t.Parallel()
		e, lists, joined := newPausedEnv(t)
		first := e.start(t.Context(), "add -n dbt-cloud-sync -r member -w "+wsData)
		<-lists.listed
		second := e.start(t.Context(), "update -n airflow-ci-deployer -r owner -w "+wsAna)
		<-joined
		close(lists.release)

		expectReply(t, first, "Token added to workspace")
		expectReply(t, second, "Token role updated")
		assert.EqualValues(t, 1, lists.calls.Load(), "the second lookup rode on the first one's list")
		assert.Equal(t, reqs(1, 0, 2), e.counts(), "nothing was written in between, so neither re-reads")
		assert.Contains(t, e.roles(t, astroemu.SampleTokenDBTSync), wsRole(wsData, "WORKSPACE_MEMBER"))
		assert.Contains(t, e.roles(t, astroemu.SampleTokenDBTSync), wsRole(wsAna, "WORKSPACE_MEMBER"))
		assert.Contains(t, e.roles(t, astroemu.SampleTokenCIDeployer), wsRole(wsAna, "WORKSPACE_OWNER"))
		assert.Contains(t, e.roles(t, astroemu.SampleTokenCIDeployer), wsRole(wsData, "WORKSPACE_AUTHOR"))
	})
	t.Run("ChangeLandingAfterTheListStartedForcesAReRead", func(t *testing.T) {
		t.Parallel()
		e, lists, joined := newPausedEnv(t)
		first := e.start(t.Context(), "add -n dbt-cloud-sync -r member -w "+wsData)
		<-lists.listed
		// The list already holds airflow-ci-deployer's roles when this change lands, and a
		// lookup joining the list afterwards must not take the list for a fresh read of them.
		between := e.run(t, "add "+astroemu.SampleTokenCIDeployer+" -r member -w "+wsSand)
		require.Equal(t, "Token added to workspace", between.Title, text(between))
		second := e.start(t.Context(), "update -n airflow-ci-deployer -r owner -w "+wsAna)
		<-joined
		close(lists.release)

		expectReply(t, first, "Token added to workspace")
		expectReply(t, second, "Token role updated")
		assert.EqualValues(t, 1, lists.calls.Load())
		roles := e.roles(t, astroemu.SampleTokenCIDeployer)
		assert.Contains(t, roles, wsRole(wsSand, "WORKSPACE_MEMBER"), "the change in between is kept")
		assert.Contains(t, roles, wsRole(wsAna, "WORKSPACE_OWNER"))
		assert.Contains(t, roles, wsRole(wsData, "WORKSPACE_AUTHOR"))
		assert.Equal(t, reqs(1, 2, 3), e.counts(), "the change by ID reads once, the joiner re-reads under the lock")
	})
	t.Run("StarterGivingUpDoesNotFailTheOthers", func(t *testing.T) {
		t.Parallel()
		e, lists, joined := newPausedEnv(t)
		ctx, cancel := context.WithCancel(t.Context())
		first := e.start(ctx, "add -n dbt-cloud-sync -r member -w "+wsData)
		<-lists.listed
		second := e.start(t.Context(), "update -n airflow-ci-deployer -r owner -w "+wsAna)
		<-joined
		cancel()
		r1 := <-first
		checkRenders(t, r1)
		assert.NotEqual(t, "Token added to workspace", r1.Title, "the starter gave up")
		close(lists.release)

		expectReply(t, second, "Token role updated")
		assert.EqualValues(t, 1, lists.calls.Load())
		assert.Contains(t, e.roles(t, astroemu.SampleTokenCIDeployer), wsRole(wsAna, "WORKSPACE_OWNER"))
		assert.NotContains(t, e.roles(t, astroemu.SampleTokenDBTSync), wsRole(wsData, "WORKSPACE_MEMBER"))
	})
}

// Every change that waited on a shared list names its Astro request, whoever started it: the
// list resolved each one's name, and whoever traces a change with Astronomer needs it.
func TestChangesSharingAListEachNameItsRequest(t *testing.T) {
	t.Parallel()
	e, lists, joined := newPausedEnv(t)
	firstCtx, firstIDs := astro.WithRequestLog(t.Context())
	secondCtx, secondIDs := astro.WithRequestLog(t.Context())
	first := e.start(firstCtx, "add -n dbt-cloud-sync -r member -w "+wsData)
	<-lists.listed
	second := e.start(secondCtx, "update -n airflow-ci-deployer -r owner -w "+wsAna)
	<-joined
	close(lists.release)
	expectReply(t, first, "Token added to workspace")
	expectReply(t, second, "Token role updated")

	listed := e.emu.Answers()
	var listID string
	for _, a := range listed {
		if a.Endpoint == astroemu.EndpointListTokens {
			listID = a.RequestID
		}
	}
	require.NotEmpty(t, listID, "the emulator answered one list")
	assert.Contains(t, firstIDs(), listID, "the change that started the list names it")
	assert.Contains(t, secondIDs(), listID, "the change that joined it names it too")
	assert.Len(t, firstIDs(), 2, "the list and its own write, each once")
	assert.Len(t, secondIDs(), 2, "the list and its own write, each once")
}

// A change by name whose token an earlier list named joins the list in flight only to confirm
// the name, and reads its token itself while the list is held: both a token this bot wrote
// after that list went out (the list's roles are stale for it) and one it did not.
func TestChangeByAKnownNameReadsItsTokenWhileTheListArrives(t *testing.T) {
	t.Parallel()
	e, lists, joined := newPausedEnv(t)

	e.warm(t, lists, "update -n airflow-ci-deployer -r operator -w "+wsData, "Token role updated")

	first := e.start(t.Context(), "add -n dbt-cloud-sync -r member -w "+wsData)
	<-lists.listed
	// Written after that list went out, as each user's previous command would be.
	for _, id := range []string{astroemu.SampleTokenCIDeployer, astroemu.SampleTokenTerraform} {
		between := e.run(t, "add "+id+" -r member -w "+wsSand)
		require.Equal(t, "Token added to workspace", between.Title, text(between))
	}
	getsBefore := e.emu.CountRequests(astroemu.EndpointGetToken)
	second := e.start(t.Context(), "update -n airflow-ci-deployer -r owner -w "+wsAna)
	third := e.start(t.Context(), "add -n terraform-automation -r author -w "+wsAna)
	fourth := e.start(t.Context(), "add -n billing-export -r member -w "+wsAna)
	for range 3 {
		<-joined
	}
	e.requireTokenReadsWhileHeld(t, lists, getsBefore+3)
	lists.release <- struct{}{}

	for _, r := range []reply.Reply{<-first, <-second, <-third, <-fourth} {
		checkRenders(t, r)
		assert.Contains(t, []string{"Token added to workspace", "Token role updated"}, r.Title, text(r))
	}
	assert.EqualValues(t, 2, lists.calls.Load(), "no list was started for the known names")
	assert.Equal(t, reqs(2, 5, 7), e.counts(), "each change by name costs one read of its own (the list or its token) and a write")
	roles := e.roles(t, astroemu.SampleTokenCIDeployer)
	assert.Contains(t, roles, wsRole(wsSand, "WORKSPACE_MEMBER"), "the change in between is kept")
	assert.Contains(t, roles, wsRole(wsAna, "WORKSPACE_OWNER"))
	assert.Contains(t, roles, wsRole(wsData, "WORKSPACE_OPERATOR"))
	roles = e.roles(t, astroemu.SampleTokenTerraform)
	assert.Contains(t, roles, wsRole(wsSand, "WORKSPACE_MEMBER"))
	assert.Contains(t, roles, wsRole(wsAna, "WORKSPACE_AUTHOR"))
	assert.Contains(t, e.roles(t, astroemu.SampleTokenBillingExport), wsRole(wsAna, "WORKSPACE_MEMBER"))
}

// Concurrent changes by a known name to one token each read it under its lock, so none loses
// another's role, even while they all wait on the same list.
func TestConcurrentChangesByAKnownNameKeepEachOther(t *testing.T) {
	t.Parallel()
	e, lists, joined := newPausedEnv(t)
	e.warm(t, lists, "explain add -n sandbox-experiments -r author -w "+wsData, "You may do this directly.")

	first := e.start(t.Context(), "add -n dbt-cloud-sync -r member -w "+wsSand)
	<-lists.listed
	var changes []<-chan reply.Reply
	for _, ws := range []string{wsData, wsAna, wsSand} {
		changes = append(changes, e.start(t.Context(), "add -n sandbox-experiments -r author -w "+ws))
	}
	for range changes {
		<-joined
	}
	lists.release <- struct{}{}

	checkRenders(t, <-first)
	for _, c := range changes {
		expectReply(t, c, "Token added to workspace")
	}
	roles := e.roles(t, astroemu.SampleTokenSandboxPlayroom)
	for _, ws := range []string{wsData, wsAna, wsSand} {
		assert.Contains(t, roles, wsRole(ws, "WORKSPACE_AUTHOR"))
	}
	assert.EqualValues(t, 2, lists.calls.Load())
}

// plainLocker is a Locker that cannot vouch for freshness, as one shared between replicas.
type plainLocker struct{ commands.Locker }

// Without a locker that can vouch for a list, a change by name would list, lock, then read its
// token again: three round trips. A known name still reads its token while the list arrives.
func TestChangeByAKnownNameTakesTwoRoundTripsWithAnyLocker(t *testing.T) {
	t.Parallel()
	e, lists, joined := newPausedEnv(t, func(c *commands.Config) { c.Locker = plainLocker{commands.NewKeyedLocker()} })
	e.warm(t, lists, "update -n airflow-ci-deployer -r operator -w "+wsData, "Token role updated")
	require.Equal(t, reqs(1, 1, 1), e.counts(), "an unknown name lists, then reads the token under the lock")

	first := e.start(t.Context(), "add -n dbt-cloud-sync -r member -w "+wsData)
	<-lists.listed
	second := e.start(t.Context(), "update -n airflow-ci-deployer -r owner -w "+wsAna)
	<-joined
	e.requireTokenReadsWhileHeld(t, lists, 2)
	lists.release <- struct{}{}

	expectReply(t, first, "Token added to workspace")
	expectReply(t, second, "Token role updated")
	assert.Contains(t, e.roles(t, astroemu.SampleTokenCIDeployer), wsRole(wsAna, "WORKSPACE_OWNER"))
}

// When the name changed hands between the two lists, the token read early is not the one the
// list names: the change goes to the listed token and the other is left alone.
func TestLookupFollowsTheListWhenTheNameMovedToAnotherToken(t *testing.T) {
	t.Parallel()
	e, lists, joined := newPausedEnv(t)

	e.warm(t, lists, "update -n airflow-ci-deployer -r operator -w "+wsData, "Token role updated")

	// Outside the bot, the token is renamed and a new token takes its name.
	old, ok := e.emu.Token(astroemu.SampleTokenCIDeployer)
	require.True(t, ok)
	old.Name = "airflow-ci-deployer-retired"
	e.emu.AddToken(old)
	successor := e.emu.AddToken(astroemu.Token{Name: "airflow-ci-deployer",
		Roles: []astroemu.Role{{EntityType: "ORGANIZATION", EntityID: e.emu.OrganizationID(), Role: "ORGANIZATION_MEMBER"}}})

	first := e.start(t.Context(), "add -n dbt-cloud-sync -r member -w "+wsData)
	<-lists.listed
	between := e.run(t, "add "+astroemu.SampleTokenCIDeployer+" -r member -w "+wsSand)
	require.Equal(t, "Token added to workspace", between.Title, text(between))
	second := e.start(t.Context(), "add -n airflow-ci-deployer -r owner -w "+wsAna)
	<-joined
	lists.release <- struct{}{}

	expectReply(t, first, "Token added to workspace")
	r2 := <-second
	checkRenders(t, r2)
	require.Equal(t, "Token added to workspace", r2.Title, text(r2))
	assert.Contains(t, e.roles(t, successor.ID), wsRole(wsAna, "WORKSPACE_OWNER"), "the token the list names got the role")
	assert.NotContains(t, e.roles(t, astroemu.SampleTokenCIDeployer), wsRole(wsAna, "WORKSPACE_OWNER"))
	assert.EqualValues(t, 2, lists.calls.Load())
}
