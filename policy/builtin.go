package policy

import (
	"fmt"
	"regexp"
	"strings"
)

// BuiltinSource is the Source of the policy FromAdmins builds.
const BuiltinSource = "built-in policy (ORGTOKEN_ADMINS)"

// AdminsGroup is the group FromAdmins puts the admins in.
const AdminsGroup = "admins"

// FromAdmins builds the policy used when no policy file is configured: everyone may list and
// show; admins (Slack user IDs U…/W… and user-group IDs S…, from ORGTOKEN_ADMINS) may add, update
// and remove without approval. allowedChannels (ORGTOKEN_ALLOWED_CHANNELS) restricts where
// /orgtoken works; empty means everywhere. Blank entries are ignored. Every bad ID is reported.
func FromAdmins(admins []string, allowedChannels []string) (*Policy, error) {
	var problems []Problem
	bad := func(key, format string, args ...any) {
		problems = append(problems, Problem{Source: BuiltinSource, Key: key, Message: fmt.Sprintf(format, args...)})
	}

	var g group
	for _, id := range admins {
		id = strings.TrimSpace(id)
		switch {
		case id == "":
		case userIDPattern.MatchString(id):
			g.users = append(g.users, id)
		case groupIDPattern.MatchString(id):
			g.slackGroups = append(g.slackGroups, id)
		default:
			bad("ORGTOKEN_ADMINS", "%q is not %s%s", id, whatMember, upperHint(id, userIDPattern, groupIDPattern))
		}
	}
	if len(g.users)+len(g.slackGroups) == 0 && len(problems) == 0 {
		bad("ORGTOKEN_ADMINS", "no admins given, so nobody could change any token; set ORGTOKEN_ADMINS or ORGTOKEN_POLICY_FILE")
	}

	var channels map[string]string
	for _, id := range allowedChannels {
		id = strings.TrimSpace(id)
		switch {
		case id == "":
			continue
		case !channelIDPattern.MatchString(id):
			bad("ORGTOKEN_ALLOWED_CHANNELS", "%q is not %s%s", id, whatChannel, upperHint(id, channelIDPattern))
			continue
		}
		if channels == nil {
			channels = map[string]string{}
		}
		channels[id] = ""
	}
	if len(problems) > 0 {
		return nil, &ValidationError{Problems: problems}
	}

	whoUsers, whoGroups := set{}, set{}
	for _, u := range g.users {
		whoUsers[u] = struct{}{}
	}
	for _, s := range g.slackGroups {
		whoGroups[s] = struct{}{}
	}
	p := &Policy{
		source:   BuiltinSource,
		groups:   map[string]group{AdminsGroup: g},
		channels: channels,
		rules: []rule{
			{
				ref:         RuleRef{Index: 1, Name: "everyone-reads"},
				actions:     readActions,
				everyone:    true,
				whoText:     everyone,
				allowReason: "allowed by rule 1 (everyone-reads)",
			},
			{
				ref:            RuleRef{Index: 2, Name: "admins-change"},
				actions:        changeActions,
				whoUsers:       whoUsers,
				whoSlackGroups: whoGroups,
				whoText:        AdminsGroup,
				allowReason:    "allowed by rule 2 (admins-change)",
			},
		},
	}
	if channels != nil {
		p.channelDenyReason = channelRefusal(channels)
	}
	return p, nil
}

// upperHint suggests the upper-case spelling when that is a valid ID.
func upperHint(id string, patterns ...*regexp.Regexp) string {
	up := strings.ToUpper(id)
	if up == id {
		return ""
	}
	for _, p := range patterns {
		if p.MatchString(up) {
			return fmt.Sprintf("; did you mean %s? Slack IDs are upper-case", up)
		}
	}
	return ""
}
