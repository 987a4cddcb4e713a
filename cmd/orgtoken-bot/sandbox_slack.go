package main

import (
	"context"
	_ "embed"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/orgtoken/orgtoken-bot/policy"
	"github.com/orgtoken/orgtoken-bot/reply"
	"github.com/orgtoken/orgtoken-bot/reply/plaintext"
)

// sandboxPolicyYAML is the sample policy the sandbox applies when no Authorizer is given.
//
//go:embed sandbox_policy.yaml
var sandboxPolicyYAML []byte

// sandboxPolicy decides with a policy for a terminal user, who belongs to no Slack user groups.
type sandboxPolicy struct{ p *policy.Policy }

func (a sandboxPolicy) Decide(_ context.Context, in policy.Input) (policy.Decision, error) {
	return a.p.Decide(in), nil
}

func (a sandboxPolicy) CanApprove(_ context.Context, userID string, ap policy.Approval) (bool, error) {
	return a.p.CanApprove(userID, nil, ap), nil
}

// sandboxSlack stands in for Slack: messages the bot posts on its own (approval requests, their
// updates and thread replies) are printed after the answer to the command that caused them, and
// every button shown gets a number that "press N" clicks.
type sandboxSlack struct {
	mu       sync.Mutex
	out      io.Writer
	messages []string // ts of each posted message, in order; message n has ts "n"
	buttons  []sandboxButton
	queued   []queuedMessage
}

type queuedMessage struct {
	header, channel, ts string
	r                   reply.Reply
}

type sandboxButton struct {
	actionID, value, channel, messageTS string
}

func (s *sandboxSlack) Post(_ context.Context, channelID string, r reply.Reply) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ts := fmt.Sprint(len(s.messages) + 1)
	s.messages = append(s.messages, ts)
	s.queued = append(s.queued, queuedMessage{fmt.Sprintf("--- message %s posted in #%s ---", ts, channelID), channelID, ts, r})
	return ts, nil
}

func (s *sandboxSlack) PostThread(_ context.Context, channelID, threadTS string, r reply.Reply) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queued = append(s.queued, queuedMessage{fmt.Sprintf("--- reply in the thread of message %s in #%s ---", threadTS, channelID), channelID, threadTS, r})
	return nil
}

func (s *sandboxSlack) Update(_ context.Context, channelID, ts string, r reply.Reply) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queued = append(s.queued, queuedMessage{fmt.Sprintf("--- message %s in #%s now reads ---", ts, channelID), channelID, ts, r})
	return nil
}

func (s *sandboxSlack) PostEphemeral(_ context.Context, channelID, userID string, r reply.Reply) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queued = append(s.queued, queuedMessage{fmt.Sprintf("--- only %s sees, in #%s ---", userID, channelID), channelID, "", r})
	return nil
}

// show prints a reply to a typed command or a click, then what the bot posted meanwhile,
// numbering buttons as they are printed.
func (s *sandboxSlack) show(header, channelID string, r reply.Reply) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.printLocked(header, channelID, "", r); err != nil {
		return err
	}
	for len(s.queued) > 0 {
		q := s.queued[0]
		s.queued = s.queued[1:]
		if err := s.printLocked(q.header, q.channel, q.ts, q.r); err != nil {
			return err
		}
	}
	return nil
}

func (s *sandboxSlack) printLocked(header, channelID, ts string, r reply.Reply) error {
	buttons := r.Buttons
	r.Buttons = nil
	var b strings.Builder
	b.WriteString(header + "\n")
	b.WriteString(plaintext.Render(r))
	if len(buttons) > 0 {
		labels := make([]string, len(buttons))
		for i, btn := range buttons {
			s.buttons = append(s.buttons, sandboxButton{actionID: btn.ActionID, value: btn.Value, channel: channelID, messageTS: ts})
			labels[i] = fmt.Sprintf("[%d %s]", len(s.buttons), btn.Label)
		}
		b.WriteString("  buttons: " + strings.Join(labels, " ") + `  (type "press N" to click one)` + "\n")
	}
	_, err := io.WriteString(s.out, b.String()+"\n")
	return err
}

// button returns the button numbered n (from 1).
func (s *sandboxSlack) button(n int) (sandboxButton, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n < 1 || n > len(s.buttons) {
		return sandboxButton{}, false
	}
	return s.buttons[n-1], true
}
