package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Problem is one thing wrong with a policy.
type Problem struct {
	Source  string // file name as given to Parse or Load
	Line    int    // 1-based; 0 when the problem has no line (empty file, built-in policy)
	Key     string // path to the offending value, e.g. rules[2].approval.count; "" for the file
	Message string
}

func (p Problem) Error() string {
	var b strings.Builder
	b.WriteString(p.Source)
	if p.Line > 0 {
		b.WriteString(":")
		b.WriteString(strconv.Itoa(p.Line))
	}
	b.WriteString(": ")
	if p.Key != "" {
		b.WriteString(p.Key)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// ValidationError lists every problem found in a policy, in line order.
type ValidationError struct {
	Problems []Problem
}

func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap exposes each Problem to errors.As and errors.Is.
func (e *ValidationError) Unwrap() []error {
	errs := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		errs[i] = p
	}
	return errs
}

// DefaultApprovalExpiry is how long an approval request stays open when the rule does not say.
const DefaultApprovalExpiry = 24 * time.Hour

// Load reads and parses the policy file at path. Problems name the file as path.
func Load(path string) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	return Parse(data, path)
}

// Parse validates a YAML policy (format in the package documentation) and compiles it. source
// names the file in problems. On failure the error is a *ValidationError listing every problem.
func Parse(data []byte, source string) (*Policy, error) {
	ps := &parser{source: source}
	if root := ps.document(data); root != nil {
		ps.policy(root)
	}
	if len(ps.problems) > 0 {
		return nil, ps.err()
	}
	return ps.out, nil
}

var (
	userIDPattern    = regexp.MustCompile(`^[UW][A-Z0-9]{2,}$`)
	groupIDPattern   = regexp.MustCompile(`^S[A-Z0-9]{2,}$`)
	channelIDPattern = regexp.MustCompile(`^[CG][A-Z0-9]{2,}$`)
	groupNamePattern = regexp.MustCompile(`^[a-z][a-z0-9_.-]*$`)
	workspacePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)
	yamlLinePattern  = regexp.MustCompile(`(?s)^yaml: line (\d+): (.*)$`)
)

const everyone = "everyone"

var (
	topKeys      = []string{"groups", "channels", "rules"}
	channelKeys  = []string{"workspace"}
	ruleKeys     = []string{"name", "actions", "roles", "workspaces", "direction", "channels", "who", "approval", "max_elevation", "confirm"}
	approvalKeys = []string{"approvers", "count", "channel", "expires_after", "require_reason"}
)

type parser struct {
	source   string
	problems []Problem
	out      *Policy
}

func (ps *parser) addf(n *yaml.Node, key, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	ps.problems = append(ps.problems, Problem{Source: ps.source, Line: line, Key: key, Message: fmt.Sprintf(format, args...)})
}

func (ps *parser) err() error {
	sort.SliceStable(ps.problems, func(i, j int) bool { return ps.problems[i].Line < ps.problems[j].Line })
	return &ValidationError{Problems: ps.problems}
}

// document decodes exactly one YAML document and returns its root, or nil after a problem.
func (ps *parser) document(data []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			ps.addf(nil, "", "the file is empty; a policy needs at least a rules section")
		} else {
			ps.syntax(err)
		}
		return nil
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		ps.addf(&extra, "", "only one YAML document is allowed; remove the second '---'")
	case !errors.Is(err, io.EOF):
		ps.syntax(err)
	}
	if len(doc.Content) == 0 {
		ps.addf(nil, "", "the file is empty; a policy needs at least a rules section")
		return nil
	}
	return deref(doc.Content[0])
}

// syntax turns a YAML syntax error into a Problem. The line is yaml.v3's, which for parser
// errors is where the enclosing block starts, sometimes a line early (go-yaml/yaml#205): hence
// "near".
func (ps *parser) syntax(err error) {
	msg := err.Error()
	if m := yamlLinePattern.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		ps.problems = append(ps.problems, Problem{Source: ps.source, Line: line, Message: "invalid YAML near here: " + m[2]})
		return
	}
	ps.problems = append(ps.problems, Problem{Source: ps.source, Message: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")})
}

func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// entry is one key of a mapping.
type entry struct {
	key, value *yaml.Node
}

// mapping reads a mapping node, reporting unknown and repeated keys. Order is kept so problems
// come out in file order.
// what describes the expected shape for the error when n is not a mapping at all.
func (ps *parser) mapping(n *yaml.Node, path, what string, allowed []string) ([]entry, map[string]entry, bool) {
	if n.Kind != yaml.MappingNode {
		if path == "" {
			ps.addf(n, path, "the file must be %s", what)
		} else {
			ps.addf(n, path, "must be %s", what)
		}
		return nil, nil, false
	}
	var list []entry
	byKey := map[string]entry{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), deref(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			ps.addf(k, path, "keys must be plain names")
			continue
		}
		kp := join(path, k.Value)
		if prev, dup := byKey[k.Value]; dup {
			ps.addf(k, kp, "repeated; it is already set on line %d", prev.key.Line)
			continue
		}
		if allowed != nil && !slices.Contains(allowed, k.Value) {
			ps.addf(k, kp, "unknown key%s (valid: %s)", didYouMean(k.Value, allowed), strings.Join(allowed, ", "))
			continue
		}
		e := entry{k, v}
		byKey[k.Value] = e
		list = append(list, e)
	}
	return list, byKey, true
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

// item is one scalar of a list, with its node for line numbers.
type item struct {
	value string
	node  *yaml.Node
	path  string
}

// list reads a non-empty list of scalars.
func (ps *parser) list(n *yaml.Node, path, example string) []item {
	if isNull(n) {
		ps.addf(n, path, "must not be empty")
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		ps.addf(n, path, "must be a list, e.g. %s", example)
		return nil
	}
	if len(n.Content) == 0 {
		ps.addf(n, path, "must not be empty")
		return nil
	}
	items := make([]item, 0, len(n.Content))
	for i, c := range n.Content {
		c = deref(c)
		p := index(path, i)
		if c.Kind != yaml.ScalarNode || isNull(c) {
			ps.addf(c, p, "must be a single value")
			continue
		}
		items = append(items, item{c.Value, c, p})
	}
	return items
}

func (ps *parser) str(n *yaml.Node, path string) (string, bool) {
	if n.Kind != yaml.ScalarNode || isNull(n) || n.Value == "" {
		ps.addf(n, path, "must be a non-empty string")
		return "", false
	}
	return n.Value, true
}

func (ps *parser) duration(n *yaml.Node, path string) (time.Duration, bool) {
	s, ok := ps.str(n, path)
	if !ok {
		return 0, false
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		ps.addf(n, path, "%q is not a duration; write e.g. 30m, 8h or 168h (units h, m, s; there is no d)", s)
		return 0, false
	}
	if d <= 0 {
		ps.addf(n, path, "must be positive, got %s", s)
		return 0, false
	}
	return d, true
}

func (ps *parser) boolean(n *yaml.Node, path string) (bool, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		ps.addf(n, path, "must be true or false, got %q", n.Value)
		return false, false
	}
	var b bool
	if err := n.Decode(&b); err != nil {
		ps.addf(n, path, "must be true or false, got %q", n.Value)
		return false, false
	}
	return b, true
}

// slackID checks an ID against a pattern, suggesting the upper-case spelling Slack uses.
func (ps *parser) slackID(it item, pattern *regexp.Regexp, what string) bool {
	if pattern.MatchString(it.value) {
		return true
	}
	ps.addf(it.node, it.path, "%q is not %s%s", it.value, what, upperHint(it.value, pattern))
	return false
}

const (
	whatMember  = "a Slack user ID (U…, W…) or user-group ID (S…)"
	whatChannel = "a Slack channel ID (C…, G…)"
)

func (ps *parser) policy(root *yaml.Node) {
	_, top, ok := ps.mapping(root, "", "a mapping with keys groups, channels and rules", topKeys)
	if !ok {
		return
	}
	ps.out = &Policy{source: ps.source, groups: map[string]group{}}
	if e, ok := top["groups"]; ok {
		ps.groups(e.value)
	}
	if e, ok := top["channels"]; ok {
		ps.channels(e.value)
	}
	e, ok := top["rules"]
	if !ok {
		ps.addf(root, "rules", "missing; a policy needs at least one rule (with none, everything is denied)")
		return
	}
	ps.rules(e.value)
}

func (ps *parser) groups(n *yaml.Node) {
	if isNull(n) {
		return
	}
	entries, _, ok := ps.mapping(n, "groups", "a mapping of group names to lists of Slack IDs", nil)
	if !ok {
		return
	}
	for _, e := range entries {
		name := e.key.Value
		path := "groups." + name
		switch {
		case name == everyone:
			ps.addf(e.key, path, "%q is reserved: who: everyone already means every user", everyone)
		case !groupNamePattern.MatchString(name):
			ps.addf(e.key, path, "bad group name; names start with a lower-case letter and use only a-z, 0-9, '-', '_', '.' (so they never look like Slack IDs)")
		}
		var g group
		for _, it := range ps.list(e.value, path, "[U0123ABCD, S0123ABCD]") {
			switch {
			case userIDPattern.MatchString(it.value):
				g.users = append(g.users, it.value)
			case groupIDPattern.MatchString(it.value):
				g.slackGroups = append(g.slackGroups, it.value)
			case groupNamePattern.MatchString(it.value) && isGroupKey(n, it.value):
				ps.addf(it.node, it.path, "groups cannot contain other groups; list the members of %q instead", it.value)
			default:
				ps.addf(it.node, it.path, "%q is not %s%s", it.value, whatMember, upperHint(it.value, userIDPattern, groupIDPattern))
			}
		}
		ps.out.groups[name] = g
	}
}

// isGroupKey reports whether the groups mapping defines name, so nested groups get a clear message.
func isGroupKey(groups *yaml.Node, name string) bool {
	for i := 0; i < len(groups.Content); i += 2 {
		if groups.Content[i].Value == name {
			return true
		}
	}
	return false
}

func (ps *parser) channels(n *yaml.Node) {
	// A section whose channels are all commented out is null: still refused, never taken for
	// "every channel", but with the same words as an empty one.
	if isNull(n) {
		ps.addf(n, "channels", "must list at least one channel; remove the section to allow every channel")
		return
	}
	entries, _, ok := ps.mapping(n, "channels", "a mapping of channel IDs to { workspace: ID }", nil)
	if !ok {
		return
	}
	if len(entries) == 0 {
		ps.addf(n, "channels", "must list at least one channel; remove the section to allow every channel")
		return
	}
	ps.out.channels = map[string]string{}
	for _, e := range entries {
		id := e.key.Value
		path := "channels." + id
		ps.slackID(item{id, e.key, path}, channelIDPattern, whatChannel)
		ws := ""
		if !isNull(e.value) {
			if _, fields, ok := ps.mapping(e.value, path, "empty or { workspace: ID }", channelKeys); ok {
				if f, ok := fields["workspace"]; ok {
					ws, _ = ps.workspace(f.value, path+".workspace")
				}
			}
		}
		ps.out.channels[id] = ws
	}
	ps.out.channelDenyReason = channelRefusal(ps.out.channels)
}

func channelRefusal(channels map[string]string) string {
	ids := make([]string, 0, len(channels))
	for id := range channels {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return "/orgtoken is not enabled in this channel; use " + strings.Join(ids, ", ")
}

func (ps *parser) workspace(n *yaml.Node, path string) (string, bool) {
	s, ok := ps.str(n, path)
	if !ok {
		return "", false
	}
	if !workspacePattern.MatchString(s) {
		ps.addf(n, path, "%q is not a workspace ID (letters, digits, '-', '_'); rules match IDs, not names", s)
		return "", false
	}
	return s, true
}

func (ps *parser) rules(n *yaml.Node) {
	if n.Kind != yaml.SequenceNode {
		ps.addf(n, "rules", "must be a list of rules")
		return
	}
	if len(n.Content) == 0 {
		ps.addf(n, "rules", "must not be empty; with no rules everything is denied")
		return
	}
	names := map[string]int{} // name → line
	for i, c := range n.Content {
		r, ok := ps.rule(i, deref(c), names)
		if ok {
			ps.out.rules = append(ps.out.rules, r)
		}
	}
}

func (ps *parser) rule(i int, n *yaml.Node, names map[string]int) (rule, bool) {
	path := index("rules", i)
	r := rule{ref: RuleRef{Index: i + 1, Line: n.Line}}
	_, f, ok := ps.mapping(n, path, "a mapping with keys "+strings.Join(ruleKeys, ", "), ruleKeys)
	if !ok {
		return r, false
	}
	before := len(ps.problems)

	if e, ok := f["name"]; ok {
		if name, ok := ps.str(e.value, path+".name"); ok {
			if line, dup := names[name]; dup {
				ps.addf(e.value, path+".name", "%q is already the name of the rule on line %d", name, line)
			} else {
				names[name] = e.value.Line
			}
			r.ref.Name = name
		}
	}

	if e, ok := f["actions"]; ok {
		for _, it := range ps.list(e.value, path+".actions", "[list, show]") {
			a := Action(it.value)
			switch bit := actionBit(a); {
			case a == ActionApprove:
				ps.addf(it.node, it.path, "approve is not a rule action; a rule's approval.approvers say who may approve")
			case bit == 0:
				ps.addf(it.node, it.path, "unknown action %q%s (valid: %s)", it.value, didYouMean(it.value, actionNames()), strings.Join(actionNames(), ", "))
			default:
				r.actions |= bit
			}
		}
	} else {
		ps.addf(n, path+".actions", "missing; say which of %s the rule covers", strings.Join(actionNames(), ", "))
	}

	if e, ok := f["roles"]; ok {
		for _, it := range ps.list(e.value, path+".roles", "[WORKSPACE_MEMBER, WORKSPACE_AUTHOR]") {
			if bit := roleBit(it.value); bit != 0 {
				r.roles |= bit
				continue
			}
			ps.addf(it.node, it.path, "unknown role %q%s (valid: %s)", it.value, roleHint(it.value), strings.Join(roleLadder, ", "))
		}
	}

	if e, ok := f["workspaces"]; ok {
		r.workspaces = []string{}
		for _, it := range ps.list(e.value, path+".workspaces", "[clws1234]") {
			if ws, ok := ps.workspace(it.node, it.path); ok {
				r.workspaces = append(r.workspaces, ws)
			}
		}
	}

	if e, ok := f["direction"]; ok {
		for _, it := range ps.list(e.value, path+".direction", "[downgrade, revoke]") {
			d := Direction(it.value)
			bit := dirBit(d)
			if bit == 0 {
				ps.addf(it.node, it.path, "unknown direction %q%s (valid: %s)", it.value, didYouMean(it.value, directionNames()), strings.Join(directionNames(), ", "))
				continue
			}
			r.directions |= bit
			// A rule of list and show only is told below that direction cannot apply to it.
			if r.actions&changeActions != 0 && !canProduce(r.actions, d) {
				ps.addf(it.node, it.path, "%s can never match: remove only revokes, and add and update never revoke", d)
			}
		}
	}

	if e, ok := f["channels"]; ok {
		r.channels = []string{}
		for _, it := range ps.list(e.value, path+".channels", "[C0123ABCD]") {
			if !ps.slackID(it, channelIDPattern, whatChannel) {
				continue
			}
			if ps.out.channels != nil {
				if _, ok := ps.out.channels[it.value]; !ok {
					ps.addf(it.node, it.path, "%s is not in the top-level channels section, so this rule could never match there", it.value)
					continue
				}
			}
			r.channels = append(r.channels, it.value)
		}
	}

	if e, ok := f["who"]; ok {
		ps.who(e.value, path+".who", &r)
	} else {
		ps.addf(n, path+".who", "missing; write who: everyone, or a list of group names and Slack IDs")
	}

	if e, ok := f["approval"]; ok {
		r.approval = ps.approval(e.value, path+".approval", &r)
	}
	if e, ok := f["max_elevation"]; ok {
		r.maxElevation, _ = ps.duration(e.value, path+".max_elevation")
	}
	if e, ok := f["confirm"]; ok {
		r.confirm, _ = ps.boolean(e.value, path+".confirm")
	}

	if r.actions&readActions != 0 {
		for _, key := range []string{"roles", "direction", "approval", "max_elevation", "confirm"} {
			if e, ok := f[key]; ok {
				ps.addf(e.key, path+"."+key, "list and show change nothing, so %s cannot apply to them; give them their own rule", key)
			}
		}
	}

	r.allowReason = "allowed by " + r.label()
	if r.approval != nil {
		r.allowReason += fmt.Sprintf(" after approval by %d of %s", r.approval.Count, strings.Join(r.approval.Approvers, ", "))
	}
	return r, len(ps.problems) == before
}

func canProduce(actions actionSet, d Direction) bool {
	if d == DirectionRevoke {
		return actions&actionBit(ActionRemove) != 0
	}
	return actions&(actionBit(ActionAdd)|actionBit(ActionUpdate)) != 0
}

func (ps *parser) who(n *yaml.Node, path string, r *rule) {
	if n.Kind == yaml.ScalarNode && n.Value == everyone {
		r.everyone = true
		r.whoText = everyone
		return
	}
	if n.Kind == yaml.ScalarNode && !isNull(n) {
		ps.addf(n, path, "must be everyone or a list, e.g. [platform-admins, U0123ABCD]")
		return
	}
	r.whoUsers, r.whoSlackGroups = set{}, set{}
	var text []string
	for _, it := range ps.list(n, path, "[platform-admins, U0123ABCD]") {
		switch {
		case it.value == everyone:
			ps.addf(it.node, it.path, "write who: everyone on its own, not inside a list")
		case userIDPattern.MatchString(it.value):
			r.whoUsers[it.value] = struct{}{}
		case groupIDPattern.MatchString(it.value):
			r.whoSlackGroups[it.value] = struct{}{}
		case groupNamePattern.MatchString(it.value):
			g, ok := ps.out.groups[it.value]
			if !ok {
				hint := ps.groupHint(it.value)
				// u0abc is spelt like a group name, but may be a Slack ID typed in lower case.
				if up := strings.ToUpper(it.value); userIDPattern.MatchString(up) || groupIDPattern.MatchString(up) {
					hint += fmt.Sprintf("; if it is a Slack ID, write it in upper case: %s", up)
				}
				ps.addf(it.node, it.path, "group %q is not defined%s", it.value, hint)
				continue
			}
			for _, u := range g.users {
				r.whoUsers[u] = struct{}{}
			}
			for _, s := range g.slackGroups {
				r.whoSlackGroups[s] = struct{}{}
			}
		default:
			ps.slackID(it, userIDPattern, "a group name or "+whatMember)
			continue
		}
		text = append(text, it.value)
	}
	r.whoText = strings.Join(text, ", ")
}

func (ps *parser) groupHint(name string) string {
	defined := make([]string, 0, len(ps.out.groups))
	for g := range ps.out.groups {
		defined = append(defined, g)
	}
	if len(defined) == 0 {
		return "; there is no groups section"
	}
	sort.Strings(defined)
	return didYouMean(name, defined) + " (groups: " + strings.Join(defined, ", ") + ")"
}

func (ps *parser) approval(n *yaml.Node, path string, r *rule) *Approval {
	_, f, ok := ps.mapping(n, path, "a mapping with keys "+strings.Join(approvalKeys, ", "), approvalKeys)
	if !ok {
		return nil
	}
	a := &Approval{Count: 1, ExpiresAfter: DefaultApprovalExpiry}
	if e, ok := f["approvers"]; ok {
		for _, it := range ps.list(e.value, path+".approvers", "[approvers]") {
			if _, ok := ps.out.groups[it.value]; ok {
				a.Approvers = append(a.Approvers, it.value)
				continue
			}
			if userIDPattern.MatchString(it.value) || groupIDPattern.MatchString(it.value) {
				ps.addf(it.node, it.path, "approvers are group names; put %s in a group under groups", it.value)
				continue
			}
			ps.addf(it.node, it.path, "group %q is not defined%s", it.value, ps.groupHint(it.value))
		}
	} else {
		ps.addf(n, path+".approvers", "missing; name the groups whose members may approve")
	}
	countNode := n
	if e, ok := f["count"]; ok {
		countNode = e.value
		var c int
		if e.value.Kind != yaml.ScalarNode || e.value.Tag != "!!int" || e.value.Decode(&c) != nil {
			ps.addf(e.value, path+".count", "must be a whole number, got %q", e.value.Value)
		} else if c < 1 {
			ps.addf(e.value, path+".count", "must be at least 1")
		} else {
			a.Count = c
		}
	}
	if e, ok := f["channel"]; ok {
		if id, ok := ps.str(e.value, path+".channel"); ok && ps.slackID(item{id, e.value, path + ".channel"}, channelIDPattern, whatChannel) {
			a.Channel = id
		}
	} else {
		ps.addf(n, path+".channel", "missing; give the channel ID where approval requests are posted")
	}
	if e, ok := f["expires_after"]; ok {
		if d, ok := ps.duration(e.value, path+".expires_after"); ok {
			a.ExpiresAfter = d
		}
	}
	if e, ok := f["require_reason"]; ok {
		a.RequireReason, _ = ps.boolean(e.value, path+".require_reason")
	}
	ps.checkSatisfiable(a, r, countNode, path+".count")
	return a
}

// checkSatisfiable rejects a count that no set of approvers could ever reach. It can only
// judge groups made of users: a Slack user group may grow at any time.
func (ps *parser) checkSatisfiable(a *Approval, r *rule, at *yaml.Node, path string) {
	pool := set{}
	for _, name := range a.Approvers {
		g := ps.out.groups[name]
		if len(g.slackGroups) > 0 {
			return
		}
		for _, u := range g.users {
			pool[u] = struct{}{}
		}
	}
	if len(pool) == 0 {
		return // approvers already reported
	}
	if a.Count > len(pool) {
		ps.addf(at, path, "%s needed, but the approver groups (%s) have only %s", plural(a.Count, "approval"), strings.Join(a.Approvers, ", "), people(len(pool)))
		return
	}
	// The requester cannot approve their own request, so an approver who may also request has
	// one fewer person to ask.
	for _, u := range sortedKeys(pool) {
		if (r.everyone || r.whoUsers.has(u)) && len(pool)-1 < a.Count {
			ps.addf(at, path, "%s needed, but when %s requests, only %s can approve (requesters never approve their own request)", plural(a.Count, "approval"), u, people(len(pool)-1))
			return
		}
	}
}

func people(n int) string {
	if n == 1 {
		return "1 person"
	}
	return fmt.Sprintf("%d people", n)
}

func actionNames() []string {
	out := make([]string, len(ruleActions))
	for i, a := range ruleActions {
		out[i] = string(a)
	}
	return out
}

func directionNames() []string {
	out := make([]string, len(ruleDirections))
	for i, d := range ruleDirections {
		out[i] = string(d)
	}
	return out
}

// roleHint suggests the full role name for short or lower-case spellings such as "owner".
func roleHint(s string) string {
	up := strings.ToUpper(s)
	for _, r := range roleLadder {
		if up == r || "WORKSPACE_"+up == r {
			return "; did you mean " + r + "?"
		}
	}
	return didYouMean(s, roleLadder)
}

// didYouMean suggests the closest valid word when a typo is likely (edit distance ≤ 2).
func didYouMean(s string, valid []string) string {
	best, bestDist := "", 3
	for _, v := range valid {
		if d := editDistance(s, v); d < bestDist {
			best, bestDist = v, d
		}
	}
	if best == "" {
		return ""
	}
	return "; did you mean " + best + "?"
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
