package slackemu_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/emulators/slackemu"
)

func TestSocketMode_HelloCarriesConnectionInfo(t *testing.T) {
	t.Parallel()
	emu := newEmu(t)
	b := connectedBot(t, emu, nil)

	hello := b.waitEvent(testCtx(t), t, socketmode.EventTypeHello)

	require.NotNil(t, hello.Request)
	assert.Equal(t, 1, hello.Request.NumConnections)
	assert.Equal(t, emu.Options().AppID, hello.Request.ConnectionInfo.AppID)
	assert.Equal(t, "applink-emu", hello.Request.DebugInfo.Host)
	assert.Equal(t, 18060, hello.Request.DebugInfo.ApproximateConnectionTime)
}

func TestSocketMode_SlashCommandAckedWithPayload(t *testing.T) {
	t.Parallel()
	emu := newEmu(t)
	got := make(chan slack.SlashCommand, 1)
	connectedBot(t, emu, func(b *bot, evt socketmode.Event) {
		if cmd, ok := evt.Data.(slack.SlashCommand); ok {
			got <- cmd
			_ = b.sm.Ack(*evt.Request, map[string]any{"text": "working on it"})
		}
	})
	ctx := testCtx(t)

	in, err := emu.SlashCommand(ctx, slackemu.Slash{UserID: alice, ChannelID: general, Command: "/orgtoken", Text: "list --workspace w1"})
	require.NoError(t, err)
	ack, err := in.WaitAck(ctx)
	require.NoError(t, err)

	cmd := <-got
	assert.Equal(t, slack.SlashCommand{
		Token: emu.Options().VerificationToken, TeamID: emu.Options().TeamID, TeamDomain: "emulator",
		ChannelID: general, ChannelName: "general", UserID: alice, UserName: "alice",
		Command: "/orgtoken", Text: "list --workspace w1", APIAppID: emu.Options().AppID,
		IsEnterpriseInstall: false, ResponseURL: in.ResponseURL, TriggerID: in.TriggerID,
	}, cmd)
	assert.JSONEq(t, `{"text":"working on it"}`, string(ack.Payload))
	assert.Positive(t, ack.Latency)
	assert.LessOrEqual(t, ack.Latency, ack.ReadLatency, "the ack reached the socket no later than the emulator read it")
	reply, err := emu.WaitMessage(ctx, func(m slackemu.Message) bool { return m.Source == "ack" })
	require.NoError(t, err)
	assert.Equal(t, "working on it", reply.Text)
	assert.True(t, reply.Ephemeral, "a slash command's immediate reply is ephemeral by default")
	assert.Equal(t, alice, reply.VisibleTo)
}

func TestSocketMode_DisconnectThenReconnect(t *testing.T) {
	t.Parallel()
	for _, reason := range []string{"warning", "refresh_requested", "too_many_websockets", "link_disabled"} {
		t.Run(reason, func(t *testing.T) {
			t.Parallel()
			emu := newEmu(t)
			connectedBot(t, emu, nil)
			ctx := testCtx(t)

			require.Equal(t, 1, emu.Disconnect(reason))
			require.NoError(t, emu.WaitConnectionsOpened(ctx, 2))
			require.NoError(t, emu.WaitConnected(ctx, 1))

			conns := emu.Connections()
			require.Len(t, conns, 2)
			assert.False(t, conns[0].Live)
			assert.True(t, conns[1].Live)
			in, err := emu.SlashCommand(ctx, slackemu.Slash{UserID: alice, ChannelID: general, Command: "/orgtoken"})
			require.NoError(t, err)
			_, err = in.WaitAck(ctx)
			assert.NoError(t, err, "the new connection carries envelopes")
		})
	}
}

func TestSocketMode_AbruptDropThenReconnect(t *testing.T) {
	t.Parallel()
	emu := newEmu(t)
	connectedBot(t, emu, nil)
	ctx := testCtx(t)

	require.Equal(t, 1, emu.DropConnections())

	require.NoError(t, emu.WaitConnectionsOpened(ctx, 2))
	assert.NoError(t, emu.WaitConnected(ctx, 1))
}

func TestSocketMode_MissingPingsMakeClientReconnect(t *testing.T) {
	t.Parallel()
	emu := newEmu(t)
	connectedBot(t, emu, nil)
	ctx := testCtx(t)

	emu.StopPings()
	require.NoError(t, emu.WaitConnectionsOpened(ctx, 2), "the client's ping watchdog gives up and reconnects")
	emu.ResumePings()

	assert.NoError(t, emu.WaitConnected(ctx, 1))
}

func TestSocketMode_OpenErrors(t *testing.T) {
	t.Parallel()
	t.Run("invalid app token makes Run return invalid_auth", func(t *testing.T) {
		t.Parallel()
		emu := newEmu(t)
		b := startBot(t, emu, "xapp-1-wrong", nil)

		var err error
		select {
		case err = <-b.runErr:
		case <-testCtx(t).Done():
			require.FailNow(t, "Run did not return")
		}
		assert.EqualError(t, err, "invalid_auth")
		assert.Equal(t, "invalid_auth", emu.Calls("apps.connections.open")[0].Error)
	})
	t.Run("scripted internal_error is retried", func(t *testing.T) {
		t.Parallel()
		emu := newEmu(t)
		emu.InjectFault("apps.connections.open", slackemu.Fault{Error: "internal_error", Times: 1})
		startBot(t, emu, "", ackAll)

		require.NoError(t, emu.WaitConnected(testCtx(t), 1))
		calls := emu.Calls("apps.connections.open")
		require.Len(t, calls, 2)
		assert.Equal(t, "internal_error", calls[0].Error)
		assert.Empty(t, calls[1].Error)
	})
	t.Run("scripted HTTP 404 is fatal", func(t *testing.T) {
		t.Parallel()
		emu := newEmu(t)
		emu.InjectFault("apps.connections.open", slackemu.Fault{Status: http.StatusNotFound})
		b := startBot(t, emu, "", nil)

		var err error
		select {
		case err = <-b.runErr:
		case <-testCtx(t).Done():
			require.FailNow(t, "Run did not return")
		}
		var sce slack.StatusCodeError
		require.ErrorAs(t, err, &sce)
		assert.Equal(t, http.StatusNotFound, sce.Code)
	})
}

func TestSocketMode_UnackedEnvelopeIsOperationTimeout(t *testing.T) {
	t.Parallel()
	emu := newEmu(t, func(o *slackemu.Options) { o.AckTimeout = 150 * time.Millisecond })
	connectedBot(t, emu, func(*bot, socketmode.Event) {})
	ctx := testCtx(t)

	in, err := emu.SlashCommand(ctx, slackemu.Slash{UserID: alice, ChannelID: general, Command: "/orgtoken"})
	require.NoError(t, err)
	_, err = in.WaitAck(ctx)

	assert.ErrorIs(t, err, slackemu.ErrAckTimeout)
	assert.Equal(t, "operation_timeout", in.Failure())
	require.Len(t, emu.Failures(), 1)
	assert.Equal(t, slackemu.Failure{EnvelopeID: in.EnvelopeID, Type: "slash_commands", UserID: alice, ChannelID: general, Reason: "operation_timeout", At: emu.Failures()[0].At}, emu.Failures()[0])
}

func TestSocketMode_RedeliveryKeepsEnvelopeID(t *testing.T) {
	t.Parallel()
	emu := newEmu(t, func(o *slackemu.Options) { o.AckTimeout = 150 * time.Millisecond; o.Redeliveries = 1 })
	connectedBot(t, emu, func(b *bot, evt socketmode.Event) {
		if evt.Request != nil && evt.Request.RetryAttempt == 1 {
			_ = b.sm.Ack(*evt.Request)
		}
	})
	ctx := testCtx(t)

	in, err := emu.SlashCommand(ctx, slackemu.Slash{UserID: alice, ChannelID: general, Command: "/orgtoken"})
	require.NoError(t, err)
	_, err = in.WaitAck(ctx)

	require.NoError(t, err)
	d := in.Deliveries()
	require.Len(t, d, 2)
	assert.Equal(t, []int{0, 1}, []int{d[0].RetryAttempt, d[1].RetryAttempt})
	assert.Empty(t, in.Failure())
}

func TestSocketMode_EnvelopesSpreadAcrossConnections(t *testing.T) {
	t.Parallel()
	emu := newEmu(t)
	startBot(t, emu, "", ackAll)
	startBot(t, emu, "", ackAll)
	ctx := testCtx(t)
	require.NoError(t, emu.WaitConnected(ctx, 2))

	for range 4 {
		in, err := emu.SlashCommand(ctx, slackemu.Slash{UserID: alice, ChannelID: general, Command: "/orgtoken"})
		require.NoError(t, err)
		_, err = in.WaitAck(ctx)
		require.NoError(t, err)
	}

	conns := emu.Connections()
	require.Len(t, conns, 2)
	assert.Len(t, conns[0].Envelopes, 2)
	assert.Len(t, conns[1].Envelopes, 2)
}

func TestSocketMode_DisconnectEvery(t *testing.T) {
	t.Parallel()
	emu := newEmu(t)
	connectedBot(t, emu, nil)
	ctx := testCtx(t)
	emu.DisconnectEvery(2, "")

	for i := range 2 {
		require.NoError(t, emu.WaitConnected(ctx, 1))
		in, err := emu.SlashCommand(ctx, slackemu.Slash{UserID: alice, ChannelID: general, Command: "/orgtoken"})
		require.NoError(t, err, "command %d", i)
		_, err = in.WaitAck(ctx)
		require.NoError(t, err)
	}

	require.NoError(t, emu.WaitConnectionsOpened(ctx, 2), "the second envelope's socket was refreshed")
}

func TestSocketMode_UnknownFrameTypeReachesClientAsBadMessage(t *testing.T) {
	t.Parallel()
	emu := newEmu(t)
	b := connectedBot(t, emu, nil)
	ctx := testCtx(t)

	_, err := emu.SendRaw(ctx, []byte(`{"type":"no_such_type","envelope_id":"x"}`))
	require.NoError(t, err)

	evt := b.waitEvent(ctx, t, socketmode.EventTypeErrorBadMessage)
	assert.NotNil(t, evt.Data)
}

func TestSocketMode_RawClientRules(t *testing.T) {
	t.Parallel()
	emu := newEmu(t)
	ctx := testCtx(t)
	api := apiClient(emu)
	_, url, err := api.StartSocketModeContext(ctx)
	require.NoError(t, err)

	ws, _, err := websocket.DefaultDialer.DialContext(ctx, url+"&debug_reconnects=true", nil)
	require.NoError(t, err)
	defer ws.Close()
	var hello map[string]any
	require.NoError(t, ws.ReadJSON(&hello))
	assert.Equal(t, "hello", hello["type"])

	_, _, err = websocket.DefaultDialer.DialContext(ctx, url, nil)
	assert.ErrorIs(t, err, websocket.ErrBadHandshake, "tickets are single-use")

	in, err := emu.SlashCommand(ctx, slackemu.Slash{UserID: alice, ChannelID: general, Command: "/orgtoken"})
	require.NoError(t, err)
	var env struct {
		EnvelopeID             string          `json:"envelope_id"`
		Type                   string          `json:"type"`
		Payload                json.RawMessage `json:"payload"`
		AcceptsResponsePayload bool            `json:"accepts_response_payload"`
		RetryAttempt           int             `json:"retry_attempt"`
	}
	require.NoError(t, ws.ReadJSON(&env))
	assert.Equal(t, in.EnvelopeID, env.EnvelopeID)
	assert.Equal(t, "slash_commands", env.Type)
	assert.True(t, env.AcceptsResponsePayload)

	big := map[string]any{"envelope_id": env.EnvelopeID, "payload": map[string]any{"text": string(make([]byte, 21000))}}
	require.NoError(t, ws.WriteJSON(big))
	require.NoError(t, ws.WriteJSON(map[string]any{"envelope_id": env.EnvelopeID}))
	_, err = in.WaitAck(ctx)
	require.NoError(t, err)

	acks := emu.Acks()
	require.Len(t, acks, 2)
	assert.True(t, acks[0].Dropped, "acks of 20 KB or more are ignored like Slack does")
	assert.False(t, acks[1].Dropped)
	assert.Equal(t, "true", emu.Connections()[0].Query[len(emu.Connections()[0].Query)-4:])
}

func TestSocketMode_NoConnectionIsDispatchFailed(t *testing.T) {
	t.Parallel()
	emu := newEmu(t, func(o *slackemu.Options) { o.DispatchWait = time.Millisecond })

	in, err := emu.SlashCommand(testCtx(t), slackemu.Slash{UserID: alice, ChannelID: general, Command: "/orgtoken"})

	assert.True(t, errors.Is(err, slackemu.ErrNotConnected))
	assert.Equal(t, "dispatch_failed", in.Failure())
}

func TestSocketMode_TooManyWebsockets(t *testing.T) {
	t.Parallel()
	emu := newEmu(t, func(o *slackemu.Options) { o.MaxConnections = 1 })
	ctx := testCtx(t)
	dial := func() *websocket.Conn {
		_, url, err := apiClient(emu).StartSocketModeContext(ctx)
		require.NoError(t, err)
		ws, _, err := websocket.DefaultDialer.DialContext(ctx, url, nil)
		require.NoError(t, err)
		t.Cleanup(func() { _ = ws.Close() })
		return ws
	}
	first := dial()
	var frame map[string]any
	require.NoError(t, first.ReadJSON(&frame))
	require.Equal(t, "hello", frame["type"])

	second := dial()
	require.NoError(t, second.ReadJSON(&frame))

	assert.Equal(t, "disconnect", frame["type"])
	assert.Equal(t, "too_many_websockets", frame["reason"])
	assert.Equal(t, 1, emu.ConnectionCount())
}

// Not parallel: it inspects every goroutine in the process.
func TestEmulator_CloseLeavesNoGoroutines(t *testing.T) {
	emu, err := slackemu.New(slackemu.Options{PingInterval: 10 * time.Millisecond, AckTimeout: time.Hour})
	require.NoError(t, err)
	emu.AddUser(slackemu.User{ID: alice, Name: "alice"})
	emu.AddChannel(slackemu.Channel{ID: general, Name: "general", BotIsMember: true})
	ctx := testCtx(t)
	_, url, err := apiClient(emu).StartSocketModeContext(ctx)
	require.NoError(t, err)
	ws, _, err := websocket.DefaultDialer.DialContext(ctx, url, nil)
	require.NoError(t, err)
	defer ws.Close()
	_, err = emu.SlashCommand(ctx, slackemu.Slash{UserID: alice, ChannelID: general, Command: "/orgtoken"})
	require.NoError(t, err)
	emu.Disconnect("warning")

	require.NoError(t, emu.Close())

	buf := make([]byte, 1<<20)
	stacks := string(buf[:runtime.Stack(buf, true)])
	for _, g := range strings.Split(stacks, "\n\n") {
		if strings.Contains(g, "slackemu.(*Emulator)") && !strings.Contains(g, "TestEmulator_CloseLeavesNoGoroutines") {
			assert.Fail(t, "goroutine left after Close", g)
		}
	}
}
