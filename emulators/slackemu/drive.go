package slackemu

import (
	"context"
	"encoding/json"
	"fmt"
)

// Slash is a user typing a slash command.
type Slash struct {
	UserID    string
	ChannelID string // a channel ID, or a user ID for the DM with the bot
	Command   string // e.g. "/orgtoken"
	Text      string // everything after the command
}

// Click is a user clicking a button in a message they can see, or in an open modal.
type Click struct {
	UserID    string
	MessageTS string // the message holding the button (posted, ephemeral, or via response_url)
	ViewID    string // or the modal holding it
	// ActionID or Text picks the button; BlockID narrows the choice when set.
	ActionID string
	Text     string
	BlockID  string
	// OverrideValue, when set, is sent instead of the button's value, as a stale or forged
	// client would.
	OverrideValue string
	// State is the "state.values" of input elements in the same surface.
	State map[string]map[string]InputValue
}

// Submission is a user pressing a modal's submit button.
type Submission struct {
	UserID string
	ViewID string
	Values map[string]map[string]InputValue // block_id → action_id → value
}

// Suggestion is a user typing into an external_select, which asks the app for options.
type Suggestion struct {
	UserID    string
	ViewID    string // the modal holding the select, or
	MessageTS string // the message holding it
	ActionID  string
	BlockID   string
	Value     string // what the user typed
}

// InputValue is one input element's state, as Slack puts it in view.state.values.
type InputValue struct {
	Type                 string   `json:"type"`
	Value                string   `json:"value,omitempty"`
	SelectedOption       *Option  `json:"selected_option,omitempty"`
	SelectedOptions      []Option `json:"selected_options,omitempty"`
	SelectedUser         string   `json:"selected_user,omitempty"`
	SelectedUsers        []string `json:"selected_users,omitempty"`
	SelectedChannel      string   `json:"selected_channel,omitempty"`
	SelectedConversation string   `json:"selected_conversation,omitempty"`
	SelectedDate         string   `json:"selected_date,omitempty"`
}

// Option is a select option.
type Option struct {
	Text  string
	Value string
}

// MarshalJSON writes the option as a Block Kit option object.
func (o Option) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]any{
		"text":  map[string]any{"type": "plain_text", "text": o.Text, "emoji": true},
		"value": o.Value,
	})
}

func (e *Emulator) userJSONLocked(u User) map[string]any {
	return map[string]any{"id": u.ID, "username": u.Name, "name": u.Name, "team_id": e.opts.TeamID}
}

func (e *Emulator) teamJSON() map[string]any {
	return map[string]any{"id": e.opts.TeamID, "domain": e.opts.TeamDomain}
}

func (e *Emulator) actionTSLocked() string {
	return fmt.Sprintf("%d.%06d", e.now().Unix(), e.nextSeqLocked()%1_000_000)
}

func stateJSON(values map[string]map[string]InputValue) map[string]any {
	if values == nil {
		values = map[string]map[string]InputValue{}
	}
	return map[string]any{"values": values}
}

// SlashCommand delivers a slash_commands envelope with every field Slack sends.
func (e *Emulator) SlashCommand(ctx context.Context, s Slash) (*Interaction, error) {
	e.mu.Lock()
	u, ok := e.dir.users[s.UserID]
	if !ok {
		e.mu.Unlock()
		return nil, fmt.Errorf("%w: %s", ErrUnknownUser, s.UserID)
	}
	c, ok := e.resolveChannelLocked(s.ChannelID)
	if !ok {
		e.mu.Unlock()
		return nil, fmt.Errorf("%w: %s", ErrUnknownChannel, s.ChannelID)
	}
	in := e.newInteraction(EnvelopeSlashCommands, "", u.ID, c.ID, nil, true)
	ru := e.newResponseURLLocked("commands", c.ID, u.ID, "")
	ru.in = in
	in.ResponseURL = e.baseURL + ru.path
	in.TriggerID = e.newTriggerLocked(u.ID, "")
	in.Payload, _ = json.Marshal(map[string]any{
		"token":                 e.opts.VerificationToken,
		"team_id":               e.opts.TeamID,
		"team_domain":           e.opts.TeamDomain,
		"channel_id":            c.ID,
		"channel_name":          c.Name,
		"user_id":               u.ID,
		"user_name":             u.Name,
		"command":               s.Command,
		"text":                  s.Text,
		"api_app_id":            e.opts.AppID,
		"is_enterprise_install": "false",
		"response_url":          in.ResponseURL,
		"trigger_id":            in.TriggerID,
	})
	e.mu.Unlock()
	return in, e.dispatch(ctx, in)
}

// ClickButton delivers a block_actions envelope for a button found in a message or modal,
// with the button's real block_id, value and text.
func (e *Emulator) ClickButton(ctx context.Context, cl Click) (*Interaction, error) {
	e.mu.Lock()
	in, err := e.buildClickLocked(cl)
	e.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return in, e.dispatch(ctx, in)
}

func pickButton(buttons []Button, cl Click) (Button, error) {
	for _, b := range buttons {
		if cl.BlockID != "" && b.BlockID != cl.BlockID {
			continue
		}
		if (cl.ActionID != "" && b.ActionID == cl.ActionID) || (cl.ActionID == "" && cl.Text != "" && b.Text == cl.Text) {
			return b, nil
		}
	}
	return Button{}, fmt.Errorf("%w: action_id=%q text=%q", ErrButtonNotFound, cl.ActionID, cl.Text)
}

func (e *Emulator) buildClickLocked(cl Click) (*Interaction, error) {
	u, ok := e.dir.users[cl.UserID]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownUser, cl.UserID)
	}
	payload := map[string]any{
		"type":                  "block_actions",
		"user":                  e.userJSONLocked(u),
		"api_app_id":            e.opts.AppID,
		"token":                 e.opts.VerificationToken,
		"team":                  e.teamJSON(),
		"enterprise":            nil,
		"is_enterprise_install": false,
		"state":                 stateJSON(cl.State),
	}
	var (
		buttons []Button
		in      *Interaction
	)
	switch {
	case cl.MessageTS != "":
		m := e.store.byTS[cl.MessageTS]
		if m == nil || m.Deleted || (m.Ephemeral && m.VisibleTo != u.ID) {
			return nil, fmt.Errorf("%w: %s", ErrMessageNotFound, cl.MessageTS)
		}
		buttons = m.Buttons()
		container := map[string]any{"type": "message", "message_ts": m.TS, "channel_id": m.Channel, "is_ephemeral": m.Ephemeral}
		if m.ThreadTS != "" {
			container["thread_ts"] = m.ThreadTS
		}
		c, _ := e.resolveChannelLocked(m.Channel)
		payload["container"] = container
		payload["channel"] = map[string]any{"id": m.Channel, "name": c.Name}
		if !m.Ephemeral {
			payload["message"] = e.messageJSON(m)
		}
		in = e.newInteraction(EnvelopeInteractive, "block_actions", u.ID, m.Channel, nil, false)
		ru := e.newResponseURLLocked("actions", m.Channel, u.ID, m.TS)
		ru.in = in
		in.ResponseURL = e.baseURL + ru.path
		payload["response_url"] = in.ResponseURL
	case cl.ViewID != "":
		v := e.views.byID[cl.ViewID]
		if v == nil || !v.Open || v.UserID != u.ID {
			return nil, fmt.Errorf("%w: %s", ErrViewNotFound, cl.ViewID)
		}
		buttons = findButtons(v.Blocks)
		payload["container"] = map[string]any{"type": "view", "view_id": v.ID}
		payload["view"] = e.viewJSON(v, stateJSON(cl.State))
		in = e.newInteraction(EnvelopeInteractive, "block_actions", u.ID, "", nil, false)
		in.viewID = v.ID
	default:
		return nil, fmt.Errorf("%w: click needs MessageTS or ViewID", ErrMessageNotFound)
	}
	b, err := pickButton(buttons, cl)
	if err != nil {
		return nil, err
	}
	action := map[string]any{}
	_ = json.Unmarshal(b.raw, &action)
	delete(action, "confirm")
	delete(action, "accessibility_label")
	action["block_id"] = b.BlockID
	action["action_ts"] = e.actionTSLocked()
	if cl.OverrideValue != "" {
		action["value"] = cl.OverrideValue
	}
	payload["actions"] = []any{action}
	in.TriggerID = e.newTriggerLocked(u.ID, in.viewID)
	payload["trigger_id"] = in.TriggerID
	in.Payload, _ = json.Marshal(payload)
	return in, nil
}

// SubmitView delivers a view_submission envelope for an open modal.
func (e *Emulator) SubmitView(ctx context.Context, s Submission) (*Interaction, error) {
	e.mu.Lock()
	u, ok := e.dir.users[s.UserID]
	if !ok {
		e.mu.Unlock()
		return nil, fmt.Errorf("%w: %s", ErrUnknownUser, s.UserID)
	}
	v := e.views.byID[s.ViewID]
	if v == nil || !v.Open || v.UserID != u.ID {
		e.mu.Unlock()
		return nil, fmt.Errorf("%w: %s", ErrViewNotFound, s.ViewID)
	}
	in := e.newInteraction(EnvelopeInteractive, "view_submission", u.ID, "", nil, true)
	in.viewID = v.ID
	in.TriggerID = e.newTriggerLocked(u.ID, v.ID)
	in.Payload, _ = json.Marshal(map[string]any{
		"type":                  "view_submission",
		"team":                  e.teamJSON(),
		"user":                  e.userJSONLocked(u),
		"api_app_id":            e.opts.AppID,
		"token":                 e.opts.VerificationToken,
		"trigger_id":            in.TriggerID,
		"view":                  e.viewJSON(v, stateJSON(s.Values)),
		"response_urls":         []any{},
		"is_enterprise_install": false,
		"enterprise":            nil,
	})
	e.mu.Unlock()
	return in, e.dispatch(ctx, in)
}

// BlockSuggestion delivers a block_suggestion envelope; the app answers with options in its
// ack payload (Ack.Payload).
func (e *Emulator) BlockSuggestion(ctx context.Context, s Suggestion) (*Interaction, error) {
	e.mu.Lock()
	u, ok := e.dir.users[s.UserID]
	if !ok {
		e.mu.Unlock()
		return nil, fmt.Errorf("%w: %s", ErrUnknownUser, s.UserID)
	}
	payload := map[string]any{
		"type":                  "block_suggestion",
		"user":                  e.userJSONLocked(u),
		"api_app_id":            e.opts.AppID,
		"token":                 e.opts.VerificationToken,
		"action_id":             s.ActionID,
		"block_id":              s.BlockID,
		"value":                 s.Value,
		"team":                  e.teamJSON(),
		"enterprise":            nil,
		"is_enterprise_install": false,
	}
	var in *Interaction
	switch {
	case s.ViewID != "":
		v := e.views.byID[s.ViewID]
		if v == nil || !v.Open || v.UserID != u.ID {
			e.mu.Unlock()
			return nil, fmt.Errorf("%w: %s", ErrViewNotFound, s.ViewID)
		}
		payload["container"] = map[string]any{"type": "view", "view_id": v.ID}
		payload["view"] = e.viewJSON(v, nil)
		in = e.newInteraction(EnvelopeInteractive, "block_suggestion", u.ID, "", nil, true)
		in.viewID = v.ID
	case s.MessageTS != "":
		m := e.store.byTS[s.MessageTS]
		if m == nil || m.Deleted || (m.Ephemeral && m.VisibleTo != u.ID) {
			e.mu.Unlock()
			return nil, fmt.Errorf("%w: %s", ErrMessageNotFound, s.MessageTS)
		}
		c, _ := e.resolveChannelLocked(m.Channel)
		payload["container"] = map[string]any{"type": "message", "message_ts": m.TS, "channel_id": m.Channel, "is_ephemeral": m.Ephemeral}
		payload["channel"] = map[string]any{"id": m.Channel, "name": c.Name}
		if !m.Ephemeral {
			payload["message"] = e.messageJSON(m)
		}
		in = e.newInteraction(EnvelopeInteractive, "block_suggestion", u.ID, m.Channel, nil, true)
	default:
		e.mu.Unlock()
		return nil, fmt.Errorf("%w: suggestion needs ViewID or MessageTS", ErrViewNotFound)
	}
	in.Payload, _ = json.Marshal(payload)
	e.mu.Unlock()
	return in, e.dispatch(ctx, in)
}

// CloseView is the user dismissing a modal. When the view asked for notify_on_close, a
// view_closed envelope is delivered and returned; otherwise the result is nil.
func (e *Emulator) CloseView(ctx context.Context, userID, viewID string) (*Interaction, error) {
	e.mu.Lock()
	u, uok := e.dir.users[userID]
	v := e.views.byID[viewID]
	if !uok || v == nil || !v.Open || v.UserID != userID {
		e.mu.Unlock()
		return nil, fmt.Errorf("%w: %s", ErrViewNotFound, viewID)
	}
	var spec struct {
		NotifyOnClose bool `json:"notify_on_close"`
	}
	_ = json.Unmarshal(v.JSON, &spec)
	var payload json.RawMessage
	if spec.NotifyOnClose {
		payload, _ = json.Marshal(map[string]any{
			"type":                  "view_closed",
			"team":                  e.teamJSON(),
			"user":                  e.userJSONLocked(u),
			"api_app_id":            e.opts.AppID,
			"token":                 e.opts.VerificationToken,
			"view":                  e.viewJSON(v, nil),
			"is_cleared":            false,
			"is_enterprise_install": false,
			"enterprise":            nil,
		})
	}
	e.popViewLocked(v, "closed by user")
	e.mu.Unlock()
	if payload == nil {
		return nil, nil
	}
	in := e.newInteraction(EnvelopeInteractive, "view_closed", userID, "", payload, false)
	in.viewID = viewID
	return in, e.dispatch(ctx, in)
}

// FindButton returns a button of message ts by action_id (or by visible text if actionID is "").
func (e *Emulator) FindButton(ts, actionID, text string) (Button, error) {
	m, ok := e.Message(ts)
	if !ok {
		return Button{}, fmt.Errorf("%w: %s", ErrMessageNotFound, ts)
	}
	return pickButton(m.Buttons(), Click{ActionID: actionID, Text: text})
}
