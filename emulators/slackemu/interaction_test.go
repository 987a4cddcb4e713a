package slackemu_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/emulators/slackemu"
)

// callbacks collects decoded interaction callbacks the bot received.
type callbacks chan slack.InteractionCallback

func (c callbacks) handler(ackPayload func(slack.InteractionCallback) any) botHandler {
	return func(b *bot, evt socketmode.Event) {
		switch data := evt.Data.(type) {
		case slack.InteractionCallback:
			var p any
			if ackPayload != nil {
				p = ackPayload(data)
			}
			if p != nil {
				_ = b.sm.Ack(*evt.Request, p)
			} else {
				_ = b.sm.Ack(*evt.Request)
			}
			c <- data
		case slack.SlashCommand:
			_ = b.sm.Ack(*evt.Request)
		}
	}
}

func (c callbacks) next(ctx context.Context, t *testing.T) slack.InteractionCallback {
	t.Helper()
	select {
	case cb := <-c:
		return cb
	case <-ctx.Done():
		require.FailNow(t, "no interaction callback")
		return slack.InteractionCallback{}
	}
}

func postApproval(t *testing.T, api *slack.Client) string {
	t.Helper()
	approve := slack.NewButtonBlockElement("approve", "req-42", slack.NewTextBlockObject(slack.PlainTextType, "Approve", false, false))
	deny := slack.NewButtonBlockElement("deny", "req-42", slack.NewTextBlockObject(slack.PlainTextType, "Deny", false, false))
	_, ts, err := api.PostMessage(general, slack.MsgOptionText("approval needed", false),
		slack.MsgOptionBlocks(section("approve?"), slack.NewActionBlock("decision", approve, deny)))
	require.NoError(t, err)
	return ts
}

func TestInteraction_ClickButtonInMessage(t *testing.T) {
	t.Parallel()
	emu := newEmu(t)
	cbs := make(callbacks, 4)
	b := connectedBot(t, emu, cbs.handler(nil))
	ctx := testCtx(t)
	ts := postApproval(t, b.api)

	in, err := emu.ClickButton(ctx, slackemu.Click{UserID: bob, MessageTS: ts, Text: "Deny"})
	require.NoError(t, err)
	cb := cbs.next(ctx, t)

	assert.Equal(t, slack.InteractionTypeBlockActions, cb.Type)
	assert.Equal(t, slack.User{ID: bob, Name: "bob", TeamID: emu.Options().TeamID}, slack.User{ID: cb.User.ID, Name: cb.User.Name, TeamID: cb.User.TeamID})
	assert.Equal(t, emu.Options().TeamID, cb.Team.ID)
	assert.Equal(t, general, cb.Channel.ID)
	assert.Equal(t, slack.Container{Type: "message", MessageTs: ts, ChannelID: general}, cb.Container)
	assert.Equal(t, ts, cb.Message.Timestamp)
	assert.Len(t, cb.Message.Blocks.BlockSet, 2)
	require.Len(t, cb.ActionCallback.BlockActions, 1)
	act := cb.ActionCallback.BlockActions[0]
	assert.Equal(t, "deny", act.ActionID)
	assert.Equal(t, "decision", act.BlockID)
	assert.Equal(t, "req-42", act.Value)
	assert.Equal(t, slack.ActionType("button"), act.Type)
	assert.NotEmpty(t, act.ActionTs)
	assert.Equal(t, in.ResponseURL, cb.ResponseURL)
	assert.Equal(t, in.TriggerID, cb.TriggerID)
	assert.False(t, in.Accepts, "block_actions do not accept a response payload")

	_, err = emu.ClickButton(ctx, slackemu.Click{UserID: bob, MessageTS: ts, ActionID: "nope"})
	assert.ErrorIs(t, err, slackemu.ErrButtonNotFound)
}

func TestInteraction_ResponseURLReplaceAndDeleteOriginal(t *testing.T) {
	t.Parallel()
	emu := newEmu(t)
	cbs := make(callbacks, 4)
	b := connectedBot(t, emu, cbs.handler(nil))
	ctx := testCtx(t)
	ts := postApproval(t, b.api)

	in, err := emu.ClickButton(ctx, slackemu.Click{UserID: alice, MessageTS: ts, ActionID: "approve"})
	require.NoError(t, err)
	cb := cbs.next(ctx, t)
	_, _, err = b.api.PostMessage("", slack.MsgOptionReplaceOriginal(cb.ResponseURL), slack.MsgOptionText("approved by alice", false))
	require.NoError(t, err)

	post, err := in.WaitResponse(ctx)
	require.NoError(t, err)
	assert.True(t, post.ReplaceOriginal)
	assert.Equal(t, ts, post.MessageTS)
	m, _ := emu.Message(ts)
	assert.Equal(t, "approved by alice", m.Text)
	assert.Nil(t, m.Blocks, "the buttons are gone")

	require.NoError(t, slack.PostWebhookContext(ctx, cb.ResponseURL, &slack.WebhookMessage{DeleteOriginal: true}))
	m, _ = emu.Message(ts)
	assert.True(t, m.Deleted)
}

func TestInteraction_ResponseURLFromSlashCommand(t *testing.T) {
	t.Parallel()
	emu := newEmu(t)
	connectedBot(t, emu, nil)
	ctx := testCtx(t)
	in, err := emu.SlashCommand(ctx, slackemu.Slash{UserID: alice, ChannelID: general, Command: "/orgtoken", Text: "list"})
	require.NoError(t, err)
	api := apiClient(emu)

	_, _, err = api.PostMessage("", slack.MsgOptionResponseURL(in.ResponseURL, slack.ResponseTypeEphemeral),
		slack.MsgOptionText("tokens:", false), slack.MsgOptionBlocks(section("token-a")))
	require.NoError(t, err)
	require.NoError(t, slack.PostWebhookContext(ctx, in.ResponseURL, &slack.WebhookMessage{Text: "for everyone", ResponseType: slack.ResponseTypeInChannel}))

	posts := in.Responses()
	require.Len(t, posts, 2)
	assert.Equal(t, "ephemeral", posts[0].ResponseType)
	first, _ := emu.Message(posts[0].MessageTS)
	assert.True(t, first.Ephemeral)
	assert.Equal(t, alice, first.VisibleTo)
	assert.Contains(t, string(first.Blocks), "token-a")
	second, _ := emu.Message(posts[1].MessageTS)
	assert.False(t, second.Ephemeral)
	assert.Equal(t, "response_url", second.Source)

	eph := emu.Messages(general)[0]
	in2, err := emu.ClickButton(ctx, slackemu.Click{UserID: bob, MessageTS: eph.TS, ActionID: "x"})
	assert.Nil(t, in2)
	assert.ErrorIs(t, err, slackemu.ErrMessageNotFound, "only the recipient sees an ephemeral message")
}

func TestInteraction_ResponseURLLimits(t *testing.T) {
	t.Parallel()
	emu := newEmu(t)
	connectedBot(t, emu, nil)
	ctx := testCtx(t)
	in, err := emu.SlashCommand(ctx, slackemu.Slash{UserID: alice, ChannelID: general, Command: "/orgtoken"})
	require.NoError(t, err)

	tooLong := &slack.WebhookMessage{Blocks: &slack.Blocks{BlockSet: []slack.Block{section(string(make([]byte, 3001)))}}}
	err = slack.PostWebhookContext(ctx, in.ResponseURL, tooLong)
	var sce slack.StatusCodeError
	require.ErrorAs(t, err, &sce)
	assert.Equal(t, http.StatusBadRequest, sce.Code)
	assert.Equal(t, "invalid_blocks", in.Responses()[0].Error)

	for i := range 5 {
		require.NoError(t, slack.PostWebhookContext(ctx, in.ResponseURL, &slack.WebhookMessage{Text: "ok"}), "use %d", i+1)
	}
	err = slack.PostWebhookContext(ctx, in.ResponseURL, &slack.WebhookMessage{Text: "sixth"})
	require.ErrorAs(t, err, &sce)
	assert.Equal(t, http.StatusNotFound, sce.Code)
	assert.Equal(t, "used_url", in.Responses()[6].Error)

	in2, err := emu.SlashCommand(ctx, slackemu.Slash{UserID: alice, ChannelID: general, Command: "/orgtoken"})
	require.NoError(t, err)
	emu.ExpireResponseURL(in2.ResponseURL)
	err = slack.PostWebhookContext(ctx, in2.ResponseURL, &slack.WebhookMessage{Text: "late"})
	require.ErrorAs(t, err, &sce)
	assert.Equal(t, "expired_url", in2.Responses()[0].Error)
}

func modal(title string, blocks ...slack.Block) slack.ModalViewRequest {
	return slack.ModalViewRequest{
		Type:       slack.VTModal,
		Title:      slack.NewTextBlockObject(slack.PlainTextType, title, false, false),
		Submit:     slack.NewTextBlockObject(slack.PlainTextType, "Save", false, false),
		CallbackID: "edit-roles",
		Blocks:     slack.Blocks{BlockSet: blocks},
	}
}

func roleInput() slack.Block {
	return slack.NewInputBlock("role", slack.NewTextBlockObject(slack.PlainTextType, "Role", false, false), nil,
		slack.NewOptionsSelectBlockElement(slack.OptTypeExternal, nil, "role_select"))
}

func TestInteraction_OpenViewTrigger(t *testing.T) {
	t.Parallel()
	emu := newEmu(t)
	connectedBot(t, emu, nil)
	ctx := testCtx(t)
	api := apiClient(emu)
	in, err := emu.SlashCommand(ctx, slackemu.Slash{UserID: alice, ChannelID: general, Command: "/orgtoken"})
	require.NoError(t, err)

	resp, err := api.OpenViewContext(ctx, in.TriggerID, modal("Edit roles", roleInput()))
	require.NoError(t, err)
	assert.NotEmpty(t, resp.View.ID)
	assert.Equal(t, "edit-roles", resp.View.CallbackID)
	v, ok := emu.View(resp.View.ID)
	require.True(t, ok)
	assert.True(t, v.Open)
	assert.Equal(t, alice, v.UserID)

	_, err = api.OpenViewContext(ctx, in.TriggerID, modal("Again", roleInput()))
	assert.Equal(t, "expired_trigger_id", slackErr(t, err).Err, "a trigger works once")

	in2, err := emu.SlashCommand(ctx, slackemu.Slash{UserID: alice, ChannelID: general, Command: "/orgtoken"})
	require.NoError(t, err)
	emu.ExpireTrigger(in2.TriggerID)
	_, err = api.OpenViewContext(ctx, in2.TriggerID, modal("Late", roleInput()))
	assert.Equal(t, "expired_trigger_id", slackErr(t, err).Err)

	in3, err := emu.SlashCommand(ctx, slackemu.Slash{UserID: alice, ChannelID: general, Command: "/orgtoken"})
	require.NoError(t, err)
	_, err = api.OpenViewContext(ctx, in3.TriggerID, modal("A title that is far too long for Slack", roleInput()))
	se := slackErr(t, err)
	assert.Equal(t, "invalid_arguments", se.Err)
	assert.Contains(t, se.ResponseMetadata.Messages, "[ERROR] must be less than 25 characters [json-pointer:/view/title/text]")
}

// Slack refuses a modal holding an input block without a submit button, which nobody could
// then submit.
func TestInteraction_ModalWithInputsNeedsSubmit(t *testing.T) {
	t.Parallel()
	emu := newEmu(t)
	connectedBot(t, emu, nil)
	ctx := testCtx(t)
	api := apiClient(emu)
	in, err := emu.SlashCommand(ctx, slackemu.Slash{UserID: alice, ChannelID: general, Command: "/orgtoken"})
	require.NoError(t, err)
	noSubmit := modal("Edit roles", roleInput())
	noSubmit.Submit = nil

	_, err = api.OpenViewContext(ctx, in.TriggerID, noSubmit)
	se := slackErr(t, err)
	assert.Equal(t, "invalid_arguments", se.Err)
	assert.Contains(t, se.ResponseMetadata.Messages, "[ERROR] must provide a submit property when using input blocks [json-pointer:/view]")
	assert.Empty(t, emu.Views())

	info := modal("Info", section("nothing to fill in"))
	info.Submit = nil
	_, err = api.OpenViewContext(ctx, in.TriggerID, info)
	assert.NoError(t, err, "a modal without inputs needs no submit button")
}

func TestInteraction_ModalSuggestionSubmitAndUpdate(t *testing.T) {
	t.Parallel()
	emu := newEmu(t)
	cbs := make(callbacks, 4)
	connectedBot(t, emu, cbs.handler(func(cb slack.InteractionCallback) any {
		switch cb.Type {
		case slack.InteractionTypeBlockSuggestion:
			return slack.OptionsResponse{Options: []*slack.OptionBlockObject{
				slack.NewOptionBlockObject("WORKSPACE_OWNER", slack.NewTextBlockObject(slack.PlainTextType, "Owner", false, false), nil),
			}}
		case slack.InteractionTypeViewSubmission:
			return slack.NewErrorsViewSubmissionResponse(map[string]string{"role": "pick another role"})
		}
		return nil
	}))
	ctx := testCtx(t)
	api := apiClient(emu)
	slash, err := emu.SlashCommand(ctx, slackemu.Slash{UserID: alice, ChannelID: general, Command: "/orgtoken"})
	require.NoError(t, err)
	opened, err := api.OpenViewContext(ctx, slash.TriggerID, modal("Edit roles", roleInput()))
	require.NoError(t, err)
	viewID := opened.View.ID

	sug, err := emu.BlockSuggestion(ctx, slackemu.Suggestion{UserID: alice, ViewID: viewID, ActionID: "role_select", BlockID: "role", Value: "own"})
	require.NoError(t, err)
	cb := cbs.next(ctx, t)
	assert.Equal(t, slack.InteractionTypeBlockSuggestion, cb.Type)
	assert.Equal(t, "role_select", cb.ActionID)
	assert.Equal(t, "own", cb.Value)
	assert.Equal(t, viewID, cb.View.ID)
	ack, err := sug.WaitAck(ctx)
	require.NoError(t, err)
	assert.Contains(t, string(ack.Payload), "WORKSPACE_OWNER")

	sub, err := emu.SubmitView(ctx, slackemu.Submission{UserID: alice, ViewID: viewID, Values: map[string]map[string]slackemu.InputValue{
		"role": {"role_select": {Type: "external_select", SelectedOption: &slackemu.Option{Text: "Owner", Value: "WORKSPACE_OWNER"}}},
	}})
	require.NoError(t, err)
	cb = cbs.next(ctx, t)
	assert.Equal(t, slack.InteractionTypeViewSubmission, cb.Type)
	assert.Equal(t, "edit-roles", cb.View.CallbackID)
	assert.Equal(t, "WORKSPACE_OWNER", cb.View.State.Values["role"]["role_select"].SelectedOption.Value)
	_, err = sub.WaitAck(ctx)
	require.NoError(t, err)

	v, err := emu.WaitView(ctx, func(v slackemu.View) bool { return v.ID == viewID && v.Errors != nil })
	require.NoError(t, err)
	assert.True(t, v.Open, "response_action errors keep the modal open")
	assert.Equal(t, map[string]string{"role": "pick another role"}, v.Errors)

	upd, err := api.UpdateViewContext(ctx, modal("Updated", section("done")), "", v.Hash, viewID)
	require.NoError(t, err)
	assert.Equal(t, viewID, upd.View.ID)
	_, err = api.UpdateViewContext(ctx, modal("Stale", section("x")), "", v.Hash, viewID)
	assert.Equal(t, "hash_conflict", slackErr(t, err).Err)
}

// An app's answer to a type-ahead is checked as Slack checks it: over a limit, Slack shows the
// person nothing to pick, and the ack says why.
func TestInteraction_SuggestionAnswerOverSlacksLimitsIsRefused(t *testing.T) {
	t.Parallel()
	option := func(text, value string) *slack.OptionBlockObject {
		return slack.NewOptionBlockObject(value, slack.NewTextBlockObject(slack.PlainTextType, text, false, false), nil)
	}
	many := make([]*slack.OptionBlockObject, 101)
	for i := range many {
		many[i] = option(fmt.Sprintf("token %d", i), fmt.Sprintf("v%d", i))
	}
	tests := []struct {
		name       string
		answer     any
		wantError  string
		wantDetail string
	}{
		{name: "Valid", answer: slack.OptionsResponse{Options: many[:100]}},
		{name: "TooManyOptions", answer: slack.OptionsResponse{Options: many},
			wantError: "invalid_options", wantDetail: "no more than 100 items allowed [json-pointer:/options]"},
		{name: "TextTooLong", answer: slack.OptionsResponse{Options: []*slack.OptionBlockObject{option(strings.Repeat("x", 76), "v")}},
			wantError: "invalid_options", wantDetail: "must be less than 76 characters [json-pointer:/options/0/text/text]"},
		{name: "ValueTooLong", answer: slack.OptionsResponse{Options: []*slack.OptionBlockObject{option("x", strings.Repeat("v", 151))}},
			wantError: "invalid_options", wantDetail: "must be less than 151 characters [json-pointer:/options/0/value]"},
		{name: "NotAnObject", answer: []string{"a"}, wantError: "invalid_payload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			emu := newEmu(t)
			cbs := make(callbacks, 4)
			connectedBot(t, emu, cbs.handler(func(cb slack.InteractionCallback) any {
				if cb.Type == slack.InteractionTypeBlockSuggestion {
					return tt.answer
				}
				return nil
			}))
			ctx := testCtx(t)
			slash, err := emu.SlashCommand(ctx, slackemu.Slash{UserID: alice, ChannelID: general, Command: "/orgtoken"})
			require.NoError(t, err)
			opened, err := apiClient(emu).OpenViewContext(ctx, slash.TriggerID, modal("Edit roles", roleInput()))
			require.NoError(t, err)

			sug, err := emu.BlockSuggestion(ctx, slackemu.Suggestion{UserID: alice, ViewID: opened.View.ID, ActionID: "role_select", BlockID: "role", Value: "t"})
			require.NoError(t, err)
			ack, err := sug.WaitAck(ctx)

			require.NoError(t, err, "the ack arrived in time")
			assert.Equal(t, tt.wantError, ack.Error)
			if tt.wantDetail != "" {
				assert.Contains(t, ack.Errors, tt.wantDetail)
			} else {
				assert.Empty(t, ack.Errors)
			}
		})
	}
}

func TestInteraction_PayloadsAreExactJSON(t *testing.T) {
	t.Parallel()
	emu := newEmu(t)
	connectedBot(t, emu, nil)
	ctx := testCtx(t)

	in, err := emu.SlashCommand(ctx, slackemu.Slash{UserID: alice, ChannelID: general, Command: "/orgtoken", Text: "help"})
	require.NoError(t, err)

	var fields map[string]any
	require.NoError(t, json.Unmarshal(in.Payload, &fields))
	for _, k := range []string{"token", "team_id", "team_domain", "channel_id", "channel_name", "user_id", "user_name",
		"command", "text", "api_app_id", "is_enterprise_install", "response_url", "trigger_id"} {
		assert.Contains(t, fields, k)
	}
	assert.Len(t, fields, 13)
}

func TestInteraction_WaitResponseWakesForItsOwnPostAndOnClose(t *testing.T) {
	t.Parallel()
	emu := newEmu(t)
	connectedBot(t, emu, nil)
	ctx := testCtx(t)
	slash := func() *slackemu.Interaction {
		in, err := emu.SlashCommand(ctx, slackemu.Slash{UserID: alice, ChannelID: general, Command: "/orgtoken", Text: "list"})
		require.NoError(t, err)
		return in
	}
	waiting, other, never := slash(), slash(), slash()
	got := make(chan slackemu.ResponsePost, 1)
	go func() {
		p, err := waiting.WaitResponse(ctx)
		assert.NoError(t, err)
		got <- p
	}()
	closed := make(chan error, 1)
	go func() {
		_, err := never.WaitResponse(ctx)
		closed <- err
	}()

	require.NoError(t, slack.PostWebhookContext(ctx, other.ResponseURL, &slack.WebhookMessage{Text: "not yours"}))
	require.NoError(t, slack.PostWebhookContext(ctx, waiting.ResponseURL, &slack.WebhookMessage{Text: "yours"}))
	select {
	case p := <-got:
		assert.Equal(t, "yours", p.Text)
		assert.Equal(t, waiting.EnvelopeID, p.EnvelopeID)
	case <-ctx.Done():
		require.FailNow(t, "WaitResponse did not return after its own post")
	}

	require.NoError(t, emu.Close())
	select {
	case err := <-closed:
		assert.ErrorIs(t, err, slackemu.ErrClosed)
	case <-ctx.Done():
		require.FailNow(t, "WaitResponse did not return when the emulator closed")
	}
}

// BenchmarkResponseWhileOthersWait is one post to a response_url while 200 other interactions
// wait for theirs, as in the load driver: each post should wake its own waiter only.
func BenchmarkResponseWhileOthersWait(b *testing.B) {
	emu := newEmu(b)
	connectedBot(b, emu, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	slash := func() *slackemu.Interaction {
		in, err := emu.SlashCommand(ctx, slackemu.Slash{UserID: alice, ChannelID: general, Command: "/orgtoken", Text: "list"})
		require.NoError(b, err)
		_, err = in.WaitAck(ctx)
		require.NoError(b, err)
		return in
	}
	var waiters sync.WaitGroup
	for range 200 {
		in := slash()
		waiters.Go(func() { _, _ = in.WaitResponse(ctx) })
	}
	answered := make([]*slackemu.Interaction, b.N)
	for i := range answered {
		answered[i] = slash()
	}
	hc := &http.Client{}
	b.ResetTimer()
	for _, in := range answered {
		require.NoError(b, slack.PostWebhookCustomHTTPContext(ctx, in.ResponseURL, hc, &slack.WebhookMessage{Text: "done"}))
	}
	b.StopTimer()
	cancel()
	waiters.Wait()
}
