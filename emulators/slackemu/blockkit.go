package slackemu

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// surface selects the limits that differ between messages and modals (FACTS 3.1, 3.7).
type surface int

const (
	surfaceMessage surface = iota
	surfaceModal
)

// blockChecker collects Block Kit violations as Slack words them:
// "<message> [json-pointer:<path>]".
type blockChecker struct {
	surface       surface
	errs          []string
	blockIDs      map[string]bool
	tables        int
	markdownChars int
}

// validateBlocks checks a blocks array against the limits in FACTS section 3. badFormat means
// the value is not a JSON array at all (Slack's invalid_blocks_format).
func validateBlocks(raw json.RawMessage, ptr string, s surface) (errs []string, badFormat bool) {
	var blocks []any
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return nil, true
	}
	bc := &blockChecker{surface: s, blockIDs: map[string]bool{}}
	limit := 50
	if s == surfaceModal {
		limit = 100
	}
	if len(blocks) > limit {
		bc.add(fmt.Sprintf("no more than %d items allowed", limit), ptr)
	}
	for i, b := range blocks {
		bc.block(b, fmt.Sprintf("%s/%d", ptr, i))
	}
	return bc.errs, false
}

func (bc *blockChecker) add(msg, ptr string) {
	bc.errs = append(bc.errs, fmt.Sprintf("%s [json-pointer:%s]", msg, ptr))
}

func runes(s string) int { return utf8.RuneCountInString(s) }

// maxLen reports a string field longer than max (Slack says "less than max+1").
func (bc *blockChecker) maxLen(obj map[string]any, key string, max int, ptr string) {
	v, present := obj[key]
	if !present {
		return
	}
	s, isStr := v.(string)
	if !isStr {
		bc.add("must be a string", ptr+"/"+key)
		return
	}
	if runes(s) > max {
		bc.add(fmt.Sprintf("must be less than %d characters", max+1), ptr+"/"+key)
	}
}

// text checks a composition text object. Like Slack, a bad text object yields a schema line
// for the object followed by the specific problem.
func (bc *blockChecker) text(v any, ptr string, max int, plainOnly, required bool) {
	if v == nil {
		if required {
			bc.add("missing required field: text", ptr[:lastSlash(ptr)])
		}
		return
	}
	obj, isObj := v.(map[string]any)
	if !isObj {
		bc.add("must provide an object", ptr)
		return
	}
	typ, _ := obj["type"].(string)
	s, isStr := obj["text"].(string)
	var problem, at string
	switch {
	case typ != "plain_text" && (plainOnly || typ != "mrkdwn"):
		problem, at = "must be a valid enum value", ptr+"/type"
		if plainOnly {
			problem = "must be plain_text"
		}
	case !isStr:
		problem, at = "missing required field: text", ptr
	case runes(s) == 0:
		problem, at = "must be more than 0 characters", ptr+"/text"
	case runes(s) > max:
		problem, at = fmt.Sprintf("must be less than %d characters", max+1), ptr+"/text"
	}
	if problem != "" {
		bc.add("failed to match all allowed schemas", ptr)
		bc.add(problem, at)
	}
}

func lastSlash(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '/' {
			return i
		}
	}
	return 0
}

func (bc *blockChecker) array(obj map[string]any, key string, min, max int, ptr string) []any {
	v, present := obj[key]
	if !present {
		if min > 0 {
			bc.add("missing required field: "+key, ptr)
		}
		return nil
	}
	arr, isArr := v.([]any)
	if !isArr {
		bc.add("must provide an array", ptr+"/"+key)
		return nil
	}
	if len(arr) < min {
		bc.add(fmt.Sprintf("must provide at least %d items", min), ptr+"/"+key)
	}
	if max > 0 && len(arr) > max {
		bc.add(fmt.Sprintf("no more than %d items allowed", max), ptr+"/"+key)
	}
	return arr
}

var knownBlocks = map[string]bool{
	"section": true, "header": true, "divider": true, "actions": true, "context": true,
	"image": true, "input": true, "rich_text": true, "table": true, "markdown": true,
	"file": true, "video": true, "context_actions": true, "call": true, "data_table": true,
}

func (bc *blockChecker) block(v any, ptr string) {
	b, isObj := v.(map[string]any)
	if !isObj {
		bc.add("must provide an object", ptr)
		return
	}
	typ, _ := b["type"].(string)
	if !knownBlocks[typ] {
		bc.add("failed to match all allowed schemas", ptr)
		return
	}
	if id, has := b["block_id"]; has && typ != "markdown" {
		s, _ := id.(string)
		switch {
		case runes(s) > 255:
			bc.add("must be less than 256 characters", ptr+"/block_id")
		case s == "":
			bc.add("must be more than 0 characters", ptr+"/block_id")
		case bc.blockIDs[s]:
			bc.add("duplicate block_id "+s, ptr+"/block_id")
		}
		bc.blockIDs[s] = true
	}
	switch typ {
	case "section":
		_, hasText := b["text"]
		_, hasFields := b["fields"]
		if !hasText && !hasFields {
			bc.add("must provide either text or fields", ptr)
		}
		if hasText {
			bc.text(b["text"], ptr+"/text", 3000, false, true)
		}
		for i, f := range bc.array(b, "fields", 0, 10, ptr) {
			bc.text(f, fmt.Sprintf("%s/fields/%d", ptr, i), 2000, false, true)
		}
		if acc, has := b["accessory"]; has {
			bc.elements([]any{acc}, ptr+"/accessory", true)
		}
	case "header":
		bc.text(b["text"], ptr+"/text", 150, true, true)
	case "actions":
		bc.elements(bc.array(b, "elements", 1, 25, ptr), ptr+"/elements", false)
	case "context_actions":
		bc.elements(bc.array(b, "elements", 1, 5, ptr), ptr+"/elements", false)
	case "context":
		for i, el := range bc.array(b, "elements", 1, 10, ptr) {
			p := fmt.Sprintf("%s/elements/%d", ptr, i)
			if m, ok := el.(map[string]any); ok && m["type"] == "image" {
				bc.image(m, p)
				continue
			}
			bc.text(el, p, 3000, false, true)
		}
	case "image":
		bc.image(b, ptr)
		if t, has := b["title"]; has {
			bc.text(t, ptr+"/title", 2000, true, true)
		}
	case "input":
		bc.text(b["label"], ptr+"/label", 2000, true, true)
		if h, has := b["hint"]; has {
			bc.text(h, ptr+"/hint", 2000, true, true)
		}
		if el, has := b["element"]; has {
			bc.elements([]any{el}, ptr+"/element", true)
		} else {
			bc.add("missing required field: element", ptr)
		}
	case "table":
		bc.tables++
		if bc.tables > 1 {
			bc.add("only_one_table_allowed", ptr)
		}
		if bc.surface == surfaceModal {
			bc.add("table blocks are only allowed in messages", ptr)
		}
		for i, row := range bc.array(b, "rows", 1, 100, ptr) {
			cells, isArr := row.([]any)
			if !isArr {
				bc.add("must provide an array", fmt.Sprintf("%s/rows/%d", ptr, i))
				continue
			}
			if len(cells) > 20 {
				bc.add("no more than 20 items allowed", fmt.Sprintf("%s/rows/%d", ptr, i))
			}
		}
		bc.array(b, "column_settings", 0, 20, ptr)
	case "markdown":
		s, isStr := b["text"].(string)
		if !isStr || s == "" {
			bc.add("must be more than 0 characters", ptr+"/text")
			return
		}
		bc.markdownChars += runes(s)
		if bc.markdownChars > 12000 {
			bc.add("must be less than 12001 characters", ptr+"/text")
		}
	}
}

func (bc *blockChecker) image(m map[string]any, ptr string) {
	_, hasURL := m["image_url"]
	_, hasFile := m["slack_file"]
	if !hasURL && !hasFile {
		bc.add("must provide either image_url or slack_file", ptr)
	}
	bc.maxLen(m, "image_url", 3000, ptr)
	if alt, ok := m["alt_text"].(string); !ok || alt == "" {
		bc.add("must be more than 0 characters", ptr+"/alt_text")
	}
	bc.maxLen(m, "alt_text", 2000, ptr)
}

// elements checks interactive elements. single is true for an accessory or input element,
// whose pointer is the element itself.
func (bc *blockChecker) elements(els []any, ptr string, single bool) {
	actionIDs := map[string]bool{}
	for i, el := range els {
		p := fmt.Sprintf("%s/%d", ptr, i)
		if single {
			p = ptr
		}
		m, isObj := el.(map[string]any)
		if !isObj {
			bc.add("must provide an object", p)
			continue
		}
		bc.maxLen(m, "action_id", 255, p)
		if id, _ := m["action_id"].(string); id != "" {
			if actionIDs[id] {
				bc.add("duplicate action_id "+id, p+"/action_id")
			}
			actionIDs[id] = true
		}
		if ph, has := m["placeholder"]; has {
			bc.text(ph, p+"/placeholder", 150, true, true)
		}
		switch typ, _ := m["type"].(string); typ {
		case "button":
			bc.text(m["text"], p+"/text", 75, true, true)
			bc.maxLen(m, "value", 2000, p)
			bc.maxLen(m, "url", 3000, p)
			bc.maxLen(m, "accessibility_label", 75, p)
			if st, has := m["style"]; has && st != "primary" && st != "danger" {
				bc.add("must be a valid enum value", p+"/style")
			}
		case "static_select", "multi_static_select":
			// A static menu lists its choices: options or option_groups, exactly one of them.
			_, hasOptions := m["options"]
			_, hasGroups := m["option_groups"]
			switch {
			case hasOptions && hasGroups:
				bc.add("must provide either options or option_groups, not both", p)
			case hasGroups:
				for i, g := range bc.array(m, "option_groups", 1, maxMenuGroups, p) {
					gp := fmt.Sprintf("%s/option_groups/%d", p, i)
					group, isObj := g.(map[string]any)
					if !isObj {
						bc.add("must provide an object", gp)
						continue
					}
					bc.text(group["label"], gp+"/label", maxOptionText, true, true)
					for j, o := range bc.array(group, "options", 1, maxMenuOptions, gp) {
						bc.menuOption(o, fmt.Sprintf("%s/options/%d", gp, j))
					}
				}
			default:
				for i, o := range bc.array(m, "options", 1, maxMenuOptions, p) {
					bc.menuOption(o, fmt.Sprintf("%s/options/%d", p, i))
				}
			}
		case "overflow":
			for i, o := range bc.array(m, "options", 1, 5, p) {
				bc.menuOption(o, fmt.Sprintf("%s/options/%d", p, i))
			}
		case "checkboxes", "radio_buttons":
			bc.options(bc.array(m, "options", 1, 10, p), p+"/options", 3000)
		case "plain_text_input":
			if n, ok := m["max_length"].(float64); ok && n > 3000 {
				bc.add("must be less than or equal to 3000", p+"/max_length")
			}
		case "external_select", "multi_external_select", "users_select", "multi_users_select",
			"conversations_select", "multi_conversations_select", "channels_select",
			"multi_channels_select", "datepicker", "timepicker", "datetimepicker", "image",
			"email_text_input", "url_text_input", "number_input", "rich_text_input",
			"file_input", "workflow_button", "feedback_buttons", "icon_button":
		default:
			bc.add("failed to match all allowed schemas", p)
		}
	}
}

func (bc *blockChecker) options(opts []any, ptr string, textMax int) {
	for i, o := range opts {
		p := fmt.Sprintf("%s/%d", ptr, i)
		m, isObj := o.(map[string]any)
		if !isObj {
			bc.add("must provide an object", p)
			continue
		}
		bc.text(m["text"], p+"/text", textMax, false, true)
		bc.maxLen(m, "value", 150, p)
	}
}

// Limits of a block_suggestion answer (an external select's options), from Slack's option and
// option group objects (docs.slack.dev/reference/block-kit/composition-objects/option-object,
// …/option-group-object) and the select menu element (…/block-elements/select-menu-element).
const (
	maxMenuOptions     = 100 // options in a menu, or in one option group
	maxMenuGroups      = 100
	maxOptionText      = 75 // option text and description, group label
	maxOptionValue     = 150
	invalidOptionsCode = "invalid_options"
)

// validateSuggestionOptions checks the payload an app acks a block_suggestion with:
// {"options":[…]} or {"option_groups":[…]}, each option plain_text (select menus take no
// mrkdwn) with a value. Violations are worded like invalid_blocks'. badFormat means the payload
// is not a JSON object at all.
func validateSuggestionOptions(raw json.RawMessage) (errs []string, badFormat bool) {
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil || body == nil {
		return nil, true
	}
	bc := &blockChecker{surface: surfaceModal, blockIDs: map[string]bool{}}
	_, hasOptions := body["options"]
	_, hasGroups := body["option_groups"]
	if hasOptions && hasGroups {
		bc.add("must provide either options or option_groups, not both", "")
	}
	for i, o := range bc.array(body, "options", 0, maxMenuOptions, "") {
		bc.menuOption(o, fmt.Sprintf("/options/%d", i))
	}
	for i, g := range bc.array(body, "option_groups", 0, maxMenuGroups, "") {
		p := fmt.Sprintf("/option_groups/%d", i)
		group, isObj := g.(map[string]any)
		if !isObj {
			bc.add("must provide an object", p)
			continue
		}
		bc.text(group["label"], p+"/label", maxOptionText, true, true)
		for j, o := range bc.array(group, "options", 1, maxMenuOptions, p) {
			bc.menuOption(o, fmt.Sprintf("%s/options/%d", p, j))
		}
	}
	return bc.errs, false
}

// menuOption checks one option of a select menu.
func (bc *blockChecker) menuOption(o any, ptr string) {
	m, isObj := o.(map[string]any)
	if !isObj {
		bc.add("must provide an object", ptr)
		return
	}
	bc.text(m["text"], ptr+"/text", maxOptionText, true, true)
	if _, has := m["value"]; !has {
		bc.add("missing required field: value", ptr)
	}
	bc.maxLen(m, "value", maxOptionValue, ptr)
	if d, has := m["description"]; has {
		bc.text(d, ptr+"/description", maxOptionText, true, true)
	}
}
