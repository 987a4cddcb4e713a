package e2e

import (
	"context"
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
