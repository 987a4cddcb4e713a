// Command orgtoken-bot is a Slack bot for managing Astro Organization API tokens' Workspace
// roles. With Slack and Astro credentials in the environment it serves /orgtoken over Socket
// Mode; with none it runs a local sandbox on the terminal. See README.md.
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/orgtoken/orgtoken-bot/ops"
	"github.com/orgtoken/orgtoken-bot/policy"
)

// version is stamped at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr, envconfig.OsLookuper()))
}

const usage = `Usage:
  orgtoken-bot                      run the bot (or, with no Slack/Astro settings, the local sandbox)
  orgtoken-bot policy check FILE    validate a policy file
  orgtoken-bot policy explain FILE --user U… --action update --role WORKSPACE_OWNER
                                    --current-role R --workspace W
                                    print the decision for one request and the rule that made it
  orgtoken-bot audit verify         check the audit record's hash chain (uses ORGTOKEN_DATABASE_URL)
  orgtoken-bot audit export [--since 30d]
                                    write audit entries as JSON lines
  orgtoken-bot healthcheck [URL]    probe a running bot (default /healthz on ORGTOKEN_HTTP_ADDR's port,
                                    http://127.0.0.1:8080/healthz); for container health checks, as
                                    the image has no shell or curl
  orgtoken-bot version              print the version

Configuration comes from environment variables; see README.md.
`

// run is main without the process globals, so tests can call it.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, env envconfig.Lookuper) int {
	if len(args) > 0 {
		switch args[0] {
		case "policy":
			return policy.RunCLI(args[1:], stdout, stderr)
		case "audit":
			return runAuditCLI(ctx, args[1:], stdout, stderr, env)
		case "healthcheck":
			return runHealthcheck(ctx, args[1:], stderr, env)
		case "version", "--version":
			fmt.Fprintln(stdout, "orgtoken-bot", version)
			return 0
		case "help", "-h", "-help", "--help":
			fmt.Fprint(stdout, usage)
			return 0
		default:
			fmt.Fprintf(stderr, "orgtoken-bot: unknown command %q\n\n%s", args[0], usage)
			return 2
		}
	}

	cfg, err := loadConfig(ctx, env)
	if err != nil {
		fmt.Fprintf(stderr, "orgtoken-bot: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	if cfg.Sandbox {
		if err := runSandbox(ctx, stdin, stdout, sandboxOptions{}); err != nil {
			fmt.Fprintf(stderr, "orgtoken-bot sandbox: %v\n", err)
			return 1
		}
		return 0
	}
	return serve(ctx, cfg, stderr)
}

func runHealthcheck(ctx context.Context, args []string, stderr io.Writer, env envconfig.Lookuper) int {
	url := defaultHealthURL(env)
	switch len(args) {
	case 0:
	case 1:
		url = args[0]
	default:
		fmt.Fprintf(stderr, "orgtoken-bot healthcheck: too many arguments\n\n%s", usage)
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := ops.Probe(ctx, url); err != nil {
		fmt.Fprintf(stderr, "orgtoken-bot healthcheck: %v\n", err)
		return 1
	}
	return 0
}

// defaultHealthURL is /healthz on the address the bot listens on (ORGTOKEN_HTTP_ADDR, default
// :8080), reached over loopback when it listens on every interface: the image's HEALTHCHECK runs
// the probe without a URL in the bot's own environment.
func defaultHealthURL(env envconfig.Lookuper) string {
	addr := ":8080"
	if v, ok := env.Lookup("ORGTOKEN_HTTP_ADDR"); ok && strings.TrimSpace(v) != "" {
		addr = strings.TrimSpace(v)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://127.0.0.1:8080/healthz"
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/healthz"
}
