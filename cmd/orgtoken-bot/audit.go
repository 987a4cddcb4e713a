package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/orgtoken/orgtoken-bot/store"
)

const auditUsage = `Usage:
  orgtoken-bot audit verify                  check the hash chain of the audit record
  orgtoken-bot audit export [--since 30d]    write entries as JSON lines (since: 90m, 24h, 30d or 2026-01-31)
The store is ORGTOKEN_DATABASE_URL (default orgtoken.db).
`

// runAuditCLI implements "orgtoken-bot audit verify|export".
func runAuditCLI(ctx context.Context, args []string, stdout, stderr io.Writer, env envconfig.Lookuper) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, auditUsage)
		return 2
	}
	fs := flag.NewFlagSet("audit "+args[0], flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	since := fs.String("since", "", "")
	if err := fs.Parse(args[1:]); err != nil || fs.NArg() > 0 {
		fmt.Fprintf(stderr, "orgtoken-bot audit: %s\n\n%s", usageProblem(err, fs.Args()), auditUsage)
		return 2
	}
	var from time.Time
	if *since != "" {
		t, err := parseSince(*since, time.Now())
		if err != nil {
			fmt.Fprintf(stderr, "orgtoken-bot audit: --since: %v\n\n%s", err, auditUsage)
			return 2
		}
		from = t
	}

	dbURL := "orgtoken.db"
	if v, ok := env.Lookup("ORGTOKEN_DATABASE_URL"); ok && v != "" {
		dbURL = v
	}
	st, err := store.Open(ctx, dbURL)
	if err != nil {
		fmt.Fprintf(stderr, "orgtoken-bot audit: %v\n", err)
		return 1
	}
	defer st.Close()

	switch args[0] {
	case "verify":
		n, err := st.VerifyAudit(ctx)
		if err != nil {
			var ae *store.AuditError
			if errors.As(err, &ae) {
				fmt.Fprintf(stderr, "audit record TAMPERED: entry %d: %s (%d entries before it verified)\n", ae.Seq, ae.Reason, n)
				return 1
			}
			fmt.Fprintf(stderr, "orgtoken-bot audit verify: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "audit record OK: %d entries, hash chain intact\n", n)
		return 0
	case "export":
		if err := st.ExportAudit(ctx, from, stdout); err != nil {
			fmt.Fprintf(stderr, "orgtoken-bot audit export: %v\n", err)
			return 1
		}
		return 0
	default:
		fmt.Fprintf(stderr, "orgtoken-bot audit: unknown subcommand %q\n\n%s", args[0], auditUsage)
		return 2
	}
}

func usageProblem(err error, extra []string) string {
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("unexpected argument %q", strings.Join(extra, " "))
}

// parseSince accepts a Go duration, a number of days ("30d") or a date.
func parseSince(s string, now time.Time) (time.Time, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err == nil && n >= 0 {
			return now.AddDate(0, 0, -n), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is not a duration (90m, 24h), a number of days (30d) or a date (2026-01-31)", s)
}
