package policy

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Policy is a validated set of rules. It is immutable after Parse, Load or FromAdmins, so one
// value may be shared by any number of goroutines.
type Policy struct {
	source string
	groups map[string]group
	// channels maps each allowed channel to its default workspace ("" for none); nil means
	// every channel is allowed.
	channels          map[string]string
	channelDenyReason string
	rules             []rule
}

type group struct {
	users       []string // U… and W…
	slackGroups []string // S…
}

type set map[string]struct{}

func (s set) has(id string) bool { _, ok := s[id]; return ok }

// rule is a compiled rule: filters as bit sets and lookup sets so Decide does no parsing.
type rule struct {
	ref        RuleRef
	actions    actionSet
	roles      roleSet // 0 = any
	directions dirSet  // 0 = any
	workspaces []string
	channels   []string

	everyone       bool
	whoUsers       set    // users listed directly or through a group
	whoSlackGroups set    // user groups listed directly or through a group
	whoText        string // who as written, for reasons

	approval     *Approval // template; Requester is filled per decision
	maxElevation time.Duration
	confirm      bool

	allowReason string
}

type actionSet uint8

func actionBit(a Action) actionSet {
	switch a {
	case ActionList:
		return 1 << 0
	case ActionShow:
		return 1 << 1
	case ActionAdd:
		return 1 << 2
	case ActionUpdate:
		return 1 << 3
	case ActionRemove:
		return 1 << 4
	}
	return 0
}

const (
	readActions   = 1<<0 | 1<<1
	changeActions = 1<<2 | 1<<3 | 1<<4
)

// ruleActions are the actions a rule may name, in documentation order.
var ruleActions = []Action{ActionList, ActionShow, ActionAdd, ActionUpdate, ActionRemove}

// Workspace roles, lowest to highest. Duplicated from package astro on purpose: policy imports
// only the standard library, and the ladder is part of the policy file format.
var roleLadder = []string{"WORKSPACE_MEMBER", "WORKSPACE_AUTHOR", "WORKSPACE_OPERATOR", "WORKSPACE_OWNER"}

type roleSet uint8

// roleRank is 1-based so the zero value means "not a ladder role".
func roleRank(role string) int {
	switch role {
	case "WORKSPACE_MEMBER":
		return 1
	case "WORKSPACE_AUTHOR":
		return 2
	case "WORKSPACE_OPERATOR":
		return 3
	case "WORKSPACE_OWNER":
		return 4
	}
	return 0
}

func roleBit(role string) roleSet {
	if r := roleRank(role); r > 0 {
		return 1 << (r - 1)
	}
	return 0
}

type dirSet uint8

var ruleDirections = []Direction{DirectionGrant, DirectionUpgrade, DirectionDowngrade, DirectionRevoke, DirectionSame}

func dirBit(d Direction) dirSet {
	for i, x := range ruleDirections {
		if x == d {
			return 1 << i
		}
	}
	return 0
}

// DirectionOf reports how moving a token from role current to role next changes its access.
// "" stands for no role: ("", R) is a grant and (R, "") a revoke. When both are set but either
// is off the ladder, the move cannot be ranked and DirectionUnknown is returned.
func DirectionOf(current, next string) Direction {
	switch {
	case current == "" && next == "":
		return DirectionNone
	case current == "":
		return DirectionGrant
	case next == "":
		return DirectionRevoke
	}
	c, n := roleRank(current), roleRank(next)
	switch {
	case c == 0 || n == 0:
		return DirectionUnknown
	case n > c:
		return DirectionUpgrade
	case n < c:
		return DirectionDowngrade
	}
	return DirectionSame
}

// request is an Input reduced to what rules match on.
type request struct {
	action    actionSet
	role      roleSet // the role the rule's roles filter is compared with
	direction dirSet  // 0 when the direction is none or unknown
}

// Decide decides in. The first rule that matches the request and whose who includes the user
// allows it; see the package documentation for why a rule that excludes the user is skipped
// rather than final. With no such rule the request is denied. Decide never blocks or fails.
func (p *Policy) Decide(in Input) Decision {
	req, refusal := p.prepare(in)
	if refusal != "" {
		return Decision{Reason: refusal}
	}
	for i := range p.rules {
		r := &p.rules[i]
		if r.matches(req, in) && r.includes(in) {
			return r.allow(in.UserID)
		}
	}
	return Decision{Reason: p.denyReason(req, in)}
}

// prepare checks what no rule can fix and reduces in to a request, or returns why it is refused.
func (p *Policy) prepare(in Input) (request, string) {
	if in.UserID == "" {
		return request{}, "no user given" // a caller bug; never let it reach who: everyone
	}
	if in.Action == ActionApprove {
		return request{}, "approval is decided per request: only members of the approver groups named by the rule that required it may approve"
	}
	bit := actionBit(in.Action)
	if bit == 0 {
		return request{}, fmt.Sprintf("unknown action %q", in.Action)
	}
	if !p.ChannelAllowed(in.ChannelID) {
		return request{}, p.channelDenyReason
	}
	req := request{action: bit}
	switch in.Action {
	case ActionAdd, ActionUpdate:
		if in.Role == "" {
			return request{}, fmt.Sprintf("%s needs a role", in.Action)
		}
		req.role = roleBit(in.Role)
		if req.role == 0 {
			return request{}, fmt.Sprintf("%q is not a workspace role (%s)", in.Role, strings.Join(roleLadder, ", "))
		}
		req.direction = dirBit(DirectionOf(in.CurrentRole, in.Role))
	case ActionRemove:
		// What remove puts at risk is the role being taken away, so role filters match it.
		req.role = roleBit(in.CurrentRole)
		req.direction = dirBit(DirectionOf(in.CurrentRole, ""))
	}
	return req, ""
}

// matches reports whether the request has the shape the rule is about, ignoring who.
func (r *rule) matches(req request, in Input) bool {
	return r.matchesExceptChannel(req, in) && r.matchesChannel(in.ChannelID)
}

func (r *rule) matchesExceptChannel(req request, in Input) bool {
	if r.actions&req.action == 0 {
		return false
	}
	if r.roles != 0 && r.roles&req.role == 0 {
		return false
	}
	if r.directions != 0 && r.directions&req.direction == 0 {
		return false
	}
	if r.workspaces != nil && !slices.Contains(r.workspaces, in.WorkspaceID) {
		return false
	}
	return true
}

func (r *rule) matchesChannel(channelID string) bool {
	return r.channels == nil || slices.Contains(r.channels, channelID)
}

// includes reports whether the user is in the rule's who.
func (r *rule) includes(in Input) bool {
	if r.everyone || r.whoUsers.has(in.UserID) {
		return true
	}
	for _, g := range in.UserGroups {
		if r.whoSlackGroups.has(g) {
			return true
		}
	}
	return false
}

func (r *rule) allow(requester string) Decision {
	d := Decision{
		Allowed:      true,
		Rule:         r.ref,
		Reason:       r.allowReason,
		MaxElevation: r.maxElevation,
		Confirm:      r.confirm,
	}
	if r.approval != nil {
		a := *r.approval
		a.Approvers = slices.Clone(a.Approvers) // callers must not be able to edit the policy
		a.Requester = requester
		d.Approval = &a
	}
	return d
}

// denyReason explains a refusal and points at the rules that nearly allowed it, so that the
// person refused (or the policy author) can see what would have worked.
func (p *Policy) denyReason(req request, in Input) string {
	var b strings.Builder
	fmt.Fprintf(&b, "no rule allows %s for you", describe(in))
	var hints []string
	for i := range p.rules {
		r := &p.rules[i]
		if !r.matchesExceptChannel(req, in) {
			continue
		}
		switch {
		case r.matchesChannel(in.ChannelID):
			hints = append(hints, fmt.Sprintf("%s covers it only for %s", r.label(), r.whoText))
		case r.includes(in):
			hints = append(hints, fmt.Sprintf("%s allows it only in %s", r.label(), strings.Join(r.channels, ", ")))
		}
	}
	const maxHints = 3
	if len(hints) > maxHints {
		hints = append(hints[:maxHints], fmt.Sprintf("%d more rules cover it", len(hints)-maxHints))
	}
	for _, h := range hints {
		b.WriteString("; ")
		b.WriteString(h)
	}
	return b.String()
}

// describe says what was asked, in words, for reasons.
func describe(in Input) string {
	var s string
	switch in.Action {
	case ActionAdd:
		s = "add " + in.Role
	case ActionUpdate:
		s = "update to " + in.Role
	case ActionRemove:
		s = "remove"
		if in.CurrentRole != "" {
			s += " " + in.CurrentRole
		}
	default:
		s = string(in.Action)
	}
	if in.WorkspaceID != "" {
		if in.Action == ActionRemove {
			s += " from " + in.WorkspaceID
		} else {
			s += " in " + in.WorkspaceID
		}
	}
	return s
}

func (r *rule) label() string {
	if r.ref.Name != "" {
		return fmt.Sprintf("rule %d (%s)", r.ref.Index, r.ref.Name)
	}
	return fmt.Sprintf("rule %d", r.ref.Index)
}

// CanApprove reports whether a user may approve a request that needs a: the user, or one of
// their Slack user groups, belongs to one of a.Approvers. The requester never approves their own
// request. Group membership is read from this policy, so a reloaded policy applies to requests
// that are already open.
func (p *Policy) CanApprove(userID string, userGroups []string, a Approval) bool {
	if userID == "" || userID == a.Requester {
		return false
	}
	for _, name := range a.Approvers {
		g, ok := p.groups[name]
		if !ok {
			continue
		}
		if slices.Contains(g.users, userID) {
			return true
		}
		for _, ug := range userGroups {
			if slices.Contains(g.slackGroups, ug) {
				return true
			}
		}
	}
	return false
}

// ChannelAllowed reports whether /orgtoken may be used in the channel. Every channel is allowed
// when the policy has no channels section.
func (p *Policy) ChannelAllowed(channelID string) bool {
	if p.channels == nil {
		return true
	}
	_, ok := p.channels[channelID]
	return ok
}

// DefaultWorkspace is the workspace ID commands in the channel use when none is given, or "".
func (p *Policy) DefaultWorkspace(channelID string) string {
	return p.channels[channelID]
}

// SlackUserGroups lists, sorted, every Slack user-group ID (S…) the policy refers to: the
// caller must resolve the requester's membership in these before calling Decide or CanApprove.
func (p *Policy) SlackUserGroups() []string {
	ids := set{}
	for _, g := range p.groups {
		for _, id := range g.slackGroups {
			ids[id] = struct{}{}
		}
	}
	for i := range p.rules {
		for id := range p.rules[i].whoSlackGroups {
			ids[id] = struct{}{}
		}
	}
	return sortedKeys(ids)
}

// GroupMembers returns the users (U…, W…) and Slack user groups (S…) of a named group, in file
// order; both are nil when there is no such group.
func (p *Policy) GroupMembers(name string) (users, slackGroups []string) {
	g, ok := p.groups[name]
	if !ok {
		return nil, nil
	}
	return slices.Clone(g.users), slices.Clone(g.slackGroups)
}

// Workspaces lists, sorted, every workspace ID the policy refers to (rule filters and channel
// defaults), so the caller can check at start-up that they exist.
func (p *Policy) Workspaces() []string {
	ids := set{}
	for _, ws := range p.channels {
		if ws != "" {
			ids[ws] = struct{}{}
		}
	}
	for i := range p.rules {
		for _, ws := range p.rules[i].workspaces {
			ids[ws] = struct{}{}
		}
	}
	return sortedKeys(ids)
}

// Source names where the policy came from: the file name, or the built-in policy.
func (p *Policy) Source() string { return p.source }

func sortedKeys(s set) []string {
	out := make([]string, 0, len(s))
	for k := range s {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
