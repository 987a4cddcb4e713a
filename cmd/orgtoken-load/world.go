package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/orgtoken/orgtoken-bot/emulators/astroemu"
	"github.com/orgtoken/orgtoken-bot/emulators/loopbacktls"
	"github.com/orgtoken/orgtoken-bot/emulators/rxstamp"
	"github.com/orgtoken/orgtoken-bot/emulators/slackemu"
)

// Credentials the emulators accept. They are made up and only ever travel over loopback.
const (
	appToken   = "xapp-1-A0EMU00001-1-loadappsecret"
	botToken   = "xoxb-1-2-loadbotsecret"
	astroToken = "load-astro-api-token"
	orgID      = "clorgload0000000000000001"
)

// seededToken is one Organization token the load may change.
type seededToken struct{ ID, Name string }

// org is what seedOrg created.
type org struct {
	listWorkspace    string // every seeded token has a role here; lists read it
	changeWorkspaces []string
	tokens           []seededToken // tokens[0] is reserved for calibration
}

// seedOrg creates the organization: n Organization tokens with unique names, each a member of
// one workspace (so a list of it reads n tokens), and k empty workspaces for changes.
func seedOrg(a *astroemu.Server, n, k int) org {
	created := time.Date(2024, 1, 2, 3, 0, 0, 0, time.UTC)
	o := org{listWorkspace: loadID("clwsload", 0)}
	a.AddWorkspace(astroemu.Workspace{ID: o.listWorkspace, Name: "Load listed", CreatedAt: created})
	for i := range k {
		id := loadID("clwsload", i+1)
		a.AddWorkspace(astroemu.Workspace{ID: id, Name: fmt.Sprintf("Load changes %d", i+1), CreatedAt: created})
		o.changeWorkspaces = append(o.changeWorkspaces, id)
	}
	creator := astroemu.Subject{ID: loadID("clusrload", 1), SubjectType: astroemu.SubjectUser, Username: "load@example.com", FullName: "Load Seeder"}
	for i := range n {
		t := seededToken{ID: loadID("cltkload", i+1), Name: fmt.Sprintf("load-token-%05d", i)}
		a.AddToken(astroemu.Token{
			ID: t.ID, Name: t.Name, Description: "seeded by orgtoken-load",
			CreatedAt: created.Add(time.Duration(i) * time.Minute), CreatedBy: creator,
			Roles: []astroemu.Role{
				{EntityType: astroemu.EntityOrganization, EntityID: orgID, Role: astroemu.RoleOrganizationMember},
				{EntityType: astroemu.EntityWorkspace, EntityID: o.listWorkspace, Role: roleMember},
			},
		})
		o.tokens = append(o.tokens, t)
	}
	return o
}

// loadID makes a 25-character cuid-like ID, the shape Astro uses.
func loadID(prefix string, n int) string {
	return fmt.Sprintf("%s%0*d", prefix, 25-len(prefix), n)
}

// roleIn is a token's role in workspace ws, "" when it has none.
func roleIn(t astroemu.Token, ws string) string {
	for _, r := range t.Roles {
		if r.EntityType == astroemu.EntityWorkspace && r.EntityID == ws {
			return r.Role
		}
	}
	return ""
}

// channelPost is a chat.postMessage the bot made: when it reached Slack, and what it said.
type channelPost struct {
	at   time.Time
	text string
	ok   bool
}

// postTap sits between the bot and the Slack emulator's Web API and tells each channel's
// subscriber of each chat.postMessage to it once answered. Waiting on the emulator's own
// message list would wake every waiter on every change and rescan every message; with 200
// users that costs more CPU than the bot, skewing what is measured. It calls the emulator's
// handler in process rather than over a second connection, so a reply costs the bot one hop to
// Slack, as in production, and the driver no second round of TLS on the shared cores.
type postTap struct {
	slack http.Handler
	srv   *http.Server
	url   string

	conns    atomic.Int64 // connections the bot opened to the tap
	requests atomic.Int64

	mu   sync.Mutex
	subs map[string]chan channelPost
}

// startPostTap serves the tap, over HTTPS with cert unless it is nil, in front of the Slack
// emulator's handler.
func startPostTap(slack http.Handler, cert *loopbacktls.Certificate) (*postTap, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening for the Web API tap: %w", err)
	}
	ln = rxstamp.Wrap(ln)
	t := &postTap{
		slack: slack,
		url:   "http://" + ln.Addr().String() + "/api/",
		subs:  map[string]chan channelPost{},
	}
	t.srv = &http.Server{Handler: t, ReadHeaderTimeout: 10 * time.Second, ConnContext: rxstamp.ConnContext, ConnState: func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			t.conns.Add(1)
		}
	}}
	if cert == nil {
		go func() { _ = t.srv.Serve(ln) }()
		return t, nil
	}
	t.url = "https://" + ln.Addr().String() + "/api/"
	t.srv.TLSConfig = cert.ServerConfig()
	go func() { _ = t.srv.ServeTLS(ln, "", "") }()
	return t, nil
}

func (t *postTap) close() { _ = t.srv.Close() }

// subscribe returns the posts to channel from now on. Buffered, so the tap never blocks.
func (t *postTap) subscribe(channel string) <-chan channelPost {
	ch := make(chan channelPost, 64)
	t.mu.Lock()
	t.subs[channel] = ch
	t.mu.Unlock()
	return ch
}

func (t *postTap) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t.requests.Add(1)
	if !strings.HasSuffix(r.URL.Path, "/chat.postMessage") {
		t.slack.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		http.Error(w, "reading body", http.StatusBadRequest)
		return
	}
	// The reply reached Slack when its last byte reached the socket, not when this tap, on
	// cores it shares with the bot, got to it.
	arrived := rxstamp.RequestArrival(r, time.Now())
	r.Body = io.NopCloser(bytes.NewReader(body))
	channel, text := postedTo(r.Header.Get("Content-Type"), body)
	rec := &okWriter{ResponseWriter: w}
	t.slack.ServeHTTP(rec, r)
	post := channelPost{at: arrived, text: text, ok: rec.ok}
	t.mu.Lock()
	ch := t.subs[channel]
	t.mu.Unlock()
	if ch != nil {
		select {
		case ch <- post:
		default:
		}
	}
}

// postedTo reads the channel and text of a chat.postMessage body, sent as JSON or as a form
// (Slack takes both).
func postedTo(contentType string, body []byte) (channel, text string) {
	if mt, _, _ := mime.ParseMediaType(contentType); mt == "application/json" {
		var m struct{ Channel, Text string }
		_ = json.Unmarshal(body, &m)
		return m.Channel, m.Text
	}
	form, _ := url.ParseQuery(string(body))
	return form.Get("channel"), form.Get("text")
}

// okWriter notes whether the Web API's answer said "ok":true. The emulator writes an answer
// in one Write; the tap keeps none of it (copies of every echoed message, kept by a run's
// 10,000 posts, grew the driver's heap on the cores it shares with the bot).
type okWriter struct {
	http.ResponseWriter
	ok bool
}

func (w *okWriter) Write(p []byte) (int, error) {
	w.ok = w.ok || bytes.Contains(p, []byte(`"ok":true`))
	return w.ResponseWriter.Write(p)
}

// newSlack starts the Slack emulator with one channel per user, the bot in each; over HTTPS
// with cert unless it is nil.
func newSlack(users []*user, cert *loopbacktls.Certificate) (*slackemu.Emulator, error) {
	// The emulator keeps every message and response_url body a conversation has had: ≈ 12 MB
	// of the driver's heap per 1,000 commands, without end, on the cores the bot shares. A
	// command needs its records only while it runs, when at most one per user is in flight;
	// ten per user leave a wide margin, whatever the latency.
	opts := slackemu.Options{AppToken: appToken, BotToken: botToken, MaxRecorded: max(2000, 10*len(users))}
	if cert != nil {
		opts.TLS = cert.ServerConfig()
	}
	s, err := slackemu.New(opts)
	if err != nil {
		return nil, err
	}
	for _, u := range users {
		s.AddUser(slackemu.User{ID: u.id, Name: strings.ToLower(u.id), RealName: "Load user " + u.id})
		s.AddChannel(slackemu.Channel{ID: u.channel, Name: "load-" + strings.ToLower(u.id), BotIsMember: true})
	}
	return s, nil
}
