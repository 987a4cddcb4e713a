package store

import (
	"context"
	"fmt"
	"time"
)

// EnvelopeRetention is how long saved envelopes (see SaveEnvelope) are remembered. Slack
// retries an unacknowledged envelope within minutes, so an hour is ample.
const EnvelopeRetention = time.Hour

// envelopePruneEvery spaces out the pruning of old envelope IDs; pruning on
// every claim would be wasted work.
const envelopePruneEvery = 5 * time.Minute

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
