package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/reply"
	"github.com/orgtoken/orgtoken-bot/reply/blockkit"
)

// listPageReply is shaped like a list page: a title, a 25-row table, page buttons.
func listPageReply() reply.Reply {
	t := &reply.Table{Columns: []string{"ID", "Name", "Description", "Role", "Created"}, KeyColumn: 1, Total: 1000}
	for i := range 25 {
		t.Rows = append(t.Rows, []string{fmt.Sprintf("cltk%021d", i), fmt.Sprintf("deploy-bot <%d> & co", i), "Deploys \"main\"", "WORKSPACE_MEMBER", "3 days ago"})
	}
	return reply.Reply{Title: "Organization API tokens in workspace <!channel>", Table: t,
		Buttons: []reply.Button{{Label: "Next page", ActionID: "list_page", Value: "list -w ws --page 2"}}}
}

// The response_url body is what slack-go's WebhookMessage would have sent, byte for byte.
func TestResponseMessageEncodesAsSlackGoDoes(t *testing.T) {
	t.Parallel()
	errReply := reply.Reply{Tone: reply.Failure, Title: "Unknown role <admin>", Body: []reply.Line{reply.Para("Use one of member, author & operator.")}}
	tests := []struct {
		name            string
		r               reply.Reply
		responseType    string
		replaceOriginal bool
	}{
		{"list page", listPageReply(), slack.ResponseTypeEphemeral, false},
		{"next page replacing the original", listPageReply(), slack.ResponseTypeEphemeral, true},
		{"error in channel", errReply, slack.ResponseTypeInChannel, false},
		{"no blocks", reply.Reply{}, slack.ResponseTypeEphemeral, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			blocks, text := blockkit.Render(tt.r)
			theirs, err := json.Marshal(&slack.WebhookMessage{Text: text, Blocks: &slack.Blocks{BlockSet: blocks},
				ResponseType: tt.responseType, ReplaceOriginal: tt.replaceOriginal})
			require.NoError(t, err)
			ours, err := json.Marshal(&responseMessage{Text: text, Blocks: blocks, ResponseType: tt.responseType, ReplaceOriginal: tt.replaceOriginal})
			require.NoError(t, err)
			if len(blocks) == 0 {
				// slack-go sends an empty block set as "blocks":[]; with none there is nothing to lay out either way.
				var a, b map[string]any
				require.NoError(t, json.Unmarshal(theirs, &a))
				require.NoError(t, json.Unmarshal(ours, &b))
				delete(a, "blocks")
				assert.Equal(t, a, b)
				return
			}
			assert.Equal(t, string(theirs), string(ours))
		})
	}
}

func TestPostResponse(t *testing.T) {
	t.Parallel()
	var gotType string
	var got responseMessage
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			gotType = r.Header.Get("Content-Type")
			body, _ := io.ReadAll(r.Body)
			_ = json.Unmarshal(body, &got)
		case "/limited":
			w.Header().Set("Retry-After", "3")
			w.WriteHeader(http.StatusTooManyRequests)
		case "/limited-without-retry-after":
			w.WriteHeader(http.StatusTooManyRequests)
		default:
			http.Error(w, "<html>gone</html>", http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	ctx := context.Background()
	msg := &responseMessage{Text: "3 tokens", ResponseType: slack.ResponseTypeEphemeral}

	require.NoError(t, postResponse(ctx, srv.Client(), srv.URL+"/ok", msg))
	assert.Equal(t, "application/json", gotType)
	assert.Equal(t, *msg, got)

	err := postResponse(ctx, srv.Client(), srv.URL+"/limited", msg)
	var rl *slack.RateLimitedError
	require.ErrorAs(t, err, &rl, "the metrics count it as rate limited")
	assert.Equal(t, 3*time.Second, rl.RetryAfter)

	var sc slack.StatusCodeError
	require.ErrorAs(t, postResponse(ctx, srv.Client(), srv.URL+"/limited-without-retry-after", msg), &sc)
	assert.Equal(t, http.StatusTooManyRequests, sc.Code)
	require.ErrorAs(t, postResponse(ctx, srv.Client(), srv.URL+"/expired", msg), &sc)
	assert.Equal(t, http.StatusNotFound, sc.Code)

	srv.Close()
	assert.ErrorContains(t, postResponse(ctx, srv.Client(), srv.URL+"/ok", msg), "failed to post webhook")
}

// BenchmarkEncodeListResponse is the body of a list page's response_url post, as slack-go's
// WebhookMessage encodes it and as the bot does.
func BenchmarkEncodeListResponse(b *testing.B) {
	blocks, text := blockkit.Render(listPageReply())
	b.Run("slack.WebhookMessage", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(&slack.WebhookMessage{Text: text, Blocks: &slack.Blocks{BlockSet: blocks}, ResponseType: slack.ResponseTypeEphemeral}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("responseMessage", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(&responseMessage{Text: text, Blocks: blocks, ResponseType: slack.ResponseTypeEphemeral}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
