package commands

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// quoteSeeds are words ShellQuote must keep whole: every quote the parser straightens, alone
// and around what would otherwise be flags, and the German quotes of a reason typed in a form.
func quoteSeeds() []string {
	seeds := []string{"", "plain", "two words", `„Hotfix" für Kunde`, "a„ --for „2h", "it's", `say "hi"`,
		`back\slash`, "#ops", "no\u00a0break", "‘a’ “b” „c“", `'"'"'`}
	for _, q := range straightQuotes {
		t := string(q.typed)
		seeds = append(seeds, t, t+t, "x"+t+" --for "+t+"2h", t+" --role owner "+t)
	}
	return seeds
}

// The parser reads ShellQuote's word back as one word, the word with its quotes straightened as
// in anything typed: no quote inside, typographic or straight, ends the quoting early.
func TestShellQuoteReadsBackAsOneWord(t *testing.T) {
	for _, w := range quoteSeeds() {
		quoted := ShellQuote(w)
		got, err := splitText(quoted)
		require.NoError(t, err, "%q quoted as %s", w, quoted)
		assert.Equal(t, []string{quoteStraightener.Replace(w)}, got, "%q quoted as %s", w, quoted)
	}
}

func FuzzShellQuote(f *testing.F) {
	for _, w := range quoteSeeds() {
		f.Add(w)
	}
	f.Fuzz(func(t *testing.T, w string) {
		quoted := ShellQuote(w)
		if !utf8.ValidString(w) || strings.ContainsFunc(w, isForbiddenControl) || utf8.RuneCountInString(quoted) > MaxInputRunes {
			return // splitText refuses these whatever the quoting
		}
		got, err := splitText(quoted)
		if err != nil || len(got) != 1 || got[0] != quoteStraightener.Replace(w) {
			t.Fatalf("%q quoted as %s reads back as %q, %v", w, quoted, got, err)
		}
	})
}
