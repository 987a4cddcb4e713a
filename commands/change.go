package commands

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/orgtoken/orgtoken-bot/astro"
	"github.com/orgtoken/orgtoken-bot/policy"
	"github.com/orgtoken/orgtoken-bot/reply"
)

// change is a requested move of one token's role in one workspace.
type change struct {
	action    policy.Action
	token     *astro.Token
	workspace string
	from, to  string // roles; "" means none
	// reason and requestID go into the audit record: why the change was asked for, and the
	// approval request it completes ("" for a direct change).
	reason, requestID string
	// wsName labels the workspace in replies ("" when unknown); elevation is how long a
	// time-boxed change lasts before it is reverted (0 = for good).
	wsName    string
	elevation time.Duration
	// earlier is the token's pending reverts, read beside the write (see readTimeBoxes).
	earlier *timeBoxesRead
	// outcome is what Astro showed of the write, set by apply when it answers without an error.
	outcome writeOutcome
}

// writeOutcome is what a role write is known to have done. A reply's tone cannot tell: a landed
// change can carry warnings (a time-box not set up).
type writeOutcome int

const (
	writeNotMade writeOutcome = iota
	writeLanded               // Astro confirmed the requested role
	writeUnknown              // Astro did not confirm it: the write may land yet, or may not
	writeOther                // the token has neither the old nor the requested role
)

// runChange handles add, update and remove: find and lock the token, check that the change
// makes sense, ask policy, then write and confirm from Astro's answer.
func runChange(ctx context.Context, s *Service, req Request, a *args) (reply.Reply, error) {
	ws, err := s.workspaceFor(ctx, req, a)
	if err != nil {
		return reply.Reply{}, s.namesOnlyIfListed(ctx, req, err)
	}
	tok, unlock, err := s.lockToken(ctx, a)
	if err != nil {
		return reply.Reply{}, s.namesOnlyIfListed(ctx, req, err)
	}
	defer unlock()

	c := change{action: a.cmd.Action, token: tok, workspace: ws, from: astro.WorkspaceRoleOf(tok.Roles, ws), to: a.Role, reason: a.Reason,
		wsName: s.workspaces.name(ws), elevation: a.For}
	if r, done, err := s.vetChange(ctx, &req, &c); done || err != nil {
		return *r, err
	}
	return s.apply(ctx, &req, &c)
}

// vetChange answers every change that is not to be written now: one that cannot or need not
// be made, that policy refuses, that asks for confirmation or approval. done reports that r is
// the whole answer. Apart from runChange so that runChange's frame, on the stack while the
// write waits on Astro, stays small (see bot's processSlash).
func (s *Service) vetChange(ctx context.Context, req *Request, c *change) (r *reply.Reply, done bool, err error) {
	r = new(reply.Reply)
	if err := s.refuseUnseen(ctx, *req, c.policyInput(*req)); err != nil {
		return r, true, err
	}
	if *r, done, err = s.checkChange(*c); done || err != nil {
		if done && err == nil {
			*r = s.noteTimeBoxes(ctx, *c, *r)
		}
		return r, done, err
	}
	decision, err := s.authorize(ctx, c.policyInput(*req))
	if err != nil {
		return r, true, err
	}
	if c.elevation == 0 && s.reverts != nil && c.earlier == nil {
		c.earlier = s.readTimeBoxesNow(ctx, c.token.ID) // once: apply uses it too
	}
	base, err := s.checkElevation(ctx, *req, *c, decision)
	if err != nil {
		return r, true, err
	}
	decision = stricter(decision, base)
	if decision.Confirm {
		if *r, done, err = confirmation(*req, *c); done || err != nil {
			return r, done, err
		}
	}
	if decision.NeedsApproval() {
		*r, err = s.needsApproval(ctx, *req, *c, decision)
		return r, true, err
	}
	return r, false, nil
}

// stricter adds to d, the decision on a change as typed, what base, the decision on the change
// it really is (lastingVerdict), asks for besides: a typed confirmation, an approval. When both
// need approval, base's stands unless d's asks for more approvals (it is about the change that
// will happen); a reason is required if either requires one.
func stricter(d policy.Decision, base *policy.Decision) policy.Decision {
	if base == nil {
		return d
	}
	d.Confirm = d.Confirm || base.Confirm
	if !base.NeedsApproval() {
		return d
	}
	if !d.NeedsApproval() || max(base.Approval.Count, 1) >= max(d.Approval.Count, 1) {
		reason := d.NeedsApproval() && d.Approval.RequireReason
		ap := *base.Approval
		ap.RequireReason = ap.RequireReason || reason
		d.Approval, d.Rule, d.Reason = &ap, base.Rule, base.Reason
	} else if base.Approval.RequireReason {
		ap := *d.Approval
		ap.RequireReason = true
		d.Approval = &ap
	}
	return d
}

// policyInput is c as the policy decides it for req's user and channel.
func (c *change) policyInput(req Request) policy.Input {
	return policy.Input{UserID: req.UserID, ChannelID: req.ChannelID, Action: c.action,
		WorkspaceID: c.workspace, Role: c.to, CurrentRole: c.from}
}

// refuseUnseen refuses a change the policy refuses to a requester who may not read the token's
// roles either (show), before anything names its current role: the answers to a change that
// need not or cannot be made ("already has WORKSPACE_OWNER"), explain's description and the
// policy's reasons for a refused remove all do. A requester who may make the change, or read
// the roles, is answered as before.
func (s *Service) refuseUnseen(ctx context.Context, req Request, in policy.Input) error {
	show, showErr := s.auth.Decide(ctx, policy.Input{UserID: req.UserID, ChannelID: req.ChannelID, Action: policy.ActionShow})
	if showErr == nil && show.Allowed {
		return nil
	}
	d, err := s.auth.Decide(ctx, in)
	if err != nil {
		return s.couldNotCheck(ctx, in, err)
	}
	if d.Allowed {
		return nil
	}
	e := &Error{Code: EDenied, Message: "You are not allowed to do this."}
	why := "no rule allows this change for you, and its details are not shown because you may not see this token's roles."
	if showErr == nil && show.Reason == d.Reason {
		why = show.Reason // the same refusal for both, such as a channel where /orgtoken is not enabled
	}
	e.Details = []reply.Line{reply.Para("Why: " + why)}
	return e
}

// namesOnlyIfListed keeps the names and IDs a failed lookup offers ("Did you mean", the tokens
// sharing a name, the workspaces there are) for those who may list them: a change is looked up
// before it is decided, so anyone could otherwise read token names by guessing at them.
func (s *Service) namesOnlyIfListed(ctx context.Context, req Request, err error) error {
	var e *Error
	if !errors.As(err, &e) || e.Code != ENotFound && e.Code != EAmbiguous {
		return err
	}
	if d, derr := s.auth.Decide(ctx, policy.Input{UserID: req.UserID, ChannelID: req.ChannelID, Action: policy.ActionList}); derr == nil && d.Allowed {
		return err
	}
	hidden := *e
	hidden.Details = nil
	// One hint whatever was close: which one it would have been tells whether some name holds
	// what was typed, and guesses a letter at a time would spell names out.
	hidden.Hint = "Names must match exactly; IDs work too."
	return &hidden
}

// checkChange answers, without writing, every change that cannot or need not be made. done
// reports that r is the whole answer.
func (s *Service) checkChange(c change) (r reply.Reply, done bool, err error) {
	if c.token.Type != astro.ScopeOrganization {
		return r, true, &Error{Code: EConflict,
			Message: fmt.Sprintf("%s is a %s-scoped token, not an Organization token.", tokenName(c.token), scopeWord(c.token.Type)),
			Hint:    "Only Organization API tokens can be given Workspace roles; a Workspace or Deployment token belongs to its own scope."}
	}
	ref := tokenRef(c.token)
	in := c.where()
	switch {
	case c.action == policy.ActionAdd && c.from == c.to:
		return nothingToDo(concat(ref, reply.Line{reply.Text(" already has "), reply.Literal(c.to)}, in)), true, nil
	case c.action == policy.ActionAdd && c.from != "":
		return r, true, &Error{Code: EConflict,
			Message: fmt.Sprintf("%s already has a role in this workspace.", tokenName(c.token)),
			Details: []reply.Line{concat(ref, reply.Line{reply.Text(" has "), reply.Literal(c.from)}, in)},
			Hint:    fmt.Sprintf("To change it, use %s update %s --role %s -w %s.", s.commandName, c.token.ID, shortRole(c.to), c.workspace)}
	case c.action != policy.ActionAdd && c.from == "":
		e := &Error{Code: EConflict,
			Message: fmt.Sprintf("%s has no role in this workspace.", tokenName(c.token)),
			Details: []reply.Line{concat(ref, reply.Line{reply.Text(" has no role")}, in)}}
		if c.action == policy.ActionUpdate {
			e.Hint = fmt.Sprintf("To add it, use %s add %s --role %s -w %s.", s.commandName, c.token.ID, shortRole(c.to), c.workspace)
		}
		return r, true, e
	case c.action == policy.ActionUpdate && c.from == c.to:
		return nothingToDo(concat(ref, reply.Line{reply.Text(" already has "), reply.Literal(c.to)}, in)), true, nil
	}
	return r, false, nil
}

// apply writes the new role list and confirms the result from Astro's answer. When the answer
// is lost the token is read again, so the reply reports what is true rather than a guess.
//
// What follows the write is in applied and writeFailed, so that apply's frame, on the stack
// while the write waits on Astro, stays small (see bot's processSlash).
func (s *Service) apply(ctx context.Context, req *Request, c *change) (reply.Reply, error) {
	if c.earlier == nil {
		c.earlier = s.readTimeBoxes(ctx, c.token.ID)
	}
	after, err := s.tokens.UpdateTokenRoles(ctx, c.token.ID, astro.WithWorkspaceRole(c.token.Roles, c.workspace, c.to))
	if err != nil {
		return s.writeFailed(ctx, req, c, err)
	}
	if now := after.WorkspaceRole(c.workspace); now != c.to {
		return s.appliedUnshown(ctx, req, c, now), nil
	}
	return s.applied(ctx, req, c, c.to), nil
}

// appliedUnshown answers a write Astro accepted with an answer that does not show the requested
// role. The answer is not taken at its word: the token is read again, and the reply, the audit
// record and the time-box follow what the read shows. Only when that read fails does the answer
// stand.
func (s *Service) appliedUnshown(ctx context.Context, req *Request, c *change, shown string) reply.Reply {
	readCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rereadTimeout)
	defer cancel()
	tok, err := s.tokens.GetToken(readCtx, c.token.ID)
	if err != nil {
		s.log.WarnContext(ctx, "re-read after a write whose answer did not show the change failed", "token", c.token.ID, "err", err)
		return s.applied(ctx, req, c, shown)
	}
	now := astro.WorkspaceRoleOf(tok.Roles, c.workspace)
	r := s.applied(ctx, req, c, now)
	if now == c.to {
		r.Notes = append(r.Notes, reply.Para("Astro's answer did not show the change; reading the token again confirmed it."))
	}
	return r
}

// writeFailed answers a role write that failed: with a fresh read when it may have landed, with
// Astro's refusal when it proves nothing was applied.
func (s *Service) writeFailed(ctx context.Context, req *Request, c *change, err error) (reply.Reply, error) {
	if mayHaveLanded(err) {
		// The write may have landed: only a fresh read can say.
		return s.confirmByReading(ctx, *req, c, err), nil
	}
	return reply.Reply{}, astroFailure(err)
}

// mayHaveLanded reports whether a role write that failed with err may have been carried out all
// the same: all but Astro's own refusal may.
func mayHaveLanded(err error) bool {
	var apiErr *astro.Error
	return astro.IsOutcomeUnknown(err) || !errors.As(err, &apiErr)
}

// applied records and answers a write Astro confirmed, now being the role it reports.
func (s *Service) applied(ctx context.Context, req *Request, c *change, now string) reply.Reply {
	s.log.InfoContext(ctx, "token role changed", "user", req.UserID, "token", c.token.ID, "workspace", c.workspace,
		"from", c.from, "to", c.to, "now", now)
	s.recordChange(ctx, *req, *c, now, "")
	if now != c.to {
		c.outcome = writeOther
		return s.unexpectedOutcome(*req, *c, now, "Astro accepted the change but reports a different role now.")
	}
	c.outcome = writeLanded
	return s.timeBox(ctx, *req, *c, s.changed(*req, *c))
}

// confirmByReading handles a write whose outcome is unknown: it may or may not have landed.
func (s *Service) confirmByReading(ctx context.Context, req Request, cp *change, writeErr error) reply.Reply {
	cp.outcome = writeUnknown
	c := *cp
	ref := newRef()
	s.log.WarnContext(ctx, "role update outcome unknown; re-reading", "ref", ref, "user", req.UserID,
		"token", c.token.ID, "workspace", c.workspace, "err", writeErr)
	// The original context may be what ended; the re-read gets its own short budget.
	readCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rereadTimeout)
	defer cancel()
	tok, err := s.tokens.GetToken(readCtx, c.token.ID)
	if err != nil {
		s.log.ErrorContext(ctx, "re-read after unknown outcome failed", "ref", ref, "token", c.token.ID, "err", err)
		return s.timeBoxUnconfirmed(ctx, req, c, withAstroAnswer(writeErr, reply.Reply{
			Visibility: reply.Ephemeral, Tone: reply.Warning,
			Title: "Could not confirm whether the change was applied.",
			Body: []reply.Line{
				describeChange(c),
				reply.Para("The request to Astro failed midway and reading the token again failed too, so the change may or may not have been applied."),
				reply.Line{reply.Text("Check with "), reply.Literal(s.commandName + " show " + c.token.ID), reply.Textf(" before trying again (ref %s).", ref)},
			},
		}))
	}
	now := astro.WorkspaceRoleOf(tok.Roles, c.workspace)
	c.token = tok
	switch now {
	case c.to:
		cp.outcome = writeLanded
		s.recordChange(ctx, req, c, now, "Astro's answer was lost; a re-read confirmed the change")
		r := s.timeBox(ctx, req, c, s.changed(req, c))
		r.Notes = append(r.Notes, reply.Para("Astro's answer was lost; reading the token again confirmed the change."))
		return r
	case c.from:
		// Not proof that nothing changed: a request that timed out can still be carried out
		// after this read, so the user is sent to look again rather than told to retry.
		answered := "Astro did not answer in time"
		var apiErr *astro.Error
		if errors.As(writeErr, &apiErr) {
			answered = fmt.Sprintf("Astro answered the change with HTTP %d", apiErr.StatusCode)
		}
		return s.timeBoxUnconfirmed(ctx, req, c, withAstroAnswer(writeErr, reply.Reply{
			Visibility: reply.Ephemeral, Tone: reply.Warning,
			Title: "Astro did not answer in time; the change is not in place yet.",
			Body: []reply.Line{
				describeChange(c),
				reply.Para(answered + ", and a read of the token just now shows its role unchanged:"),
				concat(tokenRef(c.token), reply.Line{reply.Text(" has "), roleSpan(now)}, c.where()),
				{reply.Text("Astro may still carry the request out, so check with "), reply.Literal(s.commandName + " show " + c.token.ID),
					reply.Textf(" in a minute before trying again (ref %s).", ref)},
			},
		}))
	default:
		cp.outcome = writeOther
		return withAstroAnswer(writeErr, s.unexpectedOutcome(req, c, now, "The request to Astro failed midway, and the token now has a role nobody asked for here; someone else may have changed it."))
	}
}

// withAstroAnswer adds to r, the reply to a write whose outcome is unknown, what Astro answered
// it with, when it answered at all (a 5xx): its words and its request ID, which its support
// needs to say what became of the write.
func withAstroAnswer(writeErr error, r reply.Reply) reply.Reply {
	var apiErr *astro.Error
	if !errors.As(writeErr, &apiErr) {
		return r
	}
	if said := astroSaid(apiErr); said != "" {
		r.Notes = append(r.Notes, reply.Line{reply.Textf("Astro answered the change with HTTP %d and said: %s", apiErr.StatusCode, said)})
	}
	if apiErr.RequestID != "" {
		r.Notes = append(r.Notes, astroRequestIDLine(apiErr.RequestID))
	}
	return r
}

const rereadTimeout = 10 * time.Second

// changed is the in-channel announcement of an applied change, naming who made it.
func (s *Service) changed(req Request, c change) reply.Reply {
	var title string
	var what reply.Line
	ref := tokenRef(c.token)
	switch c.action {
	case policy.ActionAdd:
		title = "Token added to workspace"
		what = concat(reply.Line{reply.Mention(req.UserID), reply.Text(" added ")}, ref, c.where(), reply.Line{reply.Text(" as "), reply.Literal(c.to), reply.Text(".")})
	case policy.ActionUpdate:
		title = "Token role updated"
		what = concat(reply.Line{reply.Mention(req.UserID), reply.Text(" changed ")}, ref, reply.Line{reply.Text(" from "), reply.Literal(c.from), reply.Text(" to "), reply.Literal(c.to)}, c.where(), reply.Line{reply.Text(".")})
	default:
		title = "Token removed from workspace"
		what = concat(reply.Line{reply.Mention(req.UserID), reply.Text(" removed ")}, ref, reply.Line{reply.Text(" (was "), reply.Literal(c.from), reply.Text(")")}, c.whereFrom(), reply.Line{reply.Text(".")})
	}
	return reply.Reply{
		Visibility: reply.InChannel, Tone: reply.Success, Title: title,
		Body:  []reply.Line{what},
		Notes: []reply.Line{reply.Para("Its other roles were kept as they were.")},
	}
}

// unexpectedOutcome reports a write after which the token's role is neither what it was nor
// what was asked. Something changed, so everyone in the channel sees it.
func (s *Service) unexpectedOutcome(req Request, c change, now, why string) reply.Reply {
	return reply.Reply{
		Visibility: reply.InChannel, Tone: reply.Warning,
		Title: "The token's role is not what was asked for.",
		Body: []reply.Line{
			concat(reply.Line{reply.Mention(req.UserID), reply.Text(" asked: ")}, describeChange(c)),
			reply.Para(why),
			concat(reply.Line{reply.Text("Astro now reports: ")}, tokenRef(c.token), reply.Line{reply.Text(" has "), roleSpan(now)}, c.where()),
		},
		Notes: []reply.Line{reply.Line{reply.Text("Check with "), reply.Literal(s.commandName + " show " + c.token.ID), reply.Text(".")}},
	}
}

func describeChange(c change) reply.Line {
	ref := tokenRef(c.token)
	switch c.action {
	case policy.ActionAdd:
		return concat(reply.Line{reply.Text("Add ")}, ref, c.where(), reply.Line{reply.Text(" as "), reply.Literal(c.to), reply.Text(".")})
	case policy.ActionUpdate:
		return concat(reply.Line{reply.Text("Change ")}, ref, reply.Line{reply.Text(" from "), reply.Literal(c.from), reply.Text(" to "), reply.Literal(c.to)}, c.where(), reply.Line{reply.Text(".")})
	default:
		return concat(reply.Line{reply.Text("Remove ")}, ref, reply.Line{reply.Text(" (now "), reply.Literal(c.from), reply.Text(")")}, c.whereFrom(), reply.Line{reply.Text(".")})
	}
}

func nothingToDo(line reply.Line) reply.Reply {
	return reply.Reply{
		Visibility: reply.Ephemeral, Tone: reply.Info, Title: "Nothing to do",
		Body:  []reply.Line{append(line, reply.Text("."))},
		Notes: []reply.Line{reply.Para("Nothing was changed.")},
	}
}

func tokenRef(t *astro.Token) reply.Line {
	return reply.Line{reply.Strong(reply.Truncate(t.Name, 100)), reply.Text(" ("), reply.Literal(t.ID), reply.Text(")")}
}

func tokenName(t *astro.Token) string { return quote(t.Name) }

func roleSpan(role string) reply.Span {
	if role == "" {
		return reply.Text("no role")
	}
	return reply.Literal(role)
}

func shortRole(role string) string {
	return strings.ToLower(strings.TrimPrefix(role, "WORKSPACE_"))
}

func scopeWord(scope string) string {
	if scope == "" {
		return "differently"
	}
	return strings.ToUpper(scope[:1]) + strings.ToLower(scope[1:])
}

func concat(lines ...reply.Line) reply.Line {
	return slices.Concat(lines...)
}
