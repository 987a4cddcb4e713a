// Package e2e runs the real orgtoken-bot binary as a process against the Slack and Astro
// emulators over loopback: the same binary users run is what these tests run.
package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/emulators/astroemu"
	"github.com/orgtoken/orgtoken-bot/emulators/slackemu"
	"github.com/orgtoken/orgtoken-bot/logging/logtest"
)

const (
	appToken   = "xapp-1-A0EMU00001-777-e2eappsecret"
	botToken   = "xoxb-777-888-e2ebotsecret"
	astroToken = "e2e-astro-secret-token"
	orgID      = "org-e2e"

	adminID    = "U0ADMIN01"
	groupAdmin = "U0GRPADM1" // an admin through the S0ADMINS user group
	outsiderID = "U0OUTSID1"
	adminGroup = "S0ADMINS"
	opsChannel = "C0OPS0001"
	// offChannel is a channel the bot was never invited to.
	offChannel = "C0OFFLIMIT"
)

var botBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "orgtoken-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	botBinary = filepath.Join(dir, "orgtoken-bot")
	// The binary is built with the race detector, like the tests, so races inside it fail CI.
	build := exec.Command("go", "build", "-race", "-o", botBinary, "../cmd/orgtoken-bot")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building orgtoken-bot:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// world is one test's Slack, Astro and bot processes.
type world struct {
	t     *testing.T
	slack *slackemu.Emulator
	astro *astroemu.Server
	env   map[string]string
	dir   string
	bots  []*botProcess
}

func newWorld(t *testing.T) *world {
	t.Helper()
	return newWorldWith(t, slackemu.Options{})
}

// newWorldWith is newWorld with Slack emulator options (tokens and ping interval are set here).
func newWorldWith(t *testing.T, opts slackemu.Options) *world {
	t.Helper()
	opts.AppToken, opts.BotToken, opts.PingInterval = appToken, botToken, 200*time.Millisecond
	s := slackemu.Start(t, opts)
	s.AddUser(slackemu.User{ID: adminID, Name: "ada", RealName: "Ada Admin"})
	s.AddUser(slackemu.User{ID: groupAdmin, Name: "gus", RealName: "Gus Groupadmin"})
	s.AddUser(slackemu.User{ID: outsiderID, Name: "otto", RealName: "Otto Outsider"})
	s.SetUserGroup(adminGroup, groupAdmin)
	s.AddChannel(slackemu.Channel{ID: opsChannel, Name: "platform-ops", BotIsMember: true})
	s.AddChannel(slackemu.Channel{ID: offChannel, Name: "random", BotIsMember: false})

	a := astroemu.New(astroemu.Options{OrganizationID: orgID, APIToken: astroToken})
	t.Cleanup(a.Close)
	a.SeedSample()

	dir := t.TempDir()
	w := &world{t: t, slack: s, astro: a, dir: dir}
	w.env = map[string]string{
		"SLACK_APP_TOKEN":             appToken,
		"SLACK_BOT_TOKEN":             botToken,
		"SLACK_API_URL":               s.APIURL(),
		"ASTRO_API_TOKEN":             astroToken,
		"ASTRO_ORGANIZATION_ID":       orgID,
		"ASTRO_API_URL":               a.URL(),
		"ASTRO_WORKSPACE_ID":          sampleWorkspace(t, a),
		"ORGTOKEN_ADMINS":             adminID + "," + adminGroup,
		"ORGTOKEN_DATABASE_URL":       filepath.Join(dir, "orgtoken.db"),
		"ORGTOKEN_HTTP_ADDR":          "127.0.0.1:0",
		"ORGTOKEN_LOG_FORMAT":         "json",
		"ORGTOKEN_LOG_LEVEL":          "debug",
		"ORGTOKEN_SLACK_PING_TIMEOUT": "2s",
		"ORGTOKEN_SHUTDOWN_TIMEOUT":   "10s",
	}
	return w
}

// sampleWorkspace is the default workspace the bot is configured with: the first one seeded.
func sampleWorkspace(t *testing.T, a *astroemu.Server) string {
	ws := a.Workspaces()
	require.NotEmpty(t, ws)
	return ws[0].ID
}

// botProcess is one running orgtoken-bot.
type botProcess struct {
	cmd  *exec.Cmd
	logs *logtest.Buffer
	done chan struct{}
	err  error
}

// startBot runs the binary with the world's environment plus extra, and waits until it has
// opened a Socket Mode connection.
func (w *world) startBot(extra map[string]string) *botProcess {
	w.t.Helper()
	opened := w.slack.ConnectionsOpened()
	catalogued := w.astro.CountRequests(astroemu.EndpointListWorkspaces)
	p := w.spawn(extra)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(w.t, w.slack.WaitConnectionsOpened(ctx, opened+1), "bot never connected; logs:\n%s", p.logs.String())
	// The picker catalog loads tokens, then workspaces, as the bot starts; waiting for it keeps
	// its requests out of tests that count or hold Astro requests.
	require.NoError(w.t, w.astro.WaitRequests(ctx, astroemu.EndpointListWorkspaces, catalogued+1), "catalog never loaded")
	return p
}

func (w *world) spawn(extra map[string]string) *botProcess {
	w.t.Helper()
	cmd := exec.Command(botBinary)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + w.dir}
	for k, v := range w.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	for k, v := range extra {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &botProcess{cmd: cmd, logs: &logtest.Buffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	require.NoError(w.t, cmd.Start())
	go func() { p.err = cmd.Wait(); close(p.done) }()
	w.bots = append(w.bots, p)
	w.t.Cleanup(func() {
		p.stop(syscall.SIGKILL)
		w.assertNoSecrets(p.logs.String())
		if w.t.Failed() {
			w.t.Logf("bot logs:\n%s", p.logs.String())
		}
	})
	return p
}

// stop signals the process and waits for it to exit.
func (p *botProcess) stop(sig syscall.Signal) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// exitCode waits for the process to exit by itself.
func (p *botProcess) exitCode(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("bot did not exit; logs:\n%s", p.logs.String())
	}
	return p.cmd.ProcessState.ExitCode()
}

func (w *world) assertNoSecrets(logs string) {
	for _, s := range []string{appToken, botToken, astroToken, "e2eappsecret", "e2ebotsecret"} {
		assert.NotContains(w.t, logs, s, "a secret reached the bot's output")
	}
}

// slash types /orgtoken text as user in channel and returns the interaction.
func (w *world) slash(user, channel, text string) *slackemu.Interaction {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	in, err := w.slack.SlashCommand(ctx, slackemu.Slash{UserID: user, ChannelID: channel, Command: "/orgtoken", Text: text})
	require.NoError(w.t, err)
	return in
}

// reply waits for the first answer on the interaction's response_url.
func reply(t *testing.T, in *slackemu.Interaction) slackemu.ResponsePost {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p, err := in.WaitResponse(ctx)
	require.NoError(t, err, "no reply on response_url")
	return p
}

// text flattens every string in a Block Kit JSON payload, for assertions on what users read.
func text(raw json.RawMessage) string {
	return collectStrings(raw)
}

// collectStrings returns every string value in a JSON document except identifiers.
func collectStrings(raw json.RawMessage) string {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return string(raw)
	}
	var b strings.Builder
	var walk func(key string, v any)
	walk = func(key string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				walk(k, e)
			}
		case []any:
			for _, e := range x {
				walk(key, e)
			}
		case string:
			switch key {
			case "type", "action_id", "block_id", "style":
				return
			}
			b.WriteString(x)
			b.WriteByte('\n')
		}
	}
	walk("", v)
	return b.String()
}
