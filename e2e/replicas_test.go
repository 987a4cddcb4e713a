package e2e

import (
	"context"
	"encoding/json"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/orgtoken/orgtoken-bot/store/storetest"

	_ "github.com/jackc/pgx/v5/stdlib" // the database/sql driver for the test's own schema setup
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/emulators/astroemu"
	"github.com/orgtoken/orgtoken-bot/emulators/slackemu"
)

// Three replicas on one PostgreSQL behind one Slack app: Slack spreads envelopes over their
// connections and one replica is killed mid-run. Every command is still answered (a command the
// dead replica acked is taken up by another once its lease runs out), and no change is applied
// twice. Delivery is at least once: a reply the dead replica had sent but not yet recorded may be
// sent again by the replica that takes the command over; a re-run change then finds the role
// already in place and writes nothing.
func TestThreeReplicas(t *testing.T) {
	t.Parallel()
	w := newWorldWith(t, slackemu.Options{Redeliveries: 2})
	w.env["ORGTOKEN_DATABASE_URL"] = storetest.PostgresURL(t)
	// A short lease, so commands acked by the killed replica are taken up within the test.
	w.env["ORGTOKEN_INBOX_LEASE"] = "3s"
	workspaces := addWorkspaces(w.astro, 30)
	replicas := []*botProcess{w.startBot(nil), w.startBot(nil), w.startBot(nil)}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, w.slack.WaitConnected(ctx, 3))
	before, _ := w.astro.Token(astroemu.SampleTokenMLFeatures)

	const lists = 60
	var (
		mu    sync.Mutex
		asked []*slackemu.Interaction
		wg    sync.WaitGroup
	)
	send := func(text string) {
		defer wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		in, err := w.slack.SlashCommand(ctx, slackemu.Slash{UserID: adminID, ChannelID: opsChannel, Command: "/orgtoken", Text: text})
		if !assert.NoError(t, err) {
			return
		}
		_, _ = in.WaitAck(ctx)
		mu.Lock()
		asked = append(asked, in)
		mu.Unlock()
	}
	sem := make(chan struct{}, 6)
	for i := range lists + len(workspaces) {
		if i == (lists+len(workspaces))/2 {
			replicas[0].stop(syscall.SIGKILL)
		}
		text := "list"
		if i%3 == 2 {
			text = "add " + astroemu.SampleTokenMLFeatures + " --role member --workspace-id " + workspaces[i/3]
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() { defer func() { <-sem }(); send(text) }()
	}
	wg.Wait()

	// Every change landed exactly once, whichever replica took it.
	require.Eventually(t, func() bool {
		tok, _ := w.astro.Token(astroemu.SampleTokenMLFeatures)
		return len(tok.Roles) == len(before.Roles)+len(workspaces)
	}, 30*time.Second, 100*time.Millisecond, "every add must land")
	assert.Equal(t, len(workspaces), w.astro.CountRequests(astroemu.EndpointUpdateRoles), "no change was written twice")

	// Every lookup was answered.
	perConn := map[int]int{}
	for _, in := range asked {
		for _, d := range in.Deliveries() {
			perConn[d.ConnID]++
		}
	}
	for _, in := range asked {
		var p map[string]any
		_ = json.Unmarshal(in.Payload, &p)
		if p["text"] != "list" {
			continue
		}
		deadline := time.Now().Add(20 * time.Second)
		for len(in.Responses()) == 0 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		assert.NotEmpty(t, in.Responses(), "envelope %s was never answered (failure %q)", in.EnvelopeID, in.Failure())
	}
	assert.GreaterOrEqual(t, len(perConn), 3, "Slack spread envelopes over every replica's connection")
}

// The lost-update test of the fault suite, with two processes sharing PostgreSQL: the per-token
// lock must hold across processes, not just goroutines.
func TestConcurrentAddsAcrossTwoReplicas(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.env["ORGTOKEN_DATABASE_URL"] = storetest.PostgresURL(t)
	workspaces := addWorkspaces(w.astro, 50)
	w.startBot(map[string]string{"ORGTOKEN_WORKERS": "32"})
	w.startBot(map[string]string{"ORGTOKEN_WORKERS": "32"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, w.slack.WaitConnected(ctx, 2))
	concurrentAdds(t, w, workspaces)
}
