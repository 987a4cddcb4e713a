package bot

import (
	"context"
	"fmt"

	"github.com/slack-go/slack"

	"github.com/orgtoken/orgtoken-bot/reply"
	"github.com/orgtoken/orgtoken-bot/reply/blockkit"
)

// Messenger posts and edits messages the command layer sends on its own initiative (approval
// requests, their updates, thread replies, audit entries), rendered with the same Block Kit
// renderer as every reply.
type Messenger struct {
	API SlackAPI
}

// Post sends r to a channel and returns the message timestamp.
func (m *Messenger) Post(ctx context.Context, channelID string, r reply.Reply) (string, error) {
	blocks, text := blockkit.Render(r)
	ts, err := m.API.PostBlocks(ctx, channelID, "", blocks, text)
	if err != nil {
		return "", fmt.Errorf("posting to %s: %w", channelID, err)
	}
	return ts, nil
}

// PostThread replies in the thread of the message at threadTS.
func (m *Messenger) PostThread(ctx context.Context, channelID, threadTS string, r reply.Reply) error {
	blocks, text := blockkit.Render(r)
	_, err := m.API.PostBlocks(ctx, channelID, threadTS, blocks, text)
	if err != nil {
		return fmt.Errorf("replying in thread %s of %s: %w", threadTS, channelID, err)
	}
	return nil
}

// Update replaces the message at ts, e.g. to remove an approval request's buttons.
func (m *Messenger) Update(ctx context.Context, channelID, ts string, r reply.Reply) error {
	blocks, text := blockkit.Render(r)
	_, _, _, err := m.API.UpdateMessageContext(ctx, channelID, ts, slack.MsgOptionBlocks(blocks...), slack.MsgOptionText(text, false))
	if err != nil {
		return fmt.Errorf("updating message %s in %s: %w", ts, channelID, err)
	}
	return nil
}

// PostEphemeral shows r to one user in a channel.
func (m *Messenger) PostEphemeral(ctx context.Context, channelID, userID string, r reply.Reply) error {
	blocks, text := blockkit.Render(r)
	_, err := m.API.PostEphemeralContext(ctx, channelID, userID, slack.MsgOptionBlocks(blocks...), slack.MsgOptionText(text, false))
	if err != nil {
		return fmt.Errorf("posting ephemeral to %s in %s: %w", userID, channelID, err)
	}
	return nil
}
