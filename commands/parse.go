package commands

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/shlex"

	"github.com/orgtoken/orgtoken-bot/astro"
	"github.com/orgtoken/orgtoken-bot/reply"
)

// MaxInputRunes bounds the text after the command; Slack itself allows about 4,000.
const MaxInputRunes = 4000

// args is what a verb's flags and positionals parse into. Each verb uses a subset.
type args struct {
	Positionals []string
	Name        string        // --org-token-name
	Role        string        // --role, normalised to the API's name
	WorkspaceID string        // --workspace-id
	Page        int           // --page, 1-based; 0 when not given
	Reason      string        // --reason, why a change is asked for (approvals and audit)
	For         time.Duration // --for, how long a time-boxed change lasts; 0 = for good
	NameFilter  string        // list --name: substring of token names
	AllWS       bool          // list --all-workspaces
	// endOfFlags is the "--" that ended the flags as it was typed ("" when none did), and
	// afterEnd how many of the last Positionals came after it.
	endOfFlags string
	afterEnd   int
	given      map[string]bool
	cmd        *command // the verb being parsed
}

func (a *args) has(flagName string) bool { return a.given[flagName] }

// flagSpec is one flag a verb accepts. Specs build both the FlagSet and the help text.
type flagSpec struct {
	Long, Short string
	Arg         string // placeholder in usage, e.g. NAME
	Help        string
	Bool        bool // a switch: present or not, no value
	set         func(a *args, v string) error
}

func (f flagSpec) usage() string {
	if f.Bool {
		return "--" + f.Long
	}
	s := "--" + f.Long + " " + f.Arg
	if f.Short != "" {
		s += " | -" + f.Short + " " + f.Arg
	}
	return s
}

var (
	flagName = flagSpec{Long: "org-token-name", Short: "n", Arg: "NAME",
		Help: `Name of the Organization API token. If it contains spaces, put it in quotes: -n "My token".`,
		set: func(a *args, v string) error {
			if strings.TrimSpace(v) == "" {
				return errors.New("the token name is empty")
			}
			a.Name = v
			return nil
		}}
	flagRole = flagSpec{Long: "role", Short: "r", Arg: "ROLE",
		Help: "Workspace role: " + roleChoices() + " (case-insensitive; the WORKSPACE_ prefix is optional).",
		set: func(a *args, v string) error {
			role, ok := astro.NormalizeRole(v)
			if !ok {
				return fmt.Errorf("%q is not a Workspace role", v)
			}
			a.Role = role
			return nil
		}}
	flagWorkspace = flagSpec{Long: "workspace-id", Short: "w", Arg: "WS",
		Help: "ID or name of the Workspace. Defaults to the channel's workspace, else the bot's.",
		set:  setWorkspace}
	flagReason = flagSpec{Long: "reason", Arg: "TEXT",
		Help: fmt.Sprintf(`Why the change is needed, shown to approvers and kept in the audit record (up to %d characters; quote it: --reason "incident 123").`, maxReasonRunes),
		set:  textFlag("the reason", maxReasonRunes, func(a *args, v string) { a.Reason = v })}
	flagPage = flagSpec{Long: "page", Arg: "N",
		Help: "Page of results to show, from 1.",
		set: func(a *args, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 1_000_000 {
				return fmt.Errorf("%q is not a page number", v)
			}
			a.Page = n
			return nil
		}}
)

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

func roleChoices() string {
	short := make([]string, len(astro.WorkspaceRoles))
	for i, r := range astro.WorkspaceRoles {
		short[i] = strings.ToLower(strings.TrimPrefix(r, "WORKSPACE_"))
	}
	return strings.Join(short, ", ")
}

// splitText checks the raw text and splits it into words the way a shell would. Slack clients
// turn straight quotes into curly ones, so those are straightened first, and may type a
// no-break space between words, which is made a plain one.
func splitText(text string) ([]string, error) {
	if !utf8.ValidString(text) {
		return nil, invalidf("The command contains bytes that are not valid UTF-8 text.")
	}
	if n := utf8.RuneCountInString(text); n > MaxInputRunes {
		return nil, invalidf("The command is %s characters long; the limit is %s.", reply.Count(n), reply.Count(MaxInputRunes))
	}
	if i := strings.IndexFunc(text, isForbiddenControl); i >= 0 {
		r, _ := utf8.DecodeRuneInString(text[i:])
		return nil, invalidf("The command contains a control character (%U); type it again without it.", r)
	}
	text = plainSpaces(quoteStraightener.Replace(text))
	// shlex treats a word starting with # as a comment and drops the rest of the line, which
	// would silently lose a name such as "#ops". NUL cannot appear (rejected above), so it
	// stands in for # while splitting.
	words, err := shellSplit(strings.ReplaceAll(text, "#", "\x00"))
	if err != nil {
		e := invalidf("The command has an unbalanced quote or a trailing backslash.")
		e.Hint = `Put a name with spaces in matching quotes, e.g. -n "My token". An apostrophe inside a name needs double quotes around the name.`
		return nil, e
	}
	for i, w := range words {
		words[i] = strings.ReplaceAll(w, "\x00", "#")
	}
	return words, nil
}

// shellSplit is shlex.Split reading through a pooled buffer: shlex wraps its input in a new
// 4 KB bufio.Reader unless it is given one, a tenth of the garbage a command made.
func shellSplit(s string) ([]string, error) {
	br := splitReaders.Get().(*bufio.Reader)
	defer splitReaders.Put(br)
	br.Reset(strings.NewReader(s))
	lex := shlex.NewLexer(br)
	var words []string
	for {
		w, err := lex.Next()
		if err == io.EOF {
			return words, nil
		}
		if err != nil {
			return nil, err
		}
		words = append(words, w)
	}
}

var splitReaders = sync.Pool{New: func() any { return bufio.NewReader(nil) }}

// straightQuotes maps each typographic quote Slack clients type to the straight quote the
// parser reads it as. The straightener and ShellQuote are both built from it, so quoting for
// the parser cannot miss a quote the parser will see.
var straightQuotes = []struct{ typed, straight rune }{
	{'“', '"'}, {'”', '"'}, {'„', '"'}, {'‘', '\''}, {'’', '\''}, {'‚', '\''},
}

var quoteStraightener, typographicQuotes = func() (*strings.Replacer, string) {
	var pairs []string
	var typed strings.Builder
	for _, q := range straightQuotes {
		pairs = append(pairs, string(q.typed), string(q.straight))
		typed.WriteRune(q.typed)
	}
	return strings.NewReplacer(pairs...), typed.String()
}()

// straightQuote is the straight quote the parser reads r as, or r.
func straightQuote(r rune) rune {
	for _, q := range straightQuotes {
		if q.typed == r {
			return q.straight
		}
	}
	return r
}

// plainSpaces turns Unicode spaces outside quotes into plain ones: shlex splits only on ASCII
// whitespace, so "--role\u00a0member" was one unknown flag. Inside quotes, or after a
// backslash, they may be part of a name and are kept.
func plainSpaces(text string) string {
	if !strings.ContainsFunc(text, isUnicodeSpace) {
		return text
	}
	var b strings.Builder
	b.Grow(len(text))
	var quote rune // the open quote, 0 outside quotes
	escaped := false
	for _, r := range text {
		switch {
		case escaped:
			escaped = false
		case r == '\\' && quote != '\'':
			escaped = true
		case quote == 0 && (r == '"' || r == '\''):
			quote = r
		case r == quote:
			quote = 0
		case quote == 0 && isUnicodeSpace(r):
			r = ' '
		}
		b.WriteRune(r)
	}
	return b.String()
}

func isUnicodeSpace(r rune) bool { return r > unicode.MaxASCII && unicode.IsSpace(r) }

func isForbiddenControl(r rune) bool {
	switch r {
	case '\t', '\n', '\r':
		return false
	}
	return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r)
}

// parseArgs parses words against a verb's flags. Go's flag package stops at the first
// positional argument, so this loop peels positionals off and parses again until the words run
// out, letting flags and positionals come in any order. A "--" ends the flags.
func parseArgs(cmd *command, words []string) (args, error) {
	a := args{given: map[string]bool{}, cmd: cmd}
	fs := flag.NewFlagSet(cmd.Verb, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	var setErr error
	for _, spec := range cmd.Flags {
		v := &flagValue{spec: spec, a: &a, lastErr: &setErr}
		fs.Var(v, spec.Long, spec.Help)
		if spec.Short != "" {
			fs.Var(v, spec.Short, spec.Help)
		}
	}
	typed := words
	words, err := checkFlagWords(cmd, words)
	if err != nil {
		return a, err
	}
	rest := words
	for len(rest) > 0 {
		err := fs.Parse(rest)
		if err != nil {
			// The flag package has taken the word it refused off the words it leaves.
			word := ""
			if i := len(typed) - len(fs.Args()) - 1; i >= 0 && i < len(typed) {
				word = typed[i]
			}
			return a, flagError(cmd, err, setErr, word)
		}
		left := fs.Args()
		if consumed := len(rest) - len(left); consumed > 0 && rest[consumed-1] == "--" {
			a.Positionals = append(a.Positionals, left...)
			a.endOfFlags, a.afterEnd = typed[len(typed)-len(left)-1], len(left)
			break
		}
		if len(left) == 0 {
			break
		}
		a.Positionals = append(a.Positionals, left[0])
		rest = left[1:]
	}
	return a, nil
}

// checkFlagWords reads the words where flags may stand before the flag package does, and
// returns the words for it to parse. It refuses, in the bot's words, what the flag package
// would refuse in its own ("---role", "--=x") or would misread: a value flag followed by
// another of the verb's flags, by help, or by a malformed flag would take that word as its
// value, so "-n --role member" named the token "--role", "-n -h" named it "-h" and
// "-n ---role" named it "---role". A value that really starts with a dash can still be given
// after "=" (-n=--role), which this leaves alone.
func checkFlagWords(cmd *command, words []string) ([]string, error) {
	out, cloned := words, false // the caller's words stay as typed
	for i := 0; i < len(words); i++ {
		w := cmd.plainDashes(words[i])
		if w != words[i] {
			if !cloned {
				out, cloned = slices.Clone(words), true
			}
			out[i] = w
		}
		if w == "--" {
			return out, nil
		}
		name, isFlag := flagWord(w)
		if !isFlag {
			if err := badFlagSyntax(cmd, words[i], w); err != nil {
				return nil, err
			}
			continue
		}
		if strings.Contains(name, "=") {
			continue
		}
		spec, ok := cmd.flag(name)
		if !ok {
			// Help, or an unknown flag: the flag package stops there and says which.
			return out, nil
		}
		if spec.Bool || i+1 == len(words) {
			continue
		}
		next := words[i+1]
		if nw := cmd.plainDashes(next); nw == "--" || cmd.namesFlag(nw) || malformedValue(nw) {
			e := usageErr(cmd, "The flag %s needs a value (%s), but the next word is %s.", dashed(name), spec.Arg, quote(next))
			e.Hint = fmt.Sprintf("Put the value right after %s. If the value really is %s, write %s=%s.",
				dashed(name), quote(next), dashed(name), reply.Truncate(next, 60))
			if nextName, _ := flagWord(nw); isHelpFlag(nextName) {
				e.Hint += fmt.Sprintf(" For help with %s, give %s without %s.", cmd.Verb, reply.Truncate(next, 60), dashed(name))
			}
			return nil, e
		}
		i++ // the value, kept as typed
	}
	return out, nil
}

// flagWord reports whether w is written as a flag, and its name (with any =value) without the
// one or two leading dashes the flag package accepts.
func flagWord(w string) (name string, ok bool) {
	if len(w) < 2 || w[0] != '-' || w == "--" {
		return "", false
	}
	name = strings.TrimPrefix(w[1:], "-")
	return name, name != "" && name[0] != '-' && name[0] != '='
}

// malformedFlag reports whether w, which flagWord does not take as a flag, is one the flag
// package would refuse as "bad flag syntax": three or more dashes, or none of a name before
// "=". Anything else is a positional argument or the end of the flags.
func malformedFlag(w string) bool {
	return len(w) >= 2 && w[0] == '-' && w != "--"
}

// malformedValue reports whether w, the word after a flag that needs a value, is a malformed
// flag ("---role", "--=x"): more likely a flag mistyped after a forgotten value than the value.
// A word with a space in it was quoted, so it is meant as text ("--- see above").
func malformedValue(w string) bool {
	_, isFlag := flagWord(w)
	return !isFlag && malformedFlag(w) && !strings.ContainsFunc(w, unicode.IsSpace)
}

// badFlagSyntax refuses w, a word where a flag may stand that flagWord does not take as one,
// if the flag package would refuse it as "bad flag syntax" (see malformedFlag). typed is the
// word as the user wrote it, for the message.
func badFlagSyntax(cmd *command, typed, w string) error {
	if !malformedFlag(w) {
		return nil // a positional argument, or the end of the flags
	}
	core := strings.TrimLeft(w, "-")
	if strings.HasPrefix(core, "=") {
		e := usageErr(cmd, "%s has no flag name before the \"=\".", quote(typed))
		e.Hint = flagFormHint(cmd, typed)
		return e
	}
	e := usageErr(cmd, "%s has too many dashes: a flag starts with - or --.", quote(typed))
	if name, _, _ := strings.Cut(core, "="); name != "" && closestFlag(cmd, name) != "" {
		e.Hint = "Did you mean " + closestFlag(cmd, name) + "?"
	} else {
		e.Hint = flagFormHint(cmd, typed)
	}
	return e
}

// namesFlag reports whether w is written as one of the verb's flags or as help, in any case,
// which the user more likely meant as a flag than as a value.
func (c *command) namesFlag(w string) bool {
	name, ok := flagWord(w)
	return ok && (c.defines(name) || isHelpFlag(name) || c.caseVariant(name) != "")
}

// caseVariant returns the flag (or help) that nameValue, a flag's name perhaps followed by
// =value, names in the wrong case, written as it should be ("--role" for "ROLE", "-r" for
// "R"); "" when it names none, or one exactly. Flag names are case-sensitive, as in the astro
// CLI, so a flag the verb defines in the case typed is that flag, never a variant of another.
func (c *command) caseVariant(nameValue string) string {
	name, _, _ := strings.Cut(nameValue, "=")
	if c.defines(name) || isHelpFlag(name) {
		return ""
	}
	for _, f := range c.Flags {
		if strings.EqualFold(name, f.Long) {
			return dashed(f.Long)
		}
		if f.Short != "" && strings.EqualFold(name, f.Short) {
			return dashed(f.Short)
		}
	}
	for _, help := range [...]string{"h", "help"} {
		if strings.EqualFold(name, help) {
			return dashed(help)
		}
	}
	return ""
}

// writtenAsFlag reports whether w, taken as an argument, is written the way a flag is.
func (c *command) writtenAsFlag(w string) bool {
	w = c.plainDashes(w)
	return len(w) >= 2 && w[0] == '-'
}

// isHelpFlag reports whether nameValue is -h or -help, which the flag package answers with
// the verb's help (whatever follows an "=").
func isHelpFlag(nameValue string) bool {
	name, _, _ := strings.Cut(nameValue, "=")
	return name == "h" || name == "help"
}

// plainDashes rewrites the dashes that lead a word as the hyphens they stand for: Slack
// clients turn "--" into an em or en dash as people type, so "—role member" was an unexpected
// argument, and text pasted from documents brings the Unicode hyphens (‐ ‑), the figure dash
// (‒), the horizontal bar (―) and the minus sign (−) in place of "-", so "−r member" was one
// too; Japanese and Chinese input methods type the small and fullwidth hyphen-minus (﹣ －). An
// em or en dash or a horizontal bar counts as two hyphens, the others as one, so "—-role" has
// too many, like "---role". Only the word's lead is rewritten, and only where a flag may stand
// (values are kept as typed); a lone hyphen is no flag, so "‐" stays as typed. A verb without
// flags takes names as arguments, which may start with a dash, so there only help is rewritten.
func (c *command) plainDashes(w string) string {
	// Past the plain hyphens, each of the others starts with byte 0xe2 or 0xef in UTF-8, so
	// nearly every word is returned after a byte or three.
	n := 0
	for n < len(w) && w[n] == '-' {
		n++
	}
	if n == len(w) || w[n] != 0xe2 && w[n] != 0xef {
		return w
	}
	core := strings.TrimLeft(w, "-"+unicodeDashes)
	lead := w[:len(w)-len(core)]
	if len(lead) == n || len(c.Flags) == 0 && !isHelpFlag(core) {
		return w // no Unicode dash in the lead, or a name for a verb without flags
	}
	plain := typedDashes.Replace(lead)
	if plain == "-" && core == "" {
		return w
	}
	return plain + core
}

// unicodeDashes are the characters plainDashes reads as hyphens where a flag may stand.
const unicodeDashes = "—–―‐‑‒−﹣－"

var typedDashes = strings.NewReplacer("—", "--", "–", "--", "―", "--",
	"‐", "-", "‑", "-", "‒", "-", "−", "-", "﹣", "-", "－", "-")

// flagFormHint says how flags are written, with one of the verb's own, or that it takes none.
func flagFormHint(cmd *command, typed string) string {
	if len(cmd.Flags) == 0 {
		return fmt.Sprintf("%s takes no flags. If %s is an argument, put -- before it.", cmd.Verb, quote(typed))
	}
	f := cmd.Flags[0]
	if spec, ok := cmd.flag(flagRole.Long); ok {
		f = spec
	}
	return fmt.Sprintf("Flags look like --%s %s or --%s=%s.", f.Long, f.Arg, f.Long, f.Arg)
}

// flagValue feeds a flag's value to its spec and refuses a second value: with "last one wins"
// a forgotten earlier --role would silently be ignored.
type flagValue struct {
	spec    flagSpec
	a       *args
	lastErr *error
}

var errDuplicate = errors.New("duplicate")

func (v *flagValue) String() string { return "" }

// IsBoolFlag lets the flag package accept a switch without a value.
func (v *flagValue) IsBoolFlag() bool { return v.spec.Bool }

func (v *flagValue) Set(s string) error {
	*v.lastErr = nil
	if v.a.given[v.spec.Long] {
		*v.lastErr = errDuplicate
		return errDuplicate
	}
	v.a.given[v.spec.Long] = true
	if err := v.spec.set(v.a, s); err != nil {
		*v.lastErr = err
		return err
	}
	return nil
}

var (
	undefinedFlag = regexp.MustCompile(`(?s)^flag provided but not defined: -+(.*)$`)
	missingValue  = regexp.MustCompile(`(?s)^flag needs an argument: -+(.*)$`)
	// A switch fails as `invalid boolean value "x" for -name: …` when given =x, and as
	// `invalid boolean flag name: …` when given alone, which only a repeat can make fail.
	badValueFlag = regexp.MustCompile(`^invalid (?:value ".*" for flag -+|boolean value ".*" for -+|boolean flag )([^:]*):`)
)

// flagError turns the flag package's error strings into a message that names the flag the way
// the user typed it, plus the verb's usage and a hint. word is the word refused, as typed.
func flagError(cmd *command, err, setErr error, word string) *Error {
	msg := err.Error()
	switch {
	case errors.Is(err, flag.ErrHelp):
		return &Error{Code: EHelp, Message: "help", verb: cmd}
	case undefinedFlag.MatchString(msg):
		name := undefinedFlag.FindStringSubmatch(msg)[1]
		shown := dashed(name)
		if strings.ContainsFunc(name, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
			shown = strconv.Quote(shown) // a quoted word can hold a line break
		}
		if s := cmd.caseVariant(name); s != "" {
			e := usageErr(cmd, "Unknown flag %s for %s. Did you mean %s?", shown, cmd.Verb, s)
			e.Hint = "Flag names are case-sensitive."
			return e
		}
		e := usageErr(cmd, "Unknown flag %s for %s.", shown, cmd.Verb)
		if s := closestFlag(cmd, name); s != "" {
			e.Hint = "Did you mean " + s + "?"
		} else if cmd.Verb == "remove" && (name == flagRole.Short || name == flagRole.Long) {
			e.Hint = "remove takes no --role: it removes whatever role the token has in the workspace."
		} else if len(cmd.Flags) == 0 {
			e.Hint = cmd.Verb + " takes no flags."
			if word != "" { // a name that starts with a dash is an argument after "--" (show -- -legacy)
				e.Hint = flagFormHint(cmd, word)
			}
		}
		return e
	case missingValue.MatchString(msg):
		name := missingValue.FindStringSubmatch(msg)[1]
		spec, _ := cmd.flag(name)
		e := usageErr(cmd, "The flag %s needs a value (%s).", dashed(name), spec.Arg)
		e.Hint = fmt.Sprintf("--%s %s: %s", spec.Long, spec.Arg, spec.Help)
		return e
	case badValueFlag.MatchString(msg):
		name := badValueFlag.FindStringSubmatch(msg)[1]
		spec, _ := cmd.flag(name)
		if errors.Is(setErr, errDuplicate) {
			e := usageErr(cmd, "The flag --%s is given more than once.", spec.Long)
			e.Hint = "Give each flag once."
			return e
		}
		e := usageErr(cmd, "Invalid value for %s: %s.", dashed(name), errorText(setErr))
		switch {
		case spec.Bool:
			e.Hint = fmt.Sprintf("%s is a switch: give it alone, without a value (or =true / =false).", dashed(name))
		case spec.Long == flagRole.Long:
			e.Hint = "Valid roles: " + roleChoices() + "."
		case spec.Long == flagName.Long:
			e.Hint = `Give the token's name, in quotes if it has spaces: -n "My token".`
		}
		return e
	default:
		// Not expected: checkFlagWords refuses bad syntax first. An error a newer flag package
		// adds still gets the usage line.
		e := usageErr(cmd, "Could not read the flags: %s.", strings.TrimSuffix(msg, "."))
		e.Hint = "Flags look like --role member or --role=member."
		return e
	}
}

func errorText(err error) string {
	if err == nil {
		return "not accepted"
	}
	return err.Error()
}

func dashed(name string) string {
	if utf8.RuneCountInString(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// closestFlag is the verb's flag typed names with a slip (a letter missed, added, changed or two
// swapped), or "" when none is close: at most one edit in two of the letters typed, so an
// unrelated flag gets no suggestion (any one letter is one edit from -n, and "for" three from
// "role", so "remove -r" and "explain --for" were asked "Did you mean --org-token-name?" and
// "Did you mean --role?").
func closestFlag(cmd *command, typed string) string {
	typed = strings.ToLower(typed)
	best, bestDist := "", min(4, utf8.RuneCountInString(typed)/2+1)
	for _, f := range cmd.Flags {
		for _, n := range []string{f.Long, f.Short} {
			if n == "" {
				continue
			}
			d := editDistance(typed, n)
			if d == 2 && swapped(typed, n) {
				d = 1 // Levenshtein counts a swap as two edits
			}
			if d < bestDist {
				best, bestDist = "--"+f.Long, d
			}
		}
	}
	return best
}

// swapped reports whether b is a with two neighbouring letters swapped ("fro", "for").
func swapped(a, b string) bool {
	ra, rb := []rune(a), []rune(b)
	if len(ra) != len(rb) {
		return false
	}
	i := 0
	for i < len(ra) && ra[i] == rb[i] {
		i++
	}
	return i+1 < len(ra) && ra[i] == rb[i+1] && ra[i+1] == rb[i] && string(ra[i+2:]) == string(rb[i+2:])
}

// editDistance is the Levenshtein distance between a and b, by runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// textFlag sets a free-text flag: trimmed, not empty, and at most max characters.
func textFlag(what string, max int, set func(a *args, v string)) func(a *args, v string) error {
	return func(a *args, v string) error {
		v = strings.TrimSpace(v)
		switch {
		case v == "":
			return fmt.Errorf("%s is empty", what)
		case utf8.RuneCountInString(v) > max:
			return fmt.Errorf("%s is longer than %d characters", what, max)
		}
		set(a, v)
		return nil
	}
}
