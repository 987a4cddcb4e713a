package store

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestInbox(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		a, b := db.open(t), db.open(t) // two replicas
		t0 := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

		first, err := a.SaveEnvelope(ctx, "env-1", "slash_commands", []byte(`{"text":"list"}`), "replica-a", time.Minute, t0)
		require.NoError(t, err)
		assert.True(t, first)
		again, err := b.SaveEnvelope(ctx, "env-1", "slash_commands", []byte(`{"text":"list"}`), "replica-b", time.Minute, t0)
		require.NoError(t, err)
		assert.False(t, again, "a redelivery to another replica is recognised")

		orphans, err := b.ClaimOrphanEnvelopes(ctx, "replica-b", time.Minute, t0.Add(30*time.Second), 10)
		require.NoError(t, err)
		assert.Empty(t, orphans, "a leased envelope is not taken over")

		// replica-a dies; after its lease, exactly one of two claimers takes the envelope over.
		later := t0.Add(2 * time.Minute)
		var (
			mu  sync.Mutex
			got []InboxEntry
			wg  sync.WaitGroup
		)
		for _, s := range []*Store{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				o, err := s.ClaimOrphanEnvelopes(ctx, "claimer", time.Minute, later, 10)
				assert.NoError(t, err)
				mu.Lock()
				got = append(got, o...)
				mu.Unlock()
			}()
		}
		wg.Wait()
		require.Len(t, got, 1)
		assert.Equal(t, "env-1", got[0].ID)
		assert.Equal(t, `{"text":"list"}`, string(got[0].Payload))
		assert.Equal(t, 2, got[0].Attempts)

		require.NoError(t, b.FinishEnvelope(ctx, "env-1", later))
		orphans, err = a.ClaimOrphanEnvelopes(ctx, "x", time.Minute, later.Add(time.Hour/2), 10)
		require.NoError(t, err)
		assert.Empty(t, orphans, "a finished envelope is never taken up again")
	})
}

func TestInboxGivesUpAfterMaxAttempts(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		s := db.open(t)
		now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
		_, err := s.SaveEnvelope(ctx, "poison", "slash_commands", []byte(`{}`), "a", time.Second, now)
		require.NoError(t, err)
		claims := 0
		for range MaxInboxAttempts + 2 {
			now = now.Add(2 * time.Second)
			o, err := s.ClaimOrphanEnvelopes(ctx, "a", time.Second, now, 10)
			require.NoError(t, err)
			claims += len(o)
		}
		assert.Equal(t, MaxInboxAttempts-1, claims, "taken up again only until the attempt limit")
	})
}

// A replica that claims an orphan but has no free worker for it hands it back: the envelope is
// at once free for any replica, and the attempt it never made is not counted, or a few busy
// moments would close it unrun, its user never answered.
func TestInboxReleasedClaimSpendsNoAttempt(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		a, b := db.open(t), db.open(t)
		now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
		_, err := a.SaveEnvelope(ctx, "env-busy", "slash_commands", []byte(`{}`), "dead", time.Second, now)
		require.NoError(t, err)
		now = now.Add(2 * time.Second)
		for range MaxInboxAttempts + 2 {
			o, err := a.ClaimOrphanEnvelopes(ctx, "busy", time.Minute, now, 10)
			require.NoError(t, err)
			require.Len(t, o, 1, "a released envelope is not closed unrun")
			assert.Equal(t, 2, o[0].Attempts)
			require.NoError(t, a.ReleaseEnvelope(ctx, "env-busy", "busy"))
		}
		o, err := b.ClaimOrphanEnvelopes(ctx, "free", time.Minute, now, 10)
		require.NoError(t, err)
		require.Len(t, o, 1, "released at once, not when the lease runs out")

		// A claimer that lost the envelope to another cannot release the other's claim.
		require.NoError(t, a.ReleaseEnvelope(ctx, "env-busy", "busy"))
		o, err = a.ClaimOrphanEnvelopes(ctx, "busy", time.Minute, now, 10)
		require.NoError(t, err)
		assert.Empty(t, o, "still leased to its claimer")
	})
}
