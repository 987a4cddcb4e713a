package slackemu_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/emulators/slackemu"
)

func slackErr(t *testing.T, err error) slack.SlackErrorResponse {
	t.Helper()
	var se slack.SlackErrorResponse
	require.ErrorAs(t, err, &se)
	return se
}

func section(text string) slack.Block {
	return slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, text, false, false), nil, nil)
}

func TestWebAPI_PostMessageWithBlocksIsRecorded(t *testing.T) {
	t.Parallel()
	emu := newEmu(t)
	api := apiClient(emu)
	approve := slack.NewButtonBlockElement("approve", "req-1", slack.NewTextBlockObject(slack.PlainTextType, "Approve", false, false)).WithStyle(slack.StylePrimary)

	ch, ts, err := api.PostMessage(general, slack.MsgOptionText("fallback", false),
		slack.MsgOptionBlocks(section("*Request*"), slack.NewActionBlock("decide", approve)))
	require.NoError(t, err)

	assert.Equal(t, general, ch)
	m, ok := emu.Message(ts)
	require.True(t, ok)
	assert.Equal(t, "fallback", m.Text)
	assert.False(t, m.Ephemeral)
	assert.Equal(t, emu.Options().BotUserID, m.UserID)
	blocks, err := m.SlackBlocks()
	require.NoError(t, err)
	require.Len(t, blocks.BlockSet, 2)
	assert.Equal(t, []slackemu.Button{{BlockID: "decide", ActionID: "approve", Text: "Approve", Value: "req-1", Style: "primary"}}, stripRaw(m.Buttons()))
	assert.Equal(t, "chat.postMessage", emu.Calls("chat.postMessage")[0].Method)
	assert.NotContains(t, emu.Calls("chat.postMessage")[0].Params, "token", "calls never record the token")
}

// stripRaw drops unexported fields so buttons compare by value.
func stripRaw(bs []slackemu.Button) []slackemu.Button {
	out := make([]slackemu.Button, len(bs))
	for i, b := range bs {
		out[i] = slackemu.Button{BlockID: b.BlockID, ActionID: b.ActionID, Text: b.Text, Value: b.Value, Style: b.Style, URL: b.URL}
	}
	return out
}

func TestWebAPI_PostMessageInThread(t *testing.T) {
	t.Parallel()
	emu := newEmu(t)
	api := apiClient(emu)
	_, parent, err := api.PostMessage(general, slack.MsgOptionText("parent", false))
	require.NoError(t, err)

	_, reply, err := api.PostMessage(general, slack.MsgOptionText("reply", false), slack.MsgOptionTS(parent))
	require.NoError(t, err)

	m, _ := emu.Message(reply)
	assert.Equal(t, parent, m.ThreadTS)
}

func TestWebAPI_ChannelErrors(t *testing.T) {
	t.Parallel()
	emu := newEmu(t)
	api := apiClient(emu)
	tests := []struct {
		name    string
		channel string
		want    string
	}{
		{"bot not a member", outside, "not_in_channel"},
		{"unknown channel", "C0NOPE0001", "channel_not_found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := api.PostMessage(tc.channel, slack.MsgOptionText("hi", false))
			assert.Equal(t, tc.want, slackErr(t, err).Err)
		})
	}
}

func TestWebAPI_DMByUserID(t *testing.T) {
	t.Parallel()
	emu := newEmu(t)

	ch, _, err := apiClient(emu).PostMessage(alice, slack.MsgOptionText("psst", false))

	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(ch, "D"))
	assert.Len(t, emu.Messages(ch), 1)
}

func TestWebAPI_PostEphemeral(t *testing.T) {
	t.Parallel()
	emu := newEmu(t)
	api := apiClient(emu)

	ts, err := api.PostEphemeral(general, alice, slack.MsgOptionText("only you", false))
	require.NoError(t, err)
	m, ok := emu.Message(ts)
	require.True(t, ok)
	assert.True(t, m.Ephemeral)
	assert.Equal(t, alice, m.VisibleTo)

	_, err = api.PostEphemeral(secret, bob, slack.MsgOptionText("x", false))
	assert.Equal(t, "user_not_in_channel", slackErr(t, err).Err)
}

func TestWebAPI_UpdateMessage(t *testing.T) {
	t.Parallel()
	emu := newEmu(t)
	api := apiClient(emu)
	_, ts, err := api.PostMessage(general, slack.MsgOptionText("v1", false), slack.MsgOptionBlocks(section("v1")))
	require.NoError(t, err)

	t.Run("text without blocks drops the blocks", func(t *testing.T) {
		_, _, _, err := api.UpdateMessage(general, ts, slack.MsgOptionText("v2", false))
		require.NoError(t, err)
		m, _ := emu.Message(ts)
		assert.Equal(t, "v2", m.Text)
		assert.Nil(t, m.Blocks)
		assert.Equal(t, 1, m.Edits)
	})
	t.Run("blocks replace blocks", func(t *testing.T) {
		_, _, _, err := api.UpdateMessage(general, ts, slack.MsgOptionText("v3", false), slack.MsgOptionBlocks(section("v3")))
		require.NoError(t, err)
		m, _ := emu.Message(ts)
		assert.Contains(t, string(m.Blocks), "v3")
	})
	t.Run("unknown ts is message_not_found", func(t *testing.T) {
		_, _, _, err := api.UpdateMessage(general, "1.000001", slack.MsgOptionText("x", false))
		assert.Equal(t, "message_not_found", slackErr(t, err).Err)
	})
	t.Run("ephemeral cannot be updated", func(t *testing.T) {
		eph, err := api.PostEphemeral(general, alice, slack.MsgOptionText("e", false))
		require.NoError(t, err)
		_, _, _, err = api.UpdateMessage(general, eph, slack.MsgOptionText("x", false))
		assert.Equal(t, "cant_update_message", slackErr(t, err).Err)
	})
	t.Run("nothing to set is no_text", func(t *testing.T) {
		_, _, _, err := api.UpdateMessage(general, ts)
		assert.Equal(t, "no_text", slackErr(t, err).Err)
	})
}

func TestWebAPI_Directory(t *testing.T) {
	t.Parallel()
	emu := newEmu(t)
	api := apiClient(emu)

	members, err := api.GetUserGroupMembers("S0APPROVE1")
	require.NoError(t, err)
	assert.Equal(t, []string{alice}, members)
	_, err = api.GetUserGroupMembers("S0NOPE0001")
	assert.Equal(t, "no_such_subteam", slackErr(t, err).Err)

	u, err := api.GetUserInfo(alice)
	require.NoError(t, err)
	assert.Equal(t, "alice", u.Name)
	assert.Equal(t, "Alice A", u.RealName)
	assert.Equal(t, "alice@example.com", u.Profile.Email)
	_, err = api.GetUserInfo("U0NOPE0001")
	assert.Equal(t, "user_not_found", slackErr(t, err).Err)

	ch, err := api.GetConversationInfo(&slack.GetConversationInfoInput{ChannelID: secret})
	require.NoError(t, err)
	assert.Equal(t, "secret", ch.Name)
	assert.True(t, ch.IsPrivate)
	assert.True(t, ch.IsMember)

	auth, err := api.AuthTest()
	require.NoError(t, err)
	assert.Equal(t, emu.Options().BotUserID, auth.UserID)
	assert.Equal(t, emu.Options().TeamID, auth.TeamID)
	assert.Equal(t, emu.Options().BotID, auth.BotID)

	_, ts, err := api.PostMessage(general, slack.MsgOptionText("x", false))
	require.NoError(t, err)
	link, err := api.GetPermalink(&slack.PermalinkParameters{Channel: general, Ts: ts})
	require.NoError(t, err)
	assert.Contains(t, link, "/archives/"+general+"/p")
}

func TestWebAPI_Auth(t *testing.T) {
	t.Parallel()
	emu := newEmu(t)
	tests := []struct {
		name  string
		token string
		want  string
	}{
		{"wrong bot token", "xoxb-wrong", "invalid_auth"},
		{"no token", "", "not_authed"},
		{"app token on a web method", emu.Options().AppToken, "not_allowed_token_type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			api := slack.New(tc.token, slack.OptionAPIURL(emu.APIURL()))
			_, err := api.AuthTest()
			assert.Equal(t, tc.want, slackErr(t, err).Err)
			assert.NotContains(t, err.Error(), "xox")
		})
	}
}

// Slack reads a JSON post's token from the Authorization header only, and a form post's from
// the header or the body; a token in a JSON body or in the query string is not read.
func TestWebAPI_TokenOnlyWhereSlackReadsIt(t *testing.T) {
	t.Parallel()
	emu := newEmu(t)
	token := emu.Options().BotToken
	post := func(query, ctype, body, bearer string) map[string]any {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, emu.APIURL()+"chat.postMessage"+query, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", ctype)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var out map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		return out
	}
	const jsonType, formType = "application/json; charset=utf-8", "application/x-www-form-urlencoded"
	jsonBody := `{"channel":"` + general + `","text":"hi","token":"` + token + `"}`

	assert.Equal(t, "not_authed", post("", jsonType, jsonBody, "")["error"], "token in a JSON body")
	assert.Equal(t, "not_authed", post("?token="+token, formType, "channel="+general+"&text=hi", "")["error"], "token in the query")
	assert.Equal(t, true, post("", jsonType, jsonBody, token)["ok"], "JSON with the Authorization header")
	assert.Equal(t, true, post("", formType, "channel="+general+"&text=hi&token="+token, "")["ok"], "form with the token in the body")
}

func TestWebAPI_InvalidBlocks(t *testing.T) {
	t.Parallel()
	emu := newEmu(t)
	api := apiClient(emu)
	txt := func(n int) string { return strings.Repeat("a", n) }
	plain := func(s string) *slack.TextBlockObject {
		return slack.NewTextBlockObject(slack.PlainTextType, s, false, false)
	}
	button := func(id, label, value string) slack.BlockElement {
		return slack.NewButtonBlockElement(id, value, plain(label))
	}
	many := func(n int, f func(i int) slack.Block) []slack.Block {
		out := make([]slack.Block, n)
		for i := range out {
			out[i] = f(i)
		}
		return out
	}
	table := func(rows, cells int) *slack.TableBlock {
		tb := slack.NewTableBlock("")
		for range rows {
			row := make([]slack.TableCell, cells)
			for j := range row {
				row[j] = slack.NewTableRawTextCell("c")
			}
			tb.AddRow(row...)
		}
		return tb
	}
	tests := []struct {
		name    string
		blocks  []slack.Block
		pointer string
	}{
		{"more than 50 blocks", many(51, func(int) slack.Block { return slack.NewDividerBlock() }), "/blocks"},
		{"section text over 3000", []slack.Block{section(txt(3001))}, "/blocks/0/text/text"},
		{"empty section text", []slack.Block{section("")}, "/blocks/0/text/text"},
		{"more than 10 fields", []slack.Block{slack.NewSectionBlock(nil, func() []*slack.TextBlockObject {
			f := make([]*slack.TextBlockObject, 11)
			for i := range f {
				f[i] = plain("f")
			}
			return f
		}(), nil)}, "/blocks/0/fields"},
		{"field over 2000", []slack.Block{slack.NewSectionBlock(nil, []*slack.TextBlockObject{plain(txt(2001))}, nil)}, "/blocks/0/fields/0/text"},
		{"header over 150", []slack.Block{slack.NewHeaderBlock(plain(txt(151)))}, "/blocks/0/text/text"},
		{"header must be plain_text", []slack.Block{slack.NewHeaderBlock(slack.NewTextBlockObject(slack.MarkdownType, "h", false, false))}, "/blocks/0/text/type"},
		{"button text over 75", []slack.Block{slack.NewActionBlock("a", button("b", txt(76), "v"))}, "/blocks/0/elements/0/text/text"},
		{"button value over 2000", []slack.Block{slack.NewActionBlock("a", button("b", "ok", txt(2001)))}, "/blocks/0/elements/0/value"},
		{"action_id over 255", []slack.Block{slack.NewActionBlock("a", button(txt(256), "ok", "v"))}, "/blocks/0/elements/0/action_id"},
		{"block_id over 255", []slack.Block{slack.NewActionBlock(txt(256), button("b", "ok", "v"))}, "/blocks/0/block_id"},
		{"more than 25 actions", []slack.Block{slack.NewActionBlock("a", func() []slack.BlockElement {
			els := make([]slack.BlockElement, 26)
			for i := range els {
				els[i] = button("b"+strings.Repeat("x", i), "ok", "v")
			}
			return els
		}()...)}, "/blocks/0/elements"},
		{"more than 10 context elements", []slack.Block{slack.NewContextBlock("c", func() []slack.MixedElement {
			els := make([]slack.MixedElement, 11)
			for i := range els {
				els[i] = plain("c")
			}
			return els
		}()...)}, "/blocks/0/elements"},
		{"duplicate block_id", []slack.Block{slack.NewDividerBlock(), slack.NewActionBlock("same", button("a", "ok", "v")), slack.NewActionBlock("same", button("b", "ok", "v"))}, "/blocks/2/block_id"},
		{"two tables", []slack.Block{table(1, 1), table(1, 1)}, "/blocks/1"},
		{"table over 100 rows", []slack.Block{table(101, 1)}, "/blocks/0/rows"},
		{"table row over 20 cells", []slack.Block{table(1, 21)}, "/blocks/0/rows/0"},
		{"static select without options", []slack.Block{slack.NewActionBlock("a",
			slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Pick"), "pick"))}, "/blocks/0/elements/0"},
		{"static select option in mrkdwn", []slack.Block{slack.NewActionBlock("a",
			slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Pick"), "pick",
				slack.NewOptionBlockObject("v", slack.NewTextBlockObject(slack.MarkdownType, "*v*", false, false), nil)))}, "/blocks/0/elements/0/options/0/text/type"},
		{"static select option description over 75", []slack.Block{slack.NewActionBlock("a",
			slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Pick"), "pick",
				slack.NewOptionBlockObject("v", plain("v"), plain(txt(76)))))}, "/blocks/0/elements/0/options/0/description/text"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := api.PostMessage(general, slack.MsgOptionText("x", false), slack.MsgOptionBlocks(tc.blocks...))

			se := slackErr(t, err)
			assert.Equal(t, "invalid_blocks", se.Err)
			require.NotEmpty(t, se.Errors)
			var all []string
			for _, e := range se.Errors {
				require.NotNil(t, e.Message)
				all = append(all, *e.Message)
			}
			assert.Contains(t, strings.Join(all, "\n"), "[json-pointer:"+tc.pointer+"]")
			require.Len(t, se.ResponseMetadata.Messages, len(se.Errors))
			assert.True(t, strings.HasPrefix(se.ResponseMetadata.Messages[0], "[ERROR] "))
		})
	}
	assert.Empty(t, emu.Messages(general), "rejected messages are not posted")
}

func TestWebAPI_LongTextIsTruncatedWithWarning(t *testing.T) {
	t.Parallel()
	emu := newEmu(t)

	_, ts, err := apiClient(emu).PostMessage(general, slack.MsgOptionText(strings.Repeat("x", 40001), false))

	require.NoError(t, err)
	m, _ := emu.Message(ts)
	assert.Len(t, m.Text, 40000)
	assert.Equal(t, []string{"message_truncated"}, m.Warnings)
}

func TestWebAPI_RateLimit(t *testing.T) {
	t.Parallel()
	emu := newEmu(t)
	api := apiClient(emu)
	emu.SetRateLimit("chat.postMessage", slackemu.RateLimit{Calls: 1, Window: time.Minute, PerChannel: true})

	_, _, err := api.PostMessage(general, slack.MsgOptionText("1", false))
	require.NoError(t, err)
	_, _, err = api.PostMessage(general, slack.MsgOptionText("2", false))

	var rl *slack.RateLimitedError
	require.ErrorAs(t, err, &rl)
	assert.Greater(t, rl.RetryAfter, 58*time.Second)
	_, _, err = api.PostMessage(alice, slack.MsgOptionText("other channel", false))
	assert.NoError(t, err, "the limit is per channel")
}

func TestWebAPI_InjectedFaults(t *testing.T) {
	t.Parallel()
	emu := newEmu(t)
	api := apiClient(emu)
	emu.InjectFault("usergroups.users.list", slackemu.Fault{Error: "plan_upgrade_required", Times: 1})
	emu.InjectFault("usergroups.users.list", slackemu.Fault{RetryAfter: 3 * time.Second, Times: 1})
	emu.InjectFault("usergroups.users.list", slackemu.Fault{Status: http.StatusInternalServerError, Times: 1})

	_, err := api.GetUserGroupMembers("S0APPROVE1")
	assert.Equal(t, "plan_upgrade_required", slackErr(t, err).Err)
	_, err = api.GetUserGroupMembers("S0APPROVE1")
	var rl *slack.RateLimitedError
	require.ErrorAs(t, err, &rl)
	assert.Equal(t, 3*time.Second, rl.RetryAfter)
	_, err = api.GetUserGroupMembers("S0APPROVE1")
	var sce slack.StatusCodeError
	require.True(t, errors.As(err, &sce))
	assert.Equal(t, http.StatusInternalServerError, sce.Code)
	_, err = api.GetUserGroupMembers("S0APPROVE1")
	assert.NoError(t, err, "faults run out")
}
