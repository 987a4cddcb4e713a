package main

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"math"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Targets from the performance issue. Each row of the report says whether it was met.
const (
	targetAckP99  = 5 * time.Millisecond
	targetStartup = 200 * time.Millisecond
	targetIdleRSS = 30_000_000 // bytes (MB = 10^6 bytes)
	targetImage   = 25_000_000
	// imageRuntimeFiles is what the Dockerfile's scratch image holds besides the binary:
	// Debian bookworm's CA bundle (216,591 bytes), /etc/passwd and /etc/group, empty /tmp and
	// /data. An image built on 2026-11-30 was the binary + 216,658 bytes.
	imageRuntimeFiles   = 220_000
	targetRSSAfter      = 40_000_000
	targetRSSAfterAt    = 10_000 // commands
	targetE2ESlack      = 10 * time.Millisecond
	targetRoundTrips    = 2
	targetLookupMaxSize = 1000 // tokens; the request targets hold up to this size
)

// targetRequests is the Astro requests a command of kind k may make (org ≤ 1,000 tokens).
func targetRequests(k kind) int {
	if k == kindList {
		return 1
	}
	return 2
}

type row struct{ measure, bot, target, result, cli string }

func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FAIL"
}

// beyondAstroRow is the change target measured per command: what is left of each change's
// end-to-end time once its Astro requests are taken out must be at most 10 ms at p99.
func beyondAstroRow(b beyondAstro) row {
	rw := row{measure: fmt.Sprintf("change end to end beyond its Astro requests p50 / p99 / max (n=%d)", len(b.beyond)),
		target: fmt.Sprintf("p99 ≤ %s (2 Astro round trips + 10 ms, as long as they took)", ms(targetE2ESlack)), result: "FAIL"}
	q := summarize(b.beyond)
	switch {
	case b.err != nil:
		rw.bot = "n/a (reading the bot's log: " + snippet(b.err.Error()) + ")"
	case q.n == 0 && b.unpaired > 0:
		rw.bot = fmt.Sprintf("n/a (none of %d changes found in the bot's log, which lists them at -log-level info)", b.unpaired)
		rw.result = "n/a"
	case q.n == 0:
		rw.bot = "no successful changes"
	default:
		rw.bot = fmt.Sprintf("%s / %s / %s", ms(q.p50), ms(q.p99), ms(q.max))
		if b.unpaired > 0 {
			rw.bot += fmt.Sprintf(" (%d changes not paired with their requests)", b.unpaired)
		}
		rw.result = verdict(b.unpaired == 0 && q.p99 <= targetE2ESlack)
	}
	return rw
}

// writeReport prints the one table, then the few notes needed to read it.
func writeReport(w io.Writer, o options, r *results) {
	latency := o.astroLatency.String()
	if o.astroJitter > 0 {
		latency += " ± " + o.astroJitter.String()
	}
	fmt.Fprintf(w, "orgtoken-load: %d commands from %d concurrent users; Astro latency %s; %d Organization tokens, all in the listed workspace; bot ORGTOKEN_WORKERS=%d; mix list=%d name=%d id=%d\n\n",
		r.load.total(), o.users, latency, r.orgTokens, o.workers, o.mix.list, o.mix.byName, o.mix.byID)

	var rows []row
	add := func(rw row) { rows = append(rows, rw) }

	if r.binarySize > 0 {
		img := row{measure: "bot binary → container image (binary + CA bundle, passwd ≈ 0.2 MB)"}
		img.bot = fmt.Sprintf("%s → ≈ %s", mb(r.binarySize), mb(r.binarySize+imageRuntimeFiles))
		img.target = "image < " + mb(targetImage)
		switch {
		case !r.binaryBuilt:
			img.result = "n/a (-bin)"
		case r.binarySize+imageRuntimeFiles < targetImage:
			img.result = "PASS (estimate)"
		default:
			img.result = "FAIL (estimate)"
		}
		add(img)
	}
	add(row{"startup → Socket Mode connected", ms(r.startup), "< " + ms(targetStartup), verdict(r.startup < targetStartup), ""})
	if r.memErr != nil {
		add(row{"RSS idle after start", "n/a", "< " + mb(targetIdleRSS), "n/a", ""})
		add(row{fmt.Sprintf("RSS after %d commands", r.load.total()), "n/a", "", "n/a", ""})
		add(row{"RSS peak (VmHWM)", "n/a", "", "", ""})
	} else {
		add(row{"RSS idle after start", mb(r.idle.rss), "< " + mb(targetIdleRSS), verdict(r.idle.rss < targetIdleRSS), ""})
		after := row{fmt.Sprintf("RSS after %d commands", r.load.total()), mb(r.after.rss),
			fmt.Sprintf("< %s after %s", mb(targetRSSAfter), thousands(targetRSSAfterAt)), "", ""}
		switch {
		case r.after.rss >= targetRSSAfter:
			after.result = "FAIL"
		case r.load.total() >= targetRSSAfterAt:
			after.result = "PASS"
		default:
			after.result = "n/a (-n < 10000)"
		}
		add(after)
		add(row{"RSS peak (VmHWM)", mb(r.after.peak), "", "", ""})
		if len(r.rssDuring) > 0 {
			add(row{"RSS during the load, every fifth of the commands", rssDuringString(r.rssDuring), "no growth per command", "", ""})
			if stacks := stacksDuringString(r.rssDuring); stacks != "" {
				// Stacks count twice: as RSS and in the GC's heap goal. Most belong to the
				// commands waiting on Astro and the HTTP/2 writers of their requests.
				add(row{"Go stacks during the load (go_memstats_stack_inuse_bytes)", stacks, "", "", ""})
			}
		}
		add(stackProbeRow(r.stacks))
		add(row{"RSS after: file-backed (the binary's pages) / anonymous", fmt.Sprintf("%s / %s", mb(r.after.file), mb(r.after.anon)), "", "", ""})
	}
	goMem := row{measure: "Go memory after: heap in use / heap free, not returned / stacks / runtime"}
	if g := r.goMemAfter; g.err != nil {
		goMem.bot = "n/a (" + snippet(g.err.Error()) + ")"
	} else {
		goMem.bot = fmt.Sprintf("%s / %s / %s / %s", mb(int64(g.heapInuse)), mb(int64(g.heapFree)), mb(int64(g.stacks)), mb(int64(g.runtime)))
	}
	add(goMem)
	if r.memErr == nil && r.rest.rss > 0 {
		add(row{fmt.Sprintf("RSS at rest, %s after the load", r.restAfter), mb(r.rest.rss), "", "", ""})
	}

	acks := summarize(r.load.acks(false))
	add(row{"ack latency p50 / p99 / max", fmt.Sprintf("%s / %s / %s", ms(acks.p50), ms(acks.p99), ms(acks.max)),
		"p99 < " + ms(targetAckP99), verdict(acks.n > 0 && acks.p99 < targetAckP99), ""})
	if read := summarize(r.load.acks(true)); read.n > 0 {
		// The emulator's reader shares the cores with the bot; Slack's would not.
		add(row{"  the same acks as the Slack emulator read them, p50 / p99 / max", fmt.Sprintf("%s / %s / %s (its reader, on the shared cores)",
			ms(read.p50), ms(read.p99), ms(read.max)), "", "", ""})
	}

	botAck := row{measure: "bot-side ack time p50 / p99 (" + botAckMetric + ")"}
	p50, ok50 := r.botAck.quantileBound(0.50)
	p99, ok99 := r.botAck.quantileBound(0.99)
	switch {
	case r.botAckErr != nil:
		botAck.bot = "n/a (" + snippet(r.botAckErr.Error()) + ")"
	case ok50 && ok99:
		botAck.bot = fmt.Sprintf("≤ %s / ≤ %s (bucket bounds)", seconds(p50), seconds(p99))
	default:
		botAck.bot = "no observations"
	}
	add(botAck)

	// With jitter, a round trip may take up to latency + jitter.
	changeBudget := targetRoundTrips*(o.astroLatency+o.astroJitter) + targetE2ESlack
	for k := range numKinds {
		q := summarize(r.load.e2e(k))
		rw := row{measure: fmt.Sprintf("end-to-end %s p50 / p99 (n=%d)", k, r.load.count(k))}
		if q.n == 0 {
			rw.bot = "no successful commands"
		} else {
			rw.bot = fmt.Sprintf("%s / %s", ms(q.p50), ms(q.p99))
		}
		if c := r.calib[k]; c.ran && c.failure == "" {
			rw.bot += fmt.Sprintf(" (alone, Astro instant: %s)", ms(c.e2e))
		}
		if k.isChange() {
			rw.target = fmt.Sprintf("p99 ≤ %s (2 × Astro + 10 ms)", ms(changeBudget))
			rw.result = verdict(q.n > 0 && q.p99 <= changeBudget)
		}
		add(rw)
	}
	add(beyondAstroRow(r.astroShare))
	if s := r.astroShare; len(s.beyond) > 0 {
		b, m, a := summarize(s.before), summarize(s.between), summarize(s.after)
		add(row{"  of which before its first Astro request / between / after its last, p50 · p99",
			fmt.Sprintf("%s · %s / %s · %s / %s · %s", ms(b.p50), ms(b.p99), ms(m.p50), ms(m.p99), ms(a.p50), ms(a.p99)), "", "", ""})
	}

	for k := range numKinds {
		c := r.calib[k]
		rw := row{measure: "Astro requests: " + k.String(), cli: c.cli.String()}
		switch {
		case !c.ran:
			rw.bot = "not run"
		case c.failure != "":
			rw.bot = fmt.Sprintf("%s (failed: %s)", c.bot, c.failure)
		default:
			rw.bot = c.bot.String()
		}
		want := targetRequests(k)
		rw.target = fmt.Sprintf("%d", want)
		switch {
		case r.orgTokens > targetLookupMaxSize:
			rw.result = "n/a (> 1000 tokens)"
		case c.ran && c.failure == "":
			rw.result = verdict(c.bot.total() <= want)
		default:
			rw.result = "FAIL"
		}
		rows = append(rows, rw)
	}

	predicted := 0
	for k := range numKinds {
		predicted += r.load.count(k) * r.calib[k].bot.total()
	}
	add(row{"Astro requests in the load phase", r.loadAstro.String(), fmt.Sprintf("calibration predicts %d", predicted), "", ""})
	if len(r.astroProtocols) > 0 {
		// Real Astro and Slack speak HTTP/2 over TLS; over plain HTTP/1.1 the bot would hold a
		// connection per request in flight, memory production never spends.
		seen := 0
		for _, n := range r.astroProtocols {
			seen += n
		}
		protocols := protocolsString(r.astroProtocols)
		if total := r.loadAstro.total(); seen < total {
			protocols += fmt.Sprintf(" (the last %d of %d, as many as the emulator keeps)", seen, total)
		}
		add(row{"protocol of the bot's Astro requests", protocols, "", "", ""})
	}
	if r.conns.astro > 0 {
		// Each new connection is a TLS handshake on the command's path; a client that stopped
		// reusing its connections would show here long before in the latencies.
		add(row{"connections the bot opened: Astro / Slack Web API", fmt.Sprintf("%d / %d (for %d Astro requests in the load phase, %d Web API calls in the run)",
			r.conns.astro, r.conns.webAPI, r.loadAstro.total(), r.conns.webAPIRequests), "", "", ""})
	}
	if late := summarize(r.astroLate); late.n > 0 {
		// Part of every Astro round trip the bot waits out; a real server's timers would not run late.
		add(row{"Astro emulator answering late p50 / p99 / max", fmt.Sprintf("%s / %s / %s (from each request's arrival: its timers and handlers, on the shared cores)",
			ms(late.p50), ms(late.p99), ms(late.max)), "", "", ""})
	}
	rate := float64(r.load.total()) / max(r.load.wall.Seconds(), 1e-9)
	add(row{"load phase duration", fmt.Sprintf("%.1f s (%.0f commands/s)", r.load.wall.Seconds(), rate), "", "", ""})
	add(row{"CPU in the load phase: bot / driver+emulators", fmt.Sprintf("%.1f s / %.1f s of %.1f s (%d cores)",
		r.botCPU.Seconds(), r.harnessCPU.Seconds(), r.load.wall.Seconds()*float64(runtime.NumCPU()), runtime.NumCPU()), "", "", ""})
	add(machineRow(r.machine, r.machineErr, r.botCPU+r.harnessCPU))
	churn := row{measure: "bot heap allocated per command / GC cycles in the load phase"}
	switch c := r.botCounters; {
	case c.err != nil:
		churn.bot = "n/a (" + snippet(c.err.Error()) + ")"
	case r.load.total() > 0:
		churn.bot = fmt.Sprintf("%.0f KB / %.0f (%s)", c.allocBytes/float64(r.load.total())/1000, c.gcCycles, botAllocMetric)
	}
	add(churn)
	if c := r.botCounters; c.err == nil && r.load.total() > 0 {
		// Each pause holds up every command in flight; on cores shared with the harness a
		// pause can also wait for the kernel to run a thread it gave to another process.
		add(row{"bot GC stop-the-world pauses in the load phase: total / longest (last 256)",
			fmt.Sprintf("%s / %s (%s)", seconds(c.gcPause), seconds(c.longestPause), botGCPauseMetric), "", "", ""})
	}
	add(row{"errors: unanswered / failed", fmt.Sprintf("%d / %d", r.load.unanswered(), r.load.failed()), "0",
		verdict(r.load.errors() == 0), ""})

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MEASURE\tORGTOKEN-BOT\tTARGET\tRESULT\tASTRO CLI (same org)")
	for _, rw := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", rw.measure, rw.bot, dash(rw.target), dash(rw.result), rw.cli)
	}
	_ = tw.Flush()

	fmt.Fprintln(w)
	fmt.Fprintln(w, "Notes:")
	fmt.Fprintln(w, "- Ack latency is the Slack emulator's: envelope written → ack at its socket (the kernel's receive timestamp, where the OS gives one; otherwise when read). End-to-end is slash command sent → reply posted (response_url for list, as the driver saw it; for changes, the chat.postMessage in the user's channel reaching Slack's socket).")
	fmt.Fprintln(w, "- \"Beyond its Astro requests\" is each change's end-to-end time less the time the Astro emulator had the requests it waited on (received → answered; found by the request IDs the bot logs per command, a shared organization read included): the target's \"2 Astro round trips + 10 ms\" with the round trips as long as they took. The rows above charge the emulator's lateness to the bot.")
	fmt.Fprintln(w, "- Astro requests per command come from a sequential calibration phase (one command of each kind, alone, in the listed workspace); list = GET /tokens page, get = GET /tokens/{id}, write = POST /tokens/{id}/roles.")
	fmt.Fprintf(w, "- ASTRO CLI is `astro workspace token organization-token add|update|remove|list` for the same organization, from astro-cli's source at ed93cc59 (pages of %d; by name it lists, then GETs the match, then POSTs).\n", cliPageSize)
	for k := range numKinds {
		if p := r.calib[k].pattern; p != "" {
			fmt.Fprintf(w, "- Bot's requests for %s, in order: %s\n", k, p)
		}
	}
	if f := r.load.firstFailures(3); len(f) > 0 {
		fmt.Fprintf(w, "- First failures: %s\n", strings.Join(f, " | "))
	}
	if r.memErr != nil {
		fmt.Fprintf(w, "- Memory not measured: %v\n", r.memErr)
	}
}

func dash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// ms prints a duration in milliseconds, with a decimal below 10 ms.
func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	if v < 10 {
		return fmt.Sprintf("%.1f ms", v)
	}
	return fmt.Sprintf("%.0f ms", v)
}

// seconds prints a histogram bound given in seconds.
func seconds(s float64) string {
	if math.IsInf(s, 1) {
		return "+Inf"
	}
	return ms(time.Duration(s * float64(time.Second)))
}

func mb(bytes int64) string { return fmt.Sprintf("%.1f MB", float64(bytes)/1e6) }

// rssDuringString is e.g. "37.1 / 38.0 / 37.6 MB at 400 / 800 / 1200 answered".
func rssDuringString(samples []rssSample) string {
	rss := make([]string, len(samples))
	at := make([]string, len(samples))
	for i, s := range samples {
		rss[i] = fmt.Sprintf("%.1f", float64(s.rss)/1e6)
		at[i] = fmt.Sprint(s.answered)
	}
	return strings.Join(rss, " / ") + " MB at " + strings.Join(at, " / ") + " answered"
}

// stacksDuringString is e.g. "4.3 / 4.4 MB", or "" when no reading has stacks.
func stacksDuringString(samples []rssSample) string {
	var out []string
	for _, s := range samples {
		if s.stacks > 0 {
			out = append(out, fmt.Sprintf("%.1f", float64(s.stacks)/1e6))
		}
	}
	if len(out) == 0 {
		return ""
	}
	return strings.Join(out, " / ") + " MB"
}

func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// protocolsString is e.g. "HTTP/2.0 over TLS: 3185", most used first.
func protocolsString(counts map[string]int) string {
	names := slices.Collect(maps.Keys(counts))
	slices.SortFunc(names, func(a, b string) int { return cmp.Or(counts[b]-counts[a], strings.Compare(a, b)) })
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s: %d", n, counts[n])
	}
	return strings.Join(parts, ", ")
}

// stackProbeRow reports the deepest command goroutine at its Astro wait against the room an
// 8 KB stack leaves.
func stackProbeRow(p stackProbe) row {
	rw := row{measure: "deepest stack of a command waiting on Astro (goroutine dump at the end)",
		target: fmt.Sprintf("≤ %s B (8 KB stack less the runtime's guard)", thousands(goroutineRoom))}
	if p.err != nil {
		rw.bot, rw.result = "n/a ("+snippet(p.err.Error())+")", "n/a"
		return rw
	}
	depths := make([]string, len(p.depths))
	for i, d := range p.depths {
		depths[i] = thousands(d)
	}
	rw.bot = fmt.Sprintf("%s B (%d of %d commands found: %s B)", thousands(p.deepest()), len(p.depths), p.sent, strings.Join(depths, " / "))
	rw.result = verdict(len(p.depths) == p.sent && p.deepest() <= goroutineRoom)
	return rw
}

// machineRow says what else took the machine's cores during the load phase: other processes,
// and the hypervisor running other guests (steal), which shows as the bot waiting for a core.
func machineRow(m machineCPU, err error, ours time.Duration) row {
	r := row{measure: "CPU in the load phase: other processes / stolen by the hypervisor"}
	if err != nil {
		r.bot = "n/a (" + snippet(err.Error()) + ")"
		return r
	}
	// The machine's ticks and the processes' rusage are counted differently; a small negative
	// difference is rounding, not time.
	others := max(m.busy-ours, 0)
	r.bot = fmt.Sprintf("%.1f s / %.1f s (latencies above include waits for cores these took)", others.Seconds(), m.stolen.Seconds())
	return r
}
