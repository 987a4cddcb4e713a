package store

import (
	"context"
	"fmt"
	"time"
)

// EnvelopeRetention is how long claimed envelope IDs are remembered. Slack
// retries an unacknowledged envelope within minutes, so an hour is ample.
const EnvelopeRetention = time.Hour

// envelopePruneEvery spaces out the pruning of old envelope IDs; pruning on
// every claim would be wasted work.
const envelopePruneEvery = 5 * time.Minute

// ClaimEnvelope reports whether this caller is the first, in any replica, to
// claim envelopeID; only that caller should handle the envelope. IDs older
// than EnvelopeRetention (relative to now) are pruned from time to time.
func (s *Store) ClaimEnvelope(ctx context.Context, envelopeID string, now time.Time) (bool, error) {
	if envelopeID == "" {
		return false, fmt.Errorf("%w: empty envelope id", ErrInvalid)
	}
	now = s.clock(now)
	res, err := s.db.ExecContext(ctx, s.rebind(`INSERT INTO envelopes (id, claimed_at) VALUES (?, ?) ON CONFLICT DO NOTHING`),
		envelopeID, toDB(now))
	if err != nil {
		return false, fmt.Errorf("store: claim envelope: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: claim envelope: %w", err)
	}
	if err := s.maybePruneEnvelopes(ctx, now); err != nil {
		return false, err
	}
	return n == 1, nil
}

func (s *Store) maybePruneEnvelopes(ctx context.Context, now time.Time) error {
	last := s.lastPrune.Load()
	if now.UnixMicro()-last < envelopePruneEvery.Microseconds() || !s.lastPrune.CompareAndSwap(last, now.UnixMicro()) {
		return nil
	}
	if _, err := s.db.ExecContext(ctx, s.rebind(`DELETE FROM envelopes WHERE claimed_at < ?`), toDB(now.Add(-EnvelopeRetention))); err != nil {
		return fmt.Errorf("store: prune envelopes: %w", err)
	}
	return nil
}
