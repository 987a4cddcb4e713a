package astroemu

import (
	"context"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Endpoint names one emulated API operation; the values are the spec's operationIds.
type Endpoint string

// The emulated endpoints.
const (
	EndpointListTokens     Endpoint = "ListApiTokens"       // GET  /organizations/{org}/tokens
	EndpointGetToken       Endpoint = "GetApiToken"         // GET  /organizations/{org}/tokens/{id}
	EndpointUpdateRoles    Endpoint = "UpdateApiTokenRoles" // POST /organizations/{org}/tokens/{id}/roles
	EndpointListWorkspaces Endpoint = "ListWorkspaces"      // GET  /organizations/{org}/workspaces
)

// Fault is one scripted misbehaviour, consumed by one request to its endpoint.
//
// The request first waits Delay. With ApplyFirst the request is then served for real (a role
// change lands) and its answer discarded. Then: Reset closes the connection with no response;
// otherwise a non-zero Status answers with the error envelope (and Retry-After, in whole
// seconds rounded up, when RetryAfter is set). A fault with neither only adds Delay.
//
// Before, when set, runs first, before Delay: a change made elsewhere (the Astro UI, another
// client) just as the request arrives, such as a token deleted between two page reads. A fault
// with only Before serves the request normally, after the change.
//
// After, when set, runs after Delay and ApplyFirst's serving, just before the answer goes out:
// with ApplyFirst, a change made elsewhere after a write landed while its answer is lost, the
// window in which resending that write would undo the change.
//
// Go's http.Transport transparently retries an idempotent request (GET) whose reused
// keep-alive connection was reset, so a Reset on a GET may be invisible to such a client.
type Fault struct {
	Status     int
	Message    string // error message; the status text when empty
	RetryAfter time.Duration
	Reset      bool
	ApplyFirst bool
	Delay      time.Duration
	Before     func()
	After      func()
}

// SetLatency delays every request to ep by d before it is served (0 removes it).
func (s *Server) SetLatency(ep Endpoint, d time.Duration) {
	s.ctl.Lock()
	defer s.ctl.Unlock()
	s.latency[ep] = d
}

// SetLatencyJitter spreads ep's latency: each request waits the latency plus a uniformly random
// amount in [-spread, +spread] (never less than zero), as a real service's answers vary.
func (s *Server) SetLatencyJitter(ep Endpoint, spread time.Duration) {
	s.ctl.Lock()
	defer s.ctl.Unlock()
	s.jitter[ep] = max(spread, 0)
}

func (s *Server) latencyFor(ep Endpoint) time.Duration {
	s.ctl.Lock()
	defer s.ctl.Unlock()
	d := s.latency[ep]
	if j := s.jitter[ep]; j > 0 {
		d += time.Duration(rand.Int64N(int64(2*j)+1)) - j
	}
	return max(d, 0)
}

// ScriptFaults queues faults for ep; each request to ep consumes the next one, in order, and
// requests after the last are served normally.
func (s *Server) ScriptFaults(ep Endpoint, faults ...Fault) {
	s.ctl.Lock()
	defer s.ctl.Unlock()
	s.faults[ep] = append(s.faults[ep], faults...)
}

// PendingFaults is how many scripted faults for ep are not consumed yet.
func (s *Server) PendingFaults(ep Endpoint) int {
	s.ctl.Lock()
	defer s.ctl.Unlock()
	return len(s.faults[ep])
}

func (s *Server) nextFault(ep Endpoint) (Fault, bool) {
	s.ctl.Lock()
	defer s.ctl.Unlock()
	q := s.faults[ep]
	if len(q) == 0 {
		return Fault{}, false
	}
	s.faults[ep] = q[1:]
	return q[0], true
}

// Hold blocks requests to ep (after they are recorded, before they are served) until release
// is called. release is idempotent; Close releases every hold. A later Hold on the same
// endpoint governs requests arriving after it; earlier ones still wait for their own release.
func (s *Server) Hold(ep Endpoint) (release func()) {
	ch := make(chan struct{})
	s.ctl.Lock()
	s.holds[ep] = ch
	s.ctl.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.ctl.Lock()
			if s.holds[ep] == ch {
				delete(s.holds, ep)
			}
			s.ctl.Unlock()
			close(ch)
		})
	}
}

// waitHold waits while a test holds ep. It reports ok false when the request should not be
// served (client gone, server closing), and held when it waited on a hold.
func (s *Server) waitHold(r *http.Request, ep Endpoint) (ok, held bool) {
	s.ctl.Lock()
	ch := s.holds[ep]
	s.ctl.Unlock()
	if ch == nil {
		return true, false
	}
	select {
	case <-ch:
		return true, true
	case <-r.Context().Done():
		return false, true
	case <-s.closing:
		return false, true
	}
}

// RecordedRequest is a request as the emulator received it. The Authorization header value is
// replaced by "REDACTED" so recordings can be printed safely.
type RecordedRequest struct {
	Endpoint Endpoint // empty for paths the emulator does not serve
	Method   string
	Path     string
	RawQuery string
	Body     []byte
	Header   http.Header
	Time     time.Time
	Proto    string // "HTTP/1.1" or "HTTP/2.0"
	TLS      bool
}

func (s *Server) record(ep Endpoint, r *http.Request, body []byte) {
	h := r.Header.Clone()
	if h.Get("Authorization") != "" {
		h.Set("Authorization", "REDACTED")
	}
	rec := RecordedRequest{
		Endpoint: ep, Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery,
		Body: body, Header: h, Time: time.Now(), Proto: r.Proto, TLS: r.TLS != nil,
	}
	s.ctl.Lock()
	defer s.ctl.Unlock()
	s.records = append(s.records, rec)
	if len(s.records) >= 2*s.opts.MaxRecorded {
		// Drop the oldest in one move once in a while: dropping one per request moved the
		// whole log each time, which under load cost more CPU than answering.
		n := copy(s.records, s.records[len(s.records)-s.opts.MaxRecorded:])
		clear(s.records[n:])
		s.records = s.records[:n]
	}
	s.counts[ep]++
	close(s.arrivals)
	s.arrivals = make(chan struct{})
}

// Requests returns the recorded requests, oldest first.
func (s *Server) Requests() []RecordedRequest {
	s.ctl.Lock()
	defer s.ctl.Unlock()
	recs := s.records[max(0, len(s.records)-s.opts.MaxRecorded):]
	out := make([]RecordedRequest, len(recs))
	for i, r := range recs {
		r.Body = slices.Clone(r.Body)
		r.Header = r.Header.Clone()
		out[i] = r
	}
	return out
}

// ResetRequests forgets recorded requests and counts.
func (s *Server) ResetRequests() {
	s.ctl.Lock()
	defer s.ctl.Unlock()
	s.records = nil
	s.late = nil
	s.answers = nil
	s.counts = map[Endpoint]int{}
}

// Lateness is how much later than its latency (SetLatency, SetLatencyJitter), counted from the
// request's arrival, each answer since the last ResetRequests went out, newest last, at most
// MaxRecorded. On a busy machine the emulator's own handlers and timers run late: time a client
// waited that a real server would not charge.
func (s *Server) Lateness() []time.Duration {
	s.ctl.Lock()
	defer s.ctl.Unlock()
	return slices.Clone(s.late[max(0, len(s.late)-s.opts.MaxRecorded):])
}

// Answer is one request the emulator answered: how long Astro had it, the part of a client's
// wait a real server would be charged with (the rest is the client's and the network's).
type Answer struct {
	RequestID string // the X-Request-Id it was answered with, which clients log
	Endpoint  Endpoint
	// Received is when the request's last byte reached the emulator's socket, by the kernel's
	// receive timestamp (rxstamp; no earlier than the truth); where the OS gives none, when the
	// handler had read its body.
	Received time.Time
	Answered time.Time // the response written
}

// Answers returns the answered requests since the last ResetRequests, in the order they were
// answered, at most MaxRecorded. A request the emulator dropped (a reset fault, a client that
// left) has none.
func (s *Server) Answers() []Answer {
	s.ctl.Lock()
	defer s.ctl.Unlock()
	return slices.Clone(s.answers[max(0, len(s.answers)-s.opts.MaxRecorded):])
}

// recordAnswer runs when the handler returns; the request ID is read back from the response.
func (s *Server) recordAnswer(ep Endpoint, w http.ResponseWriter, received time.Time) {
	id := w.Header().Get("X-Request-Id")
	if id == "" {
		return
	}
	a := Answer{RequestID: id, Endpoint: ep, Received: received, Answered: time.Now()}
	s.ctl.Lock()
	defer s.ctl.Unlock()
	s.answers = append(s.answers, a)
	if len(s.answers) >= 2*s.opts.MaxRecorded {
		s.answers = s.answers[:copy(s.answers, s.answers[len(s.answers)-s.opts.MaxRecorded:])]
	}
}

func (s *Server) recordLate(d time.Duration) {
	s.ctl.Lock()
	defer s.ctl.Unlock()
	s.late = append(s.late, d)
	if len(s.late) >= 2*s.opts.MaxRecorded {
		s.late = s.late[:copy(s.late, s.late[len(s.late)-s.opts.MaxRecorded:])]
	}
}

// CountRequests is how many requests reached ep since the last ResetRequests, including ones
// that were held, faulted or refused.
func (s *Server) CountRequests(ep Endpoint) int {
	s.ctl.Lock()
	defer s.ctl.Unlock()
	return s.counts[ep]
}

// WaitRequests blocks until at least n requests reached ep (see CountRequests), ctx ends or the
// server closes. It lets a test know a held request has arrived without polling.
func (s *Server) WaitRequests(ctx context.Context, ep Endpoint, n int) error {
	for {
		s.ctl.Lock()
		got, ch := s.counts[ep], s.arrivals
		s.ctl.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.closing:
			return errClosed
		}
	}
}

// AddWorkspace adds or replaces a workspace. Zero times default to now.
func (s *Server) AddWorkspace(ws Workspace) Workspace {
	now := s.now()
	if ws.ID == "" {
		ws.ID = s.newID("clws")
	}
	if ws.CreatedAt.IsZero() {
		ws.CreatedAt = now
	}
	if ws.UpdatedAt.IsZero() {
		ws.UpdatedAt = ws.CreatedAt
	}
	ws.CreatedAt, ws.UpdatedAt = wireRound(ws.CreatedAt), wireRound(ws.UpdatedAt)
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	s.st.putWorkspaceLocked(ws)
	return ws
}

// Workspaces returns every workspace in default order (creation time, then ID).
func (s *Server) Workspaces() []Workspace { return s.st.allWorkspaces() }

// AddToken adds or replaces a token as given, without the API's role validation, and returns
// it with defaults filled: an ID, type ORGANIZATION, kind STANDARD, a short token, createdAt now,
// and updatedAt/startAt equal to createdAt. Times are kept to the second, as on the wire.
func (s *Server) AddToken(t Token) Token {
	t = s.withDefaults(t)
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	s.st.putTokenLocked(t)
	return t.clone()
}

func (s *Server) withDefaults(t Token) Token {
	t = t.clone()
	if t.ID == "" {
		t.ID = s.newID("cltk")
	}
	if t.Type == "" {
		t.Type = TypeOrganization
	}
	if t.Kind == "" {
		t.Kind = KindStandard
	}
	if t.ShortToken == "" {
		t.ShortToken = "short-" + t.ID[max(0, len(t.ID)-8):]
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = s.now()
	}
	if t.UpdatedAt.IsZero() {
		t.UpdatedAt = t.CreatedAt
	}
	if t.StartAt.IsZero() {
		t.StartAt = t.CreatedAt
	}
	t.CreatedAt, t.UpdatedAt, t.StartAt = wireRound(t.CreatedAt), wireRound(t.UpdatedAt), wireRound(t.StartAt)
	t.EndAt, t.LastUsedAt = wireRound(t.EndAt), wireRound(t.LastUsedAt)
	return t
}

func wireRound(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Second)
}

// Token returns a copy of the token's current state.
func (s *Server) Token(id string) (Token, bool) { return s.st.token(id) }

// Tokens returns copies of every token in default order (creation time, then ID).
func (s *Server) Tokens() []Token { return s.st.allTokens() }

// SetRoles replaces a token's roles as an "outside change" (the Astro UI or CLI) would: no API
// validation, updatedBy set to Options.OutsideActor. It fails only for an unknown token.
func (s *Server) SetRoles(id string, roles []Role) error {
	_, err := s.st.replaceRoles(s.opts.OrganizationID, id, roles, s.opts.OutsideActor, s.now(), false)
	return err
}

// RemoveToken deletes a token, as if it were deleted outside the bot. It reports whether the
// token existed.
func (s *Server) RemoveToken(id string) bool { return s.st.removeToken(id) }

// newID makes a cuid-like 25-character ID, unique within this server.
func (s *Server) newID(prefix string) string {
	return fmtID(prefix, s.idSeq.Add(1))
}
