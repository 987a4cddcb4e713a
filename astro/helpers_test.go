package astro

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const (
	testOrg      = "org-1"
	testAPIToken = "astro-api-token-SECRET-0123456789"
)

// fakeTime replaces the client's clock and sleep so retry waits cost no real time.
type fakeTime struct {
	mu    sync.Mutex
	now   time.Time
	slept []time.Duration
}

func (f *fakeTime) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeTime) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
	f.slept = append(f.slept, d)
	return nil
}

func (f *fakeTime) Slept() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.slept...)
}

// testServer mounts handler under /v1, like the real API, so a path built without the base
// URL's path misses every route and fails loudly. It counts the requests it receives.
type testServer struct {
	*httptest.Server
	requests atomic.Int32
}

func newTestServer(t *testing.T, handler http.Handler) *testServer {
	t.Helper()
	ts := &testServer{}
	mux := http.NewServeMux()
	mux.Handle("/v1/", http.StripPrefix("/v1", handler))
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ts.requests.Add(1)
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	return ts
}

func (ts *testServer) Requests() int { return int(ts.requests.Load()) }

// newTestClient returns a client for ts with a fake clock and, unless opts override it, the
// default retry policy.
func newTestClient(t *testing.T, ts *testServer, opts ...Option) (*Client, *fakeTime) {
	t.Helper()
	c := New(testOrg, testAPIToken, append([]Option{WithBaseURL(ts.URL + "/v1")}, opts...)...)
	ft := &fakeTime{now: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
	c.now = ft.Now
	c.sleep = ft.Sleep
	return c, ft
}

// script answers successive requests with successive handlers; the last one repeats.
func script(handlers ...http.HandlerFunc) http.HandlerFunc {
	var n atomic.Int32
	return func(w http.ResponseWriter, r *http.Request) {
		i := min(int(n.Add(1))-1, len(handlers)-1)
		handlers[i](w, r)
	}
}

func writeJSON(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

func apiError(status int, message string) http.HandlerFunc {
	return writeJSON(status, `{"message":"`+message+`","requestId":"req-`+strconv.Itoa(status)+`","statusCode":`+strconv.Itoa(status)+`}`)
}

func rateLimited(retryAfter string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		apiError(http.StatusTooManyRequests, "too many requests")(w, r)
	}
}

// dropConnection reads the request, then closes the connection without answering: the
// server got the request, the client never learns the outcome.
func dropConnection(w http.ResponseWriter, _ *http.Request) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		_ = conn.Close()
	}
}

// hang blocks until the client gives up on the request. The body is read first because the
// server notices a closed connection only once it has consumed the request.
func hang(_ http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	<-r.Context().Done()
}

const tokenJSON = `{
  "id": "tok-1", "name": "ci-deployer", "description": "CI", "type": "ORGANIZATION",
  "shortToken": "abc", "createdAt": "2024-05-01T10:00:00Z", "updatedAt": "2024-05-02T10:00:00Z",
  "startAt": "2024-05-01T10:00:00Z",
  "roles": [
    {"entityType": "ORGANIZATION", "entityId": "org-1", "role": "ORGANIZATION_MEMBER"},
    {"entityType": "WORKSPACE", "entityId": "ws-1", "role": "WORKSPACE_AUTHOR"}
  ]
}`
