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
type orgTokenList struct {
	tokens Tokens
	locker Locker // the checkpoint comes from it when it is a FreshnessLocker

	mu     sync.Mutex
	flight *listFlight // the read in progress, nil when there is none

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
// slice is shared with other callers and must not be modified.
func (l *orgTokenList) get(ctx context.Context) ([]astro.Token, uint64, error) {
	l.mu.Lock()
	f := l.flight
	joined := f != nil
	if !joined {
		// The read must not end with the caller that happened to start it, only once every
		// caller waiting for it has gone.
		readCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		f = &listFlight{done: make(chan struct{}), cancel: cancel}
		if fl, ok := l.locker.(FreshnessLocker); ok {
			f.checkpoint = fl.Checkpoint()
		}
		l.flight = f
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
	l.mu.Lock()
	if l.flight == f {
		l.flight = nil
	}
	l.mu.Unlock()
	f.toks, f.err = toks, err
	close(f.done)
}
