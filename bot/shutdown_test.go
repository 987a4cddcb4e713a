package bot

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/commands"
	"github.com/orgtoken/orgtoken-bot/emulators/slackemu"
	"github.com/orgtoken/orgtoken-bot/logging/logtest"
	"github.com/orgtoken/orgtoken-bot/reply"
)

// memInbox is an Inbox in memory, shared by the replicas of a test as a database would be.
type memInbox struct {
	mu        sync.Mutex
	saved     map[string]SavedEnvelope
	done      map[string]bool
	released  []string      // by Release, in order
	finishing chan struct{} // when set, Finish waits for it to close, like a stuck database
}

func newMemInbox() *memInbox {
	return &memInbox{saved: map[string]SavedEnvelope{}, done: map[string]bool{}}
}

func (m *memInbox) Save(_ context.Context, id, kind string, payload []byte, _ time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.saved[id]; ok {
		return false, nil
	}
	m.saved[id] = SavedEnvelope{ID: id, Kind: kind, Payload: payload}
	return true, nil
}

func (m *memInbox) Finish(ctx context.Context, id string) error {
	if m.finishing != nil {
		select {
		case <-m.finishing:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.done[id] = true
	return nil
}

// ClaimOrphans hands out nothing: the tests here look at what is left for the next replica.
func (m *memInbox) ClaimOrphans(context.Context, time.Duration) ([]SavedEnvelope, error) {
	return nil, nil
}

func (m *memInbox) Release(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.released = append(m.released, id)
	return nil
}

// unanswered is what a replica started later would take up.
func (m *memInbox) unanswered(id string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, saved := m.saved[id]
	return saved && !m.done[id]
}

// holdFirst blocks its first command until its context ends; the others answer at once.
type holdFirst struct {
	calls   sync.Mutex
	n       int
	started chan struct{}
}

func (h *holdFirst) Run(ctx context.Context, req commands.Request) reply.Reply {
	h.calls.Lock()
	h.n++
	first := h.n == 1
	h.calls.Unlock()
	if first {
		close(h.started)
		<-ctx.Done()
		return reply.Reply{Tone: reply.Failure, Title: "cancelled"}
	}
	return reply.Reply{Title: "ran " + req.Text}
}

func (h *holdFirst) Act(context.Context, commands.Action) reply.Reply { return reply.Reply{} }

// A command still queued when the shutdown timeout runs out is not lost: the user is told it
// will run once the bot is back, so it must be in the Inbox for the next replica to take up.
func TestCommandQueuedAtShutdownIsKeptForTheNextReplica(t *testing.T) {
	t.Parallel()
	s := newIdleSocket(t)
	inbox := newMemInbox()
	cmds := &holdFirst{started: make(chan struct{})}
	var logs logtest.Buffer
	bt := New(s.sm, s.api, cmds, Config{CommandName: "/orgtoken", Workers: 1, QueueSize: 4,
		ShutdownTimeout: 200 * time.Millisecond, Inbox: inbox, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stopped := make(chan struct{})
	go func() { _ = bt.Run(ctx); close(stopped) }()

	wait, waitCancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer waitCancel()
	send := func(text string) *slackemu.Interaction {
		in, err := s.emu.SlashCommand(wait, slackemu.Slash{UserID: benchUser, ChannelID: benchChannel, Command: "/orgtoken", Text: text})
		require.NoError(t, err)
		_, err = in.WaitAck(wait)
		require.NoError(t, err)
		return in
	}
	send("list")
	<-cmds.started
	queued := send("add deploy-bot --role WORKSPACE_MEMBER")

	cancel() // SIGTERM: "list" outlasts the shutdown timeout, so the queued add never starts
	select {
	case <-stopped:
	case <-wait.Done():
		t.Fatal("the bot did not stop")
	}
	p, err := queued.WaitResponse(wait)
	require.NoError(t, err)
	require.Contains(t, string(p.Body), "it will run as soon as the bot is back")
	assert.True(t, inbox.unanswered(queued.EnvelopeID),
		"the user was promised the command would run after the restart, but no replica can find it")
}

// A command turned away because every worker is busy must not hold up the acks of the
// envelopes behind it: the store is at its slowest exactly when the bot is that busy, and an
// envelope not acked within 3 s fails for its user.
func TestTurningACommandAwayDoesNotWaitOnTheStore(t *testing.T) {
	t.Parallel()
	for _, saveBeforeAck := range []bool{false, true} {
		name := map[bool]string{false: "SaveAsWorkerStarts", true: "SaveBeforeAck"}[saveBeforeAck]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := newIdleSocket(t)
			inbox := newMemInbox()
			inbox.finishing = make(chan struct{}) // the database is stuck
			cmds := &holdFirst{started: make(chan struct{})}
			bt := New(s.sm, s.api, cmds, Config{CommandName: "/orgtoken", Workers: 1, QueueSize: 1,
				ShutdownTimeout: 100 * time.Millisecond, Inbox: inbox, SaveBeforeAck: saveBeforeAck, Logger: benchLogger()})
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			wg.Go(func() { _ = bt.Run(ctx) })
			t.Cleanup(func() { close(inbox.finishing); cancel(); wg.Wait() })

			wait, waitCancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer waitCancel()
			send := func(text string) slackemu.Ack {
				in, err := s.emu.SlashCommand(wait, slackemu.Slash{UserID: benchUser, ChannelID: benchChannel, Command: "/orgtoken", Text: text})
				require.NoError(t, err)
				ack, err := in.WaitAck(wait)
				require.NoError(t, err, "%q was not acked in time: its user sees an error", text)
				return ack
			}
			send("list")
			<-cmds.started
			send("list --page 2") // waits in the queue
			busy := send("list --page 3")
			require.Contains(t, string(busy.Payload), "busy")
			next := send("list --page 4")
			assert.Less(t, next.Latency, time.Second, "the ack after a turned-away command waited on the store")
			assert.Empty(t, s.emu.Failures())
		})
	}
}

// slowClaims is an Inbox whose orphan query takes a while and finishes even when its caller
// gives up, as a query already sent to the database does.
type slowClaims struct {
	*memInbox
	running atomic.Int32
}

func (s *slowClaims) ClaimOrphans(context.Context, time.Duration) ([]SavedEnvelope, error) {
	s.running.Add(1)
	defer s.running.Add(-1)
	time.Sleep(300 * time.Millisecond)
	return []SavedEnvelope{{ID: "orphan-" + time.Now().Format(time.RFC3339Nano), Kind: "slash_commands",
		Payload: []byte(`{"command":"/orgtoken","text":"list","user_id":"` + benchUser + `","channel_id":"` + benchChannel + `"}`)}}, nil
}

// When Run returns the caller closes the store, so the bot must have stopped using it: a claim
// still running would take envelopes over for a replica that is going away (spending one of
// their attempts), and handing them to the closed queue would crash the process.
func TestRunReturnsOnlyOnceOrphanRecoveryHasStopped(t *testing.T) {
	t.Parallel()
	s := newIdleSocket(t)
	inbox := &slowClaims{memInbox: newMemInbox()}
	bt := New(s.sm, s.api, &holdFirst{started: make(chan struct{})}, Config{CommandName: "/orgtoken", Workers: 1, QueueSize: 1,
		ShutdownTimeout: 100 * time.Millisecond, Inbox: inbox, InboxLease: time.Second, Logger: benchLogger()})
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { _ = bt.Run(ctx); close(stopped) }()
	require.Eventually(t, func() bool { return inbox.running.Load() == 1 }, 10*time.Second, time.Millisecond)
	cancel()
	<-stopped
	assert.Zero(t, inbox.running.Load(), "Run returned while the bot was still claiming envelopes from the store")
}

// A command still running when the shutdown timeout runs out is cancelled, and the command
// layer answers what it knows (the write may or may not have landed). That answer must reach
// its user: the envelope is marked answered afterwards, so no replica will run it again, and a
// reply dropped here leaves the user with silence about a change that may have happened.
func TestCommandCancelledAtShutdownIsStillAnswered(t *testing.T) {
	t.Parallel()
	s := newIdleSocket(t)
	inbox := newMemInbox()
	cmds := &holdFirst{started: make(chan struct{})}
	bt := New(s.sm, s.api, cmds, Config{CommandName: "/orgtoken", Workers: 1, QueueSize: 4,
		ShutdownTimeout: 200 * time.Millisecond, Inbox: inbox, Logger: benchLogger()})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stopped := make(chan struct{})
	go func() { _ = bt.Run(ctx); close(stopped) }()

	wait, waitCancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer waitCancel()
	in, err := s.emu.SlashCommand(wait, slackemu.Slash{UserID: benchUser, ChannelID: benchChannel, Command: "/orgtoken", Text: "list"})
	require.NoError(t, err)
	<-cmds.started

	cancel() // SIGTERM: the command outlasts the shutdown timeout and is cancelled
	select {
	case <-stopped:
	case <-wait.Done():
		t.Fatal("the bot did not stop")
	}
	require.False(t, inbox.unanswered(in.EnvelopeID), "the envelope is closed: no replica will answer it")
	p, err := in.WaitResponse(wait)
	require.NoError(t, err, "the cancelled command's answer was dropped")
	assert.Contains(t, string(p.Body), "cancelled")
}

// orphanOnce is an Inbox whose first orphan claim takes over one envelope.
type orphanOnce struct {
	*memInbox
	claimed atomic.Bool
}

func (o *orphanOnce) ClaimOrphans(context.Context, time.Duration) ([]SavedEnvelope, error) {
	if o.claimed.Swap(true) {
		return nil, nil
	}
	return []SavedEnvelope{{ID: "orphan-1", Kind: "slash_commands",
		Payload: []byte(`{"command":"/orgtoken","text":"list","user_id":"` + benchUser + `","channel_id":"` + benchChannel + `"}`)}}, nil
}

// An envelope taken over from a dead replica while every worker here is busy is handed back to
// the Inbox: each claim counts as an attempt, and an envelope claimed often enough is closed, so
// keeping it unrun until its lease ran out again would spend its attempts and leave its user
// with no answer from any replica.
func TestRecoveredEnvelopeWithNoFreeWorkerIsHandedBack(t *testing.T) {
	t.Parallel()
	s := newIdleSocket(t)
	inbox := &orphanOnce{memInbox: newMemInbox()}
	cmds := &holdFirst{started: make(chan struct{})}
	bt := New(s.sm, s.api, cmds, Config{CommandName: "/orgtoken", Workers: 1, QueueSize: 1,
		ShutdownTimeout: 100 * time.Millisecond, Inbox: inbox, InboxLease: time.Second, Logger: benchLogger()})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = bt.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })

	wait, waitCancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer waitCancel()
	for _, text := range []string{"list", "list --page 2"} {
		in, err := s.emu.SlashCommand(wait, slackemu.Slash{UserID: benchUser, ChannelID: benchChannel, Command: "/orgtoken", Text: text})
		require.NoError(t, err)
		_, err = in.WaitAck(wait)
		require.NoError(t, err)
		if text == "list" {
			<-cmds.started // the only worker is busy; the second command fills the queue
		}
	}
	require.Eventually(t, inbox.claimed.Load, 10*time.Second, 10*time.Millisecond)
	assert.Eventually(t, func() bool {
		inbox.mu.Lock()
		defer inbox.mu.Unlock()
		return len(inbox.released) == 1 && inbox.released[0] == "orphan-1"
	}, 5*time.Second, 10*time.Millisecond, "the envelope no worker took up was kept, spending its attempts")
}
