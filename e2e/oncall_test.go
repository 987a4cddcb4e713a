package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/emulators/astroemu"
	"github.com/orgtoken/orgtoken-bot/emulators/slackemu"
)

// dataChannel is allowed by the lookup tests' policy but bound to no workspace.
const dataChannel = "C0DATA001"

// lookupPolicy binds the ops channel to the Analytics workspace.
const lookupPolicy = `
groups:
  admins: [` + adminID + `]
channels:
  ` + opsChannel + `: { workspace: ` + astroemu.SampleWorkspaceAnalytics + ` }
  ` + dataChannel + `:
rules:
  - name: read
    actions: [list, show]
    who: everyone
  - name: change
    actions: [add, update, remove]
    who: [admins]
`

// click presses a button on a message the user sees and returns the interaction.
func (w *world) press(t *testing.T, user, ts, actionID string) *slackemu.Interaction {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	in, err := w.slack.ClickButton(ctx, slackemu.Click{UserID: user, MessageTS: ts, ActionID: actionID})
	require.NoError(t, err)
	return in
}

// waitChannelText waits for a bot message in channel whose text contains want.
func (w *world) waitChannelText(t *testing.T, channel, want string) slackemu.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	m, err := w.slack.WaitMessage(ctx, func(m slackemu.Message) bool {
		return m.Channel == channel && !m.Ephemeral && strings.Contains(text(m.Blocks), want)
	})
	require.NoError(t, err, "no message in %s containing %q", channel, want)
	return m
}

func TestLookupsEndToEnd(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.slack.AddChannel(slackemu.Channel{ID: dataChannel, Name: "data", BotIsMember: true})
	policyFile := filepath.Join(w.dir, "policy.yaml")
	require.NoError(t, os.WriteFile(policyFile, []byte(lookupPolicy), 0o600))
	w.startBot(map[string]string{"ORGTOKEN_POLICY_FILE": policyFile})

	t.Run("ShowNamesWorkspacesAndCanBeShared", func(t *testing.T) {
		p := reply(t, w.slash(outsiderID, dataChannel, "show airflow-ci-deployer"))
		assert.Equal(t, "ephemeral", p.ResponseType)
		body := text(p.Blocks)
		assert.Contains(t, body, "Data Platform ("+astroemu.SampleWorkspaceDataPlatform+")")
		assert.Contains(t, body, "Analytics ("+astroemu.SampleWorkspaceAnalytics+")")
		assert.Contains(t, body, "GitHub Actions deploys")

		w.press(t, outsiderID, p.MessageTS, "orgtoken.share")
		shared := w.waitChannelText(t, dataChannel, "Shared by")
		assert.Equal(t, "chat.postMessage", shared.Source)
		assert.Contains(t, text(shared.Blocks), "Token airflow-ci-deployer")
		assert.Empty(t, shared.Buttons(), "a shared answer has no buttons")
	})

	t.Run("WorkspaceByName", func(t *testing.T) {
		p := reply(t, w.slash(outsiderID, dataChannel, `list --workspace "Data Platform"`))
		body := text(p.Blocks)
		assert.Contains(t, body, "Organization API tokens in workspace Data Platform ("+astroemu.SampleWorkspaceDataPlatform+")")
		assert.Contains(t, body, "ci-token")
	})

	t.Run("ChannelDefaultWorkspace", func(t *testing.T) {
		p := reply(t, w.slash(outsiderID, opsChannel, "list"))
		assert.Contains(t, text(p.Blocks), "Organization API tokens in workspace Analytics ("+astroemu.SampleWorkspaceAnalytics+")")
	})

	t.Run("Filters", func(t *testing.T) {
		p := reply(t, w.slash(outsiderID, dataChannel, "list --all-workspaces --name CI"))
		body := text(p.Blocks)
		assert.Contains(t, body, "Organization API tokens in every workspace")
		assert.Contains(t, body, "Analytics: operator, Data Platform: author")
		assert.NotContains(t, body, "dbt-cloud-sync")

		p = reply(t, w.slash(outsiderID, opsChannel, "list --role member"))
		body = text(p.Blocks)
		assert.Contains(t, body, "dbt-cloud-sync")
		assert.NotContains(t, body, "airflow-ci-deployer")
	})
}

func TestPagingUpdatesTheMessageInPlace(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.astro.SeedLarge(2000, astroemu.SampleWorkspaceSandbox)
	w.startBot(nil)

	first := reply(t, w.slash(outsiderID, opsChannel, "list --workspace Sandbox"))
	require.NotEmpty(t, first.MessageTS)
	assert.Contains(t, text(first.Blocks), "Showing 1–25 of ")

	in := w.press(t, outsiderID, first.MessageTS, "orgtoken.list.next")
	page := reply(t, in)
	assert.True(t, page.ReplaceOriginal, "the page is posted with replace_original")
	assert.Equal(t, "ephemeral", page.ResponseType)
	assert.Equal(t, first.MessageTS, page.MessageTS, "the same message changed")
	m, ok := w.slack.Message(first.MessageTS)
	require.True(t, ok)
	assert.Equal(t, 1, m.Edits)
	assert.Contains(t, text(m.Blocks), "Showing 26–50 of ")

	prev := reply(t, w.press(t, outsiderID, first.MessageTS, "orgtoken.list.prev"))
	assert.Equal(t, first.MessageTS, prev.MessageTS)
	m, _ = w.slack.Message(first.MessageTS)
	assert.Equal(t, 2, m.Edits)
	assert.Contains(t, text(m.Blocks), "Showing 1–25 of ")
}

func TestTimeBoxedElevationEndToEnd(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	fast := map[string]string{"ORGTOKEN_REVERT_INTERVAL": "200ms", "ORGTOKEN_MIN_ELEVATION": "1s"}
	bot := w.startBot(fast)
	ws := astroemu.SampleWorkspaceDataPlatform
	token := astroemu.SampleTokenCIDeployer
	roleNow := func() string {
		tok, ok := w.astro.Token(token)
		require.True(t, ok)
		return roleIn(tok, ws)
	}

	t.Run("RevertsAfterItsPeriod", func(t *testing.T) {
		msg := w.change(t, adminID, opsChannel, "update "+token+" -r owner -w 'Data Platform' --for 2s")
		assert.Contains(t, text(msg.Blocks), "Time-boxed: in")
		assert.Equal(t, "WORKSPACE_OWNER", roleNow())
		done := w.waitChannelText(t, opsChannel, "Time-boxed change reverted")
		assert.Contains(t, text(done.Blocks), "put back to")
		assert.Equal(t, "WORKSPACE_AUTHOR", roleNow())
	})

	t.Run("SurvivesARestart", func(t *testing.T) {
		before := len(w.slack.Messages(opsChannel))
		w.change(t, adminID, opsChannel, "update "+token+" -r operator -w "+ws+" --for 4s")
		bot.stop(syscall.SIGTERM)
		require.Equal(t, "WORKSPACE_OPERATOR", roleNow(), "the bot stopped before the period ended")
		bot = w.startBot(fast)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_, err := w.slack.WaitMessage(ctx, func(m slackemu.Message) bool {
			return m.Channel == opsChannel && strings.Contains(text(m.Blocks), "Time-boxed change reverted") &&
				strings.Contains(text(m.Blocks), "WORKSPACE_OPERATOR")
		})
		require.NoError(t, err)
		assert.Equal(t, "WORKSPACE_AUTHOR", roleNow())
		assert.Greater(t, len(w.slack.Messages(opsChannel)), before)
	})

	t.Run("ReportsInsteadOfClobberingAnOutsideChange", func(t *testing.T) {
		w.change(t, adminID, opsChannel, "update "+token+" -r owner -w "+ws+" --for 2s")
		tok, _ := w.astro.Token(token)
		roles := make([]astroemu.Role, 0, len(tok.Roles))
		for _, r := range tok.Roles {
			if r.EntityType == astroemu.EntityWorkspace && r.EntityID == ws {
				r.Role = "WORKSPACE_MEMBER"
			}
			roles = append(roles, r)
		}
		require.NoError(t, w.astro.SetRoles(token, roles))
		report := w.waitChannelText(t, opsChannel, "not reverted: the role was changed since")
		assert.Contains(t, text(report.Blocks), "WORKSPACE_MEMBER")
		assert.Equal(t, "WORKSPACE_MEMBER", roleNow(), "the outside change stands")
	})
}

func TestDriftIsReportedEndToEnd(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.startBot(map[string]string{"ORGTOKEN_DRIFT_INTERVAL": "200ms", "ORGTOKEN_DRIFT_CHANNEL": opsChannel})
	ws := astroemu.SampleWorkspaceSandbox
	first, second := astroemu.SampleTokenTerraform, astroemu.SampleTokenSandboxPlayroom
	w.change(t, adminID, opsChannel, "add "+first+" -r author -w "+ws)
	w.change(t, adminID, opsChannel, "add "+second+" -r member -w "+ws)

	setOutside := func(token, role string) {
		tok, _ := w.astro.Token(token)
		roles := make([]astroemu.Role, 0, len(tok.Roles))
		for _, r := range tok.Roles {
			if r.EntityType == astroemu.EntityWorkspace && r.EntityID == ws {
				r.Role = role
			}
			roles = append(roles, r)
		}
		require.NoError(t, w.astro.SetRoles(token, roles))
	}
	setOutside(first, "WORKSPACE_OWNER")
	m := w.waitChannelText(t, opsChannel, "changed outside the bot")
	body := text(m.Blocks)
	assert.Contains(t, body, "terraform-automation")
	assert.Contains(t, body, "Sandbox")
	assert.Contains(t, body, "WORKSPACE_OWNER")
	assert.Contains(t, body, "WORKSPACE_AUTHOR", "what the bot last knew")

	// A later check reports the second change and not the first again: the first is on record.
	setOutside(second, "WORKSPACE_OPERATOR")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := w.slack.WaitMessage(ctx, func(m slackemu.Message) bool {
		body := text(m.Blocks)
		return strings.Contains(body, "changed outside the bot") && strings.Contains(body, "sandbox-experiments")
	})
	require.NoError(t, err, "the second change was never reported")
	count := 0
	for _, msg := range w.slack.Messages(opsChannel) {
		if strings.Contains(text(msg.Blocks), "changed outside the bot") && strings.Contains(text(msg.Blocks), "terraform-automation") {
			count++
		}
	}
	assert.Equal(t, 1, count)
}
