package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime/debug"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/orgtoken/orgtoken-bot/astro"
	"github.com/orgtoken/orgtoken-bot/bot"
	"github.com/orgtoken/orgtoken-bot/commands"
	"github.com/orgtoken/orgtoken-bot/logging"
	"github.com/orgtoken/orgtoken-bot/ops"
	"github.com/orgtoken/orgtoken-bot/policy"
	"github.com/orgtoken/orgtoken-bot/store"
)

// serve runs the Slack bot until ctx ends. It returns the process exit status.
func serve(ctx context.Context, cfg *config, stderr io.Writer) int {
	if cfg.GCPercent > 0 {
		debug.SetGCPercent(cfg.GCPercent)
	}
	log := logging.New(stderr, cfg.LogFormat, cfg.LogLevel,
		cfg.SlackAppToken.Value(), cfg.SlackBotToken.Value(), cfg.AstroAPIToken.Value())
	log = log.With("version", version)

	pol, err := loadPolicy(cfg)
	if err != nil {
		log.Error("refusing to start: the policy is missing or invalid", "error", err)
		return 2
	}

	st, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		log.Error("refusing to start: cannot open the store", "error", err)
		return 1
	}
	defer func() {
		if err := st.Close(); err != nil {
			log.Warn("closing the store", "error", err)
		}
	}()

	// One pooled client for the Web API and response_url: replies come in bursts (every user
	// waiting on the same slow Astro answer), and the default two idle connections per host
	// would open, and TLS-handshake, a new connection for nearly every reply.
	slackHTTP := newSlackHTTPClient(cfg.Workers, slackCallTimeout)
	retries := slackRetries()
	api := bot.NewWebAPI(slack.New(cfg.SlackBotToken.Value(),
		slack.OptionHTTPClient(slackHTTP),
		slack.OptionAPIURL(cfg.SlackAPIURL),
		slack.OptionAppLevelToken(cfg.SlackAppToken.Value()),
		slack.OptionRetryConfig(retries),
	), slackHTTP, cfg.SlackAPIURL, cfg.SlackBotToken.Value(), retries)
	// A bad bot token would otherwise surface only at the first reply; catch it at start.
	authCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	who, err := api.AuthTestContext(authCtx)
	cancel()
	if err != nil {
		if tokenRefused(err) {
			log.Error("refusing to start: Slack rejected SLACK_BOT_TOKEN (auth.test)", "error", err)
		} else {
			log.Error("refusing to start: could not check SLACK_BOT_TOKEN with Slack (auth.test failed); check SLACK_API_URL and the network, or try again", "error", err)
		}
		return 1
	}
	log.Info("slack bot identity", "team", who.TeamID, "bot_user", who.UserID)

	metrics := ops.NewMetrics()
	astroClient := astro.New(cfg.AstroOrgID, cfg.AstroAPIToken.Value(),
		astro.WithBaseURL(cfg.AstroAPIURL),
		astro.WithUserAgent("orgtoken-bot/"+version),
		astro.WithHTTPClient(&http.Client{Transport: ops.InstrumentAstro(newSpreadTransport(apiConnections, cfg.Workers), metrics)}),
		astro.WithLogger(log),
	)

	authorizer := &bot.Authorizer{Policy: pol, Groups: bot.NewGroupResolver(api, cfg.GroupCacheTTL)}
	// One replica on SQLite: the in-process locker also vouches that nobody wrote a token since
	// a list was read, which saves a re-read on every change by name. Replicas on PostgreSQL
	// need the store's advisory locks.
	var locker commands.Locker = st
	if st.Backend() == store.BackendSQLite {
		locker = commands.NewKeyedLocker()
	}
	messenger := &bot.Messenger{API: api}
	var audit commands.Audit = st
	if cfg.AuditChannel != "" {
		audit = &commands.AuditChannel{Audit: st, Poster: messenger, Channel: cfg.AuditChannel, Logger: log}
	}
	svc, err := commands.New(commands.Config{
		Tokens:           astroClient,
		Authorizer:       authorizer,
		Approvers:        authorizer,
		Groups:           pol,
		Requests:         st,
		Messenger:        messenger,
		Audit:            audit,
		Locker:           locker,
		DefaultWorkspace: cfg.AstroWorkspaceID,
		CommandName:      cfg.CommandName,
		Logger:           log,
		Workspaces:       astroClient,
		ChannelDefaults:  pol.DefaultWorkspace,
		History:          st,
		Reverts:          st,
		MinElevation:     cfg.MinElevation,
	})
	if err != nil {
		log.Error("refusing to start", "error", err)
		return 1
	}

	// Pickers in the change modal answer type-ahead from this in-memory catalog.
	catalog := commands.NewCatalog(astroClient, log)
	go catalog.Run(ctx, time.Minute)

	sm := socketmode.New(api.Client, socketmode.OptionPingInterval(cfg.SlackPingTimeout))
	b := bot.New(sm, api, svc, bot.Config{
		CommandName:        cfg.CommandName,
		Workers:            cfg.Workers,
		QueueSize:          cfg.QueueSize,
		ShutdownTimeout:    cfg.ShutdownTimeout,
		ReleaseMemoryAfter: cfg.ReleaseMemoryAfter,
		Logger:             log,
		Metrics:            metrics,
		Inbox:              storeInbox{st: st, replica: replicaName()},
		InboxLease:         cfg.InboxLease,
		SaveBeforeAck:      st.Backend() == store.BackendPostgres,
		TraceAstro:         astro.WithRequestLog,
		Pickers:            catalog,
		Views:              api,
		Gate:               svc,
		HTTPClient:         slackHTTP,
	})
	metrics.TrackSlackConnected(b.Connected)

	// The operator endpoints bind before the bot connects, so a busy port fails the start, and
	// stay up while the bot drains on shutdown.
	httpSrv, err := ops.Listen(cfg.HTTPAddr, ops.Handler(ops.Config{
		Metrics:        metrics,
		SlackConnected: b.Connected,
		PingStore:      st.Ping,
		Astro:          metrics.AstroContact,
		Logger:         log,
	}))
	if err != nil {
		log.Error("refusing to start: cannot listen for health and metrics", "addr", cfg.HTTPAddr, "error", err)
		return 1
	}
	log.Info("health and metrics listening", "addr", httpSrv.Addr().String())
	httpCtx, stopHTTP := context.WithCancel(context.WithoutCancel(ctx))
	httpDone := make(chan struct{})
	go func() {
		defer close(httpDone)
		if err := httpSrv.Serve(httpCtx); err != nil {
			log.Error("health and metrics server stopped", "error", err)
		}
	}()
	defer func() { stopHTTP(); <-httpDone }()

	// Time-boxed changes end on schedule; the store's leases let every replica run this.
	revertCtx, stopReverts := context.WithCancel(ctx)
	revertsDone := make(chan struct{})
	go func() {
		defer close(revertsDone)
		svc.RunReverts(revertCtx, cfg.RevertInterval, replicaName())
	}()
	defer func() { stopReverts(); <-revertsDone }()
	if cfg.DriftInterval > 0 {
		driftDone := make(chan struct{})
		go func() {
			defer close(driftDone)
			svc.RunDrift(revertCtx, cfg.DriftInterval, cfg.DriftChannel)
		}()
		defer func() { stopReverts(); <-driftDone }()
	}

	// Approval requests expire on schedule, also those that expired while the bot was down.
	sweepCtx, stopSweeper := context.WithCancel(ctx)
	sweeperDone := make(chan struct{})
	go func() {
		defer close(sweeperDone)
		svc.RunSweeper(sweepCtx, cfg.SweepInterval)
	}()
	defer func() { stopSweeper(); <-sweeperDone }()
	go reportBacklog(ctx, st, metrics, cfg.SweepInterval, log)

	log.Info("orgtoken-bot starting", "command", cfg.CommandName, "organization", cfg.AstroOrgID,
		"default_workspace", cfg.AstroWorkspaceID, "policy", pol.Source(), "store", st.Backend())
	if err := b.Run(ctx); err != nil {
		log.Error("stopped", "error", err)
		return 1
	}
	log.Info("stopped")
	return 0
}

// slackRetries retries Web API calls that Slack rate-limited (after Retry-After) or failed with
// a 5xx, briefly, so a reply is not lost to a blip. Connection errors are not retried: the
// request may have been posted, and a duplicate announcement is worse than a logged failure.
func slackRetries() slack.RetryConfig {
	cfg := slack.RetryConfig{
		MaxRetries:         3,
		RetryAfterDuration: 5 * time.Second,
		RetryAfterJitter:   500 * time.Millisecond,
		BackoffInitial:     200 * time.Millisecond,
		BackoffMax:         2 * time.Second,
		BackoffJitter:      100 * time.Millisecond,
	}
	cfg.Handlers = []slack.RetryHandler{slack.NewRateLimitErrorRetryHandler(cfg), slack.NewServerErrorRetryHandler(cfg)}
	return cfg
}

// tokenRefused reports whether auth.test failed because Slack refused the token, rather than
// because Slack could not be reached or failed on its side.
func tokenRefused(err error) bool {
	var se slack.SlackErrorResponse
	if !errors.As(err, &se) {
		return false
	}
	switch se.Err {
	case "invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired",
		"not_allowed_token_type", "no_permission", "team_access_not_granted", "ekm_access_denied":
		return true
	}
	return false
}

// replicaName identifies this process as the holder of envelope leases.
func replicaName() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s/%d", host, os.Getpid())
}

func loadPolicy(cfg *config) (*policy.Policy, error) {
	if cfg.PolicyFile != "" {
		pol, err := policy.Load(cfg.PolicyFile)
		var invalid *policy.ValidationError
		if err != nil && !errors.As(err, &invalid) {
			return nil, fmt.Errorf("ORGTOKEN_POLICY_FILE: cannot read the policy file: %w", err)
		}
		return pol, err
	}
	if len(cfg.Admins) == 0 {
		return nil, fmt.Errorf("set ORGTOKEN_POLICY_FILE, or ORGTOKEN_ADMINS to the Slack users and user groups who may change roles")
	}
	return policy.FromAdmins(cfg.Admins, cfg.AllowedChannels)
}

// reportBacklog keeps the pending-approvals and scheduled-reverts gauges current. Every replica
// reports the same shared numbers, so dashboards should take max() across pods.
func reportBacklog(ctx context.Context, st *store.Store, m *ops.Metrics, every time.Duration, log *slog.Logger) {
	for {
		if reqs, err := st.ListRequests(ctx, store.RequestFilter{States: []store.State{store.StatePending}, Limit: 1000}); err == nil {
			m.SetPendingApprovals(len(reqs))
		} else if ctx.Err() == nil {
			log.Debug("could not count pending approvals", "error", err)
		}
		if reverts, err := st.ListPendingReverts(ctx, ""); err == nil {
			m.SetScheduledReverts(len(reverts))
		} else if ctx.Err() == nil {
			log.Debug("could not count scheduled reverts", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}
