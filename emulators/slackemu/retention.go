package slackemu

import "strings"

// keepNewest trims *s to its newest max entries once it holds twice as many, so trimming costs
// amortised constant time per entry, passing each dropped entry to forget (which may be nil).
// max <= 0 keeps everything.
func keepNewest[T any](s *[]T, max int, forget func(T)) {
	if max <= 0 || len(*s) < 2*max {
		return
	}
	drop := len(*s) - max
	if forget != nil {
		for _, v := range (*s)[:drop] {
			forget(v)
		}
	}
	n := copy(*s, (*s)[drop:])
	clear((*s)[n:]) // the backing array must not keep what was dropped alive
	*s = (*s)[:n]
}

// forgetInteractionLocked drops what the emulator keeps of an interaction beyond its record:
// the envelope it acks, its response_url and its trigger. A post to that response_url is then
// answered as one to an unknown URL (404 no_service).
func (e *Emulator) forgetInteractionLocked(in *Interaction) {
	delete(e.envs, in.EnvelopeID)
	if path, ok := strings.CutPrefix(in.ResponseURL, e.baseURL); ok {
		delete(e.resps, path)
	}
	delete(e.trigger, in.TriggerID)
}
