package bot

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/commands"
	"github.com/orgtoken/orgtoken-bot/emulators/slackemu"
	"github.com/orgtoken/orgtoken-bot/reply"
	"github.com/orgtoken/orgtoken-bot/reply/blockkit"
)

// quickRetries retries as the bot does, with waits short enough for a test.
var quickRetries = slack.RetryConfig{MaxRetries: 3, RetryAfterDuration: time.Second, BackoffInitial: time.Millisecond, BackoffMax: 4 * time.Millisecond}

func newChatEmu(t *testing.T) (*slackemu.Emulator, *WebAPI) {
	t.Helper()
	emu := slackemu.Start(t, slackemu.Options{AppToken: benchAppToken, BotToken: benchBotToken})
	emu.AddUser(slackemu.User{ID: benchUser, Name: "bench"})
	emu.AddChannel(slackemu.Channel{ID: benchChannel, Name: "bench", BotIsMember: true})
	emu.AddChannel(slackemu.Channel{ID: "C0NOTIN01", Name: "elsewhere"})
	client := slack.New(benchBotToken, slack.OptionAPIURL(emu.APIURL()))
	return emu, NewWebAPI(client, http.DefaultClient, emu.APIURL(), benchBotToken, quickRetries)
}

// A message posted by PostBlocks is the one slack-go's PostMessageContext would have posted:
// same channel, thread, fallback text and blocks, and the timestamp Slack gave it.
func TestPostBlocksPostsWhatSlackGoWould(t *testing.T) {
	t.Parallel()
	emu, api := newChatEmu(t)
	blocks, text := blockkit.Render(listPageReply())

	_, theirTS, err := api.PostMessageContext(t.Context(), benchChannel, slack.MsgOptionBlocks(blocks...), slack.MsgOptionText(text, false))
	require.NoError(t, err)
	ourTS, err := api.PostBlocks(t.Context(), benchChannel, "", blocks, text)
	require.NoError(t, err)
	threadTS, err := api.PostBlocks(t.Context(), benchChannel, theirTS, blocks, text)
	require.NoError(t, err)

	theirs, ok := emu.Message(theirTS)
	require.True(t, ok)
	ours, ok := emu.Message(ourTS)
	require.True(t, ok, "PostBlocks must return the timestamp of the message it posted")
	assert.Equal(t, theirs.Channel, ours.Channel)
	assert.Equal(t, theirs.Text, ours.Text)
	assert.JSONEq(t, string(theirs.Blocks), string(ours.Blocks))
	assert.Equal(t, "chat.postMessage", ours.Source)
	assert.Empty(t, ours.ThreadTS)

	inThread, ok := emu.Message(threadTS)
	require.True(t, ok)
	assert.Equal(t, theirTS, inThread.ThreadTS)
}

// Slack's refusals come back as slack-go's errors, so metrics and logs classify them alike.
func TestPostBlocksReturnsSlackGosErrors(t *testing.T) {
	t.Parallel()
	emu, api := newChatEmu(t)
	blocks, text := blockkit.Render(listPageReply())

	_, err := api.PostBlocks(t.Context(), "C0NOTIN01", "", blocks, text)
	var slackErr slack.SlackErrorResponse
	require.ErrorAs(t, err, &slackErr)
	assert.Equal(t, "not_in_channel", slackErr.Err)

	// Not retried: a 4xx other than 429 will not change.
	emu.InjectFault("chat.postMessage", slackemu.Fault{Status: http.StatusForbidden, Times: 1})
	_, err = api.PostBlocks(t.Context(), benchChannel, "", blocks, text)
	var status slack.StatusCodeError
	require.ErrorAs(t, err, &status)
	assert.Equal(t, http.StatusForbidden, status.Code)

	assert.Empty(t, emu.Messages("C0NOTIN01"))
	assert.Empty(t, emu.Messages(benchChannel))
	assert.NotContains(t, err.Error(), benchBotToken)
}

// Rate limits and 5xx answers are retried, as slack-go's retrying client does for its calls,
// and the message is posted once.
func TestPostBlocksRetriesRateLimitsAndServerErrors(t *testing.T) {
	t.Parallel()
	emu, api := newChatEmu(t)
	blocks, text := blockkit.Render(listPageReply())

	emu.InjectFault("chat.postMessage", slackemu.Fault{Status: http.StatusServiceUnavailable, Times: 2})
	emu.InjectFault("chat.postMessage", slackemu.Fault{RetryAfter: time.Second, Times: 1})
	start := time.Now()
	ts, err := api.PostBlocks(t.Context(), benchChannel, "", blocks, text)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, time.Since(start), time.Second, "a 429 waits for its Retry-After")
	_, ok := emu.Message(ts)
	assert.True(t, ok)
	assert.Len(t, emu.Messages(benchChannel), 1)
	assert.Len(t, emu.Calls("chat.postMessage"), 4)
}

// Past the retries the last refusal is returned; a cancelled context stops the wait at once.
func TestPostBlocksGivesUpAfterItsRetries(t *testing.T) {
	t.Parallel()
	emu, api := newChatEmu(t)
	blocks, text := blockkit.Render(listPageReply())

	emu.InjectFault("chat.postMessage", slackemu.Fault{Status: http.StatusInternalServerError, Times: 4})
	_, err := api.PostBlocks(t.Context(), benchChannel, "", blocks, text)
	var status slack.StatusCodeError
	require.ErrorAs(t, err, &status)
	assert.Equal(t, http.StatusInternalServerError, status.Code)
	assert.Len(t, emu.Calls("chat.postMessage"), 1+quickRetries.MaxRetries)

	emu.InjectFault("chat.postMessage", slackemu.Fault{RetryAfter: time.Minute})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err = api.PostBlocks(ctx, benchChannel, "", blocks, text)
	assert.True(t, errors.Is(err, context.Canceled), "got %v", err)
	assert.Empty(t, emu.Messages(benchChannel))

	// A wait that would outlast the deadline is not begun: the refusal comes back at once,
	// with the time the caller has left.
	calls := len(emu.Calls("chat.postMessage"))
	ctx, cancel = context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	start := time.Now()
	_, err = api.PostBlocks(ctx, benchChannel, "", blocks, text)
	var limitedNow *slack.RateLimitedError
	require.ErrorAs(t, err, &limitedNow)
	assert.Less(t, time.Since(start), 5*time.Second)
	assert.Len(t, emu.Calls("chat.postMessage"), calls+1)

	emu.ClearFaults("chat.postMessage")
	api.retry.MaxRetries = 0
	emu.InjectFault("chat.postMessage", slackemu.Fault{RetryAfter: 3 * time.Second, Times: 1})
	_, err = api.PostBlocks(t.Context(), benchChannel, "", blocks, text)
	var limited *slack.RateLimitedError
	require.ErrorAs(t, err, &limited)
	assert.Equal(t, 3*time.Second, limited.RetryAfter)
}

// BenchmarkPostBlocks posts a list page in a channel and reads Slack's answer, which echoes the
// message: the allocation is the bot's side of it, the emulator's included.
func BenchmarkPostBlocks(b *testing.B) {
	s := newBenchSocket(b)
	blocks, text := blockkit.Render(listPageReply())
	for _, via := range []string{"PostBlocks", "slack-go"} {
		b.Run(via, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if via == "PostBlocks" {
					_, err = s.api.PostBlocks(b.Context(), benchChannel, "", blocks, text)
				} else {
					_, _, err = s.api.PostMessageContext(b.Context(), benchChannel, slack.MsgOptionBlocks(blocks...), slack.MsgOptionText(text, false))
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// inChannel answers every command for the whole channel, as a change's announcement is.
type inChannel struct{}

func (inChannel) Run(_ context.Context, req commands.Request) reply.Reply {
	return reply.Reply{Visibility: reply.InChannel, Tone: reply.Success, Title: "ran " + req.Text}
}

func (inChannel) Act(context.Context, commands.Action) reply.Reply { return reply.Reply{} }

// Slack rate-limits the channel for longer than an answer may take to deliver: waiting out the
// Retry-After would spend the whole delivery budget and leave none for response_url, so the
// answer goes to its requester at once rather than to nobody.
func TestRateLimitedChannelStillAnswersTheRequester(t *testing.T) {
	t.Parallel()
	s := newIdleSocket(t)
	api := NewWebAPI(slack.New(benchBotToken, slack.OptionAPIURL(s.emu.APIURL())), http.DefaultClient, s.emu.APIURL(), benchBotToken, quickRetries)
	s.emu.InjectFault("chat.postMessage", slackemu.Fault{RetryAfter: 20 * time.Second})
	bt := New(s.sm, api, inChannel{}, Config{CommandName: "/orgtoken", Workers: 1, QueueSize: 1, Logger: benchLogger()})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = bt.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })

	wait, waitCancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer waitCancel()
	in, err := s.emu.SlashCommand(wait, slackemu.Slash{UserID: benchUser, ChannelID: benchChannel, Command: "/orgtoken", Text: "list"})
	require.NoError(t, err)
	p, err := in.WaitResponse(wait)
	require.NoError(t, err, "the answer waited on a rate limit it could not outlast")
	assert.Contains(t, string(p.Body), "ran list")
}
