// Package commands turns the text after /orgtoken into an action, carries it out against Astro
// through the small interfaces it declares, and answers with a reply.Reply. It knows nothing of
// Slack: the bot hands it a Request (or an Action for a button click) and renders the Reply.
//
// Commands are data: the table in defs.go lists every verb with its usage, flags, examples and
// handler, and both the router and the help text are built from it.
package commands

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/orgtoken/orgtoken-bot/astro"
	"github.com/orgtoken/orgtoken-bot/policy"
	"github.com/orgtoken/orgtoken-bot/reply"
)

// Tokens is the part of the Astro client the commands use; *astro.Client satisfies it.
type Tokens interface {
	GetToken(ctx context.Context, id string) (*astro.Token, error)
	ListTokens(ctx context.Context, opts astro.ListTokensOptions) (*astro.TokensPage, error)
	ListAllTokens(ctx context.Context, opts astro.ListTokensOptions) ([]astro.Token, error)
	ListTokenSummaries(ctx context.Context, opts astro.ListTokensOptions) ([]astro.TokenSummary, error)
	UpdateTokenRoles(ctx context.Context, id string, roles []astro.Role) (*astro.SubjectRoles, error)
}

// Authorizer decides whether a user may do something. The bot's implementation resolves the
// user's Slack groups into Input.UserGroups and fails closed: an error here refuses the command.
type Authorizer interface {
	Decide(ctx context.Context, in policy.Input) (policy.Decision, error)
}

// AuthorizerFunc adapts a function to Authorizer.
type AuthorizerFunc func(ctx context.Context, in policy.Input) (policy.Decision, error)

// Decide calls f.
func (f AuthorizerFunc) Decide(ctx context.Context, in policy.Input) (policy.Decision, error) {
	return f(ctx, in)
}

// Clock tells the time; tests pin it so "3 days ago" is stable.
type Clock func() time.Time

// Config wires a Service.
type Config struct {
	Tokens     Tokens     // required
	Authorizer Authorizer // required
	Locker     Locker     // serialises writes per token; nil means an in-process KeyedLocker
	Clock      Clock      // nil means time.Now
	// DefaultWorkspace is used when a command has no --workspace-id.
	DefaultWorkspace string
	// CommandName is the slash command as users type it, for usage lines; "/orgtoken" if empty.
	CommandName string
	Logger      *slog.Logger // nil discards logs
	// PageSize is how many tokens list shows at a time; 25 if zero.
	PageSize int

	// Approval requests (see approvals.go). Without Requests and Messenger, a change that needs
	// approval is only explained to the requester and nothing is stored or posted.
	Requests  Requests  // stores requests; *store.Store satisfies it
	Messenger Messenger // posts and updates approval messages; *bot.Messenger satisfies it
	Approvers Approvers // decides, live, who may approve; nil refuses every approval
	Groups    GroupDirectory
	Audit     Audit // records changes and request decisions; nil records nothing

	// Lookups and time-boxed elevation (see workspaces.go, show.go, elevate.go).
	Workspaces Workspaces // resolves workspace names; nil accepts IDs only
	// ChannelDefaults gives a channel's default workspace ID ("" for none), e.g. the policy's
	// DefaultWorkspace; it wins over DefaultWorkspace.
	ChannelDefaults func(channelID string) string
	History         History   // the audit record show reads; nil shows no history
	Reverts         Reverts   // schedules reverts of time-boxed changes; nil refuses --for
	Announcer       Announcer // posts revert and drift reports; nil means Messenger (or only logs)
	// MinElevation is the shortest --for accepted; 30m if zero. Tests lower it.
	MinElevation time.Duration
}

// Service runs commands. It is safe for concurrent use.
type Service struct {
	tokens      Tokens
	auth        Authorizer
	locker      Locker
	orgTokens   *orgTokenList
	now         Clock
	defaultWS   string
	commandName string
	log         *slog.Logger
	pageSize    int
	commands    []*command
	actions     map[string]actionHandler

	requests  Requests
	messenger Messenger
	approvers Approvers
	groups    GroupDirectory
	audit     Audit

	workspaces     *workspaceCache
	channelDefault func(string) string
	history        History
	reverts        Reverts
	announcer      Announcer
	minElevation   time.Duration
	workerLockWait time.Duration
	drift          driftState
}

// New checks cfg and builds a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Tokens == nil {
		return nil, errors.New("commands: Config.Tokens is required")
	}
	if cfg.Authorizer == nil {
		return nil, errors.New("commands: Config.Authorizer is required")
	}
	s := &Service{
		tokens:      cfg.Tokens,
		auth:        cfg.Authorizer,
		locker:      cfg.Locker,
		now:         cfg.Clock,
		defaultWS:   cfg.DefaultWorkspace,
		commandName: cfg.CommandName,
		log:         cfg.Logger,
		pageSize:    cfg.PageSize,
		requests:    cfg.Requests,
		messenger:   cfg.Messenger,
		approvers:   cfg.Approvers,
		groups:      cfg.Groups,
		audit:       cfg.Audit,

		channelDefault: cfg.ChannelDefaults,
		history:        cfg.History,
		reverts:        cfg.Reverts,
		announcer:      cfg.Announcer,
		minElevation:   cfg.MinElevation,
		workerLockWait: workerLockWait,
	}
	if s.locker == nil {
		s.locker = NewKeyedLocker()
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.orgTokens = &orgTokenList{tokens: s.tokens, locker: s.locker}
	s.workspaces = &workspaceCache{src: cfg.Workspaces, now: s.now}
	if s.announcer == nil && cfg.Messenger != nil {
		s.announcer = cfg.Messenger
	}
	if s.minElevation <= 0 {
		s.minElevation = defaultMinElevation
	}
	if s.commandName == "" {
		s.commandName = "/orgtoken"
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.pageSize <= 0 {
		s.pageSize = 25
	}
	s.commands = commandTable()
	s.actions = actionTable()
	return s, nil
}

// Request is a command someone typed.
type Request struct {
	UserID    string // Slack user ID, U… or W…
	UserName  string // for logs only; never trusted
	ChannelID string
	Text      string // everything after the slash command
	// ConfirmedName is the token name the requester typed into the confirmation form of a
	// high-risk change; it is checked against the token's actual name before anything happens.
	ConfirmedName string
}

// Run carries out the command in req.Text and returns the reply to show. It never returns a
// raw error: user mistakes and refusals become clear replies, anything unexpected is logged
// with a reference the reply quotes.
func (s *Service) Run(ctx context.Context, req Request) reply.Reply {
	cmd, a, err := s.parse(req.Text)
	if err != nil {
		return s.failed(ctx, &req, err)
	}
	if cmd == nil {
		return s.helpAll()
	}
	r, err := cmd.run(ctx, s, req, a)
	if err != nil {
		return s.failed(ctx, &req, err)
	}
	return r
}

// parse reads text into a verb and its arguments. Empty text gives a nil command (help).
func (s *Service) parse(text string) (*command, *args, error) {
	words, err := splitText(text)
	if err != nil {
		return nil, nil, err
	}
	if len(words) > 0 && words[0] == s.commandName {
		// Pasted with the command name, as the sandbox allows.
		words = words[1:]
	}
	if len(words) == 0 {
		return nil, nil, nil
	}
	cmd, err := s.lookup(words[0])
	if err != nil {
		return nil, nil, err
	}
	a, err := s.parseFor(cmd, words[1:])
	return cmd, a, err
}

func (s *Service) parseFor(cmd *command, words []string) (*args, error) {
	a, err := parseArgs(cmd, words)
	if err != nil {
		return nil, err
	}
	if err := cmd.check(cmd, &a); err != nil {
		return nil, err
	}
	return &a, nil
}

// failed turns a command's error into the reply the user sees. Run and Act call it only on
// failure and hand the request by pointer, which keeps their frames (on the stack while a
// command waits on Astro) small.
func (s *Service) failed(ctx context.Context, req *Request, err error) reply.Reply {
	var e *Error
	if errors.As(err, &e) {
		if e.Code == EHelp && e.verb != nil {
			return s.helpVerb(e.verb)
		}
		return s.errorReply(e)
	}
	if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
		return s.errorReply(&Error{Code: EUnavailable, Message: "The command was cancelled before it finished.", Hint: "Try again."})
	}
	return s.internalReply(ctx, *req, err)
}

// lookup finds a verb, suggesting the closest one on a typo.
func (s *Service) lookup(verb string) (*command, error) {
	lower := strings.ToLower(verb)
	for _, c := range s.commands {
		if c.Verb == lower {
			return c, nil
		}
	}
	e := invalidf("Unknown subcommand %q.", reply.Truncate(verb, 40))
	best, bestDist := "", 3
	for _, c := range s.commands {
		if d := editDistance(lower, c.Verb); d < bestDist {
			best, bestDist = c.Verb, d
		}
	}
	if best != "" {
		e.Hint = "Did you mean " + s.commandName + " " + best + "? See " + s.commandName + " help."
	} else {
		e.Hint = "Subcommands: " + strings.Join(s.verbs(), ", ") + ". See " + s.commandName + " help."
	}
	return nil, e
}

func (s *Service) verbs() []string {
	out := make([]string, len(s.commands))
	for i, c := range s.commands {
		out[i] = c.Verb
	}
	return out
}

func (s *Service) command(verb string) *command {
	for _, c := range s.commands {
		if c.Verb == verb {
			return c
		}
	}
	return nil
}

// Action is a click on a button of an earlier reply.
type Action struct {
	UserID    string // who clicked; policy is checked again for them
	UserName  string
	ChannelID string
	ActionID  string // routes the click
	Value     string // the button's opaque reference; untrusted input
	MessageTS string // the message the button was on, for replies that replace it
}

// actionHandler handles a button click.
type actionHandler func(ctx context.Context, s *Service, act Action) (reply.Reply, error)

// Act handles a button click: it routes by ActionID and answers like Run.
func (s *Service) Act(ctx context.Context, act Action) reply.Reply {
	req := Request{UserID: act.UserID, UserName: act.UserName, ChannelID: act.ChannelID}
	h, ok := s.actions[act.ActionID]
	if !ok {
		return s.errorReply(&Error{Code: EInvalid, Message: "This button is not supported any more.", Hint: "Run the command again."})
	}
	r, err := h(ctx, s, act)
	if err != nil {
		return s.failed(ctx, &req, err)
	}
	return r
}

// Authorize decides in as a command does. When it is refused, the reply is the command's own
// refusal, so a form showing what a command would show can refuse in the same words.
func (s *Service) Authorize(ctx context.Context, in policy.Input) (reply.Reply, bool) {
	if _, err := s.authorize(ctx, in); err != nil {
		return s.failed(ctx, &Request{UserID: in.UserID, ChannelID: in.ChannelID}, err), false
	}
	return reply.Reply{}, true
}

// authorize asks the Authorizer and turns a refusal into an *Error. An Authorizer failure
// refuses too: without an answer nothing may happen.
func (s *Service) authorize(ctx context.Context, in policy.Input) (policy.Decision, error) {
	d, err := s.auth.Decide(ctx, in)
	if err != nil {
		return d, s.couldNotCheck(ctx, in, err)
	}
	if !d.Allowed {
		e := &Error{Code: EDenied, Message: "You are not allowed to do this."}
		if d.Reason != "" {
			e.Details = []reply.Line{reply.Para("Why: " + d.Reason)}
		}
		return d, e
	}
	return d, nil
}

// couldNotCheck refuses in because the policy could not be decided (a Slack user-group lookup
// failed), logging why under a reference the user can quote.
func (s *Service) couldNotCheck(ctx context.Context, in policy.Input, err error) error {
	ref := newRef()
	s.log.ErrorContext(ctx, "authorization failed", "ref", ref, "user", in.UserID, "action", in.Action, "err", err)
	return &Error{Code: EDenied, Message: "Could not check whether you may do this, so it was refused.",
		Hint: "Try again; if it keeps happening give the bot's operator this reference: ref " + ref + "."}
}
