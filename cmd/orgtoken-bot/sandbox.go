package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/orgtoken/orgtoken-bot/astro"
	"github.com/orgtoken/orgtoken-bot/commands"
	"github.com/orgtoken/orgtoken-bot/emulators/astroemu"
	"github.com/orgtoken/orgtoken-bot/policy"
	"github.com/orgtoken/orgtoken-bot/reply/plaintext"
)

// sandboxOptions tunes the local sandbox.
type sandboxOptions struct {
	// UserID is who the commands run as; "USANDBOX" when empty.
	UserID string
	// Authorizer decides what the sandbox user may do; nil allows everything (and says so).
	Authorizer commands.Authorizer
}

const sandboxBanner = `================================================================
 orgtoken-bot LOCAL SANDBOX: no Slack, no Astro, fake data.
 Commands run against an in-process Astro emulator seeded with
 sample tokens; nothing you do here touches a real organization.
 Type commands as in Slack, e.g. "list" or "/orgtoken help".
 Every action is ALLOWED here (no policy is applied).

 To connect to real Slack and Astro, set SLACK_APP_TOKEN (xapp-),
 SLACK_BOT_TOKEN (xoxb-), ASTRO_API_TOKEN and ASTRO_ORGANIZATION_ID
 (and the bot's other settings) and start orgtoken-bot again.
================================================================
`

// runSandbox runs commands read line by line from in against a local Astro emulator and prints
// each reply to out. Blank lines and # comments are skipped; it returns nil at the end of in.
func runSandbox(ctx context.Context, in io.Reader, out io.Writer, opts sandboxOptions) error {
	if opts.UserID == "" {
		opts.UserID = "USANDBOX"
	}
	banner := sandboxBanner
	if opts.Authorizer == nil {
		opts.Authorizer = commands.AuthorizerFunc(func(context.Context, policy.Input) (policy.Decision, error) {
			return policy.Decision{Allowed: true, Reason: "the local sandbox allows everything"}, nil
		})
	} else {
		banner = strings.Replace(banner, " Every action is ALLOWED here (no policy is applied).\n", " The configured policy decides what you may do.\n", 1)
	}

	emu, err := astroemu.Start(astroemu.Options{})
	if err != nil {
		return fmt.Errorf("starting the Astro emulator: %w", err)
	}
	defer emu.Close()
	emu.SeedSample()

	client := astro.New(emu.OrganizationID(), emu.APIToken(), astro.WithBaseURL(emu.URL()))
	svc, err := commands.New(commands.Config{
		Tokens:           client,
		Authorizer:       opts.Authorizer,
		DefaultWorkspace: astroemu.SampleWorkspaceDataPlatform,
		CommandName:      "/orgtoken",
		Logger:           slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		return err
	}

	if _, err := io.WriteString(out, banner+"\nDefault workspace: "+astroemu.SampleWorkspaceDataPlatform+" (Data Platform). You are "+opts.UserID+".\n\n"); err != nil {
		return err
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		if err := ctx.Err(); err != nil {
			return err
		}
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		r := svc.Run(ctx, commands.Request{UserID: opts.UserID, UserName: "sandbox", ChannelID: "CSANDBOX", Text: line})
		if _, err := fmt.Fprintf(out, "> %s\n%s\n", line, plaintext.Render(r)); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("reading commands: %w", err)
	}
	return nil
}
