package commands

import (
	"context"
	"sync"

	"github.com/orgtoken/orgtoken-bot/astro"
)

// orgTokenList shares one in-flight read of every Organization token among concurrent lookups
// by name. Reading and decoding the whole organization is the bot's heaviest work; under load
// most lookups then ride on a read another command already started.
//
// A change by name trusts that read only as far as a freshness checkpoint taken before it
// allows (see FreshnessLocker). A lookup that joins a read did not start it, so the flight
// carries the checkpoint its starter took before the request went out: a checkpoint the joiner
// took itself would postdate the read and could vouch for a list that misses a write.
//
// A lookup does not join a read that is already stale for the token it is after: one that
// went out before that token's last write through this bot (typically the same user's previous
// command). The latest completed read tells which IDs the name stands for. Joining would only
// force a re-read of the token after the list arrived, a third round trip; starting a fresh
// read keeps the change at two.
type orgTokenList struct {
	tokens Tokens
	locker Locker // the checkpoint comes from it when it is a FreshnessLocker

	mu     sync.Mutex
	flight *listFlight // the newest read in progress, nil when there is none
	last   *listFlight // the newest completed read, nil before the first

	// onJoin, when set (tests only, before use), runs each time a lookup joins a read.
	onJoin func()
}

type listFlight struct {
	done       chan struct{} // closed once toks and err are set
	checkpoint uint64        // taken before the request started
	toks       []astro.Token
	err        error
	waiters    int
	cancel     context.CancelFunc
}

// get returns every Organization token and a checkpoint taken before they were requested. The
// slice is shared with other callers and must not be modified. key is the name or ID the caller
// is looking for ("" for none): a read in flight that is stale for it is not joined.
func (l *orgTokenList) get(ctx context.Context, key string) ([]astro.Token, uint64, error) {
	l.mu.Lock()
	f := l.flight
	joined := f != nil && !l.staleForLocked(key, f.checkpoint)
	if !joined {
		// The read must not end with the caller that happened to start it, only once every
		// caller waiting for it has gone.
		readCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		f = &listFlight{done: make(chan struct{}), cancel: cancel}
		if fl, ok := l.locker.(FreshnessLocker); ok {
			f.checkpoint = fl.Checkpoint()
		}
		l.flight = f // an older read, stale for this caller, still serves its own waiters
		go l.read(readCtx, f)
	}
	f.waiters++
	l.mu.Unlock()
	if joined && l.onJoin != nil {
		l.onJoin()
	}

	select {
	case <-f.done:
		return f.toks, f.checkpoint, f.err
	case <-ctx.Done():
		l.mu.Lock()
		f.waiters--
		if f.waiters == 0 {
			f.cancel()
			if l.flight == f {
				l.flight = nil
			}
		}
		l.mu.Unlock()
		return nil, 0, ctx.Err()
	}
}

func (l *orgTokenList) read(ctx context.Context, f *listFlight) {
	defer f.cancel()
	toks, err := l.tokens.ListAllTokens(ctx, orgTokensOptions)
	f.toks, f.err = toks, err
	l.mu.Lock()
	if l.flight == f {
		l.flight = nil
	}
	if err == nil && (l.last == nil || l.last.checkpoint <= f.checkpoint) {
		l.last = f
	}
	l.mu.Unlock()
	close(f.done)
}

// staleForLocked reports whether a read taken at checkpoint may miss a write this bot made to
// the token key names, going by the latest completed read. A name not seen before, or a locker
// that cannot tell, counts as fresh: the change then re-reads after locking if it must.
func (l *orgTokenList) staleForLocked(key string, checkpoint uint64) bool {
	fl, ok := l.locker.(FreshnessLocker)
	if !ok || key == "" || l.last == nil {
		return false
	}
	for i := range l.last.toks {
		t := &l.last.toks[i]
		if (t.Name == key || t.ID == key) && fl.ReleasedSince(t.ID, checkpoint) {
			return true
		}
	}
	return false
}
