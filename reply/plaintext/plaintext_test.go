package plaintext_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/orgtoken/orgtoken-bot/reply"
	"github.com/orgtoken/orgtoken-bot/reply/plaintext"
)

func TestRenderAlignsAndTruncates(t *testing.T) {
	t.Parallel()
	r := reply.Reply{
		Tone:   reply.Success,
		Title:  "Tokens",
		Body:   []reply.Line{{reply.Mention("U1ALICE"), reply.Text(" did "), reply.Literal("x"), reply.Text(" in "), reply.Channel("C1OPS")}},
		Fields: []reply.Field{{Label: "ID", Value: "t1"}, {Label: "Description", Value: "d"}},
		Table: &reply.Table{Columns: []string{"ID", "NAME"}, Rows: [][]string{
			{"t1", "short"},
			{"t22", strings.Repeat("n", 60)},
		}, Total: 30},
		Notes:   []reply.Line{reply.Para("Page 1 of 2.")},
		Buttons: []reply.Button{{Label: "Next", ActionID: "next"}},
	}
	want := "[ok] Tokens\n" +
		"@U1ALICE did `x` in #C1OPS\n" +
		"ID:          t1\n" +
		"Description: d\n" +
		"ID   NAME\n" +
		"t1   short\n" +
		"t22  " + strings.Repeat("n", 39) + "…\n" +
		"Showing 1–2 of 30\n" +
		"  Page 1 of 2.\n" +
		"  buttons: [Next]\n"
	assert.Equal(t, want, plaintext.Render(r))
}

func TestRenderNeutralisesTerminalControl(t *testing.T) {
	t.Parallel()
	r := reply.Reply{Title: "evil\x1b[2Jname", Table: &reply.Table{Columns: []string{"A"}, Rows: [][]string{{"a\nb\x07"}}}}
	out := plaintext.Render(r)
	assert.NotContains(t, out, "\x1b")
	assert.NotContains(t, out, "\x07")
	assert.Contains(t, out, "a b\uFFFD")
}

func TestRenderEmptyTable(t *testing.T) {
	t.Parallel()
	out := plaintext.Render(reply.Reply{Table: &reply.Table{Columns: []string{"ID"}}})
	assert.Equal(t, "ID\n(nothing to show)\n", out)
}
