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

// KeyedLocker is an in-process FreshnessLocker: one mutex per token ID, forgotten when unused.
type KeyedLocker struct {
	mu    sync.Mutex
	clock uint64 // ticks on every release
	keys  map[string]*keyLock
	// forgotten is the latest release among forgotten keys, so a key made anew does not claim
	// it was never released.
	forgotten uint64
}

type keyLock struct {
	held     chan struct{} // buffered(1): full while held
	waiters  int
	released uint64
}

var _ FreshnessLocker = (*KeyedLocker)(nil)

// NewKeyedLocker returns an empty KeyedLocker.
func NewKeyedLocker() *KeyedLocker { return &KeyedLocker{keys: map[string]*keyLock{}} }

// LockToken implements Locker.
func (l *KeyedLocker) LockToken(ctx context.Context, tokenID string) (func(), error) {
	l.mu.Lock()
	k := l.keys[tokenID]
	if k == nil {
		k = &keyLock{held: make(chan struct{}, 1), released: l.forgotten}
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

func (l *KeyedLocker) forgetLocked(tokenID string, k *keyLock) {
	if k.waiters == 0 {
		l.forgotten = max(l.forgotten, k.released)
		delete(l.keys, tokenID)
	}
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
	k := l.keys[tokenID]
	if k == nil {
		return l.forgotten > checkpoint
	}
	return k.released > checkpoint
}
