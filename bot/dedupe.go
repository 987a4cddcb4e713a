package bot

import (
	"sync"
	"time"
)

// seenEnvelopes remembers envelope IDs for a while, because Slack may deliver an envelope again
// after a reconnect and a role change must not be applied twice. Bounded in size and age; the
// IDs sit in a ring so remembering one is O(1) even when the window is full.
type seenEnvelopes struct {
	mu   sync.Mutex
	ttl  time.Duration
	max  int
	at   map[string]time.Time
	ring []string // insertion order; ring[head] is the oldest once full
	head int
	size int
}

// The ring grows to max as IDs arrive rather than up front: a full-size ring is 1.6 MB that an
// idle or lightly used bot would carry for nothing.
func newSeenEnvelopes(ttl time.Duration, max int) *seenEnvelopes {
	return &seenEnvelopes{ttl: ttl, max: max, at: make(map[string]time.Time)}
}

// firstTime records id and reports whether it had not been seen within the TTL.
func (s *seenEnvelopes) firstTime(id string, now time.Time) bool {
	if id == "" {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if at, ok := s.at[id]; ok && now.Sub(at) < s.ttl {
		return false
	}
	if s.size == s.max { // full: forget the oldest
		delete(s.at, s.ring[s.head])
		s.size--
		s.head = (s.head + 1) % s.max
	}
	if i := (s.head + s.size) % s.max; i < len(s.ring) {
		s.ring[i] = id
	} else {
		s.ring = append(s.ring, id) // still growing: head is 0 and i == len(s.ring)
	}
	s.size++
	s.at[id] = now
	return true
}
