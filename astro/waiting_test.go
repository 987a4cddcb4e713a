package astro_test

import (
	"context"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/astro"
	"github.com/orgtoken/orgtoken-bot/emulators/astroemu"
)

// TestAListWaitingOnAstroHoldsNoRoomForItsAnswer: the room a page is decoded into is made once
// the answer is in, so the commands waiting on Astro (most of a command's life) do not each hold
// a page's worth of it. Not parallel: it reads the heap.
func TestAListWaitingOnAstroHoldsNoRoomForItsAnswer(t *testing.T) {
	srv, c := seededOrganization(t, 1000)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	full := astro.ListTokensOptions{Limit: astro.MaxPageSize}
	// A first full page tells the client how long full pages run, so it sizes the next ones.
	_, err := c.ListTokens(ctx, full)
	require.NoError(t, err)
	_, err = c.ListTokenSummaries(ctx, full)
	require.NoError(t, err)

	const waiting = 20
	release := srv.Hold(astroemu.EndpointListTokens)
	defer release()
	before := liveHeap()
	done := make(chan error, 2*waiting)
	for range waiting {
		go func() { _, err := c.ListTokens(ctx, full); done <- err }()
		go func() { _, err := c.ListTokenSummaries(ctx, full); done <- err }()
	}
	require.NoError(t, srv.WaitRequests(ctx, astroemu.EndpointListTokens, 2+2*waiting))
	held := liveHeap() - before
	release()
	for range 2 * waiting {
		require.NoError(t, <-done)
	}

	room := waiting * 1000 * int64(unsafe.Sizeof(astro.Token{})+unsafe.Sizeof(astro.TokenSummary{}))
	t.Logf("%d requests waiting hold %d bytes; room for their pages %d", 2*waiting, held, room)
	assert.Less(t, held, room/2, "%d requests waiting on Astro hold %d bytes; room for their pages would be %d", 2*waiting, held, room)
}

func liveHeap() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
