package ops_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/logging/logtest"
	"github.com/orgtoken/orgtoken-bot/ops"
)

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	body, err := io.ReadAll(rec.Result().Body)
	require.NoError(t, err)
	return rec.Code, string(body)
}

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestHealthzAnswersWhileTheProcessLives(t *testing.T) {
	t.Parallel()
	h := ops.Handler(ops.Config{
		Metrics:        ops.NewMetrics(),
		SlackConnected: func() bool { return false }, // liveness ignores dependencies
		Logger:         quietLogger(),
	})
	code, body := get(t, h, "/healthz")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "ok\n", body)

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/healthz", nil))
	assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
}

func TestReadyzReportsEveryCheck(t *testing.T) {
	t.Parallel()
	errDown := errors.New("dial tcp 10.0.0.5:5432: connection refused")
	healthyAstro := ops.AstroContact{LastAnswer: t0.Add(-time.Hour)}
	tests := []struct {
		name      string
		connected bool
		storeErr  error
		astro     ops.AstroContact
		wantCode  int
		wantBody  string
	}{
		{"AllPass", true, nil, healthyAstro, http.StatusOK,
			"ready\nslack: ok\nstore: ok\nastro: ok\n"},
		{"SlackDisconnected", false, nil, healthyAstro, http.StatusServiceUnavailable,
			"not ready\nslack: FAIL: Socket Mode is not connected\nstore: ok\nastro: ok\n"},
		{"StoreDown", true, errDown, healthyAstro, http.StatusServiceUnavailable,
			"not ready\nslack: ok\nstore: FAIL: database ping failed (the error is in the bot's log)\nastro: ok\n"},
		{"StoreSlow", true, context.DeadlineExceeded, healthyAstro, http.StatusServiceUnavailable,
			"not ready\nslack: ok\nstore: FAIL: database did not answer a ping within 1s\nastro: ok\n"},
		{"AstroNeverCalled", true, nil, ops.AstroContact{}, http.StatusOK,
			"ready\nslack: ok\nstore: ok\nastro: ok\n"},
		{"AstroFailingForTenMinutes", true, nil,
			ops.AstroContact{LastAnswer: t0.Add(-time.Hour), FailingSince: t0.Add(-10 * time.Minute), LastFailure: t0.Add(-10 * time.Second)},
			http.StatusServiceUnavailable,
			"not ready\nslack: ok\nstore: ok\nastro: FAIL: Astro API calls have failed without an answer for 9m50s (no answer since 2025-06-01T11:00:00Z)\n"},
		{"AstroNeverAnsweredAndFailing", true, nil,
			ops.AstroContact{FailingSince: t0.Add(-6 * time.Minute), LastFailure: t0.Add(-time.Minute)},
			http.StatusServiceUnavailable,
			"not ready\nslack: ok\nstore: ok\nastro: FAIL: Astro API calls have failed without an answer for 5m0s (no answer since the bot started)\n"},
		{"AstroSingleBlip", true, nil,
			ops.AstroContact{LastAnswer: t0.Add(-time.Hour), FailingSince: t0.Add(-time.Second), LastFailure: t0.Add(-time.Second)},
			http.StatusOK, "ready\nslack: ok\nstore: ok\nastro: ok\n"},
		{"AstroFailuresLongAgoNoLongerCount", true, nil,
			ops.AstroContact{LastAnswer: t0.Add(-3 * time.Hour), FailingSince: t0.Add(-2 * time.Hour), LastFailure: t0.Add(-time.Hour)},
			http.StatusOK, "ready\nslack: ok\nstore: ok\nastro: ok\n"},
		{"EverythingDown", false, errDown,
			ops.AstroContact{FailingSince: t0.Add(-6 * time.Minute), LastFailure: t0},
			http.StatusServiceUnavailable,
			"not ready\nslack: FAIL: Socket Mode is not connected\nstore: FAIL: database ping failed (the error is in the bot's log)\nastro: FAIL: Astro API calls have failed without an answer for 6m0s (no answer since the bot started)\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := &fakeClock{t: t0}
			h := ops.Handler(ops.Config{
				Metrics:        ops.NewMetrics(),
				SlackConnected: func() bool { return tt.connected },
				PingStore:      func(context.Context) error { return tt.storeErr },
				Astro:          func() ops.AstroContact { return tt.astro },
				Logger:         quietLogger(),
				Now:            clock.Now,
			})
			code, body := get(t, h, "/readyz")
			assert.Equal(t, tt.wantCode, code)
			assert.Equal(t, tt.wantBody, body)
			assert.NotContains(t, body, "10.0.0.5", "driver errors stay in the log")
		})
	}
}

func TestReadyzRecovers(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: t0}
	var connected atomic.Bool
	connected.Store(true)
	var storeErr atomic.Pointer[error]
	var astroContact atomic.Pointer[ops.AstroContact]
	astroContact.Store(&ops.AstroContact{})
	h := ops.Handler(ops.Config{
		Metrics:        ops.NewMetrics(),
		SlackConnected: connected.Load,
		PingStore: func(context.Context) error {
			if e := storeErr.Load(); e != nil {
				return *e
			}
			return nil
		},
		Astro:  func() ops.AstroContact { return *astroContact.Load() },
		Logger: quietLogger(),
		Now:    clock.Now,
	})
	ready := func() int { code, _ := get(t, h, "/readyz"); return code }

	require.Equal(t, http.StatusOK, ready())

	connected.Store(false)
	assert.Equal(t, http.StatusServiceUnavailable, ready(), "socket dropped")
	connected.Store(true)
	assert.Equal(t, http.StatusOK, ready(), "socket back")

	down := errors.New("connection refused")
	storeErr.Store(&down)
	clock.Advance(2 * time.Second)
	assert.Equal(t, http.StatusServiceUnavailable, ready(), "database down")
	storeErr.Store(nil)
	clock.Advance(2 * time.Second)
	assert.Equal(t, http.StatusOK, ready(), "database back")

	astroContact.Store(&ops.AstroContact{FailingSince: clock.Now().Add(-10 * time.Minute), LastFailure: clock.Now()})
	assert.Equal(t, http.StatusServiceUnavailable, ready(), "Astro unreachable")
	astroContact.Store(&ops.AstroContact{LastAnswer: clock.Now()})
	assert.Equal(t, http.StatusOK, ready(), "Astro answered")
}

func TestReadyzReusesARecentStorePing(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: t0}
	var pings atomic.Int32
	h := ops.Handler(ops.Config{
		Metrics:       ops.NewMetrics(),
		PingStore:     func(context.Context) error { pings.Add(1); return nil },
		StoreCacheFor: 2 * time.Second,
		Logger:        quietLogger(),
		Now:           clock.Now,
	})
	for range 10 {
		code, _ := get(t, h, "/readyz")
		require.Equal(t, http.StatusOK, code)
	}
	assert.Equal(t, int32(1), pings.Load(), "probes within the cache window share one ping")

	clock.Advance(1999 * time.Millisecond)
	get(t, h, "/readyz")
	assert.Equal(t, int32(1), pings.Load())

	clock.Advance(time.Millisecond)
	get(t, h, "/readyz")
	assert.Equal(t, int32(2), pings.Load(), "a stale result is refreshed")
}

func TestReadyzBoundsAStorePingThatHangs(t *testing.T) {
	t.Parallel()
	h := ops.Handler(ops.Config{
		Metrics: ops.NewMetrics(),
		PingStore: func(ctx context.Context) error {
			<-ctx.Done() // a database that never answers
			return ctx.Err()
		},
		StoreTimeout: 20 * time.Millisecond,
		Logger:       quietLogger(),
	})
	code, body := get(t, h, "/readyz")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Equal(t, "not ready\nstore: FAIL: database did not answer a ping within 20ms\n", body)
}

func TestReadyzWithNoChecksIsReady(t *testing.T) {
	t.Parallel()
	code, body := get(t, ops.Handler(ops.Config{Metrics: ops.NewMetrics()}), "/readyz")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "ready\n", body)
}

func TestReadyzLogsOnlyStateChanges(t *testing.T) {
	t.Parallel()
	var logged logtest.Buffer
	var connected atomic.Bool
	h := ops.Handler(ops.Config{
		Metrics:        ops.NewMetrics(),
		SlackConnected: connected.Load,
		Logger:         slog.New(slog.NewTextHandler(&logged, nil)),
	})
	for range 5 {
		get(t, h, "/readyz")
	}
	connected.Store(true)
	for range 5 {
		get(t, h, "/readyz")
	}
	lines := logged.Lines()
	require.Len(t, lines, 2)
	assert.Contains(t, lines[0], "readiness check failing")
	assert.Contains(t, lines[1], "readiness check passing again")
}

// /metrics answers in plain text even when the scraper offers gzip: the page is ≈ 10 KB, and a
// gzip writer at the default level allocates ≈ 0.8 MB per scrape (Prometheus scrapes seconds
// apart, after the GC has emptied the writer pool), more than the bot's steady live heap.
func TestMetricsAreServedUncompressed(t *testing.T) {
	t.Parallel()
	h := ops.Handler(ops.Config{Logger: quietLogger()})
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept-Encoding", "gzip, zstd")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)

	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Empty(t, rec.Header().Get("Content-Encoding"))
	assert.Contains(t, rec.Body.String(), "# TYPE go_goroutines gauge", "the page is readable text as sent")
}
