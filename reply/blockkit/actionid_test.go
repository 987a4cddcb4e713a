package blockkit_test

import (
	"strings"
	"testing"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/reply"
	"github.com/orgtoken/orgtoken-bot/reply/blockkit"
)

func buttonsOf(t *testing.T, blocks []slack.Block) []*slack.ButtonBlockElement {
	t.Helper()
	var out []*slack.ButtonBlockElement
	for _, b := range blocks {
		if a, ok := b.(*slack.ActionBlock); ok {
			for _, el := range a.Elements.ElementSet {
				btn, ok := el.(*slack.ButtonBlockElement)
				require.True(t, ok, "unexpected element %T", el)
				out = append(out, btn)
			}
		}
	}
	return out
}

// Several buttons for the same kind of action (a "Revert now" per pending revert) must not
// share an action_id, or Slack refuses the whole message; each click still maps back to the
// action and carries its own value.
func TestRepeatedActionIDsAreMadeUniqueAndMapBack(t *testing.T) {
	t.Parallel()
	r := reply.Reply{Title: "Token CI deployer", Buttons: []reply.Button{
		{Label: "Revert now: Data Platform", ActionID: "orgtoken.revert.now", Value: "vaaaaaaaaaaaa"},
		{Label: "Revert now: Analytics", ActionID: "orgtoken.revert.now", Value: "vbbbbbbbbbbbb"},
		{Label: "Revert now: ML Ops", ActionID: "orgtoken.revert.now", Value: "vcccccccccccc"},
		{Label: "Share in channel", ActionID: "orgtoken.share", Value: "show clxtok1"},
	}}
	blocks, _ := blockkit.Render(r)
	require.NoError(t, blockkit.CheckLimits(blocks))

	btns := buttonsOf(t, blocks)
	require.Len(t, btns, 4, "every button is shown")
	seen := map[string]bool{}
	for i, b := range btns {
		assert.False(t, seen[b.ActionID], "action_id %q repeats", b.ActionID)
		seen[b.ActionID] = true
		assert.Equal(t, r.Buttons[i].ActionID, blockkit.BaseActionID(b.ActionID), "button %d routes to its action", i)
		assert.Equal(t, r.Buttons[i].Value, b.Value)
	}
	assert.Equal(t, "orgtoken.revert.now", btns[0].ActionID, "the first keeps its ID, so messages with one such button are unchanged")
	assert.Equal(t, "orgtoken.share", btns[3].ActionID)
}

func TestBaseActionID(t *testing.T) {
	t.Parallel()
	for id, want := range map[string]string{
		"orgtoken.revert.now":    "orgtoken.revert.now",
		"orgtoken.revert.now#2":  "orgtoken.revert.now",
		"orgtoken.revert.now#17": "orgtoken.revert.now",
		"orgtoken.share#":        "orgtoken.share#",
		"orgtoken.share#x2":      "orgtoken.share#x2",
		"#2":                     "#2",
		"":                       "",
	} {
		assert.Equal(t, want, blockkit.BaseActionID(id), id)
	}
}

// A counter that would push an action ID past Slack's 255 bytes leaves that button out rather
// than sending an ID that cannot be routed.
func TestRepeatedLongActionIDStaysWithinLimits(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", blockkit.MaxIDLength)
	blocks, _ := blockkit.Render(reply.Reply{Title: "x", Buttons: []reply.Button{
		{Label: "one", ActionID: long, Value: "1"},
		{Label: "two", ActionID: long, Value: "2"},
	}})
	require.NoError(t, blockkit.CheckLimits(blocks))
	btns := buttonsOf(t, blocks)
	require.Len(t, btns, 1)
	assert.Equal(t, "1", btns[0].Value)
}
