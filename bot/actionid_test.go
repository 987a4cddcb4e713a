package bot

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/commands"
	"github.com/orgtoken/orgtoken-bot/emulators/slackemu"
	"github.com/orgtoken/orgtoken-bot/reply"
)

// twoReverts answers every command with two buttons for the same action, as show does for a
// token with two pending reverts, and records the clicks it is handed.
type twoReverts struct {
	mu     sync.Mutex
	clicks []commands.Action
}

func (c *twoReverts) Run(context.Context, commands.Request) reply.Reply {
	return reply.Reply{Visibility: reply.Ephemeral, Title: "Token CI deployer", Buttons: []reply.Button{
		{Label: "Revert now: Data Platform", ActionID: commands.ActionRevertNow, Value: "vaaaaaaaaaaaa", Style: reply.Danger},
		{Label: "Revert now: Analytics", ActionID: commands.ActionRevertNow, Value: "vbbbbbbbbbbbb", Style: reply.Danger},
	}}
}

func (c *twoReverts) Act(_ context.Context, act commands.Action) reply.Reply {
	c.mu.Lock()
	c.clicks = append(c.clicks, act)
	c.mu.Unlock()
	return reply.Reply{Visibility: reply.Ephemeral, Title: "reverted " + act.Value}
}

func (c *twoReverts) seen() []commands.Action {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]commands.Action(nil), c.clicks...)
}

// A reply with two buttons for the same action reaches the user, and a click on the second is
// handed to that action with the second button's value.
func TestRepeatedButtonsAreDeliveredAndRouted(t *testing.T) {
	t.Parallel()
	s := newIdleSocket(t)
	cmds := &twoReverts{}
	bt := New(s.sm, s.api, cmds, Config{CommandName: "/orgtoken", Workers: 2, QueueSize: 8, Logger: benchLogger()})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { _ = bt.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })

	in, err := s.emu.SlashCommand(ctx, slackemu.Slash{UserID: benchUser, ChannelID: benchChannel, Command: "/orgtoken", Text: "show clxtok1"})
	require.NoError(t, err)
	p, err := in.WaitResponse(ctx)
	require.NoError(t, err)
	require.Empty(t, p.Error, "Slack refused the reply")
	m, ok := s.emu.Message(p.MessageTS)
	require.True(t, ok)
	require.Len(t, m.Buttons(), 2)

	click, err := s.emu.ClickButton(ctx, slackemu.Click{UserID: benchUser, MessageTS: p.MessageTS, Text: "Revert now: Analytics"})
	require.NoError(t, err)
	answer, err := click.WaitResponse(ctx)
	require.NoError(t, err)
	assert.Contains(t, answer.Text, "reverted vbbbbbbbbbbbb")
	require.Len(t, cmds.seen(), 1)
	assert.Equal(t, commands.ActionRevertNow, cmds.seen()[0].ActionID)
	assert.Equal(t, "vbbbbbbbbbbbb", cmds.seen()[0].Value)
}
