package store

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSaveEnvelopeDeduplicates(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		claim := func(s *Store, id string, at time.Time) (bool, error) {
			return s.SaveEnvelope(ctx, id, "slash_commands", []byte(`{}`), "replica", time.Minute, at)
		}

		t.Run("FirstClaimOnly", func(t *testing.T) {
			s := newTestDB(t, db.backend).open(t)
			first, err := claim(s, "env-1", baseTime)
			require.NoError(t, err)
			assert.True(t, first)
			again, err := claim(s, "env-1", baseTime.Add(time.Second))
			require.NoError(t, err)
			assert.False(t, again)
			other, err := claim(s, "env-2", baseTime)
			require.NoError(t, err)
			assert.True(t, other)
		})

		t.Run("ExactlyOnceAcrossReplicas", func(t *testing.T) {
			tdb := newTestDB(t, db.backend)
			replicas := []*Store{tdb.open(t), tdb.open(t)}
			const n = 10
			var wins atomic.Int32
			parallel(n, func(i int) {
				ok, err := claim(replicas[i%2], "env-shared", baseTime)
				assert.NoError(t, err)
				if ok {
					wins.Add(1)
				}
			})
			assert.Equal(t, int32(1), wins.Load())
		})

		t.Run("OldClaimsArePruned", func(t *testing.T) {
			s := newTestDB(t, db.backend).open(t)
			_, err := claim(s, "env-old", baseTime)
			require.NoError(t, err)
			later := baseTime.Add(EnvelopeRetention + envelopePruneEvery + time.Minute)
			_, err = claim(s, "env-new", later)
			require.NoError(t, err)
			reclaimed, err := claim(s, "env-old", later)
			require.NoError(t, err)
			assert.True(t, reclaimed, "an envelope older than the retention is forgotten")
		})

		t.Run("RejectsEmptyID", func(t *testing.T) {
			s := newTestDB(t, db.backend).open(t)
			_, err := claim(s, "", baseTime)
			assert.ErrorIs(t, err, ErrInvalid)
		})
	})
}

// replicaPair returns two Stores that must exclude each other: two
// instances on PostgreSQL; on SQLite, whose locks are in-process, one Store
// used twice (SQLite deployments run a single replica).
func replicaPair(t *testing.T, db testDB) (*Store, *Store) {
	t.Helper()
	a := db.open(t)
	if db.backend == BackendSQLite {
		return a, a
	}
	return a, db.open(t)
}

func TestLockToken(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db testDB) {
		ctx := context.Background()

		t.Run("SecondLockerWaitsUntilUnlock", func(t *testing.T) {
			a, b := replicaPair(t, newTestDB(t, db.backend))
			unlockA, err := a.LockToken(ctx, "tok_1")
			require.NoError(t, err)

			var released atomic.Bool
			acquired := make(chan bool)
			go func() {
				unlockB, err := b.LockToken(ctx, "tok_1")
				if !assert.NoError(t, err) {
					acquired <- false
					return
				}
				acquired <- released.Load()
				unlockB()
			}()

			// While A holds the lock, a bounded attempt must give up.
			short, cancel := context.WithTimeout(ctx, 150*time.Millisecond)
			defer cancel()
			_, err = b.LockToken(short, "tok_1")
			assert.ErrorIs(t, err, context.DeadlineExceeded)

			released.Store(true)
			unlockA()
			assert.True(t, <-acquired, "B got the lock only after A released it")
		})

		t.Run("CancelWhileWaiting", func(t *testing.T) {
			a, b := replicaPair(t, newTestDB(t, db.backend))
			unlockA, err := a.LockToken(ctx, "tok_1")
			require.NoError(t, err)
			defer unlockA()

			waitCtx, cancel := context.WithCancel(ctx)
			errc := make(chan error)
			go func() {
				_, err := b.LockToken(waitCtx, "tok_1")
				errc <- err
			}()
			cancel()
			assert.ErrorIs(t, <-errc, context.Canceled)
		})

		t.Run("OtherTokensAreIndependent", func(t *testing.T) {
			a, b := replicaPair(t, newTestDB(t, db.backend))
			unlockA, err := a.LockToken(ctx, "tok_1")
			require.NoError(t, err)
			defer unlockA()
			short, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			unlockB, err := b.LockToken(short, "tok_2")
			require.NoError(t, err)
			unlockB()
		})

		t.Run("UnlockIsIdempotent", func(t *testing.T) {
			a, b := replicaPair(t, newTestDB(t, db.backend))
			unlock, err := a.LockToken(ctx, "tok_1")
			require.NoError(t, err)
			unlock()
			unlock()
			again, err := a.LockToken(ctx, "tok_1") // would block if the double unlock corrupted state
			require.NoError(t, err)
			again()
			fromB, err := b.LockToken(ctx, "tok_1")
			require.NoError(t, err)
			fromB()
		})

		t.Run("SerialisesReadModifyWrite", func(t *testing.T) {
			a, b := replicaPair(t, newTestDB(t, db.backend))
			var (
				mu      sync.Mutex
				inside  int
				overlap bool
			)
			parallel(8, func(i int) {
				s := a
				if i%2 == 1 {
					s = b
				}
				unlock, err := s.LockToken(ctx, "tok_rmw")
				if !assert.NoError(t, err) {
					return
				}
				defer unlock()
				mu.Lock()
				inside++
				overlap = overlap || inside > 1
				mu.Unlock()
				// Hold the lock across a database round trip, as a real
				// read-modify-write would.
				assert.NoError(t, s.Ping(ctx))
				mu.Lock()
				inside--
				mu.Unlock()
			})
			assert.False(t, overlap, "two holders at once")
		})

		t.Run("RejectsEmptyToken", func(t *testing.T) {
			_, err := db.open(t).LockToken(ctx, "")
			assert.ErrorIs(t, err, ErrInvalid)
		})
	})
}

// A token lock is held on a session that sits idle while its holder talks to Astro. A server (or
// role, or database) that ends idle sessions (idle_session_timeout, PostgreSQL 14+) must not end
// that one: the lock would go with it, unnoticed by its holder, and another replica would write
// the token's roles at the same time.
func TestLockTokenOutlivesIdleSessionTimeout(t *testing.T) {
	t.Parallel()
	db := newTestDB(t, BackendPostgres)
	// As if the server were configured so; the URL's parameter reaches the session the same way.
	db.url += "&idle_session_timeout=300"
	ctx := context.Background()
	a, b := db.open(t), db.open(t)
	var supported bool
	require.NoError(t, a.db.QueryRowContext(ctx, `SELECT current_setting('idle_session_timeout', true) IS NOT NULL`).Scan(&supported))
	if !supported {
		t.Skip("this PostgreSQL has no idle_session_timeout")
	}

	unlock, err := a.LockToken(ctx, "tok_1")
	require.NoError(t, err)
	defer unlock()
	time.Sleep(time.Second) // the holder's session idles past the timeout

	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	unlockB, err := b.LockToken(short, "tok_1")
	if err == nil {
		unlockB()
	}
	assert.ErrorIs(t, err, context.DeadlineExceeded, "another replica took a token lock still held")
}

func newRevert(token string, due time.Time) Revert {
	return Revert{
		RequestID: "r_elevate", TokenID: token, TokenName: "name-" + token, WorkspaceID: "ws_1",
		RevertTo: "WORKSPACE_MEMBER", ExpectedRole: "WORKSPACE_OPERATOR", DueAt: due,
		RequestedBy: "U_REQ", ChannelID: "C_OPS",
	}
}

func revertIDs(rs []Revert) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.ID)
	}
	sort.Strings(out)
	return out
}

func TestReverts(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		now := time.Now().UTC().Truncate(time.Millisecond)

		t.Run("ScheduleAndList", func(t *testing.T) {
			s := newTestDB(t, db.backend).open(t)
			want := newRevert("tok_1", now.Add(time.Hour))
			got, err := s.ScheduleRevert(ctx, want)
			require.NoError(t, err)
			assert.Regexp(t, `^v[a-z2-7]{12}$`, got.ID)
			_, err = s.ScheduleRevert(ctx, newRevert("tok_2", now.Add(time.Minute)))
			require.NoError(t, err)

			forToken, err := s.ListPendingReverts(ctx, "tok_1")
			require.NoError(t, err)
			require.Len(t, forToken, 1)
			assert.Equal(t, got, forToken[0])
			assert.Equal(t, RevertPending, forToken[0].State)

			all, err := s.ListPendingReverts(ctx, "")
			require.NoError(t, err)
			require.Len(t, all, 2)
			assert.Equal(t, "tok_2", all[0].TokenID, "earliest due first")
		})

		t.Run("OnlyDueRevertsAreClaimed", func(t *testing.T) {
			s := newTestDB(t, db.backend).open(t)
			due, err := s.ScheduleRevert(ctx, newRevert("tok_1", now.Add(-time.Minute)))
			require.NoError(t, err)
			_, err = s.ScheduleRevert(ctx, newRevert("tok_2", now.Add(time.Minute)))
			require.NoError(t, err)

			claimed, err := s.ClaimDueReverts(ctx, now, "replica-a", time.Minute)
			require.NoError(t, err)
			require.Len(t, claimed, 1)
			assert.Equal(t, due.ID, claimed[0].ID)
			assert.Equal(t, "replica-a", claimed[0].LeaseOwner)
			assert.Equal(t, now.Add(time.Minute), claimed[0].LeaseUntil)
			assert.Equal(t, 1, claimed[0].Attempts)
		})

		t.Run("ConcurrentClaimersSplitWithoutOverlap", func(t *testing.T) {
			tdb := newTestDB(t, db.backend)
			a, b := tdb.open(t), tdb.open(t)
			var want []string
			for i := range 6 {
				r, err := a.ScheduleRevert(ctx, newRevert(fmt.Sprintf("tok_%d", i), now.Add(-time.Duration(i+1)*time.Minute)))
				require.NoError(t, err)
				want = append(want, r.ID)
			}
			sort.Strings(want)
			results := make([][]Revert, 2)
			parallel(2, func(i int) {
				s := []*Store{a, b}[i]
				var err error
				results[i], err = s.ClaimDueReverts(ctx, now, fmt.Sprintf("replica-%d", i), time.Minute)
				assert.NoError(t, err)
			})
			got := revertIDs(append(results[0], results[1]...))
			assert.Equal(t, want, got, "every due revert claimed exactly once")
		})

		t.Run("ReclaimableAfterLeaseExpires", func(t *testing.T) {
			s := newTestDB(t, db.backend).open(t)
			r, err := s.ScheduleRevert(ctx, newRevert("tok_1", now.Add(-time.Minute)))
			require.NoError(t, err)
			first, err := s.ClaimDueReverts(ctx, now, "replica-a", time.Minute)
			require.NoError(t, err)
			require.Len(t, first, 1)

			during, err := s.ClaimDueReverts(ctx, now.Add(59*time.Second), "replica-b", time.Minute)
			require.NoError(t, err)
			assert.Empty(t, during, "leased to replica-a")

			after, err := s.ClaimDueReverts(ctx, now.Add(time.Minute), "replica-b", time.Minute)
			require.NoError(t, err)
			require.Len(t, after, 1)
			assert.Equal(t, r.ID, after[0].ID)
			assert.Equal(t, "replica-b", after[0].LeaseOwner)
			assert.Equal(t, 2, after[0].Attempts)
		})

		t.Run("ReleasedClaimIsClaimableAgainWithoutSpendingAnAttempt", func(t *testing.T) {
			s := newTestDB(t, db.backend).open(t)
			r, err := s.ScheduleRevert(ctx, newRevert("tok_1", now.Add(-time.Minute)))
			require.NoError(t, err)
			first, err := s.ClaimDueReverts(ctx, now, "replica-a", time.Minute)
			require.NoError(t, err)
			require.Len(t, first, 1)
			require.Equal(t, 1, first[0].Attempts)

			released, err := s.ReleaseRevert(ctx, first[0])
			require.NoError(t, err)
			assert.True(t, released)
			got, err := s.GetRevert(ctx, r.ID)
			require.NoError(t, err)
			assert.Equal(t, RevertPending, got.State)
			assert.Equal(t, 0, got.Attempts, "the claim is not counted")
			released, err = s.ReleaseRevert(ctx, first[0])
			require.NoError(t, err)
			assert.False(t, released, "a claim is handed back once")

			again, err := s.ClaimDueReverts(ctx, now, "replica-b", time.Minute)
			require.NoError(t, err)
			require.Len(t, again, 1, "claimable at once, without waiting for the lease")
			assert.Equal(t, 1, again[0].Attempts)
			released, err = s.ReleaseRevert(ctx, first[0])
			require.NoError(t, err)
			assert.False(t, released, "an older claim does not hand back a newer one")
			got, err = s.GetRevert(ctx, r.ID)
			require.NoError(t, err)
			assert.Equal(t, "replica-b", got.LeaseOwner)
			assert.Equal(t, again[0].LeaseUntil, got.LeaseUntil)

			_, err = s.CompleteRevert(ctx, r.ID, "reverted")
			require.NoError(t, err)
			released, err = s.ReleaseRevert(ctx, again[0])
			require.NoError(t, err)
			assert.False(t, released, "a finished revert is left alone")
			got, err = s.GetRevert(ctx, r.ID)
			require.NoError(t, err)
			assert.Equal(t, RevertDone, got.State)
			assert.Equal(t, 1, got.Attempts)
		})

		t.Run("CompletedRevertIsNotClaimedAgain", func(t *testing.T) {
			s := newTestDB(t, db.backend).open(t)
			r, err := s.ScheduleRevert(ctx, newRevert("tok_1", now.Add(-time.Minute)))
			require.NoError(t, err)
			_, err = s.ClaimDueReverts(ctx, now, "replica-a", time.Minute)
			require.NoError(t, err)

			done, err := s.CompleteRevert(ctx, r.ID, "reverted to WORKSPACE_MEMBER")
			require.NoError(t, err)
			assert.Equal(t, RevertDone, done.State)
			assert.Equal(t, "reverted to WORKSPACE_MEMBER", done.Outcome)
			assert.False(t, done.FinishedAt.IsZero())

			later, err := s.ClaimDueReverts(ctx, now.Add(time.Hour), "replica-b", time.Minute)
			require.NoError(t, err)
			assert.Empty(t, later)
			pending, err := s.ListPendingReverts(ctx, "")
			require.NoError(t, err)
			assert.Empty(t, pending)

			_, err = s.CompleteRevert(ctx, r.ID, "again")
			var stateErr *StateError
			require.ErrorAs(t, err, &stateErr)
			assert.ErrorIs(t, err, ErrStateConflict)
			assert.Equal(t, string(RevertDone), stateErr.State)
		})

		t.Run("Cancel", func(t *testing.T) {
			s := newTestDB(t, db.backend).open(t)
			idle, err := s.ScheduleRevert(ctx, newRevert("tok_idle", now.Add(time.Hour)))
			require.NoError(t, err)
			busy, err := s.ScheduleRevert(ctx, newRevert("tok_busy", now.Add(-time.Minute)))
			require.NoError(t, err)
			_, err = s.ClaimDueReverts(ctx, now, "replica-a", time.Hour)
			require.NoError(t, err)

			_, err = s.CancelRevertAndNested(ctx, idle.ID, "U_ADMIN", nil)
			require.NoError(t, err)
			cancelled, err := s.GetRevert(ctx, idle.ID)
			require.NoError(t, err)
			assert.Equal(t, RevertCancelled, cancelled.State)
			assert.Equal(t, "U_ADMIN", cancelled.CancelledBy)

			_, err = s.CancelRevertAndNested(ctx, busy.ID, "U_ADMIN", nil)
			var stateErr *StateError
			require.ErrorAs(t, err, &stateErr)
			assert.Equal(t, "in progress", stateErr.State)

			_, err = s.CancelRevertAndNested(ctx, "vmissing", "U_ADMIN", nil)
			assert.ErrorIs(t, err, ErrNotFound)
		})

		t.Run("SupersedeIgnoresTheLeaseAndIsSeenByTheClaimer", func(t *testing.T) {
			s := newTestDB(t, db.backend).open(t)
			busy, err := s.ScheduleRevert(ctx, newRevert("tok_busy", now.Add(-time.Minute)))
			require.NoError(t, err)
			claimed, err := s.ClaimDueReverts(ctx, now, "replica-a", time.Hour)
			require.NoError(t, err)
			require.Len(t, claimed, 1)

			gone, err := s.SupersedeRevert(ctx, busy.ID, "U_ALICE", "superseded by a lasting change")
			require.NoError(t, err)
			assert.Equal(t, RevertCancelled, gone.State)
			assert.Equal(t, "U_ALICE", gone.CancelledBy)
			assert.Equal(t, "superseded by a lasting change", gone.Outcome)

			seen, err := s.GetRevert(ctx, busy.ID)
			require.NoError(t, err)
			assert.Equal(t, RevertCancelled, seen.State, "the worker that holds the lease sees it ended")
			_, err = s.CompleteRevert(ctx, busy.ID, "reverted")
			assert.ErrorIs(t, err, ErrStateConflict)
			_, err = s.SupersedeRevert(ctx, busy.ID, "U_ALICE", "again")
			assert.ErrorIs(t, err, ErrStateConflict)
			_, err = s.GetRevert(ctx, "vmissing")
			assert.ErrorIs(t, err, ErrNotFound)
		})

		t.Run("EndNestedIsAllOrNothing", func(t *testing.T) {
			s := newTestDB(t, db.backend).open(t)
			outer, err := s.ScheduleRevert(ctx, newRevert("tok_1", now.Add(-time.Minute)))
			require.NoError(t, err)
			inner, err := s.ScheduleRevert(ctx, newRevert("tok_1", now.Add(-time.Hour)))
			require.NoError(t, err)
			done, err := s.ScheduleRevert(ctx, newRevert("tok_1", now.Add(-2*time.Hour)))
			require.NoError(t, err)
			_, err = s.CompleteRevert(ctx, done.ID, "reverted")
			require.NoError(t, err)
			_, err = s.ClaimDueReverts(ctx, now, "replica-a", time.Hour)
			require.NoError(t, err)

			ends := []NestedEnd{{ID: inner.ID, Outcome: "ended with " + outer.ID}, {ID: done.ID, Outcome: "ended with " + outer.ID}}
			ended, err := s.EndNestedReverts(ctx, outer.ID, "WORKSPACE_OWNER", "orgtoken-bot", ends)
			require.NoError(t, err)
			assert.Equal(t, []string{inner.ID}, ended, "one already done is skipped")
			got, err := s.GetRevert(ctx, outer.ID)
			require.NoError(t, err)
			assert.Equal(t, []string{string(RevertPending), "WORKSPACE_OWNER", "replica-a"}, []string{string(got.State), got.ExpectedRole, got.LeaseOwner},
				"the outer one stays with its worker, to undo the role its nested ones left")
			gone, err := s.GetRevert(ctx, inner.ID)
			require.NoError(t, err)
			assert.Equal(t, []string{string(RevertCancelled), "orgtoken-bot", "ended with " + outer.ID}, []string{string(gone.State), gone.CancelledBy, gone.Outcome})
			again, err := s.ClaimDueReverts(ctx, now.Add(2*time.Hour), "replica-b", time.Hour)
			require.NoError(t, err)
			require.Len(t, again, 1)
			assert.Equal(t, "WORKSPACE_OWNER", again[0].ExpectedRole, "the next attempt undoes the role the nested ones left")

			// An outer one no longer pending changes nothing, its nested ones included.
			other, err := s.ScheduleRevert(ctx, newRevert("tok_1", now.Add(time.Hour)))
			require.NoError(t, err)
			_, err = s.CompleteRevert(ctx, outer.ID, "reverted")
			require.NoError(t, err)
			_, err = s.EndNestedReverts(ctx, outer.ID, "WORKSPACE_MEMBER", "orgtoken-bot", []NestedEnd{{ID: other.ID, Outcome: "x"}})
			assert.ErrorIs(t, err, ErrStateConflict)
			still, err := s.GetRevert(ctx, other.ID)
			require.NoError(t, err)
			assert.Equal(t, RevertPending, still.State)
			_, err = s.EndNestedReverts(ctx, "vmissing", "WORKSPACE_MEMBER", "orgtoken-bot", nil)
			assert.ErrorIs(t, err, ErrNotFound)
		})

		t.Run("EndNestedRollsBackOnALaterFailure", func(t *testing.T) {
			s := newTestDB(t, db.backend).open(t)
			outer, err := s.ScheduleRevert(ctx, newRevert("tok_1", now.Add(-time.Minute)))
			require.NoError(t, err)
			inner, err := s.ScheduleRevert(ctx, newRevert("tok_1", now.Add(-time.Hour)))
			require.NoError(t, err)
			_, err = s.EndNestedReverts(ctx, outer.ID, "WORKSPACE_OWNER", "orgtoken-bot",
				[]NestedEnd{{ID: inner.ID, Outcome: "x"}, {ID: "vmissing00000", Outcome: "x"}})
			require.ErrorIs(t, err, ErrNotFound)
			got, err := s.GetRevert(ctx, outer.ID)
			require.NoError(t, err)
			assert.Equal(t, outer.ExpectedRole, got.ExpectedRole, "the role to undo is rolled back")
			still, err := s.GetRevert(ctx, inner.ID)
			require.NoError(t, err)
			assert.Equal(t, RevertPending, still.State, "the nested one ended before the failure is rolled back")
		})

		t.Run("CancelWithNestedIsAllOrNothing", func(t *testing.T) {
			s := newTestDB(t, db.backend).open(t)
			outer, err := s.ScheduleRevert(ctx, newRevert("tok_1", now.Add(time.Hour)))
			require.NoError(t, err)
			inner, err := s.ScheduleRevert(ctx, newRevert("tok_1", now.Add(time.Minute)))
			require.NoError(t, err)
			ended, err := s.CancelRevertAndNested(ctx, outer.ID, "U_DORA", []NestedEnd{{ID: inner.ID, Outcome: "ended early with " + outer.ID}})
			require.NoError(t, err)
			assert.Equal(t, []string{inner.ID}, ended)
			for id, by := range map[string]string{outer.ID: "U_DORA", inner.ID: "U_DORA"} {
				got, err := s.GetRevert(ctx, id)
				require.NoError(t, err)
				assert.Equal(t, []string{string(RevertCancelled), by}, []string{string(got.State), got.CancelledBy}, id)
			}

			// A failure after some of it was done undoes all of it.
			again, err := s.ScheduleRevert(ctx, newRevert("tok_3", now.Add(time.Hour)))
			require.NoError(t, err)
			first, err := s.ScheduleRevert(ctx, newRevert("tok_3", now.Add(time.Minute)))
			require.NoError(t, err)
			_, err = s.CancelRevertAndNested(ctx, again.ID, "U_DORA", []NestedEnd{{ID: first.ID, Outcome: "x"}, {ID: "vmissing00000", Outcome: "x"}})
			require.ErrorIs(t, err, ErrNotFound)
			for _, id := range []string{again.ID, first.ID} {
				got, err := s.GetRevert(ctx, id)
				require.NoError(t, err)
				assert.Equal(t, RevertPending, got.State, "%s is left as it was", id)
			}

			// One the worker is carrying out is not cancelled, and its nested ones stay.
			busy, err := s.ScheduleRevert(ctx, newRevert("tok_2", now.Add(-time.Minute)))
			require.NoError(t, err)
			nested, err := s.ScheduleRevert(ctx, newRevert("tok_2", now.Add(time.Hour)))
			require.NoError(t, err)
			_, err = s.ClaimDueReverts(ctx, now, "replica-a", time.Hour)
			require.NoError(t, err)
			_, err = s.CancelRevertAndNested(ctx, busy.ID, "U_DORA", []NestedEnd{{ID: nested.ID, Outcome: "x"}})
			var stateErr *StateError
			require.ErrorAs(t, err, &stateErr)
			assert.Equal(t, "in progress", stateErr.State)
			still, err := s.GetRevert(ctx, nested.ID)
			require.NoError(t, err)
			assert.Equal(t, RevertPending, still.State)
		})

		t.Run("RevertsOfRequestInAnyState", func(t *testing.T) {
			s := newTestDB(t, db.backend).open(t)
			mine := newRevert("tok_1", now.Add(time.Hour))
			mine.RequestID = "r_1"
			first, err := s.ScheduleRevert(ctx, mine)
			require.NoError(t, err)
			_, err = s.SupersedeRevert(ctx, first.ID, "U_ADMIN", "superseded by a lasting change")
			require.NoError(t, err)
			second, err := s.ScheduleRevert(ctx, mine)
			require.NoError(t, err)
			other := newRevert("tok_1", now.Add(time.Hour))
			other.RequestID = "r_2"
			_, err = s.ScheduleRevert(ctx, other)
			require.NoError(t, err)

			got, err := s.RevertsOfRequest(ctx, "r_1")
			require.NoError(t, err)
			assert.Equal(t, []string{first.ID, second.ID}, []string{got[0].ID, got[1].ID})
			assert.Equal(t, RevertCancelled, got[0].State)
			none, err := s.RevertsOfRequest(ctx, "r_none")
			require.NoError(t, err)
			assert.Empty(t, none)
		})

		t.Run("MayHaveWrittenIsKept", func(t *testing.T) {
			s := newTestDB(t, db.backend).open(t)
			r, err := s.ScheduleRevert(ctx, newRevert("tok_1", now.Add(-time.Minute)))
			require.NoError(t, err)
			assert.False(t, r.MayHaveWritten)
			claimed, err := s.ClaimDueReverts(ctx, now, "replica-a", time.Minute)
			require.NoError(t, err)
			require.Len(t, claimed, 1)
			assert.False(t, claimed[0].MayHaveWritten)

			noted, err := s.NoteMayHaveWritten(ctx, r.ID, true)
			require.NoError(t, err)
			assert.True(t, noted.MayHaveWritten)
			assert.Equal(t, RevertPending, noted.State, "still to be carried out")
			again, err := s.ClaimDueReverts(ctx, now.Add(time.Minute), "replica-b", time.Minute)
			require.NoError(t, err)
			require.Len(t, again, 1)
			assert.True(t, again[0].MayHaveWritten, "the next attempt knows")

			// A later attempt's read can prove it wrong, and clear it.
			cleared, err := s.NoteMayHaveWritten(ctx, r.ID, false)
			require.NoError(t, err)
			assert.False(t, cleared.MayHaveWritten)
			_, err = s.NoteMayHaveWritten(ctx, r.ID, true)
			require.NoError(t, err)

			// Handed on to a new revert (a failed revert-now's retry), it is kept.
			retry := again[0]
			retried, err := s.ScheduleRevert(ctx, retry)
			require.NoError(t, err)
			got, err := s.GetRevert(ctx, retried.ID)
			require.NoError(t, err)
			assert.True(t, got.MayHaveWritten)
			assert.Zero(t, got.Attempts)

			_, err = s.CompleteRevert(ctx, r.ID, "reverted")
			require.NoError(t, err)
			_, err = s.NoteMayHaveWritten(ctx, r.ID, true)
			assert.ErrorIs(t, err, ErrStateConflict)
			_, err = s.NoteMayHaveWritten(ctx, "vmissing00000", true)
			assert.ErrorIs(t, err, ErrNotFound)
		})

		t.Run("RejectsBadArguments", func(t *testing.T) {
			s := newTestDB(t, db.backend).open(t)
			_, err := s.ScheduleRevert(ctx, Revert{TokenID: "tok_1"})
			assert.ErrorIs(t, err, ErrInvalid)
			_, err = s.ClaimDueReverts(ctx, now, "", time.Minute)
			assert.ErrorIs(t, err, ErrInvalid)
			_, err = s.ClaimDueReverts(ctx, now, "replica-a", 0)
			assert.ErrorIs(t, err, ErrInvalid)
		})
	})
}
