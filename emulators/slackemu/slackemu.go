// Package slackemu is a local Slack for end-to-end tests: it serves the Web API methods the bot
// calls and Socket Mode over real loopback sockets, speaking the wire formats slack-go v0.35.0
// sends and expects (see /work/shared/slack/FACTS.md). Tests drive it as a user would (slash
// commands, button clicks, modal submissions) and assert on what it recorded.
package slackemu

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/orgtoken/orgtoken-bot/emulators/rxstamp"
)

// Options configures an Emulator. Zero values get realistic defaults.
type Options struct {
	AppToken string // xapp- token accepted by apps.connections.open
	BotToken string // xoxb- token accepted by Web API methods

	AppID      string
	TeamID     string
	TeamDomain string
	TeamName   string
	BotUserID  string
	BotID      string
	BotName    string
	// VerificationToken is the legacy "token" field Slack puts in payloads (not a secret).
	VerificationToken string

	// PingInterval is how often each socket gets a ping control frame (Slack: about 10 s).
	PingInterval time.Duration
	// AckTimeout is how long an envelope may stay unacked before the user sees a failure.
	AckTimeout time.Duration
	// Redeliveries is how many times an unacked envelope is sent again (same envelope_id,
	// retry_attempt+1) before it is recorded as failed. Slack does not retry slash commands
	// or interactions, so the default is 0.
	Redeliveries int
	// MaxConnections is the concurrent socket limit per app (Slack: 10).
	MaxConnections int
	// MaxRecorded, when above 0, bounds what the emulator keeps of each kind of record
	// (messages, response_url posts, Web API calls, interactions, acks, failures) to about
	// the newest MaxRecorded, at most twice that: a long load run then holds steady memory
	// instead of every message it ever saw. Forgotten messages can no longer be edited or
	// clicked and a forgotten interaction's response_url is unknown (404), so it must
	// exceed what a run has in flight. 0 keeps everything, which tests reading the records
	// back rely on.
	MaxRecorded int
	// DispatchWait is how long a driven interaction waits for a live socket before it fails
	// with "dispatch_failed", as a user would see when the app is not connected.
	DispatchWait time.Duration
	// DisconnectGrace is how long a disconnect frame gives the client to close the socket
	// before the emulator closes TCP itself.
	DisconnectGrace time.Duration

	TriggerTTL      time.Duration // trigger_id lifetime (3 s)
	ResponseURLTTL  time.Duration // response_url lifetime (30 min)
	ResponseURLUses int           // response_url uses (5)

	// Now is the clock used for trigger and response_url expiry and rate-limit windows.
	Now func() time.Time

	// TLS, when set, serves HTTPS and wss:// (HTTP/2 to Web API clients that offer it, as
	// Slack does) instead of plain HTTP and ws://.
	TLS *tls.Config
}

func (o Options) withDefaults() Options {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&o.AppToken, "xapp-1-A0EMU00001-1-emulator")
	def(&o.BotToken, "xoxb-1-emulator-bot")
	def(&o.AppID, "A0EMU00001")
	def(&o.TeamID, "T0EMU00001")
	def(&o.TeamDomain, "emulator")
	def(&o.TeamName, "Emulator")
	def(&o.BotUserID, "U0BOT00001")
	def(&o.BotID, "B0BOT00001")
	def(&o.BotName, "orgtoken")
	def(&o.VerificationToken, "emu-verification-token")
	durDef := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	durDef(&o.PingInterval, 10*time.Second)
	durDef(&o.AckTimeout, 3*time.Second)
	durDef(&o.DispatchWait, 3*time.Second)
	durDef(&o.DisconnectGrace, time.Second)
	durDef(&o.TriggerTTL, 3*time.Second)
	durDef(&o.ResponseURLTTL, 30*time.Minute)
	if o.MaxConnections <= 0 {
		o.MaxConnections = 10
	}
	if o.ResponseURLUses <= 0 {
		o.ResponseURLUses = 5
	}
	if o.Redeliveries < 0 {
		o.Redeliveries = 0
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Errors returned by the driving helpers.
var (
	ErrClosed          = errors.New("slackemu: emulator closed")
	ErrNotConnected    = errors.New("slackemu: no live socket mode connection (dispatch_failed)")
	ErrAckTimeout      = errors.New("slackemu: envelope not acknowledged in time (operation_timeout)")
	ErrUnknownUser     = errors.New("slackemu: unknown user")
	ErrUnknownChannel  = errors.New("slackemu: unknown channel")
	ErrMessageNotFound = errors.New("slackemu: message not found")
	ErrButtonNotFound  = errors.New("slackemu: button not found")
	ErrViewNotFound    = errors.New("slackemu: view not open")
)

// Emulator is a running local Slack. All methods are safe for concurrent use.
type Emulator struct {
	opts    Options
	ln      net.Listener
	srv     *http.Server
	baseURL string // http://127.0.0.1:PORT
	appHash string // the 64-hex app_id Slack puts in socket URLs

	done      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup

	mu      sync.Mutex
	closed  bool
	changed chan struct{} // closed and replaced on every recorded change
	seq     int64         // counter behind ts values and IDs

	sock    socketState
	dir     directory
	faults  map[string][]*Fault
	limits  map[string]*rateLimiter
	calls   []Call
	store   messageStore
	views   viewStore
	envs    map[string]*Interaction
	inters  []*Interaction
	acks    []Ack
	fails   []Failure
	resps   map[string]*responseURL
	posts   []ResponsePost
	trigger map[string]*trigger
}

// New starts an emulator on 127.0.0.1 with a random port.
func New(opts Options) (*Emulator, error) {
	opts = opts.withDefaults()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("slackemu: listen: %w", err)
	}
	ln = rxstamp.Wrap(ln)
	sum := sha256.Sum256([]byte(opts.AppID))
	e := &Emulator{
		opts:    opts,
		ln:      ln,
		baseURL: "http://" + ln.Addr().String(),
		appHash: hex.EncodeToString(sum[:]),
		done:    make(chan struct{}),
		changed: make(chan struct{}),
		faults:  map[string][]*Fault{},
		limits:  map[string]*rateLimiter{},
		envs:    map[string]*Interaction{},
		resps:   map[string]*responseURL{},
		trigger: map[string]*trigger{},
		dir:     newDirectory(),
		store:   newMessageStore(),
		views:   newViewStore(),
		sock:    newSocketState(),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/apps.connections.open", e.handleConnectionsOpen)
	mux.HandleFunc("/api/{method}", e.handleWebAPI)
	mux.HandleFunc("GET /link/", e.handleSocket)
	mux.HandleFunc("POST /commands/", e.handleResponseURL)
	mux.HandleFunc("POST /actions/", e.handleResponseURL)
	e.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	if opts.TLS != nil {
		e.baseURL = "https://" + ln.Addr().String()
		e.srv.TLSConfig = opts.TLS.Clone()
		e.wg.Go(func() { _ = e.srv.ServeTLS(ln, "", "") })
		return e, nil
	}
	e.wg.Go(func() { _ = e.srv.Serve(ln) })
	return e, nil
}

// Start is New for tests: it fails the test on error and closes the emulator at cleanup.
func Start(tb testing.TB, opts Options) *Emulator {
	tb.Helper()
	e, err := New(opts)
	if err != nil {
		tb.Fatalf("slackemu: %v", err)
	}
	tb.Cleanup(func() { _ = e.Close() })
	return e
}

// Handler serves the emulator's HTTP endpoints in process, for a harness that fronts them with a
// listener of its own (the load driver's tap); it answers exactly as the emulator's server does.
func (e *Emulator) Handler() http.Handler { return e.srv.Handler }

// APIURL is the value for slack.OptionAPIURL, with the trailing slash slack-go needs.
func (e *Emulator) APIURL() string { return e.baseURL + "/api/" }

// BaseURL is the emulator's root URL, http://127.0.0.1:PORT (https:// with Options.TLS).
func (e *Emulator) BaseURL() string { return e.baseURL }

// Options returns the effective options, defaults filled in.
func (e *Emulator) Options() Options { return e.opts }

// Close stops the server, closes every socket and waits for all emulator goroutines.
func (e *Emulator) Close() error {
	e.closeOnce.Do(func() {
		e.mu.Lock()
		e.closed = true
		conns := e.sock.allOpen()
		e.notifyLocked()
		e.mu.Unlock()
		close(e.done)
		_ = e.srv.Close()
		for _, c := range conns {
			_ = c.ws.Close()
		}
	})
	e.wg.Wait()
	return nil
}

// goTracked runs f in a goroutine that Close waits for; it refuses once Close has begun so the
// WaitGroup is never added to while Close waits on it.
func (e *Emulator) goTracked(f func()) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return false
	}
	e.wg.Go(f)
	return true
}

func (e *Emulator) now() time.Time { return e.opts.Now() }

func (e *Emulator) notifyLocked() {
	close(e.changed)
	e.changed = make(chan struct{})
}

// waitFor blocks until cond (called with e.mu held) is true, ctx ends or the emulator closes.
func (e *Emulator) waitFor(ctx context.Context, cond func() bool) error {
	return e.waitOn(ctx, func() chan struct{} { return e.changed }, cond)
}

// waitOn is waitFor re-checking cond only when the channel signal returns (called with e.mu
// held) is closed, for waiters that a narrower signal than every change can wake.
func (e *Emulator) waitOn(ctx context.Context, signal func() chan struct{}, cond func() bool) error {
	for {
		e.mu.Lock()
		ok := cond()
		ch := signal()
		closed := e.closed
		e.mu.Unlock()
		if ok {
			return nil
		}
		if closed {
			return ErrClosed
		}
		select {
		case <-ch:
		case <-e.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// nextSeqLocked returns a process-unique increasing number.
func (e *Emulator) nextSeqLocked() int64 {
	e.seq++
	return e.seq
}

// newTSLocked returns a unique Slack message timestamp ("seconds.micros").
func (e *Emulator) newTSLocked() string {
	n := e.nextSeqLocked()
	base := e.now().Unix()
	return fmt.Sprintf("%d.%06d", base, n%1_000_000)
}
