// Package ops serves what operators and the platform need from a running bot: liveness
// (/healthz), readiness (/readyz) and Prometheus metrics (/metrics), on a listener of its own
// (ORGTOKEN_HTTP_ADDR, default :8080).
//
// # Wiring
//
//	m := ops.NewMetrics()
//	astroClient := astro.New(org, token, astro.WithHTTPClient(&http.Client{
//		Transport: ops.InstrumentAstro(http.DefaultTransport, m),
//	}))
//	// ... open the store, build the bot b ...
//	m.TrackSlackConnected(b.Connected)
//	srv, err := ops.Listen(cfg.HTTPAddr, ops.Handler(ops.Config{
//		Metrics:        m,
//		SlackConnected: b.Connected,
//		PingStore:      st.Ping,
//		Astro:          m.AstroContact,
//		Logger:         log,
//	}))
//	go func() { errc <- srv.Serve(httpCtx) }() // httpCtx ends after the bot has stopped
//
// The bot and command layer report through the small methods of [Metrics] (ObserveAck,
// ObserveCommand, SlackCallFailed, SlackReconnected, SetPendingApprovals, ...). [Probe] backs a
// container health check in an image without a shell.
//
// # Readiness
//
// /readyz answers 200 when every configured check passes and 503 otherwise, with one line per
// check ("slack: ok", "store: FAIL: ...") so `curl` and probe events say what is wrong:
//
//   - slack: the Socket Mode link is up. A new pod is not ready until it has connected, so a
//     rollout never replaces a connected pod with one that cannot talk to Slack.
//   - store: the database answers a ping within StoreTimeout (default 1 s). The result is
//     reused for StoreCacheFor (default 2 s) so frequent probes cannot load the database.
//   - astro: Astro is judged only from the bot's own calls, never probed: a bot nobody uses
//     makes no calls, and Astro should not be polled (and rate-limited) just to look healthy.
//     Any HTTP answer, even 4xx or 5xx, proves Astro is reachable. The check fails only when
//     calls have failed at the transport level (no answer at all) for at least AstroDownAfter
//     (default 5 min) with no answer in between, and the latest such failure is itself less
//     than AstroDownAfter old. So a single blip never fails it, a bot that has not called
//     Astro yet is ready (there is nothing to judge), and a failure an idle bot saw long ago
//     stops counting instead of pinning the pod unready until someone runs a command.
//
// A nil check function is not run and not listed.
//
// # Metrics
//
// Every label value is drawn from a fixed set, so a typo in Slack or a hostile path cannot
// create new series: unknown subcommands become "other", statuses become the HTTP code or
// "transport_error" (or "canceled" when our side gave up), Slack methods outside the known set
// become "other". With several replicas, gauges fed from the shared database (pending
// approvals, scheduled reverts) report the same value from every pod: aggregate them with
// max(), not sum().
package ops
