package slackemu

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/slack-go/slack"
)

// Message is a message as a user would see it now (after updates).
type Message struct {
	Channel  string
	TS       string
	ThreadTS string
	Text     string
	Blocks   json.RawMessage // nil when the message has no blocks
	UserID   string          // author; the bot user for everything the app posts
	// Ephemeral messages are visible only to VisibleTo.
	Ephemeral bool
	VisibleTo string
	// Source is how it was posted: chat.postMessage, chat.postEphemeral, response_url, ack.
	Source string
	// EnvelopeID of the interaction whose response_url or ack posted it.
	EnvelopeID string
	Edits      int // chat.update or replace_original count
	Deleted    bool
	Warnings   []string // e.g. message_truncated
}

// SlackBlocks decodes Blocks with slack-go for typed assertions.
func (m Message) SlackBlocks() (slack.Blocks, error) {
	var b slack.Blocks
	if len(m.Blocks) == 0 {
		return b, nil
	}
	err := json.Unmarshal(m.Blocks, &b)
	return b, err
}

// Button is an interactive button found in a message or view.
type Button struct {
	BlockID  string
	ActionID string
	Text     string
	Value    string
	Style    string
	URL      string
	raw      json.RawMessage
}

// Buttons lists the message's buttons (actions blocks and section accessories), in order.
func (m Message) Buttons() []Button { return findButtons(m.Blocks) }

func findButtons(blocks json.RawMessage) []Button {
	var bs []struct {
		Type      string            `json:"type"`
		BlockID   string            `json:"block_id"`
		Elements  []json.RawMessage `json:"elements"`
		Accessory json.RawMessage   `json:"accessory"`
	}
	if json.Unmarshal(blocks, &bs) != nil {
		return nil
	}
	var out []Button
	add := func(blockID string, raw json.RawMessage) {
		var el struct {
			Type     string `json:"type"`
			ActionID string `json:"action_id"`
			Value    string `json:"value"`
			Style    string `json:"style"`
			URL      string `json:"url"`
			Text     struct {
				Text string `json:"text"`
			} `json:"text"`
		}
		if json.Unmarshal(raw, &el) != nil || el.Type != "button" {
			return
		}
		out = append(out, Button{BlockID: blockID, ActionID: el.ActionID, Text: el.Text.Text, Value: el.Value, Style: el.Style, URL: el.URL, raw: raw})
	}
	for _, b := range bs {
		switch b.Type {
		case "actions":
			for _, el := range b.Elements {
				add(b.BlockID, el)
			}
		case "section":
			if len(b.Accessory) > 0 {
				add(b.BlockID, b.Accessory)
			}
		}
	}
	return out
}

type messageStore struct {
	order []*Message
	byTS  map[string]*Message
}

func newMessageStore() messageStore { return messageStore{byTS: map[string]*Message{}} }

func (e *Emulator) addMessageLocked(m Message) Message {
	m.TS = e.newTSLocked()
	mm := m
	e.store.order = append(e.store.order, &mm)
	e.store.byTS[mm.TS] = &mm
	keepNewest(&e.store.order, e.opts.MaxRecorded, func(m *Message) { delete(e.store.byTS, m.TS) })
	e.notifyLocked()
	return mm
}

// Messages returns channelID's messages in post order (deleted ones included, flagged);
// "" returns every channel's.
func (e *Emulator) Messages(channelID string) []Message {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Message
	for _, m := range e.store.order {
		if channelID == "" || m.Channel == channelID {
			out = append(out, copyMessage(m))
		}
	}
	return out
}

// Message returns the message with timestamp ts.
func (e *Emulator) Message(ts string) (Message, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	m, ok := e.store.byTS[ts]
	if !ok {
		return Message{}, false
	}
	return copyMessage(m), true
}

// WaitMessage waits until a message, in its current state, satisfies match (checked in post
// order) and returns it.
func (e *Emulator) WaitMessage(ctx context.Context, match func(Message) bool) (Message, error) {
	var found Message
	err := e.waitFor(ctx, func() bool {
		for _, m := range e.store.order {
			if c := copyMessage(m); match(c) {
				found = c
				return true
			}
		}
		return false
	})
	return found, err
}

func copyMessage(m *Message) Message {
	c := *m
	c.Blocks = append(json.RawMessage(nil), m.Blocks...)
	if len(m.Blocks) == 0 {
		c.Blocks = nil
	}
	c.Warnings = append([]string(nil), m.Warnings...)
	return c
}

// ResponsePost is one POST to a response_url.
type ResponsePost struct {
	URL             string
	EnvelopeID      string
	Body            json.RawMessage
	Text            string
	Blocks          json.RawMessage
	ResponseType    string
	ReplaceOriginal bool
	DeleteOriginal  bool
	ThreadTS        string
	// Status and Error are what the emulator answered: 200 "", or e.g. 400 "invalid_blocks",
	// 404 "used_url" / "expired_url".
	Status int
	Error  string
	// MessageTS is the message the post created, replaced or deleted.
	MessageTS string
}

// SlackBlocks decodes Blocks with slack-go.
func (p ResponsePost) SlackBlocks() (slack.Blocks, error) {
	var b slack.Blocks
	if len(p.Blocks) == 0 {
		return b, nil
	}
	err := json.Unmarshal(p.Blocks, &b)
	return b, err
}

// ResponsePosts returns every response_url post, in order.
func (e *Emulator) ResponsePosts() []ResponsePost {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]ResponsePost(nil), e.posts...)
}

// replyBody is the shape shared by response_url posts and slash-command ack payloads.
type replyBody struct {
	Text            string          `json:"text"`
	Blocks          json.RawMessage `json:"blocks"`
	ResponseType    string          `json:"response_type"`
	ReplaceOriginal flexBool        `json:"replace_original"`
	DeleteOriginal  flexBool        `json:"delete_original"`
	ThreadTS        string          `json:"thread_ts"`
}

// flexBool accepts true/false and "true"/"false", as Slack does.
type flexBool bool

func (b *flexBool) UnmarshalJSON(d []byte) error {
	switch string(bytes.Trim(d, `"`)) {
	case "true":
		*b = true
	case "false", "null", "":
		*b = false
	default:
		return fmt.Errorf("not a boolean: %s", d)
	}
	return nil
}

func hasBlocks(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) > 0 && !bytes.Equal(t, []byte("null"))
}

// applySlashAck shows a slash command's ack payload as the immediate reply, ephemeral unless
// response_type is in_channel.
func (e *Emulator) applySlashAck(in *Interaction, payload json.RawMessage) string {
	var body replyBody
	if json.Unmarshal(payload, &body) != nil {
		return "invalid_payload"
	}
	if body.Text == "" && !hasBlocks(body.Blocks) {
		return ""
	}
	if hasBlocks(body.Blocks) {
		if errs, bad := validateBlocks(body.Blocks, "/blocks", surfaceMessage); bad || len(errs) > 0 {
			return "invalid_blocks"
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	m := Message{Channel: in.ChannelID, Text: body.Text, UserID: e.opts.BotUserID, Source: "ack", EnvelopeID: in.EnvelopeID}
	if hasBlocks(body.Blocks) {
		m.Blocks = compactJSON(body.Blocks)
	}
	if body.ResponseType != "in_channel" {
		m.Ephemeral, m.VisibleTo = true, in.UserID
	}
	e.addMessageLocked(m)
	return ""
}

func compactJSON(raw json.RawMessage) json.RawMessage {
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		return append(json.RawMessage(nil), raw...)
	}
	return buf.Bytes()
}
