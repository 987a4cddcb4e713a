package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"slices"
	"time"

	"github.com/orgtoken/orgtoken-bot/emulators/astroemu"
)

// The change target is "2 Astro round trips plus 10 ms". The fixed budget (2 × the configured
// latency + 10 ms) charges the bot with the emulator's own lateness: on shared cores its timers
// fire 1–2 ms late at p99, time a real Astro would have taken instead. Here each change is
// charged only with what was not Astro's: its end-to-end time less the time the emulator had
// the requests it waited on, found through the request IDs the bot logs for every command (a
// change by name names the shared organization read it joined as well as its own requests).

// beyondAstro is, for the successful changes of the load phase, how much of each one's
// end-to-end time was not spent with Astro answering it.
type beyondAstro struct {
	beyond []time.Duration
	// Where that time went: before the change's first Astro request reached the emulator
	// (Socket Mode delivery, ack, inbox claim, the request's way out), between its requests (an
	// answer's way back, the bot's work, the next request's way out), after the last answer
	// (its way back, the audit entry, the reply to Slack).
	before, between, after []time.Duration
	unpaired               int   // successful changes whose requests could not all be found
	err                    error // the bot's log could not be read
}

// chargeChanges pairs each successful change with its Astro requests (by envelope ID in the
// bot's log, then by request ID in the emulator's answers) and keeps what Astro did not take.
func chargeChanges(outcomes []outcome, idsByEnvelope map[string][]string, answers []astroemu.Answer) beyondAstro {
	byID := make(map[string]astroemu.Answer, len(answers))
	for _, a := range answers {
		byID[a.RequestID] = a
	}
	var out beyondAstro
	for _, o := range outcomes {
		if !o.kind.isChange() || !o.answered || o.failure != "" {
			continue
		}
		ids := idsByEnvelope[o.envelopeID]
		spans := make([]span, 0, len(ids))
		for _, id := range ids {
			if a, ok := byID[id]; ok {
				spans = append(spans, span{a.Received, a.Answered})
			}
		}
		if len(ids) == 0 || len(spans) < len(ids) {
			out.unpaired++
			continue
		}
		end := o.sent.Add(o.e2e)
		out.beyond = append(out.beyond, o.e2e-covered(spans, o.sent, end))
		first, last := spans[0], spans[0]
		for _, s := range spans {
			if s.from.Before(first.from) {
				first = s
			}
			if s.to.After(last.to) {
				last = s
			}
		}
		// A shared read the change joined may have gone out before the change was typed.
		before, after := max(first.from.Sub(o.sent), 0), max(end.Sub(last.to), 0)
		out.before = append(out.before, before)
		out.after = append(out.after, after)
		out.between = append(out.between, out.beyond[len(out.beyond)-1]-before-after)
	}
	return out
}

type span struct{ from, to time.Time }

// covered is how much of [from, to] at least one span covers: requests that overlap (a retry
// beside its original, a shared read) are not counted twice.
func covered(spans []span, from, to time.Time) time.Duration {
	slices.SortFunc(spans, func(a, b span) int { return a.from.Compare(b.from) })
	var total time.Duration
	reached := from
	for _, s := range spans {
		start := s.from
		if start.Before(reached) {
			start = reached
		}
		end := s.to
		if end.After(to) {
			end = to
		}
		if end.After(start) {
			total += end.Sub(start)
			reached = end
		}
	}
	return total
}

// commandRequestIDs reads the Astro request IDs the bot logged for each command it answered
// (its "command" lines, at log level info), by envelope ID.
func commandRequestIDs(r io.Reader) (map[string][]string, error) {
	out := map[string][]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	marker := []byte(`"msg":"command"`)
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.Contains(line, marker) {
			continue
		}
		// The runtime writes to the same file (GODEBUG=gctrace=1, say), and a line of its
		// may run into a log line: the record starts at its opening brace.
		if i := bytes.Index(line, []byte(`{"time":`)); i > 0 {
			line = line[i:]
		}
		var l struct {
			Msg        string   `json:"msg"`
			EnvelopeID string   `json:"envelope_id"`
			IDs        []string `json:"astro_request_ids"`
		}
		if json.Unmarshal(line, &l) != nil || l.Msg != "command" || l.EnvelopeID == "" {
			continue // another line that happens to quote the marker
		}
		out[l.EnvelopeID] = l.IDs
	}
	return out, sc.Err()
}

func commandRequestIDsFrom(path string) (map[string][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return commandRequestIDs(f)
}
