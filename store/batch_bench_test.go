package store

import (
	"context"
	"path/filepath"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// benchSQLite opens a store on a fresh SQLite file.
func benchSQLite(b *testing.B) *Store {
	b.Helper()
	s, err := Open(context.Background(), "sqlite://"+filepath.Join(b.TempDir(), "bench.db"))
	require.NoError(b, err)
	b.Cleanup(func() { _ = s.Close() })
	return s
}

// BenchmarkConcurrentInbox models a burst of commands finishing at once: many
// goroutines (30 per CPU) each save and finish an envelope, optionally with an
// audit entry in between. The p1 runs (one goroutine per CPU) show the cost
// when there is nothing to batch.
func BenchmarkConcurrentInbox(b *testing.B) {
	for _, c := range []struct {
		name      string
		withAudit bool
		perCPU    int
	}{
		{"SaveFinish/p30", false, 30},
		{"SaveAuditFinish/p30", true, 30},
		{"SaveFinish/p1", false, 1},
		{"SaveAuditFinish/p1", true, 1},
	} {
		withAudit := c.withAudit
		b.Run(c.name, func(b *testing.B) {
			s := benchSQLite(b)
			ctx := context.Background()
			now := time.Now()
			var next atomic.Int64
			b.SetParallelism(c.perCPU)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					id := "env-" + strconv.FormatInt(next.Add(1), 10)
					fresh, err := s.SaveEnvelope(ctx, id, "slash_commands", []byte(`{"text":"list"}`), "bench", time.Minute, now)
					if err != nil || !fresh {
						b.Errorf("SaveEnvelope(%s) = %v, %v", id, fresh, err)
						return
					}
					if withAudit {
						if _, err := s.AppendAudit(ctx, AuditEntry{Action: "role.changed", TokenID: "tok", Detail: id}); err != nil {
							b.Errorf("AppendAudit: %v", err)
							return
						}
					}
					if err := s.FinishEnvelope(ctx, id, now); err != nil {
						b.Errorf("FinishEnvelope: %v", err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkSQLiteWriteTail is one writer committing inbox saves back to back, as the bot's
// single SQLite writer does under load, and reports the slowest of them: a commit that
// checkpoints the WAL (copying it back and syncing the file) takes milliseconds, and every
// write queued behind it waits. "own-checkpointer" is the store's default; "commit-checkpoints"
// leaves checkpoints to SQLite's commits, every 1,000 pages (its default).
func BenchmarkSQLiteWriteTail(b *testing.B) {
	for _, c := range []struct{ name, query string }{
		{"own-checkpointer", ""},
		{"commit-checkpoints", "?_pragma=wal_autocheckpoint(1000)"},
	} {
		b.Run(c.name, func(b *testing.B) {
			s, err := Open(context.Background(), "file:"+filepath.Join(b.TempDir(), "bench.db")+c.query)
			require.NoError(b, err)
			b.Cleanup(func() { _ = s.Close() })
			ctx := context.Background()
			now := time.Now()
			took := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				start := time.Now()
				if _, err := s.SaveEnvelope(ctx, "env-"+strconv.Itoa(i), "slash_commands", []byte(`{"text":"list"}`), "bench", time.Minute, now); err != nil {
					b.Fatal(err)
				}
				took = append(took, time.Since(start))
			}
			b.StopTimer()
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)*999/1000].Microseconds()), "p99.9-µs")
			b.ReportMetric(float64(took[len(took)-1].Microseconds()), "max-µs")
		})
	}
}
