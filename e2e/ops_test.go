package e2e

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/emulators/astroemu"
	"github.com/orgtoken/orgtoken-bot/emulators/slackemu"
)

// opsURL finds the health/metrics address the bot logged (it listens on 127.0.0.1:0 in tests).
func (p *botProcess) opsURL(t *testing.T) string {
	t.Helper()
	var addr string
	require.Eventually(t, func() bool {
		for _, l := range p.logs.JSONLines() {
			if l["msg"] == "health and metrics listening" {
				addr, _ = l["addr"].(string)
				return true
			}
		}
		return false
	}, 10*time.Second, 20*time.Millisecond)
	return "http://" + addr
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestOperatorEndpoints(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	p := w.startBot(nil)
	base := p.opsURL(t)

	code, _ := get(t, base+"/healthz")
	assert.Equal(t, http.StatusOK, code)
	require.Eventually(t, func() bool { c, _ := get(t, base+"/readyz"); return c == http.StatusOK }, 10*time.Second, 50*time.Millisecond)

	assert.Contains(t, text(reply(t, w.slash(outsiderID, opsChannel, "list")).Blocks), "airflow-ci-deployer")
	// The command is counted just after its reply is delivered.
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		_, metrics := get(t, base+"/metrics")
		for _, want := range []string{
			`orgtoken_commands_total{outcome="info",subcommand="list"} 1`,
			"orgtoken_slack_ack_seconds_bucket",
			`orgtoken_astro_requests_total{endpoint="list_tokens",status="200"}`,
			"orgtoken_slack_connected 1",
			"go_gc_gogc_percent 50", // the bot's own GC target, as GOGC is not set
		} {
			assert.True(c, strings.Contains(metrics, want), "/metrics lacks %s", want)
		}
	}, 10*time.Second, 50*time.Millisecond)

	t.Run("ReadyzFlipsWhileSlackIsUnreachable", func(t *testing.T) {
		w.slack.InjectFault("apps.connections.open", slackemu.Fault{Error: "internal_error"})
		w.slack.DropConnections()
		require.Eventually(t, func() bool {
			c, body := get(t, base+"/readyz")
			return c == http.StatusServiceUnavailable && strings.Contains(body, "slack")
		}, 10*time.Second, 20*time.Millisecond, "readyz must report the lost socket")
		code, _ := get(t, base+"/healthz")
		assert.Equal(t, http.StatusOK, code, "the process is still alive")

		w.slack.ClearFaults("apps.connections.open")
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		require.NoError(t, w.slack.WaitConnected(ctx, 1))
		require.Eventually(t, func() bool { c, _ := get(t, base+"/readyz"); return c == http.StatusOK }, 30*time.Second, 50*time.Millisecond)
		_, metrics := get(t, base+"/metrics")
		assert.Regexp(t, `orgtoken_slack_reconnects_total [1-9]`, metrics)
	})
}

func TestAuditChannelSeesEveryChange(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	const auditChannel = "C0AUDIT01"
	w.slack.AddChannel(slackemu.Channel{ID: auditChannel, Name: "orgtoken-audit", BotIsMember: true})
	w.startBot(map[string]string{"ORGTOKEN_AUDIT_CHANNEL": auditChannel})

	w.change(t, adminID, opsChannel, "add -n terraform-automation --role member --workspace-id "+astroemu.SampleWorkspaceSandbox)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := w.slack.WaitMessage(ctx, func(m slackemu.Message) bool { return m.Channel == auditChannel })
	require.NoError(t, err)
	body := text(m.Blocks)
	assert.Contains(t, body, "role.changed")
	assert.Contains(t, body, "terraform-automation")
	assert.Contains(t, body, "WORKSPACE_MEMBER")
	assert.Contains(t, body, "<@"+adminID+">")
}
