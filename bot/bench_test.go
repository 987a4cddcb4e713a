package bot

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/orgtoken/orgtoken-bot/commands"
	"github.com/orgtoken/orgtoken-bot/emulators/slackemu"
	"github.com/orgtoken/orgtoken-bot/reply"
)

const (
	benchAppToken = "xapp-1-A0EMU00001-1-benchapp"
	benchBotToken = "xoxb-1-2-benchbot"
	benchUser     = "U0BENCH01"
	benchChannel  = "C0BENCH01"
)

// benchSocket is a slack-go Socket Mode client connected to the Slack emulator. slack-go only
// writes acks from the goroutine RunContext starts (its queue is unexported and 20 deep), so
// the ack path cannot be measured without a socket; a loopback one is the next best thing.
type benchSocket struct {
	emu  *slackemu.Emulator
	api  *WebAPI
	sm   *socketmode.Client
	stop func()
}

// newBenchSocket runs the client itself, for benchmarks that call handleEvent directly; a test
// in which the bot runs takes newIdleSocket, or two connections would share one client.
func newBenchSocket(tb testing.TB) *benchSocket {
	tb.Helper()
	s := newIdleSocket(tb)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = s.sm.RunContext(ctx) })
	s.stop = func() { cancel(); wg.Wait() }
	tb.Cleanup(s.stop)

	waitCtx, waitCancel := context.WithTimeout(ctx, 10*time.Second)
	defer waitCancel()
	if err := s.emu.WaitConnected(waitCtx, 1); err != nil {
		tb.Fatalf("socket mode client never connected to the emulator: %v", err)
	}
	return s
}

// newIdleSocket is a Socket Mode client for the Slack emulator that is not running yet, for a
// test in which the bot runs it.
func newIdleSocket(tb testing.TB) *benchSocket {
	tb.Helper()
	emu := slackemu.Start(tb, slackemu.Options{AppToken: benchAppToken, BotToken: benchBotToken})
	emu.AddUser(slackemu.User{ID: benchUser, Name: "bench"})
	emu.AddChannel(slackemu.Channel{ID: benchChannel, Name: "bench", BotIsMember: true})
	api := NewWebAPI(slack.New(benchBotToken, slack.OptionAPIURL(emu.APIURL()), slack.OptionAppLevelToken(benchAppToken)),
		http.DefaultClient, emu.APIURL(), benchBotToken, slack.RetryConfig{})
	return &benchSocket{emu: emu, api: api, sm: socketmode.New(api.Client), stop: func() {}}
}

// drainEvents discards what slack-go emits (connecting, hello...) so its reader never blocks
// on a full Events channel while the benchmark calls handleEvent itself.
func (s *benchSocket) drainEvents(b *testing.B) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-s.sm.Events:
			case <-done:
				return
			}
		}
	})
	b.Cleanup(func() { close(done); wg.Wait() })
}

// waitAcks waits until the emulator has read n acks, so every ack queued was really written.
func (s *benchSocket) waitAcks(b *testing.B, n int) []slackemu.Ack {
	b.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		acks := s.emu.Acks()
		if len(acks) >= n {
			return acks
		}
		if time.Now().After(deadline) {
			b.Fatalf("the emulator read %d acks, want %d", len(acks), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func benchLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// BenchmarkDispatchSlashCommand is the bot's read path for one slash command: handleEvent
// with a decoded socketmode.Event → duplicate check → job queued for a worker → ack handed to
// slack-go's writer. The ack frames really go out over a loopback socket, so when the writer is
// the slower side the benchmark measures it. A nil Inbox keeps the store out of the picture.
func BenchmarkDispatchSlashCommand(b *testing.B) {
	s := newBenchSocket(b)
	s.drainEvents(b)
	bt := New(s.sm, s.api, nil, Config{CommandName: "/orgtoken", Workers: 1, QueueSize: 1, Logger: benchLogger()})

	ids := make([]string, b.N)
	for i := range ids {
		ids[i] = fmt.Sprintf("bench-envelope-%09d", i)
	}
	cmd := slack.SlashCommand{
		Command: "/orgtoken", Text: "list", UserID: benchUser, UserName: "bench", ChannelID: benchChannel,
		ResponseURL: s.emu.BaseURL() + "/commands/T0EMU00001/1/bench", TriggerID: "1.2.bench",
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if i > 0 && i%50_000 == 0 {
			// Keep the duplicate window below capacity: its eviction cost grows with the window
			// and has a benchmark of its own (BenchmarkSeenEnvelopesAtCapacity).
			b.StopTimer()
			bt.seen = newSeenEnvelopes(time.Hour, 100_000)
			b.StartTimer()
		}
		bt.handleEvent(socketmode.Event{
			Type:    socketmode.EventTypeSlashCommand,
			Data:    cmd,
			Request: &socketmode.Request{Type: socketmode.RequestTypeSlashCommands, EnvelopeID: ids[i]},
		})
		j := <-bt.jobs // what a worker would take
		if j.envelopeID != ids[i] {
			b.Fatalf("queued envelope %q, want %q", j.envelopeID, ids[i])
		}
	}
	b.StopTimer()

	acks := s.waitAcks(b, b.N)
	for _, a := range acks {
		if len(a.Payload) > 0 {
			b.Fatalf("envelope %s was answered in the ack (%s): the bot turned it away", a.EnvelopeID, a.Payload)
		}
	}
}

// benchCommands answers every command at once, so only the bot's own work is measured.
type benchCommands struct{}

func (benchCommands) Run(context.Context, commands.Request) reply.Reply {
	return reply.Reply{Visibility: reply.Ephemeral, Title: "ok"}
}

func (benchCommands) Act(context.Context, commands.Action) reply.Reply {
	return reply.Reply{Visibility: reply.Ephemeral, Title: "ok"}
}

// BenchmarkEnvelopeToAck is one slash command from Slack's side: the emulator writes the
// envelope, slack-go reads and decodes it, the running bot acks it, the emulator reads the ack.
// One at a time, so it is latency, not throughput; ack-p50-µs and ack-max-µs are the
// emulator's Ack.Latency (envelope written → ack read), the figure the ack target is about.
func BenchmarkEnvelopeToAck(b *testing.B) {
	s := newBenchSocket(b)
	bt := New(s.sm, s.api, benchCommands{}, Config{CommandName: "/orgtoken", Workers: 4, QueueSize: 64, Logger: benchLogger()})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = bt.Run(ctx) })
	b.Cleanup(func() { cancel(); wg.Wait() })

	latencies := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		in, err := s.emu.SlashCommand(ctx, slackemu.Slash{UserID: benchUser, ChannelID: benchChannel, Command: "/orgtoken", Text: "list"})
		if err != nil {
			b.Fatal(err)
		}
		ack, err := in.WaitAck(ctx)
		if err != nil {
			b.Fatal(err)
		}
		latencies = append(latencies, ack.Latency)
	}
	b.StopTimer()
	slices.Sort(latencies)
	b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds()), "ack-p50-µs")
	b.ReportMetric(float64(latencies[len(latencies)-1].Microseconds()), "ack-max-µs")
}

// BenchmarkSeenEnvelopesAtCapacity is the duplicate check on the read path once the window is
// full, as it is after max envelopes (or an hour of traffic): every new envelope evicts the
// oldest. Its cost should not grow with the window.
func BenchmarkSeenEnvelopesAtCapacity(b *testing.B) {
	for _, size := range []int{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("window=%d", size), func(b *testing.B) {
			now := time.Now()
			s := newSeenEnvelopes(time.Hour, size)
			for i := range size {
				s.firstTime(fmt.Sprintf("warm-%09d", i), now)
			}
			ids := make([]string, b.N)
			for i := range ids {
				ids[i] = fmt.Sprintf("new-%09d", i)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if !s.firstTime(ids[i], now) {
					b.Fatalf("%s reported as a duplicate", ids[i])
				}
			}
		})
	}
}
