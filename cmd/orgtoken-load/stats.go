package main

import (
	"math"
	"slices"
	"time"
)

// outcome is what happened to one command.
type outcome struct {
	kind     kind
	acked    bool
	ack      time.Duration // the emulator's Ack.Latency: envelope written → ack at its socket
	ackRead  time.Duration // its Ack.ReadLatency: envelope written → ack read by the emulator
	answered bool
	e2e      time.Duration // SlashCommand sent → reply posted (response_url, or in channel)
	failure  string        // "" when the command did what it should
	// sent is when the command was typed; envelopeID names it in the bot's log.
	sent       time.Time
	envelopeID string
}

// loadStats is every outcome of the load phase.
type loadStats struct {
	outcomes []outcome
	wall     time.Duration
}

func (s *loadStats) total() int { return len(s.outcomes) }

func (s *loadStats) unanswered() int {
	n := 0
	for _, o := range s.outcomes {
		if !o.answered {
			n++
		}
	}
	return n
}

// failed counts commands that were answered, but not with what they asked for.
func (s *loadStats) failed() int {
	n := 0
	for _, o := range s.outcomes {
		if o.answered && o.failure != "" {
			n++
		}
	}
	return n
}

func (s *loadStats) errors() int { return s.unanswered() + s.failed() }

// firstFailures are a few distinct failure messages, to say what went wrong.
func (s *loadStats) firstFailures(n int) []string {
	var out []string
	for _, o := range s.outcomes {
		if o.failure != "" && !slices.Contains(out, o.failure) {
			out = append(out, o.failure)
			if len(out) == n {
				break
			}
		}
	}
	return out
}

// acks is the ack latency of every acked command: to the ack's arrival at the emulator's
// socket, or (read) to the emulator's reading it.
func (s *loadStats) acks(read bool) []time.Duration {
	var d []time.Duration
	for _, o := range s.outcomes {
		switch {
		case !o.acked:
		case read:
			d = append(d, o.ackRead)
		default:
			d = append(d, o.ack)
		}
	}
	return d
}

// e2e is the end-to-end latency of each successful command of kind k.
func (s *loadStats) e2e(k kind) []time.Duration {
	var d []time.Duration
	for _, o := range s.outcomes {
		if o.kind == k && o.answered && o.failure == "" {
			d = append(d, o.e2e)
		}
	}
	return d
}

func (s *loadStats) count(k kind) int {
	n := 0
	for _, o := range s.outcomes {
		if o.kind == k {
			n++
		}
	}
	return n
}

// quantiles summarises durations by nearest rank.
type quantiles struct {
	n             int
	p50, p99, max time.Duration
}

func summarize(d []time.Duration) quantiles {
	if len(d) == 0 {
		return quantiles{}
	}
	s := slices.Clone(d)
	slices.Sort(s)
	rank := func(p float64) time.Duration {
		i := int(math.Ceil(p*float64(len(s)))) - 1
		return s[min(max(i, 0), len(s)-1)]
	}
	return quantiles{n: len(s), p50: rank(0.50), p99: rank(0.99), max: s[len(s)-1]}
}
