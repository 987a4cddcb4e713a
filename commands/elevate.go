package commands

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/orgtoken/orgtoken-bot/astro"
	"github.com/orgtoken/orgtoken-bot/policy"
	"github.com/orgtoken/orgtoken-bot/reply"
	"github.com/orgtoken/orgtoken-bot/store"
)

// Reverts stores scheduled reverts of time-boxed changes; *store.Store satisfies it. Claims are
// leased, so across replicas exactly one worker carries out each revert.
type Reverts interface {
	ScheduleRevert(ctx context.Context, r store.Revert) (store.Revert, error)
	ClaimDueReverts(ctx context.Context, now time.Time, owner string, lease time.Duration) ([]store.Revert, error)
	CompleteRevert(ctx context.Context, id, outcome string) (store.Revert, error)
	ListPendingReverts(ctx context.Context, tokenID string) ([]store.Revert, error)
	// SupersedeRevert ends a pending revert, leased or not, that a change made wrong; the
	// caller holds the token's lock. GetRevert reads one revert whatever its state.
	SupersedeRevert(ctx context.Context, id, by, outcome string) (store.Revert, error)
	GetRevert(ctx context.Context, id string) (store.Revert, error)
	// EndNestedReverts stores the role a pending revert is to undo and ends the reverts nested
	// in it, all or nothing; CancelRevertAndNested cancels an idle revert and ends those nested
	// in it, all or nothing. The caller holds the token's lock.
	EndNestedReverts(ctx context.Context, id, expectedRole, by string, nested []store.NestedEnd) ([]string, error)
	CancelRevertAndNested(ctx context.Context, id, by string, nested []store.NestedEnd) ([]string, error)
	// RevertsOfRequest lists every revert scheduled for an approval request, whatever its state.
	RevertsOfRequest(ctx context.Context, requestID string) ([]store.Revert, error)
	// NoteMayHaveWritten records on a pending revert whether an attempt's write may have landed
	// unseen.
	NoteMayHaveWritten(ctx context.Context, id string, may bool) (store.Revert, error)
	// ReleaseRevert hands back a claimed revert its worker did not attempt: claimable again at
	// once, the claim not counted among its attempts.
	ReleaseRevert(ctx context.Context, claim store.Revert) (bool, error)
}

// Announcer posts a message in a channel on the bot's own initiative; *bot.Messenger
// satisfies it.
type Announcer interface {
	Post(ctx context.Context, channelID string, r reply.Reply) (string, error)
}

const (
	defaultMinElevation = 30 * time.Minute
	// MaxElevation is the longest --for accepted whatever the policy says.
	MaxElevation = 7 * 24 * time.Hour
	// revertLease is how long a claimed revert is left to its worker before another may take
	// it: longer than one revert can take (a lock wait plus two Astro calls).
	revertLease = 2 * time.Minute
	// workerLockWait bounds the revert worker's and the expiry sweeper's wait for a token's
	// lock. A token whose lock is not freed (a hung holder, another replica cut off from Astro
	// or the database while its session lives on) would otherwise hold up every revert, or
	// every sweep, after it on this replica; its revert is handed back untried instead, and
	// tried again on a later pass (the sweeper leaves its request for a later sweep).
	workerLockWait = 30 * time.Second
	// releaseTimeout bounds handing such a revert back.
	releaseTimeout = 10 * time.Second
	// maxRevertAttempts bounds retries of a revert Astro keeps refusing; after that people are
	// told to restore the role by hand.
	maxRevertAttempts = 5
	// workerActor is who the revert worker acts as, in the audit and on the reverts it ends.
	workerActor = "orgtoken-bot"
)

// ActionRevertNow is the action ID of the "Revert now" button; its Value is the revert's ID.
const ActionRevertNow = "orgtoken.revert.now"

var flagFor = flagSpec{Long: "for", Arg: "DURATION",
	Help: "Make the change for a while only, e.g. --for 2h or --for 3d (30m to 7d); the bot then puts the role back.",
	set: func(a *args, v string) error {
		d, err := parseElevation(v)
		if err != nil {
			return err
		}
		a.For = d
		return nil
	}}

// parseElevation reads a Go duration ("90m", "2h30m") or whole days ("3d").
func parseElevation(v string) (time.Duration, error) {
	v = strings.TrimSpace(strings.ToLower(v))
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(days)
		if err == nil && n > 0 && n <= 365 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a duration such as 30m, 2h or 3d", v)
	}
	return d, nil
}

// formatPeriod says a duration the way people write it: "2h", "1d 12h", "45m".
func formatPeriod(d time.Duration) string {
	d = d.Round(time.Second)
	var parts []string
	if days := d / (24 * time.Hour); days > 0 {
		parts = append(parts, fmt.Sprintf("%dd", days))
		d -= days * 24 * time.Hour
	}
	if h := d / time.Hour; h > 0 {
		parts = append(parts, fmt.Sprintf("%dh", h))
		d -= h * time.Hour
	}
	if m := d / time.Minute; m > 0 {
		parts = append(parts, fmt.Sprintf("%dm", m))
		d -= m * time.Minute
	}
	if d > 0 || len(parts) == 0 {
		parts = append(parts, fmt.Sprintf("%ds", d/time.Second))
	}
	return strings.Join(parts, " ")
}

// checkElevation refuses a --for that is out of bounds, over the policy's cap, or that this bot
// cannot honour, and a lasting change that the policy lets happen only time-boxed, before
// anything is written or an approval is requested.
//
// For a lasting change it also returns the decision on the change it really is, when that
// differs (lastingVerdict), for what it asks besides.
func (s *Service) checkElevation(ctx context.Context, req Request, c change, d policy.Decision) (*policy.Decision, error) {
	if c.elevation == 0 {
		v, err := s.lastingVerdict(ctx, req, c, d)
		switch {
		case err != nil:
			return nil, err
		case v.why != "":
			return nil, &Error{Code: EDenied, Message: "You are not allowed to do this.", Details: []reply.Line{reply.Para("Why: " + v.why + ".")},
				Hint: "Ask for it time-boxed with --for, or end the time-box first (Revert now)."}
		case v.capped == 0:
			return v.base, nil
		}
		e := &Error{Code: EDenied, Message: fmt.Sprintf("Policy allows this change only time-boxed, for at most %s.", formatPeriod(v.capped)),
			Hint: fmt.Sprintf("Add --for %s or less: the bot puts the role back when it ends.", formatPeriod(v.capped))}
		if s.reverts == nil {
			e.Hint = "Time-boxed changes are not enabled on this bot, so it cannot make this change; ask the bot's operator."
		}
		return nil, e
	}
	return nil, s.checkTimeBox(c, d)
}

// checkTimeBox refuses a --for that is out of bounds, over the policy's cap, or that this bot
// cannot honour.
func (s *Service) checkTimeBox(c change, d policy.Decision) error {
	hint := fmt.Sprintf("Give --for from %s to %s, or leave it out for a lasting change.", formatPeriod(s.minElevation), formatPeriod(MaxElevation))
	switch {
	case s.reverts == nil:
		return &Error{Code: EInvalid, Message: "Time-boxed changes are not enabled on this bot.", Hint: "Leave out --for."}
	case c.action == policy.ActionRemove:
		return &Error{Code: EInvalid, Message: "--for works with add and update only.", Hint: "Remove the token, then add it back when it is needed."}
	case c.elevation < s.minElevation:
		return &Error{Code: EInvalid, Message: fmt.Sprintf("--for %s is too short: the shortest time-boxed change is %s.", formatPeriod(c.elevation), formatPeriod(s.minElevation)), Hint: hint}
	case c.elevation > MaxElevation:
		return &Error{Code: EInvalid, Message: fmt.Sprintf("--for %s is too long: the longest time-boxed change is %s.", formatPeriod(c.elevation), formatPeriod(MaxElevation)), Hint: hint}
	case d.MaxElevation > 0 && c.elevation > d.MaxElevation:
		return &Error{Code: EDenied, Message: fmt.Sprintf("--for %s is longer than policy allows for this change: at most %s.", formatPeriod(c.elevation), formatPeriod(d.MaxElevation)),
			Hint: fmt.Sprintf("Ask for --for %s or less.", formatPeriod(d.MaxElevation))}
	}
	return nil
}

// lastingOutcome is how policy as a whole takes a lasting change: refused (why), allowed only
// time-boxed for at most capped (0: it may be lasting), and what the change it really is needs
// besides (base: approval, confirmation), when that differs from the change typed.
type lastingOutcome struct {
	capped time.Duration
	why    string
	base   *policy.Decision
}

// lastingVerdict decides lasting change c, allowed by d. A lasting change ends every time-box of
// the token there, so it really moves the token from the role they would put back: lowering a
// time-boxed OWNER to OPERATOR for good raises it from AUTHOR, and is decided as a change from
// AUTHOR too. Only a raise from there is decided again: ending a time-box early, or going below
// where it leads, is what its revert does anyway.
func (s *Service) lastingVerdict(ctx context.Context, req Request, c change, d policy.Decision) (lastingOutcome, error) {
	var v lastingOutcome
	if mustTimeBox(d, c.action, c.from, c.to) {
		v.capped = d.MaxElevation
	}
	if s.reverts == nil || c.action == policy.ActionRemove {
		return v, nil
	}
	plan, err := s.planTimeBoxes(ctx, c)
	if err != nil {
		return v, &Error{Code: EUnavailable, Message: "Could not read the token's time-boxed changes, so this was refused.", Hint: "Try again in a moment."}
	}
	from := plan.revertTo
	if from == c.from || !raises(from, c.to) {
		return v, nil
	}
	in := c.policyInput(req)
	in.CurrentRole = from
	if from == "" {
		in.Action = policy.ActionAdd // the time-box added the role: for good, this adds it
	}
	base, err := s.auth.Decide(ctx, in)
	if err != nil {
		return v, s.couldNotCheck(ctx, in, err)
	}
	if !base.Allowed {
		v.why = fmt.Sprintf("a lasting change ends the time-box that would put the role back to %s, so it counts as a change from %s", roleWord(from), roleWord(from))
		if base.Reason != "" {
			v.why += ", and " + base.Reason
		}
		return v, nil
	}
	v.base = &base
	for _, dd := range []policy.Decision{d, base} {
		if mustTimeBox(dd, in.Action, from, c.to) && (v.capped == 0 || dd.MaxElevation < v.capped) {
			v.capped = dd.MaxElevation
		}
	}
	return v, nil
}

// raises reports whether moving a role from → to gives more access, or access that cannot be
// ranked.
func raises(from, to string) bool {
	switch policy.DirectionOf(from, to) {
	case policy.DirectionGrant, policy.DirectionUpgrade, policy.DirectionUnknown:
		return true
	}
	return false
}

// mustTimeBox reports whether a change from → to allowed by d must be time-boxed: d's rule caps
// elevation and the change raises the role (or gives one that cannot be ranked). Without it, a
// lasting change would be an elevation without end under a rule meant to bound it.
func mustTimeBox(d policy.Decision, action policy.Action, from, to string) bool {
	return d.MaxElevation > 0 && action != policy.ActionRemove && raises(from, to)
}

// timeBox follows a change that has landed: it schedules the change's own revert if it is
// time-boxed, then ends the earlier time-boxes of the token in that workspace that the change
// makes wrong (planTimeBoxes), and says both. In that order, so that a failure or a crash in
// between leaves an earlier revert in place rather than an elevation without one. The change
// has landed whatever happens here, so a failure is told loudly rather than returned as an error.
func (s *Service) timeBox(ctx context.Context, req Request, c change, r reply.Reply) reply.Reply {
	if s.reverts == nil {
		return r
	}
	plan, err := s.planTimeBoxes(ctx, c)
	if err != nil {
		r = s.earlierUnchecked(ctx, c, r, err)
	}
	r, scheduled := s.scheduleTimeBox(ctx, req, c, plan.revertTo, r, true)
	if !scheduled {
		// Ending the earlier reverts now would lose what they would put back: left for whoever
		// reverts this change by hand, as the reply asks.
		return r
	}
	return s.endTimeBoxes(ctx, req, c, plan.ended, r)
}

// timeBoxUnconfirmed schedules the revert of a time-boxed change that may or may not have
// landed. Without it a change that did land would last for good; one that did not leaves the
// revert nothing to do, as the worker undoes only the role the bot set. Earlier time-boxes are
// left in place: they too undo only the role they set, and are still wanted if this one did not
// land. Its revert still puts back the role they would have left (planTimeBoxes).
func (s *Service) timeBoxUnconfirmed(ctx context.Context, req Request, c change, r reply.Reply) reply.Reply {
	if c.elevation == 0 || s.reverts == nil {
		return r
	}
	plan, err := s.planTimeBoxes(ctx, c)
	if err != nil {
		r = s.earlierUnchecked(ctx, c, r, err)
	}
	r, _ = s.scheduleTimeBox(ctx, req, c, plan.revertTo, r, false)
	return r
}

// earlierUnchecked tells that the earlier time-boxes of c's token could not be read, so the
// change's own revert puts back the role it found, which an earlier time-box may have set.
func (s *Service) earlierUnchecked(ctx context.Context, c change, r reply.Reply, err error) reply.Reply {
	ref := newRef()
	s.log.ErrorContext(ctx, "could not read the token's pending reverts", "ref", ref, "token", c.token.ID, "err", err)
	r.Tone = reply.Warning
	r.Body = append(r.Body, reply.Line{
		reply.Textf("The bot could not check for earlier time-boxes of this token in this workspace (ref %s): one may still put its role back when it ends. Check with ", ref),
		reply.Literal(s.commandName + " show " + c.token.ID), reply.Text("."),
	})
	return r
}

// timeBoxPlan is what a change does to the earlier time-boxes of its token and workspace.
type timeBoxPlan struct {
	revertTo string         // the role the change's own revert is to put back
	ended    []store.Revert // the earlier reverts it makes wrong, earliest due first
}

// planTimeBoxes works out which pending time-boxes of c's token and workspace c makes wrong,
// and the role c's own revert is to put back. A revert undoes only the role the bot set, so
// without this a later change back to that role would be undone when the earlier time-box
// ends, and a longer time-box on top of a shorter one would leave the shorter one's role for
// good.
//   - A lasting change ends them all: the user has said what the role is to be from now on.
//   - A time-boxed change ends those due no later than its own and takes over their promise:
//     its revert puts back the role they would have left by then. Those due after it stay, and
//     end the elevation they began once this one has ended, as nested time-boxes do.
//
// On an error the plan is to end nothing and put back c.from.
func (s *Service) planTimeBoxes(ctx context.Context, c change) (timeBoxPlan, error) {
	plan := timeBoxPlan{revertTo: c.from}
	earlier := c.earlier
	if earlier == nil {
		earlier = s.readTimeBoxes(ctx, c.token.ID)
	}
	<-earlier.done
	if earlier.err != nil {
		return plan, earlier.err
	}
	due := s.now().Add(c.elevation)
	for _, rv := range earlier.pending { // earliest due first, the order the worker would take them in
		if rv.WorkspaceID != c.workspace || (c.elevation > 0 && rv.DueAt.After(due)) || (c.requestID != "" && rv.RequestID == c.requestID) {
			continue // a change never ends its own revert
		}
		if plan.revertTo == rv.ExpectedRole {
			plan.revertTo = rv.RevertTo
		}
		plan.ended = append(plan.ended, rv)
	}
	return plan, nil
}

// endTimeBoxes ends the earlier time-boxes a landed change made wrong, and says so. It runs under
// the token's lock, which the revert worker also holds from its check of a revert's state until
// it has marked it done, so none of them is half carried out.
func (s *Service) endTimeBoxes(ctx context.Context, req Request, c change, ended []store.Revert, r reply.Reply) reply.Reply {
	why := "superseded by a lasting change"
	if c.elevation > 0 {
		why = "taken over by a longer time-boxed change"
	}
	for _, rv := range ended {
		when := rv.DueAt.UTC().Format("2006-01-02 15:04 UTC")
		if _, err := s.reverts.SupersedeRevert(context.WithoutCancel(ctx), rv.ID, req.UserID, why); err != nil {
			if errors.Is(err, store.ErrStateConflict) {
				continue // someone ended it meanwhile (revert now); it is theirs to finish
			}
			ref := newRef()
			s.log.ErrorContext(ctx, "could not end an earlier time-box", "ref", ref, "revert", rv.ID, "token", c.token.ID, "err", err)
			r.Tone = reply.Warning
			r.Body = append(r.Body, reply.Line{
				reply.Textf("The bot could NOT end the earlier time-box %s (ref %s): at %s it may still put the role back to ", rv.ID, ref, when),
				roleSpan(rv.RevertTo), reply.Text("."),
			})
			continue
		}
		s.log.InfoContext(ctx, "earlier time-box ended", "revert", rv.ID, "token", c.token.ID, "workspace", c.workspace, "why", why)
		if c.elevation == 0 {
			r.Body = append(r.Body, reply.Line{reply.Text("This ends the earlier time-box "), reply.Literal(rv.ID),
				reply.Text(": it would have put the role back to "), roleSpan(rv.RevertTo), reply.Textf(" at %s.", when)})
		} else {
			r.Body = append(r.Body, reply.Line{reply.Text("This takes over the earlier time-box "), reply.Literal(rv.ID),
				reply.Textf(" (due %s, before this one): when this one ends, the role goes back to what that one would have left.", when)})
		}
	}
	return r
}

// timeBoxesRead is a read of a token's pending reverts, made beside the change's write to Astro
// so that settling them afterwards (planTimeBoxes, endTimeBoxes) adds no store round trip to the
// change; a lasting change, decided from where they lead (lastingVerdict), reads them first.
// The token's lock, held across both, keeps what it reads true: the revert worker completes a
// revert and a change schedules one only under that lock, and a revert ended by hand meanwhile
// (revert now) is found ended when settled.
type timeBoxesRead struct {
	done    chan struct{} // closed once pending and err are set
	pending []store.Revert
	err     error
}

// readTimeBoxesNow reads a token's pending reverts for a decision that needs them before
// anything else; the write reuses the read. It waits for the read, but the read still runs on
// a goroutine of its own: SQLite's code runs deep on its caller's stack, and a command's
// goroutine would keep that grown stack while it waits on Astro (≈ 0.7 MB more stacks under load).
func (s *Service) readTimeBoxesNow(ctx context.Context, tokenID string) *timeBoxesRead {
	read := s.readTimeBoxes(ctx, tokenID)
	<-read.done
	return read
}

func (s *Service) readTimeBoxes(ctx context.Context, tokenID string) *timeBoxesRead {
	read := &timeBoxesRead{done: make(chan struct{})}
	if s.reverts == nil {
		close(read.done)
		return read
	}
	go func() {
		defer close(read.done)
		// Not cut short with the command: a change that lands needs the answer.
		read.pending, read.err = s.reverts.ListPendingReverts(context.WithoutCancel(ctx), tokenID)
	}()
	return read
}

// noteTimeBoxes adds to a "nothing to do" answer the time-boxes that will change the role it
// found in place, so that nobody takes a role that is about to end for a lasting one.
func (s *Service) noteTimeBoxes(ctx context.Context, c change, r reply.Reply) reply.Reply {
	if s.reverts == nil {
		return r
	}
	pending, err := s.reverts.ListPendingReverts(ctx, c.token.ID)
	if err != nil {
		s.log.WarnContext(ctx, "could not read the token's pending reverts", "token", c.token.ID, "err", err)
		return r
	}
	for _, rv := range pending {
		if rv.WorkspaceID != c.workspace || rv.ExpectedRole != c.from {
			continue
		}
		r.Body = append(r.Body, reply.Line{reply.Text("The role is time-boxed: revert "), reply.Literal(rv.ID), reply.Text(" puts it back to "), roleSpan(rv.RevertTo),
			reply.Textf(" at %s. A lasting change to another role ends it; ", rv.DueAt.UTC().Format("2006-01-02 15:04 UTC")),
			reply.Literal(s.commandName + " revert-now " + rv.ID), reply.Text(" ends it now.")})
	}
	return r
}

// scheduleTimeBox schedules the revert of time-boxed change c and says so; scheduled is false only
// when that failed.
func (s *Service) scheduleTimeBox(ctx context.Context, req Request, c change, revertTo string, r reply.Reply, landed bool) (_ reply.Reply, scheduled bool) {
	if c.elevation == 0 || s.reverts == nil {
		return r, true
	}
	due := s.now().Add(c.elevation)
	rv, err := s.reverts.ScheduleRevert(context.WithoutCancel(ctx), store.Revert{
		RequestID: c.requestID, TokenID: c.token.ID, TokenName: c.token.Name, WorkspaceID: c.workspace,
		RevertTo: revertTo, ExpectedRole: c.to, DueAt: due, RequestedBy: req.UserID, ChannelID: req.ChannelID,
	})
	if err != nil {
		ref := newRef()
		s.log.ErrorContext(ctx, "could not schedule a revert", "ref", ref, "token", c.token.ID, "workspace", c.workspace, "landed", landed, "err", err)
		r.Tone = reply.Warning
		if landed {
			r.Body = append(r.Body, reply.Line{
				reply.Textf("The bot could NOT schedule putting the role back after %s, so the change lasts until someone reverts it (ref %s).", formatPeriod(c.elevation), ref),
			})
		} else {
			r.Body = append(r.Body, reply.Line{
				reply.Strong("The time-box could NOT be set up."),
				reply.Textf(" If the change landed, it lasts until someone reverts it by hand (ref %s).", ref),
			})
		}
		return r, false
	}
	when := due.UTC().Format("2006-01-02 15:04 UTC")
	var back reply.Line
	switch {
	case landed && rv.RevertTo == "":
		back = reply.Line{reply.Text("Time-boxed: in "), reply.Strong(formatPeriod(c.elevation)), reply.Textf(" (%s) the bot removes it from the workspace again", when)}
	case landed:
		back = reply.Line{reply.Text("Time-boxed: in "), reply.Strong(formatPeriod(c.elevation)), reply.Textf(" (%s) the bot puts it back to ", when), roleSpan(rv.RevertTo)}
	case rv.RevertTo == "":
		back = reply.Line{reply.Text("Time-boxed: if the change landed, the bot removes it from the workspace again in "), reply.Strong(formatPeriod(c.elevation)),
			reply.Textf(" (%s); if it did not, the revert will find nothing to undo", when)}
	default:
		back = reply.Line{reply.Text("Time-boxed: if the change landed, the bot puts it back to "), roleSpan(rv.RevertTo), reply.Text(" in "), reply.Strong(formatPeriod(c.elevation)),
			reply.Textf(" (%s); if it did not, the revert will find nothing to undo", when)}
	}
	back = append(back, reply.Text(". Revert "), reply.Literal(rv.ID), reply.Text("."))
	r.Body = append(r.Body, back)
	r.Buttons = append(r.Buttons, reply.Button{Label: "Revert now", ActionID: ActionRevertNow, Value: rv.ID})
	return r, true
}

// RunReverts carries out due reverts every interval until ctx ends. owner names this replica
// in leases; give each replica its own.
func (s *Service) RunReverts(ctx context.Context, every time.Duration, owner string) {
	if s.reverts == nil {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := s.ProcessDueReverts(ctx, owner); err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "revert worker", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ProcessDueReverts claims the reverts due now and carries each out once.
func (s *Service) ProcessDueReverts(ctx context.Context, owner string) error {
	if s.reverts == nil {
		return nil
	}
	due, err := s.reverts.ClaimDueReverts(ctx, s.now(), owner, revertLease)
	if err != nil {
		return err
	}
	for _, rv := range due {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.revertOne(ctx, rv)
	}
	return nil
}

// lockForRevert takes rv's token lock for the worker, waiting no longer than workerLockWait.
// If the wait ends first (or ctx does) nothing was tried: the claim is handed back, not
// counted among rv's attempts, and busy says so.
func (s *Service) lockForRevert(ctx context.Context, rv store.Revert) (unlock func(), busy bool, err error) {
	wait, cancel := context.WithTimeout(ctx, s.workerLockWait)
	defer cancel()
	unlock, err = s.locker.LockToken(wait, rv.TokenID)
	if err == nil || wait.Err() == nil {
		return unlock, false, err
	}
	s.log.WarnContext(ctx, "token busy; revert left for a later pass", "revert", rv.ID, "token", rv.TokenID, "waited", s.workerLockWait, "err", err)
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer rcancel()
	if _, rerr := s.reverts.ReleaseRevert(rctx, rv); rerr != nil {
		// Still leased: claimed again once the lease runs out, this claim counted.
		s.log.ErrorContext(ctx, "could not hand back a revert whose token was busy", "revert", rv.ID, "err", rerr)
	}
	return nil, true, err
}

// revertOutcome is what happened to one revert, for the store, the log and the channel.
type revertOutcome struct {
	done    bool   // finished one way or another; false means try again later
	outcome string // for the store
	// superseded: a change to the same token and workspace ended the revert before it began;
	// there is nothing to do or tell.
	superseded bool
	reply      reply.Reply
	// action, before and after are its audit entry: revert.done, revert.skipped (the role was
	// left as it is: before = after) or revert.failed.
	action, before, after string
	// mayHaveWritten: the attempt's write may have landed unseen (Astro's answer was lost).
	mayHaveWritten bool
	// sawElevated: the attempt read the role the bot set still in place, which proves no earlier
	// attempt's write landed; mayHaveWritten then speaks for every attempt so far.
	sawElevated bool
	// busy: the token's lock could not be had in time, so nothing was tried; the revert was
	// handed back for a later pass (lockForRevert).
	busy bool
}

// revertOne is the worker's carrying out of a due revert: it puts a token's role back under the
// token's lock, keeping every other role, unless someone changed the role since the bot set it:
// then it reports instead. A time-box nested in it that has not ended yet (Astro kept failing,
// or it falls due at the same moment) is not such a change: doRevert follows it as revert-now
// does. (An early revert by hand takes revertNow's path.)
func (s *Service) revertOne(ctx context.Context, rv store.Revert) revertOutcome {
	return s.revertTold(ctx, rv, "", s.revertUnderLock(ctx, rv))
}

// revertTold logs, audits and announces what became of rv, once the token's lock is let go.
func (s *Service) revertTold(ctx context.Context, rv store.Revert, by string, out revertOutcome) revertOutcome {
	switch {
	case out.busy:
		return out
	case out.superseded:
		s.log.InfoContext(ctx, "revert was superseded before it began", "revert", rv.ID, "token", rv.TokenID, "outcome", out.outcome)
		return out
	case !out.done:
		s.log.WarnContext(ctx, "revert failed; will retry", "revert", rv.ID, "token", rv.TokenID, "attempt", rv.Attempts, "outcome", out.outcome)
		return out
	}
	s.log.InfoContext(ctx, "revert finished", "revert", rv.ID, "token", rv.TokenID, "workspace", rv.WorkspaceID, "by", by, "outcome", out.outcome)
	s.recordAudit(ctx, store.AuditEntry{
		ActorID: actorOf(by), Action: out.action, TokenID: rv.TokenID, TokenName: rv.TokenName, WorkspaceID: rv.WorkspaceID,
		Before: out.before, After: out.after, RequestID: rv.RequestID, Detail: "revert " + rv.ID + ": " + out.outcome,
	})
	if s.announcer != nil && rv.ChannelID != "" {
		if _, err := s.announcer.Post(context.WithoutCancel(ctx), rv.ChannelID, out.reply); err != nil {
			s.log.ErrorContext(ctx, "could not announce a revert", "revert", rv.ID, "channel", rv.ChannelID, "err", err)
		}
	}
	return out
}

// revertUnderLock carries out rv for the worker holding the token's lock, and settles it in the
// store before letting the lock go. A change to the token, which ends the reverts it makes wrong
// under the same lock (see endTimeBoxes), so finds each revert either finished or not begun, and
// the worker sees the ending before it writes.
func (s *Service) revertUnderLock(ctx context.Context, rv store.Revert) revertOutcome {
	const by = "" // the worker
	if _, err := s.workspaces.load(ctx); err != nil {
		s.log.WarnContext(ctx, "could not read workspace names", "err", err)
	}
	unlock, busy, err := s.lockForRevert(ctx, rv)
	if busy {
		return revertOutcome{busy: true}
	}
	if err != nil {
		return s.settleRevert(ctx, rv, by, s.revertNotYet(ctx, rv, s.revertRef(rv, &astro.Token{ID: rv.TokenID, Name: rv.TokenName}), "the token is busy", err))
	}
	defer unlock()
	notYet := func(err error) revertOutcome {
		return s.settleRevert(ctx, rv, by, s.revertNotYet(ctx, rv, s.revertRef(rv, &astro.Token{ID: rv.TokenID, Name: rv.TokenName}), "its state could not be read", err))
	}
	stored, err := s.reverts.GetRevert(ctx, rv.ID)
	if err != nil {
		return notYet(err)
	}
	if stored.State != store.RevertPending {
		return revertOutcome{done: true, superseded: true, outcome: stored.Outcome}
	}
	pending, err := s.reverts.ListPendingReverts(ctx, rv.TokenID)
	if err != nil {
		return notYet(err)
	}
	nested, _ := nestedIn(pending, stored)
	return s.settleRevert(ctx, stored, by, s.doRevert(ctx, stored, by, nested))
}

// settleRevert gives up on a revert that failed too often, and marks one the worker finished
// as done.
func (s *Service) settleRevert(ctx context.Context, rv store.Revert, by string, out revertOutcome) revertOutcome {
	if !out.done && rv.Attempts >= maxRevertAttempts {
		out.done = true
		out.reply.Title = "Could not put a token's role back"
		if out.mayHaveWritten {
			out.reply.Notes = append(out.reply.Notes, reply.Line{reply.Text("Astro's answer to the last attempt was lost, so the role may have been put back after all; check with "),
				reply.Literal(s.commandName + " show " + rv.TokenID), reply.Text(".")})
		}
		out.reply.Notes = append(out.reply.Notes, reply.Para("The bot has given up retrying; please restore the role by hand."))
		out.outcome = "failed: " + out.outcome
		out.action, out.before, out.after = "revert.failed", "", ""
	}
	if out.done && by == "" {
		if _, err := s.reverts.CompleteRevert(context.WithoutCancel(ctx), rv.ID, out.outcome); err != nil {
			s.log.ErrorContext(ctx, "could not mark a revert done", "revert", rv.ID, "err", err)
		}
	}
	if !out.done && by == "" && (out.mayHaveWritten || out.sawElevated && rv.MayHaveWritten) {
		// Remembered for the next attempt: finding the role put back, it is to report the revert
		// as done by the bot, not as having had nothing to do. Forgotten once a read proves no
		// attempt so far landed, so a role someone else puts back is not claimed as the bot's.
		if _, err := s.reverts.NoteMayHaveWritten(context.WithoutCancel(ctx), rv.ID, out.mayHaveWritten); err != nil {
			s.log.WarnContext(ctx, "could not note that a revert's write may have landed", "revert", rv.ID, "err", err)
		}
	}
	if !out.done && by != "" {
		// Ended early by hand but not carried out: handed back to the worker, due now, so a
		// passing Astro failure does not leave the elevation in place for good. Scheduled before
		// the token's lock goes, so that a change made next finds it and ends it if it must.
		retry := rv
		retry.MayHaveWritten = out.mayHaveWritten || rv.MayHaveWritten && !out.sawElevated
		// Due now, but no later than rv was: it stays nested in the time-boxes rv was nested
		// in, which follow it when they fall due (nestedIn) rather than report a change.
		if now := s.now(); now.Before(rv.DueAt) {
			retry.DueAt = now
		}
		if _, err := s.reverts.ScheduleRevert(context.WithoutCancel(ctx), retry); err != nil {
			ref := newRef()
			s.log.ErrorContext(ctx, "could not reschedule a failed early revert", "ref", ref, "revert", rv.ID, "err", err)
			out.reply.Tone = reply.Warning
			// Nothing is left pending to end the elevation, so the user must not be told otherwise.
			out.reply.Notes = append(out.reply.Notes, reply.Line{
				reply.Textf("The bot could NOT hand this back to its revert worker (ref %s), so nothing will try again: put back ", ref),
				roleSpan(rv.RevertTo), reply.Text(" by hand once Astro answers ("),
				reply.Literal(s.commandName + " show " + rv.TokenID), reply.Text(" shows the role now)."),
			})
			return out
		}
		out.reply.Notes = append(out.reply.Notes, reply.Para("The bot will keep trying in the background."))
	}
	return out
}

func (s *Service) revertRef(rv store.Revert, tok *astro.Token) reply.Line {
	return concat(tokenRef(tok), reply.Line{reply.Text(" in workspace ")}, s.workspaceSpans(rv.WorkspaceID))
}

// revertNotYet is a revert attempt that failed and is to be tried again.
func (s *Service) revertNotYet(ctx context.Context, rv store.Revert, ref reply.Line, why string, err error) revertOutcome {
	s.log.WarnContext(ctx, "revert attempt failed", "revert", rv.ID, "token", rv.TokenID, "err", err)
	r := reply.Reply{
		Visibility: reply.InChannel, Tone: reply.Failure, Title: "Could not put a token's role back yet",
		Body: []reply.Line{concat(reply.Line{reply.Textf("Revert %s of ", rv.ID)}, ref, reply.Line{reply.Text(": " + why + ".")})},
	}
	// Astro's answer, when there was one, says why (the bot's token lacks permission, a role
	// refused) and its request ID is what Astro's support asks for.
	var apiErr *astro.Error
	if errors.As(err, &apiErr) {
		line := reply.Line{reply.Textf("Astro answered HTTP %d", apiErr.StatusCode)}
		if said := astroSaid(apiErr); said != "" {
			line = reply.Line{reply.Textf("Astro answered HTTP %d and said: %s", apiErr.StatusCode, said)}
		}
		r.Body = append(r.Body, line)
		if apiErr.RequestID != "" {
			r.Notes = append(r.Notes, astroRequestIDLine(apiErr.RequestID))
		}
	}
	return revertOutcome{outcome: why, reply: r}
}

// doRevert is one attempt at rv; the caller holds the token's lock. nested are the pending
// time-boxes nested in rv (nestedIn; revert-now ends them itself and passes none). If, from the
// current role, they would bring back the role rv set, rv is carried out from the current role
// and ends them, as revert-now does: otherwise the role they leave behind would be rv's, for
// good. Before the write rv is stored as undoing the current role and they are ended, in one
// store transaction, so that an attempt after a refused write, or one that landed unseen,
// undoes that role or finds it back, with nothing nested left to report a change the bot made.
func (s *Service) doRevert(ctx context.Context, rv store.Revert, by string, nested []store.Revert) revertOutcome {
	cur, out := s.readForRevert(ctx, rv)
	if cur == nil {
		return out
	}
	now := astro.WorkspaceRoleOf(cur.Roles, rv.WorkspaceID)
	chain := followChain(nested, rv, now)
	if !chain.leads || len(chain.nested) == 0 {
		return s.revertRole(ctx, rv, by, cur)
	}
	if now != rv.RevertTo {
		rv.ExpectedRole = now
	}
	ids, err := s.reverts.EndNestedReverts(context.WithoutCancel(ctx), rv.ID, rv.ExpectedRole, actorOf(by), nestedEnds(chain.nested, rv, by))
	if err != nil {
		return s.revertNotYet(ctx, rv, s.revertRef(rv, cur), "its nested time-boxes could not be ended", err)
	}
	return s.nestedEnded(ctx, by, rv, chain.nested, ids).tell(s.revertRole(ctx, rv, by, cur))
}

// readForRevert reads rv's token for an attempt at rv; if it cannot, tok is nil and out is the
// attempt's outcome.
func (s *Service) readForRevert(ctx context.Context, rv store.Revert) (tok *astro.Token, out revertOutcome) {
	ref := s.revertRef(rv, &astro.Token{ID: rv.TokenID, Name: rv.TokenName})
	cur, err := s.tokens.GetToken(ctx, rv.TokenID)
	if astro.IsNotFound(err) {
		return nil, revertOutcome{done: true, outcome: "skipped: the token no longer exists", action: "revert.skipped", reply: reply.Reply{
			Visibility: reply.InChannel, Tone: reply.Warning, Title: "Time-boxed change not reverted",
			Body: []reply.Line{concat(reply.Line{reply.Text("The time-boxed role of ")}, ref, reply.Line{reply.Text(" ended, but the token no longer exists; nothing to put back.")})},
		}}
	}
	if err != nil {
		return nil, s.revertNotYet(ctx, rv, ref, "Astro could not be read", err)
	}
	return cur, revertOutcome{}
}

// revertRole puts back rv's role on cur, the token as read under its lock, unless it already is
// back or someone changed it since the bot set it.
func (s *Service) revertRole(ctx context.Context, rv store.Revert, by string, cur *astro.Token) revertOutcome {
	ref := s.revertRef(rv, cur)
	failed := func(why string, err error) revertOutcome { return s.revertNotYet(ctx, rv, ref, why, err) }
	now := astro.WorkspaceRoleOf(cur.Roles, rv.WorkspaceID)
	who := reply.Line{reply.Text("The time-boxed change")}
	if rv.RequestedBy != "" {
		who = reply.Line{reply.Text("The time-boxed change "), reply.Mention(rv.RequestedBy), reply.Text(" asked for")}
	}
	switch {
	case now == rv.RevertTo && rv.MayHaveWritten:
		// An earlier attempt's write, whose answer was lost, put it back.
		out := s.reverted(rv, "", who, ref, rv.ExpectedRole)
		out.outcome += "; Astro's answer to an earlier attempt was lost, and reading the token back shows it put back"
		out.reply.Notes = append(out.reply.Notes, reply.Para("Astro's answer to an earlier attempt was lost; reading the token back shows the role put back."))
		return out
	case now == rv.RevertTo:
		return revertOutcome{done: true, outcome: "already back to " + roleWord(rv.RevertTo), action: "revert.skipped", before: now, after: now, reply: reply.Reply{
			Visibility: reply.InChannel, Tone: reply.Info, Title: "Time-boxed change ended",
			Body: []reply.Line{concat(who, reply.Line{reply.Text(" ended: ")}, ref, reply.Line{reply.Text(" already has "), roleSpan(now), reply.Text(", so nothing needed changing.")})},
		}}
	case now != rv.ExpectedRole:
		// Someone changed the role after the bot set it; their change wins.
		return revertOutcome{done: true, outcome: fmt.Sprintf("skipped: role is %s, not %s; changed by someone else", roleWord(now), roleWord(rv.ExpectedRole)),
			action: "revert.skipped", before: now, after: now, reply: reply.Reply{
				Visibility: reply.InChannel, Tone: reply.Warning, Title: "Time-boxed change not reverted: the role was changed since",
				Body: []reply.Line{
					concat(who, reply.Line{reply.Text(" ended, but ")}, ref, reply.Line{reply.Text(" now has "), roleSpan(now), reply.Text(", not "), roleSpan(rv.ExpectedRole), reply.Text(" as the bot set it.")}),
					{reply.Text("The bot left it as it is rather than undo a later change. It would have put it back to "), roleSpan(rv.RevertTo), reply.Text(".")},
				},
				Notes: []reply.Line{{reply.Text("Check with "), reply.Literal(s.commandName + " show " + rv.TokenID), reply.Text(".")}},
			}}
	}
	after, err := s.tokens.UpdateTokenRoles(ctx, rv.TokenID, astro.WithWorkspaceRole(cur.Roles, rv.WorkspaceID, rv.RevertTo))
	if err != nil {
		// An unknown outcome is settled by the next attempt's read: it finds the role put back,
		// and, told that this write may have landed (settleRevert), reports the revert done.
		// Only an answer the client could not tell apart from success counts: a write that
		// provably never left (a refused connection) cannot have put the role back.
		out := failed("Astro refused or failed the change", err)
		out.mayHaveWritten, out.sawElevated = astro.IsOutcomeUnknown(err), true
		return out
	}
	if got := after.WorkspaceRole(rv.WorkspaceID); got != rv.RevertTo {
		out := failed(fmt.Sprintf("Astro reports %s afterwards", roleWord(got)), nil)
		out.sawElevated = true
		return out
	}
	return s.reverted(rv, by, who, ref, now)
}

// reverted is the outcome of rv carried out from role before (by, "" for the worker, ended it
// early).
func (s *Service) reverted(rv store.Revert, by string, who, ref reply.Line, before string) revertOutcome {
	title, what := "Time-boxed change reverted", reply.Line{reply.Text(" — put back to "), roleSpan(rv.RevertTo), reply.Text(".")}
	if rv.RevertTo == "" {
		what = reply.Line{reply.Text(" — removed again.")}
	}
	body := concat(who, reply.Line{reply.Text(" ended: ")}, ref, reply.Line{reply.Text(" was "), roleSpan(before)}, what)
	if by != "" {
		body = concat(reply.Line{reply.Mention(by), reply.Text(" ended it early. ")}, body)
	}
	return revertOutcome{done: true, outcome: "reverted to " + roleWord(rv.RevertTo), action: "revert.done", before: before, after: rv.RevertTo, reply: reply.Reply{
		Visibility: reply.InChannel, Tone: reply.Success, Title: title,
		Body:  []reply.Line{body},
		Notes: []reply.Line{reply.Para("Its other roles were kept as they were.")},
	}}
}

func roleWord(role string) string {
	if role == "" {
		return "no role"
	}
	return role
}

// runRevertNow ends a time-boxed change early: /orgtoken revert-now REVERT_ID.
func runRevertNow(ctx context.Context, s *Service, req Request, a *args) (reply.Reply, error) {
	return s.revertNow(ctx, req, a.Positionals[0])
}

// actRevertNow is the "Revert now" button; its value is only the revert's ID.
func actRevertNow(ctx context.Context, s *Service, act Action) (reply.Reply, error) {
	req := Request{UserID: act.UserID, UserName: act.UserName, ChannelID: act.ChannelID}
	return s.revertNow(ctx, req, act.Value)
}

// revertNow ends a time-boxed change early. Under the token's lock it works out what ending it
// means (planRevertNow), checks that the user may make that change (the same policy as making it
// by hand), then takes the revert from the worker by cancelling it, and carries it out. Whoever
// cancels first wins, so the worker and a click never both act.
func (s *Service) revertNow(ctx context.Context, req Request, id string) (reply.Reply, error) {
	if s.reverts == nil {
		return reply.Reply{}, &Error{Code: EInvalid, Message: "Time-boxed changes are not enabled on this bot."}
	}
	id = strings.TrimSpace(id)
	if !idPattern.MatchString(id) {
		return reply.Reply{}, &Error{Code: EInvalid, Message: fmt.Sprintf("%s is not a revert ID.", quote(id)),
			Hint: "Revert IDs start with v; " + s.commandName + " show TOKEN lists a token's pending reverts."}
	}
	got, err := s.reverts.GetRevert(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && got.State != store.RevertPending) {
		return reply.Reply{}, &Error{Code: ENotFound, Message: fmt.Sprintf("There is no pending revert %s.", quote(id)),
			Hint: "It may already have been carried out or ended; " + s.commandName + " show TOKEN lists a token's pending reverts."}
	}
	if err != nil {
		return reply.Reply{}, err
	}
	rv := &got
	if _, err := s.workspaces.load(ctx); err != nil {
		s.log.WarnContext(ctx, "could not read workspace names", "err", err)
	}
	unlock, err := s.locker.LockToken(ctx, rv.TokenID)
	if err != nil {
		return reply.Reply{}, err
	}
	out, r, done, err := s.revertNowLocked(ctx, req, rv)
	unlock()
	if done || err != nil {
		return r, err
	}
	out = s.revertTold(ctx, *rv, req.UserID, out)
	r = out.reply
	if s.announcer != nil && rv.ChannelID != "" && out.done {
		// The channel has been told; the clicker gets a short confirmation.
		return reply.Reply{Visibility: reply.Ephemeral, Tone: r.Tone, Title: r.Title, Body: r.Body}, nil
	}
	return r, nil
}

// revertNowPlan is what ending a time-box early does.
type revertNowPlan struct {
	// from is the role the user is taken to change to the revert's RevertTo, for policy.
	from string
	// nested are the time-boxes nested in this one that end with it, earliest due first.
	nested []nestedRevert
}

// planRevertNow works out what ending rv now means; the caller holds the token's lock. If the
// time-boxes nested in rv lead back to the role rv set (followChain), ending rv ends them all:
// without rv there is nothing for them to return to, and one left in place would later bring
// back a role the user has just ended. The revert then applies to the current role, which is
// what policy is asked about. Otherwise, someone else changed the role, and rv is carried out as
// it stands: the worker reports instead of overwriting.
func (s *Service) planRevertNow(ctx context.Context, rv *store.Revert) (revertNowPlan, error) {
	plan := revertNowPlan{from: rv.ExpectedRole}
	pending, err := s.reverts.ListPendingReverts(ctx, rv.TokenID)
	if err != nil {
		return plan, err
	}
	nested, found := nestedIn(pending, *rv)
	if !found {
		return plan, s.revertGone(rv)
	}
	if len(nested) == 0 {
		// The revert writes only over the role it set, so that is the change to authorize,
		// with no read of the token.
		return plan, nil
	}
	// Fail closed: without the current role the change to authorize is unknown.
	tok, err := s.getToken(ctx, rv.TokenID)
	if err != nil {
		return plan, err
	}
	cur := astro.WorkspaceRoleOf(tok.Roles, rv.WorkspaceID)
	chain := followChain(nested, *rv, cur)
	if !chain.leads || len(chain.nested) == 0 {
		return plan, nil
	}
	plan.nested = chain.nested
	// A role that already is rv's RevertTo is not written: ending rv is then the change made,
	// authorized as it stands.
	if cur != rv.RevertTo {
		plan.from = cur
	}
	return plan, nil
}

// nestedIn returns the pending reverts (earliest due first, as the store lists them) of rv's
// workspace that fall due no later than rv, other than rv: the time-boxes that may be nested in
// it. found reports whether rv itself is among them, that is, still pending.
func nestedIn(pending []store.Revert, rv store.Revert) (nested []store.Revert, found bool) {
	for _, p := range pending {
		switch {
		case p.ID == rv.ID:
			found = true
		case p.WorkspaceID == rv.WorkspaceID && !p.DueAt.After(rv.DueAt):
			nested = append(nested, p)
		}
	}
	return nested, found
}

// nestedRevert is a time-box nested in another, with what it would have done at its turn.
type nestedRevert struct {
	store.Revert
	// applies: the role at its turn would be the one it set, so it would put back its RevertTo;
	// otherwise it would have had nothing to do.
	applies bool
}

// nestedChain is where the time-boxes nested in a revert lead.
type nestedChain struct {
	nested []nestedRevert // earliest due first
	// leads: from the current role they bring the role back to the one the revert set (or
	// leave it there), so the revert undoes the current role and they end with it.
	leads bool
}

// followChain takes the time-boxes nested in rv (nestedIn) from the current role cur as the
// worker would, each putting back its role only if the role then is the one it set. One due at
// the same moment as rv counts only if it would put back its role: which of the two the worker
// takes first is up to their IDs, and one it would skip may as well be rv's outer one, still
// wanted after rv.
func followChain(nested []store.Revert, rv store.Revert, cur string) nestedChain {
	var chain nestedChain
	role := cur
	for _, n := range nested {
		applies := role == n.ExpectedRole
		if !applies && n.DueAt.Equal(rv.DueAt) {
			continue
		}
		if applies {
			role = n.RevertTo
		}
		chain.nested = append(chain.nested, nestedRevert{Revert: n, applies: applies})
	}
	chain.leads = role == rv.ExpectedRole
	return chain
}

// revertNowLocked is revertNow's part under the token's lock. done reports that r, or err, is
// the whole answer and nothing was carried out.
func (s *Service) revertNowLocked(ctx context.Context, req Request, rv *store.Revert) (_ revertOutcome, r reply.Reply, done bool, err error) {
	plan, err := s.planRevertNow(ctx, rv)
	if err != nil {
		return revertOutcome{}, r, true, err
	}
	in := policy.Input{UserID: req.UserID, ChannelID: req.ChannelID, WorkspaceID: rv.WorkspaceID, CurrentRole: plan.from}
	if rv.RevertTo == "" {
		in.Action = policy.ActionRemove
	} else {
		in.Action, in.Role = policy.ActionUpdate, rv.RevertTo
	}
	d, err := s.authorize(ctx, in)
	if err != nil {
		return revertOutcome{}, r, true, err
	}
	if d.NeedsApproval() {
		// The change may be a raise (ending a time-boxed downgrade), and a typed revert-now
		// lands here as a click does: neither can wait for approvers, but a request can.
		ask := fmt.Sprintf("%s update %s --role %s -w %s --reason \"…\"", s.commandName, rv.TokenID, rv.RevertTo, rv.WorkspaceID)
		if rv.RevertTo == "" {
			ask = fmt.Sprintf("%s remove %s -w %s --reason \"…\"", s.commandName, rv.TokenID, rv.WorkspaceID)
		}
		return revertOutcome{}, r, true, &Error{Code: EDenied, Message: "Ending this time-boxed change early needs approval under the policy, which revert-now cannot wait for.",
			Hint: "It ends on schedule at " + dueText(*rv) + ". To have it sooner, ask for the change with approval: " + ask}
	}
	if d.Confirm {
		// A click must not skip the typed name the same change needs by hand. The form runs
		// the typed equivalent again, which lands back here with ConfirmedName set.
		if req.Text == "" {
			req.Text = "revert-now " + rv.ID
		}
		c := change{action: in.Action, token: &astro.Token{ID: rv.TokenID, Name: rv.TokenName}, workspace: rv.WorkspaceID,
			from: plan.from, to: rv.RevertTo, wsName: s.workspaces.name(rv.WorkspaceID)}
		if r, done, err := confirmation(req, c); done || err != nil {
			return revertOutcome{}, r, true, err
		}
	}
	// The nested ones end with rv, in one store transaction, before the write: should it fail,
	// the retry scheduled in its place (settleRevert) puts back rv's role from the current one,
	// with nothing left to undo it.
	ids, err := s.reverts.CancelRevertAndNested(context.WithoutCancel(ctx), rv.ID, req.UserID, nestedEnds(plan.nested, *rv, req.UserID))
	if err != nil {
		if errors.Is(err, store.ErrStateConflict) || errors.Is(err, store.ErrNotFound) {
			return revertOutcome{}, r, true, s.revertGone(rv)
		}
		return revertOutcome{}, r, true, err
	}
	if rv.ChannelID == "" {
		rv.ChannelID = req.ChannelID
	}
	ended := s.nestedEnded(ctx, req.UserID, *rv, plan.nested, ids)
	if len(plan.nested) > 0 {
		rv.ExpectedRole = plan.from
	}
	return ended.tell(s.settleRevert(ctx, *rv, req.UserID, s.doRevert(ctx, *rv, req.UserID, nil))), r, false, nil
}

// revertGone answers a revert-now of a revert someone else took or ended before it.
func (s *Service) revertGone(rv *store.Revert) error {
	return &Error{Code: EConflict, Message: "This revert is already being carried out or has ended.",
		Hint: "Check with " + s.commandName + " show " + rv.TokenID + "."}
}

// endedNested is what ending the time-boxes nested in a revert did, for the reply and the
// audit.
type endedNested struct {
	ids   []string
	lines []reply.Line
}

// tell adds what endedNested did to the outcome of the revert the time-boxes were nested in.
func (e endedNested) tell(out revertOutcome) revertOutcome {
	out.reply.Body = append(out.reply.Body, e.lines...)
	if len(e.ids) > 0 {
		out.outcome += "; ended nested " + strings.Join(e.ids, ", ")
	}
	return out
}

// nestedEnds is what the store records for each of nested as it ends with rv.
func nestedEnds(nested []nestedRevert, rv store.Revert, by string) []store.NestedEnd {
	ends := make([]store.NestedEnd, len(nested))
	for i, n := range nested {
		ends[i] = store.NestedEnd{ID: n.ID, Outcome: nestedOutcome(n, rv, by)}
	}
	return ends
}

// nestedEnded records those of nested that the store ended (ids) with rv, for by (revert-now)
// or the worker (by ""): logged and audited at once (the attempt at rv that ended them may
// fail, and its reply is then not posted), and told in rv's reply.
func (s *Service) nestedEnded(ctx context.Context, by string, rv store.Revert, nested []nestedRevert, ids []string) endedNested {
	var e endedNested
	for _, n := range nested {
		if slices.Contains(ids, n.ID) {
			e.ended(ctx, s, by, rv, n)
		}
	}
	return e
}

// actorOf is who acts for by: the user, or the worker.
func actorOf(by string) string {
	if by == "" {
		return workerActor
	}
	return by
}

// nestedOutcome is what is recorded for n, nested in rv, as it ends with rv.
func nestedOutcome(n nestedRevert, rv store.Revert, by string) string {
	early := "early "
	if by == "" {
		early = ""
	}
	outcome := fmt.Sprintf("ended %swith %s, the time-box it was nested in", early, rv.ID)
	if !n.applies {
		outcome += "; it would have had nothing to do"
	}
	return outcome
}

func dueText(rv store.Revert) string { return rv.DueAt.UTC().Format("2006-01-02 15:04 UTC") }

// ended records that n, nested in rv, has ended with it (see nestedEnded).
func (e *endedNested) ended(ctx context.Context, s *Service, by string, rv store.Revert, n nestedRevert) {
	s.log.InfoContext(ctx, "nested time-box ended", "revert", n.ID, "outer", rv.ID, "token", rv.TokenID, "workspace", rv.WorkspaceID, "applies", n.applies)
	s.recordAudit(ctx, store.AuditEntry{
		ActorID: actorOf(by), Action: "revert.ended", TokenID: rv.TokenID, TokenName: rv.TokenName, WorkspaceID: rv.WorkspaceID,
		RequestID: n.RequestID, Detail: "revert " + n.ID + ": " + nestedOutcome(n, rv, by),
	})
	e.ids = append(e.ids, n.ID)
	when := dueText(n.Revert)
	line := reply.Line{reply.Text("This also ends the time-box "), reply.Literal(n.ID), reply.Text(" nested in it")}
	switch {
	case !n.applies:
		// Its turn would have found another role than the one it set.
		line = append(line, reply.Textf(", due at %s: it would have had nothing to do.", when))
	case n.DueAt.After(s.now()):
		line = append(line, reply.Text(": it would have put the role back to "), roleSpan(n.RevertTo), reply.Textf(" at %s.", when))
	default:
		// The worker has not managed it yet (Astro failed, or it is next).
		line = append(line, reply.Textf(", due at %s but not carried out yet: it would have put the role back to ", when), roleSpan(n.RevertTo), reply.Text("."))
	}
	e.lines = append(e.lines, line)
}

func revertNowCommand() *command {
	return &command{
		Verb:     "revert-now",
		Usage:    "revert-now REVERT_ID",
		Summary:  "End a time-boxed change early: put the token's role back now (show lists pending reverts).",
		Examples: []string{"revert-now v3k9q2m7x1c4d"},
		check:    checkPositionals(1, 1, "the revert's ID"),
		run:      runRevertNow,
	}
}
