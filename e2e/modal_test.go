package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/emulators/astroemu"
	"github.com/orgtoken/orgtoken-bot/emulators/slackemu"
)

// /orgtoken add with no flags opens a form; its type-ahead is served from memory, bad input is
// flagged inline, and a good submission goes through the same checks as the typed command.
func TestChangeModal(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.startBot(nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	open := func(t *testing.T, user, verb string) slackemu.View {
		t.Helper()
		w.slash(user, opsChannel, verb)
		v, err := w.slack.WaitView(ctx, func(v slackemu.View) bool {
			return v.Open && v.UserID == user && v.CallbackID == "orgtoken.change" && strings.Contains(v.PrivateMetadata, `"`+verb+`"`)
		})
		require.NoError(t, err, "no modal opened")
		return v
	}

	v := open(t, adminID, "add")
	assert.Contains(t, string(v.Blocks), "Organization API token")

	t.Run("TypeAheadFromTheOrganization", func(t *testing.T) {
		var in *slackemu.Interaction
		var ack slackemu.Ack
		require.Eventually(t, func() bool { // the catalog fills in the background right after start
			var err error
			in, err = w.slack.BlockSuggestion(ctx, slackemu.Suggestion{UserID: adminID, ViewID: v.ID, ActionID: "token_select", BlockID: "token", Value: "terra"})
			require.NoError(t, err)
			ack, err = in.WaitAck(ctx)
			require.NoError(t, err)
			return strings.Contains(string(ack.Payload), astroemu.SampleTokenTerraform)
		}, 10*time.Second, 100*time.Millisecond)
		assert.Empty(t, ack.Error, "Slack would show the options: %v", ack.Errors)
	})

	t.Run("ChoosingShowsTheCurrentRole", func(t *testing.T) {
		updated := w.pickInForm(t, adminID, v.ID, astroemu.SampleTokenMLFeatures, astroemu.SampleWorkspaceMLOps)
		assert.Contains(t, text(updated.Blocks), "Current role of ml-feature-pipeline there: WORKSPACE_OWNER")
	})

	t.Run("InlineValidationError", func(t *testing.T) {
		in, err := w.slack.SubmitView(ctx, slackemu.Submission{UserID: adminID, ViewID: v.ID, Values: map[string]map[string]slackemu.InputValue{
			"token": {"token_select": {Type: "external_select", SelectedOption: &slackemu.Option{Text: "terraform-automation", Value: astroemu.SampleTokenTerraform}}},
		}})
		require.NoError(t, err)
		ack, err := in.WaitAck(ctx)
		require.NoError(t, err)
		assert.Contains(t, string(ack.Payload), `"response_action":"errors"`)
		assert.Contains(t, string(ack.Payload), "Choose a role")
		assert.Equal(t, 0, w.astro.CountRequests(astroemu.EndpointUpdateRoles))
	})

	t.Run("SubmissionAppliesLikeTheTypedCommand", func(t *testing.T) {
		seen := map[string]bool{}
		for _, m := range w.slack.Messages(opsChannel) {
			seen[m.TS] = true
		}
		in, err := w.slack.SubmitView(ctx, slackemu.Submission{UserID: adminID, ViewID: v.ID, Values: map[string]map[string]slackemu.InputValue{
			"token":     {"token_select": {Type: "external_select", SelectedOption: &slackemu.Option{Text: "terraform-automation", Value: astroemu.SampleTokenTerraform}}},
			"workspace": {"workspace_select": {Type: "static_select", SelectedOption: &slackemu.Option{Text: "Sandbox", Value: astroemu.SampleWorkspaceSandbox}}},
			"role":      {"role_select": {Type: "static_select", SelectedOption: &slackemu.Option{Text: "WORKSPACE_AUTHOR", Value: "WORKSPACE_AUTHOR"}}},
			"reason":    {"reason_input": {Type: "plain_text_input", Value: `deploys need "author" <now>`}},
		}})
		require.NoError(t, err)
		_, err = in.WaitAck(ctx)
		require.NoError(t, err)
		_, err = w.slack.WaitMessage(ctx, func(m slackemu.Message) bool {
			return m.Channel == opsChannel && !m.Ephemeral && !seen[m.TS]
		})
		require.NoError(t, err)
		tok, _ := w.astro.Token(astroemu.SampleTokenTerraform)
		assert.Equal(t, "WORKSPACE_AUTHOR", roleIn(tok, astroemu.SampleWorkspaceSandbox))
	})

	t.Run("OutsiderSubmissionIsRefused", func(t *testing.T) {
		ov := open(t, outsiderID, "remove")
		in, err := w.slack.SubmitView(ctx, slackemu.Submission{UserID: outsiderID, ViewID: ov.ID, Values: map[string]map[string]slackemu.InputValue{
			"token":     {"token_select": {Type: "external_select", SelectedOption: &slackemu.Option{Text: "terraform-automation", Value: astroemu.SampleTokenTerraform}}},
			"workspace": {"workspace_select": {Type: "static_select", SelectedOption: &slackemu.Option{Text: "Sandbox", Value: astroemu.SampleWorkspaceSandbox}}},
		}})
		require.NoError(t, err)
		_, err = in.WaitAck(ctx)
		require.NoError(t, err)
		m, err := w.slack.WaitMessage(ctx, func(m slackemu.Message) bool {
			return m.Ephemeral && m.Channel == opsChannel && m.VisibleTo == outsiderID
		})
		require.NoError(t, err)
		assert.Contains(t, text(m.Blocks), "not allowed")
		tok, _ := w.astro.Token(astroemu.SampleTokenTerraform)
		assert.Equal(t, "WORKSPACE_AUTHOR", roleIn(tok, astroemu.SampleWorkspaceSandbox), "nothing changed")
	})
}

// writePolicy puts a policy file in the world's directory and returns its path.
func (w *world) writePolicy(t *testing.T, yaml string) string {
	t.Helper()
	path := filepath.Join(w.dir, "policy.yaml")
	require.NoError(t, os.WriteFile(path, []byte(yaml), 0o600))
	return path
}

// openForm types verb alone as user in channel and returns the change form that opens.
func (w *world) openForm(t *testing.T, user, channel, verb string) slackemu.View {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	w.slash(user, channel, verb)
	v, err := w.slack.WaitView(ctx, func(v slackemu.View) bool {
		return v.Open && v.UserID == user && v.CallbackID == "orgtoken.change" && strings.Contains(v.PrivateMetadata, `"`+verb+`"`)
	})
	require.NoError(t, err, "no form opened")
	return v
}

// suggested types query into the form's token picker as user and returns the bot's answer.
func (w *world) suggested(t *testing.T, user, viewID, query string) slackemu.Ack {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	in, err := w.slack.BlockSuggestion(ctx, slackemu.Suggestion{UserID: user, ViewID: viewID, ActionID: "token_select", BlockID: "token", Value: query})
	require.NoError(t, err)
	ack, err := in.WaitAck(ctx)
	require.NoError(t, err, "the picker got no answer")
	require.Empty(t, ack.Error, "Slack would refuse the answer: %v", ack.Errors)
	return ack
}

// waitSuggested waits until the token picker offers token, which it does once the catalog has
// loaded after the bot started.
func (w *world) waitSuggested(t *testing.T, user, viewID, query, token string) {
	t.Helper()
	require.Eventually(t, func() bool {
		return strings.Contains(string(w.suggested(t, user, viewID, query).Payload), token)
	}, 10*time.Second, 100*time.Millisecond, "the picker never offered %s", token)
}

// pickInForm chooses a token and a workspace in the form as user, as Slack reports a choice in
// a menu that dispatches actions, and returns the form as the bot then updates it.
func (w *world) pickInForm(t *testing.T, user, viewID, token, workspace string) slackemu.View {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	v, ok := w.slack.View(viewID)
	require.True(t, ok)
	opt := func(value string) map[string]any {
		return map[string]any{"text": map[string]any{"type": "plain_text", "text": value}, "value": value}
	}
	state := map[string]any{"values": map[string]any{
		"token":     map[string]any{"token_select": map[string]any{"type": "external_select", "selected_option": opt(token)}},
		"workspace": map[string]any{"workspace_select": map[string]any{"type": "static_select", "selected_option": opt(workspace)}},
	}}
	payload, err := json.Marshal(map[string]any{
		"type": "block_actions", "user": map[string]any{"id": user}, "team": map[string]any{"id": "T0EMU"},
		"container": map[string]any{"type": "view", "view_id": v.ID},
		"view": map[string]any{"id": v.ID, "type": "modal", "callback_id": "orgtoken.change", "hash": v.Hash,
			"private_metadata": v.PrivateMetadata, "state": state},
		"actions": []any{map[string]any{"type": "static_select", "action_id": "workspace_select", "block_id": "workspace",
			"selected_option": opt(workspace)}},
	})
	require.NoError(t, err)
	_, err = w.slack.Deliver(ctx, slackemu.EnvelopeInteractive, payload, false)
	require.NoError(t, err)
	updated, err := w.slack.WaitView(ctx, func(x slackemu.View) bool { return x.ID == v.ID && x.Hash != v.Hash })
	require.NoError(t, err, "the form was not updated")
	return updated
}

// noFormFor asserts that no change form was ever opened for user.
func (w *world) noFormFor(t *testing.T, user string) {
	t.Helper()
	for _, v := range w.slack.Views() {
		assert.False(t, v.UserID == user && v.CallbackID == "orgtoken.change", "a form opened for %s", user)
	}
}

// The form offers every token and workspace of the organization, so someone the policy does
// not let list gets list's own refusal for a bare add, update or remove, and no form to read
// tokens, IDs or roles through. Someone who may list gets the form as before.
func TestChangeFormIsRefusedToWhoMayNotList(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.startBot(map[string]string{"ORGTOKEN_POLICY_FILE": w.writePolicy(t, `
groups:
  admins: [`+adminID+`]
rules:
  - actions: [list, show, add, update, remove]
    who: [admins]
`)})

	listed := reply(t, w.slash(outsiderID, opsChannel, "list --all-workspaces"))
	require.Contains(t, text(listed.Blocks), "not allowed")
	for _, verb := range []string{"add", "update", "remove"} {
		refused := reply(t, w.slash(outsiderID, opsChannel, verb))
		assert.Equal(t, "ephemeral", refused.ResponseType)
		assert.JSONEq(t, string(listed.Blocks), string(refused.Blocks), "%s is not refused as list is", verb)
	}
	w.noFormFor(t, outsiderID)

	v := w.openForm(t, adminID, opsChannel, "add")
	w.waitSuggested(t, adminID, v.ID, "terra", astroemu.SampleTokenTerraform)
}

// Someone who may list but not show gets the form and its type-ahead, but not the current role
// of the token they choose. Each keystroke is decided anew: once they leave the group that
// let them list, the form they still have open offers nothing.
func TestChangeFormForWhoMayListButNotShow(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	const readers = "S0READERS"
	w.slack.SetUserGroup(readers, outsiderID)
	w.startBot(map[string]string{"ORGTOKEN_GROUP_CACHE_TTL": "0s", "ORGTOKEN_POLICY_FILE": w.writePolicy(t, `
groups:
  admins: [`+adminID+`]
  readers: [`+readers+`]
rules:
  - actions: [list, show, add, update, remove]
    who: [admins]
  - actions: [list]
    who: [readers]
`)})

	shown := reply(t, w.slash(outsiderID, opsChannel, "show "+astroemu.SampleTokenMLFeatures))
	require.Contains(t, text(shown.Blocks), "not allowed")

	v := w.openForm(t, outsiderID, opsChannel, "add")
	w.waitSuggested(t, outsiderID, v.ID, "terra", astroemu.SampleTokenTerraform)
	updated := w.pickInForm(t, outsiderID, v.ID, astroemu.SampleTokenMLFeatures, astroemu.SampleWorkspaceMLOps)
	assert.NotContains(t, text(updated.Blocks), "Current role of")
	assert.NotContains(t, text(updated.Blocks), "there: WORKSPACE_OWNER")
	assert.Contains(t, string(updated.Blocks), astroemu.SampleWorkspaceMLOps, "the workspace menu stays")

	w.slack.SetUserGroup(readers)
	var answer struct{ Options []map[string]any }
	require.NoError(t, json.Unmarshal(w.suggested(t, outsiderID, v.ID, "terra").Payload, &answer))
	assert.Empty(t, answer.Options, "offered tokens to someone who may no longer list")
}

// The policy's channels allowlist holds for the form as for list: typed elsewhere, even by an
// admin, a bare add gets list's refusal there and no form.
func TestChangeFormIsRefusedOutsideThePolicysChannels(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	const elsewhere = "C0GENERAL1"
	w.slack.AddChannel(slackemu.Channel{ID: elsewhere, Name: "general", BotIsMember: true})
	w.startBot(map[string]string{"ORGTOKEN_POLICY_FILE": w.writePolicy(t, `
channels:
  `+opsChannel+`:
groups:
  admins: [`+adminID+`]
rules:
  - actions: [list, show, add, update, remove]
    who: [admins]
`)})

	listed := reply(t, w.slash(adminID, elsewhere, "list --all-workspaces"))
	require.Contains(t, text(listed.Blocks), "not allowed")
	refused := reply(t, w.slash(adminID, elsewhere, "update"))
	assert.Equal(t, "ephemeral", refused.ResponseType)
	assert.JSONEq(t, string(listed.Blocks), string(refused.Blocks))
	w.noFormFor(t, adminID)

	v := w.openForm(t, adminID, opsChannel, "update")
	w.waitSuggested(t, adminID, v.ID, "terra", astroemu.SampleTokenTerraform)
}

// A reason typed into the form is the reason, whatever quotes it holds: German quotes, whose „
// the parser reads as ", no longer break the command, and no quote ends the reason early to add
// a flag the form never offered, such as a time-box. A reason that looks like a flag is the
// reason too.
func TestChangeFormReasonIsKeptWhole(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	const auditChannel = "C0AUDIT01"
	w.slack.AddChannel(slackemu.Channel{ID: auditChannel, Name: "orgtoken-audit", BotIsMember: true})
	w.startBot(map[string]string{"ORGTOKEN_AUDIT_CHANNEL": auditChannel})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	token, ws := astroemu.SampleTokenTerraform, astroemu.SampleWorkspaceSandbox

	for _, c := range []struct{ verb, role, reason, audited string }{
		{"add", "WORKSPACE_MEMBER", `„Hotfix" für Kunde`, `reason: "Hotfix" für Kunde`},
		{"update", "WORKSPACE_OWNER", `a„ --for „2h`, `reason: a" --for "2h`},
		{"remove", "", "--", "reason: --"},
	} {
		v := w.openForm(t, adminID, opsChannel, c.verb)
		seen := map[string]bool{}
		for _, m := range w.slack.Messages(opsChannel) {
			seen[m.TS] = true
		}
		values := map[string]map[string]slackemu.InputValue{
			"token":     {"token_select": {Type: "external_select", SelectedOption: &slackemu.Option{Text: "terraform-automation", Value: token}}},
			"workspace": {"workspace_select": {Type: "static_select", SelectedOption: &slackemu.Option{Text: "Sandbox", Value: ws}}},
			"reason":    {"reason_input": {Type: "plain_text_input", Value: c.reason}},
		}
		if c.role != "" {
			values["role"] = map[string]slackemu.InputValue{"role_select": {Type: "static_select", SelectedOption: &slackemu.Option{Text: c.role, Value: c.role}}}
		}
		in, err := w.slack.SubmitView(ctx, slackemu.Submission{UserID: adminID, ViewID: v.ID, Values: values})
		require.NoError(t, err)
		_, err = in.WaitAck(ctx)
		require.NoError(t, err)
		done, err := w.slack.WaitMessage(ctx, func(m slackemu.Message) bool {
			return m.Channel == opsChannel && !seen[m.TS] && (!m.Ephemeral || m.VisibleTo == adminID)
		})
		require.NoError(t, err)
		require.False(t, done.Ephemeral, "%s with reason %s was refused: %s", c.verb, c.reason, text(done.Blocks))
		assert.NotContains(t, text(done.Blocks), "Time-boxed", "the reason added --for")
		tok, _ := w.astro.Token(token)
		assert.Equal(t, c.role, roleIn(tok, ws))
		_, err = w.slack.WaitMessage(ctx, func(m slackemu.Message) bool {
			return m.Channel == auditChannel && strings.Contains(text(m.Blocks), c.audited)
		})
		require.NoError(t, err, "the audit record lacks %s", c.audited)
	}
}
