package policy

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// Exit statuses of RunCLI. Denied differs from Invalid so a script asserting "this user is
// refused" cannot pass just because the file is broken.
const (
	ExitOK      = 0 // check: the file is valid; explain: the request is allowed (maybe after approval)
	ExitInvalid = 1 // the file cannot be read or is invalid
	ExitUsage   = 2 // bad command line
	ExitDenied  = 3 // explain: the request is denied
)

const cliUsage = `usage:
  orgtoken-bot policy check FILE
  orgtoken-bot policy explain FILE --user U… --action ACTION [--role ROLE] [--current-role ROLE]
                                   [--workspace ID] [--channel C…] [--groups S…,S…]

check validates a policy file and reports every problem as FILE:LINE: KEY: problem.
explain shows how the policy decides one request. Without --workspace, the channel's default
workspace is used. ACTION is one of list, show, add, update, remove. add and update need
--role; update and remove need --current-role (add is for a token with no role there).

exit status: 0 valid / allowed, 1 invalid file, 2 usage, 3 denied
`

// RunCLI runs "orgtoken-bot policy ARGS…"; args excludes the program name and "policy". It
// returns the process exit status (ExitOK, ExitInvalid, ExitUsage, ExitDenied).
func RunCLI(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, cliUsage)
		return ExitUsage
	}
	switch args[0] {
	case "check":
		return runCheck(args[1:], stdout, stderr)
	case "explain":
		return runExplain(args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, cliUsage)
		return ExitOK
	}
	fmt.Fprintf(stderr, "unknown policy command %q\n%s", args[0], cliUsage)
	return ExitUsage
}

func runCheck(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("check", stderr)
	file, code := parseWithFile(fs, args, stdout)
	if code >= 0 {
		return code
	}
	p, code := loadForCLI(file, stderr)
	if p == nil {
		return code
	}
	fmt.Fprintf(stdout, "%s: OK: %s\n", file, plural(len(p.rules), "rule"))
	if groups := p.SlackUserGroups(); len(groups) > 0 {
		fmt.Fprintf(stdout, "user groups the bot resolves: %s\n", strings.Join(groups, ", "))
	}
	if ws := p.Workspaces(); len(ws) > 0 {
		fmt.Fprintf(stdout, "workspaces referred to: %s\n", strings.Join(ws, ", "))
	}
	return ExitOK
}

func runExplain(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("explain", stderr)
	var in Input
	var action, groups string
	fs.StringVar(&in.UserID, "user", "", "Slack user ID of the requester (U… or W…)")
	fs.StringVar(&action, "action", "", "list, show, add, update or remove")
	fs.StringVar(&in.Role, "role", "", "requested role (add, update)")
	fs.StringVar(&in.CurrentRole, "current-role", "", "the token's role in the workspace now")
	fs.StringVar(&in.WorkspaceID, "workspace", "", "workspace ID")
	fs.StringVar(&in.ChannelID, "channel", "", "channel ID where the command is typed")
	fs.StringVar(&groups, "groups", "", "comma-separated Slack user-group IDs the requester belongs to")
	file, code := parseWithFile(fs, args, stdout)
	if code >= 0 {
		return code
	}
	in.Action = Action(action)
	if in.UserGroups, code = checkExplainFlags(&in, groups, stderr); code >= 0 {
		return code
	}
	p, code := loadForCLI(file, stderr)
	if p == nil {
		return code
	}
	if in.WorkspaceID == "" {
		if ws := p.DefaultWorkspace(in.ChannelID); ws != "" {
			in.WorkspaceID = ws
			fmt.Fprintf(stdout, "note: using workspace %s, the default of channel %s\n", ws, in.ChannelID)
		}
	}
	if in.ChannelID == "" && p.channels != nil {
		fmt.Fprintln(stdout, "note: no --channel given, and this policy allows /orgtoken only in listed channels")
	}
	fmt.Fprint(stdout, p.Explain(in))
	if !p.Decide(in).Allowed {
		return ExitDenied
	}
	return ExitOK
}

// checkExplainFlags rejects malformed flags as usage errors, so a typo is not mistaken for a
// policy decision. It returns the parsed groups and -1, or an exit status.
func checkExplainFlags(in *Input, groups string, stderr io.Writer) ([]string, int) {
	var errs []string
	if in.UserID == "" {
		errs = append(errs, "--user is required")
	} else if !userIDPattern.MatchString(in.UserID) {
		errs = append(errs, fmt.Sprintf("--user %q is not a Slack user ID (U…, W…)", in.UserID))
	}
	switch {
	case in.Action == "":
		errs = append(errs, "--action is required")
	case in.Action == ActionApprove:
		errs = append(errs, "--action approve is decided per request: explain the add or update that needs approval to see who may approve")
	case actionBit(in.Action) == 0:
		errs = append(errs, fmt.Sprintf("--action %q is not one of %s", in.Action, strings.Join(actionNames(), ", ")))
	}
	// A request the bot would never decide is a usage error, not a refusal: add or update
	// without a role would otherwise exit 3 (denied), and a --role that Decide ignores would
	// explain a different request from the one meant.
	switch {
	case (in.Action == ActionAdd || in.Action == ActionUpdate) && in.Role == "":
		errs = append(errs, fmt.Sprintf("--action %s needs --role, the role asked for", in.Action))
	case in.Action == ActionRemove && in.Role != "":
		errs = append(errs, "--action remove takes no --role; give the role being removed as --current-role")
	case (in.Action == ActionList || in.Action == ActionShow) && in.Role != "":
		errs = append(errs, fmt.Sprintf("--action %s takes no --role: policy does not decide %s by role", in.Action, in.Action))
	}
	// The direction, and for remove the role a rule's roles filter matches, come from the
	// current role; the bot only updates or removes a role the token has, and only adds one
	// where it has none, so explaining anything else would answer a request it never decides.
	switch {
	case (in.Action == ActionUpdate || in.Action == ActionRemove) && in.CurrentRole == "":
		errs = append(errs, fmt.Sprintf("--action %s needs --current-role, the token's role in the workspace now", in.Action))
	case in.Action == ActionAdd && in.CurrentRole != "":
		errs = append(errs, "--action add is for a token with no role in the workspace; for one that has a role, use --action update")
	case (in.Action == ActionList || in.Action == ActionShow) && in.CurrentRole != "":
		errs = append(errs, fmt.Sprintf("--action %s takes no --current-role: policy does not decide %s by role", in.Action, in.Action))
	}
	for _, f := range []struct{ name, value string }{{"role", in.Role}, {"current-role", in.CurrentRole}} {
		if f.value != "" && roleRank(f.value) == 0 {
			errs = append(errs, fmt.Sprintf("--%s %q is not one of %s", f.name, f.value, strings.Join(roleLadder, ", ")))
		}
	}
	if in.ChannelID != "" && !channelIDPattern.MatchString(in.ChannelID) {
		errs = append(errs, fmt.Sprintf("--channel %q is not a Slack channel ID (C…, G…)", in.ChannelID))
	}
	var ug []string
	for _, g := range strings.Split(groups, ",") {
		g = strings.TrimSpace(g)
		if g == "" {
			continue
		}
		if !groupIDPattern.MatchString(g) {
			errs = append(errs, fmt.Sprintf("--groups: %q is not a Slack user-group ID (S…)", g))
			continue
		}
		ug = append(ug, g)
	}
	if len(errs) > 0 {
		for _, e := range errs {
			fmt.Fprintln(stderr, e)
		}
		fmt.Fprint(stderr, cliUsage)
		return nil, ExitUsage
	}
	return ug, -1
}

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {} // parseWithFile prints usage where it belongs: stdout for -h, stderr for errors
	return fs
}

// parseWithFile parses flags that may come before or after the one FILE argument. It returns the
// file and -1, or an exit status.
func parseWithFile(fs *flag.FlagSet, args []string, stdout io.Writer) (string, int) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprint(stdout, cliUsage)
				return "", ExitOK
			}
			fmt.Fprint(fs.Output(), cliUsage)
			return "", ExitUsage
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(positional) != 1 {
		fmt.Fprintf(fs.Output(), "%s needs exactly one FILE, got %d\n%s", fs.Name(), len(positional), cliUsage)
		return "", ExitUsage
	}
	return positional[0], -1
}

func loadForCLI(file string, stderr io.Writer) (*Policy, int) {
	p, err := Load(file)
	if err == nil {
		return p, ExitOK
	}
	fmt.Fprintln(stderr, err)
	var ve *ValidationError
	if errors.As(err, &ve) {
		fmt.Fprintf(stderr, "%s: %s\n", file, plural(len(ve.Problems), "problem"))
	}
	return nil, ExitInvalid
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
