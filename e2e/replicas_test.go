package e2e

import (
	"context"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the database/sql driver for the test's own schema setup
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/emulators/astroemu"
	"github.com/orgtoken/orgtoken-bot/emulators/slackemu"
)

// Three replicas on one PostgreSQL behind one Slack app: Slack spreads envelopes over their
// connections, one replica is killed mid-run, and every command is still answered exactly once.
func TestThreeReplicas(t *testing.T) {
	t.Parallel()
	w := newWorldWith(t, slackemu.Options{Redeliveries: 2})
	w.env["ORGTOKEN_DATABASE_URL"] = postgresSchemaURL(t)
	// A short lease, so commands acked by the killed replica are taken up within the test.
	w.env["ORGTOKEN_INBOX_LEASE"] = "3s"
	replicas := []*botProcess{w.startBot(nil), w.startBot(nil), w.startBot(nil)}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, w.slack.WaitConnected(ctx, 3))

	const total = 90
	var (
		mu   sync.Mutex
		done []*slackemu.Interaction
		wg   sync.WaitGroup
	)
	sem := make(chan struct{}, 6)
	for i := range total {
		if i == total/2 {
			replicas[0].stop(syscall.SIGKILL)
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			in, err := w.slack.SlashCommand(ctx, slackemu.Slash{UserID: outsiderID, ChannelID: opsChannel, Command: "/orgtoken", Text: "list"})
			if !assert.NoError(t, err) {
				return
			}
			_, _ = in.WaitResponse(ctx)
			mu.Lock()
			done = append(done, in)
			mu.Unlock()
		}()
	}
	wg.Wait()

	require.Len(t, done, total)
	perConn := map[int]int{}
	for _, in := range done {
		assert.Len(t, in.Responses(), 1, "envelope %s answered %d times (failure %q)", in.EnvelopeID, len(in.Responses()), in.Failure())
		for _, d := range in.Deliveries() {
			perConn[d.ConnID]++
		}
	}
	assert.GreaterOrEqual(t, len(perConn), 3, "Slack spread envelopes over every replica's connection")

	// A change through the survivors, once: the store's envelope claims and locks are shared.
	w.change(t, adminID, opsChannel, "add "+astroemu.SampleTokenDBTSync+" --role member --workspace-id "+astroemu.SampleWorkspaceSandbox)
	assert.Equal(t, 1, w.astro.CountRequests(astroemu.EndpointUpdateRoles))
}

// The lost-update test of the fault suite, with two processes sharing PostgreSQL: the per-token
// lock must hold across processes, not just goroutines.
func TestConcurrentAddsAcrossTwoReplicas(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.env["ORGTOKEN_DATABASE_URL"] = postgresSchemaURL(t)
	workspaces := addWorkspaces(w.astro, 50)
	w.startBot(map[string]string{"ORGTOKEN_WORKERS": "32"})
	w.startBot(map[string]string{"ORGTOKEN_WORKERS": "32"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, w.slack.WaitConnected(ctx, 2))
	concurrentAdds(t, w, workspaces)
}
