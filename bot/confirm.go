package bot

import (
	"context"
	"encoding/json"
	"time"

	"github.com/slack-go/slack"

	"github.com/orgtoken/orgtoken-bot/commands"
)

// The confirmation form of a high-risk change: the requester types the token's name.
const (
	confirmModalID = "orgtoken.confirm"
	blockConfirm   = "confirm"
	actionConfirm  = "confirm_input"
)

// confirmMeta travels in the form's private_metadata: the command to run again, the name to
// type, and where to answer. The name is checked again by the command layer against the token.
type confirmMeta struct {
	Text    string `json:"text"`
	Name    string `json:"name"`
	Channel string `json:"channel"`
}

// openConfirmModal answers a click on a Confirm… button with the form.
func (b *Bot) openConfirmModal(ctx context.Context, cb *slack.InteractionCallback, value string) bool {
	var c commands.Confirmation
	if b.cfg.Views == nil || json.Unmarshal([]byte(value), &c) != nil || c.Text == "" || c.Name == "" {
		return false
	}
	if _, err := b.cfg.Views.OpenViewContext(ctx, cb.TriggerID, b.confirmView(c, channelOf(cb))); err != nil {
		b.cfg.Metrics.SlackCallFailed("views.open", err)
		b.log.Warn("could not open the confirmation form", "error", err)
		return false
	}
	return true
}

func (b *Bot) confirmView(c commands.Confirmation, channelID string) slack.ModalViewRequest {
	md, _ := json.Marshal(confirmMeta{Text: c.Text, Name: c.Name, Channel: channelID})
	input := slack.NewPlainTextInputBlockElement(plain("Token name"), actionConfirm)
	return slack.ModalViewRequest{
		Type:            slack.VTModal,
		CallbackID:      confirmModalID,
		Title:           plain("Confirm change"),
		Submit:          plain("Confirm"),
		Close:           plain("Cancel"),
		PrivateMetadata: string(md),
		Blocks: slack.Blocks{BlockSet: []slack.Block{
			slack.NewSectionBlock(plain(truncateRunes("You are about to run: "+b.cfg.CommandName+" "+c.Text, 3000)), nil, nil),
			slack.NewInputBlock(blockConfirm, plain(truncateRunes("Type "+c.Name+" to confirm", 2000)), nil, input),
		}},
	}
}

func readConfirm(cb *slack.InteractionCallback) (confirmMeta, string, bool) {
	var m confirmMeta
	if cb.View.CallbackID != confirmModalID || json.Unmarshal([]byte(cb.View.PrivateMetadata), &m) != nil || m.Text == "" {
		return m, "", false
	}
	typed := ""
	if cb.View.State != nil {
		typed = cb.View.State.Values[blockConfirm][actionConfirm].Value
	}
	return m, typed, true
}

// validateConfirm checks the typed name inline, so a typo is shown next to the field.
func validateConfirm(cb *slack.InteractionCallback) map[string]string {
	m, typed, ok := readConfirm(cb)
	switch {
	case !ok:
		return map[string]string{blockConfirm: "This form is out of date. Close it and type the command again."}
	case !commands.ConfirmsName(m.Name, typed):
		return map[string]string{blockConfirm: "That is not the token's name. Type it exactly, or cancel."}
	}
	return nil
}

// submitConfirm runs the confirmed command for whoever submitted the form.
func (b *Bot) submitConfirm(ctx context.Context, j job, start time.Time) {
	cb := j.callback
	m, typed, ok := readConfirm(cb)
	if !ok {
		return
	}
	r := b.cmds.Run(ctx, commands.Request{UserID: cb.User.ID, UserName: cb.User.Name, ChannelID: m.Channel, Text: m.Text, ConfirmedName: typed})
	b.deliver(ctx, target{channelID: m.Channel, userID: cb.User.ID}, r)
	b.log.Info("command", "envelope_id", j.envelopeID, "user", cb.User.ID, "channel", m.Channel,
		"subcommand", firstWord(m.Text), "via", "confirmation", "outcome", outcome(r), "duration_ms", time.Since(start).Milliseconds(), astroIDs(ctx))
	b.cfg.Metrics.ObserveCommand(firstWord(m.Text), outcome(r), time.Since(j.received))
}
