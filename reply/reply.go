// Package reply is the transport-neutral model of what the bot says back: a title, paragraphs,
// fields, a table, small print and buttons. Every string in it is plain, user-controlled text;
// renderers (reply/blockkit for Slack, reply/plaintext for a terminal) escape it. The only ways to
// make a renderer emit markup are Mention, Channel and UserGroup spans, whose IDs are validated
// before they are used.
package reply

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Visibility says who sees a reply.
type Visibility int

const (
	// Ephemeral replies are seen only by the person who typed the command: lookups and errors.
	Ephemeral Visibility = iota
	// InChannel replies are seen by everyone in the channel: changes that were applied.
	InChannel
)

// Tone colours a reply: renderers show it as an emoji or a prefix.
type Tone int

const (
	Info Tone = iota
	Success
	Warning
	Failure
)

// Reply is one message.
type Reply struct {
	Visibility Visibility
	Tone       Tone
	Title      string // one line
	Body       []Line // paragraphs
	Fields     []Field
	Table      *Table
	Notes      []Line // small print under everything else
	Buttons    []Button
	// ReplaceOriginal asks for the message whose button was clicked to be updated in place
	// (e.g. the next page of a list) instead of a new message being posted.
	ReplaceOriginal bool
}

// Line is a paragraph made of spans.
type Line []Span

// Style is how a span is emphasised.
type Style int

const (
	Plain Style = iota
	Bold
	Code
)

// Span is a run of text in one style, or a mention of a Slack user.
type Span struct {
	Text      string
	Style     Style
	UserID    string // when set, the span mentions this Slack user and Text is ignored
	ChannelID string // when set, the span links this Slack channel and Text is ignored
	// UserGroupID, when set, mentions this Slack user group (notifying its members, as an
	// approval request should) and Text is ignored.
	UserGroupID string
}

// Text, Strong, Literal, Textf, Mention and Channel build spans.
func Text(s string) Span            { return Span{Text: s} }
func Strong(s string) Span          { return Span{Text: s, Style: Bold} }
func Literal(s string) Span         { return Span{Text: s, Style: Code} }
func Mention(userID string) Span    { return Span{UserID: userID} }
func Textf(f string, a ...any) Span { return Span{Text: fmt.Sprintf(f, a...)} }
func Channel(channelID string) Span { return Span{ChannelID: channelID} }

// UserGroup mentions a Slack user group (S…).
func UserGroup(groupID string) Span { return Span{UserGroupID: groupID} }

// Para is a one-span line of plain text.
func Para(s string) Line { return Line{Text(s)} }

// Plain returns the line's text without styling; mentions become @USERID.
func (l Line) Plain() string {
	var b strings.Builder
	for _, s := range l {
		if s.UserID != "" {
			b.WriteString("@" + s.UserID)
			continue
		}
		if s.ChannelID != "" {
			b.WriteString("#" + s.ChannelID)
			continue
		}
		if s.UserGroupID != "" {
			b.WriteString("@" + s.UserGroupID)
			continue
		}
		b.WriteString(s.Text)
	}
	return b.String()
}

// Field is a label and its value.
type Field struct {
	Label string
	Value string
}

// Table is rows of cells under column headings. Rows may be one page of a longer list: Offset
// is the index of the first row in the whole list and Total its length.
type Table struct {
	Columns []string
	Rows    [][]string
	// KeyColumn is the column that names a row; layouts that cannot show a grid lead with it.
	KeyColumn int
	Offset    int
	Total     int
}

// Range describes which rows are shown, e.g. "Showing 1–25 of 2,000". It is empty when every
// row is shown.
func (t *Table) Range() string {
	if t == nil || (t.Offset == 0 && t.Total <= len(t.Rows)) {
		return ""
	}
	if len(t.Rows) == 0 {
		return fmt.Sprintf("Nothing to show past row %s of %s", Count(t.Offset), Count(t.Total))
	}
	return fmt.Sprintf("Showing %s–%s of %s", Count(t.Offset+1), Count(t.Offset+len(t.Rows)), Count(t.Total))
}

// ButtonStyle is a button's emphasis.
type ButtonStyle int

const (
	Default ButtonStyle = iota
	Primary
	Danger
)

// Button is an action the reader can take. Value is an opaque reference the service hands back
// to itself on a click; it must not be trusted as input and never holds a secret.
type Button struct {
	Label    string
	ActionID string
	Value    string
	Style    ButtonStyle
}

var (
	userIDPattern    = regexp.MustCompile(`^[UW][A-Z0-9]{2,20}$`)
	channelIDPattern = regexp.MustCompile(`^[CGD][A-Z0-9]{2,20}$`)
	groupIDPattern   = regexp.MustCompile(`^S[A-Z0-9]{2,20}$`)
)

// ValidUserID reports whether id looks like a Slack user ID (U… or W…); renderers mention
// nothing else as a user.
func ValidUserID(id string) bool { return userIDPattern.MatchString(id) }

// ValidUserGroupID reports whether id looks like a Slack user-group ID (S…).
func ValidUserGroupID(id string) bool { return groupIDPattern.MatchString(id) }

// ValidChannelID reports whether id looks like a Slack conversation ID (C…, G… or D…).
func ValidChannelID(id string) bool { return channelIDPattern.MatchString(id) }

// Count formats n with thousands separators: 2000 → "2,000".
func Count(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// Truncate shortens s to at most n runes, marking the cut with "…".
func Truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	i := 0
	for j := range s {
		if i == n-1 {
			return s[:j] + "…"
		}
		i++
	}
	return s
}
