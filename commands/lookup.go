package commands

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/orgtoken/orgtoken-bot/astro"
	"github.com/orgtoken/orgtoken-bot/reply"
	"github.com/orgtoken/orgtoken-bot/store"
)

// History reads the audit record: show lists a token's recent changes from it, and the drift
// check learns from it the roles the bot last knew. *store.Store satisfies it.
type History interface {
	ListAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditEntry, error)
}

// ActionShare is the "Share in channel" button of a lookup. Its Value is the lookup's command
// text, run again for whoever clicks (policy is checked for them) and posted visibly; the
// rendered answer itself never travels in the button.
const ActionShare = "orgtoken.share"

// shareableVerbs are the only commands a share click runs: lookups, which change nothing.
var shareableVerbs = map[string]bool{"list": true, "show": true}

const maxFilterRunes = 200

var (
	flagWorkspaceName = flagSpec{Long: "workspace", Arg: "WS",
		Help: `Workspace by name or ID, e.g. --workspace "Data Platform" (same as --workspace-id).`,
		set:  setWorkspace}
	flagNameFilter = flagSpec{Long: "name", Arg: "TEXT",
		Help: "Show only tokens whose name contains TEXT (ignoring case).",
		set:  textFlag("the text to look for", maxFilterRunes, func(a *args, v string) { a.NameFilter = v })}
	flagAllWorkspaces = flagSpec{Long: "all-workspaces", Bool: true,
		Help: "List every Organization token with its roles in all workspaces.",
		set: func(a *args, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("%q is not true or false", v)
			}
			a.AllWS = b
			return nil
		}}
)

// setWorkspace takes a workspace ID or name; which one it is is settled against Astro's list
// when the command runs.
func setWorkspace(a *args, v string) error {
	v = strings.TrimSpace(v)
	switch {
	case a.WorkspaceID != "":
		return errors.New("the workspace is given twice (--workspace and --workspace-id are the same flag)")
	case v == "":
		return errors.New("the workspace is empty")
	case utf8.RuneCountInString(v) > maxFilterRunes:
		return fmt.Errorf("the workspace is longer than %d characters", maxFilterRunes)
	}
	a.WorkspaceID = v
	return nil
}

// shareButton offers to post a lookup's answer in the channel. text is the command to run
// again; a button whose value would be too long for Slack is left out.
func shareButton(text string) []reply.Button {
	if len(text) > 1900 {
		return nil
	}
	return []reply.Button{{Label: "Share in channel", ActionID: ActionShare, Value: text}}
}

// actShare runs a lookup again for the person who clicked and posts the answer visibly.
func actShare(ctx context.Context, s *Service, act Action) (reply.Reply, error) {
	req := Request{UserID: act.UserID, UserName: act.UserName, ChannelID: act.ChannelID, Text: act.Value}
	cmd, a, err := s.parse(act.Value)
	if err != nil {
		return reply.Reply{}, err
	}
	if cmd == nil || !shareableVerbs[cmd.Verb] {
		return reply.Reply{}, &Error{Code: EInvalid, Message: "Only lookups can be shared.", Hint: "Run the command again."}
	}
	r, err := cmd.run(ctx, s, req, a)
	if err != nil {
		return r, err
	}
	r.Visibility = reply.InChannel
	r.ReplaceOriginal = false
	// Buttons on a shared message would act for everyone who sees it; it is a snapshot.
	r.Buttons = nil
	r.Notes = append(r.Notes, reply.Line{reply.Text("Shared by "), reply.Mention(act.UserID), reply.Text(".")})
	return r, nil
}

// showExtras adds what the bot itself knows about a token to show's reply: the changes made
// through the bot and the time-boxed changes still to be reverted, with a button to end each.
func (s *Service) showExtras(ctx context.Context, t *astro.Token, r reply.Reply) reply.Reply {
	now := s.now()
	if s.history != nil {
		entries, err := s.history.ListAudit(ctx, store.AuditFilter{TokenID: t.ID, Newest: true, Limit: 5})
		switch {
		case err != nil:
			s.log.WarnContext(ctx, "could not read the token's history", "token", t.ID, "err", err)
			r.Body = append(r.Body, reply.Para("Recent changes through the bot: could not be read just now."))
		case len(entries) == 0:
			r.Body = append(r.Body, reply.Para("No changes made through the bot are on record."))
		default:
			r.Body = append(r.Body, reply.Line{reply.Strong("Recent changes through the bot")})
			for _, e := range entries {
				r.Body = append(r.Body, s.historyLine(e, now))
			}
		}
	}
	if s.reverts != nil {
		pending, err := s.reverts.ListPendingReverts(ctx, t.ID)
		switch {
		case err != nil:
			s.log.WarnContext(ctx, "could not read the token's pending reverts", "token", t.ID, "err", err)
			r.Body = append(r.Body, reply.Para("Pending reverts: could not be read just now."))
		case len(pending) > 0:
			r.Body = append(r.Body, reply.Line{reply.Strong("Time-boxed changes to be reverted")})
			const shown = 5
			for i, rv := range pending {
				if i == shown {
					r.Body = append(r.Body, reply.Line{reply.Textf("…and %d more.", len(pending)-shown)})
					break
				}
				r.Body = append(r.Body, s.revertLine(rv, now))
				r.Buttons = append(r.Buttons, reply.Button{
					Label: reply.Truncate("Revert now: "+s.workspaceShort(rv.WorkspaceID), 75), ActionID: ActionRevertNow, Value: rv.ID, Style: reply.Danger,
				})
			}
		}
	}
	r.Buttons = append(r.Buttons, shareButton("show "+t.ID)...)
	return r
}

func (s *Service) historyLine(e store.AuditEntry, now time.Time) reply.Line {
	l := reply.Line{reply.Textf("• %s: ", relativeTime(e.At, now))}
	if reply.ValidUserID(e.ActorID) {
		l = append(l, reply.Mention(e.ActorID), reply.Text(" "))
	} else if e.ActorID != "" {
		l = append(l, reply.Text(reply.Truncate(e.ActorID, 40)+" "))
	}
	l = append(l, reply.Literal(reply.Truncate(e.Action, 40)))
	if e.WorkspaceID != "" {
		l = append(l, reply.Text(" in "))
		l = append(l, s.workspaceSpans(e.WorkspaceID)...)
	}
	if e.Before != "" || e.After != "" {
		l = append(l, reply.Text(": "), roleSpan(e.Before), reply.Text(" → "), roleSpan(e.After))
	}
	if e.Detail != "" {
		l = append(l, reply.Text(" ("+reply.Truncate(e.Detail, 120)+")"))
	}
	return l
}

func (s *Service) revertLine(rv store.Revert, now time.Time) reply.Line {
	l := reply.Line{reply.Text("• "), reply.Literal(rv.ID), reply.Text(" in ")}
	l = append(l, s.workspaceSpans(rv.WorkspaceID)...)
	l = append(l, reply.Text(": back to "), roleSpan(rv.RevertTo))
	if left := rv.DueAt.Sub(now); left > 0 {
		l = append(l, reply.Textf(" in %s", formatPeriod(left.Round(time.Minute))))
	} else {
		l = append(l, reply.Text(" now (due)"))
	}
	l = append(l, reply.Textf(" (%s)", rv.DueAt.UTC().Format("2006-01-02 15:04 UTC")))
	if reply.ValidUserID(rv.RequestedBy) {
		l = append(l, reply.Text(", asked by "), reply.Mention(rv.RequestedBy))
	}
	return l
}

// workspaceShort is a workspace's name, or its ID when the name is not known.
func (s *Service) workspaceShort(id string) string {
	if name := s.workspaces.name(id); name != "" {
		return name
	}
	return id
}

// ShellQuote quotes w as one word of a command's text: the parser reads it back as w with its
// typographic quotes straightened, as in anything typed. Inside single quotes nothing is special
// but the quote that ends them, so every character the parser reads as an apostrophe is written
// as a double-quoted one; a quote left as typed would end the quoting early once straightened.
func ShellQuote(w string) string {
	if w != "" && !strings.ContainsAny(w, " \t\n\r'\"\\#"+typographicQuotes) && !strings.ContainsFunc(w, isUnicodeSpace) {
		return w
	}
	var b strings.Builder
	b.Grow(len(w) + 2)
	b.WriteByte('\'')
	for _, r := range w {
		if r == '\'' || straightQuote(r) == '\'' {
			b.WriteString(`'"'"'`)
			continue
		}
		b.WriteRune(r)
	}
	b.WriteByte('\'')
	return b.String()
}
