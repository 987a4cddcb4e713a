package astroemu

import (
	"bytes"
	"crypto/subtle"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/orgtoken/orgtoken-bot/emulators/rxstamp"
)

// Defaults used when Options leaves a field empty.
const (
	DefaultOrganizationID = "clorgemu00000000000000001"
	DefaultAPIToken       = "astro-emulator-token"
	// BasePath is where the API is served, as on api.astronomer.io.
	BasePath = "/v1"
)

// maxBodyBytes bounds what the emulator reads of a request body.
const maxBodyBytes = 1 << 20

// Options configures a Server. Every field is optional.
type Options struct {
	OrganizationID   string
	OrganizationName string
	// APIToken is the only bearer token accepted; anything else gets 401.
	APIToken string
	// Actor is recorded as updatedBy when a role change arrives through the API (the bot's own token).
	Actor Subject
	// OutsideActor is recorded as updatedBy for SetRoles, which stands for a change made in the Astro UI.
	OutsideActor Subject
	// Now is the clock for updatedAt and for defaults; time.Now when nil.
	Now func() time.Time
	// Addr to listen on; "127.0.0.1:0" when empty.
	Addr string
	// Middleware, when set, wraps the emulator's handler (for example contract.Validator.Middleware).
	Middleware func(http.Handler) http.Handler
	// MaxRecorded caps the requests Requests keeps, oldest dropped first; 10000 when zero.
	// CountRequests is not affected by the cap.
	MaxRecorded int
	// TLS, when set, serves HTTPS (HTTP/2 to clients that offer it, as Astro does) instead of
	// plain HTTP. Faults that reset a connection then reset the request's stream instead.
	TLS *tls.Config
}

// Server is a running emulator. All methods are safe for concurrent use.
type Server struct {
	opts     Options
	st       *state
	httpSrv  *http.Server
	url      string
	reqSeq   atomic.Uint64
	idSeq    atomic.Uint64
	conns    atomic.Int64 // connections accepted
	closing  chan struct{}
	closeOne sync.Once
	served   chan struct{}

	ctl      sync.Mutex // guards the fields below
	latency  map[Endpoint]time.Duration
	jitter   map[Endpoint]time.Duration
	faults   map[Endpoint][]Fault
	holds    map[Endpoint]chan struct{}
	records  []RecordedRequest
	late     []time.Duration // how much later than asked each latency wait ended, newest last
	answers  []Answer        // newest last
	counts   map[Endpoint]int
	arrivals chan struct{} // closed and replaced whenever a request arrives
}

// New starts an emulator on a loopback socket. Like httptest.NewServer it panics if it cannot
// listen, which only happens when the machine has no usable loopback; use Start to get an error.
func New(opts Options) *Server {
	s, err := Start(opts)
	if err != nil {
		panic(fmt.Sprintf("astroemu: %v", err))
	}
	return s
}

// Start starts an emulator and returns an error if it cannot listen.
func Start(opts Options) (*Server, error) {
	if opts.OrganizationID == "" {
		opts.OrganizationID = DefaultOrganizationID
	}
	if opts.OrganizationName == "" {
		opts.OrganizationName = "Emulated Organization"
	}
	if opts.APIToken == "" {
		opts.APIToken = DefaultAPIToken
	}
	if opts.Actor.ID == "" {
		opts.Actor = Subject{ID: "clsvcorgtokenbot000000001", SubjectType: SubjectServiceKey, APITokenName: "orgtoken-bot"}
	}
	if opts.OutsideActor.ID == "" {
		opts.OutsideActor = Subject{
			ID: "clusradmin000000000000001", SubjectType: SubjectUser, Username: "astro-admin@example.com",
			FullName: "Astro Admin", AvatarURL: "https://avatars.example.com/astro-admin.png",
		}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.MaxRecorded <= 0 {
		opts.MaxRecorded = 10000
	}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", opts.Addr, err)
	}
	ln = rxstamp.Wrap(ln)
	s := &Server{
		opts:     opts,
		st:       newState(),
		url:      scheme(opts.TLS) + "://" + ln.Addr().String() + BasePath,
		closing:  make(chan struct{}),
		served:   make(chan struct{}),
		latency:  map[Endpoint]time.Duration{},
		jitter:   map[Endpoint]time.Duration{},
		faults:   map[Endpoint][]Fault{},
		holds:    map[Endpoint]chan struct{}{},
		counts:   map[Endpoint]int{},
		arrivals: make(chan struct{}),
	}
	var h http.Handler = http.HandlerFunc(s.serveHTTP)
	if opts.Middleware != nil {
		h = opts.Middleware(h)
	}
	s.httpSrv = &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		// Resets and aborted requests are scripted; their log lines would only be noise.
		ErrorLog:    log.New(io.Discard, "", 0),
		ConnContext: rxstamp.ConnContext,
		ConnState: func(_ net.Conn, st http.ConnState) {
			if st == http.StateNew {
				s.conns.Add(1)
			}
		},
	}
	if opts.TLS != nil {
		s.httpSrv.TLSConfig = opts.TLS.Clone()
	}
	go func() {
		defer close(s.served)
		if opts.TLS != nil {
			_ = s.httpSrv.ServeTLS(ln, "", "") // HTTP/2 when the client offers it, as Astro
			return
		}
		_ = s.httpSrv.Serve(ln)
	}()
	return s, nil
}

func scheme(tlsConfig *tls.Config) string {
	if tlsConfig != nil {
		return "https"
	}
	return "http"
}

// URL is the API base, e.g. "http://127.0.0.1:PORT/v1".
func (s *Server) URL() string { return s.url }

// OrganizationID is the ID of the emulated organization.
func (s *Server) OrganizationID() string { return s.opts.OrganizationID }

// APIToken is the bearer token the emulator accepts.
func (s *Server) APIToken() string { return s.opts.APIToken }

// Connections reports how many connections clients have opened to the emulator, so tests can
// tell a client that reuses its connection (as one should, over HTTP/2 a single one) from one
// that dials per request.
func (s *Server) Connections() int { return int(s.conns.Load()) }

// Close releases every hold, stops listening and closes open connections.
func (s *Server) Close() {
	s.closeOne.Do(func() {
		close(s.closing)
		_ = s.httpSrv.Close()
		<-s.served
	})
}

func (s *Server) now() time.Time { return s.opts.Now().UTC().Truncate(time.Second) }

func (s *Server) requestID() string {
	return fmt.Sprintf("emu-%012d", s.reqSeq.Add(1))
}

// route maps a path under BasePath to its endpoint. ok is false for unknown paths; a known path
// with the wrong method returns the endpoint and methodOK false.
func route(method, escapedPath string) (ep Endpoint, params routeParams, ok, methodOK bool) {
	rest, found := strings.CutPrefix(escapedPath, BasePath+"/")
	if !found {
		return "", params, false, false
	}
	raw := strings.Split(rest, "/")
	seg := make([]string, len(raw))
	for i, r := range raw {
		v, err := url.PathUnescape(r)
		if err != nil || v == "" {
			return "", params, false, false
		}
		seg[i] = v
	}
	if len(seg) < 3 || seg[0] != "organizations" {
		return "", params, false, false
	}
	params.org = seg[1]
	want := http.MethodGet
	switch {
	case len(seg) == 3 && seg[2] == "tokens":
		ep = EndpointListTokens
	case len(seg) == 4 && seg[2] == "tokens":
		ep, params.tokenID = EndpointGetToken, seg[3]
	case len(seg) == 5 && seg[2] == "tokens" && seg[4] == "roles":
		ep, params.tokenID, want = EndpointUpdateRoles, seg[3], http.MethodPost
	case len(seg) == 3 && seg[2] == "workspaces":
		ep = EndpointListWorkspaces
	default:
		return "", params, false, false
	}
	return ep, params, true, method == want
}

type routeParams struct{ org, tokenID string }

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return // the client went away mid-body
	}
	// Astro has a request once its last byte arrives; the kernel says when that was, which
	// can be well before this handler got a core it shares with the client under test.
	received := rxstamp.RequestArrival(r, time.Now())
	ep, params, known, methodOK := route(r.Method, r.URL.EscapedPath())
	s.record(ep, r, body)
	defer s.recordAnswer(ep, w, received)
	switch {
	case !known:
		s.writeError(w, http.StatusNotFound, fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path))
		return
	case !methodOK:
		s.writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed on %s", r.Method, r.URL.Path))
		return
	case len(body) > maxBodyBytes:
		s.writeError(w, http.StatusRequestEntityTooLarge, "request body too large")
		return
	}
	ok, held := s.waitHold(r, ep)
	if !ok {
		abandon(w, r)
		return
	}
	// The latency runs from the request's arrival (from its release, if a test held it), so
	// the emulator's own wait for a core is part of Astro's time, as a remote server's would be.
	latency, start := s.latencyFor(ep), received
	if held {
		start = time.Now()
	}
	if !s.sleep(r, latency-time.Since(start)) {
		abandon(w, r)
		return
	}
	if latency > 0 {
		s.recordLate(time.Since(start) - latency)
	}
	handle := func(w http.ResponseWriter) { s.handle(w, r, ep, params, body) }
	f, faulted := s.nextFault(ep)
	if !faulted {
		handle(w)
		return
	}
	if f.Before != nil {
		f.Before()
	}
	if !s.sleep(r, f.Delay) {
		abandon(w, r)
		return
	}
	var applied *bufferedResponse
	if f.ApplyFirst {
		applied = newBufferedResponse()
		handle(applied)
	}
	if f.After != nil {
		f.After()
	}
	switch {
	case f.Reset:
		resetConnection(w)
	case f.Status != 0:
		if f.RetryAfter > 0 {
			w.Header().Set("Retry-After", fmt.Sprint(int((f.RetryAfter+time.Second-1)/time.Second)))
		}
		msg := f.Message
		if msg == "" {
			msg = http.StatusText(f.Status)
		}
		s.writeError(w, f.Status, msg)
	case applied != nil:
		applied.copyTo(w)
	default:
		handle(w)
	}
}

// abandon ends a request that stopped waiting. If the client left there is no one to answer;
// if the server is closing, the connection is dropped so the client never sees an empty 200.
func abandon(w http.ResponseWriter, r *http.Request) {
	if r.Context().Err() == nil {
		resetConnection(w)
	}
}

// resetConnection drops the connection without a response, with an RST where possible so the
// client sees "connection reset by peer" as it would from a failing load balancer.
func resetConnection(w http.ResponseWriter) {
	rc := http.NewResponseController(w)
	conn, _, err := rc.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // net/http closes the connection without logging
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = conn.Close()
}

// sleep waits d unless the client leaves or the server closes; false means stop serving.
func (s *Server) sleep(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	case <-s.closing:
		return false
	}
}

func (s *Server) authorized(r *http.Request) bool {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	return ok && strings.EqualFold(scheme, "Bearer") &&
		subtle.ConstantTimeCompare([]byte(strings.TrimSpace(token)), []byte(s.opts.APIToken)) == 1
}

func (s *Server) writeError(w http.ResponseWriter, status int, message string) {
	id := s.requestID()
	b, _ := json.Marshal(wireError{Message: message, RequestID: id, StatusCode: status})
	writeBody(w, status, id, b)
}

func (s *Server) writeJSON(w http.ResponseWriter, status int, body []byte) {
	writeBody(w, status, s.requestID(), body)
}

func writeBody(w http.ResponseWriter, status int, requestID string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Request-Id", requestID)
	h.Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// bufferedResponse captures a response that a fault then replaces ("the write landed, the
// answer was lost").
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newBufferedResponse() *bufferedResponse { return &bufferedResponse{header: http.Header{}} }

func (b *bufferedResponse) Header() http.Header { return b.header }
func (b *bufferedResponse) WriteHeader(status int) {
	if b.status == 0 {
		b.status = status
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

func (b *bufferedResponse) copyTo(w http.ResponseWriter) {
	for k, v := range b.header {
		w.Header()[k] = v
	}
	w.WriteHeader(b.status)
	_, _ = w.Write(b.body.Bytes())
}

var errClosed = errors.New("astroemu: server closed")
