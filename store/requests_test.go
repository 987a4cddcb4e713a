package store

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// baseTime is recent and microsecond-aligned, so stored times compare equal.
var baseTime = time.Now().UTC().Truncate(time.Second)

func newRequest(mod ...func(*Request)) Request {
	r := Request{
		RequesterID:     "U_REQ",
		ChannelID:       "C_OPS",
		TokenID:         "tok_1",
		TokenName:       "ci-deployer",
		WorkspaceID:     "ws_1",
		WorkspaceName:   "prod",
		CurrentRole:     "WORKSPACE_MEMBER",
		RequestedRole:   "WORKSPACE_OPERATOR",
		Action:          "update",
		Reason:          "deploy hotfix",
		Rule:            "prod-needs-approval",
		ApprovalsNeeded: 2,
		ApproverGroups:  []string{"sre", "platform"},
		Elevation:       90 * time.Minute,
		CreatedAt:       baseTime,
		ExpiresAt:       baseTime.Add(time.Hour),
	}
	for _, m := range mod {
		m(&r)
	}
	return r
}

func TestCreateRequest(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db testDB) {
		ctx := context.Background()

		t.Run("StoresAllFields", func(t *testing.T) {
			s := newTestDB(t, db.backend).open(t)
			want := newRequest()
			got, created, err := s.CreateRequest(ctx, want)
			require.NoError(t, err)
			assert.True(t, created)
			assert.Regexp(t, `^r[a-z2-7]{12}$`, got.ID)
			assert.Equal(t, StatePending, got.State)

			read, err := s.GetRequest(ctx, got.ID)
			require.NoError(t, err)
			want.ID, want.State = got.ID, StatePending
			assert.Equal(t, want, read)
		})

		t.Run("IdenticalPendingRequestIsNotCreatedTwice", func(t *testing.T) {
			s := newTestDB(t, db.backend).open(t)
			first, created, err := s.CreateRequest(ctx, newRequest())
			require.NoError(t, err)
			require.True(t, created)

			again, created, err := s.CreateRequest(ctx, newRequest(func(r *Request) { r.RequesterID = "U_OTHER"; r.Reason = "me too" }))
			require.NoError(t, err)
			assert.False(t, created)
			assert.Equal(t, first.ID, again.ID)
			assert.Equal(t, "U_REQ", again.RequesterID, "the existing request is returned unchanged")
		})

		t.Run("DifferentChangeIsSeparateRequest", func(t *testing.T) {
			s := newTestDB(t, db.backend).open(t)
			first, _, err := s.CreateRequest(ctx, newRequest())
			require.NoError(t, err)
			for _, mod := range []func(*Request){
				func(r *Request) { r.RequestedRole = "WORKSPACE_OWNER" },
				func(r *Request) { r.WorkspaceID = "ws_2" },
				func(r *Request) { r.TokenID = "tok_2" },
				func(r *Request) { r.Action = "remove"; r.RequestedRole = "" },
			} {
				other, created, err := s.CreateRequest(ctx, newRequest(mod))
				require.NoError(t, err)
				assert.True(t, created)
				assert.NotEqual(t, first.ID, other.ID)
			}
		})

		t.Run("DecidedRequestDoesNotBlockNewOne", func(t *testing.T) {
			s := newTestDB(t, db.backend).open(t)
			first, _, err := s.CreateRequest(ctx, newRequest())
			require.NoError(t, err)
			_, err = s.Transition(ctx, first.ID, StatePending, StateDenied, TransitionUpdate{DecidedBy: "U_BOSS"})
			require.NoError(t, err)

			second, created, err := s.CreateRequest(ctx, newRequest())
			require.NoError(t, err)
			assert.True(t, created)
			assert.NotEqual(t, first.ID, second.ID)
		})

		t.Run("LapsedPendingRequestIsLeftForTheCallerToClose", func(t *testing.T) {
			s := newTestDB(t, db.backend).open(t)
			old, _, err := s.CreateRequest(ctx, newRequest(func(r *Request) {
				r.CreatedAt, r.ExpiresAt = baseTime.Add(-2*time.Hour), baseTime.Add(-time.Hour)
			}))
			require.NoError(t, err)

			got, created, err := s.CreateRequest(ctx, newRequest())
			require.NoError(t, err)
			assert.False(t, created, "closing it is the caller's, who tells its approvers")
			assert.Equal(t, old.ID, got.ID)

			_, err = s.Transition(ctx, old.ID, StatePending, StateExpired, TransitionUpdate{})
			require.NoError(t, err)
			fresh, created, err := s.CreateRequest(ctx, newRequest())
			require.NoError(t, err)
			assert.True(t, created)
			assert.NotEqual(t, old.ID, fresh.ID)
		})

		t.Run("ConcurrentIdenticalRequestsCreateOne", func(t *testing.T) {
			s := newTestDB(t, db.backend).open(t)
			const n = 10
			ids := make([]string, n)
			var createdCount atomic.Int32
			parallel(n, func(i int) {
				r, created, err := s.CreateRequest(ctx, newRequest(func(r *Request) { r.RequesterID = fmt.Sprintf("U%d", i) }))
				if !assert.NoError(t, err) {
					return
				}
				if created {
					createdCount.Add(1)
				}
				ids[i] = r.ID
			})
			assert.Equal(t, int32(1), createdCount.Load())
			for _, id := range ids {
				assert.Equal(t, ids[0], id)
			}
		})

		t.Run("RejectsIncompleteRequest", func(t *testing.T) {
			s := newTestDB(t, db.backend).open(t)
			for name, mod := range map[string]func(*Request){
				"NoToken":     func(r *Request) { r.TokenID = "" },
				"NoRequester": func(r *Request) { r.RequesterID = "" },
				"NoApprovals": func(r *Request) { r.ApprovalsNeeded = 0 },
				"NoExpiry":    func(r *Request) { r.ExpiresAt = time.Time{} },
			} {
				_, _, err := s.CreateRequest(ctx, newRequest(mod))
				assert.ErrorIs(t, err, ErrInvalid, name)
			}
		})
	})
}

func TestRequestLookups(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		s := db.open(t)
		a, _, err := s.CreateRequest(ctx, newRequest(func(r *Request) { r.CreatedAt = baseTime.Add(-3 * time.Minute) }))
		require.NoError(t, err)
		b, _, err := s.CreateRequest(ctx, newRequest(func(r *Request) {
			r.TokenID, r.RequesterID, r.CreatedAt = "tok_2", "U_B", baseTime.Add(-2*time.Minute)
			r.ExpiresAt = baseTime.Add(-time.Minute)
		}))
		require.NoError(t, err)
		c, _, err := s.CreateRequest(ctx, newRequest(func(r *Request) { r.TokenID, r.CreatedAt = "tok_3", baseTime.Add(-time.Minute) }))
		require.NoError(t, err)
		_, err = s.Transition(ctx, c.ID, StatePending, StateCancelled, TransitionUpdate{DecidedBy: "U_REQ"})
		require.NoError(t, err)

		ids := func(rs []Request) []string {
			var out []string
			for _, r := range rs {
				out = append(out, r.ID)
			}
			return out
		}
		tests := []struct {
			name   string
			filter RequestFilter
			want   []string
		}{
			{"AllNewestFirst", RequestFilter{}, []string{c.ID, b.ID, a.ID}},
			{"ByState", RequestFilter{States: []State{StatePending}}, []string{b.ID, a.ID}},
			{"ByStates", RequestFilter{States: []State{StateCancelled, StateDenied}}, []string{c.ID}},
			{"ByRequester", RequestFilter{RequesterID: "U_B"}, []string{b.ID}},
			{"ByToken", RequestFilter{TokenID: "tok_3"}, []string{c.ID}},
			{"Limit", RequestFilter{Limit: 1}, []string{c.ID}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := s.ListRequests(ctx, tt.filter)
				require.NoError(t, err)
				assert.Equal(t, tt.want, ids(got))
			})
		}

		t.Run("ListExpiredPending", func(t *testing.T) {
			got, err := s.ListExpiredPending(ctx, baseTime)
			require.NoError(t, err)
			assert.Equal(t, []string{b.ID}, ids(got))
		})

		t.Run("SetRequestMessage", func(t *testing.T) {
			require.NoError(t, s.SetRequestMessage(ctx, a.ID, "C_APPROVALS", "1700000000.000100"))
			got, err := s.GetRequest(ctx, a.ID)
			require.NoError(t, err)
			assert.Equal(t, "C_APPROVALS", got.ApprovalChannel)
			assert.Equal(t, "1700000000.000100", got.MessageTS)
			assert.ErrorIs(t, s.SetRequestMessage(ctx, "rnope", "C", "1"), ErrNotFound)
		})

		t.Run("GetUnknown", func(t *testing.T) {
			_, err := s.GetRequest(ctx, "rnope")
			assert.ErrorIs(t, err, ErrNotFound)
		})
	})
}

func TestAddApproval(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db testDB) {
		ctx := context.Background()

		t.Run("QuorumMovesToApproved", func(t *testing.T) {
			s := newTestDB(t, db.backend).open(t)
			r, _, err := s.CreateRequest(ctx, newRequest())
			require.NoError(t, err)

			got, won, err := s.AddApproval(ctx, r.ID, "U_A1", baseTime.Add(time.Minute), Tally{})
			require.NoError(t, err)
			assert.False(t, won)
			assert.Equal(t, StatePending, got.State)
			assert.Equal(t, []Approval{{UserID: "U_A1", At: baseTime.Add(time.Minute)}}, got.Approvals)

			got, won, err = s.AddApproval(ctx, r.ID, "U_A2", baseTime.Add(2*time.Minute), Tally{Counted: []string{"U_A1"}})
			require.NoError(t, err)
			assert.True(t, won)
			assert.Equal(t, StateApproved, got.State)
			assert.Equal(t, "U_A2", got.DecidedBy)
			assert.Len(t, got.Approvals, 2)

			stored, err := s.GetRequest(ctx, r.ID)
			require.NoError(t, err)
			assert.Equal(t, got, stored)
		})

		t.Run("Errors", func(t *testing.T) {
			s := newTestDB(t, db.backend).open(t)
			tests := []struct {
				name    string
				setup   func(t *testing.T) string // returns request id
				user    string
				at      time.Time
				wantErr error
				wantN   int // approvals stored afterwards
			}{
				{
					name: "ErrDuplicateApproval",
					setup: func(t *testing.T) string {
						r, _, err := s.CreateRequest(ctx, newRequest(func(r *Request) { r.TokenID = "dup" }))
						require.NoError(t, err)
						_, _, err = s.AddApproval(ctx, r.ID, "U_A1", baseTime, Tally{})
						require.NoError(t, err)
						return r.ID
					},
					user: "U_A1", at: baseTime.Add(time.Second), wantErr: ErrDuplicateApproval, wantN: 1,
				},
				{
					name: "ErrExpired",
					setup: func(t *testing.T) string {
						r, _, err := s.CreateRequest(ctx, newRequest(func(r *Request) { r.TokenID = "exp" }))
						require.NoError(t, err)
						return r.ID
					},
					user: "U_A1", at: baseTime.Add(time.Hour), wantErr: ErrExpired, wantN: 0,
				},
				{
					name: "ErrNotPendingAfterDenial",
					setup: func(t *testing.T) string {
						r, _, err := s.CreateRequest(ctx, newRequest(func(r *Request) { r.TokenID = "denied" }))
						require.NoError(t, err)
						_, err = s.Transition(ctx, r.ID, StatePending, StateDenied, TransitionUpdate{DecidedBy: "U_BOSS"})
						require.NoError(t, err)
						return r.ID
					},
					user: "U_A1", at: baseTime, wantErr: ErrNotPending, wantN: 0,
				},
				{
					name: "ErrNotPendingOnceApproved",
					setup: func(t *testing.T) string {
						r, _, err := s.CreateRequest(ctx, newRequest(func(r *Request) { r.TokenID = "done"; r.ApprovalsNeeded = 1 }))
						require.NoError(t, err)
						_, _, err = s.AddApproval(ctx, r.ID, "U_A1", baseTime, Tally{})
						require.NoError(t, err)
						return r.ID
					},
					user: "U_A2", at: baseTime, wantErr: ErrNotPending, wantN: 1,
				},
				{
					name:  "ErrNotFound",
					setup: func(t *testing.T) string { return "rmissing" },
					user:  "U_A1", at: baseTime, wantErr: ErrNotFound,
				},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					id := tt.setup(t)
					_, won, err := s.AddApproval(ctx, id, tt.user, tt.at, Tally{})
					require.ErrorIs(t, err, tt.wantErr)
					assert.False(t, won)
					if tt.wantErr == ErrNotFound {
						return
					}
					got, err := s.GetRequest(ctx, id)
					require.NoError(t, err)
					assert.Len(t, got.Approvals, tt.wantN)
				})
			}
		})

		t.Run("NotPendingNamesCurrentState", func(t *testing.T) {
			s := newTestDB(t, db.backend).open(t)
			r, _, err := s.CreateRequest(ctx, newRequest())
			require.NoError(t, err)
			_, err = s.Transition(ctx, r.ID, StatePending, StateCancelled, TransitionUpdate{})
			require.NoError(t, err)
			_, _, err = s.AddApproval(ctx, r.ID, "U_A1", baseTime, Tally{})
			var stateErr *StateError
			require.ErrorAs(t, err, &stateErr)
			assert.Equal(t, string(StateCancelled), stateErr.State)
		})

		t.Run("ConcurrentApproversOneWinner", func(t *testing.T) {
			s := newTestDB(t, db.backend).open(t)
			r, _, err := s.CreateRequest(ctx, newRequest())
			require.NoError(t, err)
			const n = 20
			// Every caller counts every approver, as if each had checked them all.
			var everyone []string
			for i := range n {
				everyone = append(everyone, fmt.Sprintf("U_APPROVER_%02d", i))
			}
			var winners, recorded, notPending atomic.Int32
			parallel(n, func(i int) {
				_, won, err := s.AddApproval(ctx, r.ID, everyone[i], baseTime.Add(time.Minute), Tally{Counted: everyone})
				switch {
				case err == nil:
					recorded.Add(1)
				case errors.Is(err, ErrNotPending):
					notPending.Add(1)
				default:
					assert.NoError(t, err)
				}
				if won {
					winners.Add(1)
				}
			})
			assert.Equal(t, int32(1), winners.Load(), "exactly one caller applies the change")
			assert.Equal(t, int32(2), recorded.Load())
			assert.Equal(t, int32(n-2), notPending.Load())
			got, err := s.GetRequest(ctx, r.ID)
			require.NoError(t, err)
			assert.Equal(t, StateApproved, got.State)
			assert.Len(t, got.Approvals, 2)
		})
	})
}

func TestApprovalTally(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		s := db.open(t)
		at := baseTime.Add(time.Minute)

		t.Run("UncountedApprovalsDoNotCompleteTheQuorum", func(t *testing.T) {
			r, _, err := s.CreateRequest(ctx, newRequest(func(r *Request) { r.TokenID = "uncounted" }))
			require.NoError(t, err)
			_, _, err = s.AddApproval(ctx, r.ID, "U_A1", at, Tally{})
			require.NoError(t, err)
			got, won, err := s.AddApproval(ctx, r.ID, "U_A2", at, Tally{})
			require.NoError(t, err)
			assert.False(t, won)
			assert.Equal(t, StatePending, got.State)
			assert.Len(t, got.Approvals, 2, "recorded, just not counted")

			got, won, err = s.CompleteApproval(ctx, r.ID, "U_A2", at, Tally{Counted: []string{"U_A1", "U_A2"}})
			require.NoError(t, err)
			assert.True(t, won)
			assert.Equal(t, StateApproved, got.State)
			assert.Equal(t, "U_A2", got.DecidedBy)
			_, won, err = s.CompleteApproval(ctx, r.ID, "U_A1", at, Tally{Counted: []string{"U_A1", "U_A2"}})
			assert.ErrorIs(t, err, ErrNotPending, "decided once")
			assert.False(t, won)
		})

		t.Run("VoidApprovalsAreRemoved", func(t *testing.T) {
			r, _, err := s.CreateRequest(ctx, newRequest(func(r *Request) { r.TokenID = "void" }))
			require.NoError(t, err)
			first, _, err := s.AddApproval(ctx, r.ID, "U_A1", baseTime, Tally{})
			require.NoError(t, err)
			got, won, err := s.AddApproval(ctx, r.ID, "U_A2", at, Tally{Void: first.Approvals})
			require.NoError(t, err)
			assert.False(t, won)
			assert.Equal(t, []Approval{{UserID: "U_A2", At: at}}, got.Approvals)
			stored, err := s.GetRequest(ctx, r.ID)
			require.NoError(t, err)
			assert.Equal(t, got.Approvals, stored.Approvals)

			// An approval given again after the check is not the one found void.
			_, _, err = s.AddApproval(ctx, r.ID, "U_A1", at.Add(time.Second), Tally{})
			require.NoError(t, err)
			got, won, err = s.CompleteApproval(ctx, r.ID, "U_A2", at, Tally{Counted: []string{"U_A2"}, Void: first.Approvals})
			require.NoError(t, err)
			assert.False(t, won)
			assert.Len(t, got.Approvals, 2)
		})

		t.Run("ReopenMovesApprovedBackToPending", func(t *testing.T) {
			r, _, err := s.CreateRequest(ctx, newRequest(func(r *Request) { r.TokenID = "reopen" }))
			require.NoError(t, err)
			first, _, err := s.AddApproval(ctx, r.ID, "U_A1", baseTime, Tally{})
			require.NoError(t, err)
			_, won, err := s.AddApproval(ctx, r.ID, "U_A2", at, Tally{Counted: []string{"U_A1"}})
			require.NoError(t, err)
			require.True(t, won)

			got, err := s.Reopen(ctx, r.ID, first.Approvals, at.Add(time.Minute))
			require.NoError(t, err)
			assert.Equal(t, StatePending, got.State)
			assert.Empty(t, got.DecidedBy)
			assert.Equal(t, []Approval{{UserID: "U_A2", At: at}}, got.Approvals)
			stored, err := s.GetRequest(ctx, r.ID)
			require.NoError(t, err)
			assert.Equal(t, got, stored)

			_, err = s.Reopen(ctx, r.ID, nil, at)
			assert.ErrorIs(t, err, ErrStateConflict, "only an approved request reopens")
		})

		t.Run("ReopenRefusedWhileAnIdenticalRequestIsPending", func(t *testing.T) {
			r, _, err := s.CreateRequest(ctx, newRequest(func(r *Request) { r.TokenID = "twin"; r.ApprovalsNeeded = 1 }))
			require.NoError(t, err)
			_, won, err := s.AddApproval(ctx, r.ID, "U_A1", at, Tally{})
			require.NoError(t, err)
			require.True(t, won)
			_, created, err := s.CreateRequest(ctx, newRequest(func(r *Request) { r.TokenID = "twin" }))
			require.NoError(t, err)
			require.True(t, created)

			_, err = s.Reopen(ctx, r.ID, nil, at)
			assert.ErrorIs(t, err, ErrPendingExists)
			stored, err := s.GetRequest(ctx, r.ID)
			require.NoError(t, err)
			assert.Equal(t, StateApproved, stored.State, "nothing changed")
		})
	})
}

// On PostgreSQL another replica may open an identical request after Reopen looked for one and
// before its update: the unique index refuses the second pending request, and Reopen must say
// so as it does when it finds one, not fail with the index's error.
func TestReopenRacingAnIdenticalRequest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := newTestDB(t, BackendPostgres)
	s, other := db.open(t), db.open(t)
	at := baseTime.Add(time.Minute)
	r, _, err := s.CreateRequest(ctx, newRequest(func(r *Request) { r.TokenID = "twin"; r.ApprovalsNeeded = 1 }))
	require.NoError(t, err)
	_, won, err := s.AddApproval(ctx, r.ID, "U_A1", at, Tally{})
	require.NoError(t, err)
	require.True(t, won)

	// The other replica's identical request, inserted but not yet committed when Reopen looks.
	tx, err := other.db.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback() }()
	_, err = tx.ExecContext(ctx, `INSERT INTO requests (id, requester_id, token_id, workspace_id, action, role_requested,
		approvals_needed, state, created_at, expires_at) VALUES ('r_twin', 'U_REQ', $1, $2, $3, $4, 1, 'pending', 1, $5)`,
		r.TokenID, r.WorkspaceID, r.Action, r.RequestedRole, toDB(r.ExpiresAt))
	require.NoError(t, err)

	errc := make(chan error, 1)
	go func() {
		_, err := s.Reopen(ctx, r.ID, nil, at)
		errc <- err
	}()
	// Reopen's update now waits on the index entry of the uncommitted insert.
	require.Eventually(t, func() bool {
		var waiting int
		err := other.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_stat_activity
			WHERE wait_event_type = 'Lock' AND query LIKE 'UPDATE requests SET state%'`).Scan(&waiting)
		return err == nil && waiting > 0
	}, 5*time.Second, 10*time.Millisecond)
	require.NoError(t, tx.Commit())

	assert.ErrorIs(t, <-errc, ErrPendingExists)
	stored, err := s.GetRequest(ctx, r.ID)
	require.NoError(t, err)
	assert.Equal(t, StateApproved, stored.State, "nothing changed")
}

func TestTransition(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		s := db.open(t)

		t.Run("RecordsDecision", func(t *testing.T) {
			r, _, err := s.CreateRequest(ctx, newRequest(func(r *Request) { r.TokenID = "deny" }))
			require.NoError(t, err)
			at := baseTime.Add(5 * time.Minute)
			got, err := s.Transition(ctx, r.ID, StatePending, StateDenied, TransitionUpdate{DecidedBy: "U_BOSS", Result: "not during freeze", At: at})
			require.NoError(t, err)
			assert.Equal(t, StateDenied, got.State)
			assert.Equal(t, "U_BOSS", got.DecidedBy)
			assert.Equal(t, "not during freeze", got.Result)
			assert.Equal(t, at, got.DecidedAt)
		})

		t.Run("EmptyUpdateKeepsDecider", func(t *testing.T) {
			r, _, err := s.CreateRequest(ctx, newRequest(func(r *Request) { r.TokenID = "apply"; r.ApprovalsNeeded = 1 }))
			require.NoError(t, err)
			_, won, err := s.AddApproval(ctx, r.ID, "U_A1", baseTime, Tally{})
			require.NoError(t, err)
			require.True(t, won)
			got, err := s.Transition(ctx, r.ID, StateApproved, StateApplied, TransitionUpdate{Result: "role set"})
			require.NoError(t, err)
			assert.Equal(t, StateApplied, got.State)
			assert.Equal(t, "U_A1", got.DecidedBy)
			assert.Equal(t, "role set", got.Result)
		})

		t.Run("ApplyingRecordsTheAuditSeq", func(t *testing.T) {
			r, _, err := s.CreateRequest(ctx, newRequest(func(r *Request) { r.TokenID = "claim"; r.ApprovalsNeeded = 1 }))
			require.NoError(t, err)
			assert.Zero(t, r.ApplyingSeq)
			_, won, err := s.AddApproval(ctx, r.ID, "U_A1", baseTime, Tally{})
			require.NoError(t, err)
			require.True(t, won)
			before, err := s.AppendAudit(ctx, AuditEntry{Action: "request.approved", RequestID: r.ID})
			require.NoError(t, err)
			got, err := s.Transition(ctx, r.ID, StateApproved, StateApplying, TransitionUpdate{})
			require.NoError(t, err)
			assert.Equal(t, before.Seq, got.ApplyingSeq, "the last seq when it was claimed")
			// An entry appended after the claim with an earlier time is still after it by seq.
			_, err = s.AppendAudit(ctx, AuditEntry{Action: "role.changed", TokenID: "claim", At: got.DecidedAt.Add(-time.Minute)})
			require.NoError(t, err)
			got, err = s.Transition(ctx, r.ID, StateApplying, StateApplied, TransitionUpdate{})
			require.NoError(t, err)
			assert.Equal(t, before.Seq, got.ApplyingSeq, "kept when settled")
			later, err := s.ListAudit(ctx, AuditFilter{TokenID: "claim", AfterSeq: got.ApplyingSeq})
			require.NoError(t, err)
			require.Len(t, later, 1)
			assert.Equal(t, "role.changed", later[0].Action)
		})

		t.Run("ErrStateConflictNamesState", func(t *testing.T) {
			r, _, err := s.CreateRequest(ctx, newRequest(func(r *Request) { r.TokenID = "conflict" }))
			require.NoError(t, err)
			_, err = s.Transition(ctx, r.ID, StateApproved, StateApplied, TransitionUpdate{})
			var stateErr *StateError
			require.ErrorAs(t, err, &stateErr)
			assert.ErrorIs(t, err, ErrStateConflict)
			assert.Equal(t, string(StatePending), stateErr.State)
			got, err := s.GetRequest(ctx, r.ID)
			require.NoError(t, err)
			assert.Equal(t, StatePending, got.State, "nothing changed")
		})

		t.Run("ErrNotFound", func(t *testing.T) {
			_, err := s.Transition(ctx, "rmissing", StatePending, StateDenied, TransitionUpdate{})
			assert.ErrorIs(t, err, ErrNotFound)
		})

		t.Run("ConcurrentTransitionsOneWins", func(t *testing.T) {
			other := db.open(t) // a second replica
			r, _, err := s.CreateRequest(ctx, newRequest(func(r *Request) { r.TokenID = "race" }))
			require.NoError(t, err)
			const n = 10
			var wins, conflicts atomic.Int32
			parallel(n, func(i int) {
				st, to := s, StateDenied
				if i%2 == 1 {
					st, to = other, StateCancelled
				}
				_, err := st.Transition(ctx, r.ID, StatePending, to, TransitionUpdate{DecidedBy: fmt.Sprintf("U%d", i)})
				switch {
				case err == nil:
					wins.Add(1)
				case errors.Is(err, ErrStateConflict):
					conflicts.Add(1)
				default:
					assert.NoError(t, err)
				}
			})
			assert.Equal(t, int32(1), wins.Load())
			assert.Equal(t, int32(n-1), conflicts.Load())
		})
	})
}
