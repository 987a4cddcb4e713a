package bot

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	fastjson "github.com/segmentio/encoding/json"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/orgtoken/orgtoken-bot/reply"
)

// save records the envelope in the Inbox as a worker takes it up, before any other work. It
// reports false when another replica (or an earlier delivery) already has it. It runs on the
// worker rather than before the ack, so a slow store never delays an ack; the price is that an
// envelope still queued in memory when the process is killed outright is lost (SIGTERM drains
// the queue). A store failure is logged and the envelope handled anyway: losing a command is
// worse than the small chance of a duplicate.
func (b *Bot) save(ctx context.Context, j job) bool {
	if b.cfg.Inbox == nil || j.envelopeID == "" || j.kind == "" {
		return true
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	fresh, err := b.cfg.Inbox.Save(ctx, j.envelopeID, j.kind, withoutToken(j.payload), b.cfg.InboxLease)
	if err != nil {
		b.log.Warn("could not save the envelope in the store; handling it from memory only", "envelope_id", j.envelopeID, "error", err)
		return true
	}
	if !fresh {
		b.held.Delete(j.envelopeID)
		b.log.Info("envelope already handled by another replica", "envelope_id", j.envelopeID)
	}
	return fresh
}

// saveBeforeAck saves j on the read path when the bot is configured to, and clears j.kind so
// the worker does not save it again. It reports false for an envelope another replica has.
func (b *Bot) saveBeforeAck(j *job) bool {
	if !b.cfg.SaveBeforeAck {
		return true
	}
	// Bounded well inside Slack's 3 s: a slow store must not cost the ack; on timeout the
	// envelope is handled from memory.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	fresh := b.save(ctx, *j)
	j.kind = ""
	return fresh
}

// withoutToken drops the legacy verification token Slack puts in payloads before it is stored.
// It splices the other top-level members together from the bytes as they came rather than
// decoding and re-encoding the payload (≈ 8 KB of garbage per command that way). A payload that
// is not one well-formed JSON object is kept as it came.
func withoutToken(payload json.RawMessage) []byte {
	if !fastjson.Valid(payload) {
		return payload
	}
	members, closing, ok := topLevelMembers(payload)
	if !ok || !slices.ContainsFunc(members, func(m member) bool { return m.token }) {
		return payload
	}
	out := append(make([]byte, 0, len(payload)), payload[:members[0].start]...)
	first := true
	for _, m := range members {
		if m.token {
			continue
		}
		if !first {
			out = append(out, ',')
		}
		out, first = append(out, payload[m.start:m.end]...), false
	}
	return append(out, payload[closing:]...)
}

// member is one top-level "key": value of an object, from its key to the comma or brace after it.
type member struct {
	start, end int
	token      bool // its key is "token"
}

// topLevelMembers splits an object into its members; closing is the offset of its final brace.
// ok is false unless payload, which must be valid JSON, is an object with members.
func topLevelMembers(payload []byte) (members []member, closing int, ok bool) {
	t := fastjson.NewTokenizer(payload)
	offset := func() int { return len(payload) - t.Remaining() } // just past the current token
	objects := 0
	members = make([]member, 0, 16) // a slash command's payload has 13
	for t.Next() {
		switch {
		case t.Depth == 1 && t.IsKey:
			members = append(members, member{start: offset() - len(t.Value), token: string(t.String()) == "token"})
		case t.Depth == 1 && t.Delim == ',' && len(members) > 0:
			members[len(members)-1].end = offset() - 1
		case t.Depth == 0 && t.Delim == '}':
			objects++
			closing = offset() - 1
			if len(members) > 0 {
				members[len(members)-1].end = closing
			}
		case t.Depth == 0 && t.Delim != '{':
			return nil, 0, false // a top level that is not one object
		}
	}
	return members, closing, t.Err == nil && objects == 1 && len(members) > 0
}

// finish marks the envelope answered so no replica takes it up again.
func (b *Bot) finish(j job) {
	defer b.held.Delete(j.envelopeID)
	if b.cfg.Inbox == nil || j.envelopeID == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.cfg.Inbox.Finish(ctx, j.envelopeID); err != nil {
		b.log.Warn("could not mark the envelope answered; another replica may answer it again", "envelope_id", j.envelopeID, "error", err)
	}
}

// turnedAway closes an envelope the pool could not take, so no replica takes it up later. Only
// one saved before its ack is in the Inbox; marking it answered is a store write, done off the
// read path: the store is slowest when the bot is this busy, and the acks of the envelopes
// behind this one must not wait on it.
func (b *Bot) turnedAway(j job) {
	b.held.Delete(j.envelopeID)
	if b.cfg.Inbox == nil || j.envelopeID == "" || j.kind != "" {
		return // never saved: j.kind is cleared once the envelope is in the Inbox
	}
	b.finishing.Go(func() { b.finish(j) })
}

// deferToRestart handles a queued job the bot had no time for during shutdown: it stays in the
// Inbox for the next replica, and the user is told so.
func (b *Bot) deferToRestart(j job) {
	defer b.held.Delete(j.envelopeID)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	// Unless it was saved before the ack (or is a recovered one), the envelope reaches the
	// Inbox only as a worker takes it up, which this one never was: save it now, or the next
	// replica has nothing to take up and the promise below is broken.
	kept := b.cfg.Inbox != nil && j.envelopeID != ""
	if kept && j.kind != "" {
		// Not fresh: another delivery of it is in the Inbox already, which serves as well.
		if _, err := b.cfg.Inbox.Save(ctx, j.envelopeID, j.kind, withoutToken(j.payload), b.cfg.InboxLease); err != nil {
			b.log.Warn("could not save a command deferred to the restart", "envelope_id", j.envelopeID, "error", err)
			kept = false
		}
	}
	note := "orgtoken-bot is restarting and has not run this. Nothing was changed; please try again in a minute."
	if kept {
		note = "orgtoken-bot is restarting and has not run this yet; it will run as soon as the bot is back. Nothing was changed so far."
	}
	b.log.Warn("command not run before shutdown", "envelope_id", j.envelopeID, "kept_in_inbox", kept)
	b.deliver(ctx, targetOf(j), reply.Reply{Tone: reply.Warning, Title: "Not run yet", Body: []reply.Line{reply.Para(note)}})
}

// recoverOrphans periodically takes over envelopes that a dead replica acked but never answered.
func (b *Bot) recoverOrphans(ctx context.Context) {
	every := max(b.cfg.InboxLease/2, 500*time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		orphans, err := b.cfg.Inbox.ClaimOrphans(ctx, b.cfg.InboxLease)
		if err != nil {
			if ctx.Err() == nil {
				b.log.Warn("could not look for unanswered envelopes", "error", err)
			}
			continue
		}
		for _, o := range orphans {
			j, ok := b.jobFromSaved(o)
			if !ok {
				continue
			}
			b.log.Info("taking up an envelope another replica acked but did not answer", "envelope_id", o.ID)
			if !b.enqueue(j) {
				b.log.Warn("no free worker for a recovered envelope; it will be retried", "envelope_id", o.ID)
				if err := b.cfg.Inbox.Release(ctx, o.ID); err != nil && ctx.Err() == nil {
					b.log.Warn("could not hand a recovered envelope back", "envelope_id", o.ID, "error", err)
				}
			}
		}
	}
}

func (b *Bot) jobFromSaved(o SavedEnvelope) (job, bool) {
	j := job{envelopeID: o.ID, received: time.Now()}
	switch o.Kind {
	case socketmode.RequestTypeSlashCommands:
		var c slack.SlashCommand
		if err := json.Unmarshal(o.Payload, &c); err != nil {
			b.log.Error("unreadable saved envelope", "envelope_id", o.ID, "error", err)
			return job{}, false
		}
		j.slash = &c
	case socketmode.RequestTypeInteractive:
		var cb slack.InteractionCallback
		if err := json.Unmarshal(o.Payload, &cb); err != nil {
			b.log.Error("unreadable saved envelope", "envelope_id", o.ID, "error", err)
			return job{}, false
		}
		j.callback = &cb
	default:
		return job{}, false
	}
	return j, true
}
