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

// listColumns mirror `astro workspace token organization-token list`.
var listColumns = []string{"ID", "NAME", "DESCRIPTION", "SCOPE", "WORKSPACE ROLE", "CREATED", "CREATED BY"}

func runList(ctx context.Context, s *Service, req Request, a *args) (reply.Reply, error) {
	ws, err := s.workspaceFor(req, a)
	if err != nil {
		return reply.Reply{}, err
	}
	if _, err := s.authorize(ctx, policy.Input{UserID: req.UserID, ChannelID: req.ChannelID, Action: policy.ActionList, WorkspaceID: ws}); err != nil {
		return reply.Reply{}, err
	}
	toks, err := s.tokens.ListAllTokens(ctx, astro.ListTokensOptions{
		WorkspaceID: ws, IncludeOnlyOrganizationTokens: true, Limit: astro.MaxPageSize,
	})
	if err != nil {
		return reply.Reply{}, astroFailure(err)
	}
	slices.SortFunc(toks, func(x, y astro.Token) int {
		return cmp.Or(cmp.Compare(strings.ToLower(x.Name), strings.ToLower(y.Name)), cmp.Compare(x.ID, y.ID))
	})

	page := max(a.Page, 1)
	pages := max((len(toks)+s.pageSize-1)/s.pageSize, 1)
	if page > pages {
		return reply.Reply{}, &Error{Code: ENotFound,
			Message: fmt.Sprintf("Page %d is past the end: there %s.", page, pluralPages(pages)),
			Hint:    fmt.Sprintf("Pages go from 1 to %d.", pages)}
	}
	start := (page - 1) * s.pageSize
	shown := toks[start:min(start+s.pageSize, len(toks))]

	r := reply.Reply{
		Visibility: reply.Ephemeral,
		Title:      "Organization API tokens in workspace " + ws,
	}
	if len(toks) == 0 {
		r.Body = []reply.Line{{reply.Text("No Organization API tokens have a role in workspace "), reply.Literal(ws), reply.Text(".")}}
		r.Notes = []reply.Line{{reply.Text("Add one with "), reply.Literal(s.commandName + " add TOKEN_ID --role member"), reply.Text(".")}}
		return r, nil
	}
	table := &reply.Table{Columns: listColumns, KeyColumn: 1, Offset: start, Total: len(toks)}
	now := s.now()
	for _, t := range shown {
		created := ""
		if !t.CreatedAt.IsZero() {
			created = relativeTime(t.CreatedAt, now)
		}
		table.Rows = append(table.Rows, []string{
			t.ID, t.Name, t.Description, t.Type, astro.WorkspaceRoleOf(t.Roles, ws), created, t.CreatedBy.DisplayName(),
		})
	}
	r.Table = table
	if pages > 1 {
		r.Notes = append(r.Notes, s.pageNote(ws, page, pages))
		r.Buttons = pageButtons(ws, page, pages)
	}
	return r, nil
}

func (s *Service) pageNote(ws string, page, pages int) reply.Line {
	l := reply.Line{reply.Textf("Page %d of %d.", page, pages)}
	if page < pages {
		l = append(l, reply.Text(" Next: "), reply.Literal(fmt.Sprintf("%s list -w %s --page %d", s.commandName, ws, page+1)))
	}
	return l
}

func pageButtons(ws string, page, pages int) []reply.Button {
	var out []reply.Button
	if page > 1 {
		out = append(out, reply.Button{Label: "Previous", ActionID: ActionListPrev, Value: pageRef(ws, page-1)})
	}
	if page < pages {
		out = append(out, reply.Button{Label: "Next", ActionID: ActionListNext, Value: pageRef(ws, page+1)})
	}
	return out
}

// pageRef is a paging button's value: the list arguments for that page. A click parses it with
// the list verb's own parser, so a forged value can do no more than typing it could.
func pageRef(ws string, page int) string {
	return fmt.Sprintf("--workspace-id %s --page %d", ws, page)
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
		ActionListPrev: rerunList,
		ActionListNext: rerunList,
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
	return cmd.run(ctx, s, req, a)
}
