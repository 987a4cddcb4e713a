package slackemu

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// listLikeBlocks is the shape of a bot's list reply: a header, a section per row with fields,
// a context line and an actions block.
func listLikeBlocks(rows int) json.RawMessage {
	blocks := []any{map[string]any{"type": "header", "text": map[string]any{"type": "plain_text", "text": "Organization tokens"}}}
	for i := range rows {
		blocks = append(blocks, map[string]any{"type": "section", "fields": []any{
			map[string]any{"type": "mrkdwn", "text": fmt.Sprintf("*deploy-bot-%04d* `clx%020d`", i, i)},
			map[string]any{"type": "mrkdwn", "text": "WORKSPACE_OPERATOR · created 3 months ago by someone@example.com"},
		}})
	}
	blocks = append(blocks,
		map[string]any{"type": "context", "elements": []any{map[string]any{"type": "mrkdwn", "text": "Page 1 of 40 · 1,000 tokens"}}},
		map[string]any{"type": "actions", "elements": []any{
			map[string]any{"type": "button", "action_id": "next", "text": map[string]any{"type": "plain_text", "text": "Next"}, "value": "list -w ws --page 2"},
		}})
	raw, err := json.Marshal(blocks)
	if err != nil {
		panic(err)
	}
	return raw
}

func TestValidateBlocksKeepsSlacksLimitsOnAListReply(t *testing.T) {
	if errs, bad := validateBlocks(listLikeBlocks(25), "/blocks", surfaceMessage); bad || len(errs) > 0 {
		t.Fatalf("a valid list reply was refused: bad format %v, %v", bad, errs)
	}
	errs, bad := validateBlocks(listLikeBlocks(50), "/blocks", surfaceMessage)
	if bad || len(errs) != 1 || !strings.Contains(errs[0], "no more than 50 items allowed [json-pointer:/blocks]") {
		t.Fatalf("53 blocks: bad format %v, %v", bad, errs)
	}
	for _, raw := range []string{`{"type":"section"}`, `[{"type":"section"}] trailing`, `[`} {
		if _, bad := validateBlocks(json.RawMessage(raw), "/blocks", surfaceMessage); !bad {
			t.Errorf("%s: not reported as invalid_blocks_format", raw)
		}
	}
}

// BenchmarkValidateListReply is the emulator's check of each list reply the load driver's bot
// posts: CPU the harness takes from the cores it shares with the bot.
func BenchmarkValidateListReply(b *testing.B) {
	raw := listLikeBlocks(25)
	b.ReportAllocs()
	for b.Loop() {
		if errs, bad := validateBlocks(raw, "/blocks", surfaceMessage); bad || len(errs) > 0 {
			b.Fatal(errs)
		}
	}
}

// suggestionOptions is a block_suggestion answer of n options whose text, value and
// description are the given lengths.
func suggestionOptions(n, textLen, valueLen, descLen int) map[string]any {
	opts := []any{}
	for range n {
		o := map[string]any{
			"text":  map[string]any{"type": "plain_text", "text": strings.Repeat("t", textLen)},
			"value": strings.Repeat("v", valueLen),
		}
		if descLen > 0 {
			o["description"] = map[string]any{"type": "plain_text", "text": strings.Repeat("d", descLen)}
		}
		opts = append(opts, o)
	}
	return map[string]any{"options": opts}
}

func TestValidateSuggestionOptionsKeepsSlacksLimits(t *testing.T) {
	group := func(label string, options map[string]any) map[string]any {
		return map[string]any{"label": map[string]any{"type": "plain_text", "text": label}, "options": options["options"]}
	}
	tests := []struct {
		name    string
		payload any
		want    []string // each a substring of one error, in order; none means valid
	}{
		{name: "AtEveryLimit", payload: suggestionOptions(100, 75, 150, 75)},
		{name: "NoOptions", payload: map[string]any{"options": []any{}}},
		{name: "TooManyOptions", payload: suggestionOptions(101, 5, 5, 0),
			want: []string{"no more than 100 items allowed [json-pointer:/options]"}},
		{name: "TextTooLong", payload: suggestionOptions(1, 76, 5, 0),
			want: []string{"failed to match all allowed schemas [json-pointer:/options/0/text]", "must be less than 76 characters [json-pointer:/options/0/text/text]"}},
		{name: "ValueTooLong", payload: suggestionOptions(1, 5, 151, 0),
			want: []string{"must be less than 151 characters [json-pointer:/options/0/value]"}},
		{name: "DescriptionTooLong", payload: suggestionOptions(1, 5, 5, 76),
			want: []string{"failed to match all allowed schemas [json-pointer:/options/0/description]", "must be less than 76 characters [json-pointer:/options/0/description/text]"}},
		{name: "EmptyText", payload: suggestionOptions(1, 0, 5, 0),
			want: []string{"failed to match all allowed schemas [json-pointer:/options/0/text]", "must be more than 0 characters [json-pointer:/options/0/text/text]"}},
		{name: "MrkdwnText", payload: map[string]any{"options": []any{map[string]any{"text": map[string]any{"type": "mrkdwn", "text": "*x*"}, "value": "x"}}},
			want: []string{"failed to match all allowed schemas [json-pointer:/options/0/text]", "must be plain_text [json-pointer:/options/0/text/type]"}},
		{name: "NoTextNoValue", payload: map[string]any{"options": []any{map[string]any{}}},
			want: []string{"missing required field: text [json-pointer:/options/0]", "missing required field: value [json-pointer:/options/0]"}},
		{name: "Groups", payload: map[string]any{"option_groups": []any{group("Recent", suggestionOptions(100, 75, 150, 0))}}},
		{name: "TooManyGroups", payload: map[string]any{"option_groups": func() []any {
			gs := []any{}
			for range 101 {
				gs = append(gs, group("g", suggestionOptions(1, 1, 1, 0)))
			}
			return gs
		}()}, want: []string{"no more than 100 items allowed [json-pointer:/option_groups]"}},
		{name: "GroupOverLimits", payload: map[string]any{"option_groups": []any{group(strings.Repeat("l", 76), suggestionOptions(101, 1, 1, 0))}},
			want: []string{"must be less than 76 characters [json-pointer:/option_groups/0/label/text]", "no more than 100 items allowed [json-pointer:/option_groups/0/options]"}},
		{name: "EmptyGroup", payload: map[string]any{"option_groups": []any{group("g", map[string]any{"options": []any{}})}},
			want: []string{"must provide at least 1 items [json-pointer:/option_groups/0/options]"}},
		{name: "OptionsAndGroups", payload: map[string]any{"options": []any{}, "option_groups": []any{}},
			want: []string{"must provide either options or option_groups, not both"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := json.Marshal(tt.payload)
			require.NoError(t, err)
			errs, bad := validateSuggestionOptions(raw)
			require.False(t, bad, "reported as not an object")
			if len(tt.want) == 0 {
				assert.Empty(t, errs, "a valid answer was refused")
			}
			got := strings.Join(errs, "\n")
			for _, w := range tt.want {
				assert.Contains(t, got, w)
			}
		})
	}
	for _, raw := range []string{`[]`, `"options"`, `{`, `null`} {
		_, bad := validateSuggestionOptions(json.RawMessage(raw))
		assert.True(t, bad, "%s: not reported as an invalid payload", raw)
	}
}
