// Package bot connects the command layer to Slack over Socket Mode: it acks every envelope at
// once, hands the work to a bounded pool of workers, and delivers replies through response_url
// or the Web API. It holds no command logic of its own.
package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/orgtoken/orgtoken-bot/commands"
	"github.com/orgtoken/orgtoken-bot/reply"
	"github.com/orgtoken/orgtoken-bot/reply/blockkit"
)

// Commands is the command layer as the bot uses it.
type Commands interface {
	Run(ctx context.Context, req commands.Request) reply.Reply
	Act(ctx context.Context, act commands.Action) reply.Reply
}

// SlackAPI is the part of the Slack Web API the bot posts through (*WebAPI satisfies it).
type SlackAPI interface {
	// PostBlocks posts a message (in a thread when threadTS is not "") and returns its timestamp.
	PostBlocks(ctx context.Context, channelID, threadTS string, blocks []slack.Block, text string) (string, error)
	PostEphemeralContext(ctx context.Context, channelID, userID string, options ...slack.MsgOption) (string, error)
	UpdateMessageContext(ctx context.Context, channelID, timestamp string, options ...slack.MsgOption) (string, string, string, error)
}

// Metrics records what operators graph and alert on; *ops.Metrics satisfies it.
type Metrics interface {
	ObserveAck(took time.Duration)
	ObserveCommand(subcommand, outcome string, took time.Duration)
	SlackCallFailed(method string, err error)
	SlackReconnected()
}

// Inbox keeps each envelope durable from just before its ack until it is answered, so a
// command acked by a replica that then dies is taken up by another (or by the same one after a
// restart), and a redelivered envelope is recognised by every replica.
type Inbox interface {
	// Save reports whether the envelope is new to every replica.
	Save(ctx context.Context, id, kind string, payload []byte, lease time.Duration) (bool, error)
	Finish(ctx context.Context, id string) error
	// ClaimOrphans takes over envelopes whose lease ran out unanswered.
	ClaimOrphans(ctx context.Context, lease time.Duration) ([]SavedEnvelope, error)
	// Release hands back a claimed envelope the bot has no worker for, without spending one of
	// its attempts, so that it is taken up soon (here or elsewhere) rather than closed unrun.
	Release(ctx context.Context, id string) error
}

// SavedEnvelope is an envelope taken back from the Inbox.
type SavedEnvelope struct {
	ID      string
	Kind    string // socketmode.RequestTypeSlashCommands or RequestTypeInteractive
	Payload []byte
}

// Config tunes the bot.
type Config struct {
	CommandName     string        // the slash command this bot answers, e.g. "/orgtoken"
	Workers         int           // commands handled at once
	QueueSize       int           // envelopes waiting for a worker before new ones are turned away
	ShutdownTimeout time.Duration // how long in-flight commands may take to finish on shutdown
	Logger          *slog.Logger
	Metrics         Metrics // nil records nothing
	Inbox           Inbox   // nil: envelopes live only in memory, de-duplicated in this process
	// InboxLease is how long an unanswered envelope stays with the replica that acked it
	// before others may take it up.
	InboxLease time.Duration
	// TraceAstro, when set, returns a context in which Astro request IDs are noted, and a
	// function listing them; each command's log line then names the Astro requests behind it.
	TraceAstro func(context.Context) (context.Context, func() []string)
	// SaveBeforeAck puts each envelope in the Inbox before acking it, closing the window in
	// which a replica killed outright loses commands it acked but had not yet saved. It costs a
	// store write on the ack path, so it is for replicas sharing PostgreSQL; a single SQLite
	// replica saves as a worker takes the envelope up.
	SaveBeforeAck bool
	// Pickers, Views and Gate enable the change modal; without any of them a bare
	// add/update/remove gets the usage text. Gate decides, for each person and channel, what
	// the form may show them.
	Pickers Pickers
	Views   ViewsAPI
	Gate    Gate
	// HTTPClient posts to response_url; nil uses http.DefaultClient.
	HTTPClient *http.Client
	// ReleaseMemoryAfter is how long the bot must have run no command before it returns the
	// heap's free memory to the OS (0: leave it to the Go runtime).
	ReleaseMemoryAfter time.Duration
}

// Bot is the Socket Mode adapter.
type Bot struct {
	cfg       Config
	sm        *socketmode.Client
	api       SlackAPI
	cmds      Commands
	log       *slog.Logger
	seen      *seenEnvelopes
	jobs      chan job
	notices   chan job // overflow: "busy, retry" answers for envelopes the pool could not take
	held      sync.Map // envelope IDs queued or running here, so recovery never re-runs our own
	connected atomic.Bool
	everUp    atomic.Bool
	stopping  atomic.Bool
	idle      *idleRelease
	finishing sync.WaitGroup // turned-away envelopes being marked answered, off the read path
	answering sync.WaitGroup // type-ahead answers being decided, off the read path

	// runSlack is slack-go's Socket Mode loop, and now and after tell and wait out time for
	// runSocket; tests replace them to make slack-go give up on cue under a clock they move.
	runSlack func(context.Context) error
	now      func() time.Time
	after    func(time.Duration) <-chan time.Time
}

// New builds a bot. sm must have been created with socketmode.New over a *slack.Client.
func New(sm *socketmode.Client, api SlackAPI, cmds Commands, cfg Config) *Bot {
	if cfg.Workers < 1 {
		cfg.Workers = 1
	}
	if cfg.QueueSize < 1 {
		cfg.QueueSize = 1
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = noMetrics{}
	}
	if cfg.InboxLease <= 0 {
		cfg.InboxLease = 2 * time.Minute
	}
	return &Bot{
		cfg:     cfg,
		sm:      sm,
		api:     api,
		cmds:    cmds,
		log:     cfg.Logger,
		seen:    newSeenEnvelopes(time.Hour, 100_000),
		jobs:    make(chan job, cfg.QueueSize),
		notices: make(chan job, 64),
		idle:    newIdleRelease(cfg.ReleaseMemoryAfter),

		runSlack: sm.RunContext,
		now:      time.Now,
		after:    time.After,
	}
}

// Connected reports whether the Socket Mode link is up, for readiness checks.
func (b *Bot) Connected() bool { return b.connected.Load() }

// ErrSlackAuth means Slack refused the app token; retrying cannot help.
var ErrSlackAuth = errors.New("slack rejected the app-level token")

// Run connects and serves until ctx ends (then it shuts down gracefully and returns nil) or
// Slack refuses the credentials.
func (b *Bot) Run(ctx context.Context) error {
	// Work outlives ctx a little: on shutdown in-flight commands get ShutdownTimeout to finish.
	workCtx, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()

	// A goroutine per command, at most Workers at once, rather than Workers long-lived ones: a
	// long-lived worker keeps the deepest stack any earlier command grew it to (rendering and
	// encoding a reply) through every later command's second or so waiting on Astro, and an
	// idle bot keeps them all. Under load this saved ≈ 1 MB of stacks (7.0 → 5.7 MB).
	var workers sync.WaitGroup
	slots := make(chan struct{}, b.cfg.Workers)
	workers.Go(func() {
		for {
			slots <- struct{}{} // a job leaves the queue only when it can start
			j, ok := <-b.jobs
			if !ok {
				return
			}
			b.idle.begin()
			workers.Go(func() {
				defer func() { <-slots }()
				defer b.idle.end()
				b.runJob(workCtx, j)
			})
		}
	})
	workers.Add(1)
	go func() {
		defer workers.Done()
		for j := range b.notices {
			if workCtx.Err() != nil {
				// Past the shutdown timeout: no last try for each one in turn (see deliver),
				// which would hold up the exit.
				b.log.Warn("could not tell the user the bot is busy: shutting down", "envelope_id", j.envelopeID)
				continue
			}
			b.deliverBusy(workCtx, j)
		}
	}()

	sockCtx, cancelSock := context.WithCancel(ctx)
	defer cancelSock()
	var recovering sync.WaitGroup
	if b.cfg.Inbox != nil {
		recovering.Go(func() { b.recoverOrphans(sockCtx) })
	}
	runErr := make(chan error, 1)
	go func() { runErr <- b.runSocket(sockCtx) }()

	var err error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case err = <-runErr:
			break loop
		case evt := <-b.sm.Events:
			b.handleEvent(evt)
		}
	}

	// Stop taking envelopes, then let queued and in-flight commands finish within the bound.
	b.stopping.Store(true)
	b.idle.stop()
	cancelSock()
	b.connected.Store(false)
	// Recovery must be done before the queue closes (it enqueues) and before the caller closes
	// the store (it claims envelopes there).
	recovering.Wait()
	close(b.jobs)
	close(b.notices)
	done := make(chan struct{})
	go func() { workers.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(b.cfg.ShutdownTimeout):
		b.log.Warn("shutdown timeout: cancelling commands still running", "timeout", b.cfg.ShutdownTimeout)
		cancelWork()
		<-done
	}
	b.finishing.Wait() // before the caller closes the store
	b.answering.Wait()
	return err
}

// runJob runs one queued command or interaction from saving it to finishing it.
func (b *Bot) runJob(ctx context.Context, j job) {
	if ctx.Err() != nil {
		b.deferToRestart(j)
		return
	}
	if !b.save(ctx, j) {
		return
	}
	b.process(ctx, j)
	b.finish(j)
}

// runSocket restarts slack-go's loop after firstReconnectWait, doubling up to
// maxReconnectWait while it keeps giving up soon after it starts.
const (
	firstReconnectWait = time.Second
	maxReconnectWait   = time.Minute
)

// runSocket keeps the Socket Mode link up. slack-go already reconnects with backoff on its own;
// this loop also survives the errors it gives up on, except a refused token.
func (b *Bot) runSocket(ctx context.Context) error {
	backoff := firstReconnectWait
	for {
		started := b.now()
		err := b.runSlack(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if isFatalAuth(err) {
			return fmt.Errorf("%w (%v): check SLACK_APP_TOKEN and that Socket Mode is enabled for the app", ErrSlackAuth, err)
		}
		b.connected.Store(false)
		// The backoff is there to keep this loop from spinning when slack-go gives up again and
		// again. A run that lasted at least the longest wait was no such spin (slack-go kept the
		// link up, or paced its own retries), so start over from the shortest: otherwise a few
		// give-ups spread over days left every later reconnect waiting a minute. The run's
		// length is known here for certain; the link's uptime would race the events reporting it.
		if b.now().Sub(started) >= maxReconnectWait {
			backoff = firstReconnectWait
		}
		b.log.Warn("slack socket mode stopped; reconnecting", "error", err, "backoff", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-b.after(backoff):
		}
		backoff = min(2*backoff, maxReconnectWait)
	}
}

func isFatalAuth(err error) bool {
	if err == nil {
		return false
	}
	var sce slack.StatusCodeError
	if errors.As(err, &sce) && sce.Code == 404 {
		return true
	}
	switch err.Error() {
	case "invalid_auth", "account_inactive", "not_authed", "token_revoked":
		return true
	}
	return false
}

// job is one envelope's work, taken by a worker after the ack.
type job struct {
	envelopeID string
	received   time.Time
	slash      *slack.SlashCommand
	callback   *slack.InteractionCallback
	// kind and payload are the raw envelope, kept for the Inbox; empty for recovered jobs,
	// which are in it already.
	kind    string
	payload []byte
}

// handleEvent runs on the read path: it acks first and never does network I/O itself.
func (b *Bot) handleEvent(evt socketmode.Event) {
	switch evt.Type {
	case socketmode.EventTypeConnecting:
		// slack-go emits this before every (re)connect attempt, so the link is down right now.
		b.connected.Store(false)
		b.log.Debug("connecting to Slack")
	case socketmode.EventTypeConnected, socketmode.EventTypeHello:
		if !b.connected.Swap(true) {
			b.log.Info("connected to Slack")
			if b.everUp.Swap(true) {
				b.cfg.Metrics.SlackReconnected()
			}
		}
	case socketmode.EventTypeConnectionError:
		b.connected.Store(false)
		b.log.Warn("slack connection failed; slack-go retries with backoff", "error", errorOf(evt.Data))
	case socketmode.EventTypeInvalidAuth:
		b.connected.Store(false)
		b.log.Error("slack rejected the app-level token")
	case socketmode.EventTypeDisconnect:
		b.connected.Store(false)
		b.log.Info("slack asked to reconnect")
	case socketmode.EventTypeSlashCommand:
		cmd, ok := evt.Data.(slack.SlashCommand)
		if !ok || evt.Request == nil {
			b.log.Warn("slash command envelope without a usable payload")
			return
		}
		b.onSlashCommand(evt.Request, cmd)
	case socketmode.EventTypeInteractive:
		cb, ok := evt.Data.(slack.InteractionCallback)
		if !ok || evt.Request == nil {
			b.log.Warn("interactive envelope without a usable payload")
			return
		}
		b.onInteraction(evt.Request, cb)
	case socketmode.EventTypeEventsAPI:
		if evt.Request != nil {
			b.ack(evt.Request, nil)
		}
	case socketmode.EventTypeIncomingError, socketmode.EventTypeErrorBadMessage, socketmode.EventTypeErrorWriteFailed:
		b.log.Warn("unusable socket mode frame", "type", evt.Type, "error", errorOf(evt.Data))
	default:
		b.log.Debug("socket mode event ignored", "type", evt.Type)
	}
}

func (b *Bot) onSlashCommand(req *socketmode.Request, cmd slack.SlashCommand) {
	received := time.Now()
	if cmd.Command != b.cfg.CommandName {
		b.ack(req, nil)
		b.log.Info("ignored a slash command this bot does not serve", "command", cmd.Command, "envelope_id", req.EnvelopeID)
		return
	}
	if !b.seen.firstTime(req.EnvelopeID, received) {
		b.ack(req, nil)
		b.log.Info("duplicate envelope ignored", "envelope_id", req.EnvelopeID)
		return
	}
	j := job{envelopeID: req.EnvelopeID, received: received, slash: &cmd, kind: req.Type, payload: req.Payload}
	if !b.saveBeforeAck(&j) {
		b.ack(req, nil)
		return
	}
	if b.enqueue(j) {
		b.ack(req, nil)
		b.cfg.Metrics.ObserveAck(time.Since(received))
		return
	}
	// The immediate reply in the ack costs no extra call, so a busy bot still answers.
	b.ack(req, map[string]any{"response_type": "ephemeral", "text": busyText})
	b.cfg.Metrics.ObserveAck(time.Since(received))
	b.cfg.Metrics.ObserveCommand(firstWord(cmd.Text), "busy", 0)
	b.log.Warn("command turned away: all workers busy", "envelope_id", req.EnvelopeID, "user", cmd.UserID)
	b.turnedAway(j) // the user was told it did not run; no replica may take it up later
}

func (b *Bot) onInteraction(req *socketmode.Request, cb slack.InteractionCallback) {
	received := time.Now()
	switch cb.Type {
	case slack.InteractionTypeBlockSuggestion:
		// The options are the ack's payload, computed from memory. Who may see them is decided
		// first, which can wait on Slack for user-group members, so off the read path and
		// within Slack's 3 seconds; a decision not made in time offers nothing.
		b.answering.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), suggestDeadline)
			defer cancel()
			b.ack(req, b.suggest(ctx, &cb))
			b.cfg.Metrics.ObserveAck(time.Since(received))
		})
		return
	case slack.InteractionTypeViewClosed:
		b.ack(req, nil)
		return
	case slack.InteractionTypeViewSubmission:
		// Inline validation must travel in the ack (response_action: errors).
		validate := validateSubmission
		if cb.View.CallbackID == confirmModalID {
			validate = validateConfirm
		}
		if errs := validate(&cb); len(errs) > 0 {
			b.ack(req, slack.NewErrorsViewSubmissionResponse(errs))
			b.cfg.Metrics.ObserveAck(time.Since(received))
			return
		}
	}
	j := job{envelopeID: req.EnvelopeID, received: received, callback: &cb, kind: req.Type, payload: req.Payload}
	fresh := b.seen.firstTime(req.EnvelopeID, received) && b.saveBeforeAck(&j)
	b.ack(req, nil)
	b.cfg.Metrics.ObserveAck(time.Since(received))
	if !fresh {
		b.log.Info("duplicate envelope ignored", "envelope_id", req.EnvelopeID)
		return
	}
	if b.enqueue(j) {
		return
	}
	b.log.Warn("interaction turned away: all workers busy", "envelope_id", req.EnvelopeID, "user", cb.User.ID)
	b.turnedAway(j)
	select {
	case b.notices <- j:
	default:
		b.log.Error("could not tell the user the bot is busy: notice queue full", "envelope_id", req.EnvelopeID, "user", cb.User.ID)
	}
}

// suggestDeadline bounds deciding a type-ahead answer, leaving room in Slack's 3 seconds.
const suggestDeadline = 2 * time.Second

const busyText = "orgtoken-bot is busy right now and did not run this. Nothing was changed; please try again in a moment."

func (b *Bot) enqueue(j job) bool {
	if b.stopping.Load() {
		return false
	}
	if _, dup := b.held.LoadOrStore(j.envelopeID, struct{}{}); dup && j.envelopeID != "" {
		return true // already queued or running here (a recovered copy of our own envelope)
	}
	select {
	case b.jobs <- j:
		return true
	default:
		b.held.Delete(j.envelopeID)
		return false
	}
}

// ack answers the envelope. It is bounded so a dead link cannot stall the read loop; slack-go
// queues the frame for its writer goroutine.
func (b *Bot) ack(req *socketmode.Request, payload any) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := b.sm.AckCtx(ctx, req.EnvelopeID, payload); err != nil {
		b.log.Warn("ack failed", "envelope_id", req.EnvelopeID, "error", err)
	}
}

func (b *Bot) process(ctx context.Context, j job) {
	start := time.Now()
	if b.cfg.TraceAstro != nil {
		var ids func() []string
		ctx, ids = b.cfg.TraceAstro(ctx)
		ctx = context.WithValue(ctx, astroIDsKey{}, ids)
	}
	defer b.recoverCommand(ctx, &j)
	switch {
	case j.slash != nil:
		b.processSlash(ctx, &j, start)
	case j.callback != nil:
		b.processInteraction(ctx, j, start)
	}
}

// recoverCommand, deferred, keeps a bug in one command from taking the bot down; the user is
// told, and it is logged.
func (b *Bot) recoverCommand(ctx context.Context, j *job) {
	if p := recover(); p != nil {
		b.log.Error("command panicked", "envelope_id", j.envelopeID, "panic", fmt.Sprint(p))
		b.deliver(ctx, targetOf(*j), reply.Reply{Tone: reply.Failure, Title: "Something went wrong",
			Body: []reply.Line{reply.Para("orgtoken-bot hit an internal error (ref " + refFor(j.envelopeID) + "). Nothing was changed by this step; an operator can find the details in the logs.")}})
	}
}

// processSlash runs a slash command. What happens after the command ran is in answerSlash, so
// that while the command waits on Astro its goroutine's stack holds only this small frame
// (a command's stack then stays within 8 KB instead of growing to 16 KB, for every command in
// flight).
func (b *Bot) processSlash(ctx context.Context, j *job, start time.Time) {
	c := j.slash
	if verb, ok := modalVerb(c.Text); ok && b.changeForm(ctx, j, verb, start) {
		return
	}
	r := b.cmds.Run(ctx, commands.Request{
		UserID:    c.UserID,
		UserName:  c.UserName,
		ChannelID: c.ChannelID,
		Text:      slackEntities.Replace(c.Text),
	})
	b.answerSlash(ctx, j, &r, start)
}

// slackEntities undoes the escaping Slack applies to text people type: &, < and > are its
// control characters and arrive as entities, so without this a token named "R&D <ci>" could
// not be named in a command. Slack encodes nothing else.
var slackEntities = strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">")

// changeForm answers a bare add/update/remove with the form, or with list's refusal to whoever
// may not list here, as the form offers every token and workspace. It reports false when the
// form is off or could not open, so the command is answered as typed.
func (b *Bot) changeForm(ctx context.Context, j *job, verb string, start time.Time) bool {
	c := j.slash
	if !b.formEnabled() || c.TriggerID == "" {
		return false
	}
	if r, ok := b.mayList(ctx, c.UserID, c.ChannelID); !ok {
		b.answerSlash(ctx, j, &r, start)
		return true
	}
	if !b.openChangeModal(ctx, verb, c.ChannelID, c.TriggerID) {
		return false
	}
	b.logModal(j, verb, start)
	return true
}

func (b *Bot) logModal(j *job, verb string, start time.Time) {
	c := j.slash
	b.log.Info("command", "envelope_id", j.envelopeID, "user", c.UserID, "channel", c.ChannelID,
		"subcommand", verb, "outcome", "modal", "duration_ms", time.Since(start).Milliseconds())
}

// answerSlash delivers a slash command's reply and records it.
func (b *Bot) answerSlash(ctx context.Context, j *job, r *reply.Reply, start time.Time) {
	c := j.slash
	b.deliver(ctx, targetOf(*j), *r)
	b.log.Info("command", "envelope_id", j.envelopeID, "user", c.UserID, "channel", c.ChannelID,
		"subcommand", firstWord(c.Text), "outcome", outcome(*r), "duration_ms", time.Since(start).Milliseconds(), astroIDs(ctx))
	b.cfg.Metrics.ObserveCommand(firstWord(c.Text), outcome(*r), time.Since(j.received))
}

func (b *Bot) processInteraction(ctx context.Context, j job, start time.Time) {
	cb := j.callback
	if cb.Type == slack.InteractionTypeViewSubmission {
		if cb.View.CallbackID == confirmModalID {
			b.submitConfirm(ctx, j, start)
		} else {
			b.submitChangeModal(ctx, j, start)
		}
		return
	}
	if cb.Type != slack.InteractionTypeBlockActions {
		b.log.Info("interaction type not handled", "type", cb.Type, "envelope_id", j.envelopeID)
		return
	}
	if cb.View.ID != "" && cb.View.CallbackID == changeModalID {
		b.refreshModal(ctx, cb)
		return
	}
	if len(cb.ActionCallback.BlockActions) == 0 {
		b.log.Warn("block_actions without actions", "envelope_id", j.envelopeID)
		return
	}
	for _, a := range cb.ActionCallback.BlockActions {
		// The renderer numbers repeated action IDs to keep them unique in a message.
		actionID := blockkit.BaseActionID(a.ActionID)
		if actionID == commands.ActionConfirm && b.openConfirmModal(ctx, cb, a.Value) {
			continue
		}
		r := b.cmds.Act(ctx, commands.Action{
			UserID:    cb.User.ID,
			UserName:  cb.User.Name,
			ChannelID: channelOf(cb),
			ActionID:  actionID,
			Value:     a.Value,
			MessageTS: cb.Container.MessageTs,
		})
		b.deliver(ctx, targetOf(j), r)
		b.log.Info("action", "envelope_id", j.envelopeID, "user", cb.User.ID, "action_id", a.ActionID,
			"outcome", outcome(r), "duration_ms", time.Since(start).Milliseconds(), astroIDs(ctx))
		b.cfg.Metrics.ObserveCommand(actionVerb(actionID), outcome(r), time.Since(j.received))
	}
}

func channelOf(cb *slack.InteractionCallback) string {
	if cb.Channel.ID != "" {
		return cb.Channel.ID
	}
	return cb.Container.ChannelID
}

func firstWord(s string) string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return "help"
	}
	if len(f[0]) > 32 {
		return f[0][:32]
	}
	return f[0]
}

func errorOf(v any) string {
	if e, ok := v.(error); ok {
		return e.Error()
	}
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

func refFor(envelopeID string) string {
	if len(envelopeID) > 8 {
		return envelopeID[:8]
	}
	return envelopeID
}

// actionVerb turns a button's action ID (e.g. "orgtoken.approve") into a metrics label.
func actionVerb(actionID string) string {
	if actionID == commands.ActionRevertNow {
		return "revert-now" // the subcommand the button stands for, not "now"
	}
	if i := strings.LastIndexByte(actionID, '.'); i >= 0 {
		return actionID[i+1:]
	}
	return actionID
}

type noMetrics struct{}

func (noMetrics) ObserveAck(time.Duration)                     {}
func (noMetrics) ObserveCommand(string, string, time.Duration) {}
func (noMetrics) SlackCallFailed(string, error)                {}
func (noMetrics) SlackReconnected()                            {}

// submitChangeModal runs the typed command a submitted form stands for and answers the person
// in the channel where they opened it.
func (b *Bot) submitChangeModal(ctx context.Context, j job, start time.Time) {
	cb := j.callback
	c, ok := readModal(cb)
	if !ok {
		b.log.Warn("view submission for an unknown form", "callback_id", cb.View.CallbackID, "envelope_id", j.envelopeID)
		return
	}
	r := b.cmds.Run(ctx, commands.Request{UserID: cb.User.ID, UserName: cb.User.Name, ChannelID: c.meta.Channel, Text: c.commandText()})
	b.deliver(ctx, target{channelID: c.meta.Channel, userID: cb.User.ID}, r)
	b.log.Info("command", "envelope_id", j.envelopeID, "user", cb.User.ID, "channel", c.meta.Channel,
		"subcommand", c.meta.Verb, "via", "modal", "outcome", outcome(r), "duration_ms", time.Since(start).Milliseconds(), astroIDs(ctx))
	b.cfg.Metrics.ObserveCommand(c.meta.Verb, outcome(r), time.Since(j.received))
}

type astroIDsKey struct{}

// astroIDs is the log attribute naming the Astro requests a command made so far.
func astroIDs(ctx context.Context) slog.Attr {
	ids, _ := ctx.Value(astroIDsKey{}).(func() []string)
	if ids == nil {
		return slog.Attr{}
	}
	return slog.Any("astro_request_ids", ids())
}
