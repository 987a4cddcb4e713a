package bot

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/commands"
	"github.com/orgtoken/orgtoken-bot/emulators/slackemu"
	"github.com/orgtoken/orgtoken-bot/policy"
	"github.com/orgtoken/orgtoken-bot/reply"
)

const (
	formToken     = "cltkdeployer0000000000001"
	formWorkspace = "clwsdataplatform000000001"
)

// formOrg is an organization of one token, which is owner in one workspace.
type formOrg struct{}

func (formOrg) SuggestTokens(string, int) []commands.Choice {
	return []commands.Choice{{Value: formToken, Label: "deployer", Description: formToken}}
}
func (formOrg) Workspaces() []commands.Choice {
	return []commands.Choice{{Value: formWorkspace, Label: "Data Platform"}}
}
func (formOrg) TokenName(string) string           { return "deployer" }
func (formOrg) CurrentRole(string, string) string { return "WORKSPACE_OWNER" }

// policyGate allows the actions it is set to, refusing the rest as the commands do, and
// records what it was asked.
type policyGate struct {
	mu      sync.Mutex
	allowed map[policy.Action]bool
	asked   []policy.Input
}

func allowing(actions ...policy.Action) *policyGate {
	g := &policyGate{}
	g.set(actions...)
	return g
}

func (g *policyGate) set(actions ...policy.Action) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.allowed = map[policy.Action]bool{}
	for _, a := range actions {
		g.allowed[a] = true
	}
}

func (g *policyGate) Authorize(_ context.Context, in policy.Input) (reply.Reply, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.asked = append(g.asked, in)
	if g.allowed[in.Action] {
		return reply.Reply{}, true
	}
	return reply.Reply{Visibility: reply.Ephemeral, Tone: reply.Failure, Title: "You are not allowed to do this."}, false
}

func (g *policyGate) askedFor(a policy.Action) []policy.Input {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []policy.Input
	for _, in := range g.asked {
		if in.Action == a {
			out = append(out, in)
		}
	}
	return out
}

// formBot runs a bot whose change form shows formOrg behind gate (none when gate is nil). Its
// one worker takes jobs in turn, so an answer to a later command means earlier jobs are done.
func formBot(t *testing.T, gate Gate) (*slackemu.Emulator, context.Context) {
	t.Helper()
	s := newIdleSocket(t)
	cfg := Config{CommandName: "/orgtoken", Workers: 1, QueueSize: 8, Logger: benchLogger(), Pickers: formOrg{}, Views: s.api}
	if gate != nil {
		cfg.Gate = gate
	}
	bt := New(s.sm, s.api, &twoReverts{}, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	var wg sync.WaitGroup
	wg.Go(func() { _ = bt.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	return s.emu, ctx
}

func openForm(t *testing.T, ctx context.Context, emu *slackemu.Emulator) slackemu.View {
	t.Helper()
	_, err := emu.SlashCommand(ctx, slackemu.Slash{UserID: benchUser, ChannelID: benchChannel, Command: "/orgtoken", Text: "add"})
	require.NoError(t, err)
	v, err := emu.WaitView(ctx, func(v slackemu.View) bool { return v.Open && v.CallbackID == changeModalID })
	require.NoError(t, err, "no modal opened")
	return v
}

// suggested types in the form's token picker and returns the tokens offered.
func suggested(t *testing.T, ctx context.Context, emu *slackemu.Emulator, v slackemu.View) []string {
	t.Helper()
	in, err := emu.BlockSuggestion(ctx, slackemu.Suggestion{UserID: benchUser, ViewID: v.ID, ActionID: actionToken, BlockID: blockToken, Value: "dep"})
	require.NoError(t, err)
	ack, err := in.WaitAck(ctx)
	require.NoError(t, err, "the picker got no answer")
	require.Empty(t, ack.Error, "Slack would refuse the answer: %v", ack.Errors)
	var got struct {
		Options []struct {
			Value string `json:"value"`
		} `json:"options"`
	}
	require.NoError(t, json.Unmarshal(ack.Payload, &got))
	var values []string
	for _, o := range got.Options {
		values = append(values, o.Value)
	}
	return values
}

// pickBoth chooses the token and the workspace in the form, as Slack reports a choice made in
// a menu that dispatches actions, and returns the form as the bot then updates it.
func pickBoth(t *testing.T, ctx context.Context, emu *slackemu.Emulator, viewID string) slackemu.View {
	t.Helper()
	v, ok := emu.View(viewID)
	require.True(t, ok)
	opt := func(value string) map[string]any {
		return map[string]any{"text": map[string]any{"type": "plain_text", "text": value}, "value": value}
	}
	state := map[string]any{"values": map[string]any{
		blockToken:     map[string]any{actionToken: map[string]any{"type": "external_select", "selected_option": opt(formToken)}},
		blockWorkspace: map[string]any{actionWorkspace: map[string]any{"type": "static_select", "selected_option": opt(formWorkspace)}},
	}}
	payload, err := json.Marshal(map[string]any{
		"type": "block_actions", "user": map[string]any{"id": benchUser, "name": "bench"}, "team": map[string]any{"id": "T0EMU"},
		"container": map[string]any{"type": "view", "view_id": v.ID},
		"view": map[string]any{"id": v.ID, "type": "modal", "callback_id": changeModalID, "hash": v.Hash,
			"private_metadata": v.PrivateMetadata, "state": state},
		"actions": []any{map[string]any{"type": "static_select", "action_id": actionWorkspace, "block_id": blockWorkspace,
			"selected_option": opt(formWorkspace)}},
	})
	require.NoError(t, err)
	_, err = emu.Deliver(ctx, slackemu.EnvelopeInteractive, payload, false)
	require.NoError(t, err)
	updated, err := emu.WaitView(ctx, func(x slackemu.View) bool { return x.ID == v.ID && x.Hash != v.Hash })
	require.NoError(t, err, "the form was not refreshed")
	return updated
}

// The form offers every token and workspace, so someone the policy does not let list in the
// channel gets list's refusal instead, and no form.
func TestChangeFormIsRefusedToWhoMayNotList(t *testing.T) {
	t.Parallel()
	gate := allowing(policy.ActionShow)
	emu, ctx := formBot(t, gate)

	in, err := emu.SlashCommand(ctx, slackemu.Slash{UserID: benchUser, ChannelID: benchChannel, Command: "/orgtoken", Text: "add"})
	require.NoError(t, err)
	p, err := in.WaitResponse(ctx)
	require.NoError(t, err, "no answer")
	assert.Contains(t, string(p.Blocks), "You are not allowed to do this.")
	assert.Equal(t, "ephemeral", p.ResponseType)
	assert.Empty(t, emu.Views(), "no form opened")
	assert.Equal(t, []policy.Input{{UserID: benchUser, ChannelID: benchChannel, Action: policy.ActionList}}, gate.askedFor(policy.ActionList))
}

// Without a Gate nothing can decide who may see the form, so a bare add is answered as typed.
func TestChangeFormNeedsAGate(t *testing.T) {
	t.Parallel()
	emu, ctx := formBot(t, nil)

	in, err := emu.SlashCommand(ctx, slackemu.Slash{UserID: benchUser, ChannelID: benchChannel, Command: "/orgtoken", Text: "add"})
	require.NoError(t, err)
	p, err := in.WaitResponse(ctx)
	require.NoError(t, err, "no answer")
	assert.Contains(t, string(p.Blocks), "Token CI deployer", "the command layer's answer")
	assert.Empty(t, emu.Views(), "no form opened")
}

// noWorkspaces is an organization whose workspaces are not known (yet): the catalog is empty.
type noWorkspaces struct{ formOrg }

func (noWorkspaces) Workspaces() []commands.Choice { return nil }

// Slack refuses a form whose workspace menu has nothing in it (a static select needs options),
// so with no workspace to offer a bare add is answered as typed, without asking Slack for a
// form it would refuse.
func TestChangeFormIsNotOfferedWithoutWorkspaces(t *testing.T) {
	t.Parallel()
	s := newIdleSocket(t)
	cfg := Config{CommandName: "/orgtoken", Workers: 1, QueueSize: 8, Logger: benchLogger(),
		Pickers: noWorkspaces{}, Views: s.api, Gate: allowing(policy.ActionList, policy.ActionShow)}
	bt := New(s.sm, s.api, &twoReverts{}, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	var wg sync.WaitGroup
	wg.Go(func() { _ = bt.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })

	in, err := s.emu.SlashCommand(ctx, slackemu.Slash{UserID: benchUser, ChannelID: benchChannel, Command: "/orgtoken", Text: "add"})
	require.NoError(t, err)
	p, err := in.WaitResponse(ctx)
	require.NoError(t, err, "no answer")
	assert.Contains(t, string(p.Blocks), "Token CI deployer", "the command layer's answer")
	assert.Empty(t, s.emu.Views(), "no form opened")
	assert.Empty(t, s.emu.Calls("views.open"), "Slack was asked for a form it refuses")
}

// Every keystroke in the token picker is a new request, decided for the user Slack names in
// it and the channel the form was opened in: someone no longer allowed to list is offered
// nothing, though the form is still open.
func TestTokenPickerIsDecidedAtEachKeystroke(t *testing.T) {
	t.Parallel()
	gate := allowing(policy.ActionList, policy.ActionShow)
	emu, ctx := formBot(t, gate)
	v := openForm(t, ctx, emu)

	assert.Equal(t, []string{formToken}, suggested(t, ctx, emu, v))
	gate.set(policy.ActionShow)
	assert.Empty(t, suggested(t, ctx, emu, v), "offered tokens to someone who may not list")

	asked := gate.askedFor(policy.ActionList)
	require.Len(t, asked, 3, "the form, then each keystroke")
	for _, in := range asked {
		assert.Equal(t, policy.Input{UserID: benchUser, ChannelID: benchChannel, Action: policy.ActionList}, in)
	}
}

// The form names the chosen token's current role only to someone who may show it; a form
// refreshed after show was refused drops the line it showed before.
func TestCurrentRoleIsShownOnlyToWhoMayShow(t *testing.T) {
	t.Parallel()
	gate := allowing(policy.ActionList, policy.ActionShow)
	emu, ctx := formBot(t, gate)
	v := openForm(t, ctx, emu)

	shown := pickBoth(t, ctx, emu, v.ID)
	assert.Contains(t, string(shown.Blocks), "Current role of deployer there: WORKSPACE_OWNER")
	assert.Contains(t, string(shown.Blocks), formWorkspace, "the workspace menu")

	gate.set(policy.ActionList)
	hidden := pickBoth(t, ctx, emu, v.ID)
	assert.NotContains(t, string(hidden.Blocks), "Current role of")
	assert.NotContains(t, string(hidden.Blocks), "there: WORKSPACE_OWNER")
	assert.Contains(t, string(hidden.Blocks), formWorkspace, "the workspace menu")

	for _, in := range gate.askedFor(policy.ActionShow) {
		assert.Equal(t, policy.Input{UserID: benchUser, ChannelID: benchChannel, Action: policy.ActionShow}, in)
	}
}

// Someone no longer allowed to list gets no refresh: it would list the workspaces again.
func TestFormIsNotRefreshedForWhoMayNotList(t *testing.T) {
	t.Parallel()
	gate := allowing(policy.ActionList, policy.ActionShow)
	emu, ctx := formBot(t, gate)
	v := openForm(t, ctx, emu)
	gate.set(policy.ActionShow)

	before := len(gate.askedFor(policy.ActionList))
	opt := map[string]any{"text": map[string]any{"type": "plain_text", "text": "x"}, "value": formWorkspace}
	payload, err := json.Marshal(map[string]any{
		"type": "block_actions", "user": map[string]any{"id": benchUser, "name": "bench"}, "team": map[string]any{"id": "T0EMU"},
		"container": map[string]any{"type": "view", "view_id": v.ID},
		"view": map[string]any{"id": v.ID, "type": "modal", "callback_id": changeModalID, "hash": v.Hash, "private_metadata": v.PrivateMetadata,
			"state": map[string]any{"values": map[string]any{
				blockToken:     map[string]any{actionToken: map[string]any{"type": "external_select", "selected_option": opt}},
				blockWorkspace: map[string]any{actionWorkspace: map[string]any{"type": "static_select", "selected_option": opt}},
			}}},
		"actions": []any{map[string]any{"type": "static_select", "action_id": actionWorkspace, "block_id": blockWorkspace, "selected_option": opt}},
	})
	require.NoError(t, err)
	_, err = emu.Deliver(ctx, slackemu.EnvelopeInteractive, payload, false)
	require.NoError(t, err)
	// The refresh's job is done once a command typed after it is answered.
	in, err := emu.SlashCommand(ctx, slackemu.Slash{UserID: benchUser, ChannelID: benchChannel, Command: "/orgtoken", Text: "show x"})
	require.NoError(t, err)
	_, err = in.WaitResponse(ctx)
	require.NoError(t, err)

	assert.Greater(t, len(gate.askedFor(policy.ActionList)), before, "the refresh was decided")
	now, _ := emu.View(v.ID)
	assert.Equal(t, v.Hash, now.Hash, "the form was refreshed")
	assert.NotContains(t, string(now.Blocks), "Current role of")
}

// Slack takes a view title of at most 24 characters: every form's title fits whole, none cut
// short with an ellipsis.
func TestFormTitlesFitWhole(t *testing.T) {
	b := &Bot{cfg: Config{CommandName: "/orgtoken", Pickers: formOrg{}}}
	titles := map[string]string{"confirm": b.confirmView(commands.Confirmation{Text: "add x", Name: "x"}, benchChannel).Title.Text}
	for _, verb := range []string{"add", "update", "remove"} {
		titles[verb] = b.changeModal(modalMeta{Verb: verb, Channel: benchChannel}, "", "", false).Title.Text
		assert.Equal(t, changeTitles[verb], titles[verb], "the %s form's title", verb)
	}
	for form, title := range titles {
		assert.NotEmpty(t, title, form)
		assert.LessOrEqual(t, utf8.RuneCountInString(title), maxTitleRunes, "the %s form's title %q", form, title)
		assert.NotContains(t, title, "…", "the %s form's title", form)
	}
}

// The confirmation form names the command as this bot is configured to answer it.
func TestConfirmFormNamesTheConfiguredCommand(t *testing.T) {
	b := &Bot{cfg: Config{CommandName: "/tokens"}}
	v := b.confirmView(commands.Confirmation{Text: "remove -n deployer -w Production", Name: "deployer"}, benchChannel)
	raw, err := json.Marshal(v.Blocks)
	require.NoError(t, err)
	assert.Contains(t, string(raw), "You are about to run: /tokens remove -n deployer -w Production")
	assert.NotContains(t, string(raw), "/orgtoken")
}
