package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/emulators/astroemu"
	"github.com/orgtoken/orgtoken-bot/emulators/slackemu"
)

// The ack must not wait for Astro: with the Astro call held, Slack still gets its ack.
func TestAckArrivesWhileAstroIsHeld(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.startBot(nil)

	listed := w.astro.CountRequests(astroemu.EndpointListTokens)
	release := w.astro.Hold(astroemu.EndpointListTokens)
	in := w.slash(outsiderID, opsChannel, "list")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ack, err := in.WaitAck(ctx)
	require.NoError(t, err)
	assert.Empty(t, in.Responses(), "the answer cannot exist yet: Astro has not answered")
	require.NoError(t, w.astro.WaitRequests(ctx, astroemu.EndpointListTokens, listed+1))
	release()

	p := reply(t, in)
	assert.Less(t, ack.Latency, 3*time.Second, "acked inside Slack's window")
	assert.Contains(t, text(p.Blocks), "airflow-ci-deployer")
}

// A pool with no free worker still acks, and tells the user to retry instead of blocking.
func TestFullPoolStillAcksAndSaysRetry(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.startBot(map[string]string{"ORGTOKEN_WORKERS": "1", "ORGTOKEN_QUEUE_SIZE": "1"})

	listed := w.astro.CountRequests(astroemu.EndpointListTokens)
	release := w.astro.Hold(astroemu.EndpointListTokens)
	defer release()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	first := w.slash(outsiderID, opsChannel, "list")
	require.NoError(t, w.astro.WaitRequests(ctx, astroemu.EndpointListTokens, listed+1)) // the worker is busy
	queued := w.slash(outsiderID, opsChannel, "list")                                    // fills the queue
	_, err := queued.WaitAck(ctx)
	require.NoError(t, err)
	turnedAway := w.slash(outsiderID, opsChannel, "list")
	ack, err := turnedAway.WaitAck(ctx)
	require.NoError(t, err)
	assert.Contains(t, string(ack.Payload), "busy", "the ack itself carries the retry message")
	assert.Contains(t, string(ack.Payload), "Nothing was changed")

	release()
	assert.Contains(t, text(reply(t, first).Blocks), "airflow-ci-deployer")
	assert.Contains(t, text(reply(t, queued).Blocks), "airflow-ci-deployer")
}

func TestRefusals(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.startBot(map[string]string{"ORGTOKEN_ALLOWED_CHANNELS": opsChannel + "," + offChannel})
	ws := astroemu.SampleWorkspaceSandbox

	t.Run("ChannelNotAllowed", func(t *testing.T) {
		w.slack.AddChannel(slackemu.Channel{ID: "C0ELSEWHR", Name: "elsewhere", BotIsMember: true})
		p := reply(t, w.slash(adminID, "C0ELSEWHR", "add "+astroemu.SampleTokenTerraform+" --role member --workspace-id "+ws))
		assert.Equal(t, "ephemeral", p.ResponseType)
		assert.Contains(t, text(p.Blocks), "channel")
		tok, _ := w.astro.Token(astroemu.SampleTokenTerraform)
		assert.Empty(t, roleIn(tok, ws))
	})

	t.Run("OtherSlashCommandIgnored", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		in, err := w.slack.SlashCommand(ctx, slackemu.Slash{UserID: adminID, ChannelID: opsChannel, Command: "/deploy", Text: "list"})
		require.NoError(t, err)
		_, err = in.WaitAck(ctx)
		require.NoError(t, err, "even an unknown command is acked")
		time.Sleep(300 * time.Millisecond) // give a wrong answer time to appear
		assert.Empty(t, in.Responses())
	})

	t.Run("BotNotInChannelStillAnswersRequester", func(t *testing.T) {
		in := w.slash(adminID, offChannel, "add "+astroemu.SampleTokenTerraform+" --role member --workspace-id "+ws)
		p := reply(t, in)
		assert.Contains(t, text(p.Blocks), "terraform-automation")
		tok, _ := w.astro.Token(astroemu.SampleTokenTerraform)
		assert.Equal(t, "WORKSPACE_MEMBER", roleIn(tok, ws))
	})
}

func TestGroupLookupFailureFailsClosed(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.startBot(map[string]string{"ORGTOKEN_GROUP_CACHE_TTL": "0s"})
	ws := astroemu.SampleWorkspaceSandbox

	w.slack.InjectFault("usergroups.users.list", slackemu.Fault{Error: "internal_error"})
	p := reply(t, w.slash(groupAdmin, opsChannel, "add "+astroemu.SampleTokenTerraform+" --role member --workspace-id "+ws))
	assert.Equal(t, "ephemeral", p.ResponseType)
	assert.Contains(t, text(p.Blocks), "Nothing was changed")
	tok, _ := w.astro.Token(astroemu.SampleTokenTerraform)
	assert.Empty(t, roleIn(tok, ws), "no membership answer means no change")

	w.slack.ClearFaults("usergroups.users.list")
	w.change(t, groupAdmin, opsChannel, "add "+astroemu.SampleTokenTerraform+" --role member --workspace-id "+ws)
	tok, _ = w.astro.Token(astroemu.SampleTokenTerraform)
	assert.Equal(t, "WORKSPACE_MEMBER", roleIn(tok, ws), "membership resolved live once Slack answers")
}

func TestAstroFailuresAreExplained(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.startBot(nil)
	ws := astroemu.SampleWorkspaceSandbox

	w.astro.ScriptFaults(astroemu.EndpointGetToken,
		astroemu.Fault{Status: 500}, astroemu.Fault{Status: 500}, astroemu.Fault{Status: 500}, astroemu.Fault{Status: 500})
	p := reply(t, w.slash(adminID, opsChannel, "add "+astroemu.SampleTokenTerraform+" --role member --workspace-id "+ws))
	body := text(p.Blocks)
	assert.Contains(t, body, "Astro")
	assert.Contains(t, body, "Nothing was changed")
	assert.Equal(t, 0, w.astro.CountRequests(astroemu.EndpointUpdateRoles))
}

func TestLargeWorkspaceListStaysWithinSlackLimits(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.astro.SeedLarge(2000, "clwslarge0000000000000001")
	w.startBot(nil)
	p := reply(t, w.slash(outsiderID, opsChannel, "list --workspace-id clwslarge0000000000000001"))
	assert.Empty(t, p.Error, "Slack accepted the message")
	inWorkspace := 0
	for _, tok := range w.astro.Tokens() {
		if tok.Type == astroemu.TypeOrganization && roleIn(tok, "clwslarge0000000000000001") != "" {
			inWorkspace++
		}
	}
	require.Greater(t, inWorkspace, 1000)
	assert.Contains(t, text(p.Blocks), fmt.Sprintf("Showing 1–25 of %s", humanCount(inWorkspace)))
}

func TestRestartMidSession(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	first := w.startBot(nil)
	assert.Contains(t, text(reply(t, w.slash(outsiderID, opsChannel, "list")).Blocks), "airflow-ci-deployer")

	first.stop(15) // SIGTERM
	assert.Equal(t, 0, first.cmd.ProcessState.ExitCode(), "graceful shutdown exits 0")
	w.startBot(nil)
	w.change(t, adminID, opsChannel, "add "+astroemu.SampleTokenDBTSync+" --role member --workspace-id "+astroemu.SampleWorkspaceSandbox)
	tok, _ := w.astro.Token(astroemu.SampleTokenDBTSync)
	assert.Equal(t, "WORKSPACE_MEMBER", roleIn(tok, astroemu.SampleWorkspaceSandbox))
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		env  []string
		want []string
	}{
		{"Partial", []string{"SLACK_BOT_TOKEN=" + botToken}, []string{"SLACK_APP_TOKEN, ASTRO_API_TOKEN, ASTRO_ORGANIZATION_ID not set"}},
		{"Malformed", []string{"SLACK_APP_TOKEN=" + botToken, "SLACK_BOT_TOKEN=" + appToken, "ASTRO_API_TOKEN=" + astroToken,
			"ASTRO_ORGANIZATION_ID=o", "ORGTOKEN_WORKERS=lots"}, []string{"xapp-", "xoxb-", "ORGTOKEN_WORKERS"}},
		{"MissingPolicy", []string{"SLACK_APP_TOKEN=" + appToken, "SLACK_BOT_TOKEN=" + botToken, "ASTRO_API_TOKEN=" + astroToken,
			"ASTRO_ORGANIZATION_ID=o", "ORGTOKEN_POLICY_FILE=/nonexistent/policy.yaml"}, []string{"policy"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(botBinary)
			cmd.Env = append([]string{"PATH=/usr/bin:/bin", "ORGTOKEN_DATABASE_URL=" + t.TempDir() + "/x.db"}, tc.env...)
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			require.ErrorAs(t, err, &ee, "output: %s", out)
			assert.Equal(t, 2, ee.ExitCode())
			for _, want := range tc.want {
				assert.Contains(t, string(out), want)
			}
			for _, s := range []string{"e2eappsecret", "e2ebotsecret", astroToken} {
				assert.NotContains(t, string(out), s)
			}
		})
	}
}

func TestRejectedAppTokenStopsTheBot(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.slack.InjectFault("apps.connections.open", slackemu.Fault{Error: "invalid_auth"})
	p := w.spawn(nil)
	assert.Equal(t, 1, p.exitCode(t))
	assert.True(t, strings.Contains(p.logs.String(), "SLACK_APP_TOKEN"), "the log says which setting to check")
}

func humanCount(n int) string {
	if n < 1000 {
		return fmt.Sprint(n)
	}
	return fmt.Sprintf("%d,%03d", n/1000, n%1000)
}
