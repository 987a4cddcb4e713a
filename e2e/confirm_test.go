package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/emulators/astroemu"
	"github.com/orgtoken/orgtoken-bot/emulators/slackemu"
)

// A change the policy marks high-risk (confirm: true) happens only after the requester types the
// token's name into a confirmation form; a wrong name is flagged inline and changes nothing.
func TestHighRiskChangeNeedsTypedConfirmation(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	policyFile := filepath.Join(w.dir, "policy.yaml")
	require.NoError(t, os.WriteFile(policyFile, []byte(`
groups:
  admins: [`+adminID+`]
rules:
  - actions: [list, show]
    who: everyone
  - name: owner-is-high-risk
    actions: [add, update]
    roles: [WORKSPACE_OWNER]
    who: [admins]
    confirm: true
  - actions: [add, update, remove]
    who: [admins]
`), 0o600))
	w.startBot(map[string]string{"ORGTOKEN_POLICY_FILE": policyFile})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ws := astroemu.SampleWorkspaceSandbox

	asked := reply(t, w.slash(adminID, opsChannel, "add -n terraform-automation --role owner --workspace-id "+ws))
	assert.Equal(t, "ephemeral", asked.ResponseType)
	assert.Contains(t, text(asked.Blocks), "Nothing has changed yet")
	assert.Equal(t, 0, w.astro.CountRequests(astroemu.EndpointUpdateRoles))

	click, err := w.slack.ClickButton(ctx, slackemu.Click{UserID: adminID, MessageTS: asked.MessageTS, ActionID: "orgtoken.confirm"})
	require.NoError(t, err)
	_, err = click.WaitAck(ctx)
	require.NoError(t, err)
	v, err := w.slack.WaitView(ctx, func(v slackemu.View) bool { return v.Open && v.CallbackID == "orgtoken.confirm" })
	require.NoError(t, err)

	submit := func(name string) slackemu.Ack {
		in, err := w.slack.SubmitView(ctx, slackemu.Submission{UserID: adminID, ViewID: v.ID, Values: map[string]map[string]slackemu.InputValue{
			"confirm": {"confirm_input": {Type: "plain_text_input", Value: name}},
		}})
		require.NoError(t, err)
		ack, err := in.WaitAck(ctx)
		require.NoError(t, err)
		return ack
	}
	ack := submit("terraform")
	assert.Contains(t, string(ack.Payload), "not the token's name")
	assert.Equal(t, 0, w.astro.CountRequests(astroemu.EndpointUpdateRoles), "a wrong name changes nothing")

	seen := map[string]bool{}
	for _, m := range w.slack.Messages(opsChannel) {
		seen[m.TS] = true
	}
	submit("terraform-automation")
	_, err = w.slack.WaitMessage(ctx, func(m slackemu.Message) bool { return m.Channel == opsChannel && !m.Ephemeral && !seen[m.TS] })
	require.NoError(t, err)
	tok, _ := w.astro.Token(astroemu.SampleTokenTerraform)
	assert.Equal(t, "WORKSPACE_OWNER", roleIn(tok, ws))
}
