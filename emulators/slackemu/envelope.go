package slackemu

import (
	"bytes"
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// Envelope types (the "type" of a Socket Mode envelope).
const (
	EnvelopeSlashCommands = "slash_commands"
	EnvelopeInteractive   = "interactive"
	EnvelopeEventsAPI     = "events_api"
)

// Interaction is one envelope sent to the app, with what came back for it.
type Interaction struct {
	EnvelopeID  string
	Type        string // envelope type: slash_commands, interactive, events_api
	PayloadType string // block_actions, view_submission, block_suggestion, view_closed; "" for slash
	UserID      string
	ChannelID   string
	ResponseURL string // "" when the interaction has none (modals)
	TriggerID   string
	Payload     json.RawMessage
	Accepts     bool // accepts_response_payload

	e      *Emulator
	viewID string        // the modal a view interaction came from
	acked  chan struct{} // closed on the first ack that counts
	failed chan struct{} // closed when the user would see a failure

	// guarded by e.mu
	ack        *Ack
	failure    string
	deliveries []Delivery
	responses  []ResponsePost
	// responded is closed and replaced on each post to the response_url, so its waiters wake
	// for their own interaction only: with hundreds of users waiting, waking all of them on
	// every event the emulator records cost more CPU than the app under test.
	responded chan struct{}
}

// Delivery is one write of an envelope to a socket.
type Delivery struct {
	ConnID       int
	RetryAttempt int
	SentAt       time.Time
}

// Ack is one ack frame read from a socket.
type Ack struct {
	EnvelopeID string
	Payload    json.RawMessage // nil when the ack had none
	ConnID     int
	Size       int // frame bytes
	ReceivedAt time.Time
	// Latency is from writing the envelope's latest delivery to the ack reaching the socket
	// (the kernel's receive time where the OS gives it, see rxstamp), as Slack would have it;
	// ReadLatency is to the emulator's reading it, later by however long its reader waited for
	// a core it shares with the bot.
	Latency, ReadLatency time.Duration
	// Dropped: the frame was 20 KB or more, which Slack silently ignores.
	Dropped bool
	// Late: the envelope had already failed (operation_timeout) or been acked.
	Late bool
	// Unknown: no envelope with this ID was sent.
	Unknown bool
	// Malformed: the frame was not an ack object.
	Malformed bool
	// Error: what the user would see go wrong applying the payload (e.g. "invalid_blocks";
	// "invalid_options" for a block_suggestion answer Slack would not show, which leaves the
	// menu without options).
	Error string
	// Errors: the violations behind Error, worded like invalid_blocks' errors
	// ("<message> [json-pointer:<path>]"), where there are any.
	Errors []string
}

// Failure is a user-visible failure of an interaction.
type Failure struct {
	EnvelopeID string
	Type       string
	UserID     string
	ChannelID  string
	Reason     string // operation_timeout, dispatch_failed
	At         time.Time
}

type envelopeFrame struct {
	EnvelopeID             string          `json:"envelope_id"`
	Type                   string          `json:"type"`
	Payload                json.RawMessage `json:"payload"`
	AcceptsResponsePayload bool            `json:"accepts_response_payload"`
	RetryAttempt           int             `json:"retry_attempt"`
	RetryReason            string          `json:"retry_reason"`
}

// Deliver sends a custom envelope (e.g. events_api) and returns its handle.
func (e *Emulator) Deliver(ctx context.Context, envelopeType string, payload json.RawMessage, acceptsResponsePayload bool) (*Interaction, error) {
	in := e.newInteraction(envelopeType, "", "", "", payload, acceptsResponsePayload)
	return in, e.dispatch(ctx, in)
}

func (e *Emulator) newInteraction(envType, payloadType, userID, channelID string, payload json.RawMessage, accepts bool) *Interaction {
	return &Interaction{
		EnvelopeID:  uuid.NewString(),
		Type:        envType,
		PayloadType: payloadType,
		UserID:      userID,
		ChannelID:   channelID,
		Payload:     payload,
		Accepts:     accepts,
		e:           e,
		responded:   make(chan struct{}),
		acked:       make(chan struct{}),
		failed:      make(chan struct{}),
	}
}

// dispatch registers in and writes its first delivery. Without a live socket the user sees
// dispatch_failed, which is recorded as a Failure.
func (e *Emulator) dispatch(ctx context.Context, in *Interaction) error {
	e.mu.Lock()
	e.envs[in.EnvelopeID] = in
	e.inters = append(e.inters, in)
	keepNewest(&e.inters, e.opts.MaxRecorded, e.forgetInteractionLocked)
	e.mu.Unlock()
	err := e.deliver(ctx, in, 0)
	if err == ErrNotConnected {
		e.mu.Lock()
		e.failLocked(in, "dispatch_failed")
		e.mu.Unlock()
	}
	return err
}

func (e *Emulator) deliver(ctx context.Context, in *Interaction, attempt int) error {
	c, err := e.pickConn(ctx)
	if err != nil {
		return err
	}
	reason := ""
	if attempt > 0 {
		reason = "timeout"
	}
	frame, err := json.Marshal(envelopeFrame{
		EnvelopeID: in.EnvelopeID, Type: in.Type, Payload: in.Payload,
		AcceptsResponsePayload: in.Accepts, RetryAttempt: attempt, RetryReason: reason,
	})
	if err != nil {
		return err
	}
	e.mu.Lock()
	in.deliveries = append(in.deliveries, Delivery{ConnID: c.info.ID, RetryAttempt: attempt, SentAt: time.Now()})
	c.info.Envelopes = append(c.info.Envelopes, in.EnvelopeID)
	e.notifyLocked()
	e.mu.Unlock()
	// A failed write is not retried here: like a frame lost in flight, the ack timer decides.
	_ = c.writeText(frame)
	e.goTracked(func() { e.awaitAck(in, attempt, c) })
	return nil
}

func (e *Emulator) awaitAck(in *Interaction, attempt int, c *wsConn) {
	t := time.NewTimer(e.opts.AckTimeout)
	defer t.Stop()
	select {
	case <-in.acked:
		e.afterResolved(c)
		return
	case <-in.failed:
		return
	case <-e.done:
		return
	case <-t.C:
	}
	if attempt < e.opts.Redeliveries {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			select {
			case <-e.done:
				cancel()
			case <-ctx.Done():
			}
		}()
		if err := e.deliver(ctx, in, attempt+1); err == nil {
			return
		}
	}
	e.mu.Lock()
	e.failLocked(in, "operation_timeout")
	e.mu.Unlock()
	e.afterResolved(c)
}

func (e *Emulator) failLocked(in *Interaction, reason string) {
	if in.ack != nil || in.failure != "" {
		return
	}
	in.failure = reason
	close(in.failed)
	e.fails = append(e.fails, Failure{
		EnvelopeID: in.EnvelopeID, Type: in.Type, UserID: in.UserID, ChannelID: in.ChannelID,
		Reason: reason, At: e.now(),
	})
	keepNewest(&e.fails, e.opts.MaxRecorded, nil)
	e.notifyLocked()
}

// afterResolved applies DisconnectEvery once an envelope carried by c is done with.
func (e *Emulator) afterResolved(c *wsConn) {
	e.mu.Lock()
	every, reason := e.sock.every, e.sock.everyReason
	fire := false
	if every > 0 {
		e.sock.resolved++
		fire = e.sock.resolved%every == 0 && c.info.Live
	}
	e.mu.Unlock()
	if fire {
		e.sendDisconnect(c, reason)
	}
}

func (e *Emulator) handleAck(c *wsConn, data []byte, arrived, read time.Time) {
	var frame struct {
		EnvelopeID string          `json:"envelope_id"`
		Payload    json.RawMessage `json:"payload"`
	}
	err := json.Unmarshal(data, &frame)
	ack := Ack{EnvelopeID: frame.EnvelopeID, ConnID: 0, Size: len(data), ReceivedAt: e.now()}
	if len(frame.Payload) > 0 && !bytes.Equal(frame.Payload, []byte("null")) {
		ack.Payload = append(json.RawMessage(nil), frame.Payload...)
	}
	e.mu.Lock()
	ack.ConnID = c.info.ID
	in := e.envs[frame.EnvelopeID]
	switch {
	case err != nil || frame.EnvelopeID == "":
		ack.Malformed = true
	case len(data) >= maxAckSize:
		ack.Dropped = true
	case in == nil:
		ack.Unknown = true
	case in.ack != nil || in.failure != "":
		ack.Late = true
	}
	if in != nil && len(in.deliveries) > 0 {
		sent := in.deliveries[len(in.deliveries)-1].SentAt
		ack.Latency, ack.ReadLatency = arrived.Sub(sent), read.Sub(sent)
	}
	counts := !ack.Malformed && !ack.Dropped && !ack.Unknown && !ack.Late
	e.mu.Unlock()

	if counts {
		ack.Error, ack.Errors = e.applyAckPayload(in, ack.Payload)
	}

	e.mu.Lock()
	if counts && in.ack == nil && in.failure == "" {
		a := ack
		in.ack = &a
		close(in.acked)
	} else if counts {
		ack.Late = true
	}
	e.acks = append(e.acks, ack)
	keepNewest(&e.acks, e.opts.MaxRecorded, nil)
	e.notifyLocked()
	e.mu.Unlock()
}

// applyAckPayload makes the ack's payload visible the way Slack would and returns the error a
// user would see, if any, with its details.
func (e *Emulator) applyAckPayload(in *Interaction, payload json.RawMessage) (string, []string) {
	if len(payload) == 0 {
		if in.PayloadType == "view_submission" {
			e.closeSubmittedView(in)
		}
		return "", nil
	}
	switch {
	case in.Type == EnvelopeSlashCommands:
		return e.applySlashAck(in, payload), nil
	case in.PayloadType == "view_submission":
		return e.applyViewSubmissionAck(in, payload), nil
	case in.PayloadType == "block_suggestion":
		return applySuggestionAck(payload)
	}
	return "", nil
}

// applySuggestionAck checks the options an app offers a user typing into an external select.
// Slack drops an answer over its limits whole, so the menu shows nothing to pick.
func applySuggestionAck(payload json.RawMessage) (string, []string) {
	errs, badFormat := validateSuggestionOptions(payload)
	switch {
	case badFormat:
		return "invalid_payload", nil
	case len(errs) > 0:
		return invalidOptionsCode, errs
	}
	return "", nil
}

// Acks returns every ack frame read, in order.
func (e *Emulator) Acks() []Ack {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Ack(nil), e.acks...)
}

// Failures returns every user-visible interaction failure, in order.
func (e *Emulator) Failures() []Failure {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Failure(nil), e.fails...)
}

// Interactions returns every envelope sent, in order.
func (e *Emulator) Interactions() []*Interaction {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]*Interaction(nil), e.inters...)
}

// Redeliver sends the same envelope again (same envelope_id, next retry_attempt) whether or
// not it was acked, to test that the app deduplicates.
func (e *Emulator) Redeliver(ctx context.Context, in *Interaction) error {
	e.mu.Lock()
	attempt := len(in.deliveries)
	e.mu.Unlock()
	return e.deliver(ctx, in, attempt)
}

// WaitAck waits for the ack that counted. It returns ErrAckTimeout if the user saw
// operation_timeout first, or ErrNotConnected for dispatch_failed.
func (in *Interaction) WaitAck(ctx context.Context) (Ack, error) {
	select {
	case <-in.acked:
	case <-in.failed:
	case <-ctx.Done():
		return Ack{}, ctx.Err()
	case <-in.e.done:
		return Ack{}, ErrClosed
	}
	in.e.mu.Lock()
	defer in.e.mu.Unlock()
	if in.ack != nil {
		return *in.ack, nil
	}
	if in.failure == "dispatch_failed" {
		return Ack{}, ErrNotConnected
	}
	return Ack{}, ErrAckTimeout
}

// Failure is the user-visible failure ("operation_timeout", "dispatch_failed") or "".
func (in *Interaction) Failure() string {
	in.e.mu.Lock()
	defer in.e.mu.Unlock()
	return in.failure
}

// Deliveries lists each write of this envelope (first delivery and redeliveries).
func (in *Interaction) Deliveries() []Delivery {
	in.e.mu.Lock()
	defer in.e.mu.Unlock()
	return append([]Delivery(nil), in.deliveries...)
}

// Responses returns the posts to this interaction's response_url, in order.
func (in *Interaction) Responses() []ResponsePost {
	in.e.mu.Lock()
	defer in.e.mu.Unlock()
	return append([]ResponsePost(nil), in.responses...)
}

// WaitResponse waits for the first post to this interaction's response_url.
func (in *Interaction) WaitResponse(ctx context.Context) (ResponsePost, error) {
	return in.WaitResponseN(ctx, 1)
}

// WaitResponseN waits until n posts reached the response_url and returns the n-th.
func (in *Interaction) WaitResponseN(ctx context.Context, n int) (ResponsePost, error) {
	var p ResponsePost
	err := in.e.waitOn(ctx, func() chan struct{} { return in.responded }, func() bool {
		if len(in.responses) >= n {
			p = in.responses[n-1]
			return true
		}
		return false
	})
	return p, err
}
