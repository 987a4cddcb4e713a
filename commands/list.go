package commands

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/orgtoken/orgtoken-bot/astro"
	"github.com/orgtoken/orgtoken-bot/policy"
	"github.com/orgtoken/orgtoken-bot/reply"
)

// Action IDs of the list paging buttons. Their Value is the list arguments to run again.
const (
	ActionListPrev = "orgtoken.list.prev"
	ActionListNext = "orgtoken.list.next"
)

// listColumns mirror `astro workspace token organization-token list`; allColumns are for
// --all-workspaces, where each token's roles in every workspace take the role's place.
var (
	listColumns = []string{"ID", "NAME", "DESCRIPTION", "SCOPE", "WORKSPACE ROLE", "CREATED", "CREATED BY"}
	allColumns  = []string{"ID", "NAME", "DESCRIPTION", "WORKSPACE ROLES", "CREATED", "CREATED BY"}
)

// listQuery is what a list shows: one workspace ("" with all) and the filters. It is also the
// page state the paging buttons carry, as list arguments.
type listQuery struct {
	workspace string
	all       bool
	role      string
	name      string
}

func runList(ctx context.Context, s *Service, req Request, a *args) (reply.Reply, error) {
	q := listQuery{all: a.AllWS, role: a.Role, name: a.NameFilter}
	if q.all && a.WorkspaceID != "" {
		return reply.Reply{}, usageErr(a.cmd, "Give either --all-workspaces or a workspace, not both.")
	}
	if !q.all {
		ws, err := s.workspaceFor(ctx, req, a)
		if err != nil {
			return reply.Reply{}, s.namesOnlyIfListed(ctx, req, err) // resolved before list is decided, which needs it
		}
		q.workspace = ws
	}
	if _, err := s.authorize(ctx, policy.Input{UserID: req.UserID, ChannelID: req.ChannelID, Action: policy.ActionList, WorkspaceID: q.workspace}); err != nil {
		return reply.Reply{}, err
	}
	page := max(a.Page, 1)
	shown, start, total, err := s.listPage(ctx, q, page)
	if err != nil {
		return reply.Reply{}, err
	}
	return s.listReply(&q, page, shown, start, total)
}

// listReply renders one page of a list. Apart from runList so that runList's frame, on the stack
// while the page is awaited from Astro, stays small (see bot's processSlash).
func (s *Service) listReply(q *listQuery, page int, shown []astro.Token, start, total int) (reply.Reply, error) {
	pages := max((total+s.pageSize-1)/s.pageSize, 1)
	if page > pages || len(shown) == 0 && total > 0 {
		return reply.Reply{}, &Error{Code: ENotFound,
			Message: fmt.Sprintf("Page %d is past the end: there %s.", page, pluralPages(pages)),
			Hint:    fmt.Sprintf("Pages go from 1 to %d.", pages)}
	}

	r := reply.Reply{Visibility: reply.Ephemeral, Title: "Organization API tokens in every workspace"}
	if !q.all {
		r.Title = "Organization API tokens in workspace " + s.workspaceLabel(q.workspace)
	}
	if filters := q.describe(); filters != "" {
		r.Body = append(r.Body, reply.Para("Only tokens "+filters+"."))
	}
	if total == 0 {
		switch {
		case q.role != "" || q.name != "":
			r.Body = append(r.Body, reply.Para("No Organization API tokens match."))
		case q.all:
			r.Body = append(r.Body, reply.Para("The organization has no Organization API tokens."))
		default:
			r.Body = append(r.Body, concat(reply.Line{reply.Text("No Organization API tokens have a role in workspace ")}, s.workspaceSpans(q.workspace), reply.Line{reply.Text(".")}))
			r.Notes = []reply.Line{{reply.Text("Add one with "), reply.Literal(s.commandName + " add TOKEN_ID --role member"), reply.Text(".")}}
		}
		return r, nil
	}
	now := s.now()
	table := &reply.Table{Columns: listColumns, KeyColumn: 1, Offset: start, Total: total}
	if q.all {
		table.Columns = allColumns
	}
	for _, t := range shown {
		created := ""
		if !t.CreatedAt.IsZero() {
			created = relativeTime(t.CreatedAt, now)
		}
		if q.all {
			table.Rows = append(table.Rows, []string{t.ID, t.Name, t.Description, s.workspaceRoles(t.Roles), created, t.CreatedBy.DisplayName()})
			continue
		}
		table.Rows = append(table.Rows, []string{
			t.ID, t.Name, t.Description, t.Type, astro.WorkspaceRoleOf(t.Roles, q.workspace), created, t.CreatedBy.DisplayName(),
		})
	}
	r.Table = table
	if pages > 1 {
		r.Notes = append(r.Notes, s.pageNote(*q, page, pages))
		r.Buttons = pageButtons(*q, page, pages)
	}
	r.Buttons = append(r.Buttons, shareButton("list "+q.ref(page))...)
	return r, nil
}

// listPage reads the tokens on one page of the list, where that page starts and how many
// tokens the whole list has. An unfiltered list of one workspace asks Astro for just that page,
// in Astro's name order, so a page of a 2,000-token workspace costs one request of 25 tokens.
// The filters are not something Astro can apply, so a filtered list reads every token.
func (s *Service) listPage(ctx context.Context, q listQuery, page int) (shown []astro.Token, start, total int, err error) {
	start = (page - 1) * s.pageSize
	if !q.all && q.role == "" && q.name == "" {
		p, err := s.tokens.ListTokens(ctx, astro.ListTokensOptions{
			WorkspaceID: q.workspace, IncludeOnlyOrganizationTokens: true, Sorts: []string{"name:asc"},
			Offset: start, Limit: s.pageSize,
		})
		if err != nil {
			return nil, 0, 0, astroFailure(err)
		}
		return p.Tokens[:min(len(p.Tokens), s.pageSize)], start, p.TotalCount, nil
	}

	opts := orgTokensOptions
	opts.WorkspaceID = q.workspace
	toks, err := s.tokens.ListAllTokens(ctx, opts)
	if err != nil {
		return nil, 0, 0, astroFailure(err)
	}
	if q.all {
		if _, err := s.workspaces.load(ctx); err != nil {
			s.log.WarnContext(ctx, "could not read workspace names", "err", err)
		}
	}
	toks = q.filter(toks)
	slices.SortFunc(toks, func(x, y astro.Token) int {
		return cmp.Or(cmp.Compare(strings.ToLower(x.Name), strings.ToLower(y.Name)), cmp.Compare(x.ID, y.ID))
	})
	if start >= len(toks) {
		return nil, start, len(toks), nil
	}
	return toks[start:min(start+s.pageSize, len(toks))], start, len(toks), nil
}

// filter keeps the tokens matching the role and name filters. With all workspaces, a role
// filter keeps tokens holding that role in any workspace.
func (q listQuery) filter(toks []astro.Token) []astro.Token {
	if q.role == "" && q.name == "" {
		return toks
	}
	name := strings.ToLower(foldQuotes(q.name))
	out := toks[:0]
	for _, t := range toks {
		if name != "" && !strings.Contains(strings.ToLower(foldQuotes(t.Name)), name) {
			continue
		}
		if q.role != "" && !q.hasRole(t) {
			continue
		}
		out = append(out, t)
	}
	return out
}

func (q listQuery) hasRole(t astro.Token) bool {
	if !q.all {
		return astro.WorkspaceRoleOf(t.Roles, q.workspace) == q.role
	}
	for _, r := range t.Roles {
		if r.EntityType == astro.EntityWorkspace && r.Role == q.role {
			return true
		}
	}
	return false
}

// describe says which filters apply, e.g. `with role operator whose name contains "ci"`.
func (q listQuery) describe() string {
	var parts []string
	if q.role != "" {
		parts = append(parts, "with role "+shortRole(q.role))
	}
	if q.name != "" {
		parts = append(parts, "whose name contains "+quote(q.name))
	}
	return strings.Join(parts, " ")
}

// workspaceRoles lists a token's workspace roles by workspace name: "Analytics: operator,
// Data Platform: author".
func (s *Service) workspaceRoles(roles []astro.Role) string {
	var parts []string
	for _, r := range roles {
		if r.EntityType == astro.EntityWorkspace {
			parts = append(parts, s.workspaceShort(r.EntityID)+": "+shortRole(r.Role))
		}
	}
	slices.Sort(parts)
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func (s *Service) pageNote(q listQuery, page, pages int) reply.Line {
	l := reply.Line{reply.Textf("Page %d of %d.", page, pages)}
	if page < pages {
		l = append(l, reply.Text(" Next: "), reply.Literal(s.commandName+" list "+q.ref(page+1)))
	}
	return l
}

func pageButtons(q listQuery, page, pages int) []reply.Button {
	var out []reply.Button
	if page > 1 {
		out = append(out, reply.Button{Label: "Previous", ActionID: ActionListPrev, Value: q.ref(page - 1)})
	}
	if page < pages {
		out = append(out, reply.Button{Label: "Next", ActionID: ActionListNext, Value: q.ref(page + 1)})
	}
	return out
}

// ref is a paging button's value: the list arguments for that page. A click parses it with
// the list verb's own parser, so a forged value can do no more than typing it could. The
// workspace is its ID, so the page is the same whichever channel it is clicked in.
func (q listQuery) ref(page int) string {
	var b strings.Builder
	if q.all {
		b.WriteString("--all-workspaces")
	} else {
		b.WriteString(flagArg("-w", q.workspace))
	}
	if q.role != "" {
		b.WriteString(" --role " + shortRole(q.role))
	}
	if q.name != "" {
		b.WriteString(" " + flagArg("--name", q.name))
	}
	fmt.Fprintf(&b, " --page %d", page)
	return b.String()
}

// flagArg writes a flag and its value so that the parser reads the value back. One that starts
// with a dash (or a dash a Slack client typed) goes after "=": "--name -r" would be refused as
// a flag missing its value.
func flagArg(flag, v string) string {
	if strings.HasPrefix(v, "-") || strings.HasPrefix(v, "—") || strings.HasPrefix(v, "–") {
		return flag + "=" + ShellQuote(v)
	}
	return flag + " " + ShellQuote(v)
}

func pluralPages(n int) string {
	if n == 1 {
		return "is 1 page"
	}
	return fmt.Sprintf("are %d pages", n)
}

// actionTable routes button clicks by action ID. Approvals add their Approve and Deny here.
func actionTable() map[string]actionHandler {
	return map[string]actionHandler{
		ActionListPrev:  rerunList,
		ActionListNext:  rerunList,
		ActionShare:     actShare,
		ActionRevertNow: actRevertNow,
		ActionApprove:   approveClicked,
		ActionDeny:      denyClicked,
	}
}

// rerunList shows another page of a list for whoever clicked; policy is checked for them.
func rerunList(ctx context.Context, s *Service, act Action) (reply.Reply, error) {
	cmd := s.command("list")
	req := Request{UserID: act.UserID, UserName: act.UserName, ChannelID: act.ChannelID, Text: "list " + act.Value}
	words, err := splitText(act.Value)
	if err != nil {
		return reply.Reply{}, err
	}
	a, err := s.parseFor(cmd, words)
	if err != nil {
		return reply.Reply{}, err
	}
	r, err := cmd.run(ctx, s, req, a)
	// The page replaces the one whose button was clicked, so paging does not pile up messages.
	r.ReplaceOriginal = true
	return r, err
}
