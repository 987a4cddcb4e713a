package slackemu_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/emulators/slackemu"
)

// With MaxRecorded set, a long run keeps only about the newest records of each kind: old
// messages, calls, acks, posts and interactions are forgotten (never more than twice the
// bound), the newest still work, and a forgotten interaction's response_url is unknown.
func TestMaxRecordedKeepsOnlyTheNewest(t *testing.T) {
	t.Parallel()
	const keep = 3
	emu := newEmu(t, func(o *slackemu.Options) { o.MaxRecorded = keep })
	connectedBot(t, emu, nil)
	ctx := testCtx(t)
	api := apiClient(emu)

	var ins []*slackemu.Interaction
	var stamps []string
	for i := range 10 {
		in, err := emu.SlashCommand(ctx, slackemu.Slash{UserID: alice, ChannelID: general, Command: "/orgtoken", Text: "list"})
		require.NoError(t, err)
		_, err = in.WaitAck(ctx)
		require.NoError(t, err, "interaction %d", i)
		require.NoError(t, slack.PostWebhookContext(ctx, in.ResponseURL, &slack.WebhookMessage{Text: "page"}))
		_, ts, err := api.PostMessageContext(ctx, general, slack.MsgOptionText("reply", false))
		require.NoError(t, err)
		ins, stamps = append(ins, in), append(stamps, ts)
	}

	for name, n := range map[string]int{
		"messages":     len(emu.Messages("")),
		"calls":        len(emu.Calls("")),
		"acks":         len(emu.Acks()),
		"posts":        len(emu.ResponsePosts()),
		"interactions": len(emu.Interactions()),
	} {
		assert.GreaterOrEqual(t, n, keep, name)
		assert.Less(t, n, 2*keep, name)
	}
	_, ok := emu.Message(stamps[0])
	assert.False(t, ok, "the oldest message is forgotten")
	_, ok = emu.Message(stamps[9])
	assert.True(t, ok, "the newest is kept")
	assert.Equal(t, ins[9].EnvelopeID, emu.Interactions()[len(emu.Interactions())-1].EnvelopeID)

	err := slack.PostWebhookContext(ctx, ins[0].ResponseURL, &slack.WebhookMessage{Text: "late"})
	var status slack.StatusCodeError
	require.ErrorAs(t, err, &status)
	assert.Equal(t, http.StatusNotFound, status.Code)
	require.NoError(t, slack.PostWebhookContext(ctx, ins[9].ResponseURL, &slack.WebhookMessage{Text: "again"}))
	assert.True(t, strings.HasPrefix(ins[9].ResponseURL, emu.BaseURL()))
}

// By default nothing is forgotten: tests read every record back.
func TestRecordsAreAllKeptByDefault(t *testing.T) {
	t.Parallel()
	emu := newEmu(t)
	ctx := testCtx(t)
	api := apiClient(emu)
	for range 10 {
		_, _, err := api.PostMessageContext(ctx, general, slack.MsgOptionText("reply", false))
		require.NoError(t, err)
	}
	assert.Len(t, emu.Messages(general), 10)
	assert.Len(t, emu.Calls("chat.postMessage"), 10)
}
