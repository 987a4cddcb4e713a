package bot

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func countingRelease(after time.Duration) (*idleRelease, *atomic.Int32) {
	var calls atomic.Int32
	r := newIdleRelease(after)
	r.release = func() { calls.Add(1) }
	return r, &calls
}

// Memory goes back once the last command of a burst has finished and the bot stayed idle.
func TestIdleReleaseAfterTheLastCommandOfABurst(t *testing.T) {
	t.Parallel()
	r, calls := countingRelease(20 * time.Millisecond)
	r.begin()
	r.begin()
	r.end()
	r.fire() // as if a timer from an earlier idle spell fired now
	assert.Zero(t, calls.Load(), "never while a command runs")
	r.end()
	assert.Eventually(t, func() bool { return calls.Load() == 1 }, 5*time.Second, 5*time.Millisecond)
	r.begin()
	r.end()
	assert.Eventually(t, func() bool { return calls.Load() == 2 }, 5*time.Second, 5*time.Millisecond, "and again after the next burst")
}

// A command starting while the release is pending cancels it.
func TestIdleReleaseWaitsForTheNextQuietSpell(t *testing.T) {
	t.Parallel()
	r, calls := countingRelease(time.Hour)
	r.begin()
	r.end()
	r.begin()
	r.fire()
	assert.Zero(t, calls.Load())
	r.end()
	r.fire()
	assert.EqualValues(t, 1, calls.Load())
}

func TestIdleReleaseOffAndStopped(t *testing.T) {
	t.Parallel()
	off, offCalls := countingRelease(0)
	off.begin()
	off.end()
	assert.Nil(t, off.timer, "0 never arms a release")
	assert.Zero(t, offCalls.Load())

	stopped, calls := countingRelease(time.Hour)
	stopped.begin()
	stopped.end()
	stopped.stop()
	stopped.fire()
	stopped.begin()
	stopped.end()
	assert.Zero(t, calls.Load(), "nothing after shutdown began")
}
