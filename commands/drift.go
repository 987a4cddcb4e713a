package commands

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/orgtoken/orgtoken-bot/astro"
	"github.com/orgtoken/orgtoken-bot/reply"
	"github.com/orgtoken/orgtoken-bot/store"
)

// stateActions are the audit actions whose After is the role the token then had in the
// workspace: what the bot last knew of it.
var stateActions = map[string]bool{"role.changed": true, "revert.done": true, "revert.skipped": true, "role.drift": true}

// auditPage is how many audit entries one read takes while catching up with the record.
const auditPage = 1000

type driftKey struct{ token, workspace string }

// driftState is what one replica has learned from the audit record so far, so each check reads
// only the entries added since the last.
type driftState struct {
	mu      sync.Mutex
	known   map[driftKey]store.AuditEntry
	lastSeq int64
}

// RunDrift compares, every interval until ctx ends, the tokens' workspace roles with what the
// audit record says the bot last set, and posts in channelID when one was changed outside the
// bot (in the Astro UI, by Terraform, …).
func (s *Service) RunDrift(ctx context.Context, every time.Duration, channelID string) {
	if s.history == nil {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := s.CheckDrift(ctx, channelID); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "drift check failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// CheckDrift runs one comparison and returns how many changes made outside the bot it reported.
// Each is reported once: it is written to the audit record as role.drift, which becomes the
// new known state (also for other replicas).
func (s *Service) CheckDrift(ctx context.Context, channelID string) (int, error) {
	if s.history == nil {
		return 0, nil
	}
	known, err := s.catchUpAudit(ctx)
	if err != nil {
		return 0, err
	}
	if len(known) == 0 {
		return 0, nil
	}
	toks, err := s.tokens.ListAllTokens(ctx, orgTokensOptions)
	if err != nil {
		return 0, err
	}
	byID := make(map[string]*astro.Token, len(toks))
	for i := range toks {
		byID[toks[i].ID] = &toks[i]
	}
	reported := 0
	for key, last := range known {
		tok, ok := byID[key.token]
		if !ok || astro.WorkspaceRoleOf(tok.Roles, key.workspace) == last.After {
			continue
		}
		ok, err := s.confirmDrift(ctx, key, last, channelID)
		if err != nil {
			s.log.WarnContext(ctx, "could not confirm a role change outside the bot", "token", key.token, "workspace", key.workspace, "err", err)
			continue
		}
		if ok {
			reported++
		}
	}
	return reported, nil
}

// catchUpAudit reads the audit entries added since the last check and returns the last known
// role of every token in every workspace the bot has touched.
func (s *Service) catchUpAudit(ctx context.Context) (map[driftKey]store.AuditEntry, error) {
	d := &s.drift
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.known == nil {
		d.known = map[driftKey]store.AuditEntry{}
	}
	for {
		// By Seq, not At: an entry's time is taken before its append waits for the chain
		// head (and on another replica, by another clock), so a later entry can be earlier.
		page, err := s.history.ListAudit(ctx, store.AuditFilter{AfterSeq: d.lastSeq, Limit: auditPage})
		if err != nil {
			return nil, err
		}
		progressed := false
		for _, e := range page {
			if e.Seq <= d.lastSeq {
				continue
			}
			progressed = true
			d.lastSeq = e.Seq
			d.learnLocked(e)
		}
		if len(page) < auditPage || !progressed {
			break
		}
	}
	out := make(map[driftKey]store.AuditEntry, len(d.known))
	for k, v := range d.known {
		out[k] = v
	}
	return out, nil
}

func (d *driftState) learnLocked(e store.AuditEntry) {
	if stateActions[e.Action] && e.TokenID != "" && e.WorkspaceID != "" {
		d.known[driftKey{e.TokenID, e.WorkspaceID}] = e
	}
}

// confirmDrift looks again under the token's lock, so a change the bot is making right now is
// not mistaken for one made outside it, and reports the drift when it is still there.
// known is the last state entry the catch-up found; only the token's entries after it are read,
// however many of them there are.
func (s *Service) confirmDrift(ctx context.Context, key driftKey, known store.AuditEntry, channelID string) (bool, error) {
	unlock, err := s.locker.LockToken(ctx, key.token)
	if err != nil {
		return false, err
	}
	defer unlock()
	last := &known
	after := known.Seq
	for {
		entries, err := s.history.ListAudit(ctx, store.AuditFilter{TokenID: key.token, AfterSeq: after, Limit: auditPage})
		if err != nil {
			return false, err
		}
		for i := range entries {
			after = entries[i].Seq
			if stateActions[entries[i].Action] && entries[i].WorkspaceID == key.workspace {
				last = &entries[i]
			}
		}
		if len(entries) < auditPage {
			break
		}
	}
	tok, err := s.tokens.GetToken(ctx, key.token)
	if astro.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	now := astro.WorkspaceRoleOf(tok.Roles, key.workspace)
	if now == last.After {
		return false, nil
	}
	if _, err := s.workspaces.load(ctx); err != nil {
		s.log.WarnContext(ctx, "could not read workspace names", "err", err)
	}
	entry := store.AuditEntry{
		At: s.now(), ActorID: "outside the bot", Action: "role.drift", TokenID: tok.ID, TokenName: tok.Name, WorkspaceID: key.workspace,
		Before: last.After, After: now, Detail: "seen by the drift check; updated by " + tok.UpdatedBy.DisplayName(),
	}
	s.recordAudit(ctx, entry)
	// Known as of the token's entries read above: should the record lack it, the next look
	// starts after them, not from the token's first entry, whose older role would hide a change.
	entry.Seq = after
	s.drift.mu.Lock()
	s.drift.learnLocked(entry) // reported once even when there is no audit record to remember it
	s.drift.mu.Unlock()
	s.log.InfoContext(ctx, "role changed outside the bot", "token", tok.ID, "workspace", key.workspace, "was", last.After, "now", now)
	if s.announcer != nil && channelID != "" {
		if _, err := s.announcer.Post(context.WithoutCancel(ctx), channelID, s.driftReply(tok, key.workspace, *last, now)); err != nil {
			s.log.ErrorContext(ctx, "could not post a role change outside the bot", "channel", channelID, "err", err)
		}
	}
	return true, nil
}

func (s *Service) driftReply(tok *astro.Token, ws string, last store.AuditEntry, now string) reply.Reply {
	where := concat(tokenRef(tok), reply.Line{reply.Text(" in workspace ")}, s.workspaceSpans(ws))
	knew := reply.Line{reply.Textf("The bot last knew it as "), roleSpan(last.After), reply.Textf(" (%s", relativeTime(last.At, s.now()))}
	if reply.ValidUserID(last.ActorID) {
		knew = append(knew, reply.Text(", "), reply.Literal(last.Action), reply.Text(" by "), reply.Mention(last.ActorID))
	}
	knew = append(knew, reply.Text(")."))
	r := reply.Reply{
		Visibility: reply.InChannel, Tone: reply.Warning, Title: "A token's role was changed outside the bot",
		Body: []reply.Line{
			concat(where, reply.Line{reply.Text(" now has "), roleSpan(now), reply.Text(".")}),
			knew,
		},
		Notes: []reply.Line{{reply.Text("Check with "), reply.Literal(s.commandName + " show " + tok.ID), reply.Text(".")}},
	}
	if by := tok.UpdatedBy.DisplayName(); by != "" {
		r.Body = append(r.Body, reply.Para(fmt.Sprintf("Astro says it was last updated by %s.", reply.Truncate(by, 80))))
	}
	return r
}
