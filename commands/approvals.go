package commands

// Approval requests. A change that policy allows only after approval is stored as a request and
// posted with Approve and Deny buttons in the rule's approval channel; it is applied once enough
// distinct eligible approvers have approved. The store settles every race: AddApproval's won flag
// picks the one click that applies the change, and Transition's compare-and-set closes a request
// exactly once, whichever replica gets there first.

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/orgtoken/orgtoken-bot/astro"
	"github.com/orgtoken/orgtoken-bot/policy"
	"github.com/orgtoken/orgtoken-bot/reply"
	"github.com/orgtoken/orgtoken-bot/store"
)

// Action IDs of the buttons on an approval message. Their Value is only the request ID: every
// fact a click acts on is read again from the store.
const (
	ActionApprove = "orgtoken.request.approve"
	ActionDeny    = "orgtoken.request.deny"
)

const (
	maxReasonRunes = 500
	// defaultExpiry applies when a rule leaves expires_after out (policy documents 24h).
	defaultExpiry = 24 * time.Hour
	// notifyTimeout bounds the Slack calls made after a decision is already stored, which run
	// even if the click's own context has ended so the message never lags the store for long.
	notifyTimeout = 15 * time.Second
)

// Requests stores approval requests; *store.Store satisfies it.
type Requests interface {
	CreateRequest(ctx context.Context, r store.Request) (store.Request, bool, error)
	GetRequest(ctx context.Context, id string) (store.Request, error)
	SetRequestMessage(ctx context.Context, id, channel, ts string) error
	ListRequests(ctx context.Context, f store.RequestFilter) ([]store.Request, error)
	ListExpiredPending(ctx context.Context, now time.Time) ([]store.Request, error)
	AddApproval(ctx context.Context, id, userID string, at time.Time, t store.Tally) (store.Request, bool, error)
	CompleteApproval(ctx context.Context, id, by string, at time.Time, t store.Tally) (store.Request, bool, error)
	Reopen(ctx context.Context, id string, void []store.Approval, at time.Time) (store.Request, error)
	Transition(ctx context.Context, id string, from, to store.State, upd store.TransitionUpdate) (store.Request, error)
}

// Messenger posts and edits the messages the service sends on its own initiative;
// *bot.Messenger satisfies it.
type Messenger interface {
	Post(ctx context.Context, channelID string, r reply.Reply) (string, error)
	PostThread(ctx context.Context, channelID, threadTS string, r reply.Reply) error
	Update(ctx context.Context, channelID, ts string, r reply.Reply) error
	PostEphemeral(ctx context.Context, channelID, userID string, r reply.Reply) error
}

// Approvers decides whether a user may approve a request right now. The bot's implementation
// resolves Slack user groups live and fails closed: an error refuses the click.
type Approvers interface {
	CanApprove(ctx context.Context, userID string, a policy.Approval) (bool, error)
}

// GroupDirectory names the members of the policy's groups, so approval messages and explain can
// say who may approve; *policy.Policy satisfies it.
type GroupDirectory interface {
	GroupMembers(name string) (users, slackGroups []string)
}

// requestIDPattern matches the IDs store.CreateRequest assigns: "r" + 12 base32 characters.
var requestIDPattern = regexp.MustCompile(`^r[a-z2-7]{12}$`)

// needsApproval answers a change that policy allows only after approval: it stores the request,
// posts it for the approvers and tells the requester where it went. Without a store and a
// messenger it only explains what is needed, and nothing is written.
func (s *Service) needsApproval(ctx context.Context, req Request, c change, d policy.Decision) (reply.Reply, error) {
	if s.requests == nil || s.messenger == nil {
		return approvalsUnavailable(c, d), nil
	}
	ap := d.Approval
	if ap.RequireReason && c.reason == "" {
		e := usageErr(s.command(string(c.action)), "This change needs a reason: the rule that allows it asks requesters to say why.")
		e.Hint = `Add --reason "why", e.g. --reason "incident 4711: deploys are blocked".`
		return reply.Reply{}, e
	}
	if ap.Channel == "" {
		return reply.Reply{}, errors.New("policy approval has no channel")
	}
	now := s.now()
	expiresAfter := ap.ExpiresAfter
	if expiresAfter <= 0 {
		expiresAfter = defaultExpiry
	}
	want := store.Request{
		RequesterID:     req.UserID,
		ChannelID:       req.ChannelID,
		TokenID:         c.token.ID,
		TokenName:       c.token.Name,
		WorkspaceID:     c.workspace,
		WorkspaceName:   c.wsName,
		CurrentRole:     c.from,
		RequestedRole:   c.to,
		Action:          string(c.action),
		Reason:          c.reason,
		Rule:            ruleLabel(d.Rule),
		ApprovalsNeeded: max(ap.Count, 1),
		ApproverGroups:  ap.Approvers,
		ApprovalChannel: ap.Channel,
		Elevation:       c.elevation,
		CreatedAt:       now,
		ExpiresAt:       now.Add(expiresAfter),
	}
	r, created, err := s.requests.CreateRequest(ctx, want)
	if err == nil && !created {
		// A pending request that can only ever close must not swallow this one: its time ran
		// out (the sweeper has not got to it yet), or it was made against a role the token no
		// longer has (c.from was just read under the token's lock). It is closed the usual way,
		// so its message loses its buttons and says why, and this request is opened.
		superseded := true
		switch {
		case !now.Before(r.ExpiresAt):
			err = s.expire(ctx, r, now)
		case r.CurrentRole != c.from:
			err = s.supersedeStale(ctx, r, c.from, req.UserID)
		default:
			// Or it no longer holds as it was decided (the token's time-boxes may have made it
			// a raise needing other approvers): closed with that reason.
			why, rerr := s.recheckRequest(ctx, r)
			switch {
			case rerr != nil:
				// Kept as it is: its clicks and its write check it again anyway.
				s.log.WarnContext(ctx, "could not re-check a pending request asked for again", "request", r.ID, "err", rerr)
				superseded = false
			case why != "":
				err = s.closeStale(ctx, r, req.UserID, why+"; nothing was changed")
				var e *Error
				if errors.As(err, &e) && e.Code == EConflict {
					err = nil // closed by someone else meanwhile: as good
				}
			default:
				superseded = false
			}
		}
		if superseded && err == nil {
			r, created, err = s.requests.CreateRequest(ctx, want)
		}
	}
	if err != nil {
		return reply.Reply{}, fmt.Errorf("storing the approval request: %w", err)
	}
	if !created {
		return s.duplicateRequest(req, r, c)
	}

	ts, err := s.messenger.Post(ctx, ap.Channel, s.requestMessage(r))
	if err != nil {
		ref := newRef()
		s.log.ErrorContext(ctx, "approval message could not be posted", "ref", ref, "request", r.ID, "channel", ap.Channel, "err", err)
		if _, terr := s.requests.Transition(context.WithoutCancel(ctx), r.ID, store.StatePending, store.StateFailed,
			store.TransitionUpdate{Result: "the approval message could not be posted", At: s.now()}); terr != nil {
			s.log.ErrorContext(ctx, "could not close an unposted request", "ref", ref, "request", r.ID, "err", terr)
		}
		return reply.Reply{}, &Error{Code: EUnavailable,
			Message: fmt.Sprintf("Could not post the approval request in channel %s, so it was not opened.", ap.Channel),
			Hint:    fmt.Sprintf("The bot may not be in that channel; ask an admin to invite it, then try again (ref %s).", ref)}
	}
	r.MessageTS = ts
	if err := s.requests.SetRequestMessage(ctx, r.ID, ap.Channel, ts); err != nil {
		// The request still works; only later edits of its message are lost.
		s.log.ErrorContext(ctx, "could not record the approval message", "request", r.ID, "err", err)
	}
	s.recordRequest(ctx, "request.created", req.UserID, r, "")
	s.log.InfoContext(ctx, "approval requested", "request", r.ID, "user", req.UserID, "token", r.TokenID,
		"workspace", r.WorkspaceID, "from", r.CurrentRole, "to", r.RequestedRole, "channel", ap.Channel)

	return reply.Reply{
		Visibility: reply.Ephemeral, Tone: reply.Info,
		Title: "Approval requested: " + r.ID,
		Body: []reply.Line{
			describeChange(c),
			{reply.Text("Posted in "), reply.Channel(ap.Channel), reply.Textf(" for %s from %s.", pluralApprovals(r.ApprovalsNeeded), s.groupNames(r.ApproverGroups))},
			{reply.Textf("It expires %s unless approved before then. You will be told in the request's thread.", formatWhen(r.ExpiresAt, now))},
		},
		Notes: []reply.Line{
			{reply.Text("Nothing was changed yet. Withdraw it with "), reply.Literal(s.commandName + " cancel " + r.ID), reply.Text(".")},
		},
	}, nil
}

// approvalsUnavailable explains a change that needs approval when the bot has no request store.
func approvalsUnavailable(c change, d policy.Decision) reply.Reply {
	ap := d.Approval
	who := "an approver"
	if len(ap.Approvers) > 0 {
		who = strings.Join(ap.Approvers, ", ")
	}
	count := max(ap.Count, 1)
	line := reply.Line{reply.Textf("This change needs approval from %s (%d approver", who, count)}
	if count != 1 {
		line = append(line, reply.Text("s"))
	}
	line = append(line, reply.Text(")"))
	if ap.Channel != "" {
		line = append(line, reply.Text(" in "), reply.Channel(ap.Channel))
	}
	line = append(line, reply.Text("."))
	return reply.Reply{
		Visibility: reply.Ephemeral, Tone: reply.Warning,
		Title: "Approval needed",
		Body: []reply.Line{
			describeChange(c),
			line,
			reply.Para("Approval requests are being enabled in the bot; until then, ask an approver to make this change."),
		},
		Notes: []reply.Line{reply.Para("Nothing was changed.")},
	}
}

// duplicateRequest answers a request for a change already pending. Only an identical request
// is folded into it: one that differs in its time-box is refused, as approving either would
// make a change the other requester did not ask for.
func (s *Service) duplicateRequest(req Request, r store.Request, c change) (reply.Reply, error) {
	asked := reply.Line{reply.Text("It is waiting in "), reply.Channel(r.ApprovalChannel)}
	if reply.ValidUserID(r.RequesterID) {
		asked = append(asked, reply.Text(", asked by "), reply.Mention(r.RequesterID))
	}
	if r.Elevation != c.elevation {
		return reply.Reply{}, &Error{Code: EConflict,
			Message: fmt.Sprintf("Request %s already asks for this change %s; you asked for it %s.", r.ID, lasting(r.Elevation), lasting(c.elevation)),
			Details: []reply.Line{describeChange(changeOf(r)), append(asked, reply.Text("."))},
			Hint:    fmt.Sprintf("Nothing new was requested. Wait for its decision, or ask its requester to withdraw it (%s cancel %s), then ask again.", s.commandName, r.ID)}
	}
	body := []reply.Line{describeChange(changeOf(r))}
	if r.Elevation > 0 {
		body = append(body, reply.Line{reply.Strong("Time-boxed: "), reply.Textf("for %s once applied.", shortDuration(r.Elevation))})
	}
	body = append(body, append(asked, reply.Textf(", with %d of %d approvals so far.", len(r.Approvals), r.ApprovalsNeeded)))
	notes := []reply.Line{{reply.Text("Nothing new was requested. See "), reply.Literal(s.commandName + " requests"), reply.Text(".")}}
	if req.UserID != r.RequesterID {
		// requests lists only one's own requests and those one may approve: someone joining
		// another's request follows it on its message, which shows how it ends.
		notes = []reply.Line{{reply.Text("Nothing new was requested. Follow it on its message in "), reply.Channel(r.ApprovalChannel),
			reply.Text(", which shows how it ends.")}}
	}
	if c.reason != "" && c.reason != r.Reason {
		notes = append(notes, reply.Para("Your --reason was not added to it; the approvers see the first requester's."))
	}
	return reply.Reply{
		Visibility: reply.Ephemeral, Tone: reply.Info,
		Title: "This change is already waiting for approval: " + r.ID,
		Body:  body,
		Notes: notes,
	}, nil
}

// lasting says how long a change is asked for: "for good" or "for 2h".
func lasting(elevation time.Duration) string {
	if elevation == 0 {
		return "for good"
	}
	return "for " + formatPeriod(elevation)
}

// approveClicked records one approval. The click that completes the quorum applies the change.
func approveClicked(ctx context.Context, s *Service, act Action) (reply.Reply, error) {
	r, err := s.clickedRequest(ctx, act)
	if err != nil {
		return reply.Reply{}, err
	}
	if err := s.checkApprover(ctx, act.UserID, r); err != nil {
		return reply.Reply{}, err
	}
	// Enough approvals recorded on a request still pending means a click could not check the
	// approvers it raced with; any approver's click, this one's included, checks and decides.
	stranded := len(r.Approvals) >= r.ApprovalsNeeded
	if approvedBy(r, act.UserID) && !stranded {
		return reply.Reply{}, alreadyApproved(r)
	}
	// A request approved against a role the token no longer has would apply a change nobody
	// reviewed, so it is closed instead; checked first, so that is the reason given.
	if closed, now, err := s.closeIfStale(ctx, r, act.UserID); err != nil {
		return reply.Reply{}, err
	} else if closed {
		return reply.Reply{}, staleError(r, now)
	}
	if err := s.closeIfNoLongerAllowed(ctx, r, act.UserID); err != nil {
		return reply.Reply{}, err
	}

	if approvedBy(r, act.UserID) {
		// A stranded quorum (above): nothing new to record, only to check and decide.
		t := store.Tally{}
		if err := s.recheckApprovers(ctx, r, &t); err != nil {
			return reply.Reply{}, s.approversUnchecked(ctx, r, err)
		}
		decided, won, answer, err := s.completeApproval(ctx, act, r, t)
		if answer != nil || err != nil {
			return deref(answer), err
		}
		s.recordVoid(ctx, decided, t.Void)
		return s.afterApproval(ctx, decided, won, t, "")
	}

	// Approvals recorded earlier are checked again, as the clicker's own was, once this one could
	// complete the quorum: an approver who has since left the approver groups no longer counts.
	t := store.Tally{Counted: []string{act.UserID}}
	if len(r.Approvals)+1 >= r.ApprovalsNeeded {
		if err := s.recheckApprovers(ctx, r, &t); err != nil {
			return reply.Reply{}, s.approversUnchecked(ctx, r, err)
		}
	}

	// On a duplicate approval (a double click racing itself) the store returns no request, so
	// the reply keeps the one already read.
	approved, won, err := s.requests.AddApproval(ctx, r.ID, act.UserID, s.now(), t)
	var stateErr *store.StateError
	switch {
	case errors.Is(err, store.ErrDuplicateApproval):
		return reply.Reply{}, alreadyApproved(r)
	case errors.Is(err, store.ErrExpired):
		return reply.Reply{}, s.expiredClick(ctx, act.Value)
	case errors.As(err, &stateErr):
		return reply.Reply{}, notPending(act.Value, store.State(stateErr.State))
	case err != nil:
		return reply.Reply{}, fmt.Errorf("recording approval of %s: %w", act.Value, err)
	}
	r = approved
	s.recordRequest(ctx, "request.approved", act.UserID, r, fmt.Sprintf("%d of %d", len(r.Approvals), r.ApprovalsNeeded))
	s.recordVoid(ctx, r, t.Void)
	var unchecked string
	if !won && uncheckedCouldComplete(r, t) {
		// Approvals recorded while this click was being checked were not among those checked.
		// Whichever click records last sees them all, so it checks them and decides.
		voided := len(t.Void)
		if err := s.recheckApprovers(ctx, r, &t); err != nil {
			unchecked = newRef()
			s.log.ErrorContext(ctx, "approver re-check failed", "ref", unchecked, "request", r.ID, "err", err)
		} else {
			decided, ok, answer, err := s.completeApproval(ctx, act, r, t)
			if answer != nil || err != nil {
				return deref(answer), err
			}
			r, won = decided, ok
			s.recordVoid(ctx, r, t.Void[voided:])
		}
	}
	return s.afterApproval(ctx, r, won, t, unchecked)
}

// completeApproval decides pending request r from the approvals t counts. A non-nil answer is
// the whole reply to the click: the request expired, or another click decided it first.
func (s *Service) completeApproval(ctx context.Context, act Action, r store.Request, t store.Tally) (_ store.Request, won bool, answer *reply.Reply, err error) {
	decided, won, err := s.requests.CompleteApproval(ctx, r.ID, act.UserID, s.now(), t)
	var stateErr *store.StateError
	switch {
	case errors.Is(err, store.ErrExpired):
		return r, false, nil, s.expiredClick(ctx, act.Value)
	case errors.As(err, &stateErr):
		// Another click decided it first; that click applies it.
		return r, false, &reply.Reply{
			Visibility: reply.Ephemeral, Tone: reply.Success,
			Title: fmt.Sprintf("Your approval of %s is recorded; it was %s.", r.ID, stateWords(store.State(stateErr.State))),
			Body:  []reply.Line{describeChange(changeOf(r))},
		}, nil
	case err != nil:
		return r, false, nil, fmt.Errorf("completing approval of %s: %w", act.Value, err)
	}
	return decided, won, nil, nil
}

func deref(r *reply.Reply) reply.Reply {
	if r == nil {
		return reply.Reply{}
	}
	return *r
}

// afterApproval answers an approval of r once it is recorded: the count while r waits (and, with
// unchecked, that approvals recorded at the same moment could not be checked), or the outcome of
// applying it when this click decided it (won).
func (s *Service) afterApproval(ctx context.Context, r store.Request, won bool, t store.Tally, unchecked string) (reply.Reply, error) {
	if !won {
		voidLines := s.voidLines(r, t.Void)
		s.updateMessage(ctx, r, voidLines...)
		out := reply.Reply{
			Visibility: reply.Ephemeral, Tone: reply.Success,
			Title: fmt.Sprintf("Your approval of %s is recorded (%d of %d).", r.ID, len(r.Approvals), r.ApprovalsNeeded),
			Body:  append([]reply.Line{describeChange(changeOf(r))}, voidLines...),
			Notes: []reply.Line{reply.Para("The change is applied when the last approval arrives.")},
		}
		if unchecked != "" {
			out.Tone = reply.Warning
			out.Body = append(out.Body, reply.Para("Other approvals were recorded at the same moment and the bot could not check that their approvers still may approve, so the change was not applied."))
			out.Notes = []reply.Line{reply.Para("Pressing Approve again — you, or any approver — checks them again and can complete it (ref " + unchecked + ").")}
		}
		return out, nil
	}
	r, unrecorded := s.finishApproved(ctx, r, true, 0)
	if unrecorded {
		return outcomeUnrecorded(r), nil
	}
	out := reply.Reply{
		Visibility: reply.Ephemeral, Tone: toneOf(r.State),
		Title: fmt.Sprintf("You gave the last approval of %s: %s.", r.ID, stateWords(r.State)),
		Body:  []reply.Line{describeChange(changeOf(r))},
	}
	if r.Result != "" {
		out.Body = append(out.Body, reply.Para(upperFirst(r.Result)+"."))
	}
	return out, nil
}

// outcomeUnrecorded answers the last approval of r when its outcome could not be stored. It does
// not say what the outcome was: what the bot says must never disagree with what it records later.
func outcomeUnrecorded(r store.Request) reply.Reply {
	out := reply.Reply{
		Visibility: reply.Ephemeral, Tone: reply.Warning,
		Title: fmt.Sprintf("You gave the last approval of %s, but its outcome could not be recorded.", r.ID),
		Body:  []reply.Line{describeChange(changeOf(r))},
	}
	if r.State == store.StateApplying {
		out.Body = append(out.Body, reply.Para("The change was sent to Astro, but its outcome is not known yet: Astro did not confirm it, or its answer could not be stored. The bot will not write to Astro again for it: in a minute or two it reads the token's role back, records the outcome from that, and tells the requester in the request's thread."))
	} else {
		out.Body = append(out.Body, reply.Para("Nothing was written to Astro. The request stays approved; the bot tries again shortly and tells the requester in the request's thread how it ends."))
	}
	return out
}

// recheckApprovers checks again, as of now, whoever recorded an approval on r that t does not
// account for yet, adding them to t.Counted or, when they may no longer approve r, their
// approval to t.Void. An error leaves t as it was before the failed check: nothing is guessed.
func (s *Service) recheckApprovers(ctx context.Context, r store.Request, t *store.Tally) error {
	if s.approvers == nil {
		return errors.New("no approver check is configured")
	}
	next := store.Tally{Counted: slices.Clone(t.Counted), Void: slices.Clone(t.Void)}
	for _, a := range r.Approvals {
		if accounted(next, a.UserID) {
			continue
		}
		ok, err := s.approvers.CanApprove(ctx, a.UserID, approvalOf(r))
		if err != nil {
			return fmt.Errorf("checking %s's approval of %s: %w", a.UserID, r.ID, err)
		}
		if ok {
			next.Counted = append(next.Counted, a.UserID)
		} else {
			next.Void = append(next.Void, a)
		}
	}
	*t = next
	return nil
}

func accounted(t store.Tally, userID string) bool {
	return slices.Contains(t.Counted, userID) || slices.ContainsFunc(t.Void, func(a store.Approval) bool { return a.UserID == userID })
}

// uncheckedCouldComplete reports whether r, still pending, holds approvals t does not account
// for, enough of them to complete the quorum if they count.
func uncheckedCouldComplete(r store.Request, t store.Tally) bool {
	counted, unchecked := 0, 0
	for _, a := range r.Approvals {
		switch {
		case slices.Contains(t.Counted, a.UserID):
			counted++
		case !accounted(t, a.UserID):
			unchecked++
		}
	}
	return r.State == store.StatePending && unchecked > 0 && counted+unchecked >= r.ApprovalsNeeded
}

// approversUnchecked refuses a click that could complete r's quorum when the earlier approvers
// could not be checked again; nothing has been recorded.
func (s *Service) approversUnchecked(ctx context.Context, r store.Request, err error) *Error {
	ref := newRef()
	s.log.ErrorContext(ctx, "approver re-check failed", "ref", ref, "request", r.ID, "err", err)
	return &Error{Code: EDenied, Message: fmt.Sprintf("Could not check whether the earlier approvals of %s still count, so your click was refused.", r.ID),
		Hint: "Nothing was recorded. Try again; if it keeps happening give the bot's operator this reference: ref " + ref + "."}
}

// voidWhy says why an approval no longer counts, to follow "'s approval no longer counts".
func (s *Service) voidWhy(r store.Request) string {
	return "because they are no longer in " + s.groupNames(r.ApproverGroups)
}

// voidLines tell, one line each, whose approvals of r no longer count and why.
func (s *Service) voidLines(r store.Request, void []store.Approval) []reply.Line {
	var out []reply.Line
	for _, a := range void {
		out = append(out, reply.Line{userSpan(a.UserID), reply.Textf("'s approval no longer counts %s.", s.voidWhy(r))})
	}
	return out
}

// recordVoid audits each approval of r found no longer to count.
func (s *Service) recordVoid(ctx context.Context, r store.Request, void []store.Approval) {
	for _, a := range void {
		s.recordRequest(ctx, "request.approval_void", "", r, fmt.Sprintf("%s's approval no longer counts %s", a.UserID, s.voidWhy(r)))
	}
}

// denyClicked ends a request: one denial by an eligible approver is enough.
func denyClicked(ctx context.Context, s *Service, act Action) (reply.Reply, error) {
	r, err := s.clickedRequest(ctx, act)
	if err != nil {
		return reply.Reply{}, err
	}
	if err := s.checkApprover(ctx, act.UserID, r); err != nil {
		return reply.Reply{}, err
	}
	r, err = s.requests.Transition(ctx, r.ID, store.StatePending, store.StateDenied,
		store.TransitionUpdate{DecidedBy: act.UserID, Result: "denied; nothing was changed", At: s.now()})
	var stateErr *store.StateError
	if errors.As(err, &stateErr) {
		return reply.Reply{}, notPending(act.Value, store.State(stateErr.State))
	}
	if err != nil {
		return reply.Reply{}, fmt.Errorf("denying %s: %w", act.Value, err)
	}
	s.recordRequest(ctx, "request.denied", act.UserID, r, "")
	s.log.InfoContext(ctx, "approval request denied", "request", r.ID, "user", act.UserID)
	s.closed(ctx, r)
	return reply.Reply{
		Visibility: reply.Ephemeral, Tone: reply.Info,
		Title: "You denied " + r.ID + ".",
		Body:  []reply.Line{describeChange(changeOf(r))},
		Notes: []reply.Line{reply.Para("Nothing was changed. The requester is told in the request's thread.")},
	}, nil
}

// clickedRequest loads the request a button names and checks that it is still open.
func (s *Service) clickedRequest(ctx context.Context, act Action) (store.Request, error) {
	if s.requests == nil {
		return store.Request{}, &Error{Code: EInvalid, Message: "Approval requests are not enabled in this bot."}
	}
	id := strings.TrimSpace(act.Value)
	if !requestIDPattern.MatchString(id) {
		return store.Request{}, &Error{Code: EInvalid, Message: "This button does not name an approval request."}
	}
	r, err := s.requests.GetRequest(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Request{}, &Error{Code: ENotFound, Message: fmt.Sprintf("There is no approval request %s.", id)}
	}
	if err != nil {
		return store.Request{}, fmt.Errorf("reading request %s: %w", id, err)
	}
	if r.State != store.StatePending {
		return store.Request{}, notPending(id, r.State)
	}
	if !s.now().Before(r.ExpiresAt) {
		return store.Request{}, s.expiredClick(ctx, id)
	}
	return r, nil
}

// expiredClick closes a request found expired at click time, ahead of the sweeper.
func (s *Service) expiredClick(ctx context.Context, id string) error {
	if r, err := s.requests.GetRequest(ctx, id); err == nil {
		if err := s.expire(ctx, r, s.now()); err != nil {
			s.log.WarnContext(ctx, "could not expire a request", "request", id, "err", err)
		}
	}
	return &Error{Code: EConflict, Message: fmt.Sprintf("Request %s has expired.", id),
		Hint: "The requester can ask again if the change is still needed."}
}

// checkApprover refuses anyone who may not decide on r right now. Group membership is resolved
// at the click, so someone removed from an approver group can no longer approve.
func (s *Service) checkApprover(ctx context.Context, userID string, r store.Request) error {
	if userID == r.RequesterID {
		return &Error{Code: EDenied, Message: fmt.Sprintf("You cannot approve or deny your own request %s.", r.ID),
			Hint: "Another approver must decide. To withdraw it, use " + s.commandName + " cancel " + r.ID + "."}
	}
	if s.approvers == nil {
		return &Error{Code: EDenied, Message: "The bot cannot check who may approve, so the click was refused."}
	}
	ok, err := s.approvers.CanApprove(ctx, userID, approvalOf(r))
	if err != nil {
		ref := newRef()
		s.log.ErrorContext(ctx, "approver check failed", "ref", ref, "user", userID, "request", r.ID, "err", err)
		return &Error{Code: EDenied, Message: "Could not check whether you may approve this, so the click was refused.",
			Hint: "Try again; if it keeps happening give the bot's operator this reference: ref " + ref + "."}
	}
	if !ok {
		return &Error{Code: EDenied, Message: fmt.Sprintf("You are not an approver for request %s.", r.ID),
			Details: []reply.Line{{reply.Text("Approvers are the members of " + s.groupNames(r.ApproverGroups) + ".")}}}
	}
	return nil
}

// closeIfStale reads the token and, when its role in the workspace is no longer the one the
// request was made against, moves the pending request to stale on actor's behalf. It writes
// nothing to Astro. now is the role found.
func (s *Service) closeIfStale(ctx context.Context, r store.Request, actor string) (closed bool, now string, err error) {
	tok, err := s.tokens.GetToken(ctx, r.TokenID)
	switch {
	case astro.IsNotFound(err):
		now = "(token deleted)"
	case err != nil:
		return false, "", astroFailure(err)
	default:
		now = astro.WorkspaceRoleOf(tok.Roles, r.WorkspaceID)
		if now == r.CurrentRole {
			return false, now, nil
		}
	}
	if err := s.markStale(ctx, r, now, actor); err != nil {
		return false, now, err
	}
	return true, now, nil
}

// markStale closes pending request r on actor's behalf because the token's role in r's
// workspace is now, not the role r was made against.
func (s *Service) markStale(ctx context.Context, r store.Request, now, actor string) error {
	result := fmt.Sprintf("the token's role changed from %s to %s after the request; nothing was changed", roleOrNone(r.CurrentRole), roleOrNone(now))
	return s.closeStale(ctx, r, actor, result)
}

// closeStale moves pending request r to stale on actor's behalf, records why and tells the
// requester. A request no longer pending is reported as such.
func (s *Service) closeStale(ctx context.Context, r store.Request, actor, result string) error {
	closedReq, err := s.requests.Transition(ctx, r.ID, store.StatePending, store.StateStale, store.TransitionUpdate{Result: result, At: s.now()})
	var stateErr *store.StateError
	if errors.As(err, &stateErr) {
		return notPending(r.ID, store.State(stateErr.State))
	}
	if err != nil {
		return fmt.Errorf("marking %s stale: %w", r.ID, err)
	}
	s.recordRequest(ctx, "request.stale", actor, closedReq, result)
	s.log.InfoContext(ctx, "approval request stale", "request", r.ID, "result", result)
	s.closed(ctx, closedReq)
	return nil
}

// recheckRequest asks policy again, as of now, whether r's requester may make r's change, and
// under no stricter approval than r was opened with: policy and group membership can change
// while a request waits, and approving must not make a change its requester may no longer ask
// for. why is "" when the request still holds.
func (s *Service) recheckRequest(ctx context.Context, r store.Request) (why string, err error) {
	d, err := s.auth.Decide(ctx, policy.Input{
		UserID: r.RequesterID, ChannelID: r.ChannelID, Action: policy.Action(r.Action),
		WorkspaceID: r.WorkspaceID, Role: r.RequestedRole, CurrentRole: r.CurrentRole,
	})
	if err != nil || !d.Allowed {
		return "the policy no longer lets the requester make this change", err
	}
	if r.Elevation == 0 && s.reverts != nil {
		// As vetChange decided it: a lasting change ends the token's time-boxes there, which may
		// have been set up since the request, so it is also the raise from where they lead.
		c := changeOf(r)
		c.token, c.from = &astro.Token{ID: r.TokenID}, r.CurrentRole
		c.earlier = s.readTimeBoxesNow(ctx, r.TokenID)
		v, err := s.lastingVerdict(ctx, Request{UserID: r.RequesterID, ChannelID: r.ChannelID}, c, d)
		switch {
		case err != nil:
			return "", err
		case v.why != "":
			return "the token's time-boxes changed what this change is: " + v.why, nil
		case v.capped > 0:
			return fmt.Sprintf("the policy now allows this change only time-boxed, for at most %s", formatPeriod(v.capped)), nil
		}
		d = stricter(d, v.base)
	}
	switch {
	case d.NeedsApproval() && d.Approval.RequireReason && strings.TrimSpace(r.Reason) == "":
		return "the policy now requires a reason for this change", nil
	case d.MaxElevation > 0 && r.Elevation > d.MaxElevation:
		return fmt.Sprintf("the policy now allows this change for at most %s", formatPeriod(d.MaxElevation)), nil
	case r.Elevation == 0 && mustTimeBox(d, policy.Action(r.Action), r.CurrentRole, r.RequestedRole):
		return fmt.Sprintf("the policy now allows this change only time-boxed, for at most %s", formatPeriod(d.MaxElevation)), nil
	case d.NeedsApproval() && stricterApproval(*d.Approval, r):
		return fmt.Sprintf("the policy now asks for %s from %s", pluralApprovals(max(d.Approval.Count, 1)), s.groupNames(d.Approval.Approvers)), nil
	}
	return "", nil
}

// stricterApproval reports whether ap asks for more than r was opened with: more approvals, or
// other approver groups (the approvals r has were checked against its own).
func stricterApproval(ap policy.Approval, r store.Request) bool {
	if max(ap.Count, 1) > r.ApprovalsNeeded {
		return true
	}
	now, then := slices.Clone(ap.Approvers), slices.Clone(r.ApproverGroups)
	slices.Sort(now)
	slices.Sort(then)
	return !slices.Equal(slices.Compact(now), slices.Compact(then))
}

// closeIfNoLongerAllowed closes pending request r, on actor's click, when recheckRequest finds
// it no longer holds, and says so in the returned error.
func (s *Service) closeIfNoLongerAllowed(ctx context.Context, r store.Request, actor string) error {
	why, err := s.recheckRequest(ctx, r)
	if err != nil {
		ref := newRef()
		s.log.ErrorContext(ctx, "requester re-check failed", "ref", ref, "request", r.ID, "err", err)
		return &Error{Code: EDenied, Message: "Could not check whether the requester may still make this change, so the click was refused.",
			Hint: "Try again; if it keeps happening give the bot's operator this reference: ref " + ref + "."}
	}
	if why == "" {
		return nil
	}
	if err := s.closeStale(ctx, r, actor, why+"; nothing was changed"); err != nil {
		return err
	}
	return &Error{Code: EConflict, Message: fmt.Sprintf("Request %s no longer holds, so it was closed: %s.", r.ID, why),
		Details: []reply.Line{describeChange(changeOf(r)), reply.Para("Nothing was changed.")},
		Hint:    "The requester can ask again under the current policy."}
}

// supersedeStale closes r, pending against a role the token no longer has, so that a request
// against its current role can be opened. Someone else having closed r first is fine.
func (s *Service) supersedeStale(ctx context.Context, r store.Request, now, actor string) error {
	err := s.markStale(ctx, r, now, actor)
	var e *Error
	if errors.As(err, &e) && e.Code == EConflict {
		return nil
	}
	return err
}

// finishApproved applies an approved request once and records the outcome. It runs under the
// token's lock and re-reads the request there, so a second caller (a crash-recovery sweep, another
// replica) finds it already settled and writes nothing. approversChecked says the approvals were
// just checked again by the click that completed them; otherwise they are checked here.
// unrecorded says the outcome could not be stored, so nobody has been told it. lockWait bounds the
// wait for the token's lock (lockTokenWithin).
func (s *Service) finishApproved(ctx context.Context, r store.Request, approversChecked bool, lockWait time.Duration) (_ store.Request, unrecorded bool) {
	unlock, err := s.lockTokenWithin(ctx, r.TokenID, lockWait)
	if err != nil {
		// Left approved: the sweeper retries it.
		s.log.WarnContext(ctx, "could not lock the token to apply an approved request", "request", r.ID, "err", err)
		s.updateMessage(ctx, r)
		return r, false
	}
	defer unlock()
	cur, err := s.requests.GetRequest(ctx, r.ID)
	if err != nil {
		s.log.WarnContext(ctx, "could not re-read an approved request", "request", r.ID, "err", err)
		return r, false
	}
	if cur.State != store.StateApproved {
		return cur, false
	}
	r = cur
	// Checked again here, at the moment of writing: a request left approved can be applied
	// long after its last click (by the sweeper, after a restart).
	if why, err := s.recheckRequest(ctx, r); err != nil {
		// Left approved: the sweeper retries it.
		s.log.WarnContext(ctx, "could not re-check the requester of an approved request", "request", r.ID, "err", err)
		s.updateMessage(ctx, r)
		return r, false
	} else if why != "" {
		return s.settle(ctx, r, store.StateStale, why+"; nothing was changed")
	}
	if !approversChecked {
		var t store.Tally
		if err := s.recheckApprovers(ctx, r, &t); err != nil {
			// Left approved: the sweeper retries it.
			s.log.WarnContext(ctx, "could not re-check the approvers of an approved request", "request", r.ID, "err", err)
			s.updateMessage(ctx, r)
			return r, false
		}
		if len(t.Counted) < r.ApprovalsNeeded {
			return s.reopen(ctx, r, t.Void)
		}
	}

	tok, err := s.getToken(ctx, r.TokenID)
	if err != nil {
		return s.settle(ctx, r, store.StateFailed, "could not read the token: "+errorMessage(err)+"; nothing was changed")
	}
	now := astro.WorkspaceRoleOf(tok.Roles, r.WorkspaceID)
	switch {
	case now == r.RequestedRole && r.Elevation == 0:
		switch away, err := s.timeBoxedAway(ctx, r, tok); {
		case err != nil:
			// Left approved: the sweeper retries it.
			s.log.WarnContext(ctx, "could not read the token's time-boxes to settle an approved request", "request", r.ID, "err", err)
			s.updateMessage(ctx, r)
			return r, false
		case away:
			return s.settle(ctx, r, store.StateStale, "the token has the requested role only until a time-box puts another back; nothing was changed")
		}
		return s.settle(ctx, r, store.StateApplied, "the token already had the requested role; nothing needed writing")
	case now == r.RequestedRole:
		return s.settle(ctx, r, store.StateApplied, "the token already had the requested role; nothing needed writing")
	case now != r.CurrentRole:
		return s.settle(ctx, r, store.StateStale, fmt.Sprintf("the token's role changed from %s to %s before the change could be applied; nothing was changed",
			roleOrNone(r.CurrentRole), roleOrNone(now)))
	}
	// Claimed before the write: a request left approved is retried by the sweeper, which must
	// never happen once a write may have reached Astro, or a request the bot already called
	// failed could be applied after all.
	claimed, err := s.requests.Transition(ctx, r.ID, store.StateApproved, store.StateApplying, store.TransitionUpdate{At: s.now()})
	var stateErr *store.StateError
	if errors.As(err, &stateErr) {
		if cur, err := s.requests.GetRequest(ctx, r.ID); err == nil {
			return cur, false
		}
		return r, false
	}
	if err != nil {
		cur, rerr := s.requests.GetRequest(ctx, r.ID)
		if rerr != nil || cur.State != store.StateApplying {
			// Nothing written and left approved: the sweeper retries it.
			s.log.WarnContext(ctx, "could not claim an approved request before applying it", "request", r.ID, "err", err)
			return r, false
		}
		// Claimed after all (the error came after the commit); under the token's lock the
		// claim can only be this caller's.
		claimed = cur
	}
	r = claimed
	c := changeOf(r)
	c.token = tok
	c.from = now
	rep, err := s.apply(ctx, &Request{UserID: r.RequesterID, ChannelID: r.ChannelID}, &c)
	switch {
	case err != nil:
		return s.settle(ctx, r, store.StateFailed, "Astro refused the change: "+errorMessage(err)+"; nothing was changed")
	case c.outcome == writeLanded:
		// What became of time-boxes (warnings included) follows the announcement changed() makes.
		result := "applied"
		if len(rep.Body) > 1 {
			result += "; " + plainLines(rep.Body[1:])
		}
		return s.settle(ctx, r, store.StateApplied, result)
	case c.outcome == writeUnknown:
		// Astro may carry out a write that timed out after any read says it did not, so the
		// request stays applying: the sweeper settles it from the token's role once Astro has
		// had time (approvedRecoveryAfter), and never writes again.
		s.log.WarnContext(ctx, "outcome of an approved request's write unknown; left for the sweeper to read back", "request", r.ID)
		s.updateMessage(ctx, r)
		return r, true
	default:
		return s.settle(ctx, r, store.StateFailed, strings.TrimSuffix(rep.Title, ".")+"; check with "+s.commandName+" show "+r.TokenID)
	}
}

// lockTokenWithin takes tokenID's lock waiting no longer than wait, or as long as ctx lasts if
// wait is 0. The sweeper bounds its wait: a token whose lock is not freed must not hold up the
// rest of the sweep, nor the sweeps after it (expiries included); what it was for is left as it
// is, for a later sweep.
func (s *Service) lockTokenWithin(ctx context.Context, tokenID string, wait time.Duration) (func(), error) {
	if wait <= 0 {
		return s.locker.LockToken(ctx, tokenID)
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	return s.locker.LockToken(ctx, tokenID)
}

// timeBoxedAway reports whether tok, which has the role lasting request r asks for, has it only
// time-boxed: its pending time-boxes there lead back to another role, so r is not in place for
// good.
func (s *Service) timeBoxedAway(ctx context.Context, r store.Request, tok *astro.Token) (bool, error) {
	if s.reverts == nil {
		return false, nil
	}
	c := changeOf(r)
	c.token, c.from = tok, r.RequestedRole
	plan, err := s.planTimeBoxes(ctx, c)
	return err == nil && plan.revertTo != r.RequestedRole, err
}

// resolveApplying settles a request left applying: the bot sent (or was about to send) its write
// but never recorded Astro's answer. It never writes again; the outcome recorded is what the
// token's role, read back from Astro, shows. The sweeper calls it, so the wait for the token's
// lock is bounded (workerLockWait); a request whose token stays busy is left for a later sweep.
func (s *Service) resolveApplying(ctx context.Context, r store.Request) {
	unlock, err := s.lockTokenWithin(ctx, r.TokenID, s.workerLockWait)
	if err != nil {
		s.log.WarnContext(ctx, "could not lock the token to settle a request left applying", "request", r.ID, "err", err)
		return
	}
	defer unlock()
	cur, err := s.requests.GetRequest(ctx, r.ID)
	if err != nil || cur.State != store.StateApplying {
		return
	}
	// The bot may have stopped before sending the write, so this does not say Astro answered.
	const lost = "the outcome of the bot's write was never recorded (it may not have been sent); "
	tok, err := s.tokens.GetToken(ctx, cur.TokenID)
	var now string
	switch {
	case astro.IsNotFound(err):
		s.settleFailed(ctx, cur, lost+"the token no longer exists; nothing more was written")
		return
	case err != nil:
		// Tried again at the next sweep.
		s.log.WarnContext(ctx, "could not read the token to settle a request left applying", "request", r.ID, "err", err)
		return
	default:
		now = astro.WorkspaceRoleOf(tok.Roles, cur.WorkspaceID)
	}
	if now == cur.RequestedRole {
		result := lost + "reading the token back, it has the requested " + roleOrNone(now)
		tb, err := s.timeBoxLanded(ctx, cur, tok)
		if err != nil {
			// Tried again at the next sweep: settled without its time-box, it could last for good.
			s.log.WarnContext(ctx, "could not settle the time-boxes of a request left applying", "request", r.ID, "err", err)
			return
		}
		if tb != "" {
			result += "; " + tb
		}
		// Audited as the bot's change, as a confirmed write is: without it the drift check would
		// report the role as changed outside the bot.
		s.recordLanded(ctx, cur, tok, now)
		s.settle(ctx, cur, store.StateApplied, result)
		return
	}
	s.settleFailed(ctx, cur, fmt.Sprintf(lost+"the token has %s, not the requested %s; nothing more was written", roleOrNone(now), roleOrNone(cur.RequestedRole)))
}

// settleFailed records request r, left applying, as failed: the token does not have the role it
// asked for. Its revert (scheduled in case the write had landed, timeBoxUnconfirmed) is ended
// first, or the sweep is tried again: left pending, at its time it would undo the requested role
// if the token then had it, though the bot never set it (an admin setting it for good in the Astro
// UI, say).
func (s *Service) settleFailed(ctx context.Context, r store.Request, result string) {
	ended, err := s.endRevertsOfFailed(ctx, r)
	if err != nil {
		s.log.WarnContext(ctx, "could not end the time-box of a failed request left applying", "request", r.ID, "err", err)
		return
	}
	if ended != "" {
		result += "; " + ended
	}
	s.settle(ctx, r, store.StateFailed, result)
}

// Audit action and outcome of a revert ended because its request failed: the token does not have
// the role the request set, so there is none to undo.
const (
	revertCancelledAction = "revert.cancelled"
	failedRevertOutcome   = "ended: its request failed (the token does not have the role it asked for), so there is nothing of it to undo"
)

// endRevertsOfFailed ends the pending reverts of request r, which the sweeper found failed, that
// undo the role r asked for; the caller holds the token's lock. One retargeted to
// another role (the worker or a revert-now ending time-boxes nested in it) undoes a role a later
// change set, and stays. So do they all when the bot may have changed the token in r's workspace
// since r's write went out: the role read back may be that change's, r's write may have landed
// after all, and a time-box of that change may lead back to r's role, which only r's revert ends.
// It says what it did, for the request's result.
func (s *Service) endRevertsOfFailed(ctx context.Context, r store.Request) (string, error) {
	if s.reverts == nil || r.Elevation == 0 {
		return "", nil
	}
	own, err := s.reverts.RevertsOfRequest(ctx, r.ID)
	if err != nil {
		return "", err
	}
	own = slices.DeleteFunc(own, func(rv store.Revert) bool {
		return rv.State != store.RevertPending || rv.WorkspaceID != r.WorkspaceID || rv.ExpectedRole != r.RequestedRole
	})
	if len(own) == 0 {
		return "", nil
	}
	const kept = "its time-box was left in place"
	if slices.ContainsFunc(own, func(rv store.Revert) bool { return rv.MayHaveWritten }) {
		// An attempt to end it (a revert-now) read r's role in place and may have put the role
		// back with its answer lost: its next attempt is what reports that.
		return kept + ": an attempt to end it may have put the role back, which its next attempt reports", nil
	}
	if s.history == nil {
		return kept + " (no audit record tells whether a later change relies on it)", nil
	}
	if later, err := s.changedSince(ctx, r); err != nil {
		return "", err
	} else if later {
		return kept + ": the bot recorded another change to the token in this workspace since", nil
	}
	// A time-box set up since r's write went out means a later change, even one whose audit
	// entry was lost.
	pending, err := s.reverts.ListPendingReverts(ctx, r.TokenID)
	if err != nil {
		return "", err
	}
	if slices.ContainsFunc(pending, func(p store.Revert) bool {
		return p.WorkspaceID == r.WorkspaceID && p.RequestID != r.ID && !p.CreatedAt.Before(r.DecidedAt)
	}) {
		return kept + ": another time-box of the token in this workspace was set up since", nil
	}
	var ended []string
	for _, rv := range own {
		_, err := s.reverts.SupersedeRevert(context.WithoutCancel(ctx), rv.ID, workerActor, failedRevertOutcome)
		if errors.Is(err, store.ErrStateConflict) {
			continue // ended meanwhile; whoever ended it settled it
		}
		if err != nil {
			return "", err // those ended so far are audited; the rest are tried at the next sweep
		}
		s.log.InfoContext(ctx, "time-box of a failed request ended", "revert", rv.ID, "request", r.ID, "token", r.TokenID, "workspace", r.WorkspaceID)
		s.recordAudit(ctx, store.AuditEntry{
			ActorID: workerActor, Action: revertCancelledAction, TokenID: rv.TokenID, TokenName: rv.TokenName, WorkspaceID: rv.WorkspaceID,
			RequestID: r.ID, Detail: "revert " + rv.ID + ": " + failedRevertOutcome,
		})
		ended = append(ended, rv.ID)
	}
	if len(ended) == 0 {
		return "", nil
	}
	return fmt.Sprintf("its time-box (revert %s) was ended", strings.Join(ended, ", ")), nil
}

// recordLanded audits request r's change, found in place by reading tok back, as the bot's,
// unless it already is (the write was confirmed, but the request's outcome could not be stored).
func (s *Service) recordLanded(ctx context.Context, r store.Request, tok *astro.Token, now string) {
	if s.history != nil {
		entries, err := s.history.ListAudit(ctx, store.AuditFilter{RequestID: r.ID, Limit: 1000})
		if err != nil {
			// Recorded anyway: an entry twice is better than the bot's change taken for drift.
			s.log.WarnContext(ctx, "could not read a request's audit entries", "request", r.ID, "err", err)
		}
		if slices.ContainsFunc(entries, func(e store.AuditEntry) bool { return e.Action == "role.changed" && e.After == now }) {
			return
		}
	}
	c := changeOf(r)
	c.token = tok
	s.recordChange(ctx, Request{UserID: r.RequesterID, ChannelID: r.ChannelID}, c, now,
		"the outcome of the write was never recorded; confirmed by reading the token back")
}

// timeBoxLanded does for request r, found landed by reading tok back, what a confirmed write
// does at once (timeBox): schedule its revert if it is time-boxed and none was (a revert
// scheduled when its outcome was unknown stands, whatever became of it since), and end the
// earlier time-boxes it overrides. Unless the bot recorded another change to the token in that
// workspace since r's write went out: the role read back may then be that change's, and so are
// the time-boxes. It says what it did, for the request's result; an error means try again.
func (s *Service) timeBoxLanded(ctx context.Context, r store.Request, tok *astro.Token) (string, error) {
	if s.reverts == nil {
		return "", nil
	}
	if s.history == nil {
		return "its time-boxes were not checked (no audit record tells whether the role is this request's doing)", nil
	}
	if later, err := s.changedSince(ctx, r); err != nil {
		return "", err
	} else if later {
		return "the bot recorded another change to the token in this workspace since, so time-boxes were left as they are", nil
	}
	own, err := s.reverts.RevertsOfRequest(ctx, r.ID)
	if err != nil {
		return "", err
	}
	// One ended because the request was found failed (endRevertsOfFailed; the failure then could
	// not be stored) is not a time-box it has: its role is in place after all.
	own = slices.DeleteFunc(own, func(rv store.Revert) bool {
		return rv.State == store.RevertCancelled && rv.CancelledBy == workerActor && rv.Outcome == failedRevertOutcome
	})
	c := changeOf(r)
	c.token = tok
	if r.Elevation > 0 {
		// The write went out about when the request was claimed for applying.
		c.elevation = max(r.Elevation-s.now().Sub(r.DecidedAt), time.Minute)
	}
	c.earlier = s.readTimeBoxes(ctx, tok.ID)
	<-c.earlier.done
	if c.earlier.err != nil {
		return "", c.earlier.err
	}
	// Only time-boxes that existed when the write went out can be ones it overrides. A later one
	// (a failed revert-now's retry, say) undoes a role set after the write, and ending it on the
	// audit's word alone would leave that role for good if an audit entry was lost.
	c.earlier.pending = slices.DeleteFunc(c.earlier.pending, func(p store.Revert) bool { return !p.CreatedAt.Before(r.DecidedAt) })
	req := Request{UserID: r.RequesterID, ChannelID: r.ChannelID}
	var rep reply.Reply
	if len(own) == 0 {
		rep = s.timeBox(ctx, req, c, reply.Reply{})
	} else {
		plan, _ := s.planTimeBoxes(ctx, c) // the read above succeeded
		rep = s.endTimeBoxes(ctx, req, c, plan.ended, reply.Reply{})
	}
	return plainLines(rep.Body), nil
}

// changedSince reports whether the audit record holds a role change or a revert of r's token in
// r's workspace, other than r's own (or any ending of a nested time-box), since r's write went
// out (when it was claimed). Read by seq, after the audit record's last entry when r was claimed
// (ApplyingSeq): an entry's At is taken before its append waits for the chain head, and on
// another replica's clock, so a change made after the claim can carry an earlier time than the
// claim's. Only a request claimed before the seq was kept (or while the record was empty) is
// read by time, since DecidedAt.
func (s *Service) changedSince(ctx context.Context, r store.Request) (bool, error) {
	f := store.AuditFilter{TokenID: r.TokenID, AfterSeq: r.ApplyingSeq, Limit: 1000}
	if r.ApplyingSeq == 0 {
		f = store.AuditFilter{TokenID: r.TokenID, Since: r.DecidedAt, Limit: 1000}
	}
	entries, err := s.history.ListAudit(ctx, f)
	if err != nil {
		return false, err
	}
	for _, e := range entries {
		if e.Action == revertCancelledAction {
			continue // the time-box of a failed request: no role set, none left to undo
		}
		// Ending a nested time-box (revert.ended), even r's own, comes with a revert that undoes
		// the role then in place (the outer one, kept or handed back), so it is a later change.
		if e.WorkspaceID == r.WorkspaceID && (e.Action == "revert.ended" ||
			e.RequestID != r.ID && (e.Action == "role.changed" || strings.HasPrefix(e.Action, "revert."))) {
			return true, nil
		}
	}
	return false, nil
}

// plainLines is lines as one sentence-ish string for a request's result.
func plainLines(lines []reply.Line) string {
	var notes []string
	for _, l := range lines {
		notes = append(notes, strings.TrimSuffix(l.Plain(), "."))
	}
	return strings.Join(notes, "; ")
}

// reopen puts approved request r back to waiting for approval, without its void approvals, which
// left it short of its quorum. One that has expired meanwhile, or whose change another request
// now asks for, is closed instead. Nothing is written to Astro.
func (s *Service) reopen(ctx context.Context, r store.Request, void []store.Approval) (store.Request, bool) {
	var why []string
	for _, a := range void {
		why = append(why, fmt.Sprintf("%s's approval no longer counts %s", a.UserID, s.voidWhy(r)))
	}
	if !s.now().Before(r.ExpiresAt) {
		return s.settle(ctx, r, store.StateExpired, strings.Join(why, "; ")+"; it expired before enough approvals; nothing was changed")
	}
	out, err := s.requests.Reopen(ctx, r.ID, void, s.now())
	switch {
	case errors.Is(err, store.ErrPendingExists):
		return s.settle(ctx, r, store.StateStale, strings.Join(why, "; ")+"; another request for the same change is waiting; nothing was changed")
	case err != nil:
		// Left approved: the sweeper retries it.
		s.log.WarnContext(ctx, "could not reopen an approved request", "request", r.ID, "err", err)
		return r, false
	}
	s.recordVoid(ctx, out, void)
	s.log.InfoContext(ctx, "approved request reopened: approvals no longer count", "request", r.ID, "void", len(void))
	lines := s.voidLines(out, void)
	s.updateMessage(ctx, out, lines...)
	if s.messenger != nil && out.MessageTS != "" && reply.ValidUserID(out.RequesterID) {
		msg := reply.Reply{
			Visibility: reply.InChannel, Tone: reply.Warning,
			Body: []reply.Line{{reply.Mention(out.RequesterID), reply.Textf(" your request %s needs approval again: ", out.ID)}},
		}
		for i, l := range lines {
			if i > 0 {
				msg.Body[0] = append(msg.Body[0], reply.Text(" "))
			}
			msg.Body[0] = append(msg.Body[0], l...)
		}
		msg.Body = append(msg.Body, reply.Para(fmt.Sprintf("It has %d of the %d approvals it needs. Nothing was changed.", len(out.Approvals), out.ApprovalsNeeded)))
		tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), notifyTimeout)
		defer cancel()
		if err := s.messenger.PostThread(tctx, out.ApprovalChannel, out.MessageTS, msg); err != nil {
			s.log.WarnContext(ctx, "could not tell the requester", "request", out.ID, "err", err)
		}
	}
	return out, false
}

// settle moves an approved or applying request to its final state and tells everyone. An outcome
// that cannot be stored is told to nobody (unrecorded): the request stays as it was, which the
// sweeper finishes later without contradicting anything said.
func (s *Service) settle(ctx context.Context, r store.Request, to store.State, result string) (_ store.Request, unrecorded bool) {
	out, err := s.requests.Transition(context.WithoutCancel(ctx), r.ID, r.State, to, store.TransitionUpdate{Result: result, At: s.now()})
	if err != nil {
		cur, rerr := s.requests.GetRequest(context.WithoutCancel(ctx), r.ID)
		switch {
		case rerr == nil && cur.State == to && cur.Result == result:
			// Stored after all: the error came after the commit.
			out, err = cur, nil
		case rerr == nil && cur.State != r.State:
			// Settled by someone else, who told everyone.
			return cur, false
		}
	}
	if err != nil {
		s.log.ErrorContext(ctx, "could not record the outcome of an approved request", "request", r.ID, "state", to, "result", result, "err", err)
		if r.State == store.StateApplying {
			s.updateMessage(ctx, r)
		}
		return r, true
	}
	switch to {
	case store.StateExpired:
		s.recordRequest(ctx, "request.expired", "", out, result)
	case store.StateStale:
		s.recordRequest(ctx, "request.stale", "", out, result)
	case store.StateFailed:
		s.recordRequest(ctx, "request.failed", "", out, result)
	}
	s.log.InfoContext(ctx, "approved request settled", "request", r.ID, "state", to, "result", result)
	s.closed(ctx, out)
	return out, false
}

// expire closes a pending request whose time ran out. Another replica having done it already is
// not an error.
func (s *Service) expire(ctx context.Context, r store.Request, now time.Time) error {
	out, err := s.requests.Transition(ctx, r.ID, store.StatePending, store.StateExpired,
		store.TransitionUpdate{Result: "expired before enough approvals; nothing was changed", At: now})
	if errors.Is(err, store.ErrStateConflict) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("expiring %s: %w", r.ID, err)
	}
	s.recordRequest(ctx, "request.expired", "", out, "")
	s.log.InfoContext(ctx, "approval request expired", "request", r.ID)
	s.closed(ctx, out)
	return nil
}

// closed updates a finished request's message and tells the requester in its thread.
func (s *Service) closed(ctx context.Context, r store.Request) {
	s.updateMessage(ctx, r)
	if s.messenger == nil || r.MessageTS == "" || !reply.ValidUserID(r.RequesterID) {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), notifyTimeout)
	defer cancel()
	msg := reply.Reply{
		Visibility: reply.InChannel, Tone: toneOf(r.State),
		Body: []reply.Line{
			concat(reply.Line{reply.Mention(r.RequesterID), reply.Textf(" your request %s %s: ", r.ID, stateWords(r.State))}, describeChange(changeOf(r))),
		},
	}
	if r.Result != "" {
		msg.Body = append(msg.Body, reply.Para(upperFirst(r.Result)+"."))
	}
	if err := s.messenger.PostThread(ctx, r.ApprovalChannel, r.MessageTS, msg); err != nil {
		s.log.WarnContext(ctx, "could not tell the requester", "request", r.ID, "err", err)
	}
}

// updateMessage redraws r's approval message from its stored state, with extra lines below who
// approved.
func (s *Service) updateMessage(ctx context.Context, r store.Request, extra ...reply.Line) {
	if s.messenger == nil || r.MessageTS == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), notifyTimeout)
	defer cancel()
	drawn := r
	for redraws := 0; ; redraws++ {
		if err := s.messenger.Update(ctx, r.ApprovalChannel, r.MessageTS, s.requestMessage(drawn, extra...)); err != nil {
			s.log.WarnContext(ctx, "could not update the approval message", "request", r.ID, "err", err)
			return
		}
		// Clicks redraw concurrently, and a redraw can land after a later one's: an approval's
		// count over the last approval's outcome, buttons and all. Every redraw is checked
		// against what the store holds once it has landed, and drawn again if that moved on, so
		// the last to land draws the latest state. A request changes a few times at most (its
		// approvals, then its outcome): the bound only stops a store that keeps changing.
		if s.requests == nil {
			return
		}
		cur, err := s.requests.GetRequest(ctx, r.ID)
		if err != nil || sameDrawing(cur, drawn) {
			return
		}
		if redraws == maxRedraws {
			s.log.WarnContext(ctx, "approval message may show an earlier state: the request kept changing", "request", r.ID)
			return
		}
		drawn, extra = cur, nil
	}
}

// maxRedraws bounds how often one updateMessage draws the approval message again.
const maxRedraws = 10

// sameDrawing reports whether a and b, the same request read at two moments, draw the same
// approval message: same state, outcome and approvals.
func sameDrawing(a, b store.Request) bool {
	return a.State == b.State && a.Result == b.Result && a.DecidedBy == b.DecidedBy &&
		slices.EqualFunc(a.Approvals, b.Approvals, func(x, y store.Approval) bool { return x.UserID == y.UserID && x.At.Equal(y.At) })
}

// requestMessage is the approval message for r in its current state, with extra lines below who
// approved. It shows buttons only while the request is pending.
func (s *Service) requestMessage(r store.Request, extra ...reply.Line) reply.Reply {
	c := changeOf(r)
	m := reply.Reply{Visibility: reply.InChannel, Tone: toneOf(r.State)}
	asks := " asks to: "
	if r.State == store.StatePending {
		m.Title = fmt.Sprintf("Approval needed (%d of %d): %s", len(r.Approvals), r.ApprovalsNeeded, actionTitle(r))
	} else {
		asks = " asked to: "
		m.Title = fmt.Sprintf("%s: %s", upperFirst(stateWords(r.State)), actionTitle(r))
	}
	m.Body = append(m.Body, concat(reply.Line{reply.Mention(r.RequesterID), reply.Text(asks)}, describeChange(c)))
	if r.Reason != "" {
		// A code span, in which Slack formats nothing, shows where the requester's words end:
		// a reason cannot pass "*Same as:* …" off as the bot's own.
		m.Body = append(m.Body, reply.Line{reply.Strong("Reason: "), reply.Literal(r.Reason)})
	}
	if r.Elevation > 0 {
		m.Body = append(m.Body, reply.Line{reply.Strong("Time-boxed: "), reply.Textf("for %s once applied; then the bot puts the previous role back.", shortDuration(r.Elevation))})
	}
	m.Body = append(m.Body, reply.Line{reply.Text("Same as: "), reply.Literal(cliCommand(r))})
	m.Body = append(m.Body, s.approversLine(r))
	m.Body = append(m.Body, extra...)

	switch r.State {
	case store.StatePending:
		m.Body = append(m.Body, reply.Line{reply.Textf("Expires %s.", r.ExpiresAt.UTC().Format(whenLayout))})
		m.Buttons = []reply.Button{
			{Label: "Approve", ActionID: ActionApprove, Value: r.ID, Style: reply.Primary},
			{Label: "Deny", ActionID: ActionDeny, Value: r.ID, Style: reply.Danger},
		}
	case store.StateApplying:
		m.Body = append(m.Body, reply.Para("Its outcome is not recorded yet: the bot reads the token's role back from Astro shortly and records it from that. It will not write to Astro again for this request."))
	case store.StateDenied, store.StateCancelled:
		line := reply.Line{reply.Text(upperFirst(stateWords(r.State)))}
		if reply.ValidUserID(r.DecidedBy) {
			line = append(line, reply.Text(" by "), reply.Mention(r.DecidedBy))
		}
		m.Body = append(m.Body, append(line, reply.Textf(" at %s.", r.DecidedAt.UTC().Format(whenLayout))))
	default:
		if r.Result != "" {
			m.Body = append(m.Body, reply.Line{reply.Strong("Result: "), reply.Textf("%s (%s).", r.Result, r.DecidedAt.UTC().Format(whenLayout))})
		}
	}
	m.Notes = []reply.Line{{reply.Textf("Request %s", r.ID)}}
	if r.Rule != "" {
		m.Notes[0] = append(m.Notes[0], reply.Text(", policy "+r.Rule))
	}
	m.Notes[0] = append(m.Notes[0], reply.Textf(", requested %s.", r.CreatedAt.UTC().Format(whenLayout)))
	return m
}

// approversLine says who may approve and who already did.
func (s *Service) approversLine(r store.Request) reply.Line {
	l := reply.Line{reply.Strong("Approvers: "), reply.Textf("%s from ", pluralApprovals(r.ApprovalsNeeded))}
	l = append(l, s.groupSpans(r.ApproverGroups)...)
	l = append(l, reply.Text(", never the requester."))
	if len(r.Approvals) > 0 {
		l = append(l, reply.Text(" Approved by "))
		for i, a := range r.Approvals {
			if i > 0 {
				l = append(l, reply.Text(", "))
			}
			l = append(l, userSpan(a.UserID), reply.Textf(" (%s)", a.At.UTC().Format("15:04 MST")))
		}
		l = append(l, reply.Text("."))
	}
	return l
}

// groupSpans lists approver groups with their members when the directory knows them.
func (s *Service) groupSpans(groups []string) []reply.Span {
	const maxMembers = 10
	var out []reply.Span
	for i, g := range groups {
		if i > 0 {
			out = append(out, reply.Text("; "))
		}
		out = append(out, reply.Literal(g))
		if s.groups == nil {
			continue
		}
		users, slackGroups := s.groups.GroupMembers(g)
		var members []reply.Span
		for _, u := range users {
			members = append(members, userSpan(u))
		}
		for _, sg := range slackGroups {
			members = append(members, reply.UserGroup(sg))
		}
		if len(members) == 0 {
			continue
		}
		out = append(out, reply.Text(" ("))
		for j, m := range members[:min(len(members), maxMembers)] {
			if j > 0 {
				out = append(out, reply.Text(", "))
			}
			out = append(out, m)
		}
		if len(members) > maxMembers {
			out = append(out, reply.Textf(" and %d more", len(members)-maxMembers))
		}
		out = append(out, reply.Text(")"))
	}
	if len(groups) == 0 {
		out = append(out, reply.Text("nobody (the rule names no approver groups)"))
	}
	return out
}

func (s *Service) groupNames(groups []string) string {
	if len(groups) == 0 {
		return "no group"
	}
	return "group " + strings.Join(groups, ", ")
}

// userSpan mentions a valid user ID and shows anything else as plain text.
func userSpan(id string) reply.Span {
	if reply.ValidUserID(id) {
		return reply.Mention(id)
	}
	return reply.Text(id)
}

// cliCommand is the astro CLI command that makes the same change, for approvers who want to
// check exactly what will be done.
func cliCommand(r store.Request) string {
	base := "astro workspace token organization-token " + r.Action + " " + r.TokenID
	if r.Action == string(policy.ActionRemove) {
		return base + " --workspace-id " + r.WorkspaceID
	}
	return base + " --role " + r.RequestedRole + " --workspace-id " + r.WorkspaceID
}

func actionTitle(r store.Request) string {
	name := reply.Truncate(r.TokenName, 60)
	switch r.Action {
	case string(policy.ActionAdd):
		return fmt.Sprintf("add %s as %s", name, r.RequestedRole)
	case string(policy.ActionRemove):
		return fmt.Sprintf("remove %s", name)
	}
	return fmt.Sprintf("%s to %s", name, r.RequestedRole)
}

// changeOf rebuilds the change a stored request describes. The token carries only what the
// request recorded; apply needs a fresh read in its place.
func changeOf(r store.Request) change {
	return change{
		action:    policy.Action(r.Action),
		token:     &astro.Token{ID: r.TokenID, Name: r.TokenName, Type: astro.ScopeOrganization},
		workspace: r.WorkspaceID,
		from:      r.CurrentRole,
		to:        r.RequestedRole,
		reason:    r.Reason,
		requestID: r.ID,
		wsName:    r.WorkspaceName,
		elevation: r.Elevation,
	}
}

// approvalOf is the policy.Approval a stored request was made under; Requester is kept so the
// requester can never approve.
func approvalOf(r store.Request) policy.Approval {
	return policy.Approval{
		Approvers:    r.ApproverGroups,
		Count:        r.ApprovalsNeeded,
		Channel:      r.ApprovalChannel,
		ExpiresAfter: r.ExpiresAt.Sub(r.CreatedAt),
		Requester:    r.RequesterID,
	}
}

func approvedBy(r store.Request, userID string) bool {
	for _, a := range r.Approvals {
		if a.UserID == userID {
			return true
		}
	}
	return false
}

func alreadyApproved(r store.Request) *Error {
	return &Error{Code: EConflict, Message: fmt.Sprintf("You already approved %s.", r.ID),
		Hint: fmt.Sprintf("It needs %s from different people.", pluralApprovals(r.ApprovalsNeeded))}
}

func notPending(id string, st store.State) *Error {
	return &Error{Code: EConflict, Message: fmt.Sprintf("Request %s is no longer open: it was %s.", id, stateWords(st))}
}

func staleError(r store.Request, now string) *Error {
	return &Error{Code: EConflict,
		Message: fmt.Sprintf("Request %s is out of date, so it was closed.", r.ID),
		Details: []reply.Line{{reply.Textf("It was made when the token had %s in the workspace; it now has %s. Nothing was changed.", roleOrNone(r.CurrentRole), roleOrNone(now))}},
		Hint:    "The requester can ask again for the change against the token's current role."}
}

// stateWords says what happened to a request, to follow "it was" or "your request r… ".
func stateWords(st store.State) string {
	switch st {
	case store.StatePending:
		return "still waiting for approval"
	case store.StateApproved, store.StateApplying:
		return "approved and is being applied"
	case store.StateApplied:
		return "approved and applied"
	case store.StateFailed:
		return "failed"
	case store.StateDenied:
		return "denied"
	case store.StateExpired:
		return "expired"
	case store.StateCancelled:
		return "cancelled"
	case store.StateStale:
		return "closed as stale"
	}
	return string(st)
}

func toneOf(st store.State) reply.Tone {
	switch st {
	case store.StateApplied:
		return reply.Success
	case store.StatePending, store.StateApproved, store.StateApplying, store.StateStale:
		return reply.Warning
	case store.StateFailed, store.StateDenied:
		return reply.Failure
	}
	return reply.Info
}

func ruleLabel(ref policy.RuleRef) string {
	switch {
	case ref.Index == 0:
		return ""
	case ref.Name != "":
		return fmt.Sprintf("rule %d (%s)", ref.Index, ref.Name)
	}
	return fmt.Sprintf("rule %d", ref.Index)
}

func pluralApprovals(n int) string {
	if n == 1 {
		return "1 approval"
	}
	return fmt.Sprintf("%d approvals", n)
}

func roleOrNone(role string) string {
	if role == "" {
		return "no role"
	}
	return role
}

// errorMessage is the user-facing text of err: an *Error's message, or a generic sentence for
// anything else (which may hold details not meant for Slack).
func errorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return strings.TrimSuffix(e.Message, ".")
	}
	return "an unexpected error"
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

const whenLayout = "2006-01-02 15:04 MST"

// formatWhen says when t is, absolutely and relative to now: "2025-11-06 12:00 UTC (in 24h)".
func formatWhen(t, now time.Time) string {
	d := t.Sub(now).Round(time.Minute)
	rel := shortDuration(d)
	if d < time.Minute {
		rel = "under a minute"
	}
	return fmt.Sprintf("at %s (in %s)", t.UTC().Format(whenLayout), rel)
}
