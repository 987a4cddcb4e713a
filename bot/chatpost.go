package bot

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"
)

// WebAPI is slack-go's Web API client, except that messages are posted by PostBlocks.
type WebAPI struct {
	*slack.Client
	http  *http.Client
	url   string // chat.postMessage's URL
	token string
	retry slack.RetryConfig
}

// NewWebAPI wraps client. httpClient, apiURL (ending in "/"), botToken and retry must be what
// client was built with, so PostBlocks reaches the same Slack the same way and retries as
// slack-go's own calls do (only rate limits and 5xx answers are retried).
func NewWebAPI(client *slack.Client, httpClient *http.Client, apiURL, botToken string, retry slack.RetryConfig) *WebAPI {
	return &WebAPI{Client: client, http: httpClient, url: apiURL + "chat.postMessage", token: botToken, retry: retry}
}

// chatMessage is a chat.postMessage request, sent as JSON as Slack documents it (and so
// without URL-encoding the blocks' JSON into a form as slack-go does).
type chatMessage struct {
	Channel  string        `json:"channel"`
	Text     string        `json:"text,omitempty"`
	Blocks   []slack.Block `json:"blocks,omitempty"`
	ThreadTS string        `json:"thread_ts,omitempty"`
}

// chatPosted is what the bot reads of chat.postMessage's answer. Slack echoes the message
// back; slack-go decodes the echo into a slack.Message, every block typed, which was the
// largest single allocation of a change's reply (BenchmarkPostBlocks).
type chatPosted struct {
	OK               bool                   `json:"ok"`
	Error            string                 `json:"error"`
	TS               string                 `json:"ts"`
	ResponseMetadata slack.ResponseMetadata `json:"response_metadata"`
}

// maxChatAnswer bounds how much of an answer is read: the echo of a 50-block message is a few
// tens of kilobytes.
const maxChatAnswer = 1 << 20

// PostBlocks posts blocks, with text as the notification fallback, to a channel (in the
// thread of threadTS unless it is "") and returns the message's timestamp. Errors are
// slack-go's: slack.SlackErrorResponse for an answer with ok false, slack.RateLimitedError for
// a 429 still refused after the retries (or whose wait would outlast ctx's deadline),
// slack.StatusCodeError for any other status.
func (w *WebAPI) PostBlocks(ctx context.Context, channelID, threadTS string, blocks []slack.Block, text string) (string, error) {
	body, err := json.Marshal(&chatMessage{Channel: channelID, Text: text, Blocks: blocks, ThreadTS: threadTS})
	if err != nil {
		return "", fmt.Errorf("encoding chat.postMessage: %w", err)
	}
	backoff := w.retry.BackoffInitial
	for attempt := 0; ; attempt++ {
		ts, retryAfter, err := w.postOnce(ctx, body)
		if retryAfter < 0 || attempt >= w.retry.MaxRetries {
			return ts, err
		}
		if retryAfter == 0 { // a 5xx: back off exponentially
			retryAfter = backoff + jitter(w.retry.BackoffJitter)
			backoff = min(2*backoff, w.retry.BackoffMax)
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < retryAfter {
			// The retry could not be made in time: waiting for it would only spend the time
			// the caller has left to answer some other way (response_url).
			return ts, err
		}
		t := time.NewTimer(retryAfter)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return "", ctx.Err()
		}
	}
}

// postOnce makes one attempt. retryAfter is how long to wait before the next for a 429, 0 for
// a 5xx (the caller backs off) and negative when the outcome is final.
func (w *WebAPI) postOnce(ctx context.Context, body []byte) (ts string, retryAfter time.Duration, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return "", -1, err
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("Authorization", "Bearer "+w.token)
	resp, err := w.http.Do(req)
	if err != nil {
		// Not retried: the message may have been posted, and a duplicate is worse than a
		// failure the caller logs and answers by another route.
		return "", -1, err
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxChatAnswer))
		_ = resp.Body.Close()
	}()
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		wait := w.retry.RetryAfterDuration
		if s, err := strconv.ParseInt(strings.TrimSpace(resp.Header.Get("Retry-After")), 10, 64); err == nil && s >= 0 {
			wait = time.Duration(s) * time.Second
		}
		// Slack's limits are per second or longer; never hammer it sooner.
		wait = max(wait, time.Second)
		return "", wait + jitter(w.retry.RetryAfterJitter), &slack.RateLimitedError{RetryAfter: wait}
	case resp.StatusCode >= http.StatusInternalServerError:
		return "", 0, slack.StatusCodeError{Code: resp.StatusCode, Status: resp.Status}
	case resp.StatusCode != http.StatusOK:
		return "", -1, slack.StatusCodeError{Code: resp.StatusCode, Status: resp.Status}
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxChatAnswer))
	if err != nil {
		return "", -1, fmt.Errorf("reading chat.postMessage's answer: %w", err)
	}
	var posted chatPosted
	if err := json.Unmarshal(raw, &posted); err != nil {
		return "", -1, fmt.Errorf("reading chat.postMessage's answer: %w", err)
	}
	if !posted.OK {
		return "", -1, slack.SlackErrorResponse{Err: posted.Error, ResponseMetadata: posted.ResponseMetadata}
	}
	return posted.TS, -1, nil
}

func jitter(upTo time.Duration) time.Duration {
	if upTo <= 0 {
		return 0
	}
	return rand.N(upTo)
}
