package commands

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/orgtoken/orgtoken-bot/reply"
)

// ActionConfirm is the "Confirm…" button of a change the policy marks high-risk (confirm: true).
// The bot answers a click by opening a form in which the requester types the token's name, and
// then runs the command again with Request.ConfirmedName set.
const ActionConfirm = "orgtoken.confirm"

// Confirmation is the Confirm button's value: the command to run again and the name the form
// asks for. It is a convenience for the form, not trusted: the command is parsed and authorized
// afresh for whoever submits, and the typed name is checked against the token itself.
type Confirmation struct {
	Text string `json:"text"`
	Name string `json:"name"`
}

// maxButtonValue is Slack's limit on a button's value.
const maxButtonValue = 2000

// confirmation asks for, or checks, the typed confirmation of a high-risk change. done reports
// that r is the whole answer.
func confirmation(req Request, c change) (r reply.Reply, done bool, err error) {
	if req.ConfirmedName != "" {
		if !ConfirmsName(c.token.Name, req.ConfirmedName) {
			return r, true, &Error{Code: EInvalid,
				Message: fmt.Sprintf("The name you typed, %q, is not the name of token %s.", req.ConfirmedName, c.token.ID),
				Hint:    "Type the token's name exactly, as shown in the confirmation form."}
		}
		return r, false, nil
	}
	value, _ := json.Marshal(Confirmation{Text: req.Text, Name: c.token.Name})
	if len(value) > maxButtonValue {
		return r, true, &Error{Code: EInvalid,
			Message: "This change needs a typed confirmation, but the command is too long to confirm from Slack.",
			Hint:    "Shorten the --reason and try again."}
	}
	return reply.Reply{
		Visibility: reply.Ephemeral,
		Tone:       reply.Warning,
		Title:      "Confirm this high-risk change",
		Body: []reply.Line{
			describeChange(c),
			reply.Para("Policy marks this change high-risk: press Confirm and type the token's name. Nothing has changed yet."),
		},
		Buttons: []reply.Button{{Label: "Confirm…", ActionID: ActionConfirm, Value: string(value), Style: reply.Danger}},
	}, true, nil
}

// ConfirmsName reports whether typed, from a confirmation form, is the token's name. Quotes
// count as in a command (Slack clients and macOS curl them as people type, so a name holding an
// apostrophe could otherwise never be confirmed), and spaces around it are ignored.
func ConfirmsName(name, typed string) bool {
	return sameName(name, typed) || sameName(strings.TrimSpace(name), strings.TrimSpace(typed))
}
