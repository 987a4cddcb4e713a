package main

import (
	"context"
	"time"

	"github.com/orgtoken/orgtoken-bot/bot"
	"github.com/orgtoken/orgtoken-bot/store"
)

// storeInbox adapts the store's envelope table to the bot's Inbox, leasing envelopes to this
// replica by a per-process name.
type storeInbox struct {
	st      *store.Store
	replica string
}

func (i storeInbox) Save(ctx context.Context, id, kind string, payload []byte, lease time.Duration) (bool, error) {
	return i.st.SaveEnvelope(ctx, id, kind, payload, i.replica, lease, time.Now())
}

func (i storeInbox) Finish(ctx context.Context, id string) error {
	return i.st.FinishEnvelope(ctx, id, time.Now())
}

func (i storeInbox) ClaimOrphans(ctx context.Context, lease time.Duration) ([]bot.SavedEnvelope, error) {
	entries, err := i.st.ClaimOrphanEnvelopes(ctx, i.replica, lease, time.Now(), 20)
	if err != nil {
		return nil, err
	}
	out := make([]bot.SavedEnvelope, len(entries))
	for n, e := range entries {
		out[n] = bot.SavedEnvelope{ID: e.ID, Kind: e.Kind, Payload: e.Payload}
	}
	return out, nil
}

func (i storeInbox) Release(ctx context.Context, id string) error {
	return i.st.ReleaseEnvelope(ctx, id, i.replica)
}
