package store

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
	"time"
)

// sqliteCommitCheckpointPages is the WAL size, in pages (≈ 40 MB), at which a commit
// checkpoints by itself (SQLite's default is 1,000). It bounds the WAL: the checkpointer copies
// frames back as they come, but the WAL only starts over from its beginning once a checkpoint
// has copied every frame before the next commit begins, which under steady writes mostly
// happens here, in a commit that finds nearly all frames already copied.
const sqliteCommitCheckpointPages = 10_000

// checkpointDelay is how long the checkpointer lets commits gather after the first one it
// hears of: one checkpoint for a burst of them.
const checkpointDelay = 100 * time.Millisecond

// checkpointer copies the WAL back into the database file on a connection of its own. Left to
// SQLite, a checkpoint runs inside whichever commit takes the WAL past 1,000 pages, fsyncs
// included: under load ≈ 10 ms on the store's single writer every ≈ 0.4 s, and every write
// queued behind it (a command's inbox claim, its audit entry) waits that out. A PASSIVE
// checkpoint from another connection runs beside the writer instead of in its way.
type checkpointer struct {
	db       *sql.DB
	wake     chan struct{} // capacity 1: a commit happened since the last checkpoint began
	stop     chan struct{}
	stopOnce sync.Once // Store.Close may be called more than once
	done     chan struct{}

	// complete counts checkpoints that found the whole WAL copied back (tests wait on it).
	complete atomic.Int64
}

func newCheckpointer(db *sql.DB) *checkpointer {
	c := &checkpointer{db: db, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go c.loop()
	return c
}

// committed tells the checkpointer the WAL grew. It never waits.
func (c *checkpointer) committed() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *checkpointer) loop() {
	defer close(c.done)
	for {
		select {
		case <-c.wake:
		case <-c.stop:
			return
		}
		select {
		case <-time.After(checkpointDelay):
		case <-c.stop:
			return
		}
		c.checkpoint()
	}
}

func (c *checkpointer) checkpoint() {
	// PASSIVE copies what it can without waiting on the writer or readers. A failure costs
	// nothing lasting: the next commit wakes the checkpointer again, and commits checkpoint
	// by themselves past sqliteCommitCheckpointPages.
	var busy, logFrames, copied int
	err := c.db.QueryRowContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &logFrames, &copied)
	if err == nil && busy == 0 && logFrames == copied {
		c.complete.Add(1)
	}
}

// close stops the checkpointer and closes its connection. SQLite checkpoints once more as the
// last connection to the file closes.
func (c *checkpointer) close() error {
	c.stopOnce.Do(func() { close(c.stop) })
	<-c.done
	return c.db.Close()
}
