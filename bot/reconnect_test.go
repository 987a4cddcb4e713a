package bot

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeClock is the bot's clock in a test: time moves only when the test advances it, and each
// wait the bot starts is reported on waits.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []fakeTimer
	waits  chan time.Duration
}

type fakeTimer struct {
	at time.Time
	c  chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 1, 6, 9, 0, 0, 0, time.UTC), waits: make(chan time.Duration, 16)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := fakeTimer{at: c.now.Add(d), c: make(chan time.Time, 1)}
	c.timers = append(c.timers, t)
	c.waits <- d
	return t.c
}

// Advance moves the clock on by d and fires the timers that are due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	pending := c.timers[:0]
	for _, t := range c.timers {
		if t.at.After(c.now) {
			pending = append(pending, t)
		} else {
			t.c <- c.now
		}
	}
	c.timers = pending
}

// After a long healthy connection the bot is back on Slack as promptly as the first time it
// reconnected, however often slack-go gave up in the days before; the wait grows only while
// slack-go keeps giving up soon after it starts.
func TestReconnectIsPromptAfterALongHealthyConnection(t *testing.T) {
	t.Parallel()
	s := newIdleSocket(t)
	clock := newFakeClock()
	bt := New(s.sm, s.api, benchCommands{}, Config{CommandName: "/orgtoken", Logger: benchLogger()})
	bt.now, bt.after = clock.Now, clock.After
	// slack-go (v0.35) reconnects after drops inside its own loop and gives up only on a refused
	// token, so the test makes it give up on cue: the link closes and the bot must reconnect.
	giveUp := make(chan struct{})
	bt.runSlack = func(ctx context.Context) error {
		runCtx, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() {
			select {
			case <-giveUp:
				cancel()
			case <-runCtx.Done():
			}
		}()
		_ = s.sm.RunContext(runCtx)
		return errors.New("slack-go gave up")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	var wg sync.WaitGroup
	wg.Go(func() { _ = bt.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })

	opened := 1
	require.NoError(t, s.emu.WaitConnectionsOpened(ctx, opened), "the bot never connected")
	// dropAfter keeps the link up for upFor on the bot's clock, then slack-go gives up; it
	// returns how long the bot stayed away before it was connected to Slack again.
	dropAfter := func(upFor time.Duration) time.Duration {
		t.Helper()
		clock.Advance(upFor)
		select {
		case giveUp <- struct{}{}:
		case <-ctx.Done():
			t.Fatal("slack-go was not running")
		}
		var wait time.Duration
		select {
		case wait = <-clock.waits:
		case <-ctx.Done():
			t.Fatal("the bot did not try to reconnect")
		}
		clock.Advance(wait)
		opened++
		require.NoError(t, s.emu.WaitConnectionsOpened(ctx, opened), "the bot did not reconnect")
		return wait
	}

	quick := []time.Duration{dropAfter(0), dropAfter(time.Second), dropAfter(0)}
	assert.Equal(t, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}, quick,
		"slack-go giving up right after each start slows the bot's reconnects down")
	assert.Equal(t, time.Second, dropAfter(3*time.Hour),
		"after three healthy hours the bot came back only after a long wait, as if the link had just failed")
	assert.Equal(t, 2*time.Second, dropAfter(0), "a give-up right after that one is slowed down again")
}
