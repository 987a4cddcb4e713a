package commands

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/orgtoken/orgtoken-bot/astro"
	"github.com/orgtoken/orgtoken-bot/policy"
	"github.com/orgtoken/orgtoken-bot/reply"
)

var explainableVerbs = []string{string(policy.ActionAdd), string(policy.ActionUpdate), string(policy.ActionRemove)}

func explainCommand() *command {
	return &command{
		Verb:    "explain",
		Usage:   "explain (add|update|remove) (TOKEN_ID | --org-token-name NAME | -n NAME) [--role ROLE] [--workspace WS] [--for DURATION] [--reason TEXT]",
		Summary: "Say whether you may make a change, whether it needs approval and who can approve. Changes nothing.",
		// --for and --reason too, so that a change can be pasted in whole (explain's own answers
		// ask for them) and is decided as it would be.
		Flags: []flagSpec{flagName, flagRole, flagWorkspace, flagWorkspaceName, flagFor, flagReason},
		Examples: []string{
			"explain update clx1abc2def3 --role owner",
			`explain remove -n "CI deployer" -w clwsprod`,
		},
		check: checkExplain,
		run:   runExplain,
	}
}

// checkExplain validates "explain VERB target…" as the verb itself would validate its target.
func checkExplain(cmd *command, a *args) error {
	// "explain -- -r owner": the change asked about would be a flag typed after "--".
	if n := len(a.Positionals); n > 0 && a.afterEnd == n && cmd.writtenAsFlag(a.Positionals[0]) {
		return endedFlags(cmd, a, quote(a.Positionals[0])+" is written as a flag, but")
	}
	if len(a.Positionals) == 0 || !slices.Contains(explainableVerbs, string(explainedAction(a))) {
		e := usageErr(cmd, "Which change? Start with add, update or remove.")
		e.Hint = "For example: explain update TOKEN_ID --role owner."
		return e
	}
	verb := string(explainedAction(a))
	target := *a
	target.Positionals = a.Positionals[1:]
	if err := checkTarget(false)(cmd, &target); err != nil {
		return err
	}
	switch {
	case verb == string(policy.ActionRemove) && a.has(flagRole.Long):
		e := usageErr(cmd, "remove takes no --role: it removes whatever role the token has in the workspace.")
		return e
	case verb != string(policy.ActionRemove) && !a.has(flagRole.Long):
		// Asked here rather than by checkTarget, whose message would name explain, not the change.
		e := usageErr(cmd, "The --role flag is required for explain %s.", verb)
		e.Hint = "Valid roles: " + roleChoices() + "."
		return e
	}
	return nil
}

// explainedAction is the change explain is asked about; verbs ignore case, as they do when
// typed first.
func explainedAction(a *args) policy.Action {
	return policy.Action(strings.ToLower(a.Positionals[0]))
}

// runExplain decides the change as policy would, without writing anything. It reads the token
// (to know its current role, which decides the direction of the change) but takes no lock.
func runExplain(ctx context.Context, s *Service, req Request, a *args) (reply.Reply, error) {
	action := explainedAction(a)
	target := *a
	target.Positionals = a.Positionals[1:]
	ws, err := s.workspaceFor(ctx, req, a)
	if err != nil {
		return reply.Reply{}, s.namesOnlyIfListed(ctx, req, err)
	}
	tok, err := s.findToken(ctx, &target)
	if err != nil {
		return reply.Reply{}, s.namesOnlyIfListed(ctx, req, err)
	}
	c := change{action: action, token: tok, workspace: ws, from: astro.WorkspaceRoleOf(tok.Roles, ws), to: a.Role, wsName: s.workspaces.name(ws), elevation: a.For}
	if err := s.refuseUnseen(ctx, req, c.policyInput(req)); err != nil {
		if e, ok := err.(*Error); ok && e.Code == EDenied && len(e.Details) > 0 { // a refusal, not "could not check"
			typed := a.Name
			if len(target.Positionals) == 1 {
				typed = target.Positionals[0]
			}
			return unseenRefusal(c, e, typed, cmp.Or(a.WorkspaceID, c.workspace)), nil
		}
		return reply.Reply{}, err
	}
	if r, done, err := s.checkChange(c); done || err != nil {
		return r, err
	}
	d, err := s.auth.Decide(ctx, policy.Input{UserID: req.UserID, ChannelID: req.ChannelID, Action: action,
		WorkspaceID: ws, Role: c.to, CurrentRole: c.from})
	if err != nil {
		ref := newRef()
		s.log.ErrorContext(ctx, "authorization failed", "ref", ref, "user", req.UserID, "action", action, "err", err)
		return reply.Reply{}, &Error{Code: EDenied, Message: "Could not check whether you may do this.",
			Hint: "Try again; if it keeps happening give the bot's operator this reference: ref " + ref + "."}
	}

	var capped time.Duration
	if d.Allowed && c.elevation > 0 {
		// As the change itself would be decided (checkElevation): a time-box within bounds and
		// the policy's cap. Bad input is answered as the change would answer it.
		if err := s.checkTimeBox(c, d); err != nil {
			e, ok := err.(*Error)
			if !ok || e.Code != EDenied {
				return reply.Reply{}, err
			}
			d = policy.Decision{Rule: d.Rule, Reason: e.Message}
		}
	} else if d.Allowed {
		// As the change itself would be decided: a lasting one is also decided from the role the
		// token's time-boxes lead back to (lastingVerdict).
		v, err := s.lastingVerdict(ctx, req, c, d)
		if err != nil {
			return reply.Reply{}, err
		}
		if capped = v.capped; v.why != "" {
			d = policy.Decision{Reason: v.why}
		} else {
			d = stricter(d, v.base)
		}
	}
	out := reply.Reply{Visibility: reply.Ephemeral, Body: []reply.Line{describeChange(c)}}
	if c.elevation > 0 {
		out.Body = append(out.Body, reply.Line{reply.Textf("Time-boxed for %s: the role goes back when it ends.", formatPeriod(c.elevation))})
	}
	switch {
	case d.NeedsApproval():
		out.Tone, out.Title = reply.Warning, "You may ask for this; it needs approval."
	case d.Allowed:
		out.Tone, out.Title = reply.Success, "You may do this directly."
	default:
		out.Tone, out.Title = reply.Failure, "You may not do this."
	}
	if label := ruleLabel(d.Rule); label != "" {
		out.Body = append(out.Body, reply.Line{reply.Text("Decided by policy " + label + ".")})
	}
	if d.Reason != "" {
		out.Body = append(out.Body, reply.Para("Why: "+d.Reason))
	}
	if d.Allowed && capped > 0 {
		out.Body = append(out.Body, reply.Line{reply.Text("Only time-boxed: add "), reply.Literal("--for " + formatPeriod(capped)), reply.Text(" or less.")})
	} else if d.Allowed && d.MaxElevation > 0 {
		out.Body = append(out.Body, reply.Para("A time-boxed change (--for) may last at most "+formatPeriod(d.MaxElevation)+"."))
	}
	if ap := d.Approval; d.NeedsApproval() {
		line := reply.Line{reply.Textf("Needs %s from ", pluralApprovals(max(ap.Count, 1)))}
		line = append(line, s.groupSpans(ap.Approvers)...)
		line = append(line, reply.Text(", never you."))
		out.Body = append(out.Body, line)
		where := reply.Line{reply.Text("The request is posted in ")}
		if reply.ValidChannelID(ap.Channel) {
			where = append(where, reply.Channel(ap.Channel))
		} else {
			where = append(where, reply.Literal(ap.Channel))
		}
		expires := ap.ExpiresAfter
		if expires <= 0 {
			expires = defaultExpiry
		}
		where = append(where, reply.Textf(" and expires after %s.", shortDuration(expires)))
		out.Body = append(out.Body, where)
		if ap.RequireReason && a.Reason == "" {
			out.Body = append(out.Body, reply.Line{reply.Text("A reason is required: add "), reply.Literal(`--reason "why"`), reply.Text(".")})
		}
	}
	out.Notes = []reply.Line{reply.Para("Nothing was changed: explain only reads.")}
	return out, nil
}

// unseenRefusal is explain's answer to a change refused to someone who may not read the token's
// roles: the change as asked, naming the token as typed (not its name for an ID, nor its ID for
// a name) and without its current role, and the refusal's reason.
func unseenRefusal(c change, refusal *Error, typed, typedWS string) reply.Reply {
	ref := reply.Line{reply.Literal(typed)}
	where := reply.Line{reply.Text(" in workspace "), reply.Literal(typedWS)}
	asked := concat(reply.Line{reply.Text("Change ")}, ref, reply.Line{reply.Text(" to "), reply.Literal(c.to)}, where, reply.Line{reply.Text(".")})
	switch c.action {
	case policy.ActionAdd:
		asked = concat(reply.Line{reply.Text("Add ")}, ref, where, reply.Line{reply.Text(" as "), reply.Literal(c.to), reply.Text(".")})
	case policy.ActionRemove:
		asked = concat(reply.Line{reply.Text("Remove the role of ")}, ref, reply.Line{reply.Text(" from workspace "), reply.Literal(typedWS), reply.Text(".")})
	}
	return reply.Reply{Visibility: reply.Ephemeral, Tone: reply.Failure, Title: "You may not do this.",
		Body:  append([]reply.Line{asked}, refusal.Details...),
		Notes: []reply.Line{reply.Para("Nothing was changed: explain only reads.")}}
}

// findToken reads the token a command names, by ID or by exact name, without locking it.
func (s *Service) findToken(ctx context.Context, a *args) (*astro.Token, error) {
	if len(a.Positionals) == 1 {
		return s.getToken(ctx, a.Positionals[0])
	}
	all, _, err := s.orgTokens.get(ctx, a.Name)
	if err != nil {
		return nil, astroFailure(err)
	}
	listed, err := s.pickByName(all, a.Name)
	if err != nil {
		return nil, err
	}
	tok, err := listed.Token()
	if err != nil {
		return nil, astroFailure(err)
	}
	return tok, nil
}

// shortDuration drops the zero units time.Duration.String keeps: 24h, not 24h0m0s.
func shortDuration(d time.Duration) string {
	out := d.String()
	if len(out) > 3 && out[len(out)-3:] == "m0s" {
		out = out[:len(out)-2]
	}
	if len(out) > 3 && out[len(out)-3:] == "h0m" {
		out = out[:len(out)-2]
	}
	return out
}
