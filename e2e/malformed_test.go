package e2e

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/emulators/slackemu"
)

// Garbage on the socket, payloads with missing or mistyped fields, and buttons the bot does not
// know are logged and answered where possible; the bot keeps serving.
func TestMalformedInputNeverCrashesTheBot(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	p := w.startBot(nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	for _, frame := range []string{
		`not json at all`,
		`{"type":"slash_commands","envelope_id":"e-bad-1","payload":"a string, not an object"}`,
		`{"type":"slash_commands","envelope_id":"e-bad-2","payload":{"user_id":42,"text":["list"]}}`,
		`{"type":"interactive","envelope_id":"e-bad-3","payload":{"type":"block_actions","actions":"none"}}`,
		`{"type":"mystery","envelope_id":"e-bad-4","payload":{}}`,
		`{"type":"slash_commands","envelope_id":"e-bad-5","payload":{"command":"/orgtoken","text":"list"}}`,
	} {
		_, err := w.slack.SendRaw(ctx, []byte(frame))
		require.NoError(t, err)
	}
	raw, _ := json.Marshal(map[string]any{
		"type": "block_actions", "user": map[string]any{"id": outsiderID}, "channel": map[string]any{"id": opsChannel},
		"actions": []any{map[string]any{"action_id": "orgtoken.no.such.button", "value": "x", "type": "button"}},
	})
	in, err := w.slack.Deliver(ctx, slackemu.EnvelopeInteractive, raw, false)
	require.NoError(t, err)
	_, err = in.WaitAck(ctx)
	require.NoError(t, err, "an unknown button is still acked")

	// Still alive and answering.
	assert.Contains(t, text(reply(t, w.slash(outsiderID, opsChannel, "list")).Blocks), "airflow-ci-deployer")
	select {
	case <-p.done:
		t.Fatal("the bot exited")
	default:
	}
	var warned bool
	for _, l := range p.logs.JSONLines() {
		warned = warned || l["level"] == "WARN"
	}
	assert.True(t, warned, "bad frames are logged")
}
