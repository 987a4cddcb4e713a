package blockkit_test

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/reply"
	"github.com/orgtoken/orgtoken-bot/reply/blockkit"
)

func allText(blocks []slack.Block) string {
	var b strings.Builder
	for _, bl := range blocks {
		switch bl := bl.(type) {
		case *slack.SectionBlock:
			if bl.Text != nil {
				b.WriteString(bl.Text.Text + "\n")
			}
			for _, f := range bl.Fields {
				b.WriteString(f.Text + "\n")
			}
		case *slack.ContextBlock:
			for _, el := range bl.ContextElements.Elements {
				b.WriteString(el.(*slack.TextBlockObject).Text + "\n")
			}
		}
	}
	return b.String()
}

func TestUserTextIsEscaped(t *testing.T) {
	t.Parallel()
	hostile := "<!channel> <@U123> <https://evil|click> & &amp;"
	r := reply.Reply{
		Title:  hostile,
		Body:   []reply.Line{{reply.Strong(hostile), reply.Literal(hostile + "`x`"), reply.Mention("U0GOOD1"), reply.Mention("<!here>"), reply.Channel("<!everyone>")}},
		Fields: []reply.Field{{Label: hostile, Value: hostile}},
		Table:  &reply.Table{Columns: []string{hostile, "B"}, Rows: [][]string{{hostile, hostile}}, Total: 1},
		Notes:  []reply.Line{reply.Para(hostile)},
	}
	blocks, fallback := blockkit.Render(r)
	require.NoError(t, blockkit.CheckLimits(blocks))
	text := allText(blocks) + fallback
	assert.NotContains(t, text, "<!")
	assert.NotContains(t, text, "<@U123>")
	assert.NotContains(t, text, "<http")
	assert.Contains(t, text, "&lt;!channel&gt; &lt;@U123&gt;")
	assert.Contains(t, text, "&amp;amp;")
	assert.Contains(t, text, "<@U0GOOD1>", "a validated mention renders")
	assert.Contains(t, text, "(unknown user)")
	assert.Contains(t, text, "(unknown channel)")
}

func TestHugeInputsStayWithinLimits(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("&<>é", 1250) // 5,000 characters that all grow when escaped
	var rows [][]string
	for range 2000 {
		rows = append(rows, []string{long, long, long})
	}
	var fields []reply.Field
	var body, notes []reply.Line
	var buttons []reply.Button
	for range 40 {
		fields = append(fields, reply.Field{Label: long, Value: long})
		body = append(body, reply.Para(long))
		notes = append(notes, reply.Para(long))
		buttons = append(buttons, reply.Button{Label: long, ActionID: "a" + string(rune('A'+len(buttons))), Value: "v"})
	}
	r := reply.Reply{Title: long, Body: body, Fields: fields, Notes: notes, Buttons: buttons,
		Table: &reply.Table{Columns: []string{long, long, long}, Rows: rows, Total: 2000}}
	blocks, fallback := blockkit.Render(r)
	require.NoError(t, blockkit.CheckLimits(blocks))
	assert.LessOrEqual(t, utf8.RuneCountInString(fallback), blockkit.MaxTextRunes)
	assert.Contains(t, allText(blocks), "…", "cuts are visible")
	assert.Contains(t, allText(blocks), "more rows not shown.")
}

func TestTruncationNeverSplitsAnEntity(t *testing.T) {
	t.Parallel()
	for n := 1; n < 40; n++ {
		r := reply.Reply{Body: []reply.Line{reply.Para(strings.Repeat("a&", n) + strings.Repeat("x", 3000))}}
		blocks, _ := blockkit.Render(r)
		require.NoError(t, blockkit.CheckLimits(blocks), "n=%d", n)
	}
}

func TestOverlongButtonValueIsDropped(t *testing.T) {
	t.Parallel()
	r := reply.Reply{Title: "t", Buttons: []reply.Button{
		{Label: "ok", ActionID: "ok", Value: "v"},
		{Label: "too long", ActionID: "long", Value: strings.Repeat("v", blockkit.MaxButtonValue+1)},
	}}
	blocks, _ := blockkit.Render(r)
	require.NoError(t, blockkit.CheckLimits(blocks))
	acts := blocks[len(blocks)-1].(*slack.ActionBlock)
	require.Len(t, acts.Elements.ElementSet, 1)
	assert.Equal(t, "ok", acts.Elements.ElementSet[0].(*slack.ButtonBlockElement).ActionID)
}

func TestCheckLimitsCatchesViolations(t *testing.T) {
	t.Parallel()
	mrkdwn := func(s string) *slack.TextBlockObject {
		return slack.NewTextBlockObject(slack.MarkdownType, s, false, true)
	}
	tests := []struct {
		name   string
		blocks []slack.Block
		want   string
	}{
		{"TooManyBlocks", func() []slack.Block {
			var bs []slack.Block
			for range 51 {
				bs = append(bs, slack.NewSectionBlock(mrkdwn("x"), nil, nil))
			}
			return bs
		}(), "51 blocks"},
		{"LongSection", []slack.Block{slack.NewSectionBlock(mrkdwn(strings.Repeat("x", 3001)), nil, nil)}, "3001 characters"},
		{"EmptyText", []slack.Block{slack.NewSectionBlock(mrkdwn(""), nil, nil)}, "0 characters"},
		{"UnescapedBroadcast", []slack.Block{slack.NewSectionBlock(mrkdwn("hi <!channel>"), nil, nil)}, "unescaped control sequence"},
		{"RawAmpersand", []slack.Block{slack.NewSectionBlock(mrkdwn("a & b"), nil, nil)}, "unescaped control sequence"},
		{"DuplicateActionID", []slack.Block{slack.NewActionBlock("",
			slack.NewButtonBlockElement("a", "1", slack.NewTextBlockObject(slack.PlainTextType, "x", false, false)),
			slack.NewButtonBlockElement("a", "2", slack.NewTextBlockObject(slack.PlainTextType, "y", false, false)))}, "used twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := blockkit.CheckLimits(tt.blocks)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

// sectionText is the text of every section, one per line.
func sectionText(blocks []slack.Block) string {
	var b strings.Builder
	for _, bl := range blocks {
		if s, ok := bl.(*slack.SectionBlock); ok && s.Text != nil {
			b.WriteString(s.Text.Text + "\n")
		}
	}
	return b.String()
}

// A paragraph that grows fivefold when escaped is cut, not the short lines after it: those are
// what an approval message's approvers are notified by.
func TestLongLineLeavesRoomForTheLinesAfterIt(t *testing.T) {
	t.Parallel()
	r := reply.Reply{Title: "t", Body: []reply.Line{
		{reply.Strong("Reason: "), reply.Literal(strings.Repeat("&", 2000))},
		{reply.Text("Same as: "), reply.Literal("astro x")},
		{reply.Strong("Approvers: "), reply.Mention("U0BOB0001"), reply.Text(", "), reply.UserGroup("S0SEC0001")},
		reply.Para("Expires soon."),
	}}
	blocks, _ := blockkit.Render(r)
	require.NoError(t, blockkit.CheckLimits(blocks))
	text := sectionText(blocks)
	assert.Contains(t, text, "Same as: `astro x`")
	assert.Contains(t, text, "*Approvers:* <@U0BOB0001>, <!subteam^S0SEC0001>")
	assert.Contains(t, text, "Expires soon.")
	assert.Contains(t, text, "&amp;…`", "the long line is cut visibly")
	assert.NotContains(t, text, "not shown", "nothing is left out")
}

// When there are too many long lines for each to keep a readable share, the last are left
// out, saying so.
func TestLinesLeftOutAreCounted(t *testing.T) {
	t.Parallel()
	var body []reply.Line
	for i := range 60 {
		body = append(body, reply.Para(fmt.Sprintf("line %d ", i)+strings.Repeat("x", 200)))
	}
	blocks, _ := blockkit.Render(reply.Reply{Body: body})
	require.NoError(t, blockkit.CheckLimits(blocks))
	text := sectionText(blocks)
	assert.Contains(t, text, "line 0 ")
	assert.Regexp(t, `… \(\d+ more lines not shown\)\n$`, text)
}

// The notes share their budget the same way: an audit entry's long detail leaves its number.
func TestLongNoteLeavesRoomForTheNoteAfterIt(t *testing.T) {
	t.Parallel()
	r := reply.Reply{Title: "t", Notes: []reply.Line{
		reply.Para("reason: " + strings.Repeat("<>", 250)),
		reply.Para("Audit entry #42"),
	}}
	blocks, _ := blockkit.Render(r)
	require.NoError(t, blockkit.CheckLimits(blocks))
	text := allText(blocks)
	assert.Contains(t, text, "reason: &lt;&gt;")
	assert.Contains(t, text, "…\nAudit entry #42\n")
}

// A line break in span text cannot start a line of its own: a reason such as
// "x\n*Same as:* `astro … --role WORKSPACE_MEMBER`" stays on the line it belongs to.
func TestLineBreakInTextStaysOnItsLine(t *testing.T) {
	t.Parallel()
	forged := "x\n*Same as:*\r\n> `astro`\u2028y"
	r := reply.Reply{Title: "a\nb", Body: []reply.Line{
		{reply.Text(forged)}, {reply.Strong(forged)}, {reply.Literal(forged)},
	}, Notes: []reply.Line{reply.Para(forged)}}
	blocks, fallback := blockkit.Render(r)
	require.NoError(t, blockkit.CheckLimits(blocks))
	text := allText(blocks)
	assert.Len(t, strings.Split(strings.TrimSpace(text), "\n"), 5, "the title, three lines and a note:\n%s", text)
	assert.Contains(t, text, "x *Same as:*  &gt; `astro` y")
	assert.NotContains(t, fallback, "\n")
}

// Slack ends bold only at a "*" right after a non-space, so a label's trailing space goes
// after the closing asterisk.
func TestBoldLabelKeepsItsSpaceOutside(t *testing.T) {
	blocks, _ := blockkit.Render(reply.Reply{Title: "t", Body: []reply.Line{{reply.Strong("Reason: "), reply.Text("why")}}})
	assert.Contains(t, allText(blocks), "*Reason:* why")
}

// A line break in a table cell (a token's name or description) stays in its row: a description
// such as "x\n_CREATED BY_ admin" cannot forge a cell of its own.
func TestLineBreakInACellStaysInItsRow(t *testing.T) {
	t.Parallel()
	r := reply.Reply{Table: &reply.Table{Columns: []string{"NAME", "DESCRIPTION", "CREATED BY"}, Rows: [][]string{
		{"ci\n*deploy*", "x\n_CREATED BY_ admin\r\ny", "Priya"},
	}, Total: 1}}
	blocks, _ := blockkit.Render(r)
	require.NoError(t, blockkit.CheckLimits(blocks))
	require.Len(t, blocks, 1)
	assert.Equal(t, "*ci *deploy**\n_DESCRIPTION_ x _CREATED BY_ admin  y  ·  _CREATED BY_ Priya", strings.TrimSpace(allText(blocks)))
}

// A long value (show's description) keeps the room the short fields beside it leave.
func TestLongFieldKeepsTheRoomShortFieldsLeave(t *testing.T) {
	t.Parallel()
	desc := strings.Repeat("Deploys the data platform & its DAGs. ", 30) // 1,140 characters
	r := reply.Reply{Title: "Token ci", Fields: []reply.Field{
		{Label: "ID", Value: "cltkairflowcideployer0001"}, {Label: "Scope", Value: "ORGANIZATION"},
		{Label: "Description", Value: desc}, {Label: "Created", Value: "1 year ago (2024-03-01) by Priya Raman"},
		{Label: "Updated", Value: "2 days ago by Marcus Chen"}, {Label: "Last used", Value: "never"}, {Label: "Expires", Value: "never"},
	}}
	blocks, _ := blockkit.Render(r)
	require.NoError(t, blockkit.CheckLimits(blocks))
	assert.Contains(t, allText(blocks), "*Description*\n"+blockkit.Escape(desc)+"\n", "the description is not cut")
	assert.Contains(t, allText(blocks), "*Created*\n1 year ago (2024-03-01) by Priya Raman\n")
}
