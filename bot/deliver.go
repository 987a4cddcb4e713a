package bot

import (
	"context"
	"net/http"
	"time"

	"github.com/slack-go/slack"

	"github.com/orgtoken/orgtoken-bot/reply"
	"github.com/orgtoken/orgtoken-bot/reply/blockkit"
)

// target is where an answer to one envelope can go.
type target struct {
	channelID   string
	userID      string
	responseURL string
	messageTS   string // the message a button was clicked on, if any
}

func targetOf(j job) target {
	switch {
	case j.slash != nil:
		return target{channelID: j.slash.ChannelID, userID: j.slash.UserID, responseURL: j.slash.ResponseURL}
	case j.callback != nil:
		cb := j.callback
		return target{channelID: channelOf(cb), userID: cb.User.ID, responseURL: cb.ResponseURL, messageTS: cb.Container.MessageTs}
	}
	return target{}
}

// deliver sends r to the user by the best route that works. In-channel replies go through
// chat.postMessage so the team sees them; when that fails (the bot is not in the channel, say),
// the requester still gets the answer through response_url, and failing that chat.postEphemeral.
// Only when every route fails is the answer lost, and then it is logged with its outcome.
func (b *Bot) deliver(ctx context.Context, t target, r reply.Reply) {
	budget := deliverBudget
	if ctx.Err() != nil {
		// The command was cut short (the shutdown timeout ran out) and answered what it knows
		// of its outcome. Its envelope is marked answered next, so no replica will run it
		// again: this answer gets a last short try rather than none.
		ctx, budget = context.WithoutCancel(ctx), lastDeliverBudget
	}
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	blocks, text := blockkit.Render(r)

	if r.Visibility == reply.InChannel && t.channelID != "" {
		_, err := b.api.PostBlocks(ctx, t.channelID, "", blocks, text)
		if err == nil {
			return
		}
		b.cfg.Metrics.SlackCallFailed("chat.postMessage", err)
		b.log.Warn("could not post in channel; answering the requester directly", "channel", t.channelID, "error", err)
	}

	if t.responseURL != "" {
		msg := &responseMessage{Text: text, Blocks: blocks, ResponseType: slack.ResponseTypeEphemeral}
		if r.Visibility == reply.InChannel {
			msg.ResponseType = slack.ResponseTypeInChannel
		}
		// A click's answer may update the message the button was on (a list's next page).
		msg.ReplaceOriginal = r.ReplaceOriginal && t.messageTS != ""
		err := postResponse(ctx, b.webhookClient(), t.responseURL, msg)
		if err == nil {
			return
		}
		b.cfg.Metrics.SlackCallFailed("response_url", err)
		b.log.Warn("response_url failed; trying an ephemeral message", "channel", t.channelID, "error", err)
	}

	if t.channelID != "" && t.userID != "" {
		_, err := b.api.PostEphemeralContext(ctx, t.channelID, t.userID, slack.MsgOptionBlocks(blocks...), slack.MsgOptionText(text, false))
		if err == nil {
			return
		}
		b.cfg.Metrics.SlackCallFailed("chat.postEphemeral", err)
		b.log.Error("reply could not be delivered by any route", "channel", t.channelID, "user", t.userID,
			"outcome", outcome(r), "summary", text, "error", err)
		return
	}
	b.log.Error("reply could not be delivered: no route", "user", t.userID, "outcome", outcome(r), "summary", text)
}

// deliverBudget bounds delivering one answer; lastDeliverBudget, an answer whose command was
// cancelled at shutdown, which the process is waiting on to exit.
const (
	deliverBudget     = 15 * time.Second
	lastDeliverBudget = 5 * time.Second
)

// deliverBusy tells the user their click was not handled because every worker was busy.
func (b *Bot) deliverBusy(ctx context.Context, j job) {
	b.deliver(ctx, targetOf(j), reply.Reply{Tone: reply.Warning, Title: "orgtoken-bot is busy", Body: []reply.Line{reply.Para(busyText)}})
}

// outcome names a reply's result for logs and metrics.
func outcome(r reply.Reply) string {
	switch r.Tone {
	case reply.Success:
		return "ok"
	case reply.Warning:
		return "refused"
	case reply.Failure:
		return "error"
	default:
		return "info"
	}
}

func (b *Bot) webhookClient() *http.Client {
	if b.cfg.HTTPClient != nil {
		return b.cfg.HTTPClient
	}
	return http.DefaultClient
}
