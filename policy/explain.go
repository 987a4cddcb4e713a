package policy

import (
	"fmt"
	"strings"
	"time"
)

// Explain decides in and describes the outcome in plain text, one "key: value" line per fact:
// the decision, the rule (number, name, position in the file), and for approvals who may
// approve (each group with its members), how many, where, and for how long.
func (p *Policy) Explain(in Input) string {
	d := p.Decide(in)
	var b strings.Builder
	line := func(format string, args ...any) {
		fmt.Fprintf(&b, format, args...)
		b.WriteByte('\n')
	}

	line("policy: %s", p.source)
	line("request: %s", describeRequest(in))
	switch {
	case d.NeedsApproval():
		line("decision: allowed after approval")
	case d.Allowed:
		line("decision: allowed")
	default:
		line("decision: denied")
	}
	if d.Rule.Index > 0 {
		line("rule: %s", p.ruleLocation(d.Rule))
	} else {
		line("rule: none matched")
	}
	line("reason: %s", d.Reason)
	if a := d.Approval; a != nil {
		line("approval: %s from distinct people, never the requester", plural(a.Count, "approval"))
		for _, name := range a.Approvers {
			users, slackGroups := p.GroupMembers(name)
			line("  group %s: %s", name, describeMembers(users, slackGroups))
		}
		line("  channel: %s", a.Channel)
		line("  expires after: %s", formatDuration(a.ExpiresAfter))
		line("  reason required: %s", yesNo(a.RequireReason))
	}
	if d.Allowed {
		if d.MaxElevation > 0 {
			line("max elevation: %s", formatDuration(d.MaxElevation))
		}
		if d.Confirm {
			line("confirmation: required (the requester must type it)")
		}
	}
	return b.String()
}

func (p *Policy) ruleLocation(ref RuleRef) string {
	s := fmt.Sprintf("%d", ref.Index)
	if ref.Name != "" {
		s += fmt.Sprintf(" (%s)", ref.Name)
	}
	if ref.Line > 0 {
		s += fmt.Sprintf(" at rules[%d], line %d", ref.Index-1, ref.Line)
	}
	return s
}

func describeRequest(in Input) string {
	var b strings.Builder
	b.WriteString(orNone(in.UserID))
	if len(in.UserGroups) > 0 {
		fmt.Fprintf(&b, " (user groups %s)", strings.Join(in.UserGroups, ", "))
	}
	fmt.Fprintf(&b, " in channel %s: %s", orNone(in.ChannelID), in.Action)
	if in.WorkspaceID != "" {
		fmt.Fprintf(&b, " in workspace %s", in.WorkspaceID)
	}
	next := in.Role
	switch in.Action {
	case ActionRemove:
		next = ""
	case ActionAdd, ActionUpdate:
	default:
		return b.String()
	}
	fmt.Fprintf(&b, ", %s -> %s (%s)", orNone(in.CurrentRole), orNone(next), orNone(string(DirectionOf(in.CurrentRole, next))))
	return b.String()
}

func describeMembers(users, slackGroups []string) string {
	var parts []string
	if len(users) > 0 {
		parts = append(parts, "users "+strings.Join(users, ", "))
	}
	if len(slackGroups) > 0 {
		parts = append(parts, "user groups "+strings.Join(slackGroups, ", "))
	}
	if len(parts) == 0 {
		return "(nobody)"
	}
	return strings.Join(parts, "; ")
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// formatDuration drops the zero units time.Duration.String keeps: 24h, not 24h0m0s.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
