package slackemu

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
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
