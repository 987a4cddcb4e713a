package e2e

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/emulators/astroemu"
	"github.com/orgtoken/orgtoken-bot/emulators/slackemu"
)

// 300 commands while Slack forces a disconnect every 50 envelopes and one connection is dropped
// abruptly: every command is answered exactly once.
func TestEveryCommandAnsweredOnceAcrossReconnects(t *testing.T) {
	t.Parallel()
	w := newWorldWith(t, slackemu.Options{Redeliveries: 2})
	w.startBot(nil)
	w.slack.DisconnectEvery(50, "refresh_requested")

	const total = 300
	var (
		mu           sync.Mutex
		interactions []*slackemu.Interaction
	)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 10)
	for i := range total {
		if i == total/2 {
			w.slack.DropConnections()
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			in, err := w.slack.SlashCommand(ctx, slackemu.Slash{UserID: outsiderID, ChannelID: opsChannel, Command: "/orgtoken",
				Text: "list --workspace-id " + astroemu.SampleWorkspaceAnalytics})
			if !assert.NoError(t, err, "command %d not delivered", i) {
				return
			}
			_, _ = in.WaitResponse(ctx)
			mu.Lock()
			interactions = append(interactions, in)
			mu.Unlock()
		}()
	}
	wg.Wait()

	require.Len(t, interactions, total)
	for _, in := range interactions {
		assert.Len(t, in.Responses(), 1, "envelope %s answered %d times (failure %q)", in.EnvelopeID, len(in.Responses()), in.Failure())
	}
	// One connection at the start plus a reconnect per forced disconnect; the abrupt drop may
	// land on a socket that was being disconnected anyway, and the last reconnect may still be
	// under way when the commands are done.
	assert.Eventually(t, func() bool { return w.slack.ConnectionsOpened() >= total/50 }, 10*time.Second, 50*time.Millisecond,
		"the bot reconnected after the disconnects (opened %d)", w.slack.ConnectionsOpened())
}

// Slack may deliver an envelope again (a retry after a reconnect); the change happens once.
func TestRedeliveredEnvelopeHandledOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.startBot(nil)
	in := w.slash(adminID, opsChannel, "add "+astroemu.SampleTokenDBTSync+" --role member --workspace-id "+astroemu.SampleWorkspaceSandbox)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := in.WaitAck(ctx)
	require.NoError(t, err)
	require.NoError(t, w.slack.Redeliver(ctx, in))
	require.NoError(t, w.astro.WaitRequests(ctx, astroemu.EndpointUpdateRoles, 1))
	time.Sleep(500 * time.Millisecond) // room for a second, wrong, write
	assert.Equal(t, 1, w.astro.CountRequests(astroemu.EndpointUpdateRoles))
}

// Concurrent changes to one token in different workspaces must not erase each other, although
// each POST replaces the token's whole role list.
func TestConcurrentAddsToOneTokenKeepEveryRole(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	workspaces := addWorkspaces(w.astro, 50)
	w.startBot(map[string]string{"ORGTOKEN_WORKERS": "32"})
	concurrentAdds(t, w, workspaces)
}

func addWorkspaces(a *astroemu.Server, n int) []string {
	var ids []string
	for i := range n {
		ws := a.AddWorkspace(astroemu.Workspace{ID: fmt.Sprintf("clwsconc%017d", i), Name: fmt.Sprintf("Concurrency %02d", i)})
		ids = append(ids, ws.ID)
	}
	return ids
}

func concurrentAdds(t *testing.T, w *world, workspaces []string) {
	t.Helper()
	before, _ := w.astro.Token(astroemu.SampleTokenMLFeatures)
	var wg sync.WaitGroup
	for _, ws := range workspaces {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			in, err := w.slack.SlashCommand(ctx, slackemu.Slash{UserID: adminID, ChannelID: opsChannel, Command: "/orgtoken",
				Text: "add " + astroemu.SampleTokenMLFeatures + " --role author --workspace-id " + ws})
			if assert.NoError(t, err) {
				_, err = in.WaitAck(ctx)
				assert.NoError(t, err)
			}
		}()
	}
	wg.Wait()

	require.Eventually(t, func() bool {
		tok, _ := w.astro.Token(astroemu.SampleTokenMLFeatures)
		return len(tok.Roles) == len(before.Roles)+len(workspaces)
	}, 60*time.Second, 100*time.Millisecond, "every add must land")
	after, _ := w.astro.Token(astroemu.SampleTokenMLFeatures)
	for _, ws := range workspaces {
		assert.Equal(t, "WORKSPACE_AUTHOR", roleIn(after, ws))
	}
	for _, r := range before.Roles {
		assert.Contains(t, after.Roles, r, "roles held before are kept")
	}
}

func TestAstroFaultsAnswerMatchesFinalState(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.startBot(nil)
	ws := astroemu.SampleWorkspaceSandbox

	t.Run("ServiceUnavailableIsNotResent", func(t *testing.T) {
		// A 503 may hide a write Astro carried out: the bot does not send it again (its full
		// role list would undo any change made since), it reads the token back and says so.
		writes := w.astro.CountRequests(astroemu.EndpointUpdateRoles)
		w.astro.ScriptFaults(astroemu.EndpointUpdateRoles, astroemu.Fault{Status: 503})
		p := reply(t, w.slash(adminID, opsChannel, "add "+astroemu.SampleTokenCIDeployer+" --role member --workspace-id "+ws))
		assert.Contains(t, text(p.Blocks), "the change is not in place yet")
		assert.Equal(t, writes+1, w.astro.CountRequests(astroemu.EndpointUpdateRoles), "sent once")
		tok, _ := w.astro.Token(astroemu.SampleTokenCIDeployer)
		assert.Empty(t, roleIn(tok, ws))
		w.change(t, adminID, opsChannel, "add "+astroemu.SampleTokenCIDeployer+" --role member --workspace-id "+ws)
		tok, _ = w.astro.Token(astroemu.SampleTokenCIDeployer)
		assert.Equal(t, "WORKSPACE_MEMBER", roleIn(tok, ws), "asked again, it lands")
	})

	t.Run("RateLimitedWithRetryAfter", func(t *testing.T) {
		w.astro.ScriptFaults(astroemu.EndpointUpdateRoles, astroemu.Fault{Status: 429, RetryAfter: time.Second})
		w.change(t, adminID, opsChannel, "update "+astroemu.SampleTokenCIDeployer+" --role author --workspace-id "+ws)
		tok, _ := w.astro.Token(astroemu.SampleTokenCIDeployer)
		assert.Equal(t, "WORKSPACE_AUTHOR", roleIn(tok, ws))
	})

	t.Run("ConnectionResetAfterTheWriteLanded", func(t *testing.T) {
		// The write lands and then loses its answer, so the bot cannot know from the POST; it
		// does not send it again but reads the token back.
		writes := w.astro.CountRequests(astroemu.EndpointUpdateRoles)
		w.astro.ScriptFaults(astroemu.EndpointUpdateRoles, astroemu.Fault{Reset: true, ApplyFirst: true})
		in := w.slash(adminID, opsChannel, "update "+astroemu.SampleTokenCIDeployer+" --role operator --workspace-id "+ws)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var said string
		for said == "" {
			// The answer comes either in the channel (confirmed) or to the requester.
			if rs := in.Responses(); len(rs) > 0 {
				said = text(rs[0].Blocks)
			}
			for _, m := range w.slack.Messages(opsChannel) {
				if m.EnvelopeID == in.EnvelopeID || contains(text(m.Blocks), "WORKSPACE_OPERATOR") {
					said = text(m.Blocks)
				}
			}
			if ctx.Err() != nil {
				t.Fatal("no answer")
			}
			time.Sleep(50 * time.Millisecond)
		}
		tok, _ := w.astro.Token(astroemu.SampleTokenCIDeployer)
		require.Equal(t, "WORKSPACE_OPERATOR", roleIn(tok, ws), "the write landed")
		assert.Contains(t, said, "WORKSPACE_OPERATOR", "the user is told the role it actually has now")
		assert.Equal(t, writes+1, w.astro.CountRequests(astroemu.EndpointUpdateRoles), "sent once")
	})
}

func TestSigtermDuringSlowCommand(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	p := w.startBot(nil)
	ws := astroemu.SampleWorkspaceSandbox
	w.astro.SetLatency(astroemu.EndpointUpdateRoles, 2*time.Second)

	in := w.slash(adminID, opsChannel, "add "+astroemu.SampleTokenDBTSync+" --role member --workspace-id "+ws)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, w.astro.WaitRequests(ctx, astroemu.EndpointUpdateRoles, 1))
	p.stop(15) // SIGTERM while Astro is still answering
	assert.Equal(t, 0, p.cmd.ProcessState.ExitCode())

	tok, _ := w.astro.Token(astroemu.SampleTokenDBTSync)
	assert.Equal(t, "WORKSPACE_MEMBER", roleIn(tok, ws), "the in-flight change finished")
	var announced bool
	for _, m := range w.slack.Messages(opsChannel) {
		announced = announced || (!m.Ephemeral && contains(text(m.Blocks), "dbt-cloud-sync"))
	}
	assert.True(t, announced || len(in.Responses()) > 0, "the user was told the outcome")
}

func TestSlackLinkRecovers(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		break_ func(w *world)
	}{
		{"DisconnectWarning", func(w *world) { w.slack.Disconnect("warning") }},
		{"DisconnectRefreshRequested", func(w *world) { w.slack.Disconnect("refresh_requested") }},
		{"DisconnectTooManyWebsockets", func(w *world) { w.slack.Disconnect("too_many_websockets") }},
		{"DisconnectLinkDisabled", func(w *world) { w.slack.Disconnect("link_disabled") }},
		{"AbruptClose", func(w *world) { w.slack.DropConnections() }},
		{"MissingPings", func(w *world) { w.slack.StopPings(); time.AfterFunc(3*time.Second, w.slack.ResumePings) }},
		{"ConnectionsOpenFailsTwice", func(w *world) {
			w.slack.InjectFault("apps.connections.open", slackemu.Fault{Error: "internal_error", Times: 2})
			w.slack.DropConnections()
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			w.startBot(nil)
			opened := w.slack.ConnectionsOpened()
			broken := len(w.slack.Connections())
			tc.break_(w)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			require.NoError(t, w.slack.WaitConnectionsOpened(ctx, opened+1))
			// Until the emulator sees the old socket close, it may still hand the command to it,
			// and with no redelivery configured the user would see a failure: wait for the new
			// link to be the only one.
			require.Eventually(t, func() bool {
				conns, live := w.slack.Connections(), 0
				for i, c := range conns {
					if c.Live && i < broken {
						return false
					}
					if c.Live {
						live++
					}
				}
				return live > 0
			}, 30*time.Second, 10*time.Millisecond, "the bot is back on a new socket alone")
			assert.Contains(t, text(reply(t, w.slash(outsiderID, opsChannel, "list")).Blocks), "airflow-ci-deployer")
		})
	}
}

func contains(s, sub string) bool {
	return len(sub) == 0 || indexOf(s, sub) >= 0
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

// Slack rate-limits the announcement once: the bot waits Retry-After and posts it.
func TestSlackRateLimitIsHonoured(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.startBot(nil)
	w.slack.InjectFault("chat.postMessage", slackemu.Fault{Status: 429, RetryAfter: time.Second, Times: 1})
	// w.change waits for a chat.postMessage: without the retry, the first refusal would have
	// sent the answer through response_url instead.
	msg := w.change(t, adminID, opsChannel, "add "+astroemu.SampleTokenDBTSync+" --role member --workspace-id "+astroemu.SampleWorkspaceSandbox)
	assert.Contains(t, text(msg.Blocks), "dbt-cloud-sync")
}

// Astro keeps failing with 503 past the client's retry budget: the user gets a clear answer
// within seconds, and nothing was written.
func TestAstroUnavailableAfterRetries(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.startBot(nil)
	faults := make([]astroemu.Fault, 30)
	for i := range faults {
		faults[i] = astroemu.Fault{Status: 503}
	}
	w.astro.ScriptFaults(astroemu.EndpointGetToken, faults...)
	p := reply(t, w.slash(adminID, opsChannel, "add "+astroemu.SampleTokenDBTSync+" --role member --workspace-id "+astroemu.SampleWorkspaceSandbox))
	body := text(p.Blocks)
	assert.Contains(t, body, "Astro")
	assert.Contains(t, body, "Nothing was changed")
	assert.Greater(t, w.astro.CountRequests(astroemu.EndpointGetToken), 1, "the read was retried")
	assert.Equal(t, 0, w.astro.CountRequests(astroemu.EndpointUpdateRoles))
}
