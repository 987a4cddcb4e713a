package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/emulators/astroemu"
	"github.com/orgtoken/orgtoken-bot/emulators/slackemu"
)

// show of a token with two time-boxed changes offers a "Revert now" button for each; Slack
// accepts the message, and the second button reverts the second change only.
func TestShowWithTwoPendingRevertsEndToEnd(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.startBot(nil)
	token := astroemu.SampleTokenCIDeployer
	roleNow := func(ws string) string {
		tok, ok := w.astro.Token(token)
		require.True(t, ok)
		return roleIn(tok, ws)
	}
	w.change(t, adminID, opsChannel, "update "+token+" -r owner -w 'Data Platform' --for 2h")
	w.change(t, adminID, opsChannel, "update "+token+" -r owner -w Analytics --for 2h")
	require.Equal(t, "WORKSPACE_OWNER", roleNow(astroemu.SampleWorkspaceAnalytics))

	p := reply(t, w.slash(adminID, opsChannel, "show "+token))
	require.Empty(t, p.Error, "Slack refused the show reply")
	m, ok := w.slack.Message(p.MessageTS)
	require.True(t, ok)
	var labels []string
	for _, b := range m.Buttons() {
		labels = append(labels, b.Text)
	}
	assert.Subset(t, labels, []string{"Revert now: Data Platform", "Revert now: Analytics"})

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	in, err := w.slack.ClickButton(ctx, slackemu.Click{UserID: adminID, MessageTS: p.MessageTS, Text: "Revert now: Analytics"})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return roleNow(astroemu.SampleWorkspaceAnalytics) == "WORKSPACE_OPERATOR" },
		15*time.Second, 50*time.Millisecond, "the Analytics change was not reverted; answers: %v", in.Responses())
	assert.Equal(t, "WORKSPACE_OWNER", roleNow(astroemu.SampleWorkspaceDataPlatform), "the other change stands until its time")
}
