package main

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/emulators/astroemu"
)

var t0 = time.Date(2026, 11, 30, 3, 0, 0, 0, time.UTC)

func at(ms float64) time.Time { return t0.Add(time.Duration(ms * float64(time.Millisecond))) }

func TestCoveredCountsOverlapsOnceAndOnlyInsideTheCommand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		spans []span
		want  time.Duration
	}{
		{"two round trips one after the other", []span{{at(1), at(501)}, {at(502), at(999)}}, 997 * time.Millisecond},
		{"a retry beside its original counts once", []span{{at(1), at(501)}, {at(300), at(600)}}, 599 * time.Millisecond},
		{"a shared read that began before the command counts from the command on", []span{{at(-200), at(300)}, {at(301), at(801)}}, 800 * time.Millisecond},
		{"a span inside another adds nothing", []span{{at(1), at(501)}, {at(100), at(200)}}, 500 * time.Millisecond},
		{"nothing after the reply counts", []span{{at(900), at(1100)}}, 100 * time.Millisecond},
		{"no spans", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, covered(tt.spans, at(0), at(1000)))
		})
	}
}

func TestChargeChangesKeepsWhatAstroDidNotTake(t *testing.T) {
	t.Parallel()
	answers := []astroemu.Answer{
		{RequestID: "emu-1", Received: at(2), Answered: at(503)},
		{RequestID: "emu-2", Received: at(505), Answered: at(1006)},
		{RequestID: "emu-3", Received: at(1), Answered: at(501)},
	}
	ids := map[string][]string{
		"env-change":   {"emu-1", "emu-2"},
		"env-list":     {"emu-3"},
		"env-lost-id":  {"emu-1", "emu-404"},
		"env-no-astro": nil,
	}
	outcomes := []outcome{
		{kind: kindUpdateByID, answered: true, sent: t0, e2e: 1010 * time.Millisecond, envelopeID: "env-change"},
		{kind: kindList, answered: true, sent: t0, e2e: 503 * time.Millisecond, envelopeID: "env-list"},
		{kind: kindAddByName, answered: true, failure: "in channel: refused", sent: t0, e2e: 3 * time.Millisecond, envelopeID: "env-change"},
		{kind: kindRemoveByID, answered: false, sent: t0, envelopeID: "env-change"},
		{kind: kindAddByID, answered: true, sent: t0, e2e: time.Second, envelopeID: "env-lost-id"},
		{kind: kindAddByID, answered: true, sent: t0, e2e: time.Second, envelopeID: "env-no-astro"},
		{kind: kindAddByID, answered: true, sent: t0, e2e: time.Second, envelopeID: "env-not-logged"},
	}
	got := chargeChanges(outcomes, ids, answers)
	require.Equal(t, []time.Duration{8 * time.Millisecond}, got.beyond,
		"1,010 ms less the 501 + 501 ms Astro had the change's two requests; lookups, failures and unanswered commands are not charged")
	assert.Equal(t, []time.Duration{2 * time.Millisecond}, got.before, "typed at 0, first request at the emulator at 2 ms")
	assert.Equal(t, []time.Duration{2 * time.Millisecond}, got.between, "first answered at 503, second received at 505")
	assert.Equal(t, []time.Duration{4 * time.Millisecond}, got.after, "last answered at 1,006, reply at 1,010")
	assert.Equal(t, 3, got.unpaired,
		"a request the emulator never answered, a change without requests, a change the log does not list")

	joined := chargeChanges([]outcome{{kind: kindAddByName, answered: true, sent: at(100), e2e: 910 * time.Millisecond, envelopeID: "env-joined"}},
		map[string][]string{"env-joined": {"emu-list", "emu-write"}},
		[]astroemu.Answer{{RequestID: "emu-list", Received: at(0), Answered: at(501)}, {RequestID: "emu-write", Received: at(503), Answered: at(1004)}})
	assert.Equal(t, []time.Duration{8 * time.Millisecond}, joined.beyond, "typed at 100 ms into a shared read: only its part of the read is Astro's")
	assert.Equal(t, []time.Duration{0}, joined.before, "a read already under way leaves nothing before it")
	assert.Equal(t, []time.Duration{2 * time.Millisecond}, joined.between)
	assert.Equal(t, []time.Duration{6 * time.Millisecond}, joined.after, "answered at 1,004, reply at 1,010")
}

func TestCommandRequestIDsReadsTheBotsCommandLines(t *testing.T) {
	t.Parallel()
	log := strings.Join([]string{
		`{"time":"2026-11-30T03:29:10Z","level":"INFO","msg":"orgtoken-bot starting","version":"dev"}`,
		`{"time":"2026-11-30T03:29:10Z","level":"INFO","msg":"command","envelope_id":"env-1","subcommand":"update","astro_request_ids":["emu-5","emu-6"]}`,
		`{"time":"2026-11-30T03:29:10Z","level":"INFO","msg":"command","envelope_id":"env-2","subcommand":"help"}`,
		`{"time":"2026-11-30T03:29:10Z","level":"WARN","msg":"not a command","detail":"\"msg\":\"command\"","envelope_id":"env-3"}`,
		`SIGQUIT: quit "msg":"command"`,
		`{"time":"2026-11-30T03:29:11Z","level":"INFO","msg":"command","envelope_id":"env-4","astro_request_ids":["emu-9"]}`,
		`gc 72 @5.648s 1%: 0.097+4.3+0.003 ms clock, 0.19+0.064/2.1/3.9+0.007{"time":"2026-11-30T03:29:12Z","level":"INFO","msg":"command","envelope_id":"env-5","astro_request_ids":["emu-12"]}`,
	}, "\n")
	ids, err := commandRequestIDs(strings.NewReader(log))
	require.NoError(t, err)
	assert.Equal(t, map[string][]string{"env-1": {"emu-5", "emu-6"}, "env-2": nil, "env-4": {"emu-9"}, "env-5": {"emu-12"}}, ids,
		"a line of the runtime's that ran into a log line does not hide it")
}

func TestBeyondAstroRow(t *testing.T) {
	t.Parallel()
	ms := func(v ...float64) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x * float64(time.Millisecond))
		}
		return out
	}
	tests := []struct {
		name         string
		in           beyondAstro
		bot, verdict string
	}{
		{"within", beyondAstro{beyond: ms(2, 3, 9.5)}, "3.0 ms / 9.5 ms / 9.5 ms", "PASS"},
		{"over", beyondAstro{beyond: ms(2, 3, 12)}, "3.0 ms / 12 ms / 12 ms", "FAIL"},
		{"a change left unpaired fails the row", beyondAstro{beyond: ms(2, 3), unpaired: 1}, "2.0 ms / 3.0 ms / 3.0 ms (1 changes not paired with their requests)", "FAIL"},
		{"a log without command lines", beyondAstro{unpaired: 12}, "n/a (none of 12 changes found in the bot's log, which lists them at -log-level info)", "n/a"},
		{"an unreadable log", beyondAstro{err: errors.New("open bot.log: no such file")}, "n/a (reading the bot's log: open bot.log: no such file)", "FAIL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := beyondAstroRow(tt.in)
			assert.Equal(t, tt.bot, r.bot)
			assert.Equal(t, tt.verdict, r.result)
		})
	}
}
