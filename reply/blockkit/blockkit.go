// Package blockkit renders a reply.Reply as Slack Block Kit blocks plus the fallback text
// Slack shows in notifications. Every user-controlled string is escaped (& < >) so a token
// named "<!channel>" renders literally and pings nobody, and every reply stays within Slack's
// limits whatever its input: long text is cut visibly with "…" and long tables are cut to what
// fits, saying how many rows were left out.
package blockkit

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/orgtoken/orgtoken-bot/reply"
)

// Slack's limits (see /work/shared/slack/FACTS.md section 3) and the budgets this renderer keeps.
const (
	MaxBlocks          = 50
	MaxTextRunes       = 3000
	MaxFieldRunes      = 2000
	MaxFields          = 10
	MaxHeaderRunes     = 150
	MaxButtonTextRunes = 75
	MaxButtonValue     = 2000
	MaxIDLength        = 255
	MaxActions         = 25
	MaxContextElements = 10
	// MaxTotalRunes caps all text in a message: Slack rejects long messages with the
	// undocumented msg_blocks_too_long near 12,000 characters.
	MaxTotalRunes = 12000

	// Each part of a reply gets a share of MaxTotalRunes, so that any input fits.
	titleRunes     = 150
	bodyRunes      = 2300
	fieldsRunes    = 2000
	tableSlack     = 200 // for the table's own context lines
	notesRunes     = 600
	minLineRunes   = 80 // what a line cut to make room for others keeps at least
	maxFieldBlocks = 2
	minRowRunes    = 120
)

// Render turns r into blocks and fallback text.
func Render(r reply.Reply) ([]slack.Block, string) {
	var blocks []slack.Block
	if r.Title != "" {
		blocks = append(blocks, section(toneEmoji(r.Tone)+" *"+escapeTrunc(oneLine(r.Title), titleRunes)+"*"))
	}
	blocks = append(blocks, bodySections(r.Body)...)
	blocks = append(blocks, fieldSections(r.Fields)...)

	var tail []slack.Block
	if ctx := notesBlock(r.Notes); ctx != nil {
		tail = append(tail, ctx)
	}
	if acts := actionsBlock(r.Buttons); acts != nil {
		tail = append(tail, acts)
	}
	if r.Table != nil {
		// The table gets whatever text budget the rest of the reply left.
		used := textRunes(blocks) + textRunes(tail)
		blocks = append(blocks, tableBlocks(r.Table, MaxBlocks-len(blocks)-len(tail), MaxTotalRunes-used-tableSlack)...)
	}
	blocks = append(blocks, tail...)
	return blocks, fallback(r)
}

func toneEmoji(t reply.Tone) string {
	switch t {
	case reply.Success:
		return ":white_check_mark:"
	case reply.Warning:
		return ":warning:"
	case reply.Failure:
		return ":x:"
	default:
		return ":information_source:"
	}
}

func mrkdwn(text string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, text, false, true)
}

func section(text string) *slack.SectionBlock {
	return slack.NewSectionBlock(mrkdwn(text), nil, nil)
}

// bodySections puts the paragraphs in one section: bodyRunes is within a section's limit.
func bodySections(lines []reply.Line) []slack.Block {
	texts := fitLines(lines, bodyRunes)
	if len(texts) == 0 {
		return nil
	}
	return []slack.Block{section(strings.Join(texts, "\n"))}
}

// A compile-time check that the body fits one section.
const _ uint = MaxTextRunes - bodyRunes

// fitLines renders lines in at most budget runes, counting one between lines for the break.
// When they do not all fit, the longest are cut first, down to an even share, so one long
// paragraph of user text (a reason, Astro's message) cannot push out the short lines after it,
// such as the approvers to notify or an error's hint. Only when even minLineRunes each would not
// fit are lines left out, from the end, saying how many.
func fitLines(lines []reply.Line, budget int) []string {
	type rendered struct {
		line reply.Line
		text string
		n    int
	}
	var rs []rendered
	need := -1
	for _, l := range lines {
		if t := RenderLine(l, MaxTextRunes); t != "" {
			n := utf8.RuneCountInString(t)
			rs = append(rs, rendered{l, t, n})
			need += n + 1
		}
	}
	keep, mark, level := len(rs), "", MaxTextRunes // by default every line whole
	if need > budget {
		// least[k] is what the first k lines take when each keeps minLineRunes at most.
		least := make([]int, len(rs)+1)
		for i, r := range rs {
			least[i+1] = least[i] + min(r.n, minLineRunes) + 1
		}
		for ; keep > 0; keep-- {
			mark = ""
			size := least[keep] - 1
			if keep < len(rs) {
				mark = moreNotShown(len(rs) - keep)
				size += utf8.RuneCountInString(mark) + 1
			}
			if size <= budget {
				break
			}
		}
		avail := budget - max(keep-1, 0)
		if mark != "" {
			avail -= utf8.RuneCountInString(mark) + 1
		}
		lens := make([]int, keep)
		for i, r := range rs[:keep] {
			lens[i] = r.n
		}
		level = waterLevel(lens, avail)
	}
	var out []string
	for _, r := range rs[:keep] {
		t := r.text
		if r.n > level {
			t = RenderLine(r.line, level)
		}
		if t != "" {
			out = append(out, t)
		}
	}
	if mark != "" && utf8.RuneCountInString(mark) <= budget {
		out = append(out, mark)
	}
	return out
}

// waterLevel is the most runes each length may keep so that they add up to at most budget,
// cutting only those over it; it is budget itself when all fit whole.
func waterLevel(lens []int, budget int) int {
	sorted := slices.Clone(lens)
	slices.Sort(sorted)
	left := budget
	for i, n := range sorted {
		share := left / (len(sorted) - i)
		if n > share {
			return share
		}
		left -= n
	}
	return budget
}

func moreNotShown(n int) string {
	if n == 1 {
		return "… (1 more line not shown)"
	}
	return fmt.Sprintf("… (%s more lines not shown)", reply.Count(n))
}

// fieldSections shares fieldsRunes among the values like fitLines does among lines: short values
// (an ID, a date) leave their room to a long one (a token's description) rather than each being
// cut to an even share.
func fieldSections(fields []reply.Field) []slack.Block {
	var out []slack.Block
	shown := fields[:min(len(fields), maxFieldBlocks*MaxFields)]
	per := fieldsRunes / max(len(shown), 1)
	labelRunes := min(100, per/4)
	avail := fieldsRunes
	lens := make([]int, len(shown))
	for i, f := range shown {
		avail -= utf8.RuneCountInString(escapeTrunc(f.Label, labelRunes)) + 3
		lens[i] = utf8.RuneCountInString(Escape(orDash(f.Value)))
	}
	valueRunes := min(MaxFieldRunes-labelRunes-3, waterLevel(lens, max(avail, 0)))
	for start := 0; start < len(fields) && len(out) < maxFieldBlocks; start += MaxFields {
		end := min(start+MaxFields, len(fields))
		var objs []*slack.TextBlockObject
		for _, f := range fields[start:end] {
			label := "*" + escapeTrunc(f.Label, labelRunes) + "*\n"
			value := escapeTrunc(orDash(f.Value), valueRunes)
			objs = append(objs, mrkdwn(label+value))
		}
		out = append(out, slack.NewSectionBlock(nil, objs, nil))
	}
	return out
}

// tableBlocks lays a table out as one section per row, led by the row's key cell, because a
// grid does not survive Slack's narrow and mobile clients. It uses at most room blocks.
func tableBlocks(t *reply.Table, room, budget int) []slack.Block {
	var out []slack.Block
	rangeText := t.Range()
	if rangeText != "" || len(t.Rows) == 0 {
		room--
	}
	rows := t.Rows
	left := 0
	room = min(room, budget/minRowRunes)
	if len(rows) > room {
		// Keep one block to say how many rows did not fit.
		keep := max(room-1, 0)
		left = len(rows) - keep
		rows = rows[:keep]
	}
	perRow := MaxTextRunes
	if len(rows) > 0 {
		perRow = min(MaxTextRunes, max(minRowRunes, budget/len(rows)))
	}
	labels := columnLabels(t)
	for _, row := range rows {
		out = append(out, section(renderRow(t, labels, row, perRow)))
	}
	if left > 0 {
		out = append(out, contextText(fmt.Sprintf("%s more rows not shown.", reply.Count(left))))
	}
	switch {
	case rangeText != "":
		out = append(out, contextText(escapeTrunc(rangeText, MaxTextRunes)))
	case len(t.Rows) == 0:
		out = append(out, contextText("Nothing to show."))
	}
	return out
}

// columnLabels are the table's column names as rows show them ("_Name_ "), escaped and cut
// once for the whole table rather than once per row.
func columnLabels(t *reply.Table) []string {
	labels := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		if c != "" {
			labels[i] = "_" + escapeTrunc(c, 30) + "_ "
		}
	}
	return labels
}

// renderRow leads with the key cell and follows with "label value" pairs. Line breaks in cells
// become spaces (see oneLine), so a description cannot start a line that reads as another cell
// or a row of its own. Each cell may use an even share of what is left of budget, so short cells
// leave room for long ones after them. The pieces go straight into one buffer sized for the
// whole row: a list page renders 25 rows, and growing a buffer piece by piece was most of what
// rendering one allocated.
func renderRow(t *reply.Table, labels, row []string, budget int) string {
	if len(row) == 0 {
		return "—"
	}
	key := ""
	if t.KeyColumn >= 0 && t.KeyColumn < len(row) {
		key = row[t.KeyColumn]
	}
	size, rest := len(key)+2, 0 // rest: the cells after the key
	for i, cell := range row {
		if i != t.KeyColumn && cell != "" {
			rest++
			size += len(cell) + len("  ·  ")
			if i < len(labels) {
				size += len(labels[i])
			}
		}
	}
	var b strings.Builder
	b.Grow(size + size/8) // room for a few escapes
	left := budget
	write := func(s string) {
		b.WriteString(s)
		left -= utf8.RuneCountInString(s)
	}
	keyText := escapeTrunc(orDash(oneLine(key)), max(left/len(row)-2, 8))
	write("*")
	write(keyText)
	write("*")
	n := 0
	for i, cell := range row {
		if i == t.KeyColumn || cell == "" {
			continue
		}
		sep := "  ·  "
		if n == 0 {
			sep = "\n"
		}
		label := ""
		if i < len(labels) {
			label = labels[i]
		}
		share := left/(rest-n) - utf8.RuneCountInString(sep) - utf8.RuneCountInString(label)
		if share < 2 {
			break
		}
		write(sep)
		write(label)
		write(escapeTrunc(oneLine(cell), share))
		n++
	}
	return truncRendered(b.String(), budget)
}

// notesBlock shares notesRunes among the notes like the body does, so a long note (an audit
// entry's detail) cannot push out a short one after it (the entry's number and time).
func notesBlock(notes []reply.Line) slack.Block {
	texts := fitLines(notes, notesRunes)
	if len(texts) > MaxContextElements {
		// Too many notes for separate elements: the rest share the last one.
		texts = append(texts[:MaxContextElements-1], strings.Join(texts[MaxContextElements-1:], "\n"))
	}
	if len(texts) == 0 {
		return nil
	}
	elems := make([]slack.MixedElement, len(texts))
	for i, t := range texts {
		elems[i] = mrkdwn(t)
	}
	return slack.NewContextBlock("", elems...)
}

func contextText(text string) slack.Block {
	return slack.NewContextBlock("", mrkdwn(text))
}

// actionsBlock keeps the first buttons that fit; a button whose value or action ID is too long
// for Slack is left out rather than sent with a cut (and so broken) reference.
func actionsBlock(buttons []reply.Button) slack.Block {
	var elems []slack.BlockElement
	used := map[string]bool{}
	for _, btn := range buttons {
		if len(elems) == MaxActions {
			break
		}
		if btn.ActionID == "" || len(btn.Value) > MaxButtonValue {
			continue
		}
		id := uniqueActionID(btn.ActionID, used)
		if len(id) > MaxIDLength {
			continue
		}
		used[id] = true
		label := reply.Truncate(orDash(btn.Label), MaxButtonTextRunes)
		el := slack.NewButtonBlockElement(id, btn.Value, slack.NewTextBlockObject(slack.PlainTextType, label, false, false))
		switch btn.Style {
		case reply.Primary:
			el = el.WithStyle(slack.StylePrimary)
		case reply.Danger:
			el = el.WithStyle(slack.StyleDanger)
		}
		elems = append(elems, el)
	}
	if len(elems) == 0 {
		return nil
	}
	return slack.NewActionBlock("", elems...)
}

// actionIDSep separates a repeated action ID from the counter that makes it unique.
const actionIDSep = "#"

// uniqueActionID returns id, or for a repeat id#2, id#3…: Slack refuses a message in which two
// buttons share an action_id (several "Revert now" buttons, say). The button's value still
// says what to act on; BaseActionID undoes the suffix when the click comes back.
func uniqueActionID(id string, used map[string]bool) string {
	if !used[id] {
		return id
	}
	for n := 2; ; n++ {
		if s := id + actionIDSep + strconv.Itoa(n); !used[s] {
			return s
		}
	}
}

// BaseActionID is the action ID a button was given in the reply, from the one Render sent to
// Slack (which may carry a counter to keep it unique in its message).
func BaseActionID(id string) string {
	i := strings.LastIndex(id, actionIDSep)
	if i <= 0 || i == len(id)-1 {
		return id
	}
	for _, c := range id[i+1:] {
		if c < '0' || c > '9' {
			return id
		}
	}
	return id[:i]
}

// fallback is the notification text: the title and first paragraph.
func fallback(r reply.Reply) string {
	parts := []string{}
	if r.Title != "" {
		parts = append(parts, escapeTrunc(oneLine(r.Title), titleRunes))
	}
	if len(r.Body) > 0 {
		parts = append(parts, RenderLine(r.Body[0], 1000))
	}
	if len(parts) == 0 && r.Table != nil {
		parts = append(parts, reply.Count(len(r.Table.Rows))+" rows")
	}
	return strings.Join(parts, ": ")
}

// RenderLine renders a line as mrkdwn of at most budget runes (after escaping).
func RenderLine(l reply.Line, budget int) string {
	var b strings.Builder
	used := 0
	for _, s := range l {
		left := budget - used
		if left <= 0 {
			break
		}
		var piece string
		switch {
		case s.UserID != "":
			if !reply.ValidUserID(s.UserID) {
				piece = escapeTrunc("(unknown user)", left)
			} else if mention := "<@" + s.UserID + ">"; len(mention) <= left {
				piece = mention
			}
		case s.ChannelID != "":
			if !reply.ValidChannelID(s.ChannelID) {
				piece = escapeTrunc("(unknown channel)", left)
			} else if link := "<#" + s.ChannelID + ">"; len(link) <= left {
				piece = link
			}
		case s.UserGroupID != "":
			if !reply.ValidUserGroupID(s.UserGroupID) {
				piece = escapeTrunc("(unknown user group)", left)
			} else if mention := "<!subteam^" + s.UserGroupID + ">"; len(mention) <= left {
				piece = mention
			}
		case s.Style == reply.Bold && strings.TrimSpace(s.Text) != "" && left > 3:
			// Slack ends bold only at a "*" right after a non-space, so "*Reason: *" would not be
			// bold: spaces at the ends go outside the asterisks.
			core := strings.TrimRight(s.Text, " ")
			after := s.Text[len(core):]
			piece = "*" + escapeTrunc(oneLine(core), max(left-2-len(after), 1)) + "*" + after
		case s.Style == reply.Code && s.Text != "" && left > 3:
			// A backtick would end the code span early.
			piece = "`" + escapeTrunc(strings.ReplaceAll(oneLine(s.Text), "`", "'"), left-2) + "`"
		default:
			piece = escapeTrunc(oneLine(s.Text), left)
		}
		b.WriteString(piece)
		used += utf8.RuneCountInString(piece)
	}
	return b.String()
}

// oneLine turns line breaks in span text into spaces, as the plain-text renderer does: a Line
// is one paragraph, and a break in user text (a reason, say) could start a line that reads as
// one of the bot's own.
func oneLine(s string) string {
	const breaks = "\n\r\v\f\u0085\u2028\u2029"
	if !strings.ContainsAny(s, breaks) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if strings.ContainsRune(breaks, r) {
			return ' '
		}
		return r
	}, s)
}

// Escape makes user text inert in mrkdwn: Slack's only control characters are & < >.
func Escape(s string) string {
	return escaper.Replace(s)
}

var escaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// escapeTrunc escapes s and cuts it so the escaped result has at most budget runes, ending the
// cut with "…". Cutting before escaping would either overshoot (escaping grows text) or split
// an entity such as "&amp;".
func escapeTrunc(s string, budget int) string {
	if budget <= 0 {
		return ""
	}
	esc := Escape(s)
	if utf8.RuneCountInString(esc) <= budget {
		return esc
	}
	var b strings.Builder
	used := 0
	for _, r := range s {
		piece := string(r)
		switch r {
		case '&':
			piece = "&amp;"
		case '<':
			piece = "&lt;"
		case '>':
			piece = "&gt;"
		}
		n := utf8.RuneCountInString(piece)
		if used+n > budget-1 {
			break
		}
		b.WriteString(piece)
		used += n
	}
	return b.String() + "…"
}

// truncRendered cuts already-rendered mrkdwn to budget runes without splitting an entity or a
// mention.
func truncRendered(s string, budget int) string {
	if utf8.RuneCountInString(s) <= budget {
		return s
	}
	runes := []rune(s)
	cut := budget - 1
	// Back off to before any "&…;" or "<…>" the cut would split.
	for i := cut - 1; i >= 0 && i >= cut-25; i-- {
		if runes[i] == ';' || runes[i] == '>' {
			break
		}
		if runes[i] == '&' || runes[i] == '<' {
			cut = i
			break
		}
	}
	return string(runes[:cut]) + "…"
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "—"
	}
	return s
}

// textRunes counts the text in blocks the way CheckLimits does.
func textRunes(blocks []slack.Block) int {
	c := &checker{actionIDs: map[string]bool{}}
	for _, b := range blocks {
		c.block("", b)
	}
	return c.total
}
