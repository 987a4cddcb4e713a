package bot

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestSeenEnvelopes(t *testing.T) {
	t.Parallel()
	s := newSeenEnvelopes(time.Minute, 3)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	assert.True(t, s.firstTime("a", now))
	assert.False(t, s.firstTime("a", now), "a redelivery is recognised")
	assert.True(t, s.firstTime("b", now))
	assert.True(t, s.firstTime("c", now))
	assert.True(t, s.firstTime("d", now), "bounded: the oldest is evicted")
	assert.False(t, s.firstTime("c", now), "the others are still remembered once the ring wraps")
	assert.True(t, s.firstTime("a", now))
	assert.False(t, s.firstTime("d", now))
	assert.True(t, s.firstTime("e", now.Add(2*time.Minute)))
	assert.True(t, s.firstTime("d", now.Add(2*time.Minute)), "forgotten after the TTL")
}

// A quiet bot forgets a busy hour: IDs older than the TTL leave memory as new ones arrive, not
// only when the window is full.
func TestSeenEnvelopesForgetByAge(t *testing.T) {
	t.Parallel()
	s := newSeenEnvelopes(time.Minute, 1000)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 500 {
		assert.True(t, s.firstTime(fmt.Sprintf("burst-%d", i), now.Add(time.Duration(i)*time.Millisecond)))
	}
	assert.False(t, s.firstTime("burst-499", now.Add(59*time.Second)), "still within the TTL")
	assert.True(t, s.firstTime("later", now.Add(2*time.Minute)))
	assert.Equal(t, 1, s.size, "the burst is forgotten")
	assert.Len(t, s.known, 1)
	assert.False(t, s.firstTime("later", now.Add(2*time.Minute+time.Second)), "what is still young is remembered")
}

// BenchmarkSeenEnvelopesMemory reports what remembering one envelope costs once 100,000 fill
// the window (Slack's envelope IDs are UUIDs). Kept as strings, as before, it was 130 bytes.
func BenchmarkSeenEnvelopesMemory(b *testing.B) {
	const n = 100_000
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%08x-4d35-4d0f-b8d6-%012x", i, i)
	}
	var perEntry float64
	for range b.N {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		s := newSeenEnvelopes(time.Hour, n)
		now := time.Now()
		for _, id := range ids {
			s.firstTime(strings.Clone(id), now) // each arrives decoded from its own frame
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perEntry = float64(after.HeapAlloc-before.HeapAlloc) / n
		runtime.KeepAlive(s)
	}
	b.ReportMetric(perEntry, "B/envelope")
}
