// Package plaintext renders a reply.Reply for a terminal: a marked title, paragraphs, aligned
// fields and table columns, with wide cells truncated. Control characters in user text are
// replaced so a token name cannot move the cursor or recolour the terminal.
package plaintext

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/orgtoken/orgtoken-bot/reply"
)

// MaxCellRunes is how wide a table cell may be before it is cut with "…".
const MaxCellRunes = 40

// Render returns r as lines of text ending in a newline.
func Render(r reply.Reply) string {
	var b strings.Builder
	if r.Title != "" {
		b.WriteString(toneMark(r.Tone) + " " + clean(r.Title) + "\n")
	}
	for _, l := range r.Body {
		b.WriteString(RenderLine(l) + "\n")
	}
	writeFields(&b, r.Fields)
	if r.Table != nil {
		writeTable(&b, r.Table)
	}
	for _, n := range r.Notes {
		b.WriteString("  " + RenderLine(n) + "\n")
	}
	if len(r.Buttons) > 0 {
		labels := make([]string, len(r.Buttons))
		for i, btn := range r.Buttons {
			labels[i] = "[" + clean(btn.Label) + "]"
		}
		b.WriteString("  buttons: " + strings.Join(labels, " ") + "\n")
	}
	return b.String()
}

func toneMark(t reply.Tone) string {
	switch t {
	case reply.Success:
		return "[ok]"
	case reply.Warning:
		return "[!]"
	case reply.Failure:
		return "[error]"
	default:
		return "[i]"
	}
}

// RenderLine renders a line; code spans are quoted with backticks and mentions become @ID.
func RenderLine(l reply.Line) string {
	var b strings.Builder
	for _, s := range l {
		switch {
		case s.UserID != "":
			b.WriteString("@" + clean(s.UserID))
		case s.ChannelID != "":
			b.WriteString("#" + clean(s.ChannelID))
		case s.UserGroupID != "":
			b.WriteString("@" + clean(s.UserGroupID))
		case s.Style == reply.Code:
			b.WriteString("`" + clean(s.Text) + "`")
		default:
			b.WriteString(clean(s.Text))
		}
	}
	return b.String()
}

func writeFields(b *strings.Builder, fields []reply.Field) {
	width := 0
	for _, f := range fields {
		width = max(width, utf8.RuneCountInString(clean(f.Label)))
	}
	for _, f := range fields {
		label := clean(f.Label) + ":"
		b.WriteString(pad(label, width+1) + " " + clean(f.Value) + "\n")
	}
}

func writeTable(b *strings.Builder, t *reply.Table) {
	cols := len(t.Columns)
	for _, row := range t.Rows {
		cols = max(cols, len(row))
	}
	cell := func(row []string, i int) string {
		if i >= len(row) {
			return ""
		}
		return reply.Truncate(clean(row[i]), MaxCellRunes)
	}
	widths := make([]int, cols)
	for i := range cols {
		widths[i] = utf8.RuneCountInString(cell(t.Columns, i))
		for _, row := range t.Rows {
			widths[i] = max(widths[i], utf8.RuneCountInString(cell(row, i)))
		}
	}
	line := func(row []string) {
		parts := make([]string, cols)
		for i := range cols {
			parts[i] = pad(cell(row, i), widths[i])
		}
		b.WriteString(strings.TrimRight(strings.Join(parts, "  "), " ") + "\n")
	}
	line(t.Columns)
	for _, row := range t.Rows {
		line(row)
	}
	if len(t.Rows) == 0 {
		b.WriteString("(nothing to show)\n")
	}
	if r := t.Range(); r != "" {
		b.WriteString(r + "\n")
	}
}

func pad(s string, width int) string {
	if n := utf8.RuneCountInString(s); n < width {
		return s + strings.Repeat(" ", width-n)
	}
	return s
}

// clean replaces control characters (escape sequences, newlines inside a cell) and invalid
// UTF-8 with visible stand-ins.
func clean(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) || r == utf8.RuneError }) {
		return s
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\t':
			return ' '
		case unicode.IsControl(r) || r == utf8.RuneError:
			return '\uFFFD'
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
}
