package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/orgtoken/orgtoken-bot/emulators/astroemu"
	"github.com/orgtoken/orgtoken-bot/emulators/loopbacktls"
	"github.com/orgtoken/orgtoken-bot/emulators/slackemu"
)

// rssSampleStep is how many answered commands apart RSS is read during the load: five
// readings a run.
func rssSampleStep(commands int) int64 { return int64(max(commands/5, 1)) }

// rssSample is the bot's RSS once answered commands reached a multiple of the step, and its
// goroutine stacks then (from its /metrics; 0 when they could not be read).
type rssSample struct {
	answered int64
	rss      int64 // bytes
	stacks   int64 // bytes
}

// sampleRSS reads the bot's RSS and stacks for every count received on due, until the
// returned function is called; it returns the readings.
func sampleRSS(ctx context.Context, bot *botProcess, metricsURL string, due <-chan int64) func() []rssSample {
	scrapeCtx := ctx // a reading begun before the load ends is finished
	ctx, cancel := context.WithCancel(ctx)
	var out []rssSample
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case n := <-due:
				if m, err := bot.memory(); err == nil {
					sample := rssSample{answered: n, rss: m.rss}
					if page, err := scrapeMetrics(scrapeCtx, metricsURL); err == nil {
						if v, err := page.value("go_memstats_stack_inuse_bytes"); err == nil {
							sample.stacks = int64(v)
						}
					}
					out = append(out, sample)
				}
			}
		}
	}()
	return func() []rssSample {
		cancel()
		<-done
		return out
	}
}

// results is everything the report prints.
type results struct {
	// rssDuring is the bot's RSS read every fifth of the load phase.
	rssDuring []rssSample
	// rest is the bot's memory restAfter the load ended, idle since.
	rest      memory
	restAfter time.Duration
	// binarySize is the bot binary's size in bytes; binaryBuilt says the driver built it as the
	// Dockerfile does (not -bin), so it is the image's binary.
	binarySize  int64
	binaryBuilt bool
	startup     time.Duration
	idle, after memory
	memErr      error
	calib       [numKinds]calibration
	load        loadStats
	loadAstro   requests // counted by the Astro emulator during the load phase
	// astroProtocols counts the load phase's Astro requests (the most recent 10,000) by
	// protocol, e.g. "HTTP/2.0 over TLS".
	astroProtocols map[string]int
	// conns counts the connections the bot opened to each API over the whole run, beside the
	// requests it sent them: a client that dialled per request would pay a TLS handshake each.
	conns connections
	// astroLate is how much later than asked the Astro emulator answered in the load phase.
	astroLate []time.Duration
	// astroShare is each change's end-to-end time less the time Astro had its requests.
	astroShare beyondAstro
	orgTokens  int
	// botAck is the bot's own ack-time histogram over the load phase; botAckErr says why not.
	botAck    histogram
	botAckErr error
	// botCounters are the bot's heap allocation and GC cycles over the load phase.
	botCounters botCounters
	// stacks is how deep commands waiting on Astro were, from a goroutine dump at the end.
	stacks stackProbe
	// goMemAfter is the Go runtime's account of the bot's memory when the load ends.
	goMemAfter goMemory
	// CPU used during the load phase by the bot, and by this process (driver and emulators).
	botCPU, harnessCPU time.Duration
	// machine is the whole machine's CPU over the load phase; machineErr says why not.
	machine    machineCPU
	machineErr error
}

// calibration is one command of a kind, run alone, and the Astro requests it made.
type calibration struct {
	ran     bool
	bot     requests
	cli     requests
	pattern string // the bot's requests in order, e.g. "list, get, write"
	ack     time.Duration
	e2e     time.Duration
	failure string
}

// driver types commands into the Slack emulator and waits for their answers.
type driver struct {
	slack   *slackemu.Emulator
	astro   *astroemu.Server
	posts   map[string]<-chan channelPost // by channel
	timeout time.Duration

	answered atomic.Int64 // commands of the load phase answered (or given up on) so far
	// rssStep and rssDue: each time answered reaches a multiple of rssStep, the count is sent
	// on rssDue (without waiting) for sampleRSS to read the bot's RSS.
	rssStep int64
	rssDue  chan int64
}

// measure runs the whole experiment: build, start, seed, calibrate, load.
func measure(ctx context.Context, o options, stdout io.Writer) (*results, error) {
	dir, err := os.MkdirTemp("", "orgtoken-load-")
	if err != nil {
		return nil, err
	}
	res := &results{}
	if !o.keep {
		defer func() { _ = os.RemoveAll(dir) }()
	}

	bin := o.bin
	if bin == "" {
		if bin, err = buildBot(ctx, dir); err != nil {
			return nil, err
		}
		res.binaryBuilt = true
	}
	if fi, err := os.Stat(bin); err == nil {
		res.binarySize = fi.Size()
	}

	users := make([]*user, o.users)
	for i := range users {
		users[i] = newUser(i, o.seed)
	}
	// Like the real APIs, the emulators speak HTTPS, so the bot multiplexes its requests over
	// HTTP/2 as it does in production; the bot trusts their certificate through SSL_CERT_FILE.
	var cert *loopbacktls.Certificate
	if !o.plainHTTP {
		if cert, err = loopbacktls.New(); err != nil {
			return nil, err
		}
	}
	sl, err := newSlack(users, cert)
	if err != nil {
		return nil, err
	}
	defer func() { _ = sl.Close() }()
	tap, err := startPostTap(sl.Handler(), cert)
	if err != nil {
		return nil, err
	}
	defer tap.close()
	// Every answer of the load phase is kept, so each change can be paired with its requests.
	astroOpts := astroemu.Options{OrganizationID: orgID, APIToken: astroToken, MaxRecorded: max(10_000, 4*o.commands)}
	if cert != nil {
		astroOpts.TLS = cert.ServerConfig()
	}
	as, err := astroemu.Start(astroOpts)
	if err != nil {
		return nil, err
	}
	defer as.Close()

	og := seedOrg(as, o.tokens, o.changeWorkspaces)
	assignSlots(users, og)
	d := &driver{slack: sl, astro: as, posts: map[string]<-chan channelPost{}, timeout: o.replyTimeout}
	admins := make([]string, len(users))
	for i, u := range users {
		d.posts[u.channel] = tap.subscribe(u.channel)
		admins[i] = u.id
	}

	env := map[string]string{
		"SLACK_APP_TOKEN":       appToken,
		"SLACK_BOT_TOKEN":       botToken,
		"SLACK_API_URL":         tap.url,
		"ASTRO_API_TOKEN":       astroToken,
		"ASTRO_ORGANIZATION_ID": orgID,
		"ASTRO_API_URL":         as.URL(),
		"ASTRO_WORKSPACE_ID":    og.listWorkspace,
		"ORGTOKEN_ADMINS":       strings.Join(admins, ","),
		"ORGTOKEN_DATABASE_URL": "sqlite://" + dir + "/orgtoken.db",
		"ORGTOKEN_WORKERS":      strconv.Itoa(o.workers),
		"ORGTOKEN_QUEUE_SIZE":   strconv.Itoa(o.queue),
		"ORGTOKEN_LOG_LEVEL":    o.logLevel,
		"ORGTOKEN_HTTP_ADDR":    "127.0.0.1:0",
		// Only read at the end, by probeStacks: a dump at this level gives each frame's stack pointers.
		"GOTRACEBACK": "system",
	}
	metricsURL := ""
	if addr, err := freeLoopbackAddr(); err == nil {
		env["ORGTOKEN_HTTP_ADDR"] = addr
		metricsURL = "http://" + addr + "/metrics"
	}
	if cert != nil {
		caFile := filepath.Join(dir, "emulators-ca.pem")
		if err := os.WriteFile(caFile, cert.CAPEM, 0o600); err != nil {
			return nil, err
		}
		env["SSL_CERT_FILE"] = caFile
	}
	for _, kv := range o.botEnv {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	opened := sl.ConnectionsOpened()
	start := time.Now()
	bot, err := startBot(bin, dir, env)
	if err != nil {
		return nil, err
	}
	defer func() { _ = bot.stop(10 * time.Second) }()
	connCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = sl.WaitConnectionsOpened(connCtx, opened+1)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("the bot never opened a Socket Mode connection (%v); its log ends:\n%s", err, bot.logTail(20))
	}
	res.startup = time.Since(start)

	if err := sleep(ctx, o.settle); err != nil {
		return nil, err
	}
	res.idle, res.memErr = bot.memory()

	res.orgTokens = o.tokens
	res.calib = d.calibrate(ctx, users[0], og)

	for _, ep := range []astroemu.Endpoint{astroemu.EndpointListTokens, astroemu.EndpointGetToken, astroemu.EndpointUpdateRoles, astroemu.EndpointListWorkspaces} {
		as.SetLatency(ep, o.astroLatency)
		as.SetLatencyJitter(ep, o.astroJitter)
	}
	as.ResetRequests()
	pageBefore, scrapeErr := scrapeMetrics(ctx, metricsURL)
	botCPU0, _ := bot.cpuTime()
	selfCPU0 := selfCPUTime()
	machine0, machineErr := readMachineCPU()
	stopProfile, err := startCPUProfile(o.cpuProfile)
	if err != nil {
		return nil, err
	}
	d.rssStep, d.rssDue = rssSampleStep(o.commands), make(chan int64, 8)
	sampled := sampleRSS(ctx, bot, metricsURL, d.rssDue)
	res.load = d.runLoad(ctx, users, o, og.listWorkspace)
	res.rssDuring = sampled()
	stopProfile()
	botCPU1, _ := bot.cpuTime()
	res.botCPU, res.harnessCPU = botCPU1-botCPU0, selfCPUTime()-selfCPU0
	machine1, err := readMachineCPU()
	res.machine, res.machineErr = machine1.since(machine0), cmp.Or(machineErr, err)
	pageAfter, err := scrapeMetrics(ctx, metricsURL)
	if scrapeErr == nil {
		scrapeErr = err
	}
	res.botAck, res.botAckErr = histogramBetween(pageBefore, pageAfter, botAckMetric)
	res.botCounters = countersBetween(pageBefore, pageAfter)
	res.goMemAfter = goMemoryOf(pageAfter)
	if scrapeErr != nil {
		res.botAckErr, res.botCounters.err, res.goMemAfter.err = scrapeErr, scrapeErr, scrapeErr
	}
	res.loadAstro = requests{
		lists:  as.CountRequests(astroemu.EndpointListTokens),
		gets:   as.CountRequests(astroemu.EndpointGetToken),
		writes: as.CountRequests(astroemu.EndpointUpdateRoles),
		other:  as.CountRequests(astroemu.EndpointListWorkspaces),
	}
	res.astroLate = as.Lateness()
	answers := as.Answers()
	res.astroProtocols = protocols(as.Requests())
	res.conns = connections{astro: as.Connections(), webAPI: int(tap.conns.Load()), webAPIRequests: int(tap.requests.Load())}
	if bot.exited() {
		return nil, fmt.Errorf("the bot exited during the run; its log ends:\n%s", bot.logTail(20))
	}
	if res.after, err = bot.memory(); err != nil && res.memErr == nil {
		res.memErr = err
	}
	if err := sleep(ctx, o.rest); err != nil {
		return nil, err
	}
	res.rest, _ = bot.memory()
	res.restAfter = o.rest
	// Read after the rest: by now the bot has logged every command it answered.
	ids, err := commandRequestIDsFrom(bot.logPath)
	res.astroShare = chargeChanges(res.load.outcomes, ids, answers)
	res.astroShare.err = err
	res.stacks = d.probeStacks(ctx, bot, users[0], og) // ends the bot
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if o.keep {
		fmt.Fprintf(stdout, "work dir kept: %s (bot binary, bot.log, orgtoken.db)\n", dir)
	}
	return res, nil
}

// connections are what the bot opened to the Astro emulator and the Slack Web API over a run.
type connections struct {
	astro, webAPI  int
	webAPIRequests int
}

// protocols counts requests by how they arrived.
func protocols(recs []astroemu.RecordedRequest) map[string]int {
	out := map[string]int{}
	for _, r := range recs {
		p := r.Proto
		if r.TLS {
			p += " over TLS"
		}
		out[p]++
	}
	return out
}

// assignSlots gives each user tokens of their own (never tokens[0], which calibration uses),
// spread over the change workspaces, so no two users ever wait on the same per-token lock.
func assignSlots(users []*user, og org) {
	for i, t := range og.tokens[1:] {
		u := users[i%len(users)]
		ws := og.changeWorkspaces[(i/len(users))%len(og.changeWorkspaces)]
		u.slots = append(u.slots, &slot{token: t, workspace: ws})
	}
}

// calibrate runs one command of each kind alone (after a warm-up pass), with Astro answering at once, and records the
// Astro requests each made. Alone, nothing else can be blamed for a request. The calibration
// token lives in the listed workspace, so the astro CLI's lookups (which page through that
// workspace) are counted for the full organization.
func (d *driver) calibrate(ctx context.Context, u *user, og org) [numKinds]calibration {
	var out [numKinds]calibration
	s := &slot{token: og.tokens[0], workspace: og.listWorkspace, role: roleMember}
	// From member: update, remove, add by name, then the same by ID; the token ends as it began.
	plan := []command{listCommand(og.listWorkspace)}
	for _, byName := range []bool{true, false} {
		for range 3 {
			c := changeCommand(s, byName)
			plan = append(plan, c)
			s.role = c.wantRole
		}
	}
	s.role = roleMember
	// The plan runs twice and the second pass is kept: caches the bot fills on first use (the
	// workspace list, say) would otherwise be charged to whichever command came first.
	for _, c := range slices.Concat(plan, plan) {
		size := d.orgSize(c.workspace)
		d.astro.ResetRequests()
		oc := d.execute(ctx, u, c)
		recs := d.astro.Requests()
		cal := calibration{ran: true, bot: countRequests(recs), cli: astroCLIRequests(c.kind, size), pattern: describe(recs),
			ack: oc.ack, e2e: oc.e2e, failure: oc.failure}
		if !oc.answered && cal.failure == "" {
			cal.failure = "unanswered"
		}
		out[c.kind] = cal
		d.settle(c, oc)
	}
	return out
}

// orgSize counts what the astro CLI's paging depends on, as the organization is now.
func (d *driver) orgSize(ws string) orgSize {
	var size orgSize
	for _, t := range d.astro.Tokens() {
		if t.Type == astroemu.TypeOrganization {
			size.orgTokens++
		}
		if roleIn(t, ws) != "" {
			size.workspaceTokens++
		}
	}
	return size
}

func describe(recs []astroemu.RecordedRequest) string {
	names := map[astroemu.Endpoint]string{
		astroemu.EndpointListTokens:     "list",
		astroemu.EndpointGetToken:       "get",
		astroemu.EndpointUpdateRoles:    "write",
		astroemu.EndpointListWorkspaces: "list workspaces",
	}
	parts := make([]string, len(recs))
	for i, r := range recs {
		parts[i] = names[r.Endpoint]
		if parts[i] == "" {
			parts[i] = r.Method + " " + r.Path
		}
	}
	return strings.Join(parts, ", ")
}

// settle records what a change did to its slot: the asked-for role on success, otherwise the
// role Astro actually holds, so the user's next command still makes sense.
func (d *driver) settle(c command, oc outcome) {
	if c.slot == nil {
		return
	}
	if oc.failure == "" {
		c.slot.role = c.wantRole
		return
	}
	if t, ok := d.astro.Token(c.slot.token.ID); ok {
		c.slot.role = roleIn(t, c.slot.workspace)
	}
}

// runLoad has every user type commands back to back until n have been sent in total.
func (d *driver) runLoad(ctx context.Context, users []*user, o options, listWS string) loadStats {
	var issued atomic.Int64
	per := make([][]outcome, len(users))
	start := time.Now()
	var wg sync.WaitGroup
	for i, u := range users {
		wg.Go(func() {
			// Users start evenly over the ramp rather than all in the same instant.
			if err := sleep(ctx, o.ramp*time.Duration(i)/time.Duration(len(users))); err != nil {
				return
			}
			for ctx.Err() == nil && issued.Add(1) <= int64(o.commands) {
				c := u.nextCommand(o.mix, listWS)
				oc := d.execute(ctx, u, c)
				d.settle(c, oc)
				if n := d.answered.Add(1); d.rssDue != nil && n%d.rssStep == 0 {
					select {
					case d.rssDue <- n:
					default: // the sampler is behind; skip this reading
					}
				}
				per[i] = append(per[i], oc)
			}
		})
	}
	wg.Wait()
	st := loadStats{wall: time.Since(start)}
	for _, p := range per {
		st.outcomes = append(st.outcomes, p...)
	}
	return st
}

// execute types one command as u and waits for its answer: for a lookup the response_url
// post, for a change the announcement in u's channel. A reply of the wrong kind (a refusal,
// an error, "busy") is a failure.
func (d *driver) execute(ctx context.Context, u *user, c command) outcome {
	out := outcome{kind: c.kind}
	posts := d.posts[u.channel]
	for len(posts) > 0 {
		<-posts // late announcements of earlier, timed-out commands
	}
	start := time.Now()
	out.sent = start
	in, err := d.slack.SlashCommand(ctx, slackemu.Slash{UserID: u.id, ChannelID: u.channel, Command: "/orgtoken", Text: c.text})
	if err != nil {
		out.failure = "not delivered: " + err.Error()
		return out
	}
	waitCtx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	ack, err := in.WaitAck(waitCtx)
	if err != nil {
		out.failure = "not acknowledged: " + err.Error()
		return out
	}
	out.envelopeID = in.EnvelopeID
	out.acked, out.ack, out.ackRead = true, ack.Latency, ack.ReadLatency
	if len(ack.Payload) > 0 && string(ack.Payload) != "{}" {
		// The bot answers in the ack only when it turns a command away.
		out.answered, out.e2e = true, time.Since(start)
		out.failure = "answered in the ack: " + snippet(string(ack.Payload))
		return out
	}

	// A lookup answers through response_url, so it waits on that. A change answers in the
	// channel; only a refusal or an error goes to response_url, and that is checked now and
	// then rather than waited on: every waiter wakes on every change the emulator records and
	// takes its lock, and with hundreds waiting that would delay the acks being measured.
	responses := make(chan slackemu.ResponsePost, 1)
	var poll <-chan time.Time
	if c.kind == kindList {
		go func() {
			if p, err := in.WaitResponse(waitCtx); err == nil {
				responses <- p
			}
		}()
	} else {
		t := time.NewTicker(changeRefusalPoll)
		defer t.Stop()
		poll = t.C
	}
	for {
		select {
		case <-poll:
			if ps := in.Responses(); len(ps) > 0 {
				responses <- ps[0]
			}
		case p := <-posts:
			if c.slot == nil || !strings.Contains(p.text, c.slot.token.ID) {
				continue
			}
			out.answered, out.e2e = true, p.at.Sub(start)
			if !p.ok || !strings.HasPrefix(p.text, successTitle(c.kind)) {
				out.failure = "in channel: " + snippet(p.text)
			}
			return out
		case p := <-responses:
			out.answered, out.e2e = true, time.Since(start)
			if c.kind != kindList || p.Status != 200 || !strings.HasPrefix(p.Text, listTitle) {
				out.failure = "reply: " + snippet(p.Text)
			}
			return out
		case <-waitCtx.Done():
			out.failure = "no reply within " + d.timeout.String()
			if errors.Is(ctx.Err(), context.Canceled) {
				out.failure = "interrupted"
			}
			return out
		}
	}
}

// changeRefusalPoll is how often a change checks for an answer on response_url.
const changeRefusalPoll = 100 * time.Millisecond

func snippet(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 120 {
		return s[:120] + "…"
	}
	return s
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// startCPUProfile profiles this process into path until the returned function is called (a
// no-op without a path): what the harness spends is CPU the bot could not have.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("-cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("-cpuprofile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
