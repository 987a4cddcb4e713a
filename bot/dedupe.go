package bot

import (
	"hash/maphash"
	"sync"
	"time"
)

// seenEnvelopes remembers envelope IDs for a while, because Slack may deliver an envelope again
// after a reconnect and a role change must not be applied twice. Bounded in size and age; the
// IDs sit in a ring in arrival order, so remembering one is O(1) even when the window is full.
//
// An ID is remembered as two independent 64-bit hashes, not as the string: 64 bytes an entry
// instead of 130, 6.4 MB rather than 13 MB once 100,000 envelopes fill the window
// (BenchmarkSeenEnvelopesMemory). A new envelope is taken for a redelivery only if its ID
// collides with a remembered one in both hashes: odds ≈ 3 × 10⁻³⁴ in a full window.
type seenEnvelopes struct {
	mu    sync.Mutex
	ttl   time.Duration
	max   int
	seeds [2]maphash.Seed
	epoch time.Time // arrival times count from here, on the monotonic clock
	known map[envelopeKey]struct{}
	ring  []seenAt // arrival order, with arrival times; ring[head] is the oldest
	head  int
	size  int
}

type envelopeKey [2]uint64

type seenAt struct {
	key envelopeKey
	at  int64 // nanoseconds since epoch
}

// The ring grows to max as IDs arrive rather than up front: a full-size ring is 2.4 MB that an
// idle or lightly used bot would carry for nothing.
func newSeenEnvelopes(ttl time.Duration, max int) *seenEnvelopes {
	return &seenEnvelopes{
		ttl: ttl, max: max,
		seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()},
		epoch: time.Now(),
		known: make(map[envelopeKey]struct{}),
	}
}

// firstTime records id and reports whether it had not been seen within the TTL.
func (s *seenEnvelopes) firstTime(id string, now time.Time) bool {
	if id == "" {
		return true
	}
	k := envelopeKey{maphash.String(s.seeds[0], id), maphash.String(s.seeds[1], id)}
	t := int64(now.Sub(s.epoch))
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forgetOlderThan(t - int64(s.ttl))
	if _, ok := s.known[k]; ok {
		return false
	}
	if s.size == s.max { // full: forget the oldest
		s.forgetOldest()
	}
	if i := (s.head + s.size) % s.max; i < len(s.ring) {
		s.ring[i] = seenAt{k, t}
	} else {
		s.ring = append(s.ring, seenAt{k, t}) // still growing: head is 0 and i == len(s.ring)
	}
	s.size++
	s.known[k] = struct{}{}
	return true
}

// forgetOlderThan drops the IDs that arrived before cutoff, oldest first, so a quiet bot does
// not keep a busy hour's IDs.
func (s *seenEnvelopes) forgetOlderThan(cutoff int64) {
	for s.size > 0 && s.ring[s.head].at < cutoff {
		s.forgetOldest()
	}
}

// forgetOldest drops ring[head]. An ID is in the ring once: it is only added when not known.
func (s *seenEnvelopes) forgetOldest() {
	delete(s.known, s.ring[s.head].key)
	s.ring[s.head] = seenAt{}
	s.size--
	s.head = (s.head + 1) % s.max
}
