package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// maxWriteBatch caps how many ops share one commit, bounding how long the
// single SQLite connection is held and how much one failed commit undoes.
const maxWriteBatch = 128

var errClosed = errors.New("store: closed")

// writeOp is one caller's share of a group commit. fn must use only q:
// the batch holds SQLite's only connection, so touching s.db would deadlock.
type writeOp struct {
	ctx context.Context
	fn  func(ctx context.Context, q querier) error
	// oneStatement: fn runs a single statement, which SQLite commits by itself when no
	// other op shares the batch.
	oneStatement bool
	result       chan error // buffered, so reporting never waits for the caller
}

// writeBatcher group-commits small SQLite writes. Each commit writes WAL
// frames, so a burst of one-statement transactions costs far more than one
// transaction holding them all. It never waits to fill a batch: ops simply
// queue up while the previous batch commits.
type writeBatcher struct {
	db *sql.DB

	mu     sync.Mutex
	queue  []*writeOp
	closed bool
	wake   chan struct{} // capacity 1: the queue grew or close was called
	done   chan struct{} // closed when loop returns

	commits  atomic.Int64 // committed batches; tests check batching happens
	lone     atomic.Int64 // of which lone statements committed by SQLite itself (runLone)
	onCommit func()       // after each commit; must not wait

	// stmts holds the statements ops have run before, prepared; unprepared
	// lists those seen for the first time in the running batch. Only the
	// loop goroutine touches either.
	stmts      map[string]*sql.Stmt
	unprepared []string
}

// maxPrepared bounds the prepared statements; the store writes a handful.
const maxPrepared = 64

func newWriteBatcher(db *sql.DB, onCommit func()) *writeBatcher {
	b := &writeBatcher{db: db, wake: make(chan struct{}, 1), done: make(chan struct{}), stmts: map[string]*sql.Stmt{}, onCommit: onCommit}
	go b.loop()
	return b
}

// write runs op in a transaction and waits until it is committed or failed.
// On PostgreSQL that is a transaction of its own. On SQLite, op shares a
// transaction with other callers' ops, inside a savepoint so that if it fails
// it alone is undone; it must then touch only tx. Its ctx is not cancelled
// once it runs, because SQLite answers an interrupted write by rolling back
// the whole transaction, the other ops' work included.
//
// On SQLite, if ctx ends before the outcome is known write returns ctx.Err()
// at once: an op not yet started is then skipped, but one already running
// may still commit, as a statement may when its ExecContext is cancelled.
func (s *Store) write(ctx context.Context, op func(ctx context.Context, q querier) error) error {
	if s.batcher == nil {
		return s.inTx(ctx, func(tx *sql.Tx) error { return op(ctx, tx) })
	}
	return s.batcher.do(ctx, op, false)
}

// writeStmt runs a one-statement write: batched on SQLite (alone in its batch,
// without a transaction: SQLite commits the statement by itself, and ctx then
// reaches the statement; shared with others, as write); on PostgreSQL straight
// on the pool, where the statement commits by itself. fn must run exactly one
// statement.
func (s *Store) writeStmt(ctx context.Context, fn func(ctx context.Context, q querier) error) error {
	if s.batcher == nil {
		return fn(ctx, s.db)
	}
	return s.batcher.do(ctx, fn, true)
}

func (b *writeBatcher) do(ctx context.Context, fn func(ctx context.Context, q querier) error, oneStatement bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	op := &writeOp{ctx: ctx, fn: fn, oneStatement: oneStatement, result: make(chan error, 1)}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return errClosed
	}
	b.queue = append(b.queue, op)
	b.mu.Unlock()
	b.signal()
	select {
	case err := <-op.result:
		return err
	case <-ctx.Done():
		select {
		case err := <-op.result: // prefer a known outcome
			return err
		default:
			return ctx.Err()
		}
	}
}

func (b *writeBatcher) signal() {
	select {
	case b.wake <- struct{}{}:
	default: // a wake-up is already pending
	}
}

// close lets the running batch finish, fails every op still queued and
// waits for the loop to return. Later writes fail at once.
func (b *writeBatcher) close() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.signal()
	<-b.done
}

func (b *writeBatcher) loop() {
	defer close(b.done)
	for {
		b.mu.Lock()
		for len(b.queue) == 0 && !b.closed {
			b.mu.Unlock()
			<-b.wake
			b.mu.Lock()
		}
		if b.closed {
			queued := b.queue
			b.queue = nil
			b.mu.Unlock()
			for _, op := range queued {
				op.result <- errClosed
			}
			for _, st := range b.stmts {
				_ = st.Close()
			}
			return
		}
		batch := b.queue
		if len(batch) > maxWriteBatch {
			batch, b.queue = batch[:maxWriteBatch:maxWriteBatch], batch[maxWriteBatch:]
		} else {
			b.queue = nil
		}
		b.mu.Unlock()
		b.run(batch)
		b.prepareNew()
	}
}

// prepareNew prepares the statements the last batch ran for the first time,
// now that the batch no longer holds the connection.
func (b *writeBatcher) prepareNew() {
	for _, query := range b.unprepared {
		if len(b.stmts) >= maxPrepared {
			break
		}
		if _, ok := b.stmts[query]; ok {
			continue
		}
		if st, err := b.db.Prepare(query); err == nil {
			b.stmts[query] = st
		}
	}
	b.unprepared = b.unprepared[:0]
}

// batchTx is the querier batched ops write through: the batch's transaction, or with tx nil,
// the pool's one connection for a one-statement op alone in its batch (runLone). A statement
// run before runs prepared: SQLite otherwise parses each statement text afresh, about a third
// of a batch's CPU. A new one runs unprepared this once.
type batchTx struct {
	tx *sql.Tx
	b  *writeBatcher
}

func (t batchTx) stmt(ctx context.Context, query string) *sql.Stmt {
	st, ok := t.b.stmts[query]
	switch {
	case !ok:
		t.b.unprepared = append(t.b.unprepared, query)
		return nil
	case t.tx == nil:
		return st
	}
	return t.tx.StmtContext(ctx, st)
}

// unprepared runs a statement seen for the first time.
func (t batchTx) unprepared() querier {
	if t.tx == nil {
		return t.b.db
	}
	return t.tx
}

func (t batchTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := t.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return t.unprepared().ExecContext(ctx, query, args...)
}

func (t batchTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := t.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return t.unprepared().QueryContext(ctx, query, args...)
}

func (t batchTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := t.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.unprepared().QueryRowContext(ctx, query, args...)
}

// runLone runs a one-statement op that is alone in its batch without a transaction: SQLite
// commits the statement by itself. Under load most batches hold one op, and database/sql's
// BeginTx and Commit (SQLite compiling BEGIN and COMMIT each time, a goroutine per transaction)
// cost more than the statement. Unlike a shared batch, it runs under the caller's ctx: with no
// other op to undo, an interrupted statement harms no one, and a caller that gave up while the
// connection was busy must find its write skipped, as write promises.
func (b *writeBatcher) runLone(op *writeOp) {
	if err := op.fn(op.ctx, batchTx{b: b}); err != nil {
		op.result <- err
		return
	}
	b.commits.Add(1)
	b.lone.Add(1)
	b.onCommit()
	op.result <- nil
}

// run executes batch in one transaction and reports to every op: its own
// error, or the commit's outcome if its writes were in the commit.
func (b *writeBatcher) run(batch []*writeOp) {
	live := batch[:0]
	for _, op := range batch {
		if err := op.ctx.Err(); err != nil {
			op.result <- err
			continue
		}
		live = append(live, op)
	}
	if len(live) == 0 {
		return
	}
	if len(live) == 1 && live[0].oneStatement {
		b.runLone(live[0])
		return
	}
	// The batch belongs to no one caller, so no caller's ctx may end it.
	tx, err := b.db.BeginTx(context.Background(), nil)
	if err != nil {
		reportOps(live, fmt.Errorf("store: begin: %w", err))
		return
	}
	// A lone op needs no savepoint: if it fails, the transaction is rolled back.
	savepoints := len(live) > 1
	var pending []*writeOp // ops whose writes await the commit
	for i, op := range live {
		if err := op.ctx.Err(); err != nil {
			op.result <- err
			continue
		}
		opErr, txErr := runOp(batchTx{tx: tx, b: b}, op, savepoints)
		if txErr != nil {
			// The transaction itself broke (SQLite may roll it back on
			// errors such as a full disk), so nothing in it can commit.
			_ = tx.Rollback()
			txErr = fmt.Errorf("store: write batch: %w", txErr)
			reportOps(pending, txErr)
			if opErr == nil {
				opErr = txErr
			}
			op.result <- opErr
			reportOps(live[i+1:], txErr)
			return
		}
		if opErr != nil {
			op.result <- opErr
			continue
		}
		pending = append(pending, op)
	}
	if len(pending) == 0 {
		_ = tx.Rollback()
		return
	}
	if err := tx.Commit(); err != nil {
		reportOps(pending, fmt.Errorf("store: commit: %w", err))
		return
	}
	b.commits.Add(1)
	b.onCommit()
	reportOps(pending, nil)
}

// runOp runs op, inside a savepoint if asked. opErr is op's own failure
// (its writes undone); txErr means the transaction can no longer be used.
func runOp(tx batchTx, op *writeOp, savepoint bool) (opErr, txErr error) {
	ctx := context.WithoutCancel(op.ctx)
	if !savepoint {
		return op.fn(ctx, tx), nil
	}
	if _, err := tx.ExecContext(ctx, `SAVEPOINT write_op`); err != nil {
		return nil, err
	}
	if opErr = op.fn(ctx, tx); opErr != nil {
		if _, err := tx.ExecContext(ctx, `ROLLBACK TO write_op`); err != nil {
			return opErr, err
		}
	}
	if _, err := tx.ExecContext(ctx, `RELEASE write_op`); err != nil {
		return opErr, err
	}
	return opErr, nil
}

// reportOps tells each op its outcome (nil: committed).
func reportOps(ops []*writeOp, err error) {
	for _, op := range ops {
		op.result <- err
	}
}
