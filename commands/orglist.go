package commands

import (
	"context"
	"strings"
	"sync"

	"github.com/orgtoken/orgtoken-bot/astro"
)

// orgTokenList shares one in-flight read of every Organization token among concurrent lookups
// by name. Reading and decoding the whole organization is the bot's heaviest work; under load
// most lookups then ride on a read another command already started. It decodes summaries
// (astro.TokenSummary): a lookup needs every name but the roles of one token only.
//
// A change by name trusts that read only as far as a freshness checkpoint taken before it
// allows (see FreshnessLocker). A lookup that joins a read did not start it, so the flight
// carries the checkpoint its starter took before the request went out: a checkpoint the joiner
// took itself would postdate the read and could vouch for a list that misses a write.
//
// A change by name whose name the latest completed read maps to one token does not wait on the
// shared read to learn it: it joins the read only to have it confirm that token, and reads the
// token itself meanwhile (see Service.lockToken). It then carries on when its own read lands,
// not when the shared one does. Everyone waiting on a shared read resumes in the same instant;
// with Astro answering in near-constant time, their writes, replies and users' next commands
// then stay lined up, and under load those cohorts grew to dozens of changes whose bursts of
// work held back the acks of envelopes arriving meanwhile.
type orgTokenList struct {
	tokens Tokens
	locker Locker // the checkpoint comes from it when it is a FreshnessLocker

	mu     sync.Mutex
	flight *listFlight // the newest read in progress, nil when there is none
	last   *knownNames // what the newest completed read named, nil before the first

	// onJoin, when set (tests only, before use), runs each time a lookup joins a read.
	onJoin func()
}

// knownNames is the name and ID of every token a completed read returned. Only these are kept
// between reads: even summarised, a whole organization is several times the size and would stay
// live for as long as no newer read completes.
type knownNames struct {
	checkpoint uint64 // of the read they came from
	tokens     []nameAndID
}

type nameAndID struct{ name, id string }

func newKnownNames(checkpoint uint64, toks []astro.TokenSummary) *knownNames {
	k := &knownNames{checkpoint: checkpoint, tokens: make([]nameAndID, len(toks))}
	for i := range toks {
		// Cloned: the summaries' strings are views of the whole answer (see
		// astro.ListTokenSummaries), which would otherwise stay live until the next read.
		k.tokens[i] = nameAndID{name: strings.Clone(toks[i].Name), id: strings.Clone(toks[i].ID)}
	}
	return k
}

type listFlight struct {
	done       chan struct{} // closed once toks and err are set
	checkpoint uint64        // taken before the request started
	toks       []astro.TokenSummary
	err        error
	waiters    int
	cancel     context.CancelFunc
	// requestIDs names the Astro requests of the read, for every waiter's log line: a change
	// by name depends on the read that resolved its name, whoever started it.
	requestIDs func() []string
}

// get returns every Organization token and a checkpoint taken before they were requested. The
// slice is shared with other callers and must not be modified. key is the name or ID the caller
// is looking for ("" for none): a read in flight that is stale for it is not joined.
func (l *orgTokenList) get(ctx context.Context, key string) ([]astro.TokenSummary, uint64, error) {
	f, _ := l.start(ctx, key, false)
	return l.wait(ctx, f)
}

// start joins the newest read in flight, or starts one, and counts the caller among its
// waiters; the caller must then wait for it or leave it.
//
// With predict set, when the latest completed read names exactly one token key, that token's
// ID is returned and the read in flight is joined even if it is stale for key: the caller reads
// the token itself (under its lock, so its roles are fresh) and the shared read only confirms
// which token the name stands for. Otherwise a read that is stale for key is not joined.
func (l *orgTokenList) start(ctx context.Context, key string, predict bool) (f *listFlight, predicted string) {
	l.mu.Lock()
	f = l.flight
	joined := f != nil
	if joined {
		id, stale := l.knownLocked(key, f.checkpoint)
		switch {
		case predict && id != "":
			predicted = id
		case stale:
			joined = false
		}
	}
	if !joined {
		// The read must not end with the caller that happened to start it, only once every
		// caller waiting for it has gone.
		readCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		// A log of the read's own, so the starter notes its requests once, in wait, like
		// everyone else.
		readCtx, ids := astro.WithRequestLog(readCtx)
		f = &listFlight{done: make(chan struct{}), cancel: cancel, requestIDs: ids}
		if fl, ok := l.locker.(FreshnessLocker); ok {
			f.checkpoint = fl.Checkpoint()
		}
		l.flight = f // an older read still serves its own waiters
		go l.read(readCtx, f)
	}
	f.waiters++
	l.mu.Unlock()
	if joined && l.onJoin != nil {
		l.onJoin()
	}
	return f, predicted
}

// wait returns the tokens f read and the checkpoint taken before it went out. The slice is
// shared with other callers and must not be modified.
func (l *orgTokenList) wait(ctx context.Context, f *listFlight) ([]astro.TokenSummary, uint64, error) {
	select {
	case <-f.done:
		astro.NoteRequestIDs(ctx, f.requestIDs()...)
		return f.toks, f.checkpoint, f.err
	case <-ctx.Done():
		l.leave(f)
		return nil, 0, ctx.Err()
	}
}

// leave gives up waiting for f; the read is cancelled once no one waits for it.
func (l *orgTokenList) leave(f *listFlight) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f.waiters--
	if f.waiters == 0 {
		f.cancel()
		if l.flight == f {
			l.flight = nil
		}
	}
}

func (l *orgTokenList) read(ctx context.Context, f *listFlight) {
	defer f.cancel()
	toks, err := l.tokens.ListTokenSummaries(ctx, orgTokensOptions)
	f.toks, f.err = toks, err
	var known *knownNames
	if err == nil {
		known = newKnownNames(f.checkpoint, toks)
	}
	l.mu.Lock()
	if l.flight == f {
		l.flight = nil
	}
	if known != nil && (l.last == nil || l.last.checkpoint <= f.checkpoint) {
		l.last = known
	}
	l.mu.Unlock()
	close(f.done)
}

// knownLocked looks key up in the latest completed read: the ID of the one token that answers
// to it ("" when none or several do), and whether this bot may have written such a token after
// checkpoint, when a read taken then would miss that write. A name not seen before, or a
// locker that cannot tell, counts as fresh: the change then re-reads after locking if it must.
func (l *orgTokenList) knownLocked(key string, checkpoint uint64) (id string, stale bool) {
	if key == "" || l.last == nil {
		return "", false
	}
	fl, canTell := l.locker.(FreshnessLocker)
	matches := 0
	for _, t := range l.last.tokens {
		if t.name == key || t.id == key {
			matches++
			id = t.id
			stale = stale || (canTell && fl.ReleasedSince(t.id, checkpoint))
		}
	}
	if matches != 1 {
		id = ""
	}
	return id, stale
}
