package commands

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newParseService(t testing.TB) *Service {
	t.Helper()
	s, err := New(Config{Tokens: unusedTokens{}, Authorizer: AuthorizerFunc(nil), DefaultWorkspace: "wsdefault"})
	require.NoError(t, err)
	return s
}

func TestParseAccepts(t *testing.T) {
	t.Parallel()
	s := newParseService(t)
	tests := []struct {
		name, text, verb string
		positionals      []string
		tokenName, role  string
		workspace        string
		page             int
	}{
		{name: "IDThenFlag", text: "add tok123 --role member", verb: "add", positionals: []string{"tok123"}, role: "WORKSPACE_MEMBER"},
		{name: "FlagThenID", text: "add --role member tok123", verb: "add", positionals: []string{"tok123"}, role: "WORKSPACE_MEMBER"},
		{name: "EqualsForm", text: "add tok123 --role=OPERATOR", verb: "add", positionals: []string{"tok123"}, role: "WORKSPACE_OPERATOR"},
		{name: "FullRoleName", text: "update tok123 -r Workspace_Author", verb: "update", positionals: []string{"tok123"}, role: "WORKSPACE_AUTHOR"},
		{name: "ShortFlags", text: `add -n "My token" -r owner -w ws1`, verb: "add", tokenName: "My token", role: "WORKSPACE_OWNER", workspace: "ws1"},
		{name: "LongNameEquals", text: "update --org-token-name=name --role author --workspace-id=ws2", verb: "update", tokenName: "name", role: "WORKSPACE_AUTHOR", workspace: "ws2"},
		{name: "CurlyDoubleQuotes", text: "add -n “My token” --role member", verb: "add", tokenName: "My token", role: "WORKSPACE_MEMBER"},
		{name: "CurlySingleQuotes", text: "add -n ‘My token’ --role member", verb: "add", tokenName: "My token", role: "WORKSPACE_MEMBER"},
		{name: "GermanSingleQuotes", text: "add -n ‚My token‘ --role member", verb: "add", tokenName: "My token", role: "WORKSPACE_MEMBER"},
		{name: "ApostropheInsideDoubleQuotes", text: "add -n “Bob’s token” -r member", verb: "add", tokenName: "Bob's token", role: "WORKSPACE_MEMBER"},
		{name: "HashInName", text: "add -n #ops -r member", verb: "add", tokenName: "#ops", role: "WORKSPACE_MEMBER"},
		{name: "DoubleDashEndsFlags", text: "remove -w ws -- tok9", verb: "remove", positionals: []string{"tok9"}, workspace: "ws"},
		{name: "RemoveByName", text: `remove --org-token-name "a b"`, verb: "remove", tokenName: "a b"},
		{name: "VerbIgnoresCase", text: "LIST", verb: "list"},
		{name: "ListPaged", text: "list --page 2 -w ws", verb: "list", workspace: "ws", page: 2},
		{name: "CommandNamePrefix", text: "/orgtoken list", verb: "list"},
		{name: "ShowQuotedName", text: `show "ci token"`, verb: "show", positionals: []string{"ci token"}},
		{name: "HelpVerb", text: "help add", verb: "help", positionals: []string{"add"}},
		{name: "NewlinesAreSpaces", text: "add tok1\n--role\tmember", verb: "add", positionals: []string{"tok1"}, role: "WORKSPACE_MEMBER"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cmd, a, err := s.parse(tt.text)
			require.NoError(t, err)
			require.NotNil(t, cmd)
			assert.Equal(t, tt.verb, cmd.Verb)
			assert.Equal(t, tt.positionals, a.Positionals)
			assert.Equal(t, tt.tokenName, a.Name)
			assert.Equal(t, tt.role, a.Role)
			assert.Equal(t, tt.workspace, a.WorkspaceID)
			assert.Equal(t, tt.page, a.Page)
		})
	}
}

func TestParseEmptyTextIsHelp(t *testing.T) {
	t.Parallel()
	s := newParseService(t)
	for _, text := range []string{"", "   ", "/orgtoken"} {
		cmd, _, err := s.parse(text)
		require.NoError(t, err)
		assert.Nil(t, cmd, "text %q", text)
	}
}

func TestParseRejects(t *testing.T) {
	t.Parallel()
	s := newParseService(t)
	tests := []struct {
		name, text string
		message    string // substring of the message
		usage      string // verb whose usage line is shown; "" for none
		hint       string // substring of the hint
	}{
		{name: "UnknownSubcommandSuggestsClosest", text: "ad tok -r member", message: `Unknown subcommand "ad".`, hint: "Did you mean /orgtoken add?"},
		{name: "UnknownSubcommandListsAll", text: "frobnicate", message: `Unknown subcommand "frobnicate".`, hint: "Subcommands: add, update, remove, list, show, requests, cancel, explain, revert-now, help"},
		{name: "UnknownFlagSuggestsClosest", text: "add tok --rol member", message: "Unknown flag --rol for add.", usage: "add", hint: "Did you mean --role?"},
		{name: "FlagNotForVerb", text: "remove tok -r member", message: "Unknown flag -r for remove.", usage: "remove"},
		{name: "MissingValue", text: "add tok --role", message: "The flag --role needs a value (ROLE).", usage: "add"},
		{name: "MissingShortValue", text: "add tok -r member -n", message: "The flag -n needs a value (NAME).", usage: "add"},
		{name: "DuplicateFlag", text: "add tok -r member --role owner", message: "The flag --role is given more than once.", usage: "add"},
		{name: "DuplicateName", text: "add -n a --org-token-name b -r member", message: "The flag --org-token-name is given more than once.", usage: "add"},
		{name: "BothIDAndName", text: "add tok -n name -r member", message: "Give the token's ID or its name, not both.", usage: "add"},
		{name: "NeitherIDNorName", text: "update -r member", message: "Which token? Give its ID or --org-token-name NAME.", usage: "update"},
		{name: "UnbalancedQuotes", text: `add -n "abc -r member`, message: "unbalanced quote", hint: "matching quotes"},
		{name: "UnbalancedCurlyQuote", text: "add -n “abc -r member", message: "unbalanced quote"},
		{name: "ExtraArguments", text: "add a b -r member", message: `Unexpected extra arguments: "b".`, usage: "add", hint: "in quotes"},
		{name: "UnquotedNameWithSpaces", text: "add -n my token -r member", message: "not both", usage: "add", hint: `put the whole name in quotes: -n "my token"`},
		{name: "EmptyName", text: `add -n "" -r member`, message: "Invalid value for -n: the token name is empty.", usage: "add"},
		{name: "BlankName", text: `add --org-token-name="  " -r member`, message: "the token name is empty", usage: "add"},
		{name: "InvalidRoleListsValid", text: "add tok -r admin", message: `Invalid value for -r: "admin" is not a Workspace role.`, usage: "add", hint: "Valid roles: member, author, operator, owner."},
		{name: "MissingRole", text: "add tok", message: "The --role flag is required for add.", usage: "add", hint: "Valid roles"},
		{name: "ExplainMissingRoleNamesTheChange", text: "explain update tok", message: "The --role flag is required for explain update.", usage: "explain", hint: "Valid roles"},
		{name: "NotAnID", text: `add "my token" -r member`, message: `"my token" does not look like a token ID.`, usage: "add", hint: "-n"},
		{name: "EmptyWorkspace", text: "list -w ''", message: "the workspace is empty", usage: "list"},
		{name: "WorkspaceTwice", text: "list -w a --workspace b", message: "the workspace is given twice", usage: "list"},
		{name: "BadElevation", text: "update tok -r owner --for soon", message: `"soon" is not a duration`, usage: "update"},
		{name: "BadPage", text: "list --page 0", message: `"0" is not a page number`, usage: "list"},
		{name: "ListTakesNoArguments", text: "list foo", message: `Unexpected extra arguments: "foo".`, usage: "list"},
		{name: "ShowNeedsAToken", text: "show", message: "Missing the token's ID or name.", usage: "show"},
		{name: "HelpTakesOneVerb", text: "help add list", message: `Unexpected extra arguments: "list".`, usage: "help"},
		{name: "BadFlagSyntax", text: "add tok ---role member", message: `"---role" has too many dashes`, usage: "add", hint: "Did you mean --role?"},
		{name: "TooLong", text: "list " + strings.Repeat("x", MaxInputRunes), message: "the limit is 4,000"},
		{name: "ControlCharacter", text: "list\x1b[31m", message: "control character (U+001B)"},
		{name: "BidiOverride", text: "add -n \u202etok -r member", message: "control character (U+202E)"},
		{name: "InvalidUTF8", text: "list \xff", message: "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := s.parse(tt.text)
			var e *Error
			require.True(t, errors.As(err, &e), "want *Error, got %v", err)
			assert.Equal(t, EInvalid, e.Code)
			assert.Contains(t, e.Message, tt.message)
			assert.Contains(t, e.Hint, tt.hint)
			if tt.usage == "" {
				assert.Nil(t, e.verb)
			} else if assert.NotNil(t, e.verb) {
				assert.Equal(t, tt.usage, e.verb.Verb)
				r := s.errorReply(e)
				assert.Contains(t, r.Body[len(r.Body)-1-btoi(e.Hint != "")].Plain(), "Usage: /orgtoken "+tt.usage)
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestParseDashHShowsVerbHelp(t *testing.T) {
	t.Parallel()
	s := newParseService(t)
	r := s.Run(t.Context(), Request{UserID: "U1", Text: "add -h"})
	assert.Contains(t, r.Title, "/orgtoken add: Add an Organization API token")
	assert.Contains(t, r.Body[0].Plain(), "Usage: /orgtoken add (TOKEN_ID | --org-token-name NAME | -n NAME) --role ROLE")
}

// TestUsageSaysIDOrName: the usage line shown when a token is given both by ID and by name
// offers them as alternatives, as the parser takes them, not an optional ID beside a required
// name.
func TestUsageSaysIDOrName(t *testing.T) {
	t.Parallel()
	s := newParseService(t)
	for _, text := range []string{"add tok -n a -r member", "update tok -n a -r member", "remove tok -n a", "explain add tok -n a -r member"} {
		_, _, err := s.parse(text)
		var e *Error
		require.True(t, errors.As(err, &e), text)
		require.Equal(t, "Give the token's ID or its name, not both.", e.Message, text)
		assert.Contains(t, s.usage(e.verb), " (TOKEN_ID | --org-token-name NAME | -n NAME)", text)
		assert.NotContains(t, s.usage(e.verb), "[TOKEN_ID]", text)
	}
}

// rawParserWords are phrases of Go's flag, strconv and shlex errors, and of the fallback that
// quotes them: a user should never see them.
var rawParserWords = []string{"bad flag syntax", "flag provided but not defined", "flag needs an argument",
	"invalid value", "invalid boolean", "Could not read the flags", "strconv.", "EOF found", "Unknown token type",
	"Unexpected state"}

func assertNoRawParserWords(t *testing.T, text string, e *Error) {
	t.Helper()
	for _, raw := range rawParserWords {
		// A reply may quote what was typed, which may hold anything.
		if (strings.Contains(e.Message, raw) || strings.Contains(e.Hint, raw)) && !strings.Contains(text, raw) {
			t.Errorf("parse(%q) shows the parser's own words %q: %s (hint %q)", text, raw, e.Message, e.Hint)
		}
	}
}

// TestParseOddInputs: odd input gets a message that says what is wrong, in the bot's words,
// rather than the parser's, or a panic.
func TestParseOddInputs(t *testing.T) {
	t.Parallel()
	s := newParseService(t)
	tests := []struct{ text, message string }{
		{`add -n "abc -r member`, "The command has an unbalanced quote or a trailing backslash."},
		{"add -n 'Bob's token' -r member", "The command has an unbalanced quote or a trailing backslash."},
		{`list -w ws \`, "The command has an unbalanced quote or a trailing backslash."},
		{"list -", `Unexpected extra arguments: "-".`},
		{"add tok -r member -", `Unexpected extra arguments: "-".`},
		{"show --", "Missing the token's ID or name."},
		{"list -- -- x", `Unexpected extra arguments: "--" "x". "--" ends the flags, so what follows it is taken as arguments.`},
		{"list =member", `Unexpected extra arguments: "=member".`},
		{"list --=member", `"--=member" has no flag name before the "=".`},
		{"list -=", `"-=" has no flag name before the "=".`},
		{"list --role=", `Invalid value for --role: "" is not a Workspace role.`},
		{"add tok --role= member", `Invalid value for --role: "" is not a Workspace role.`},
		{"list -w ''", "Invalid value for -w: the workspace is empty."},
		{"list -w=", "Invalid value for -w: the workspace is empty."},
		{`add -n '' -r member`, "Invalid value for -n: the token name is empty."},
		{`add tok -r member --reason ""`, "Invalid value for --reason: the reason is empty."},
		{"list --name=", "Invalid value for --name: the text to look for is empty."},
		{"list --page=", `Invalid value for --page: "" is not a page number.`},
		{"list --page 99999999999999999999", `Invalid value for --page: "99999999999999999999" is not a page number.`},
		{"list --page -1", `Invalid value for --page: "-1" is not a page number.`},
		{"add tok -r member --for=", `Invalid value for --for: "" is not a duration such as 30m, 2h or 3d.`},
		{"list -r member -r member", "The flag --role is given more than once."},
		{"list -w a -w a", "The flag --workspace-id is given more than once."},
		{"list --page 1 --page=1", "The flag --page is given more than once."},
		{"list -w", "The flag -w needs a value (WS)."},
		{"add tok ---role member", `"---role" has too many dashes: a flag starts with - or --.`},
		{"list ---", `"---" has too many dashes: a flag starts with - or --.`},
		{"add tok -r member —-", `"—-" has too many dashes: a flag starts with - or --.`},
		{"add tok ——role member", `"——role" has too many dashes: a flag starts with - or --.`},
		{"list —rol member", "Unknown flag --rol for list."},
		{"add -n -h", `The flag -n needs a value (NAME), but the next word is "-h".`},
		{"list -ü", "Unknown flag -ü for list."},
		{"show -x", "Unknown flag -x for show."},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			t.Parallel()
			e, _ := rejected(t, s, tt.text)
			assert.Equal(t, tt.message, e.Message)
			assertNoRawParserWords(t, tt.text, e)
		})
	}
}

// FuzzParse checks that no input panics the parser and that every refusal says something, in
// the bot's words.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"add tok123 --role member", `add -n "My token" -r owner -w ws1`, "add -n “x” --role=author",
		"list --page 2", "show 'a b'", "help add", `add -n "abc`, "---", "-- --", "add -r", "\\",
		"update tok -r member -r owner", "remove -n # -w", "help help help",
		"add tok ---role member", "list --=x", "add -n -h", "add tok —role member", "list —-page 2", "show —",
		"add -n ---role member", "add tok −r member", "list ‐‐page 2 ‐", "add tok -- -r member", "explain update tok — —role owner",
		"add tok ﹣r member", "list －－page 2 －", "remove ― tok", "add -n ‒‒role x",
		"add -n --ROLE member", "add tok -R member", "list --PAGE=2", "show -H",
		"add -n x -- -r", "explain -- -r owner",
	} {
		f.Add(seed)
	}
	s := newParseService(f)
	f.Fuzz(func(t *testing.T, text string) {
		cmd, a, err := s.parse(text)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("parse(%q) returned a non-user error: %v", text, err)
			}
			if strings.TrimSpace(e.Message) == "" {
				t.Fatalf("parse(%q) returned an error without a message", text)
			}
			assertNoRawParserWords(t, text, e)
			return
		}
		if cmd != nil && a == nil {
			t.Fatalf("parse(%q) returned a command without arguments", text)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	s := newParseService(b)
	for b.Loop() {
		if _, _, err := s.parse(`add --org-token-name "CI deployer" --role operator -w clwsprod000000000000001`); err != nil {
			b.Fatal(err)
		}
	}
}
