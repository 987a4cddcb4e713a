package commands

import (
	"context"
	"strings"
	"time"

	"github.com/orgtoken/orgtoken-bot/store"
)

// Audit appends to the audit record; *store.Store satisfies it.
type Audit interface {
	AppendAudit(ctx context.Context, e store.AuditEntry) (store.AuditEntry, error)
}

// auditTimeout bounds one audit append made after the fact it records already happened.
const auditTimeout = 10 * time.Second

// recordAudit appends e. What it records has already happened, so a failure cannot undo it; it
// is logged loudly instead of failing the command, and the append outlives a cancelled command.
func (s *Service) recordAudit(ctx context.Context, e store.AuditEntry) {
	if s.audit == nil {
		return
	}
	if e.At.IsZero() {
		e.At = s.now()
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), auditTimeout)
	defer cancel()
	if _, err := s.audit.AppendAudit(actx, e); err != nil {
		s.log.ErrorContext(ctx, "audit entry could not be written", "action", e.Action, "actor", e.ActorID,
			"token", e.TokenID, "workspace", e.WorkspaceID, "request", e.RequestID, "err", err)
	}
}

// recordChange audits a role write that Astro confirmed (now is the role it reports), direct or
// through an approved request. Before and After are role names; empty means no role.
func (s *Service) recordChange(ctx context.Context, req Request, c change, now, note string) {
	var detail []string
	if c.reason != "" {
		detail = append(detail, "reason: "+c.reason)
	}
	if note != "" {
		detail = append(detail, note)
	}
	s.recordAudit(ctx, store.AuditEntry{
		ActorID:     req.UserID,
		Action:      "role.changed",
		TokenID:     c.token.ID,
		TokenName:   c.token.Name,
		WorkspaceID: c.workspace,
		Before:      c.from,
		After:       now,
		RequestID:   c.requestID,
		Detail:      strings.Join(detail, "; "),
	})
}

// recordRequest audits a step in an approval request's life (request.created, .approved,
// .denied, .cancelled, .expired, .stale, .failed). Before and After are the change it asks for.
func (s *Service) recordRequest(ctx context.Context, action, actor string, r store.Request, detail string) {
	if r.Reason != "" && action == "request.created" {
		detail = strings.TrimPrefix(detail+"; reason: "+r.Reason, "; ")
	}
	s.recordAudit(ctx, store.AuditEntry{
		ActorID:     actor,
		Action:      action,
		TokenID:     r.TokenID,
		TokenName:   r.TokenName,
		WorkspaceID: r.WorkspaceID,
		Before:      r.CurrentRole,
		After:       r.RequestedRole,
		RequestID:   r.ID,
		Detail:      detail,
	})
}
