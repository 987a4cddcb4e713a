package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/sethvargo/go-envconfig"
)

// secret holds a credential. Every way of printing it redacts the value, so a config dump, a
// %v in an error or a slog attribute can never leak a token.
type secret string

func (s secret) String() string               { return redacted(s) }
func (s secret) GoString() string             { return redacted(s) }
func (s secret) LogValue() slog.Value         { return slog.StringValue(redacted(s)) }
func (s secret) MarshalText() ([]byte, error) { return []byte(redacted(s)), nil }

// Value returns the credential itself, for the one place that sends it.
func (s secret) Value() string { return string(s) }

func redacted(s secret) string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// rawConfig is what go-envconfig reads: strings, so that one validator can report every
// problem at once instead of stopping at the first unparsable value.
type rawConfig struct {
	SlackAppToken    secret `env:"SLACK_APP_TOKEN"`
	SlackBotToken    secret `env:"SLACK_BOT_TOKEN"`
	SlackAPIURL      string `env:"SLACK_API_URL, default=https://slack.com/api/"`
	AstroAPIToken    secret `env:"ASTRO_API_TOKEN"`
	AstroOrgID       string `env:"ASTRO_ORGANIZATION_ID"`
	AstroWorkspaceID string `env:"ASTRO_WORKSPACE_ID"`
	AstroAPIURL      string `env:"ASTRO_API_URL, default=https://api.astronomer.io/v1"`

	Admins          []string `env:"ORGTOKEN_ADMINS"`
	AllowedChannels []string `env:"ORGTOKEN_ALLOWED_CHANNELS"`
	PolicyFile      string   `env:"ORGTOKEN_POLICY_FILE"`
	DatabaseURL     string   `env:"ORGTOKEN_DATABASE_URL, default=orgtoken.db"`
	CommandName     string   `env:"ORGTOKEN_COMMAND, default=/orgtoken"`
	Workers         string   `env:"ORGTOKEN_WORKERS, default=16"`
	QueueSize       string   `env:"ORGTOKEN_QUEUE_SIZE, default=256"`
	GroupCacheTTL   string   `env:"ORGTOKEN_GROUP_CACHE_TTL, default=1m"`
	ShutdownTimeout string   `env:"ORGTOKEN_SHUTDOWN_TIMEOUT, default=20s"`
	// How long without a command before free heap memory goes back to the OS (0 = never).
	ReleaseMemoryAfter string `env:"ORGTOKEN_RELEASE_MEMORY_AFTER, default=5s"`
	LogFormat          string `env:"ORGTOKEN_LOG_FORMAT, default=json"`
	LogLevel           string `env:"ORGTOKEN_LOG_LEVEL, default=info"`
	HTTPAddr           string `env:"ORGTOKEN_HTTP_ADDR, default=:8080"`
	AuditChannel       string `env:"ORGTOKEN_AUDIT_CHANNEL"`
	// Slack sends pings every ~10 s; slack-go drops the link after this long without one.
	// Tests shrink it to exercise reconnects quickly.
	SlackPingTimeout string `env:"ORGTOKEN_SLACK_PING_TIMEOUT, default=30s"`
	// How long an acked but unanswered command stays with its replica before another takes it up.
	InboxLease string `env:"ORGTOKEN_INBOX_LEASE, default=2m"`
	// How often the revert worker looks for time-boxed changes that have ended.
	RevertInterval string `env:"ORGTOKEN_REVERT_INTERVAL, default=30s"`
	// The shortest --for accepted. Undocumented for users: tests lower it to run elevations
	// that end in seconds.
	MinElevation string `env:"ORGTOKEN_MIN_ELEVATION, default=30m"`
	// How often to look for roles changed outside the bot (0 = never), and where to say so.
	DriftInterval string `env:"ORGTOKEN_DRIFT_INTERVAL, default=0s"`
	DriftChannel  string `env:"ORGTOKEN_DRIFT_CHANNEL"`
	// How often expired approval requests are closed (and requests stuck approved are finished).
	SweepInterval string `env:"ORGTOKEN_SWEEP_INTERVAL, default=30s"`
	// Read only to learn whether the operator chose a GC target: the Go runtime applies it.
	GOGC string `env:"GOGC"`
}

// defaultGCPercent is the GC target the bot sets unless GOGC is given. Its heap is small (a
// few MB live, most of it commands in flight) and its CPU mostly idle, so collecting at 50 %
// growth instead of Go's 100 % costs little CPU and keeps RSS under load ≈ 4 MB lower
// (docs/performance.md, eighth measurement).
const defaultGCPercent = 50

// config is the validated configuration the bot runs with.
type config struct {
	Sandbox bool // no Slack or Astro settings at all: run the local sandbox

	SlackAppToken    secret
	SlackBotToken    secret
	SlackAPIURL      string
	AstroAPIToken    secret
	AstroOrgID       string
	AstroWorkspaceID string
	AstroAPIURL      string

	Admins          []string
	AllowedChannels []string
	PolicyFile      string
	DatabaseURL     string
	CommandName     string
	Workers         int
	QueueSize       int
	GroupCacheTTL   time.Duration
	ShutdownTimeout time.Duration
	// ReleaseMemoryAfter is 0 when the release is off.
	ReleaseMemoryAfter time.Duration
	LogFormat          string
	LogLevel           slog.Level
	HTTPAddr           string
	AuditChannel       string
	SlackPingTimeout   time.Duration
	InboxLease         time.Duration
	RevertInterval     time.Duration
	MinElevation       time.Duration
	DriftInterval      time.Duration // 0: no drift check
	DriftChannel       string
	SweepInterval      time.Duration
	// GCPercent is the GC target to set at start; 0 when GOGC is given and the runtime's stands.
	GCPercent int
}

// configError lists every problem found, so an operator fixes them in one go.
type configError struct{ problems []string }

func (e *configError) Error() string {
	return "invalid configuration:\n  - " + strings.Join(e.problems, "\n  - ")
}

var (
	slackUserOrGroupID = regexp.MustCompile(`^[UWS][A-Z0-9]{2,}$`)
	slackChannelID     = regexp.MustCompile(`^[CGD][A-Z0-9]{2,}$`)
	slashCommandName   = regexp.MustCompile(`^/[a-z0-9_-]{1,31}$`)
)

// loadConfig reads the environment through l (envconfig.OsLookuper in production, a map in tests).
func loadConfig(ctx context.Context, l envconfig.Lookuper) (*config, error) {
	var raw rawConfig
	if err := envconfig.ProcessWith(ctx, &envconfig.Config{Target: &raw, Lookuper: l}); err != nil {
		return nil, &configError{problems: []string{err.Error()}}
	}
	return raw.validate()
}

func (r *rawConfig) validate() (*config, error) {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	c := &config{
		SlackAppToken:    secret(strings.TrimSpace(string(r.SlackAppToken))),
		SlackBotToken:    secret(strings.TrimSpace(string(r.SlackBotToken))),
		SlackAPIURL:      r.SlackAPIURL,
		AstroAPIToken:    secret(strings.TrimSpace(string(r.AstroAPIToken))),
		AstroOrgID:       strings.TrimSpace(r.AstroOrgID),
		AstroWorkspaceID: strings.TrimSpace(r.AstroWorkspaceID),
		AstroAPIURL:      strings.TrimRight(r.AstroAPIURL, "/"),
		PolicyFile:       r.PolicyFile,
		DatabaseURL:      r.DatabaseURL,
		CommandName:      r.CommandName,
		LogFormat:        r.LogFormat,
		HTTPAddr:         r.HTTPAddr,
		AuditChannel:     strings.TrimSpace(r.AuditChannel),
	}

	required := []struct {
		name string
		set  bool
	}{
		{"SLACK_APP_TOKEN", c.SlackAppToken != ""},
		{"SLACK_BOT_TOKEN", c.SlackBotToken != ""},
		{"ASTRO_API_TOKEN", c.AstroAPIToken != ""},
		{"ASTRO_ORGANIZATION_ID", c.AstroOrgID != ""},
	}
	var missing []string
	for _, f := range required {
		if !f.set {
			missing = append(missing, f.name)
		}
	}
	switch {
	case len(missing) == len(required):
		c.Sandbox = true
	case len(missing) > 0:
		add("%s not set: the bot needs all of SLACK_APP_TOKEN, SLACK_BOT_TOKEN, ASTRO_API_TOKEN and ASTRO_ORGANIZATION_ID (or none of them, to run the local sandbox)", strings.Join(missing, ", "))
	}

	// Prefix checks catch the classic swap of the two Slack tokens before anything connects.
	if c.SlackAppToken != "" && !strings.HasPrefix(c.SlackAppToken.Value(), "xapp-") {
		add("SLACK_APP_TOKEN must be an app-level token starting with xapp- (with the connections:write scope)")
	}
	if c.SlackBotToken != "" && !strings.HasPrefix(c.SlackBotToken.Value(), "xoxb-") {
		add("SLACK_BOT_TOKEN must be a bot token starting with xoxb-")
	}
	if c.AstroAPIToken != "" && strings.ContainsAny(c.AstroAPIToken.Value(), " \t\r\n") {
		add("ASTRO_API_TOKEN must not contain whitespace")
	}

	if err := checkBaseURL(c.SlackAPIURL); err != nil {
		add("SLACK_API_URL %v", err)
	} else if !strings.HasSuffix(c.SlackAPIURL, "/") {
		// slack-go concatenates method names onto this URL.
		c.SlackAPIURL += "/"
	}
	if err := checkBaseURL(c.AstroAPIURL); err != nil {
		add("ASTRO_API_URL %v", err)
	}

	// A listen error would show only once the bot had connected to Slack and opened the store,
	// and without naming the setting.
	if _, port, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		add("ORGTOKEN_HTTP_ADDR: %q must be host:port or :port, e.g. :8080", c.HTTPAddr)
	} else if _, err := net.LookupPort("tcp", port); err != nil {
		add("ORGTOKEN_HTTP_ADDR: %q has no valid port, e.g. :8080", c.HTTPAddr)
	}

	for _, id := range r.Admins {
		id = strings.TrimSpace(id)
		if id == "" {
			continue
		}
		if !slackUserOrGroupID.MatchString(id) {
			add("ORGTOKEN_ADMINS: %q is not a Slack user ID (U…, W…) or user-group ID (S…)", id)
			continue
		}
		c.Admins = append(c.Admins, id)
	}
	for _, id := range r.AllowedChannels {
		id = strings.TrimSpace(id)
		if id == "" {
			continue
		}
		if !slackChannelID.MatchString(id) {
			add("ORGTOKEN_ALLOWED_CHANNELS: %q is not a Slack channel ID (C…, G…)", id)
			continue
		}
		c.AllowedChannels = append(c.AllowedChannels, id)
	}
	if c.AuditChannel != "" && !slackChannelID.MatchString(c.AuditChannel) {
		add("ORGTOKEN_AUDIT_CHANNEL: %q is not a Slack channel ID (C…, G…)", c.AuditChannel)
	}
	if !slashCommandName.MatchString(c.CommandName) {
		add("ORGTOKEN_COMMAND: %q must look like /orgtoken (a slash, then up to 31 lowercase letters, digits, - or _)", c.CommandName)
	}

	c.Workers = positiveInt(r.Workers, "ORGTOKEN_WORKERS", 1, 1024, add)
	c.QueueSize = positiveInt(r.QueueSize, "ORGTOKEN_QUEUE_SIZE", 1, 100000, add)
	c.GroupCacheTTL = duration(r.GroupCacheTTL, "ORGTOKEN_GROUP_CACHE_TTL", 0, time.Hour, add)
	c.ShutdownTimeout = duration(r.ShutdownTimeout, "ORGTOKEN_SHUTDOWN_TIMEOUT", time.Second, 10*time.Minute, add)
	if d := strings.TrimSpace(r.ReleaseMemoryAfter); d != "0" && d != "0s" {
		c.ReleaseMemoryAfter = duration(d, "ORGTOKEN_RELEASE_MEMORY_AFTER", 100*time.Millisecond, time.Hour, add)
	}
	if strings.TrimSpace(r.GOGC) == "" {
		c.GCPercent = defaultGCPercent
	}
	c.SlackPingTimeout = duration(r.SlackPingTimeout, "ORGTOKEN_SLACK_PING_TIMEOUT", 100*time.Millisecond, 10*time.Minute, add)
	c.InboxLease = duration(r.InboxLease, "ORGTOKEN_INBOX_LEASE", time.Second, time.Hour, add)
	c.RevertInterval = duration(r.RevertInterval, "ORGTOKEN_REVERT_INTERVAL", 100*time.Millisecond, time.Hour, add)
	c.MinElevation = duration(r.MinElevation, "ORGTOKEN_MIN_ELEVATION", time.Second, 30*time.Minute, add)
	if d := strings.TrimSpace(r.DriftInterval); d != "0" && d != "0s" {
		c.DriftInterval = duration(d, "ORGTOKEN_DRIFT_INTERVAL", 100*time.Millisecond, 24*time.Hour, add)
	}
	c.DriftChannel = strings.TrimSpace(r.DriftChannel)
	switch {
	case c.DriftChannel != "" && !slackChannelID.MatchString(c.DriftChannel):
		add("ORGTOKEN_DRIFT_CHANNEL: %q is not a Slack channel ID (C…, G…)", c.DriftChannel)
	case c.DriftInterval > 0 && c.DriftChannel == "":
		add("ORGTOKEN_DRIFT_CHANNEL must be set when ORGTOKEN_DRIFT_INTERVAL is: it is where changes made outside the bot are reported")
	}
	c.SweepInterval = duration(r.SweepInterval, "ORGTOKEN_SWEEP_INTERVAL", 100*time.Millisecond, time.Hour, add)

	switch c.LogFormat {
	case "json", "text":
	default:
		add("ORGTOKEN_LOG_FORMAT: %q must be json or text", c.LogFormat)
	}
	if err := c.LogLevel.UnmarshalText([]byte(r.LogLevel)); err != nil {
		add("ORGTOKEN_LOG_LEVEL: %q must be debug, info, warn or error", r.LogLevel)
	}

	if len(problems) > 0 {
		return nil, &configError{problems: problems}
	}
	return c, nil
}

func checkBaseURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q must be an absolute http(s) URL", raw)
	}
	return nil
}

func positiveInt(raw, name string, lo, hi int, add func(string, ...any)) int {
	n, err := strconv.Atoi(strings.TrimSpace(raw))
	if err != nil || n < lo || n > hi {
		add("%s: %q must be a whole number from %d to %d", name, raw, lo, hi)
	}
	return n
}

func duration(raw, name string, lo, hi time.Duration, add func(string, ...any)) time.Duration {
	d, err := time.ParseDuration(strings.TrimSpace(raw))
	if err != nil || d < lo || d > hi {
		add("%s: %q must be a duration such as 30s or 5m, from %v to %v", name, raw, lo, hi)
	}
	return d
}
