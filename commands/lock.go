package commands

import (
	"context"
	"sync"
)

// Locker serialises read-modify-write of one token's roles. Astro replaces the whole role list
// on every write, so two concurrent changes to one token would otherwise lose one of them.
type Locker interface {
	// LockToken blocks until the caller holds tokenID's lock or ctx ends.
	LockToken(ctx context.Context, tokenID string) (unlock func(), err error)
}

// FreshnessLocker is a Locker that can vouch that no one wrote a token since a checkpoint.
//
// A change by name reads the token list before it knows which token to lock. If nobody released
// the token's lock between that read and our acquiring it, no write through a lock of this kind
// can have landed in between (a writer holds the lock across its whole read-modify-write), so
// the list read is as good as a read under the lock and a second read is saved. A Locker that
// cannot tell, such as one shared between processes, need not implement this: the service then
// reads the token again under the lock.
type FreshnessLocker interface {
	Locker
	// Checkpoint marks a moment; take it before the read.
	Checkpoint() uint64
	// ReleasedSince reports whether anyone released tokenID's lock after the checkpoint. Call it
	// while holding the lock.
	ReleasedSince(tokenID string, checkpoint uint64) bool
}

// KeyedLocker is an in-process FreshnessLocker: one mutex per token ID, dropped when unused.
//
// It remembers when each recently unlocked token was last released, so a change by name is
// not sent back to Astro for a second read merely because other tokens were changed meanwhile
// (under load, some token is released every few milliseconds). The memory is bounded: once a
// token drops out of it, its release time is taken to be the latest of all dropped ones, which
// errs on the side of reading again.
type KeyedLocker struct {
	mu    sync.Mutex
	clock uint64 // ticks on every release
	keys  map[string]*keyLock
	// recent and older hold the last release of unlocked tokens, newest generation first.
	// Once recent is full, older is dropped (its latest release raising floor) and recent
	// takes its place.
	recent, older map[string]uint64
	floor         uint64
}

// releaseMemory is how many unlocked tokens a generation remembers.
const releaseMemory = 1024

type keyLock struct {
	held     chan struct{} // buffered(1): full while held
	waiters  int
	released uint64
}

var _ FreshnessLocker = (*KeyedLocker)(nil)

// NewKeyedLocker returns an empty KeyedLocker.
func NewKeyedLocker() *KeyedLocker {
	return &KeyedLocker{keys: map[string]*keyLock{}, recent: map[string]uint64{}, older: map[string]uint64{}}
}

// LockToken implements Locker.
func (l *KeyedLocker) LockToken(ctx context.Context, tokenID string) (func(), error) {
	l.mu.Lock()
	k := l.keys[tokenID]
	if k == nil {
		k = &keyLock{held: make(chan struct{}, 1), released: l.lastReleaseLocked(tokenID)}
		l.keys[tokenID] = k
	}
	k.waiters++
	l.mu.Unlock()

	select {
	case k.held <- struct{}{}:
	case <-ctx.Done():
		l.mu.Lock()
		k.waiters--
		l.forgetLocked(tokenID, k)
		l.mu.Unlock()
		return nil, ctx.Err()
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			l.clock++
			k.released = l.clock
			k.waiters--
			<-k.held
			l.forgetLocked(tokenID, k)
			l.mu.Unlock()
		})
	}, nil
}

// lastReleaseLocked is when an unlocked token was last released, or a later moment when that is
// no longer remembered.
func (l *KeyedLocker) lastReleaseLocked(tokenID string) uint64 {
	if r, ok := l.recent[tokenID]; ok {
		return r
	}
	if r, ok := l.older[tokenID]; ok {
		return r
	}
	return l.floor
}

func (l *KeyedLocker) forgetLocked(tokenID string, k *keyLock) {
	if k.waiters > 0 {
		return
	}
	delete(l.keys, tokenID)
	if k.released <= l.floor {
		return // nothing to remember beyond what floor already says
	}
	if len(l.recent) >= releaseMemory {
		for _, r := range l.older {
			l.floor = max(l.floor, r)
		}
		l.older, l.recent = l.recent, make(map[string]uint64, releaseMemory)
	}
	l.recent[tokenID] = k.released
}

// Checkpoint implements FreshnessLocker.
func (l *KeyedLocker) Checkpoint() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.clock
}

// ReleasedSince implements FreshnessLocker.
func (l *KeyedLocker) ReleasedSince(tokenID string, checkpoint uint64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if k := l.keys[tokenID]; k != nil {
		return k.released > checkpoint
	}
	return l.lastReleaseLocked(tokenID) > checkpoint
}
