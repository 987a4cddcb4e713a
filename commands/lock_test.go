package commands

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestKeyedLockerSerialisesOneToken(t *testing.T) {
	t.Parallel()
	l := NewKeyedLocker()
	unlock, err := l.LockToken(t.Context(), "a")
	require.NoError(t, err)

	other, err := l.LockToken(t.Context(), "b")
	require.NoError(t, err, "another token is not blocked")
	other()

	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	_, err = l.LockToken(ctx, "a")
	require.ErrorIs(t, err, context.DeadlineExceeded, "the same token waits")

	unlock()
	unlock() // idempotent
	again, err := l.LockToken(t.Context(), "a")
	require.NoError(t, err)
	again()
}

func TestKeyedLockerFreshness(t *testing.T) {
	t.Parallel()
	l := NewKeyedLocker()

	cp := l.Checkpoint()
	unlock, err := l.LockToken(t.Context(), "a")
	require.NoError(t, err)
	assert.False(t, l.ReleasedSince("a", cp), "nobody else held it")
	unlock()

	// A writer that finishes after our checkpoint makes our earlier read stale, even though
	// the lock is free when we take it.
	cp = l.Checkpoint()
	w, err := l.LockToken(t.Context(), "a")
	require.NoError(t, err)
	w()
	unlock, err = l.LockToken(t.Context(), "a")
	require.NoError(t, err)
	assert.True(t, l.ReleasedSince("a", cp))
	unlock()

	// A writer holding the lock at our checkpoint also counts once it releases.
	w, err = l.LockToken(t.Context(), "a")
	require.NoError(t, err)
	cp = l.Checkpoint()
	go w()
	unlock, err = l.LockToken(t.Context(), "a")
	require.NoError(t, err)
	assert.True(t, l.ReleasedSince("a", cp))
	unlock()

	// Releases of other tokens do not count while the token's lock is known...
	waiter, err := l.LockToken(t.Context(), "a")
	require.NoError(t, err)
	cp = l.Checkpoint()
	b, err := l.LockToken(t.Context(), "b")
	require.NoError(t, err)
	b()
	assert.False(t, l.ReleasedSince("a", cp))
	waiter()

	// ...nor once both locks are unused and dropped: the last release of each is remembered.
	cp = l.Checkpoint()
	b, err = l.LockToken(t.Context(), "b")
	require.NoError(t, err)
	b()
	assert.True(t, l.ReleasedSince("b", cp))
	assert.False(t, l.ReleasedSince("a", cp))
	unlock, err = l.LockToken(t.Context(), "a")
	require.NoError(t, err)
	assert.False(t, l.ReleasedSince("a", cp), "the releases of b say nothing about a")
	unlock()
}

func TestKeyedLockerErrsOnTheSafeSideOnceItForgets(t *testing.T) {
	t.Parallel()
	l := NewKeyedLocker()
	cp := l.Checkpoint()
	lockAndRelease := func(id string) {
		unlock, err := l.LockToken(t.Context(), id)
		require.NoError(t, err)
		unlock()
	}
	lockAndRelease("a")
	never := "never-locked"
	assert.False(t, l.ReleasedSince(never, cp), "still remembered: only a was released")

	// Enough other tokens to push a out of memory.
	for i := range 2 * releaseMemory {
		lockAndRelease(fmt.Sprintf("t%d", i))
	}
	assert.True(t, l.ReleasedSince("a", cp), "a was released after the checkpoint")
	assert.True(t, l.ReleasedSince(never, cp), "not remembered, so maybe released")
	assert.False(t, l.ReleasedSince("a", l.Checkpoint()), "nothing released after a fresh checkpoint")
	assert.LessOrEqual(t, len(l.recent)+len(l.older), 2*releaseMemory, "memory stays bounded")
}
