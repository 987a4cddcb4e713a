package store

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// appendEntries appends n entries, one minute apart from baseTime, on tokens
// tok_a (odd seq) and tok_b (even seq).
func appendEntries(t *testing.T, s *Store, n int) []AuditEntry {
	t.Helper()
	var out []AuditEntry
	for i := 1; i <= n; i++ {
		token := "tok_a"
		if i%2 == 0 {
			token = "tok_b"
		}
		e, err := s.AppendAudit(context.Background(), AuditEntry{
			At: baseTime.Add(time.Duration(i) * time.Minute), ActorID: "U_ACTOR", Action: "role.changed",
			TokenID: token, TokenName: "name-" + token, WorkspaceID: "ws_1",
			Before: "WORKSPACE_MEMBER", After: fmt.Sprintf("WORKSPACE_OPERATOR #%d", i),
			RequestID: "r123", AstroRequestID: "astro-req", SlackLink: "https://example.slack.com/archives/C1/p1", Detail: "ok",
		})
		require.NoError(t, err)
		out = append(out, e)
	}
	return out
}

func TestAppendAudit(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db testDB) {
		ctx := context.Background()

		t.Run("ChainsEntries", func(t *testing.T) {
			s := newTestDB(t, db.backend).open(t)
			es := appendEntries(t, s, 3)
			for i, e := range es {
				assert.Equal(t, int64(i+1), e.Seq)
				assert.Len(t, e.Hash, 64)
				if i > 0 {
					assert.Equal(t, es[i-1].Hash, e.PrevHash)
				}
			}
			assert.Empty(t, es[0].PrevHash)
			n, err := s.VerifyAudit(ctx)
			require.NoError(t, err)
			assert.Equal(t, int64(3), n)
		})

		t.Run("RequiresAction", func(t *testing.T) {
			s := newTestDB(t, db.backend).open(t)
			_, err := s.AppendAudit(ctx, AuditEntry{ActorID: "U1"})
			assert.ErrorIs(t, err, ErrInvalid)
		})

		t.Run("ConcurrentAppendsFromTwoReplicasKeepOneChain", func(t *testing.T) {
			tdb := newTestDB(t, db.backend)
			a, b := tdb.open(t), tdb.open(t)
			const n = 12
			parallel(n, func(i int) {
				s := a
				if i%2 == 1 {
					s = b
				}
				_, err := s.AppendAudit(ctx, AuditEntry{Action: "request.created", ActorID: fmt.Sprintf("U%d", i)})
				assert.NoError(t, err)
			})
			got, err := a.VerifyAudit(ctx)
			require.NoError(t, err)
			assert.Equal(t, int64(n), got)
		})
	})
}

func TestVerifyAuditDetectsTampering(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db testDB) {
		tests := []struct {
			name    string
			tamper  []string
			wantSeq int64
		}{
			{"EditedField", []string{`UPDATE audit_log SET after_value = 'WORKSPACE_OWNER' WHERE seq = 3`}, 3},
			{"EditedTime", []string{`UPDATE audit_log SET at = at + 1 WHERE seq = 2`}, 2},
			{"EditedAndRehashed", []string{`UPDATE audit_log SET after_value = 'x', hash = 'ffff' WHERE seq = 2`}, 2},
			{"DeletedMiddle", []string{`DELETE FROM audit_log WHERE seq = 3`}, 3},
			{"DeletedLast", []string{`DELETE FROM audit_log WHERE seq = 5`}, 5},
			{"DeletedFirst", []string{`DELETE FROM audit_log WHERE seq = 1`}, 1},
			{"Reordered", []string{
				`UPDATE audit_log SET seq = 100 WHERE seq = 2`,
				`UPDATE audit_log SET seq = 2 WHERE seq = 4`,
				`UPDATE audit_log SET seq = 4 WHERE seq = 100`,
			}, 2},
			{"InsertedAtEnd", []string{`INSERT INTO audit_log (seq, at, action, prev_hash, hash)
				SELECT 6, at, 'role.changed', hash, 'abc' FROM audit_log WHERE seq = 5`}, 6},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := newTestDB(t, db.backend).open(t)
				appendEntries(t, s, 5)
				_, err := s.VerifyAudit(context.Background())
				require.NoError(t, err)
				for _, q := range tt.tamper {
					rawExec(t, s, q)
				}

				_, err = s.VerifyAudit(context.Background())
				var auditErr *AuditError
				require.ErrorAs(t, err, &auditErr)
				assert.ErrorIs(t, err, ErrAuditTampered)
				assert.Equal(t, tt.wantSeq, auditErr.Seq, err.Error())
			})
		}
	})
}

func TestVerifyAuditDetectsRehashedEdit(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db testDB) {
		s := db.open(t)
		es := appendEntries(t, s, 4)
		// A tamperer who recomputes the edited row's own hash still breaks
		// the next row's link.
		forged := es[1]
		forged.After = "WORKSPACE_OWNER"
		rawExec(t, s, `UPDATE audit_log SET after_value = ?, hash = ? WHERE seq = 2`, forged.After, auditHash(forged))

		_, err := s.VerifyAudit(context.Background())
		var auditErr *AuditError
		require.ErrorAs(t, err, &auditErr)
		assert.Equal(t, int64(3), auditErr.Seq)
	})
}

func TestListAudit(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db testDB) {
		s := db.open(t)
		appendEntries(t, s, 6)
		seqs := func(es []AuditEntry) []int64 {
			var out []int64
			for _, e := range es {
				out = append(out, e.Seq)
			}
			return out
		}
		tests := []struct {
			name   string
			filter AuditFilter
			want   []int64
		}{
			{"AllOldestFirst", AuditFilter{}, []int64{1, 2, 3, 4, 5, 6}},
			{"NewestFirstWithLimit", AuditFilter{Newest: true, Limit: 2}, []int64{6, 5}},
			{"ByToken", AuditFilter{TokenID: "tok_b"}, []int64{2, 4, 6}},
			{"SinceIsInclusive", AuditFilter{Since: baseTime.Add(4 * time.Minute)}, []int64{4, 5, 6}},
			{"UntilIsExclusive", AuditFilter{Until: baseTime.Add(3 * time.Minute)}, []int64{1, 2}},
			{"TokenAndSinceNewest", AuditFilter{TokenID: "tok_a", Since: baseTime.Add(2 * time.Minute), Newest: true}, []int64{5, 3}},
			{"AfterSeq", AuditFilter{AfterSeq: 4}, []int64{5, 6}},
			{"ByRequest", AuditFilter{RequestID: "rnone"}, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := s.ListAudit(context.Background(), tt.filter)
				require.NoError(t, err)
				assert.Equal(t, tt.want, seqs(got))
			})
		}

		t.Run("RoundTripsFields", func(t *testing.T) {
			got, err := s.ListAudit(context.Background(), AuditFilter{Limit: 1})
			require.NoError(t, err)
			require.Len(t, got, 1)
			e := got[0]
			assert.Equal(t, baseTime.Add(time.Minute), e.At)
			assert.Equal(t, "name-tok_a", e.TokenName)
			assert.Equal(t, "WORKSPACE_OPERATOR #1", e.After)
			assert.Equal(t, "astro-req", e.AstroRequestID)
			assert.Equal(t, auditHash(e), e.Hash)
		})
	})
}

func TestExportAudit(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db testDB) {
		s := db.open(t)
		written := appendEntries(t, s, 4)
		tests := []struct {
			name  string
			since time.Time
			want  []AuditEntry
		}{
			{"All", time.Time{}, written},
			{"Since", baseTime.Add(3 * time.Minute), written[2:]},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var buf bytes.Buffer
				require.NoError(t, s.ExportAudit(context.Background(), tt.since, &buf))
				var got []AuditEntry
				sc := bufio.NewScanner(&buf)
				for sc.Scan() {
					var e AuditEntry
					require.NoError(t, json.Unmarshal(sc.Bytes(), &e), "each line is one JSON object: %s", sc.Text())
					got = append(got, e)
				}
				require.NoError(t, sc.Err())
				assert.Equal(t, tt.want, got)
			})
		}
	})
}
