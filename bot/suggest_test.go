package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/commands"
	"github.com/orgtoken/orgtoken-bot/emulators/slackemu"
	"github.com/orgtoken/orgtoken-bot/policy"
)

// bigOrg suggests 100 tokens whose names and IDs are as long as a picker shows, full of
// characters JSON spells out at length, most relevant first.
type bigOrg struct{}

func (bigOrg) SuggestTokens(_ string, limit int) []commands.Choice {
	var out []commands.Choice
	for i := range limit {
		out = append(out, commands.Choice{
			Value:       fmt.Sprintf("cl%0120d", i),
			Label:       fmt.Sprintf("deployer %03d <data-platform> & “ingestion” — production pipeline for the EU region", i),
			Description: fmt.Sprintf("cl%0120d", i),
		})
	}
	return out
}
func (bigOrg) Workspaces() []commands.Choice {
	return []commands.Choice{{Value: "clwsdataplatform000000001", Label: "Data Platform"}}
}
func (bigOrg) TokenName(string) string           { return "" }
func (bigOrg) CurrentRole(string, string) string { return "" }

// pickerAnswer opens the add form with pickers behind the bot, types "d" in its token picker
// and returns the bot's answer as Slack received it.
func pickerAnswer(t *testing.T, pickers Pickers) slackemu.Ack {
	t.Helper()
	s := newIdleSocket(t)
	bt := New(s.sm, s.api, &twoReverts{}, Config{CommandName: "/orgtoken", Workers: 2, QueueSize: 8, Logger: benchLogger(),
		Pickers: pickers, Views: s.api, Gate: allowing(policy.ActionList)})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	var wg sync.WaitGroup
	wg.Go(func() { _ = bt.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })

	_, err := s.emu.SlashCommand(ctx, slackemu.Slash{UserID: benchUser, ChannelID: benchChannel, Command: "/orgtoken", Text: "add"})
	require.NoError(t, err)
	v, err := s.emu.WaitView(ctx, func(v slackemu.View) bool { return v.Open && v.CallbackID == changeModalID })
	require.NoError(t, err, "no modal opened")
	in, err := s.emu.BlockSuggestion(ctx, slackemu.Suggestion{UserID: benchUser, ViewID: v.ID, ActionID: actionToken, BlockID: blockToken, Value: "d"})
	require.NoError(t, err)
	ack, err := in.WaitAck(ctx)
	require.NoError(t, err, "the picker got no answer")
	return ack
}

// Typing one letter in a big organization's token picker still offers tokens, the most
// relevant first: the answer fits in an ack slack-go will send.
func TestTokenPickerAnswersInABigOrganization(t *testing.T) {
	t.Parallel()
	ack := pickerAnswer(t, bigOrg{})
	var got struct {
		Options []struct {
			Value string `json:"value"`
		} `json:"options"`
	}
	require.NoError(t, json.Unmarshal(ack.Payload, &got))
	require.GreaterOrEqual(t, len(got.Options), 10, "a useful number of tokens is offered")
	assert.Less(t, len(got.Options), 100, "not all fit")
	assert.Equal(t, fmt.Sprintf("cl%0120d", 0), got.Options[0].Value, "the most relevant first")
	assert.Equal(t, fmt.Sprintf("cl%0120d", len(got.Options)-1), got.Options[len(got.Options)-1].Value, "in order, none skipped")
	assert.Less(t, ack.Size, 20*1024)
	assert.Empty(t, ack.Error, "Slack would show the options: %v", ack.Errors)
}

// oddOrg suggests, among ordinary tokens, one without a name and one whose ID is longer
// than an option's value may be.
type oddOrg struct{ bigOrg }

func (oddOrg) SuggestTokens(string, int) []commands.Choice {
	return []commands.Choice{
		{Value: "cltkfirst0000000000000001", Label: "deployer", Description: "cltkfirst0000000000000001"},
		{Value: "cltkblank0000000000000002", Label: "", Description: "cltkblank0000000000000002"},
		{Value: fmt.Sprintf("cl%0149d", 3), Label: "deployer-long-id", Description: "cl…"},
		{Value: "cltklast00000000000000004", Label: "deployer-2", Description: "cltklast00000000000000004"},
	}
}

// One odd token must not empty the picker: Slack drops an answer with an option it cannot
// show whole. A token without a name is offered under its ID; one whose ID is too long to be
// an option's value (it could not be picked) is left out.
func TestTokenPickerOffersTheRestPastAnOddToken(t *testing.T) {
	t.Parallel()
	ack := pickerAnswer(t, oddOrg{})
	require.Empty(t, ack.Error, "Slack would show no options: %v", ack.Errors)
	var got struct {
		Options []struct {
			Text  struct{ Text string } `json:"text"`
			Value string                `json:"value"`
		} `json:"options"`
	}
	require.NoError(t, json.Unmarshal(ack.Payload, &got))
	var offered []string
	for _, o := range got.Options {
		offered = append(offered, o.Text.Text+"="+o.Value)
	}
	assert.Equal(t, []string{
		"deployer=cltkfirst0000000000000001",
		"cltkblank0000000000000002=cltkblank0000000000000002",
		"deployer-2=cltklast00000000000000004",
	}, offered)
}
