package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"hash/fnv"
	"sync"
	"time"
)

// LockToken takes the per-token lock that guards a read-modify-write of one
// token's roles, waiting until it is free or ctx ends (then ctx's error is
// returned). The returned unlock is idempotent.
//
// PostgreSQL: a session-level advisory lock on a dedicated connection, so the
// lock is shared by every replica and released if this process dies.
// SQLite: an in-process keyed mutex, which is why SQLite means one replica
// (and one Store per database file).
func (s *Store) LockToken(ctx context.Context, tokenID string) (unlock func(), err error) {
	if tokenID == "" {
		return nil, fmt.Errorf("%w: empty token id", ErrInvalid)
	}
	if s.backend != BackendPostgres {
		return s.memLock.lock(ctx, tokenID)
	}
	conn, err := s.lockDB.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: lock token: %w", err)
	}
	key := advisoryKey("token", s.schema+"\x00"+tokenID)
	if err := pgAdvisoryLock(ctx, conn, key); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("store: lock token: %w", err)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			pgAdvisoryUnlock(conn, key)
			_ = conn.Close()
		})
	}, nil
}

// advisoryKey hashes a namespaced name to a PostgreSQL advisory lock key. The
// schema is part of name where relevant, so deployments (and tests) sharing a
// database in different schemas do not contend.
func advisoryKey(namespace, name string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte("orgtoken-bot\x00" + namespace + "\x00" + name))
	return int64(h.Sum64())
}

// pgAdvisoryLock waits for a session advisory lock on conn. If waiting fails
// (ctx ended, connection broke) the connection is discarded rather than
// returned to the pool: the server may have granted the lock at the last
// moment, and ending the session is the only sure way to release it.
func pgAdvisoryLock(ctx context.Context, conn *sql.Conn, key int64) error {
	_, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, key)
	if err == nil {
		return nil
	}
	discard(conn)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// pgAdvisoryUnlock releases the lock; if that fails the session is ended,
// which releases it too.
func pgAdvisoryUnlock(conn *sql.Conn, key int64) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var released bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_advisory_unlock($1)`, key).Scan(&released); err != nil || !released {
		discard(conn)
	}
}

// discard marks conn bad so database/sql closes it instead of reusing it.
func discard(conn *sql.Conn) {
	_ = conn.Raw(func(any) error { return driver.ErrBadConn })
}

// keyedMutex is a set of mutexes named by string whose Lock honours ctx.
// Entries exist only while someone holds or waits for them.
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*keyedEntry
}

type keyedEntry struct {
	held chan struct{} // capacity 1: full while locked
	refs int
}

func newKeyedMutex() *keyedMutex {
	return &keyedMutex{locks: map[string]*keyedEntry{}}
}

func (k *keyedMutex) lock(ctx context.Context, key string) (func(), error) {
	k.mu.Lock()
	e := k.locks[key]
	if e == nil {
		e = &keyedEntry{held: make(chan struct{}, 1)}
		k.locks[key] = e
	}
	e.refs++
	k.mu.Unlock()

	select {
	case e.held <- struct{}{}:
	case <-ctx.Done():
		k.release(key, e)
		return nil, ctx.Err()
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			<-e.held
			k.release(key, e)
		})
	}, nil
}

func (k *keyedMutex) release(key string, e *keyedEntry) {
	k.mu.Lock()
	defer k.mu.Unlock()
	e.refs--
	if e.refs == 0 {
		delete(k.locks, key)
	}
}
