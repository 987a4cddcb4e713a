package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/orgtoken/orgtoken-bot/astro"
	"github.com/orgtoken/orgtoken-bot/commands"
	"github.com/orgtoken/orgtoken-bot/emulators/astroemu"
	"github.com/orgtoken/orgtoken-bot/policy"
	"github.com/orgtoken/orgtoken-bot/reply"
	"github.com/orgtoken/orgtoken-bot/store"
)

// sandboxOptions tunes the local sandbox.
type sandboxOptions struct {
	// UserID is who the commands run as; "USANDBOX" when empty.
	UserID string
	// Authorizer decides what the sandbox user may do; nil applies the sample policy in
	// sandbox_policy.yaml. When it also implements commands.Approvers it decides approvals.
	Authorizer commands.Authorizer
}

// sandboxChannel is the channel sandbox commands are typed in.
const sandboxChannel = "CSANDBOX"

const sandboxBanner = `================================================================
 orgtoken-bot LOCAL SANDBOX: no Slack, no Astro, fake data.
 Commands run against an in-process Astro emulator seeded with
 sample tokens; nothing you do here touches a real organization.
 Type commands as in Slack, e.g. "list" or "/orgtoken help".
 A sample policy applies: anyone may change roles directly, but
 WORKSPACE_OWNER needs two approvals from U0ALICE, U0BOB or U0CAROL.
 Try approvals:
   update cltkairflowcideployer0001 --role owner --reason "demo"
   as U0ALICE      (act as another user; "as USANDBOX" to go back)
   press N         (click the button shown as [N Approve])
   as U0BOB
   press N         (the second approval applies the change)
 or "approve ID" / "deny ID" with the request's ID. Requests live
 in memory only and are gone when the sandbox ends.

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
		p, err := policy.Parse(sandboxPolicyYAML, "the sandbox's sample policy")
		if err != nil {
			return fmt.Errorf("sample policy: %w", err)
		}
		opts.Authorizer = sandboxPolicy{p: p}
	} else {
		banner = strings.Replace(banner, sandboxPolicyLines, " The configured policy decides what you may do.\n", 1)
	}
	approvers, _ := opts.Authorizer.(commands.Approvers)

	emu, err := astroemu.Start(astroemu.Options{})
	if err != nil {
		return fmt.Errorf("starting the Astro emulator: %w", err)
	}
	defer emu.Close()
	emu.SeedSample()

	st, err := store.Open(ctx, ":memory:")
	if err != nil {
		return fmt.Errorf("opening the in-memory store: %w", err)
	}
	defer st.Close()
	slack := &sandboxSlack{out: out}

	client := astro.New(emu.OrganizationID(), emu.APIToken(), astro.WithBaseURL(emu.URL()))
	cfg := commands.Config{
		Tokens:     client,
		Authorizer: opts.Authorizer,
		Approvers:  approvers,
		Requests:   st,
		Messenger:  slack,
		Audit:      st,
		Workspaces: client,
		History:    st,
		// Time-boxes work as in production, so --for, show's pending reverts and "Revert now"
		// can be tried; the worker runs for as long as the sandbox does.
		Reverts:          st,
		Announcer:        slack,
		DefaultWorkspace: astroemu.SampleWorkspaceDataPlatform,
		CommandName:      "/orgtoken",
		Logger:           slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	if sp, ok := opts.Authorizer.(sandboxPolicy); ok {
		cfg.Groups = sp.p
	}
	svc, err := commands.New(cfg)
	if err != nil {
		return err
	}
	revertCtx, stopReverts := context.WithCancel(ctx)
	revertsDone := make(chan struct{})
	go func() { defer close(revertsDone); svc.RunReverts(revertCtx, 10*time.Second, "sandbox") }()
	defer func() { stopReverts(); <-revertsDone }()

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
		if err := sandboxLine(ctx, svc, slack, &opts.UserID, line, out); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("reading commands: %w", err)
	}
	return nil
}

// sandboxPolicyLines is the part of the banner about the sample policy.
const sandboxPolicyLines = ` A sample policy applies: anyone may change roles directly, but
 WORKSPACE_OWNER needs two approvals from U0ALICE, U0BOB or U0CAROL.
`

// sandboxLine runs one line: a sandbox verb (as, press, approve, deny) or a command.
func sandboxLine(ctx context.Context, svc *commands.Service, slack *sandboxSlack, user *string, line string, out io.Writer) error {
	verb, arg, _ := strings.Cut(line, " ")
	arg = strings.TrimSpace(arg)
	switch verb {
	case "as":
		if !reply.ValidUserID(arg) {
			_, err := fmt.Fprintf(out, "> %s\n[error] %q is not a Slack user ID (U… or W…), e.g. U0ALICE.\n\n", line, arg)
			return err
		}
		*user = arg
		_, err := fmt.Fprintf(out, "> %s\n[i] You are now %s.\n\n", line, arg)
		return err
	case "press":
		n, err := strconv.Atoi(arg)
		b, ok := slack.button(n)
		if err != nil || !ok {
			_, err := fmt.Fprintf(out, "> %s\n[error] There is no button %q; buttons are numbered where they are shown.\n\n", line, arg)
			return err
		}
		return sandboxClick(ctx, svc, slack, *user, line, b)
	case "approve", "deny":
		action := commands.ActionApprove
		if verb == "deny" {
			action = commands.ActionDeny
		}
		return sandboxClick(ctx, svc, slack, *user, line, sandboxButton{actionID: action, value: arg, channel: sandboxChannel})
	}
	r := svc.Run(ctx, commands.Request{UserID: *user, UserName: "sandbox", ChannelID: sandboxChannel, Text: line})
	return slack.show("> "+line, sandboxChannel, r)
}

func sandboxClick(ctx context.Context, svc *commands.Service, slack *sandboxSlack, user, line string, b sandboxButton) error {
	r := svc.Act(ctx, commands.Action{UserID: user, UserName: "sandbox", ChannelID: b.channel, ActionID: b.actionID, Value: b.value, MessageTS: b.messageTS})
	return slack.show(fmt.Sprintf("> %s (clicked as %s)", line, user), b.channel, r)
}
