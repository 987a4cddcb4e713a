package bot

import (
	"context"
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/orgtoken/orgtoken-bot/commands"
	"github.com/orgtoken/orgtoken-bot/policy"
	"github.com/orgtoken/orgtoken-bot/reply"
)

// The change modal: `/orgtoken add`, `update` or `remove` typed without arguments opens it, and
// its submission becomes the equivalent typed command, so it goes through exactly the same
// parsing, policy checks, approvals and audit. What the form shows before that is what list
// and show would show, so each request for it is decided as they would be, for whoever asks.
const (
	changeModalID = "orgtoken.change"

	blockToken     = "token"
	blockWorkspace = "workspace"
	blockRole      = "role"
	blockReason    = "reason"
	blockCurrent   = "current"

	actionToken     = "token_select"
	actionWorkspace = "workspace_select"
	actionRole      = "role_select"
	actionReason    = "reason_input"

	maxReasonLen = 300

	// maxTitleRunes is the longest title Slack takes for a view.
	maxTitleRunes = 24
)

// changeTitles are the form's titles, each short enough to show whole.
var changeTitles = map[string]string{"add": "Add token to workspace", "update": "Change a token's role", "remove": "Remove a token"}

// Pickers supplies the choices a modal offers, from memory: Slack wants type-ahead options in
// the ack itself, so there is no time for an Astro call (*commands.Catalog implements it).
type Pickers interface {
	SuggestTokens(query string, limit int) []commands.Choice
	Workspaces() []commands.Choice
	TokenName(id string) string
	CurrentRole(tokenID, workspaceID string) string
}

// Gate decides with the policy as the commands do: allowed, or the command's own refusal.
// *commands.Service implements it.
type Gate interface {
	Authorize(ctx context.Context, in policy.Input) (reply.Reply, bool)
}

// mayList decides whether the form may show userID the organization's tokens and workspaces:
// it offers all of them, so it is decided as list --all-workspaces in the form's channel.
func (b *Bot) mayList(ctx context.Context, userID, channelID string) (reply.Reply, bool) {
	return b.cfg.Gate.Authorize(ctx, policy.Input{UserID: userID, ChannelID: channelID, Action: policy.ActionList})
}

// mayShow decides whether the form may show userID a token's current role, as show would.
func (b *Bot) mayShow(ctx context.Context, userID, channelID string) bool {
	_, ok := b.cfg.Gate.Authorize(ctx, policy.Input{UserID: userID, ChannelID: channelID, Action: policy.ActionShow})
	return ok
}

func (b *Bot) formEnabled() bool {
	return b.cfg.Pickers != nil && b.cfg.Views != nil && b.cfg.Gate != nil
}

// ViewsAPI opens and updates modals (*slack.Client satisfies it).
type ViewsAPI interface {
	OpenViewContext(ctx context.Context, triggerID string, view slack.ModalViewRequest) (*slack.ViewResponse, error)
	UpdateViewContext(ctx context.Context, view slack.ModalViewRequest, externalID, hash, viewID string) (*slack.ViewResponse, error)
}

// modalMeta travels in the view's private_metadata. Slack sets it from the view the bot built,
// and it only says which form this is and where to answer; the command is authorized afresh.
type modalMeta struct {
	Verb    string `json:"verb"`
	Channel string `json:"channel"`
}

// modalVerb reports whether text is a bare add/update/remove that should open the modal.
func modalVerb(text string) (string, bool) {
	v := strings.ToLower(strings.TrimSpace(text))
	switch v {
	case "add", "update", "remove":
		return v, true
	}
	return "", false
}

// openChangeModal shows the form; it reports false when the modal could not be opened (the
// trigger expired, say), so the caller answers as for the typed command instead. The caller
// has decided that the person may list.
func (b *Bot) openChangeModal(ctx context.Context, verb, channelID, triggerID string) bool {
	if len(b.workspaceOptions()) == 0 {
		// Slack refuses a static select without options (invalid_arguments), so a form with
		// no workspace to choose (the catalog not loaded yet, say) cannot open.
		b.log.Info("no workspace to offer in the change modal; answering as for the typed command")
		return false
	}
	view := b.changeModal(modalMeta{Verb: verb, Channel: channelID}, "", "", false)
	if _, err := b.cfg.Views.OpenViewContext(ctx, triggerID, view); err != nil {
		b.cfg.Metrics.SlackCallFailed("views.open", err)
		b.log.Warn("could not open the change modal; answering as for the typed command", "error", err)
		return false
	}
	return true
}

// workspaceOptions are the form's workspace choices, at most Slack's 100 for a static select.
func (b *Bot) workspaceOptions() []*slack.OptionBlockObject {
	var opts []*slack.OptionBlockObject
	for _, w := range b.cfg.Pickers.Workspaces() {
		if len(opts) == 100 {
			break
		}
		if o, ok := menuOption(w); ok {
			opts = append(opts, o)
		}
	}
	return opts
}

// changeModal builds the form for someone who may list; showCurrent adds the chosen token's
// current role, for someone who may also show.
func (b *Bot) changeModal(meta modalMeta, tokenID, workspaceID string, showCurrent bool) slack.ModalViewRequest {
	md, _ := json.Marshal(meta)
	submit := map[string]string{"add": "Add", "update": "Update", "remove": "Remove"}

	tokenSelect := slack.NewOptionsSelectBlockElement(slack.OptTypeExternal, plain("Type a token name"), actionToken)
	one := 1
	tokenSelect.MinQueryLength = &one
	tokenInput := slack.NewInputBlock(blockToken, plain("Organization API token"), nil, tokenSelect)
	tokenInput.DispatchAction = true

	wsSelect := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Choose a workspace"), actionWorkspace, b.workspaceOptions()...)
	wsInput := slack.NewInputBlock(blockWorkspace, plain("Workspace"), nil, wsSelect)
	wsInput.DispatchAction = true

	blocks := []slack.Block{tokenInput, wsInput}
	if showCurrent && tokenID != "" && workspaceID != "" {
		current := b.cfg.Pickers.CurrentRole(tokenID, workspaceID)
		if current == "" {
			current = "none"
		}
		name := b.cfg.Pickers.TokenName(tokenID)
		blocks = append(blocks, slack.NewContextBlock(blockCurrent,
			plain(truncateRunes("Current role of "+name+" there: "+current, 2000))))
	}
	if meta.Verb != "remove" {
		var roles []*slack.OptionBlockObject
		for _, r := range []string{"WORKSPACE_MEMBER", "WORKSPACE_AUTHOR", "WORKSPACE_OPERATOR", "WORKSPACE_OWNER"} {
			roles = append(roles, slack.NewOptionBlockObject(r, plain(r), nil))
		}
		blocks = append(blocks, slack.NewInputBlock(blockRole, plain("Role"), nil,
			slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Choose a role"), actionRole, roles...)))
	}
	reason := slack.NewPlainTextInputBlockElement(plain("Why? (shown to approvers and kept in the audit record)"), actionReason)
	reason.MaxLength = maxReasonLen
	reasonInput := slack.NewInputBlock(blockReason, plain("Reason"), nil, reason)
	reasonInput.Optional = true
	blocks = append(blocks, reasonInput)

	return slack.ModalViewRequest{
		Type:            slack.VTModal,
		CallbackID:      changeModalID,
		Title:           plain(changeTitles[meta.Verb]),
		Submit:          plain(submit[meta.Verb]),
		Close:           plain("Cancel"),
		PrivateMetadata: string(md),
		Blocks:          slack.Blocks{BlockSet: blocks},
	}
}

// maxSuggestBytes bounds the encoded options of a type-ahead answer. It travels in the ack,
// and slack-go refuses to send an ack of 20,480 bytes or more (Slack silently drops it), which
// would leave the picker empty; the rest is room for the envelope ID and framing.
const maxSuggestBytes = 16 << 10

// maxOptionValue is the longest value Slack takes in an option
// (docs.slack.dev/reference/block-kit/composition-objects/option-object).
const maxOptionValue = 150

// menuOption is c as a select menu option, or false when Slack could not take it. Slack refuses
// a menu (or drops a type-ahead answer) holding one option it cannot show whole: a value over
// 150 characters cannot be cut, as it would then pick nothing, and an option needs text, so a
// choice without a label goes by its value.
func menuOption(c commands.Choice) (*slack.OptionBlockObject, bool) {
	if utf8.RuneCountInString(c.Value) > maxOptionValue {
		return nil, false
	}
	label := c.Label
	if strings.TrimSpace(label) == "" {
		label = c.Value
	}
	return slack.NewOptionBlockObject(c.Value, plain(truncateRunes(label, 75)), plain(truncateRunes(c.Description, 75))), true
}

// suggest answers a type-ahead request from memory, inside the ack: the most relevant
// suggestions that fit, or none for someone who may not list in the form's channel. Every
// keystroke is decided afresh for the user Slack names in it.
func (b *Bot) suggest(ctx context.Context, cb *slack.InteractionCallback) slack.OptionsResponse {
	var opts []*slack.OptionBlockObject
	if b.maySuggest(ctx, cb) {
		size := len("[]")
		for _, c := range b.cfg.Pickers.SuggestTokens(cb.Value, 100) {
			o, ok := menuOption(c)
			if !ok {
				continue
			}
			raw, err := json.Marshal(o)
			if err != nil || size+len(raw)+1 > maxSuggestBytes {
				break
			}
			size += len(raw) + 1
			opts = append(opts, o)
		}
	}
	if opts == nil {
		opts = []*slack.OptionBlockObject{}
	}
	return slack.OptionsResponse{Options: opts}
}

func (b *Bot) maySuggest(ctx context.Context, cb *slack.InteractionCallback) bool {
	if !b.formEnabled() || cb.ActionID != actionToken {
		return false
	}
	meta, ok := readMeta(&cb.View)
	if !ok {
		return false
	}
	_, ok = b.mayList(ctx, cb.User.ID, meta.Channel)
	return ok
}

// readMeta reads the change form's private_metadata, which the bot set when it built the view.
func readMeta(v *slack.View) (modalMeta, bool) {
	var m modalMeta
	if v.CallbackID != changeModalID || json.Unmarshal([]byte(v.PrivateMetadata), &m) != nil {
		return m, false
	}
	_, ok := modalVerb(m.Verb)
	return m, ok
}

// modalChoice is what the person chose in the form.
type modalChoice struct {
	meta                         modalMeta
	token, workspace, role, text string
}

func readModal(cb *slack.InteractionCallback) (modalChoice, bool) {
	var c modalChoice
	var ok bool
	if c.meta, ok = readMeta(&cb.View); !ok {
		return c, false
	}
	values := map[string]map[string]slack.BlockAction{}
	if cb.View.State != nil {
		values = cb.View.State.Values
	}
	c.token = values[blockToken][actionToken].SelectedOption.Value
	c.workspace = values[blockWorkspace][actionWorkspace].SelectedOption.Value
	c.role = values[blockRole][actionRole].SelectedOption.Value
	c.text = values[blockReason][actionReason].Value
	return c, true
}

// validateSubmission checks the form inline; Slack shows the errors next to the fields.
func validateSubmission(cb *slack.InteractionCallback) map[string]string {
	c, ok := readModal(cb)
	if !ok {
		return map[string]string{blockToken: "This form is out of date. Close it and type the command again."}
	}
	errs := map[string]string{}
	if c.token == "" {
		errs[blockToken] = "Choose a token."
	}
	if c.workspace == "" {
		errs[blockWorkspace] = "Choose a workspace."
	}
	if c.meta.Verb != "remove" && c.role == "" {
		errs[blockRole] = "Choose a role."
	}
	if utf8.RuneCountInString(c.text) > maxReasonLen {
		errs[blockReason] = "Keep the reason under 300 characters."
	}
	return errs
}

// commandText turns a submitted form into the typed command it stands for. Values are quoted by
// the parser's own table of quotes, so no quote in the reason can end its quoting early, and
// the reason follows "=", so one that looks like a flag ("--", "-r") is still the reason.
func (c modalChoice) commandText() string {
	parts := []string{c.meta.Verb, commands.ShellQuote(c.token), "--workspace-id", commands.ShellQuote(c.workspace)}
	if c.meta.Verb != "remove" {
		parts = append(parts, "--role", commands.ShellQuote(c.role))
	}
	if r := strings.TrimSpace(c.text); r != "" {
		parts = append(parts, "--reason="+commands.ShellQuote(r))
	}
	return strings.Join(parts, " ")
}

// refreshModal shows the chosen token's current role once both token and workspace are picked,
// to someone who may show. Someone who may no longer list gets no refresh: it would list the
// workspaces again.
func (b *Bot) refreshModal(ctx context.Context, cb *slack.InteractionCallback) {
	c, ok := readModal(cb)
	if !ok || !b.formEnabled() {
		return
	}
	if _, ok := b.mayList(ctx, cb.User.ID, c.meta.Channel); !ok {
		return
	}
	view := b.changeModal(c.meta, c.token, c.workspace, b.mayShow(ctx, cb.User.ID, c.meta.Channel))
	if _, err := b.cfg.Views.UpdateViewContext(ctx, view, "", cb.View.Hash, cb.View.ID); err != nil {
		// hash_conflict means the person changed the form meanwhile; the next change refreshes it.
		b.log.Debug("could not refresh the change modal", "error", err)
	}
}

func plain(s string) *slack.TextBlockObject {
	if s == "" {
		return nil
	}
	return slack.NewTextBlockObject(slack.PlainTextType, s, false, false)
}

func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
