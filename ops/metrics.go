package ops

import (
	"context"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/slack-go/slack"
)

// Label values outside these sets are recorded as "other", so series stay bounded whatever
// users type or remote services answer.
var (
	knownSubcommands = set("add", "update", "remove", "list", "show", "help", "explain", "requests", "cancel", "revert-now", "approve", "deny")
	knownOutcomes    = set("ok", "refused", "error", "info", "busy")
	knownSlackMethod = set(
		"auth.test", "apps.connections.open",
		"chat.postMessage", "chat.postEphemeral", "chat.update",
		"usergroups.users.list", "users.info", "conversations.info", "views.open",
		"response_url",
	)
	// Slack error codes look like "channel_not_found"; anything else (a Go error's text, an
	// emulator's prose) is not a code and must not become a label.
	slackErrorCode = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
)

const other = "other"

// Metrics holds the bot's Prometheus metrics in a registry of its own, so tests (and two bots
// in one process) never collide in the global default registry.
type Metrics struct {
	reg *prometheus.Registry

	commands         *prometheus.CounterVec
	commandDuration  *prometheus.HistogramVec
	ack              prometheus.Histogram
	astroRequests    *prometheus.CounterVec
	astroDuration    *prometheus.HistogramVec
	slackErrors      *prometheus.CounterVec
	slackRateLimited *prometheus.CounterVec
	reconnects       prometheus.Counter
	pendingApprovals prometheus.Gauge
	scheduledReverts prometheus.Gauge

	connected atomic.Pointer[func() bool]

	mu      sync.Mutex
	contact AstroContact
}

// NewMetrics registers every metric, plus the Go runtime and process collectors.
func NewMetrics() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.commands = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "orgtoken_commands_total",
		Help: "Commands and button clicks handled, by subcommand and outcome (ok, refused, error, info, busy).",
	}, []string{"subcommand", "outcome"})
	m.commandDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "orgtoken_command_duration_seconds",
		Help:    "Time from receiving a command to delivering its reply, by subcommand.",
		Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30, 60},
	}, []string{"subcommand"})
	m.ack = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "orgtoken_slack_ack_seconds",
		Help: "Time from receiving a Socket Mode envelope to acknowledging it (Slack gives up after 3 s).",
		// Acks are normally sub-millisecond; the top buckets show a stalled read loop.
		Buckets: []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5},
	})
	m.astroRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "orgtoken_astro_requests_total",
		Help: "Astro API requests (each retry counts), by endpoint and HTTP status, transport_error or canceled.",
	}, []string{"endpoint", "status"})
	m.astroDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "orgtoken_astro_request_duration_seconds",
		Help:    "Astro API request latency until response headers, by endpoint.",
		Buckets: []float64{0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
	}, []string{"endpoint"})
	m.slackErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "orgtoken_slack_api_errors_total",
		Help: "Failed Slack API calls (rate limits excluded), by method and Slack error code.",
	}, []string{"method", "error"})
	m.slackRateLimited = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "orgtoken_slack_rate_limited_total",
		Help: "Slack API calls answered with a rate limit, by method.",
	}, []string{"method"})
	m.reconnects = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "orgtoken_slack_reconnects_total",
		Help: "Times the Socket Mode link was re-established after being lost.",
	})
	m.pendingApprovals = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "orgtoken_pending_approvals",
		Help: "Approval requests waiting for approvers (shared database: use max() across pods).",
	})
	m.scheduledReverts = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "orgtoken_scheduled_reverts",
		Help: "Time-boxed elevations waiting to be reverted (shared database: use max() across pods).",
	})
	connected := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "orgtoken_slack_connected",
		Help: "1 while the Socket Mode link is up, else 0.",
	}, func() float64 {
		if f := m.connected.Load(); f != nil && (*f)() {
			return 1
		}
		return 0
	})
	lastAnswer := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "orgtoken_astro_last_response_timestamp_seconds",
		Help: "Unix time of the latest HTTP answer from Astro (any status); 0 before the first.",
	}, func() float64 {
		t := m.AstroContact().LastAnswer
		if t.IsZero() {
			return 0
		}
		return float64(t.UnixNano()) / 1e9
	})

	m.reg.MustRegister(
		m.commands, m.commandDuration, m.ack,
		m.astroRequests, m.astroDuration,
		m.slackErrors, m.slackRateLimited, m.reconnects,
		m.pendingApprovals, m.scheduledReverts, connected, lastAnswer,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// Registry is what /metrics serves; tests and extra collectors use it.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// ObserveCommand records one finished command or button click: subcommand is the verb
// ("add", "list", "approve"...; empty means help), outcome one of ok, refused, error, info,
// busy, and took the time from receipt to the reply being delivered.
func (m *Metrics) ObserveCommand(subcommand, outcome string, took time.Duration) {
	sub := normalizeSubcommand(subcommand)
	m.commands.WithLabelValues(sub, bounded(strings.ToLower(outcome), knownOutcomes)).Inc()
	m.commandDuration.WithLabelValues(sub).Observe(took.Seconds())
}

// ObserveAck records how long an envelope waited before it was acknowledged.
func (m *Metrics) ObserveAck(took time.Duration) { m.ack.Observe(took.Seconds()) }

// SlackCallFailed records a failed Slack Web API call (method such as "chat.postMessage", or
// "response_url" for webhook replies). Rate limits are counted apart from errors; a nil err
// records nothing, so callers can pass every result.
func (m *Metrics) SlackCallFailed(method string, err error) {
	if err == nil {
		return
	}
	method = bounded(method, knownSlackMethod)
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		m.slackRateLimited.WithLabelValues(method).Inc()
		return
	}
	var sc slack.StatusCodeError
	if errors.As(err, &sc) && sc.Code == 429 {
		m.slackRateLimited.WithLabelValues(method).Inc()
		return
	}
	m.slackErrors.WithLabelValues(method, slackErrorLabel(err)).Inc()
}

// SlackReconnected counts one re-established Socket Mode link (not the first connection).
func (m *Metrics) SlackReconnected() { m.reconnects.Inc() }

// TrackSlackConnected makes the orgtoken_slack_connected gauge read connected at each scrape
// (pass (*bot.Bot).Connected). Until it is called the gauge reads 0.
func (m *Metrics) TrackSlackConnected(connected func() bool) {
	if connected == nil {
		m.connected.Store(nil)
		return
	}
	m.connected.Store(&connected)
}

// SetPendingApprovals sets the number of approval requests still open.
func (m *Metrics) SetPendingApprovals(n int) { m.pendingApprovals.Set(float64(n)) }

// SetScheduledReverts sets the number of elevations waiting to be reverted.
func (m *Metrics) SetScheduledReverts(n int) { m.scheduledReverts.Set(float64(n)) }

// AstroContact is what the bot's own calls have shown about reaching Astro.
type AstroContact struct {
	LastAnswer time.Time // latest HTTP response of any status; zero before the first
	// The first and latest transport failures (no HTTP answer) since LastAnswer; both zero
	// when the latest call was answered.
	FailingSince time.Time
	LastFailure  time.Time
}

// AstroContact reports the latest contact with Astro, for the readiness check.
func (m *Metrics) AstroContact() AstroContact {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.contact
}

// observeAstro records one Astro HTTP attempt. status is the HTTP status, or 0 when err says
// why no response came.
func (m *Metrics) observeAstro(endpoint string, status int, err error, took time.Duration, at time.Time) {
	label := statusLabel(status)
	if err != nil {
		label = "transport_error"
		if errors.Is(err, context.Canceled) {
			// We gave up (shutdown, user went away): that says nothing about Astro.
			label = "canceled"
		}
	}
	m.astroRequests.WithLabelValues(endpoint, label).Inc()
	m.astroDuration.WithLabelValues(endpoint).Observe(took.Seconds())

	m.mu.Lock()
	defer m.mu.Unlock()
	switch label {
	case "canceled":
	case "transport_error":
		if m.contact.FailingSince.IsZero() {
			m.contact.FailingSince = at
		}
		m.contact.LastFailure = at
	default:
		m.contact = AstroContact{LastAnswer: at}
	}
}

func normalizeSubcommand(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return "help"
	}
	return bounded(s, knownSubcommands)
}

func statusLabel(code int) string {
	if code < 100 || code > 599 {
		return other
	}
	return strconv.Itoa(code)
}

// slackErrorLabel turns an error from slack-go into a bounded label: Slack's own error code,
// http_NNN for an HTTP failure, or a coarse class.
func slackErrorLabel(err error) string {
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		if slackErrorCode.MatchString(se.Err) {
			return se.Err
		}
		return other
	}
	var sc slack.StatusCodeError
	if errors.As(err, &sc) {
		return "http_" + statusLabel(sc.Code)
	}
	switch {
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	}
	// slack-go returns some API errors as bare errors whose text is the code.
	if msg := err.Error(); slackErrorCode.MatchString(msg) {
		return msg
	}
	return "transport_error"
}

func bounded(v string, known map[string]bool) string {
	if known[v] {
		return v
	}
	return other
}

func set(vs ...string) map[string]bool {
	m := make(map[string]bool, len(vs))
	for _, v := range vs {
		m[v] = true
	}
	return m
}
