package bot

import (
	"context"
	"log/slog"
	"regexp"
	"strings"
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

// panicOnce fails the way a bug in one command would: its first command panics.
type panicOnce struct{ calls atomic.Int32 }

func (p *panicOnce) Run(_ context.Context, req commands.Request) reply.Reply {
	if p.calls.Add(1) == 1 {
		panic("index out of range in a command")
	}
	return reply.Reply{Visibility: reply.Ephemeral, Title: "ran " + req.Text}
}

func (p *panicOnce) Act(context.Context, commands.Action) reply.Reply {
	return reply.Reply{Visibility: reply.Ephemeral, Title: "ok"}
}

// A command that panics is answered with a reference the operator can find in the log, and the
// bot goes on answering the next one.
func TestACommandThatPanicsIsAnsweredAndTheBotCarriesOn(t *testing.T) {
	t.Parallel()
	s := newIdleSocket(t)
	var logs logtest.Buffer
	bt := New(s.sm, s.api, &panicOnce{}, Config{CommandName: "/orgtoken", Workers: 2, QueueSize: 8,
		Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { _ = bt.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })

	send := func(text string) slackemu.ResponsePost {
		in, err := s.emu.SlashCommand(ctx, slackemu.Slash{UserID: benchUser, ChannelID: benchChannel, Command: "/orgtoken", Text: text})
		require.NoError(t, err)
		p, err := in.WaitResponse(ctx)
		require.NoError(t, err, "no answer on response_url for %q", text)
		return p
	}

	first := send("list")
	assert.Contains(t, string(first.Body), "Something went wrong")
	assert.Contains(t, string(first.Body), "Nothing was changed by this step")
	assert.NotContains(t, string(first.Body), "index out of range", "the panic's text stays in the log")
	// The reference the user is given is the start of the envelope ID the log line carries.
	require.Regexp(t, regexp.MustCompile(`\(ref [0-9A-Za-z]+\)`), string(first.Body))
	ref := regexp.MustCompile(`\(ref ([0-9A-Za-z]+)\)`).FindStringSubmatch(string(first.Body))[1]
	assert.True(t, strings.HasPrefix(first.EnvelopeID, ref), "ref %s, envelope %s", ref, first.EnvelopeID)
	assert.Contains(t, logs.String(), `"msg":"command panicked"`)
	assert.Contains(t, logs.String(), "index out of range in a command")
	assert.Contains(t, logs.String(), `"envelope_id":"`+first.EnvelopeID+`"`)

	second := send("list --page 2")
	assert.Contains(t, string(second.Body), "ran list --page 2", "the bot still answers after a panic")
}
