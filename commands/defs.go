package commands

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/orgtoken/orgtoken-bot/policy"
	"github.com/orgtoken/orgtoken-bot/reply"
)

// command is one verb: how it is written, documented, checked and run.
type command struct {
	Verb     string
	Usage    string // after the command name and verb
	Summary  string
	Flags    []flagSpec
	Examples []string // after the command name
	Action   policy.Action
	// check validates positionals and flag combinations after parsing.
	check func(cmd *command, a *args) error
	run   func(ctx context.Context, s *Service, req Request, a *args) (reply.Reply, error)
}

func (c *command) flag(name string) (flagSpec, bool) {
	for _, f := range c.Flags {
		if f.Long == name || f.Short == name {
			return f, true
		}
	}
	return flagSpec{Long: name, Arg: "VALUE"}, false
}

// defines reports whether nameValue (a flag's name, perhaps followed by =value) is one of the
// verb's flags.
func (c *command) defines(nameValue string) bool {
	name, _, _ := strings.Cut(nameValue, "=")
	_, ok := c.flag(name)
	return ok
}

// commandTable is every verb, in the order help lists them.
func commandTable() []*command {
	return []*command{
		{
			Verb:    "add",
			Usage:   "add (TOKEN_ID | --org-token-name NAME | -n NAME) --role ROLE [--workspace WS] [--for DURATION] [--reason TEXT]",
			Summary: "Add an Organization API token to a Workspace with a role (for good, or --for a while).",
			Flags:   []flagSpec{flagName, flagRole, flagWorkspace, flagWorkspaceName, flagFor, flagReason},
			Examples: []string{
				"add clx1abc2def3 --role operator",
				`add clx1abc2def3 --role operator --workspace "Data Platform" --for 2h`,
				`add -n "CI deployer" -r member -w clwsprod`,
			},
			Action: policy.ActionAdd,
			check:  checkTarget(true),
			run:    runChange,
		},
		{
			Verb:    "update",
			Usage:   "update (TOKEN_ID | --org-token-name NAME | -n NAME) --role ROLE [--workspace WS] [--for DURATION] [--reason TEXT]",
			Summary: "Change an Organization API token's role in a Workspace (for good, or --for a while).",
			Flags:   []flagSpec{flagName, flagRole, flagWorkspace, flagWorkspaceName, flagFor, flagReason},
			Examples: []string{
				"update clx1abc2def3 --role owner",
				"update clx1abc2def3 --role owner --for 1d",
				`update --org-token-name "CI deployer" --role=author`,
			},
			Action: policy.ActionUpdate,
			check:  checkTarget(true),
			run:    runChange,
		},
		{
			Verb:    "remove",
			Usage:   "remove (TOKEN_ID | --org-token-name NAME | -n NAME) [--workspace WS] [--reason TEXT]",
			Summary: "Remove an Organization API token from a Workspace (its other roles stay).",
			Flags:   []flagSpec{flagName, flagWorkspace, flagWorkspaceName, flagReason},
			Examples: []string{
				"remove clx1abc2def3",
				`remove -n "CI deployer" --workspace-id clwsprod`,
			},
			Action: policy.ActionRemove,
			check:  checkTarget(false),
			run:    runChange,
		},
		{
			Verb:    "list",
			Usage:   "list [--workspace WS | --all-workspaces] [--role ROLE] [--name TEXT] [--page N]",
			Summary: "List the Organization API tokens in a Workspace (or all), 25 at a time, sorted by name.",
			Flags:   []flagSpec{flagWorkspace, flagWorkspaceName, flagAllWorkspaces, flagRole, flagNameFilter, flagPage},
			Examples: []string{
				"list",
				"list -w clwsprod --page 2",
				`list --workspace "Data Platform" --role operator`,
				"list --all-workspaces --name ci",
			},
			Action: policy.ActionList,
			check:  checkPositionals(0, 0, ""),
			run:    runList,
		},
		{
			Verb:     "show",
			Usage:    "show (TOKEN_ID | NAME)",
			Summary:  "Show a token's details and every role it holds across the Organization.",
			Examples: []string{"show clx1abc2def3", `show "CI deployer"`},
			Action:   policy.ActionShow,
			check:    checkPositionals(1, 1, "the token's ID or name"),
			run:      runShow,
		},
		requestsCommand(),
		cancelCommand(),
		explainCommand(),
		revertNowCommand(),
		{
			Verb:     "help",
			Usage:    "help [SUBCOMMAND]",
			Summary:  "Show how to use every subcommand, or one in detail.",
			Examples: []string{"help", "help add"},
			check:    checkPositionals(0, 1, ""),
			run:      runHelp,
		},
	}
}

// checkTarget validates the token selection shared by add, update and remove: an ID or a name,
// never both, and a role when the verb needs one.
func checkTarget(needRole bool) func(*command, *args) error {
	return func(cmd *command, a *args) error {
		if len(a.Positionals) > 1 {
			return extraArgs(cmd, a, 1)
		}
		// A lone argument written as a flag after "--" would be refused below as a token ID (or
		// as one given with a name), but it was meant as a flag: say why it is not one.
		if w, ok := flagAfterEnd(cmd, a); ok {
			return endedFlags(cmd, a, quote(w)+" is written as a flag, but")
		}
		hasID := len(a.Positionals) == 1
		switch {
		case hasID && a.has(flagName.Long):
			e := usageErr(cmd, "Give the token's ID or its name, not both.")
			e.Hint = fmt.Sprintf(`Drop either %s or --org-token-name. If %s is part of the name, put the whole name in quotes: -n "%s %s".`,
				quote(a.Positionals[0]), quote(a.Positionals[0]), reply.Truncate(a.Name, 60), reply.Truncate(a.Positionals[0], 60))
			return e
		case !hasID && !a.has(flagName.Long):
			e := usageErr(cmd, "Which token? Give its ID or --org-token-name NAME.")
			e.Hint = "The list subcommand shows IDs and names."
			return e
		case hasID && !idPattern.MatchString(a.Positionals[0]):
			e := usageErr(cmd, "%s does not look like a token ID.", quote(a.Positionals[0]))
			e.Hint = `To pick a token by name, use -n "Token name".`
			return e
		}
		if needRole && !a.has(flagRole.Long) {
			e := usageErr(cmd, "The --role flag is required for %s.", cmd.Verb)
			e.Hint = "Valid roles: " + roleChoices() + "."
			return e
		}
		return nil
	}
}

// checkPositionals allows between lo and hi positional arguments; what names the missing one.
func checkPositionals(lo, hi int, what string) func(*command, *args) error {
	return func(cmd *command, a *args) error {
		if len(a.Positionals) > hi {
			return extraArgs(cmd, a, hi)
		}
		if len(a.Positionals) < lo {
			return usageErr(cmd, "Missing %s.", what)
		}
		return nil
	}
}

// extraArgs refuses the positionals from the index from on, which the verb does not take.
func extraArgs(cmd *command, a *args, from int) error {
	extra := a.Positionals[from:]
	quoted := make([]string, 0, len(extra))
	for _, x := range extra[:min(len(extra), 5)] {
		quoted = append(quoted, quote(x))
	}
	if len(extra) > 5 {
		quoted = append(quoted, "…")
	}
	if _, ok := flagAfterEnd(cmd, a); ok {
		return endedFlags(cmd, a, fmt.Sprintf("Unexpected extra arguments: %s.", strings.Join(quoted, " ")))
	}
	e := usageErr(cmd, "Unexpected extra arguments: %s.", strings.Join(quoted, " "))
	// Most often a name with spaces, unquoted: show how to quote it the way this verb takes it.
	if _, ok := cmd.flag(flagName.Long); ok {
		e.Hint = `Put a name with spaces in quotes: -n "My token".`
	} else {
		e.Hint = `Put a value with spaces in quotes: "My token".`
	}
	return e
}

// flagAfterEnd returns the first argument after "--" that is written as a flag, where the verb
// has flags: such a word was meant as a flag, not taken as an argument.
func flagAfterEnd(cmd *command, a *args) (string, bool) {
	if len(cmd.Flags) == 0 {
		return "", false
	}
	afterEnd := a.Positionals[len(a.Positionals)-min(a.afterEnd, len(a.Positionals)):]
	if i := slices.IndexFunc(afterEnd, cmd.writtenAsFlag); i >= 0 {
		return afterEnd[i], true
	}
	return "", false
}

// endedFlags refuses arguments after "--" among which flagAfterEnd found a flag: lead says what
// is wrong with them, and the message goes on to say that "--" is why.
func endedFlags(cmd *command, a *args, lead string) *Error {
	end := quote(a.endOfFlags)
	if a.endOfFlags != "--" {
		end += " (read as --)"
	}
	e := usageErr(cmd, "%s %s ends the flags, so what follows it is taken as arguments.", lead, end)
	e.Hint = fmt.Sprintf("Put the flags before %s, or drop it: it is only needed before an argument that starts with a dash.", quote(a.endOfFlags))
	return e
}

func quote(s string) string { return fmt.Sprintf("%q", reply.Truncate(s, 60)) }

func (s *Service) usage(cmd *command) string { return s.commandName + " " + cmd.Usage }

func runHelp(_ context.Context, s *Service, _ Request, a *args) (reply.Reply, error) {
	if len(a.Positionals) == 0 {
		return s.helpAll(), nil
	}
	cmd, err := s.lookup(a.Positionals[0])
	if err != nil {
		return reply.Reply{}, err
	}
	return s.helpVerb(cmd), nil
}

// helpAll lists every verb with its usage and an example.
func (s *Service) helpAll() reply.Reply {
	r := reply.Reply{
		Visibility: reply.Ephemeral,
		Title:      s.commandName + ": manage Organization API tokens' Workspace roles",
	}
	for _, c := range s.commands {
		r.Body = append(r.Body, reply.Line{reply.Literal(s.usage(c))}, reply.Para("    "+c.Summary))
	}
	r.Body = append(r.Body, reply.Para("Examples:"))
	for _, c := range s.commands {
		if len(c.Examples) > 0 {
			r.Body = append(r.Body, reply.Line{reply.Text("    "), reply.Literal(s.commandName + " " + c.Examples[0])})
		}
	}
	r.Notes = s.helpNotes()
	return r
}

// helpVerb explains one verb: usage, flags and examples.
func (s *Service) helpVerb(c *command) reply.Reply {
	r := reply.Reply{Visibility: reply.Ephemeral, Title: s.commandName + " " + c.Verb + ": " + c.Summary}
	r.Body = append(r.Body, reply.Line{reply.Text("Usage: "), reply.Literal(s.usage(c))})
	for _, f := range c.Flags {
		r.Fields = append(r.Fields, reply.Field{Label: f.usage(), Value: f.Help})
	}
	for _, ex := range c.Examples {
		r.Body = append(r.Body, reply.Line{reply.Text("Example: "), reply.Literal(s.commandName + " " + ex)})
	}
	r.Notes = s.helpNotes()
	return r
}

func (s *Service) helpNotes() []reply.Line {
	notes := []reply.Line{reply.Para("Roles: " + roleChoices() + " (or their full names, e.g. WORKSPACE_OPERATOR). Flags work as --flag value, --flag=value or -n value, in any order.")}
	if s.defaultWS != "" {
		notes = append(notes, reply.Line{reply.Text("Without --workspace-id, commands act on workspace "), reply.Literal(s.defaultWS), reply.Text(".")})
	}
	return notes
}
