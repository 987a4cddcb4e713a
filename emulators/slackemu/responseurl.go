package slackemu

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/google/uuid"
)

// responseURL is one response_url handed to the app.
type responseURL struct {
	path    string
	in      *Interaction
	channel string
	user    string
	// origTS is the message a block_actions click came from; replace/delete_original act on
	// it. For slash commands it is the last message posted through this URL (UNVERIFIED: Slack
	// documents replace_original for message interactions only).
	origTS  string
	created time.Time
	uses    int
}

// newResponseURLLocked mints a response_url: /commands/... for slash commands and
// /actions/... for message interactions, shaped like hooks.slack.com ones.
func (e *Emulator) newResponseURLLocked(kind, channel, user, origTS string) *responseURL {
	n := e.nextSeqLocked()
	path := fmt.Sprintf("/%s/%s/%d/%s", kind, e.opts.TeamID, 1000000000+n, uuid.NewString()[:24])
	r := &responseURL{path: path, channel: channel, user: user, origTS: origTS, created: e.now()}
	e.resps[path] = r
	return r
}

func textError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, code)
}

// handleResponseURL serves posts to response_urls. Success is HTTP 200 {"ok":true}. Failures
// are plain-text error codes, as Slack's hooks answer: 404 "no_service" (unknown URL),
// 404 "expired_url" (older than ResponseURLTTL), 404 "used_url" (more than ResponseURLUses
// posts), 400 "invalid_payload" (not JSON), 400 "no_text" (no text or blocks), 400
// "invalid_blocks" (Block Kit validation failed). Failed posts do not use up the URL.
func (e *Emulator) handleResponseURL(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		textError(w, http.StatusBadRequest, "invalid_payload")
		return
	}
	post := ResponsePost{URL: e.baseURL + r.URL.Path, Body: body, Status: http.StatusOK}

	e.mu.Lock()
	ru := e.resps[r.URL.Path]
	e.mu.Unlock()
	if ru == nil {
		textError(w, http.StatusNotFound, "no_service")
		return
	}
	post.EnvelopeID = ru.in.EnvelopeID

	var rb replyBody
	fail := func(status int, code string) {
		post.Status, post.Error = status, code
		e.mu.Lock()
		e.recordPostLocked(ru, post)
		e.mu.Unlock()
		textError(w, status, code)
	}
	if jerr := json.Unmarshal(body, &rb); jerr != nil {
		fail(http.StatusBadRequest, "invalid_payload")
		return
	}
	post.Text, post.ResponseType, post.ThreadTS = rb.Text, rb.ResponseType, rb.ThreadTS
	post.ReplaceOriginal, post.DeleteOriginal = bool(rb.ReplaceOriginal), bool(rb.DeleteOriginal)
	if hasBlocks(rb.Blocks) {
		post.Blocks = compactJSON(rb.Blocks)
	}

	e.mu.Lock()
	switch {
	case e.now().Sub(ru.created) > e.opts.ResponseURLTTL:
		e.mu.Unlock()
		fail(http.StatusNotFound, "expired_url")
		return
	case ru.uses >= e.opts.ResponseURLUses:
		e.mu.Unlock()
		fail(http.StatusNotFound, "used_url")
		return
	}
	e.mu.Unlock()

	if !post.DeleteOriginal {
		if post.Text == "" && post.Blocks == nil {
			fail(http.StatusBadRequest, "no_text")
			return
		}
		if post.Blocks != nil {
			if errs, bad := validateBlocks(post.Blocks, "/blocks", surfaceMessage); bad || len(errs) > 0 {
				fail(http.StatusBadRequest, "invalid_blocks")
				return
			}
		}
	}

	e.mu.Lock()
	ru.uses++
	post.MessageTS = e.applyResponseLocked(ru, post)
	e.recordPostLocked(ru, post)
	e.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"ok": true})
}

func (e *Emulator) recordPostLocked(ru *responseURL, p ResponsePost) {
	ru.in.responses = append(ru.in.responses, p)
	close(ru.in.responded)
	ru.in.responded = make(chan struct{})
	e.posts = append(e.posts, p)
	keepNewest(&e.posts, e.opts.MaxRecorded, nil)
	e.notifyLocked()
}

// applyResponseLocked changes the messages as the post asks and returns the affected ts.
func (e *Emulator) applyResponseLocked(ru *responseURL, p ResponsePost) string {
	orig := e.store.byTS[ru.origTS]
	if orig != nil && orig.Deleted {
		orig = nil
	}
	switch {
	case p.DeleteOriginal:
		if orig == nil {
			return ""
		}
		orig.Deleted = true
		e.notifyLocked()
		return orig.TS
	case p.ReplaceOriginal && orig != nil:
		orig.Text = p.Text
		orig.Blocks = p.Blocks
		orig.Edits++
		e.notifyLocked()
		return orig.TS
	}
	m := Message{
		Channel: ru.channel, ThreadTS: p.ThreadTS, Text: p.Text, Blocks: p.Blocks,
		UserID: e.opts.BotUserID, Source: "response_url", EnvelopeID: ru.in.EnvelopeID,
	}
	if p.ResponseType != "in_channel" {
		m.Ephemeral, m.VisibleTo = true, ru.user
	}
	if len(m.Text) > maxMessageText {
		m.Text = m.Text[:maxMessageText]
		m.Warnings = []string{"message_truncated"}
	}
	added := e.addMessageLocked(m)
	if ru.in.Type == EnvelopeSlashCommands {
		ru.origTS = added.TS
	}
	return added.TS
}

// ExpireResponseURL makes a response_url answer expired_url from now on.
func (e *Emulator) ExpireResponseURL(url string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, r := range e.resps {
		if e.baseURL+r.path == url {
			r.created = e.now().Add(-e.opts.ResponseURLTTL - time.Second)
		}
	}
}
