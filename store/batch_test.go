package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConcurrentHotWrites(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		s := db.open(t)
		const (
			n    = 200 // commands, each saving, auditing and finishing one envelope
			dups = 50  // envelopes that Slack also redelivers concurrently
		)
		var commitsBefore int64
		if s.batcher != nil {
			commitsBefore = s.batcher.commits.Load()
		}
		fresh := make([]atomic.Int32, n)
		errs := make([]error, n+dups)
		parallel(n+dups, func(i int) {
			id := i
			if i >= n {
				id = i - n // a redelivery of envelope i-n
			}
			envID := fmt.Sprintf("env-%03d", id)
			ok, err := s.SaveEnvelope(ctx, envID, "slash_commands", []byte(`{}`), "replica", time.Minute, time.Time{})
			if err != nil {
				errs[i] = err
				return
			}
			if ok {
				fresh[id].Add(1)
			}
			if i >= n {
				return
			}
			if _, err := s.AppendAudit(ctx, AuditEntry{Action: "role.changed", Detail: envID}); err != nil {
				errs[i] = err
				return
			}
			errs[i] = s.FinishEnvelope(ctx, envID, time.Time{})
		})
		for i, err := range errs {
			require.NoError(t, err, "goroutine %d", i)
		}
		for id := range fresh {
			assert.EqualValues(t, 1, fresh[id].Load(), "env-%03d reported fresh exactly once", id)
		}

		var finished int
		require.NoError(t, s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM envelopes WHERE done_at IS NOT NULL`).Scan(&finished))
		assert.Equal(t, n, finished)

		entries, err := s.ListAudit(ctx, AuditFilter{Limit: 1000})
		require.NoError(t, err)
		require.Len(t, entries, n)
		seen := map[string]bool{}
		for i, e := range entries {
			assert.Equal(t, int64(i+1), e.Seq)
			seen[e.Detail] = true
		}
		assert.Len(t, seen, n, "one audit entry per command")
		verified, err := s.VerifyAudit(ctx)
		require.NoError(t, err)
		assert.Equal(t, int64(n), verified)

		if s.batcher != nil {
			ops := int64(n + dups + 2*n)
			commits := s.batcher.commits.Load() - commitsBefore
			t.Logf("%d writes in %d commits", ops, commits)
			assert.Less(t, commits, ops, "writes share commits")
		}
	})
}

// holdBatcher keeps s's batcher busy in a transaction of its own until
// release is called, so writes submitted meanwhile queue up and form the
// next batch. done reports the held op's outcome.
func holdBatcher(t *testing.T, s *Store) (release func(), done <-chan error) {
	t.Helper()
	started, unblock, result := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		result <- s.write(context.Background(), func(context.Context, querier) error {
			close(started)
			<-unblock
			return nil
		})
	}()
	<-started
	var once sync.Once
	release = func() { once.Do(func() { close(unblock) }) }
	t.Cleanup(release)
	return release, result
}

// waitQueued waits until n writes are queued behind the running batch.
func waitQueued(t *testing.T, s *Store, n int) {
	t.Helper()
	require.Eventually(t, func() bool {
		s.batcher.mu.Lock()
		defer s.batcher.mu.Unlock()
		return len(s.batcher.queue) >= n
	}, 10*time.Second, time.Millisecond)
}

// async runs fn in a goroutine and delivers its error.
func async(fn func() error) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- fn() }()
	return ch
}

func recv(t *testing.T, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("write did not return")
		return nil
	}
}

func envelopeExists(t *testing.T, s *Store, id string) bool {
	t.Helper()
	var n int
	require.NoError(t, s.db.QueryRow(`SELECT COUNT(*) FROM envelopes WHERE id = ?`, id).Scan(&n))
	return n == 1
}

func TestWriteBatchFailingOpFailsAlone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestDB(t, BackendSQLite).open(t)
	_, err := s.AppendAudit(ctx, AuditEntry{Action: "first"})
	require.NoError(t, err)

	// The second round runs every statement prepared by the first.
	for round := range 2 {
		kept, undone := fmt.Sprintf("kept-%d", round), fmt.Sprintf("undone-%d", round)
		release, held := holdBatcher(t, s)
		commitsBefore := s.batcher.commits.Load()
		boom := errors.New("boom")
		save := async(func() error {
			_, err := s.SaveEnvelope(ctx, kept, "slash_commands", nil, "r", time.Minute, time.Time{})
			return err
		})
		waitQueued(t, s, 1)
		failing := async(func() error {
			return s.write(ctx, func(ctx context.Context, tx querier) error {
				// Writes that must all be undone, including a broken audit head.
				if _, err := tx.ExecContext(ctx, `INSERT INTO envelopes (id, claimed_at) VALUES (?, 1)`, undone); err != nil {
					return err
				}
				if _, err := tx.ExecContext(ctx, `UPDATE audit_head SET seq = 99, hash = 'forged' WHERE id = 1`); err != nil {
					return err
				}
				return boom
			})
		})
		waitQueued(t, s, 2)
		audit := async(func() error {
			_, err := s.AppendAudit(ctx, AuditEntry{Action: "second"})
			return err
		})
		waitQueued(t, s, 3)
		release()

		require.NoError(t, recv(t, held))
		assert.NoError(t, recv(t, save))
		assert.ErrorIs(t, recv(t, failing), boom)
		assert.NoError(t, recv(t, audit))
		assert.Equal(t, commitsBefore+2, s.batcher.commits.Load(), "the held batch, then one commit for all three writes")

		assert.True(t, envelopeExists(t, s, kept))
		assert.False(t, envelopeExists(t, s, undone), "the failed op's writes are rolled back")
		n, err := s.VerifyAudit(ctx)
		require.NoError(t, err)
		assert.Equal(t, int64(2+round), n)
	}
	// The loop prepares after a batch; once a later write is answered, it is done with that.
	require.NoError(t, s.write(ctx, func(context.Context, querier) error { return nil }))
	assert.Contains(t, s.batcher.stmts, `SAVEPOINT write_op`, "statements run before are prepared")
}

func TestWriteBatchLoneFailingOp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestDB(t, BackendSQLite).open(t)
	boom := errors.New("boom")
	err := s.write(ctx, func(ctx context.Context, tx querier) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO envelopes (id, claimed_at) VALUES ('undone', 1)`); err != nil {
			return err
		}
		return boom
	})
	assert.ErrorIs(t, err, boom)
	assert.False(t, envelopeExists(t, s, "undone"))
	fresh, err := s.SaveEnvelope(ctx, "after", "slash_commands", nil, "r", time.Minute, time.Time{})
	require.NoError(t, err)
	assert.True(t, fresh, "the store still works")
}

// A one-statement write alone in its batch runs without a transaction of the batcher's: its
// outcome must still be the statement's, and a failure must leave the store usable.
func TestWriteBatchLoneStatement(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestDB(t, BackendSQLite).open(t)
	for round := range 2 { // the second round runs the statements prepared
		id := fmt.Sprintf("lone-%d", round)
		commitsBefore, loneBefore := s.batcher.commits.Load(), s.batcher.lone.Load()
		fresh, err := s.SaveEnvelope(ctx, id, "slash_commands", []byte(`{}`), "r", time.Minute, time.Time{})
		require.NoError(t, err)
		assert.True(t, fresh)
		assert.True(t, envelopeExists(t, s, id), "round %d: committed", round)
		assert.Equal(t, commitsBefore+1, s.batcher.commits.Load())
		assert.Equal(t, loneBefore+1, s.batcher.lone.Load(), "round %d: committed by SQLite, without a transaction of the batcher's", round)

		fresh, err = s.SaveEnvelope(ctx, id, "slash_commands", []byte(`{}`), "r", time.Minute, time.Time{})
		require.NoError(t, err)
		assert.False(t, fresh, "round %d: a redelivery is seen as one", round)

		// A NOT NULL violation: the statement fails and writes nothing.
		err = s.writeStmt(ctx, func(ctx context.Context, q querier) error {
			_, err := q.ExecContext(ctx, `INSERT INTO envelopes (id, claimed_at) VALUES (?, NULL)`, "broken-"+id)
			return err
		})
		require.Error(t, err)
		assert.False(t, envelopeExists(t, s, "broken-"+id))
		require.NoError(t, s.FinishEnvelope(ctx, id, time.Time{}), "round %d: the store still works", round)
	}
	// The loop prepares after a batch; once a later write is answered, it is done with that.
	require.NoError(t, s.write(ctx, func(context.Context, querier) error { return nil }))
	assert.Contains(t, s.batcher.stmts, s.rebind(`UPDATE envelopes SET done_at = ?, payload = '' WHERE id = ?`), "lone statements run before are prepared")
}

// A caller that gives up while its write waits for the connection (held by a read, or a
// transaction elsewhere) finds the write skipped, as write promises, whether it shares a
// batch's transaction or runs alone: the bot tells such a user nothing was done.
func TestWriteCancelledWhileWaitingForTheConnectionIsSkipped(t *testing.T) {
	t.Parallel()
	for _, oneStatement := range []bool{false, true} {
		name := map[bool]string{false: "Batched", true: "Lone"}[oneStatement]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := newTestDB(t, BackendSQLite).open(t)
			conn, err := s.db.Conn(context.Background()) // the only connection, taken elsewhere
			require.NoError(t, err)
			waitsBefore := s.db.Stats().WaitCount
			ctx, cancel := context.WithCancel(context.Background())
			id := "cancelled-" + name
			save := async(func() error {
				fn := func(ctx context.Context, q querier) error {
					_, err := q.ExecContext(ctx, `INSERT INTO envelopes (id, claimed_at, kind, payload, owner, lease_until, attempts)
						VALUES (?, 1, 'slash_commands', '{}', 'r', 1, 1)`, id)
					return err
				}
				if oneStatement {
					return s.writeStmt(ctx, fn)
				}
				return s.write(ctx, fn)
			})
			require.Eventually(t, func() bool { return s.db.Stats().WaitCount > waitsBefore }, 10*time.Second, time.Millisecond)
			cancel()
			assert.ErrorIs(t, recv(t, save), context.Canceled)
			require.NoError(t, conn.Close())
			// Once a later write is answered, the batcher is done with the cancelled one.
			require.NoError(t, s.write(context.Background(), func(context.Context, querier) error { return nil }))
			assert.False(t, envelopeExists(t, s, id), "the caller was told its write failed")
		})
	}
}

func TestWriteBatchCancelledWhileQueued(t *testing.T) {
	t.Parallel()
	s := newTestDB(t, BackendSQLite).open(t)
	release, held := holdBatcher(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	save := async(func() error {
		_, err := s.SaveEnvelope(ctx, "cancelled", "slash_commands", nil, "r", time.Minute, time.Time{})
		return err
	})
	waitQueued(t, s, 1)
	cancel()
	assert.ErrorIs(t, recv(t, save), context.Canceled, "returns while the batch ahead still runs")
	release()
	require.NoError(t, recv(t, held))

	fresh, err := s.SaveEnvelope(context.Background(), "later", "slash_commands", nil, "r", time.Minute, time.Time{})
	require.NoError(t, err)
	assert.True(t, fresh)
	assert.False(t, envelopeExists(t, s, "cancelled"), "a write cancelled before its turn is skipped")
}

func TestWriteBatchSizeIsCapped(t *testing.T) {
	t.Parallel()
	s := newTestDB(t, BackendSQLite).open(t)
	release, held := holdBatcher(t, s)
	commitsBefore := s.batcher.commits.Load()
	const n = 2*maxWriteBatch + 10
	results := make([]<-chan error, n)
	for i := range results {
		results[i] = async(func() error {
			return s.FinishEnvelope(context.Background(), fmt.Sprintf("env-%d", i), time.Time{})
		})
	}
	waitQueued(t, s, n)
	release()
	require.NoError(t, recv(t, held))
	for _, ch := range results {
		require.NoError(t, recv(t, ch))
	}
	assert.Equal(t, commitsBefore+1+3, s.batcher.commits.Load(), "the held batch, then batches of 128, 128 and 10")
}

func TestCloseFailsQueuedWrites(t *testing.T) {
	t.Parallel()
	s := newTestDB(t, BackendSQLite).open(t)
	release, held := holdBatcher(t, s)
	const n = 20
	results := make([]<-chan error, n)
	for i := range results {
		results[i] = async(func() error {
			_, err := s.SaveEnvelope(context.Background(), fmt.Sprintf("env-%d", i), "slash_commands", nil, "r", time.Minute, time.Time{})
			return err
		})
	}
	waitQueued(t, s, n)
	closed := async(s.Close)
	require.Eventually(t, func() bool {
		s.batcher.mu.Lock()
		defer s.batcher.mu.Unlock()
		return s.batcher.closed
	}, 10*time.Second, time.Millisecond)
	release()

	assert.NoError(t, recv(t, held), "the running batch still commits")
	for _, ch := range results {
		assert.ErrorIs(t, recv(t, ch), errClosed)
	}
	assert.NoError(t, recv(t, closed))
	_, err := s.AppendAudit(context.Background(), AuditEntry{Action: "late"})
	assert.ErrorIs(t, err, errClosed, "writes after Close fail at once")
}
