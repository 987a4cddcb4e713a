package main

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/orgtoken/orgtoken-bot/emulators/astroemu"
	"github.com/orgtoken/orgtoken-bot/emulators/slackemu"
)

// goroutineRoom is how deep a goroutine's frames may reach in the runtime's smallest (8 KB)
// stack: 8 KB less the guard the function prologues keep free (928 bytes on linux/amd64 without
// the race detector). A command deeper than this while it waits on Astro holds a 16 KB stack
// for the whole wait, and stacks under load double.
const goroutineRoom = 8192 - 928

// stackProbe is how deep the stacks of commands waiting on Astro were; err says why not known.
type stackProbe struct {
	depths []int // bytes, one per command goroutine found waiting, ascending
	sent   int
	err    error
}

func (p stackProbe) deepest() int {
	if len(p.depths) == 0 {
		return 0
	}
	return p.depths[len(p.depths)-1]
}

// probeStacks leaves one command waiting at each kind of Astro call, then makes the bot print
// every goroutine's frames (SIGQUIT, with GOTRACEBACK=system set at start so each frame shows
// its stack pointers): a change by ID and a change by name at their writes, then a lookup at
// its list and a change by ID at its read. It ends the bot, so it runs last. Nothing changes:
// the held requests are never served.
func (d *driver) probeStacks(ctx context.Context, bot *botProcess, u *user, og org) stackProbe {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	d.astro.ResetRequests()
	slots := make([]*slot, 3) // tokens of their own: changes to one token wait on its lock
	for i := range slots {
		t, _ := d.astro.Token(og.tokens[i].ID)
		slots[i] = &slot{token: og.tokens[i], workspace: og.listWorkspace, role: roleIn(t, og.listWorkspace)}
	}
	steps := []struct {
		hold  []astroemu.Endpoint // held from this step on
		cmd   command
		await astroemu.Endpoint // where the command then waits
		count int               // requests to await since the probe began
	}{
		{[]astroemu.Endpoint{astroemu.EndpointUpdateRoles}, changeCommand(slots[0], false), astroemu.EndpointUpdateRoles, 1},
		{nil, changeCommand(slots[1], true), astroemu.EndpointUpdateRoles, 2},
		{[]astroemu.Endpoint{astroemu.EndpointListTokens, astroemu.EndpointGetToken}, listCommand(og.listWorkspace), astroemu.EndpointListTokens, 2},
		{nil, changeCommand(slots[2], false), astroemu.EndpointGetToken, 2},
	}
	probe := stackProbe{sent: len(steps)}
	for _, st := range steps {
		for _, ep := range st.hold {
			defer d.astro.Hold(ep)()
		}
		in, err := d.slack.SlashCommand(ctx, slackemu.Slash{UserID: u.id, ChannelID: u.channel, Command: "/orgtoken", Text: st.cmd.text})
		if err == nil {
			_, err = in.WaitAck(ctx)
		}
		if err == nil {
			err = d.astro.WaitRequests(ctx, st.await, st.count)
		}
		if err != nil {
			probe.err = fmt.Errorf("%q never reached its Astro wait: %w", st.cmd.text, err)
			return probe
		}
	}
	// A request reaches the emulator a moment before its sender parks to wait for the answer.
	if err := sleep(ctx, 200*time.Millisecond); err != nil {
		probe.err = err
		return probe
	}
	_ = bot.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-bot.done:
	case <-ctx.Done():
		probe.err = fmt.Errorf("the bot did not exit on SIGQUIT: %w", ctx.Err())
		return probe
	}
	dump, err := os.ReadFile(bot.logPath)
	if err != nil {
		probe.err = err
		return probe
	}
	// Every command in flight is one of the probe's, each waiting on Astro.
	probe.depths = stackDepths(string(dump), "/commands.(*Service).Run(")
	slices.Sort(probe.depths)
	if len(probe.depths) == 0 {
		probe.err = fmt.Errorf("no command goroutine in the bot's goroutine dump")
	}
	return probe
}

var framePointers = regexp.MustCompile(`\sfp=0x([0-9a-f]+) sp=0x([0-9a-f]+)`)

// stackDepths reads a Go goroutine dump printed with GOTRACEBACK=system and returns, for every
// goroutine with a frame whose function contains each of calls, how many bytes of its stack its
// frames used: the outermost frame's fp less the innermost frame's sp.
func stackDepths(dump string, calls ...string) []int {
	var out []int
	for _, g := range strings.Split(dump, "\n\ngoroutine ")[1:] {
		if !containsAll(g, calls) {
			continue
		}
		var lowest, highest uint64
		for _, m := range framePointers.FindAllStringSubmatch(g, -1) {
			fp, err1 := strconv.ParseUint(m[1], 16, 64)
			sp, err2 := strconv.ParseUint(m[2], 16, 64)
			if err1 != nil || err2 != nil {
				continue
			}
			if lowest == 0 || sp < lowest {
				lowest = sp
			}
			highest = max(highest, fp)
		}
		if lowest > 0 && highest > lowest {
			out = append(out, int(highest-lowest))
		}
	}
	return out
}

func containsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
