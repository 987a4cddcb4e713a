package slackemu_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/emulators/loopbacktls"
	"github.com/orgtoken/orgtoken-bot/emulators/slackemu"
)

// TestOverTLSSocketModeAndResponseURLsWork serves HTTPS as Slack does: slack-go's Socket Mode
// client connects over wss://, acks, and answers through an https:// response_url.
func TestOverTLSSocketModeAndResponseURLsWork(t *testing.T) {
	t.Parallel()
	cert, err := loopbacktls.New()
	require.NoError(t, err)
	emu := newEmu(t, func(o *slackemu.Options) { o.TLS = cert.ServerConfig() })
	require.True(t, strings.HasPrefix(emu.APIURL(), "https://127.0.0.1:"), emu.APIURL())

	hc := &http.Client{Transport: cert.Transport()}
	o := emu.Options()
	api := slack.New(o.BotToken, slack.OptionAPIURL(emu.APIURL()), slack.OptionAppLevelToken(o.AppToken), slack.OptionHTTPClient(hc))
	sm := socketmode.New(api, socketmode.OptionDialer(&websocket.Dialer{TLSClientConfig: cert.ClientConfig()}))
	ctx := testCtx(t)
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { _ = sm.RunContext(runCtx) }()
	go func() {
		for evt := range sm.Events {
			if cmd, ok := evt.Data.(slack.SlashCommand); ok {
				_ = sm.Ack(*evt.Request)
				_ = slack.PostWebhookCustomHTTPContext(ctx, cmd.ResponseURL, hc, &slack.WebhookMessage{Text: "answered over TLS"})
			}
		}
	}()

	in, err := emu.SlashCommand(ctx, slackemu.Slash{UserID: alice, ChannelID: general, Command: "/orgtoken", Text: "list"})
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(in.ResponseURL, "https://"), in.ResponseURL)
	_, err = in.WaitAck(ctx)
	require.NoError(t, err, "the envelope reached the client over wss:// and was acked")
	msg, err := emu.WaitMessage(ctx, func(m slackemu.Message) bool { return m.Source == "response_url" })
	require.NoError(t, err)
	assert.Equal(t, "answered over TLS", msg.Text)
}
