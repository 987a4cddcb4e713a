package bot

import (
	"sync"
	"time"
)

// seenEnvelopes remembers envelope IDs for a while, because Slack may deliver an envelope again
// after a reconnect and a role change must not be applied twice. Bounded in size and age.
type seenEnvelopes struct {
	mu    sync.Mutex
	ttl   time.Duration
	max   int
	at    map[string]time.Time
	order []string // insertion order, for eviction
}

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
	s.evict(now)
	if _, ok := s.at[id]; ok {
		return false
	}
	s.at[id] = now
	s.order = append(s.order, id)
	return true
}

func (s *seenEnvelopes) evict(now time.Time) {
	drop := 0
	for drop < len(s.order) {
		id := s.order[drop]
		if len(s.order)-drop <= s.max && now.Sub(s.at[id]) < s.ttl {
			break
		}
		delete(s.at, id)
		drop++
	}
	if drop > 0 {
		s.order = append(s.order[:0:0], s.order[drop:]...)
	}
}
