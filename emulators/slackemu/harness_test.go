package slackemu_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/emulators/slackemu"
)

const (
	alice   = "U0ALICE001"
	bob     = "U0BOB00001"
	general = "C0GENERAL1"
	secret  = "C0SECRET01"
	outside = "C0OUTSIDE1"
)

// testCtx bounds every wait in a test; nothing waits on wall-clock sleeps.
func testCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newEmu starts an emulator with fast pings and a small directory.
func newEmu(t testing.TB, mod ...func(*slackemu.Options)) *slackemu.Emulator {
	t.Helper()
	opts := slackemu.Options{PingInterval: 50 * time.Millisecond, AckTimeout: 2 * time.Second, DisconnectGrace: 200 * time.Millisecond}
	for _, m := range mod {
		m(&opts)
	}
	emu := slackemu.Start(t, opts)
	emu.AddUser(slackemu.User{ID: alice, Name: "alice", RealName: "Alice A", Email: "alice@example.com"})
	emu.AddUser(slackemu.User{ID: bob, Name: "bob", RealName: "Bob B"})
	emu.AddChannel(slackemu.Channel{ID: general, Name: "general", BotIsMember: true})
	emu.AddChannel(slackemu.Channel{ID: secret, Name: "secret", IsPrivate: true, BotIsMember: true, Members: []string{alice}})
	emu.AddChannel(slackemu.Channel{ID: outside, Name: "outside", BotIsMember: false})
	emu.SetUserGroup("S0APPROVE1", alice)
	return emu
}

func apiClient(emu *slackemu.Emulator) *slack.Client {
	o := emu.Options()
	return slack.New(o.BotToken, slack.OptionAPIURL(emu.APIURL()), slack.OptionAppLevelToken(o.AppToken))
}

// bot runs the real slack-go socketmode client against the emulator.
type bot struct {
	api    *slack.Client
	sm     *socketmode.Client
	runErr chan error
	mu     sync.Mutex
	events []socketmode.Event
	seen   chan struct{}
}

type botHandler func(b *bot, evt socketmode.Event)

// ackAll acks every request without a payload.
func ackAll(b *bot, evt socketmode.Event) {
	if evt.Request != nil && evt.Request.EnvelopeID != "" {
		_ = b.sm.Ack(*evt.Request)
	}
}

func startBot(t testing.TB, emu *slackemu.Emulator, appToken string, handle botHandler) *bot {
	t.Helper()
	o := emu.Options()
	if appToken == "" {
		appToken = o.AppToken
	}
	api := slack.New(o.BotToken, slack.OptionAPIURL(emu.APIURL()), slack.OptionAppLevelToken(appToken))
	b := &bot{
		api:    api,
		sm:     socketmode.New(api, socketmode.OptionPingInterval(400*time.Millisecond)),
		runErr: make(chan error, 1),
		seen:   make(chan struct{}, 1),
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { b.runErr <- b.sm.RunContext(ctx) })
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case evt := <-b.sm.Events:
				b.mu.Lock()
				b.events = append(b.events, evt)
				b.mu.Unlock()
				select {
				case b.seen <- struct{}{}:
				default:
				}
				if handle != nil {
					handle(b, evt)
				}
			}
		}
	})
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	return b
}

// waitEvent waits until the bot has seen an event of type typ and returns it.
func (b *bot) waitEvent(ctx context.Context, t *testing.T, typ socketmode.EventType) socketmode.Event {
	t.Helper()
	for {
		b.mu.Lock()
		for _, e := range b.events {
			if e.Type == typ {
				b.mu.Unlock()
				return e
			}
		}
		b.mu.Unlock()
		select {
		case <-b.seen:
		case <-ctx.Done():
			require.FailNow(t, "event not seen", "type %s", typ)
		}
	}
}

// connectedBot starts a bot that acks everything and waits for its socket.
func connectedBot(t testing.TB, emu *slackemu.Emulator, handle botHandler) *bot {
	t.Helper()
	if handle == nil {
		handle = ackAll
	}
	b := startBot(t, emu, "", handle)
	require.NoError(t, emu.WaitConnected(testCtx(t), 1))
	return b
}
