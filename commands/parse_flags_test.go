package commands

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rejected parses text and returns the error a user sees, with its usage line rendered.
func rejected(t *testing.T, s *Service, text string) (e *Error, usage string) {
	t.Helper()
	_, _, err := s.parse(text)
	require.True(t, errors.As(err, &e), "want *Error for %q, got %v", text, err)
	assert.Equal(t, EInvalid, e.Code)
	if e.verb != nil {
		r := s.errorReply(e)
		usage = r.Body[len(r.Body)-1-btoi(e.Hint != "")].Plain()
	}
	return e, usage
}

func TestParseValueFlagFollowedByAFlag(t *testing.T) {
	t.Parallel()
	s := newParseService(t)
	tests := []struct {
		name, text, message, hint, usage string
	}{
		{name: "ShortNameThenLongFlag", text: "add -n --role member",
			message: `The flag -n needs a value (NAME), but the next word is "--role".`, hint: `If the value really is "--role", write -n=--role.`, usage: "add"},
		{name: "LongNameThenFlagWithValue", text: "add --org-token-name --role=member",
			message: `The flag --org-token-name needs a value (NAME), but the next word is "--role=member".`, hint: "write --org-token-name=--role=member.", usage: "add"},
		{name: "WorkspaceThenSwitch", text: "list -w --all-workspaces",
			message: `The flag -w needs a value (WS), but the next word is "--all-workspaces".`, usage: "list"},
		{name: "RoleThenShortFlag", text: "update tok -r -w ws1",
			message: `The flag -r needs a value (ROLE), but the next word is "-w".`, usage: "update"},
		{name: "ReasonThenFlag", text: "remove tok --reason -w ws1",
			message: `The flag --reason needs a value (TEXT), but the next word is "-w".`, usage: "remove"},
		{name: "ForThenFlag", text: "update tok -r owner --for --reason x",
			message: `The flag --for needs a value (DURATION), but the next word is "--reason".`, usage: "update"},
		{name: "NameThenEndOfFlags", text: "remove -n -- tok",
			message: `The flag -n needs a value (NAME), but the next word is "--".`, usage: "remove"},
		// -h anywhere else shows the verb's help, so a value flag does not swallow it either.
		{name: "NameThenDashH", text: "add -n -h -r member",
			message: `The flag -n needs a value (NAME), but the next word is "-h".`,
			hint:    `If the value really is "-h", write -n=-h. For help with add, give -h without -n.`, usage: "add"},
		{name: "LongNameThenDashDashHelp", text: "update tok --org-token-name --help",
			message: `The flag --org-token-name needs a value (NAME), but the next word is "--help".`,
			hint:    "write --org-token-name=--help. For help with update, give --help without --org-token-name.", usage: "update"},
		{name: "WorkspaceThenDashHelp", text: "list -w -help",
			message: `The flag -w needs a value (WS), but the next word is "-help".`, hint: "For help with list, give -help without -w.", usage: "list"},
		{name: "ReasonThenHelpWithValue", text: "remove tok --reason -h=x",
			message: `The flag --reason needs a value (TEXT), but the next word is "-h=x".`, usage: "remove"},
		// A malformed flag is more likely a flag mistyped after a forgotten value than the value.
		{name: "NameThenThreeDashes", text: "add -n ---role member",
			message: `The flag -n needs a value (NAME), but the next word is "---role".`, hint: `If the value really is "---role", write -n=---role.`, usage: "add"},
		{name: "RoleThenDashesOnly", text: "update tok -r ---",
			message: `The flag -r needs a value (ROLE), but the next word is "---".`, hint: "write -r=---.", usage: "update"},
		{name: "NameThenEmDashAndHyphen", text: "add -n —-role member",
			message: `The flag -n needs a value (NAME), but the next word is "—-role".`, hint: "write -n=—-role.", usage: "add"},
		{name: "WorkspaceThenNoFlagName", text: "list -w --=ws1",
			message: `The flag -w needs a value (WS), but the next word is "--=ws1".`, hint: "write -w=--=ws1.", usage: "list"},
		// One of the verb's flags in the wrong case is a flag too, not the value.
		{name: "NameThenUpperCaseFlag", text: "add -n --ROLE member",
			message: `The flag -n needs a value (NAME), but the next word is "--ROLE".`, hint: `If the value really is "--ROLE", write -n=--ROLE.`, usage: "add"},
		{name: "NameThenUpperCaseShortFlag", text: "add -n -R member",
			message: `The flag -n needs a value (NAME), but the next word is "-R".`, hint: "write -n=-R.", usage: "add"},
		{name: "RoleThenMixedCaseFlagWithValue", text: "update tok -r --Workspace-Id=ws1",
			message: `The flag -r needs a value (ROLE), but the next word is "--Workspace-Id=ws1".`, usage: "update"},
		{name: "WorkspaceThenUpperCaseHelp", text: "list -w --HELP",
			message: `The flag -w needs a value (WS), but the next word is "--HELP".`, usage: "list"},
		{name: "NameThenEmDashUpperCaseFlag", text: "add -n —ROLE member",
			message: `The flag -n needs a value (NAME), but the next word is "—ROLE".`, hint: "write -n=—ROLE.", usage: "add"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, usage := rejected(t, s, tt.text)
			assert.Equal(t, tt.message, e.Message)
			assert.Contains(t, e.Hint, "Put the value right after")
			assert.Contains(t, e.Hint, tt.hint)
			assert.Contains(t, usage, "Usage: /orgtoken "+tt.usage)
		})
	}
}

func TestParseValueStartingWithADash(t *testing.T) {
	t.Parallel()
	s := newParseService(t)
	tests := []struct {
		name, text, tokenName, reason string
	}{
		{name: "NotAFlagOfTheVerb", text: "add -n -legacy-ci -r member", tokenName: "-legacy-ci"},
		{name: "FlagOfAnotherVerb", text: "add -n --name -r member", tokenName: "--name"},
		{name: "AfterEquals", text: "add -n=--role -r member", tokenName: "--role"},
		{name: "LongAfterEquals", text: "add --org-token-name=-r -r member", tokenName: "-r"},
		{name: "QuotedAfterEquals", text: `add tok -r member --reason="-w is broken"`, reason: "-w is broken"},
		{name: "NumberAfterReason", text: "add tok -r member --reason -1", reason: "-1"},
		{name: "DashHAfterEquals", text: "add -n=-h -r member", tokenName: "-h"},
		{name: "HelpAfterEquals", text: "add --org-token-name=--help -r member", tokenName: "--help"},
		{name: "HelpInsideAReason", text: `add tok -r member --reason "-h is what I typed"`, reason: "-h is what I typed"},
		{name: "ThreeDashesAfterEquals", text: "add -n=---role -r member", tokenName: "---role"},
		{name: "QuotedTextStartingWithDashes", text: `add tok -r member --reason "--- see above"`, reason: "--- see above"},
		// Only the verb's own flags count, in any case: add has no --name.
		{name: "UpperCaseFlagOfAnotherVerb", text: "add -n --NAME -r member", tokenName: "--NAME"},
		{name: "UpperCaseNotAFlag", text: "add -n -RX -r member", tokenName: "-RX"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, a, err := s.parse(tt.text)
			require.NoError(t, err)
			assert.Equal(t, tt.tokenName, a.Name)
			assert.Equal(t, tt.reason, a.Reason)
			assert.Equal(t, "WORKSPACE_MEMBER", a.Role)
		})
	}
}

// TestParseFlagInTheWrongCase: flag names are case-sensitive, as in the astro CLI, so
// "--ROLE" or "-R" is refused, but the message names the flag as it is written.
func TestParseFlagInTheWrongCase(t *testing.T) {
	t.Parallel()
	s := newParseService(t)
	const hint = "Flag names are case-sensitive."
	tests := []refusal{
		{name: "LongUpperCase", text: "add tok --ROLE member",
			message: "Unknown flag --ROLE for add. Did you mean --role?", hint: hint, usage: "add"},
		{name: "LongCapitalised", text: "update tok --Role member",
			message: "Unknown flag --Role for update. Did you mean --role?", hint: hint, usage: "update"},
		{name: "LongWithValue", text: "list --PAGE=2",
			message: "Unknown flag --PAGE for list. Did you mean --page?", hint: hint, usage: "list"},
		{name: "LongWithHyphens", text: `remove --Org-Token-Name "CI deployer"`,
			message: "Unknown flag --Org-Token-Name for remove. Did you mean --org-token-name?", hint: hint, usage: "remove"},
		{name: "Switch", text: "list --ALL-WORKSPACES",
			message: "Unknown flag --ALL-WORKSPACES for list. Did you mean --all-workspaces?", hint: hint, usage: "list"},
		// A short flag is suggested short, not as its long form.
		{name: "ShortUpperCase", text: "add tok -R member",
			message: "Unknown flag -R for add. Did you mean -r?", hint: hint, usage: "add"},
		{name: "ShortUpperCaseName", text: "add -N x -r member",
			message: "Unknown flag -N for add. Did you mean -n?", hint: hint, usage: "add"},
		{name: "Help", text: "add tok --HELP",
			message: "Unknown flag --HELP for add. Did you mean --help?", hint: hint, usage: "add"},
		{name: "HelpForVerbWithoutFlags", text: "show -H",
			message: "Unknown flag -H for show. Did you mean -h?", hint: hint, usage: "show"},
		{name: "TypedWithAnEmDash", text: "add tok —ROLE member",
			message: "Unknown flag --ROLE for add. Did you mean --role?", hint: hint, usage: "add"},
		// A flag of another verb is still only unknown, whatever its case.
		{name: "FlagNotForVerb", text: "remove tok -R member",
			message: "Unknown flag -R for remove.", usage: "remove"},
	}
	checkRefusals(t, s, tests)
}

// TestCaseVariantPrefersTheExactFlag: a verb that defined -R would take -R as that flag, and
// suggest nothing for it.
func TestCaseVariantPrefersTheExactFlag(t *testing.T) {
	t.Parallel()
	recursive := flagSpec{Long: "recursive", Short: "R", Bool: true}
	c := &command{Verb: "x", Flags: []flagSpec{flagRole, recursive}}
	assert.Empty(t, c.caseVariant("R"))
	assert.Empty(t, c.caseVariant("r"))
	assert.Equal(t, "--recursive", c.caseVariant("Recursive=true"))
	assert.Equal(t, "-r", (&command{Flags: []flagSpec{flagRole}}).caseVariant("R"))
}

func TestParseSwitchMisused(t *testing.T) {
	t.Parallel()
	s := newParseService(t)
	tests := []struct {
		name, text, message, hint string
	}{
		{name: "GivenTwice", text: "list --all-workspaces --all-workspaces",
			message: "The flag --all-workspaces is given more than once.", hint: "Give each flag once."},
		{name: "GivenTwiceWithValue", text: "list --all-workspaces --all-workspaces=false",
			message: "The flag --all-workspaces is given more than once.", hint: "Give each flag once."},
		{name: "NotABoolean", text: "list --all-workspaces=maybe",
			message: `Invalid value for --all-workspaces: "maybe" is not true or false.`,
			hint:    "--all-workspaces is a switch: give it alone, without a value (or =true / =false)."},
		{name: "EmptyValue", text: "list --all-workspaces=",
			message: `Invalid value for --all-workspaces: "" is not true or false.`, hint: "is a switch"},
		// Consistent with a value flag given twice.
		{name: "ValueFlagTwice", text: "list -r member -r owner",
			message: "The flag --role is given more than once.", hint: "Give each flag once."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, usage := rejected(t, s, tt.text)
			assert.Equal(t, tt.message, e.Message)
			assert.Contains(t, e.Hint, tt.hint)
			assert.NotContains(t, e.Message, "invalid boolean")
			assert.NotContains(t, e.Hint, "--role member")
			assert.Contains(t, usage, "Usage: /orgtoken list")
		})
	}
}

func TestParseSwitchAccepts(t *testing.T) {
	t.Parallel()
	s := newParseService(t)
	for text, want := range map[string]bool{"list --all-workspaces": true, "list --all-workspaces=false": false, "list --all-workspaces=TRUE": true} {
		_, a, err := s.parse(text)
		require.NoError(t, err, text)
		assert.Equal(t, want, a.AllWS, text)
	}
}

// TestParseUnicodeSpaces: some clients type a no-break (or thin) space between words; outside
// quotes it separates words like a plain space, inside quotes it stays part of the name.
func TestParseUnicodeSpaces(t *testing.T) {
	t.Parallel()
	s := newParseService(t)
	tests := []struct {
		name, text  string
		positionals []string
		tokenName   string
	}{
		{name: "NoBreakBeforeValue", text: "add tok1 --role\u00a0member", positionals: []string{"tok1"}},
		{name: "ThinAndNarrowSpaces", text: "add\u2009tok1\u202f-r\u3000member", positionals: []string{"tok1"}},
		{name: "KeptInDoubleQuotes", text: "add -n \"My\u00a0token\" -r member", tokenName: "My\u00a0token"},
		{name: "KeptInSingleQuotes", text: "add -n 'My\u00a0token'\u00a0-r member", tokenName: "My\u00a0token"},
		{name: "KeptInCurlyQuotesAroundApostrophe", text: "add -n “Bob’s\u00a0token” -r\u00a0member", tokenName: "Bob's\u00a0token"},
		{name: "KeptAfterBackslash", text: "add -n My\\\u00a0token -r member", tokenName: "My\u00a0token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, a, err := s.parse(tt.text)
			require.NoError(t, err)
			assert.Equal(t, tt.positionals, a.Positionals)
			assert.Equal(t, tt.tokenName, a.Name)
			assert.Equal(t, "WORKSPACE_MEMBER", a.Role)
		})
	}
}

// TestParseBadFlagSyntax: words the flag package refuses as "bad flag syntax" get a message of
// the bot's own, with the usage line, and a hint at the flag meant.
func TestParseBadFlagSyntax(t *testing.T) {
	t.Parallel()
	s := newParseService(t)
	tests := []refusal{
		{name: "ThreeDashes", text: "add tok ---role member",
			message: `"---role" has too many dashes: a flag starts with - or --.`, hint: "Did you mean --role?", usage: "add"},
		{name: "ThreeDashesShortFlag", text: "add tok ---r member",
			message: `"---r" has too many dashes: a flag starts with - or --.`, hint: "Did you mean --role?", usage: "add"},
		{name: "ThreeDashesWithValue", text: "list ---page=2",
			message: `"---page=2" has too many dashes: a flag starts with - or --.`, hint: "Did you mean --page?", usage: "list"},
		{name: "ThreeDashesTypo", text: "list ---pgae 2",
			message: `"---pgae" has too many dashes: a flag starts with - or --.`, hint: "Did you mean --page?", usage: "list"},
		{name: "DashesOnly", text: "add tok -r member ---",
			message: `"---" has too many dashes: a flag starts with - or --.`, hint: "Flags look like --role ROLE or --role=ROLE.", usage: "add"},
		{name: "DashesOnlyWithoutRoleFlag", text: "remove tok ----",
			message: `"----" has too many dashes: a flag starts with - or --.`, hint: "Flags look like --org-token-name NAME or --org-token-name=NAME.", usage: "remove"},
		{name: "NoNameBeforeEquals", text: "list --=member",
			message: `"--=member" has no flag name before the "=".`, hint: "Flags look like --role ROLE or --role=ROLE.", usage: "list"},
		{name: "ShortNoNameBeforeEquals", text: "add tok -=x",
			message: `"-=x" has no flag name before the "=".`, hint: "Flags look like --role ROLE or --role=ROLE.", usage: "add"},
		{name: "VerbWithoutFlags", text: "show ---legacy",
			message: `"---legacy" has too many dashes: a flag starts with - or --.`,
			hint:    `show takes no flags. If "---legacy" is an argument, put -- before it.`, usage: "show"},
		{name: "HelpVerb", text: "help ---",
			message: `"---" has too many dashes: a flag starts with - or --.`, hint: "help takes no flags.", usage: "help"},
		// Not bad syntax, but the same rough edge: a one-letter name was shown with two dashes.
		{name: "UnknownNonASCIIShortFlag", text: "list -ü",
			message: "Unknown flag -ü for list.", usage: "list"},
	}
	checkRefusals(t, s, tests)
}

// TestParseFlagsAfterEndOfFlags: flags typed after "--" are arguments to the parser, so the
// verb has too many; the user is told that "--" is why, not only that there are extra words.
func TestParseFlagsAfterEndOfFlags(t *testing.T) {
	t.Parallel()
	s := newParseService(t)
	const ends = `"--" ends the flags, so what follows it is taken as arguments.`
	const hint = `Put the flags before "--", or drop it: it is only needed before an argument that starts with a dash.`
	tests := []refusal{
		{name: "AfterTheID", text: "add tok -- -r member",
			message: `Unexpected extra arguments: "-r" "member". ` + ends, hint: hint, usage: "add"},
		// The flag became the token ID, so only its value is extra.
		{name: "BeforeTheID", text: "add -- -r member tok",
			message: `Unexpected extra arguments: "member" "tok". ` + ends, hint: hint, usage: "add"},
		{name: "VerbWithoutArguments", text: "list -w ws -- --page 2",
			message: `Unexpected extra arguments: "--page" "2". ` + ends, hint: hint, usage: "list"},
		{name: "ExplainedChange", text: "explain update tok -- -r owner",
			message: `Unexpected extra arguments: "-r" "owner". ` + ends, hint: hint, usage: "explain"},
		{name: "TypedAsEmDash", text: "update tok — —role owner",
			message: `Unexpected extra arguments: "—role" "owner". "—" (read as --) ends the flags, so what follows it is taken as arguments.`,
			hint:    `Put the flags before "—", or drop it`, usage: "update"},
		// Without a flag after "--", the extra words are most likely a name with spaces.
		{name: "NoFlagAfterIt", text: "add -- tok extra",
			message: `Unexpected extra arguments: "extra".`, hint: `Put a name with spaces in quotes: -n "My token".`, usage: "add"},
		// A lone flag after "--" is the verb's one argument: not extra, but not meant either.
		{name: "OnlyArgumentBesideAName", text: "add -n x -- -r",
			message: `"-r" is written as a flag, but ` + ends, hint: hint, usage: "add"},
		{name: "OnlyArgument", text: "remove -- -w",
			message: `"-w" is written as a flag, but ` + ends, hint: hint, usage: "remove"},
		{name: "OnlyArgumentWithValue", text: "update -n x -r owner -- --for=2h",
			message: `"--for=2h" is written as a flag, but ` + ends, hint: hint, usage: "update"},
		{name: "OnlyArgumentOfExplainedChange", text: "explain update -n x -r owner -- -w",
			message: `"-w" is written as a flag, but ` + ends, hint: hint, usage: "explain"},
		{name: "ExplainedChangeIsAFlag", text: "explain -- -r owner",
			message: `"-r" is written as a flag, but ` + ends, hint: hint, usage: "explain"},
		{name: "OnlyArgumentAfterEmDash", text: "add -n x — —role",
			message: `"—role" is written as a flag, but "—" (read as --) ends the flags, so what follows it is taken as arguments.`,
			hint:    `Put the flags before "—", or drop it`, usage: "add"},
		{name: "NoFlagAsOnlyArgument", text: "add -n x -- tok",
			message: "Give the token's ID or its name, not both.", hint: `Drop either "tok" or --org-token-name.`, usage: "add"},
	}
	checkRefusals(t, s, tests)
}

func TestParseArgumentAfterEndOfFlagsMayStartWithDashes(t *testing.T) {
	t.Parallel()
	s := newParseService(t)
	_, a, err := s.parse("show -- ---legacy")
	require.NoError(t, err)
	assert.Equal(t, []string{"---legacy"}, a.Positionals)
}

// TestParseSlackDashes: Slack clients turn "--" into an em dash (some into an en dash) as people
// type, so "—role member" is read as "--role member"; text pasted from documents has Unicode
// hyphens or minus signs for "-", so "−r member" is read as "-r member".
func TestParseSlackDashes(t *testing.T) {
	t.Parallel()
	s := newParseService(t)
	tests := []struct {
		name, text  string
		positionals []string
		tokenName   string
		role        string
		reason      string
		allWS       bool
		page        int
	}{
		{name: "EmDashLongFlag", text: "add tok1 —role member", positionals: []string{"tok1"}, role: "WORKSPACE_MEMBER"},
		{name: "EnDashLongFlag", text: "add tok1 –role member", positionals: []string{"tok1"}, role: "WORKSPACE_MEMBER"},
		{name: "EmDashShortFlag", text: "add tok1 —r member", positionals: []string{"tok1"}, role: "WORKSPACE_MEMBER"},
		{name: "EmDashEquals", text: "update tok1 —role=owner", positionals: []string{"tok1"}, role: "WORKSPACE_OWNER"},
		{name: "EmDashName", text: `add —org-token-name “CI deployer” —role author —reason "new job"`, tokenName: "CI deployer", role: "WORKSPACE_AUTHOR", reason: "new job"},
		{name: "EmDashSwitch", text: "list —all-workspaces —page 2", allWS: true, page: 2},
		{name: "EmDashEndsFlags", text: "remove -w ws — tok9", positionals: []string{"tok9"}},
		// A value is kept as typed: only one of the verb's flags is refused as a value.
		{name: "ValueStartingWithEmDash", text: "add -n —legacy -r member", tokenName: "—legacy", role: "WORKSPACE_MEMBER"},
		{name: "ValueAfterEqualsNamingAFlag", text: "add -n=—role -r member", tokenName: "—role", role: "WORKSPACE_MEMBER"},
		// show takes no flags: a name that starts with a dash is its argument.
		{name: "NameForVerbWithoutFlags", text: "show —legacy", positionals: []string{"—legacy"}},
		{name: "MinusShortFlag", text: "add tok1 −r WORKSPACE_MEMBER", positionals: []string{"tok1"}, role: "WORKSPACE_MEMBER"},
		{name: "HyphensLongFlag", text: "add tok1 ‐‐role member", positionals: []string{"tok1"}, role: "WORKSPACE_MEMBER"},
		{name: "NonBreakingHyphensEquals", text: "update tok1 ‑‑role=owner", positionals: []string{"tok1"}, role: "WORKSPACE_OWNER"},
		{name: "MinusAndHyphenMixed", text: "list −‐all-workspaces ‐‐page 2", allWS: true, page: 2},
		{name: "HyphensEndFlags", text: "remove -w ws ‐‐ tok9", positionals: []string{"tok9"}},
		{name: "ValueStartingWithMinus", text: "add −n −legacy −r member", tokenName: "−legacy", role: "WORKSPACE_MEMBER"},
		{name: "ReasonStartingWithHyphens", text: "add tok1 -r member --reason ‐‐urgent", positionals: []string{"tok1"}, role: "WORKSPACE_MEMBER", reason: "‐‐urgent"},
		{name: "MinusNameForVerbWithoutFlags", text: "show −legacy", positionals: []string{"−legacy"}},
		// Other lookalikes: the figure dash, horizontal bar (read like an em dash), and the small
		// and fullwidth hyphen-minus typed by Japanese and Chinese input methods.
		{name: "FigureDashShortFlag", text: "add tok1 ‒r member", positionals: []string{"tok1"}, role: "WORKSPACE_MEMBER"},
		{name: "HorizontalBarLongFlag", text: "update tok1 ―role=owner", positionals: []string{"tok1"}, role: "WORKSPACE_OWNER"},
		{name: "HorizontalBarEndsFlags", text: "remove -w ws ― tok9", positionals: []string{"tok9"}},
		{name: "SmallHyphenMinusShortFlag", text: "add tok1 ﹣r member", positionals: []string{"tok1"}, role: "WORKSPACE_MEMBER"},
		{name: "FullwidthHyphenMinusLongFlag", text: "list －－all-workspaces －－page 2", allWS: true, page: 2},
		{name: "FullwidthHyphenMinusName", text: `add －n "CI deployer" －r member`, tokenName: "CI deployer", role: "WORKSPACE_MEMBER"},
		{name: "ValueStartingWithFullwidthHyphenMinus", text: "add -n －legacy -r member", tokenName: "－legacy", role: "WORKSPACE_MEMBER"},
		{name: "ReasonStartingWithHorizontalBar", text: "add tok1 -r member --reason ―urgent", positionals: []string{"tok1"}, role: "WORKSPACE_MEMBER", reason: "―urgent"},
		{name: "SmallHyphenMinusNameForVerbWithoutFlags", text: "show ﹣legacy", positionals: []string{"﹣legacy"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, a, err := s.parse(tt.text)
			require.NoError(t, err)
			assert.Equal(t, tt.positionals, a.Positionals)
			assert.Equal(t, tt.tokenName, a.Name)
			assert.Equal(t, tt.role, a.Role)
			assert.Equal(t, tt.reason, a.Reason)
			assert.Equal(t, tt.allWS, a.AllWS)
			assert.Equal(t, tt.page, a.Page)
		})
	}
}

// TestPlainDashesReadsEveryDash guards plainDashes' first-byte check: a dash added to
// unicodeDashes whose UTF-8 starts with another byte would never be read.
func TestPlainDashesReadsEveryDash(t *testing.T) {
	t.Parallel()
	add := newParseService(t).commands[0]
	for _, r := range unicodeDashes {
		got := add.plainDashes(string(r) + "role")
		assert.Contains(t, []string{"-role", "--role"}, got, "%U", r)
	}
}

func TestParseSlackDashesRefused(t *testing.T) {
	t.Parallel()
	s := newParseService(t)
	tests := []refusal{
		{name: "UnknownFlag", text: "add tok —rol member",
			message: "Unknown flag --rol for add.", hint: "Did you mean --role?", usage: "add"},
		{name: "TooManyDashes", text: "add tok —-role member",
			message: `"—-role" has too many dashes: a flag starts with - or --.`, hint: "Did you mean --role?", usage: "add"},
		{name: "HyphenThenEmDash", text: "list -—page 2",
			message: `"-—page" has too many dashes: a flag starts with - or --.`, hint: "Did you mean --page?", usage: "list"},
		{name: "ValueFlagThenEmDashFlag", text: "add -n —role member",
			message: `The flag -n needs a value (NAME), but the next word is "—role".`, hint: "write -n=—role.", usage: "add"},
		{name: "ValueFlagThenLoneEmDash", text: "remove -n — tok",
			message: `The flag -n needs a value (NAME), but the next word is "—".`, hint: "write -n=—.", usage: "remove"},
		{name: "MissingValue", text: "add tok —role",
			message: "The flag --role needs a value (ROLE).", usage: "add"},
		{name: "MinusUnknownFlag", text: "list −rol member",
			message: "Unknown flag --rol for list.", hint: "Did you mean --role?", usage: "list"},
		{name: "EmDashThenMinus", text: "add tok —−role member",
			message: `"—−role" has too many dashes: a flag starts with - or --.`, hint: "Did you mean --role?", usage: "add"},
		{name: "ValueFlagThenMinusFlag", text: "add -n −r member",
			message: `The flag -n needs a value (NAME), but the next word is "−r".`, hint: "write -n=−r.", usage: "add"},
		{name: "MissingValueAfterHyphens", text: "update tok ‐‐role",
			message: "The flag --role needs a value (ROLE).", usage: "update"},
		// A lone hyphen is no flag, so it stays the word that was typed.
		{name: "LoneHyphen", text: "list ‐",
			message: `Unexpected extra arguments: "‐".`, usage: "list"},
		{name: "LoneFullwidthHyphenMinus", text: "list －",
			message: `Unexpected extra arguments: "－".`, usage: "list"},
		{name: "FullwidthUnknownFlag", text: "list －－rol member",
			message: "Unknown flag --rol for list.", hint: "Did you mean --role?", usage: "list"},
		{name: "HorizontalBarAndHyphen", text: "add tok ―-role member",
			message: `"―-role" has too many dashes: a flag starts with - or --.`, hint: "Did you mean --role?", usage: "add"},
		{name: "ValueFlagThenSmallHyphenMinusFlag", text: "add -n ﹣r member",
			message: `The flag -n needs a value (NAME), but the next word is "﹣r".`, hint: "write -n=﹣r.", usage: "add"},
		{name: "ValueFlagThenFigureDashFlag", text: "add -n ‒‒role member",
			message: `The flag -n needs a value (NAME), but the next word is "‒‒role".`, hint: "write -n=‒‒role.", usage: "add"},
		{name: "FlagAfterHorizontalBar", text: "update tok ― ―role owner",
			message: `Unexpected extra arguments: "―role" "owner". "―" (read as --) ends the flags, so what follows it is taken as arguments.`,
			hint:    `Put the flags before "―", or drop it`, usage: "update"},
	}
	checkRefusals(t, s, tests)
}

func TestParseSlackDashHelpShowsVerbHelp(t *testing.T) {
	t.Parallel()
	s := newParseService(t)
	for _, text := range []string{"add —help", "list tok –h", "show —help", "add tok −h", "show ‐‐help", "add －h", "show ―help", "list ﹣h"} {
		// Parsed first: without the help, show would go on to look the token up.
		_, _, err := s.parse(text)
		var e *Error
		require.ErrorAs(t, err, &e, text)
		require.Equal(t, EHelp, e.Code, "%s: %s", text, e.Message)
		r := s.Run(t.Context(), Request{UserID: "U1", Text: text})
		verb, _, _ := strings.Cut(text, " ")
		assert.Contains(t, r.Title, "/orgtoken "+verb+": ", text)
		assert.Contains(t, r.Body[0].Plain(), "Usage: /orgtoken "+verb, text)
	}
}

func TestParseHintsFitTheVerb(t *testing.T) {
	t.Parallel()
	s := newParseService(t)
	tests := []struct{ name, text, message, hint string }{
		{name: "ExtraWordsWithNameFlag", text: "add tok extra -r member",
			message: `Unexpected extra arguments: "extra".`, hint: `Put a name with spaces in quotes: -n "My token".`},
		{name: "ExtraWordsWithoutNameFlag", text: "show my token",
			message: `Unexpected extra arguments: "token".`, hint: `Put a value with spaces in quotes: "My token".`},
		{name: "MissingValueSaysWhatItTakes", text: "update tok -r member --for",
			message: "The flag --for needs a value (DURATION).", hint: "--for DURATION: Make the change for a while only, e.g. --for 2h"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, _ := rejected(t, s, tt.text)
			assert.Equal(t, tt.message, e.Message)
			assert.Contains(t, e.Hint, tt.hint)
		})
	}
}

func TestParseFlagWithALineBreakIsNamedQuoted(t *testing.T) {
	t.Parallel()
	e, _ := rejected(t, newParseService(t), "add -\"\n\" -r member")
	assert.Equal(t, `Unknown flag "-\n" for add.`, e.Message)
}

// refusal is input the parser must refuse, and what the user is told.
type refusal struct {
	name, text, message, hint, usage string
}

// checkRefusals parses each refusal's text and checks the message, that the hint says the
// expected thing, and that the verb's usage line is shown.
func checkRefusals(t *testing.T, s *Service, tests []refusal) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, usage := rejected(t, s, tt.text)
			assert.Equal(t, tt.message, e.Message)
			assert.Contains(t, e.Hint, tt.hint)
			assert.Contains(t, usage, "Usage: /orgtoken "+tt.usage)
		})
	}
}

// TestParseUnknownFlagSuggestsOnlyACloseOne: "Did you mean" names a flag the one typed is a
// slip of, never an unrelated one that happens to be short (any one letter is one edit from -n).
func TestParseUnknownFlagSuggestsOnlyACloseOne(t *testing.T) {
	t.Parallel()
	s := newParseService(t)
	tests := []struct{ name, text, message, hint string }{
		{name: "RoleForRemove", text: "remove tok -r owner",
			message: "Unknown flag -r for remove.", hint: "remove takes no --role: it removes whatever role the token has in the workspace."},
		{name: "LongRoleForRemove", text: "remove tok --role=owner",
			message: "Unknown flag --role for remove.", hint: "remove takes no --role: it removes whatever role the token has in the workspace."},
		{name: "ForForList", text: "list --for 2h", message: "Unknown flag --for for list."},
		{name: "ForForRemove", text: "remove tok --for 2h", message: "Unknown flag --for for remove."},
		{name: "UnrelatedLetter", text: "add tok -r owner -x", message: "Unknown flag -x for add."},
		{name: "ShortFlagOfAnotherVerb", text: "list -n ci", message: "Unknown flag -n for list."},
		{name: "Misspelt", text: "list --pgae 2", message: "Unknown flag --pgae for list.", hint: "Did you mean --page?"},
		{name: "LetterMissing", text: "add tok --rol owner", message: "Unknown flag --rol for add.", hint: "Did you mean --role?"},
		// A verb without flags takes a name that starts with a dash after "--".
		{name: "NameStartingWithADash", text: "show -legacy",
			message: "Unknown flag --legacy for show.", hint: `show takes no flags. If "-legacy" is an argument, put -- before it.`},
		{name: "IDStartingWithADash", text: "cancel --x1",
			message: "Unknown flag --x1 for cancel.", hint: `cancel takes no flags. If "--x1" is an argument, put -- before it.`},
		{name: "AfterAnArgument", text: "revert-now abc -f",
			message: "Unknown flag -f for revert-now.", hint: `revert-now takes no flags. If "-f" is an argument, put -- before it.`},
		{name: "LetterAdded", text: "add tok -r owner --reasons x", message: "Unknown flag --reasons for add.", hint: "Did you mean --reason?"},
		// Two letters swapped are one slip, as the threshold's comment says, also in a short flag.
		{name: "LettersSwapped", text: "add tok -r owner --fro 2h", message: "Unknown flag --fro for add.", hint: "Did you mean --for?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, _ := rejected(t, s, tt.text)
			assert.Equal(t, tt.message, e.Message)
			assert.Equal(t, tt.hint, e.Hint)
		})
	}
}
