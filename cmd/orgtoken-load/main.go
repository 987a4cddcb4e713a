// Command orgtoken-load measures the real orgtoken-bot binary under load. It starts the Slack
// and Astro emulators on loopback, seeds an organization, runs the bot as a child process
// pointed at them, and types many /orgtoken commands from many users at once. It prints one
// table: ack and end-to-end latency, Astro requests per command beside the astro CLI's for the
// same organization, the bot's memory and startup time, and errors, each beside its target.
//
//	go run ./cmd/orgtoken-load                 # defaults: 2,000 commands, 200 users, Astro 500 ms
//	go run ./cmd/orgtoken-load -quick          # CI smoke run, a few seconds after the build
//	go run ./cmd/orgtoken-load -n 10000 -bin ./orgtoken-bot
//
// It exits non-zero only when commands went unanswered or failed; missed targets are printed,
// not fatal, so the numbers can be tracked without breaking builds.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.As(err, new(usageError)):
		fmt.Fprintln(os.Stderr, "orgtoken-load:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "orgtoken-load:", err)
		os.Exit(1)
	}
}

// usageError is a bad command line.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// options is everything a run can be told.
type options struct {
	bin              string
	commands         int
	users            int
	astroLatency     time.Duration
	astroJitter      time.Duration
	tokens           int
	changeWorkspaces int
	mix              mix
	workers          int
	queue            int
	replyTimeout     time.Duration
	settle           time.Duration
	rest             time.Duration
	ramp             time.Duration
	logLevel         string
	keep             bool
	plainHTTP        bool
	botEnv           envList
	seed             uint64
	cpuProfile       string
}

// quickDefaults is a CI smoke run: small, fast, yet every row of the table is measured.
var quickDefaults = map[string]string{
	"n":             "50",
	"c":             "10",
	"astro-latency": "20ms",
	"settle":        "200ms",
	"rest":          "200ms",
	"ramp":          "100ms",
}

func parseOptions(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("orgtoken-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.bin, "bin", "", "orgtoken-bot binary to run (default: go build ./cmd/orgtoken-bot into a temp dir)")
	fs.IntVar(&o.commands, "n", 2000, "commands to send in the load phase")
	fs.IntVar(&o.users, "c", 200, "concurrent users, each typing its next command when the previous one is answered")
	fs.DurationVar(&o.astroLatency, "astro-latency", 500*time.Millisecond, "time the Astro emulator takes to answer each request")
	fs.DurationVar(&o.astroJitter, "astro-jitter", 0, "spread of the Astro latency: each request takes -astro-latency ± up to this much (0: every request alike, which lines users up in waves)")
	fs.IntVar(&o.tokens, "tokens", 1000, "Organization tokens to seed, all in the listed workspace, each with a unique name")
	fs.IntVar(&o.changeWorkspaces, "change-workspaces", 4, "workspaces the load phase adds tokens to, updates and removes them from")
	mixFlag := fs.String("mix", "list=40,name=30,id=30", "command mix in percent: list, changes by name, changes by ID (changes cycle add, update, remove)")
	fs.IntVar(&o.workers, "workers", 256, "ORGTOKEN_WORKERS for the bot")
	fs.IntVar(&o.queue, "queue", 1024, "ORGTOKEN_QUEUE_SIZE for the bot")
	fs.DurationVar(&o.replyTimeout, "reply-timeout", 30*time.Second, "how long a command may go unanswered before it counts as an error")
	fs.DurationVar(&o.ramp, "ramp", time.Second, "users start evenly spread over this time (0: all at once, a burst of -c envelopes)")
	fs.DurationVar(&o.settle, "settle", time.Second, "idle time after the bot connects before idle RSS is read")
	fs.DurationVar(&o.rest, "rest", 10*time.Second, "idle time after the load before RSS at rest is read (the bot returns free memory once idle for ORGTOKEN_RELEASE_MEMORY_AFTER, 5s by default)")
	fs.StringVar(&o.logLevel, "log-level", "info", "ORGTOKEN_LOG_LEVEL for the bot (its logs go to a file in the work dir)")
	fs.BoolVar(&o.plainHTTP, "plain-http", false, "serve the emulators over plain HTTP/1.1 instead of HTTPS; the bot then opens a connection per request in flight, which it never does against the real APIs (they speak HTTP/2)")
	fs.BoolVar(&o.keep, "keep", false, "keep the work dir (bot binary, logs, database) and print its path")
	fs.Var(&o.botEnv, "env", "extra KEY=VALUE for the bot's environment, e.g. GOMEMLIMIT=32MiB (repeatable)")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of this process (driver and emulators, which share the cores with the bot) over the load phase to this file")
	seed := fs.String("seed", "1", "seed for the command mix")
	quick := fs.Bool("quick", false, "CI smoke run: -n 50 -c 10 -astro-latency 20ms -settle 200ms -rest 200ms unless given explicitly")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return o, usageError{fmt.Sprintf("unexpected arguments: %s", strings.Join(fs.Args(), " "))}
	}
	if *quick {
		given := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
		for name, v := range quickDefaults {
			if !given[name] {
				if err := fs.Set(name, v); err != nil {
					return o, err
				}
			}
		}
	}
	m, err := parseMix(*mixFlag)
	if err != nil {
		return o, usageError{"-mix: " + err.Error()}
	}
	o.mix = m
	if o.seed, err = strconv.ParseUint(*seed, 10, 64); err != nil {
		return o, usageError{"-seed: " + err.Error()}
	}
	return o, o.validate()
}

func (o options) validate() error {
	switch {
	case o.commands < 1:
		return usageError{"-n must be at least 1"}
	case o.users < 1:
		return usageError{"-c must be at least 1"}
	case o.astroLatency < 0:
		return usageError{"-astro-latency must not be negative"}
	case o.astroJitter < 0 || o.astroJitter > o.astroLatency:
		return usageError{"-astro-jitter must be from 0 to -astro-latency"}
	case o.changeWorkspaces < 1:
		return usageError{"-change-workspaces must be at least 1"}
	case o.workers < 1 || o.workers > 1024:
		return usageError{"-workers must be from 1 to 1024 (the bot's limit)"}
	case o.queue < 1:
		return usageError{"-queue must be at least 1"}
	case o.ramp < 0:
		return usageError{"-ramp must not be negative"}
	case o.replyTimeout <= 0:
		return usageError{"-reply-timeout must be positive"}
	}
	// One token is reserved for calibration; every user needs one of its own so per-token
	// locks never make users wait for each other.
	if o.mix.changes() > 0 && o.tokens < o.users+1 {
		return usageError{fmt.Sprintf("-tokens must be at least -c + 1 (%d) so each user changes its own tokens", o.users+1)}
	}
	if o.tokens < 1 {
		return usageError{"-tokens must be at least 1"}
	}
	return nil
}

// envList collects repeated -env KEY=VALUE flags.
type envList []string

func (e *envList) String() string { return strings.Join(*e, " ") }

func (e *envList) Set(v string) error {
	if k, _, ok := strings.Cut(v, "="); !ok || k == "" {
		return fmt.Errorf("%q is not KEY=VALUE", v)
	}
	*e = append(*e, v)
	return nil
}

// run is main without the process globals, so the test can call it.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	o, err := parseOptions(args, stdout)
	if err != nil {
		return err
	}
	res, err := measure(ctx, o, stdout)
	if err != nil {
		return err
	}
	writeReport(stdout, o, res)
	if n := res.load.errors(); n > 0 {
		return fmt.Errorf("%d of %d commands were not answered successfully (see the errors row)", n, res.load.total())
	}
	return nil
}
