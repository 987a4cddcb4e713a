package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// InboxEntry is an envelope saved before it was acknowledged and not yet finished.
type InboxEntry struct {
	ID         string
	Kind       string // slash_commands or interactive
	Payload    []byte
	ReceivedAt time.Time
	Attempts   int
}

// MaxInboxAttempts bounds how often an envelope is taken up again, so a command that crashes
// the process every time cannot loop forever.
const MaxInboxAttempts = 3

// SaveEnvelope records an envelope before it is acknowledged, leased to owner for lease. It
// reports whether this is the first time any replica saw the envelope; a false answer means
// Slack delivered it again and it must not be handled twice.
func (s *Store) SaveEnvelope(ctx context.Context, id, kind string, payload []byte, owner string, lease time.Duration, now time.Time) (bool, error) {
	if id == "" {
		return false, fmt.Errorf("%w: empty envelope id", ErrInvalid)
	}
	now = s.clock(now)
	var fresh bool
	err := s.writeStmt(ctx, func(ctx context.Context, q querier) error {
		res, err := q.ExecContext(ctx, s.rebind(`INSERT INTO envelopes (id, claimed_at, kind, payload, owner, lease_until, attempts)
			VALUES (?, ?, ?, ?, ?, ?, 1) ON CONFLICT DO NOTHING`),
			id, toDB(now), kind, string(payload), owner, toDB(now.Add(lease)))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		fresh = n == 1
		return err
	})
	if err != nil {
		return false, fmt.Errorf("store: save envelope: %w", err)
	}
	// After the write, never inside it: pruning uses s.db, which a batch holds.
	if err := s.maybePruneEnvelopes(ctx, now); err != nil {
		return false, err
	}
	return fresh, nil
}

// FinishEnvelope marks an envelope handled, so no replica takes it up again.
func (s *Store) FinishEnvelope(ctx context.Context, id string, now time.Time) error {
	at := toDB(s.clock(now))
	err := s.writeStmt(ctx, func(ctx context.Context, q querier) error {
		_, err := q.ExecContext(ctx, s.rebind(`UPDATE envelopes SET done_at = ?, payload = '' WHERE id = ?`), at, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: finish envelope: %w", err)
	}
	return nil
}

// ReleaseEnvelope hands back an envelope owner claimed (ClaimOrphanEnvelopes) but cannot take
// up (no free worker): any replica may claim it at once, and the attempt it was not given is not
// counted towards MaxInboxAttempts. An envelope since claimed by another owner is left alone.
func (s *Store) ReleaseEnvelope(ctx context.Context, id, owner string) error {
	err := s.writeStmt(ctx, func(ctx context.Context, q querier) error {
		_, err := q.ExecContext(ctx, s.rebind(`UPDATE envelopes SET lease_until = 0, attempts = attempts - 1
			WHERE id = ? AND owner = ? AND done_at IS NULL AND attempts > 1`), id, owner)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: release envelope: %w", err)
	}
	return nil
}

// ClaimOrphanEnvelopes takes over envelopes whose lease ran out before they were finished
// (their replica died or was killed), leasing them to owner. Each is claimed by one caller
// only; envelopes tried MaxInboxAttempts times are closed instead.
func (s *Store) ClaimOrphanEnvelopes(ctx context.Context, owner string, lease time.Duration, now time.Time, limit int) ([]InboxEntry, error) {
	now = s.clock(now)
	if limit <= 0 {
		limit = 50
	}
	var out []InboxEntry
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, s.rebind(`SELECT id, kind, payload, claimed_at, attempts FROM envelopes
			WHERE done_at IS NULL AND payload <> '' AND lease_until < ? ORDER BY claimed_at LIMIT ?`), toDB(now), limit)
		if err != nil {
			return err
		}
		var candidates []InboxEntry
		for rows.Next() {
			var e InboxEntry
			var payload string
			var at int64
			if err := rows.Scan(&e.ID, &e.Kind, &payload, &at, &e.Attempts); err != nil {
				rows.Close()
				return err
			}
			e.Payload, e.ReceivedAt = []byte(payload), fromDB(at)
			candidates = append(candidates, e)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, e := range candidates {
			if e.Attempts >= MaxInboxAttempts {
				if _, err := tx.ExecContext(ctx, s.rebind(`UPDATE envelopes SET done_at = ? WHERE id = ? AND done_at IS NULL`), toDB(now), e.ID); err != nil {
					return err
				}
				continue
			}
			// Compare-and-set on the lease: a concurrent claimer on another replica loses.
			res, err := tx.ExecContext(ctx, s.rebind(`UPDATE envelopes SET owner = ?, lease_until = ?, attempts = attempts + 1
				WHERE id = ? AND done_at IS NULL AND lease_until < ?`), owner, toDB(now.Add(lease)), e.ID, toDB(now))
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 1 {
				e.Attempts++
				out = append(out, e)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: claim orphan envelopes: %w", err)
	}
	return out, nil
}
