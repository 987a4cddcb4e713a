package blockkit

import (
	"errors"
	"fmt"
	"regexp"
	"unicode/utf8"

	"github.com/slack-go/slack"
)

// CheckLimits reports every way blocks would break Slack's Block Kit limits, and any mrkdwn
// text carrying a control sequence (<…>, a raw &) other than a user mention or channel link, which would mean
// user text reached Slack unescaped. It knows the block types Render produces.
func CheckLimits(blocks []slack.Block) error {
	c := &checker{actionIDs: map[string]bool{}}
	if len(blocks) > MaxBlocks {
		c.fail("", "%d blocks, more than %d", len(blocks), MaxBlocks)
	}
	for i, b := range blocks {
		c.block(fmt.Sprintf("/blocks/%d", i), b)
	}
	if c.total > MaxTotalRunes {
		c.fail("", "%d characters of text in all, more than %d", c.total, MaxTotalRunes)
	}
	return errors.Join(c.errs...)
}

type checker struct {
	errs      []error
	total     int
	actionIDs map[string]bool
}

func (c *checker) fail(at, format string, a ...any) {
	c.errs = append(c.errs, fmt.Errorf("%s: %s", at, fmt.Sprintf(format, a...)))
}

func (c *checker) block(at string, b slack.Block) {
	switch b := b.(type) {
	case *slack.SectionBlock:
		c.id(at+"/block_id", b.BlockID)
		if b.Text == nil && len(b.Fields) == 0 {
			c.fail(at, "section with neither text nor fields")
		}
		if b.Text != nil {
			c.text(at+"/text", b.Text, MaxTextRunes)
		}
		if len(b.Fields) > MaxFields {
			c.fail(at+"/fields", "%d fields, more than %d", len(b.Fields), MaxFields)
		}
		for i, f := range b.Fields {
			c.text(fmt.Sprintf("%s/fields/%d", at, i), f, MaxFieldRunes)
		}
	case *slack.HeaderBlock:
		c.id(at+"/block_id", b.BlockID)
		if b.Text == nil || b.Text.Type != slack.PlainTextType {
			c.fail(at, "header text must be plain_text")
		} else {
			c.text(at+"/text", b.Text, MaxHeaderRunes)
		}
	case *slack.ContextBlock:
		c.id(at+"/block_id", b.BlockID)
		els := b.ContextElements.Elements
		if len(els) == 0 || len(els) > MaxContextElements {
			c.fail(at+"/elements", "%d elements, want 1 to %d", len(els), MaxContextElements)
		}
		for i, el := range els {
			t, ok := el.(*slack.TextBlockObject)
			if !ok {
				c.fail(fmt.Sprintf("%s/elements/%d", at, i), "unexpected element %T", el)
				continue
			}
			c.text(fmt.Sprintf("%s/elements/%d", at, i), t, MaxTextRunes)
		}
	case *slack.ActionBlock:
		c.id(at+"/block_id", b.BlockID)
		els := b.Elements.ElementSet
		if len(els) == 0 || len(els) > MaxActions {
			c.fail(at+"/elements", "%d elements, want 1 to %d", len(els), MaxActions)
		}
		for i, el := range els {
			c.button(fmt.Sprintf("%s/elements/%d", at, i), el)
		}
	case *slack.DividerBlock:
		c.id(at+"/block_id", b.BlockID)
	default:
		c.fail(at, "unexpected block type %T", b)
	}
}

func (c *checker) button(at string, el slack.BlockElement) {
	btn, ok := el.(*slack.ButtonBlockElement)
	if !ok {
		c.fail(at, "unexpected element %T", el)
		return
	}
	if btn.Text == nil || btn.Text.Type != slack.PlainTextType {
		c.fail(at+"/text", "button text must be plain_text")
	} else {
		c.text(at+"/text", btn.Text, MaxButtonTextRunes)
	}
	if btn.ActionID == "" || len(btn.ActionID) > MaxIDLength {
		c.fail(at+"/action_id", "action_id of %d bytes, want 1 to %d", len(btn.ActionID), MaxIDLength)
	}
	if c.actionIDs[btn.ActionID] {
		c.fail(at+"/action_id", "action_id %q used twice", btn.ActionID)
	}
	c.actionIDs[btn.ActionID] = true
	if len(btn.Value) > MaxButtonValue {
		c.fail(at+"/value", "value of %d bytes, more than %d", len(btn.Value), MaxButtonValue)
	}
}

func (c *checker) id(at, id string) {
	if len(id) > MaxIDLength {
		c.fail(at, "%d bytes, more than %d", len(id), MaxIDLength)
	}
}

func (c *checker) text(at string, t *slack.TextBlockObject, limit int) {
	n := utf8.RuneCountInString(t.Text)
	c.total += n
	if n == 0 || n > limit {
		c.fail(at+"/text", "%d characters, want 1 to %d", n, limit)
	}
	if !utf8.ValidString(t.Text) {
		c.fail(at+"/text", "invalid UTF-8")
	}
	if t.Type == slack.MarkdownType {
		if bad := unsafeMarkup(t.Text); bad != "" {
			c.fail(at+"/text", "unescaped control sequence %q", bad)
		}
	}
}

var (
	mentionPrefix = regexp.MustCompile(`^<(@[UW]|#[CGD]|!subteam\^S)[A-Z0-9]{2,20}>`)
	entityPrefix  = regexp.MustCompile(`^&(amp|lt|gt);`)
)

// unsafeMarkup returns the first piece of s that Slack would treat as markup other than a
// validated mention (user, channel or user group), or "" when there is none.
func unsafeMarkup(s string) string {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '<':
			m := mentionPrefix.FindString(s[i:])
			if m == "" {
				return s[i:min(len(s), i+20)]
			}
			i += len(m) - 1
		case '>':
			return ">"
		case '&':
			if !entityPrefix.MatchString(s[i:]) {
				return s[i:min(len(s), i+10)]
			}
		}
	}
	return ""
}
