package commands

import (
	"context"
	"log/slog"
	"strconv"
	"strings"

	"github.com/orgtoken/orgtoken-bot/reply"
	"github.com/orgtoken/orgtoken-bot/store"
)

// AuditChannel is an Audit that also posts every entry to a Slack channel as it happens, so the
// team sees each change, approval decision and revert without asking. The store stays the
// record: a failed post is logged, never a failed append.
type AuditChannel struct {
	Audit   Audit
	Poster  Announcer
	Channel string
	Logger  *slog.Logger
}

// AppendAudit records e, then posts it.
func (a *AuditChannel) AppendAudit(ctx context.Context, e store.AuditEntry) (store.AuditEntry, error) {
	saved, err := a.Audit.AppendAudit(ctx, e)
	if err != nil {
		return saved, err
	}
	if _, err := a.Poster.Post(ctx, a.Channel, auditReply(saved)); err != nil && a.Logger != nil {
		a.Logger.Warn("could not post the audit entry to the audit channel", "seq", saved.Seq, "action", saved.Action, "error", err)
	}
	return saved, nil
}

func auditReply(e store.AuditEntry) reply.Reply {
	r := reply.Reply{Visibility: reply.InChannel, Tone: reply.Info, Title: "Audit: " + e.Action}
	var who reply.Line
	if reply.ValidUserID(e.ActorID) {
		who = reply.Line{reply.Mention(e.ActorID)}
	} else {
		who = reply.Line{reply.Text(orDash(e.ActorID))}
	}
	who = append(who, reply.Text(" · "+e.Action))
	if e.TokenName != "" || e.TokenID != "" {
		who = append(who, reply.Text(" · "), reply.Strong(orDash(e.TokenName)), reply.Text(" ("+e.TokenID+")"))
	}
	r.Body = []reply.Line{who}
	if e.WorkspaceID != "" {
		r.Fields = append(r.Fields, reply.Field{Label: "Workspace", Value: e.WorkspaceID})
	}
	if e.Before != "" || e.After != "" {
		r.Fields = append(r.Fields, reply.Field{Label: "Role", Value: orDash(e.Before) + " → " + orDash(e.After)})
	}
	if e.RequestID != "" {
		r.Fields = append(r.Fields, reply.Field{Label: "Request", Value: e.RequestID})
	}
	if d := strings.TrimSpace(e.Detail); d != "" {
		r.Notes = append(r.Notes, reply.Para(reply.Truncate(d, 500)))
	}
	r.Notes = append(r.Notes, reply.Para("Audit entry #"+strconv.FormatInt(e.Seq, 10)+" · "+e.At.UTC().Format("2006-01-02 15:04:05 MST")))
	return r
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
