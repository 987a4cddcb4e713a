package ops

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Config says what the operator endpoints report. A nil check function leaves that check out
// of /readyz.
type Config struct {
	Metrics *Metrics // served at /metrics; nil serves a fresh, empty set

	SlackConnected func() bool                     // (*bot.Bot).Connected
	PingStore      func(ctx context.Context) error // (*store.Store).Ping
	Astro          func() AstroContact             // (*Metrics).AstroContact

	StoreTimeout   time.Duration // per ping; default 1 s
	StoreCacheFor  time.Duration // how long a ping result is reused; default 2 s
	AstroDownAfter time.Duration // see the package documentation; default 5 min

	Logger *slog.Logger     // check state changes are logged here; default slog.Default()
	Now    func() time.Time // default time.Now; tests move time by hand
}

// Handler serves /healthz, /readyz and /metrics.
func Handler(cfg Config) http.Handler {
	if cfg.StoreTimeout <= 0 {
		cfg.StoreTimeout = time.Second
	}
	if cfg.StoreCacheFor <= 0 {
		cfg.StoreCacheFor = 2 * time.Second
	}
	if cfg.AstroDownAfter <= 0 {
		cfg.AstroDownAfter = 5 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics()
	}

	r := &readiness{cfg: cfg, failing: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeText(w, http.StatusOK, "ok\n")
	})
	mux.HandleFunc("GET /readyz", r.serveHTTP)
	reg := cfg.Metrics.Registry()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		Registry:          reg, // counts its own failures in promhttp_metric_handler_errors_total
		ErrorHandling:     promhttp.ContinueOnError,
		EnableOpenMetrics: true,
		// The page is ≈ 10 KB; gzip at the default level would allocate ≈ 0.8 MB a scrape
		// (BenchmarkMetricsScrape), more than the bot's steady live heap.
		DisableCompression: true,
	}))
	return mux
}

// readiness runs the checks behind /readyz.
type readiness struct {
	cfg Config

	storeMu   sync.Mutex
	storeAt   time.Time
	storeErr  error
	storeSeen bool

	logMu   sync.Mutex
	failing map[string]bool // last reported state per check, to log only changes
}

type checkResult struct {
	name    string
	problem string // empty when the check passed
	err     error  // detail for the log only
}

func (r *readiness) serveHTTP(w http.ResponseWriter, req *http.Request) {
	results := r.run(req.Context())
	status, head := http.StatusOK, "ready"
	var b strings.Builder
	for _, c := range results {
		if c.problem != "" {
			status, head = http.StatusServiceUnavailable, "not ready"
			fmt.Fprintf(&b, "%s: FAIL: %s\n", c.name, c.problem)
		} else {
			fmt.Fprintf(&b, "%s: ok\n", c.name)
		}
	}
	writeText(w, status, head+"\n"+b.String())
}

func (r *readiness) run(ctx context.Context) []checkResult {
	var out []checkResult
	if f := r.cfg.SlackConnected; f != nil {
		c := checkResult{name: "slack"}
		if !f() {
			c.problem = "Socket Mode is not connected"
		}
		out = append(out, c)
	}
	if r.cfg.PingStore != nil {
		out = append(out, r.checkStore(ctx))
	}
	if f := r.cfg.Astro; f != nil {
		out = append(out, checkResult{name: "astro", problem: r.astroProblem(f())})
	}
	for _, c := range out {
		r.logChange(c)
	}
	return out
}

// checkStore pings at most once per StoreCacheFor; probes arriving meanwhile wait for the ping
// in flight and share its result rather than starting their own.
func (r *readiness) checkStore(ctx context.Context) checkResult {
	r.storeMu.Lock()
	defer r.storeMu.Unlock()
	now := r.cfg.Now()
	if !r.storeSeen || now.Sub(r.storeAt) >= r.cfg.StoreCacheFor || now.Before(r.storeAt) {
		// A probe that hangs up must not leave a "canceled" result for the next ones.
		pingCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.StoreTimeout)
		err := r.cfg.PingStore(pingCtx)
		if err == nil && pingCtx.Err() != nil {
			err = pingCtx.Err()
		}
		cancel()
		r.storeErr, r.storeAt, r.storeSeen = err, r.cfg.Now(), true
	}
	c := checkResult{name: "store", err: r.storeErr}
	switch {
	case r.storeErr == nil:
	case errors.Is(r.storeErr, context.DeadlineExceeded):
		c.problem = fmt.Sprintf("database did not answer a ping within %v", r.cfg.StoreTimeout)
	default:
		// The driver's text can name hosts and users; it goes to the log, not to the network.
		c.problem = "database ping failed (the error is in the bot's log)"
	}
	return c
}

func (r *readiness) astroProblem(c AstroContact) string {
	if c.FailingSince.IsZero() {
		return ""
	}
	window := r.cfg.AstroDownAfter
	now := r.cfg.Now()
	if c.LastFailure.Sub(c.FailingSince) < window || now.Sub(c.LastFailure) >= window {
		return ""
	}
	since := "since the bot started"
	if !c.LastAnswer.IsZero() {
		since = "since " + c.LastAnswer.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("Astro API calls have failed without an answer for %v (no answer %s)",
		c.LastFailure.Sub(c.FailingSince).Round(time.Second), since)
}

func (r *readiness) logChange(c checkResult) {
	failing := c.problem != ""
	r.logMu.Lock()
	was := r.failing[c.name]
	r.failing[c.name] = failing
	r.logMu.Unlock()
	switch {
	case failing && !was:
		attrs := []any{"check", c.name, "problem", c.problem}
		if c.err != nil {
			attrs = append(attrs, "error", c.err)
		}
		r.cfg.Logger.Warn("readiness check failing", attrs...)
	case !failing && was:
		r.cfg.Logger.Info("readiness check passing again", "check", c.name)
	}
}

func writeText(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}
