package commands

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/orgtoken/orgtoken-bot/reply"
	"github.com/orgtoken/orgtoken-bot/store"
)

func requestsCommand() *command {
	return &command{
		Verb:     "requests",
		Usage:    "requests",
		Summary:  "List pending approval requests: your own, and those you may approve.",
		Examples: []string{"requests"},
		check:    checkPositionals(0, 0, ""),
		run:      runRequests,
	}
}

func cancelCommand() *command {
	return &command{
		Verb:     "cancel",
		Usage:    "cancel REQUEST_ID",
		Summary:  "Withdraw an approval request of yours that is still pending.",
		Examples: []string{"cancel rabc2def3ghi4"},
		check:    checkPositionals(1, 1, "the request ID (see the requests subcommand)"),
		run:      runCancel,
	}
}

var errApprovalsOff = &Error{Code: EInvalid, Message: "Approval requests are not enabled in this bot.",
	Hint: "Changes that need approval are explained when you ask for them; ask an approver to make them."}

// maxListedRequests bounds how many pending requests requests reads.
const maxListedRequests = 200

var requestColumns = []string{"ID", "TOKEN", "WORKSPACE", "CHANGE", "REQUESTED BY", "APPROVALS", "EXPIRES"}

// runRequests lists the pending requests that concern the caller: those they asked for and those
// they may approve. Approver eligibility is checked per request with the live group lookup, so
// the list matches what the Approve button would allow.
func runRequests(ctx context.Context, s *Service, req Request, _ *args) (reply.Reply, error) {
	if s.requests == nil {
		return reply.Reply{}, errApprovalsOff
	}
	pending, err := s.requests.ListRequests(ctx, store.RequestFilter{States: []store.State{store.StatePending}, Limit: maxListedRequests})
	if err != nil {
		return reply.Reply{}, fmt.Errorf("listing requests: %w", err)
	}
	now := s.now()
	var (
		shown     []store.Request
		uncertain int
	)
	for _, r := range pending {
		if !now.Before(r.ExpiresAt) {
			continue // the sweeper closes it
		}
		if r.RequesterID == req.UserID {
			shown = append(shown, r)
			continue
		}
		if s.approvers == nil {
			continue
		}
		ok, err := s.approvers.CanApprove(ctx, req.UserID, approvalOf(r))
		if err != nil {
			uncertain++
			s.log.WarnContext(ctx, "approver check failed while listing requests", "user", req.UserID, "request", r.ID, "err", err)
			continue
		}
		if ok {
			shown = append(shown, r)
		}
	}

	out := reply.Reply{Visibility: reply.Ephemeral, Tone: reply.Info, Title: "Pending approval requests"}
	if len(shown) == 0 {
		out.Body = []reply.Line{reply.Para("No pending requests of yours, and none you may approve.")}
	} else {
		t := &reply.Table{Columns: requestColumns, KeyColumn: 0, Total: len(shown)}
		for _, r := range shown {
			t.Rows = append(t.Rows, []string{
				r.ID, r.TokenName + " (" + r.TokenID + ")", r.WorkspaceID, changeWords(r), r.RequesterID,
				fmt.Sprintf("%d of %d", len(r.Approvals), r.ApprovalsNeeded), r.ExpiresAt.UTC().Format(whenLayout),
			})
		}
		out.Table = t
		out.Notes = append(out.Notes, reply.Line{reply.Text("Withdraw one of yours with "), reply.Literal(s.commandName + " cancel REQUEST_ID"), reply.Text("; approve or deny with the buttons on its message.")})
	}
	if uncertain > 0 {
		out.Notes = append(out.Notes, reply.Para(fmt.Sprintf("%d requests are left out because the bot could not check whether you may approve them.", uncertain)))
	}
	return out, nil
}

func changeWords(r store.Request) string {
	return roleOrNone(r.CurrentRole) + " → " + roleOrNone(r.RequestedRole)
}

// runCancel withdraws the caller's own pending request.
func runCancel(ctx context.Context, s *Service, req Request, a *args) (reply.Reply, error) {
	if s.requests == nil {
		return reply.Reply{}, errApprovalsOff
	}
	id := a.Positionals[0]
	if !requestIDPattern.MatchString(id) {
		e := usageErr(a.cmd, "%s is not a request ID.", quote(id))
		e.Hint = "Request IDs look like rabc2def3ghi4; " + s.commandName + " requests lists yours."
		return reply.Reply{}, e
	}
	r, err := s.requests.GetRequest(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return reply.Reply{}, &Error{Code: ENotFound, Message: fmt.Sprintf("There is no approval request %s.", id),
			Hint: s.commandName + " requests lists yours."}
	}
	if err != nil {
		return reply.Reply{}, fmt.Errorf("reading request %s: %w", id, err)
	}
	if r.RequesterID != req.UserID {
		return reply.Reply{}, &Error{Code: EDenied, Message: fmt.Sprintf("Only the person who asked for %s can cancel it.", id),
			Hint: "Approvers can deny it with the Deny button on its message."}
	}
	r, err = s.requests.Transition(ctx, id, store.StatePending, store.StateCancelled,
		store.TransitionUpdate{DecidedBy: req.UserID, Result: "cancelled by the requester; nothing was changed", At: s.now()})
	var stateErr *store.StateError
	if errors.As(err, &stateErr) {
		return reply.Reply{}, notPending(id, store.State(stateErr.State))
	}
	if err != nil {
		return reply.Reply{}, fmt.Errorf("cancelling %s: %w", id, err)
	}
	s.recordRequest(ctx, "request.cancelled", req.UserID, r, "")
	s.log.InfoContext(ctx, "approval request cancelled", "request", id, "user", req.UserID)
	s.updateMessage(ctx, r)
	return reply.Reply{
		Visibility: reply.Ephemeral, Tone: reply.Success,
		Title: "Request " + id + " is cancelled.",
		Body:  []reply.Line{describeChange(changeOf(r))},
		Notes: []reply.Line{reply.Para("Nothing was changed. Its message in the approval channel now says so.")},
	}, nil
}

// approvedRecoveryAfter is how long a request may sit approved or applying before the sweeper
// assumes the process applying it died and finishes the job. Both run under the token lock, so a
// slow but live apply elsewhere is never repeated.
const approvedRecoveryAfter = time.Minute

// SweepExpired closes every pending request whose expiry has passed at now, updating its message,
// and finishes requests left approved by a crash. State lives in the store, so a sweep after a
// restart catches up on whatever expired while the bot was down; another replica closing a
// request first is not an error.
func (s *Service) SweepExpired(ctx context.Context, now time.Time) error {
	if s.requests == nil {
		return nil
	}
	var errs []error
	expired, err := s.requests.ListExpiredPending(ctx, now)
	if err != nil {
		errs = append(errs, fmt.Errorf("listing expired requests: %w", err))
	}
	for _, r := range expired {
		if err := s.expire(ctx, r, now); err != nil {
			errs = append(errs, err)
		}
	}
	stuck, err := s.requests.ListRequests(ctx, store.RequestFilter{States: []store.State{store.StateApproved, store.StateApplying}, Limit: 100})
	if err != nil {
		errs = append(errs, fmt.Errorf("listing approved requests: %w", err))
	}
	for _, r := range stuck {
		if now.Sub(r.DecidedAt) < approvedRecoveryAfter {
			continue
		}
		if r.State == store.StateApplying {
			// Its write may have reached Astro: it is settled from the token, never written again.
			s.log.WarnContext(ctx, "settling a request whose outcome was not recorded", "request", r.ID)
			s.resolveApplying(ctx, r)
			continue
		}
		s.log.WarnContext(ctx, "finishing a request left approved (the bot may have restarted before applying it)", "request", r.ID)
		s.finishApproved(ctx, r, false, s.workerLockWait)
	}
	return errors.Join(errs...)
}

// RunSweeper calls SweepExpired at once and then every interval until ctx ends.
func (s *Service) RunSweeper(ctx context.Context, every time.Duration) {
	if s.requests == nil || every <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := s.SweepExpired(ctx, s.now()); err != nil && ctx.Err() == nil {
			s.log.LogAttrs(ctx, slog.LevelError, "expiry sweep failed", slog.String("err", err.Error()))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
