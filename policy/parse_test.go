package policy

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type wantProblem struct {
	line int
	key  string
	msg  string // substring of the message
}

func requireProblems(t *testing.T, src string, want ...wantProblem) *ValidationError {
	t.Helper()
	p, err := Parse([]byte(src), "policy.yaml")
	require.Error(t, err)
	assert.Nil(t, p)
	var ve *ValidationError
	require.ErrorAs(t, err, &ve)
	got := make([]string, len(ve.Problems))
	for i, pr := range ve.Problems {
		got[i] = pr.Error()
	}
	require.Len(t, ve.Problems, len(want), "problems:\n%s", strings.Join(got, "\n"))
	for i, w := range want {
		pr := ve.Problems[i]
		assert.Equal(t, "policy.yaml", pr.Source)
		assert.Equal(t, w.line, pr.Line, got[i])
		assert.Equal(t, w.key, pr.Key, got[i])
		assert.Contains(t, pr.Message, w.msg, got[i])
	}
	return ve
}

func TestParse_ExampleIsValid(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/example.yaml")
	require.NoError(t, err)
	p, err := Parse(data, "example.yaml")
	require.NoError(t, err)
	assert.Len(t, p.rules, 6)
}

func TestParse_Problems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  string
		want []wantProblem
	}{
		{"EmptyFile", "", []wantProblem{{0, "", "the file is empty"}}},
		{"OnlyComments", "# nothing yet\n", []wantProblem{{0, "", "the file is empty"}}},
		{"InvalidYAML", "rules:\n  - actions: [list]\n\twho: everyone\n", []wantProblem{{3, "", "invalid YAML near here: found character that cannot start any token"}}},
		{"TwoDocuments", "rules:\n  - {actions: [list], who: everyone}\n---\nrules: []\n", []wantProblem{{3, "", "only one YAML document"}}},
		{"NotAMapping", "- list\n", []wantProblem{{1, "", "the file must be a mapping with keys groups, channels and rules"}}},
		{"UnknownTopKey", "rule:\n  - {actions: [list], who: everyone}\n", []wantProblem{
			{1, "rule", "unknown key; did you mean rules? (valid: groups, channels, rules)"},
			{1, "rules", "missing"},
		}},
		{"RulesMissing", "groups:\n  a: [U0A1]\n", []wantProblem{{1, "rules", "missing; a policy needs at least one rule"}}},
		{"RulesEmpty", "rules: []\n", []wantProblem{{1, "rules", "must not be empty"}}},
		{"RulesNotAList", "rules:\n  actions: [list]\n", []wantProblem{{2, "rules", "must be a list of rules"}}},
		{"RepeatedKey", "rules:\n  - actions: [list]\n    who: everyone\n    actions: [show]\n", []wantProblem{
			{4, "rules[0].actions", "repeated; it is already set on line 2"},
		}},
		{"UnknownRuleKeyWithSuggestion", "rules:\n  - action: [list]\n    who: everyone\n", []wantProblem{
			{2, "rules[0].action", "unknown key; did you mean actions?"},
			{2, "rules[0].actions", "missing"},
		}},
		{"WhoMissing", "rules:\n  - actions: [list]\n", []wantProblem{{2, "rules[0].who", "missing; write who: everyone"}}},
		{"WhoEmpty", "rules:\n  - actions: [list]\n    who: []\n", []wantProblem{{3, "rules[0].who", "must not be empty"}}},
		{"WhoNull", "rules:\n  - actions: [list]\n    who:\n", []wantProblem{{3, "rules[0].who", "must not be empty"}}},
		{"WhoScalarOtherThanEveryone", "rules:\n  - actions: [list]\n    who: admins\n", []wantProblem{{3, "rules[0].who", "must be everyone or a list"}}},
		{"WhoEveryoneInList", "rules:\n  - actions: [list]\n    who: [everyone]\n", []wantProblem{{3, "rules[0].who[0]", "write who: everyone on its own"}}},
		{"WhoUndefinedGroup", "groups:\n  admins: [U0A1]\nrules:\n  - actions: [list]\n    who: [admin]\n", []wantProblem{
			{5, "rules[0].who[0]", `group "admin" is not defined; did you mean admins? (groups: admins)`},
		}},
		{"WhoUndefinedGroupNoGroups", "rules:\n  - actions: [list]\n    who: [admins]\n", []wantProblem{
			{3, "rules[0].who[0]", `group "admins" is not defined; there is no groups section`},
		}},
		{"WhoMalformedID", "rules:\n  - actions: [list]\n    who: [U0A1, X0BAD]\n", []wantProblem{
			{3, "rules[0].who[1]", `"X0BAD" is not a group name or a Slack user ID (U…, W…) or user-group ID (S…)`},
		}},
		{"WhoLowerCaseSlackIDs", "rules:\n  - actions: [list]\n    who: [u0abc, s0team]\n", []wantProblem{
			{3, "rules[0].who[0]", `group "u0abc" is not defined; there is no groups section; if it is a Slack ID, write it in upper case: U0ABC`},
			{3, "rules[0].who[1]", `group "s0team" is not defined; there is no groups section; if it is a Slack ID, write it in upper case: S0TEAM`},
		}},
		{"ActionsMissing", "rules:\n  - who: everyone\n", []wantProblem{{2, "rules[0].actions", "missing; say which of list, show, add, update, remove"}}},
		{"ActionsNotAList", "rules:\n  - actions: list\n    who: everyone\n", []wantProblem{{2, "rules[0].actions", "must be a list, e.g. [list, show]"}}},
		{"UnknownAction", "rules:\n  - actions: [list, delete, updte]\n    who: everyone\n", []wantProblem{
			{2, "rules[0].actions[1]", `unknown action "delete" (valid: list, show, add, update, remove)`},
			{2, "rules[0].actions[2]", `unknown action "updte"; did you mean update?`},
		}},
		{"ApproveIsNotARuleAction", "rules:\n  - actions: [approve]\n    who: everyone\n", []wantProblem{
			{2, "rules[0].actions[0]", "approve is not a rule action"},
		}},
		{"UnknownRoleWithHint", "rules:\n  - actions: [add]\n    roles: [owner, WORKSPACE_VIEWER]\n    who: everyone\n", []wantProblem{
			{3, "rules[0].roles[0]", `unknown role "owner"; did you mean WORKSPACE_OWNER?`},
			{3, "rules[0].roles[1]", `unknown role "WORKSPACE_VIEWER"`},
		}},
		{"UnknownDirection", "rules:\n  - actions: [update]\n    direction: [downgrades, sideways]\n    who: everyone\n", []wantProblem{
			{3, "rules[0].direction[0]", `unknown direction "downgrades"; did you mean downgrade? (valid: grant, upgrade, downgrade, revoke, same)`},
			{3, "rules[0].direction[1]", `unknown direction "sideways"`},
		}},
		{"DirectionImpossibleForActions", "rules:\n  - actions: [update]\n    direction: [revoke]\n    who: everyone\n  - actions: [remove]\n    direction: [upgrade]\n    who: everyone\n", []wantProblem{
			{3, "rules[0].direction[0]", "revoke can never match"},
			{6, "rules[1].direction[0]", "upgrade can never match"},
		}},
		{"DirectionOnReadOnlyRuleIsOneProblem", "rules:\n  - actions: [list, show]\n    direction: [downgrade]\n    who: everyone\n", []wantProblem{
			{3, "rules[0].direction", "list and show change nothing, so direction cannot apply to them"},
		}},
		{"ChangeKeysOnReadRule", "rules:\n  - actions: [list, add]\n    roles: [WORKSPACE_MEMBER]\n    confirm: true\n    who: everyone\n", []wantProblem{
			{3, "rules[0].roles", "list and show change nothing, so roles cannot apply to them"},
			{4, "rules[0].confirm", "list and show change nothing, so confirm cannot apply"},
		}},
		{"WorkspaceNameNotID", "rules:\n  - actions: [list]\n    workspaces: [Data Platform]\n    who: everyone\n", []wantProblem{
			{3, "rules[0].workspaces[0]", `"Data Platform" is not a workspace ID`},
		}},
		{"DuplicateRuleName", "rules:\n  - name: read\n    actions: [list]\n    who: everyone\n  - name: read\n    actions: [show]\n    who: everyone\n", []wantProblem{
			{5, "rules[1].name", `"read" is already the name of the rule on line 2`},
		}},
		{"ConfirmNotBool", "rules:\n  - actions: [remove]\n    who: everyone\n    confirm: yes\n", []wantProblem{
			{4, "rules[0].confirm", `must be true or false, got "yes"`},
		}},
		{"BadDurations", "rules:\n  - actions: [add]\n    who: everyone\n    max_elevation: 1d\n  - actions: [add]\n    who: everyone\n    max_elevation: -1h\n", []wantProblem{
			{4, "rules[0].max_elevation", `"1d" is not a duration; write e.g. 30m, 8h or 168h`},
			{7, "rules[1].max_elevation", "must be positive, got -1h"},
		}},
		{"GroupMembersMalformed", "groups:\n  admins: [u0abc, C0CHAN, 42, s0team]\nrules:\n  - {actions: [list], who: [admins]}\n", []wantProblem{
			{2, "groups.admins[0]", `"u0abc" is not a Slack user ID (U…, W…) or user-group ID (S…); did you mean U0ABC? Slack IDs are upper-case`},
			{2, "groups.admins[1]", `"C0CHAN" is not a Slack user ID`},
			{2, "groups.admins[2]", `"42" is not a Slack user ID`},
			{2, "groups.admins[3]", `"s0team" is not a Slack user ID (U…, W…) or user-group ID (S…); did you mean S0TEAM? Slack IDs are upper-case`},
		}},
		{"GroupNamesChecked", "groups:\n  Admins: [U0A1]\n  everyone: [U0A2]\n  ops: [admins2]\n  admins2: []\nrules:\n  - {actions: [list], who: everyone}\n", []wantProblem{
			{2, "groups.Admins", "bad group name"},
			{3, "groups.everyone", `"everyone" is reserved`},
			{4, "groups.ops[0]", `groups cannot contain other groups; list the members of "admins2" instead`},
			{5, "groups.admins2", "must not be empty"},
		}},
		{"GroupsRepeated", "groups:\n  a: [U0A1]\n  a: [U0A2]\nrules:\n  - {actions: [list], who: [a]}\n", []wantProblem{
			{3, "groups.a", "repeated; it is already set on line 2"},
		}},
		{"ChannelsMalformed", "channels:\n  c0ops: { workspace: clws-ops }\n  C0PROD: { workspace: clws prod }\n  C0DEV: { wrkspace: clws-dev }\nrules:\n  - {actions: [list], who: everyone}\n", []wantProblem{
			{2, "channels.c0ops", `"c0ops" is not a Slack channel ID (C…, G…); did you mean C0OPS?`},
			{3, "channels.C0PROD.workspace", `"clws prod" is not a workspace ID`},
			{4, "channels.C0DEV.wrkspace", "unknown key; did you mean workspace?"},
		}},
		{"ChannelsEmpty", "channels: {}\nrules:\n  - {actions: [list], who: everyone}\n", []wantProblem{
			{1, "channels", "must list at least one channel; remove the section to allow every channel"},
		}},
		{"ChannelsNull", "channels:\n  # C0OPS:\nrules:\n  - {actions: [list], who: everyone}\n", []wantProblem{
			{1, "channels", "must list at least one channel; remove the section to allow every channel"},
		}},
		{"RuleChannelOutsideChannelsSection", "channels:\n  C0OPS:\nrules:\n  - actions: [list]\n    channels: [C0OPS, C0ELSE, D0DM]\n    who: everyone\n", []wantProblem{
			{5, "rules[0].channels[1]", "C0ELSE is not in the top-level channels section"},
			{5, "rules[0].channels[2]", `"D0DM" is not a Slack channel ID`},
		}},
		{"ApprovalCountBelowOne", "groups:\n  ap: [S0AP]\nrules:\n  - actions: [add]\n    who: everyone\n    approval:\n      approvers: [ap]\n      count: 0\n      channel: C0AP\n", []wantProblem{
			{8, "rules[0].approval.count", "must be at least 1"},
		}},
		{"ApprovalCountNotANumber", "groups:\n  ap: [S0AP]\nrules:\n  - actions: [add]\n    who: everyone\n    approval: { approvers: [ap], count: two, channel: C0AP }\n", []wantProblem{
			{6, "rules[0].approval.count", `must be a whole number, got "two"`},
		}},
		{"ApprovalCountMoreThanPeople", "groups:\n  ap: [U0AP1, U0AP2]\nrules:\n  - actions: [add]\n    who: [U0DEV]\n    approval: { approvers: [ap], count: 3, channel: C0AP }\n", []wantProblem{
			{6, "rules[0].approval.count", "3 approvals needed, but the approver groups (ap) have only 2 people"},
		}},
		{"ApprovalCountUnreachableForApproverWhoRequests", "groups:\n  ap: [U0AP1, U0AP2]\nrules:\n  - actions: [add]\n    who: [ap]\n    approval: { approvers: [ap], count: 2, channel: C0AP }\n", []wantProblem{
			{6, "rules[0].approval.count", "2 approvals needed, but when U0AP1 requests, only 1 person can approve (requesters never approve their own request)"},
		}},
		{"ApprovalMissingChannelAndApprovers", "rules:\n  - actions: [add]\n    who: everyone\n    approval:\n      count: 1\n", []wantProblem{
			{5, "rules[0].approval.approvers", "missing"},
			{5, "rules[0].approval.channel", "missing; give the channel ID"},
		}},
		{"ApprovalApproversMustBeGroups", "groups:\n  ap: [U0AP1]\nrules:\n  - actions: [add]\n    who: everyone\n    approval: { approvers: [U0AP2, aprovers], channel: G0PRIV }\n", []wantProblem{
			{6, "rules[0].approval.approvers[0]", "approvers are group names; put U0AP2 in a group"},
			{6, "rules[0].approval.approvers[1]", `group "aprovers" is not defined`},
		}},
		{"ApprovalBadFields", "groups:\n  ap: [S0AP]\nrules:\n  - actions: [add]\n    who: everyone\n    approval:\n      approvers: [ap]\n      channel: '#approvals'\n      expires_after: 2 days\n      require_reason: sure\n      quorum: 2\n", []wantProblem{
			{8, "rules[0].approval.channel", `"#approvals" is not a Slack channel ID`},
			{9, "rules[0].approval.expires_after", `"2 days" is not a duration`},
			{10, "rules[0].approval.require_reason", `must be true or false, got "sure"`},
			{11, "rules[0].approval.quorum", "unknown key"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			requireProblems(t, tt.src, tt.want...)
		})
	}
}

func TestParse_ReportsEveryProblemAtOnceInLineOrder(t *testing.T) {
	t.Parallel()
	src := `rules:
  - name: first
    actions: [list, destroy]
    who: [ghosts]
  - name: second
    actions: [update]
    roles: [WORKSPACE_GOD]
    who: everyone
    approval: { approvers: [approvers], count: 0, channel: C0AP }
groups:
  approvers: [S0AP]
`
	ve := requireProblems(t, src,
		wantProblem{3, "rules[0].actions[1]", `unknown action "destroy"`},
		wantProblem{4, "rules[0].who[0]", `group "ghosts" is not defined`},
		wantProblem{7, "rules[1].roles[0]", `unknown role "WORKSPACE_GOD"`},
		wantProblem{9, "rules[1].approval.count", "must be at least 1"},
	)
	lines := strings.Split(ve.Error(), "\n")
	require.Len(t, lines, 4)
	assert.Equal(t, "policy.yaml:9: rules[1].approval.count: must be at least 1", lines[3])

	var pr Problem
	require.ErrorAs(t, ve, &pr, "each problem is reachable with errors.As")
	assert.Equal(t, 3, pr.Line)
}

func TestParse_AliasesAreFollowed(t *testing.T) {
	t.Parallel()
	p, err := Parse([]byte(`
groups:
  admins: &admins [U0ADMIN]
rules:
  - actions: [add]
    who: *admins
`), "alias.yaml")
	require.NoError(t, err)
	assert.True(t, p.Decide(Input{UserID: "U0ADMIN", Action: ActionAdd, WorkspaceID: "ws", Role: "WORKSPACE_MEMBER"}).Allowed)
}

func TestLoad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()

	_, err := Load(filepath.Join(dir, "missing.yaml"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "missing.yaml")
	var ve *ValidationError
	assert.False(t, errors.As(err, &ve), "an unreadable file is not a validation problem")

	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("rules:\n  - actions: [list]\n"), 0o600))
	_, err = Load(bad)
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, bad+":2: rules[0].who: missing; write who: everyone, or a list of group names and Slack IDs", err.Error())
}

// The README's Policy section shows the example "also in" testdata/example.yaml: it must be the
// same policy, rule for rule.
func TestParse_ReadmeExampleIsTheTestdataExample(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(readme), "\n## Policy\n")
	require.True(t, ok, "README has a Policy section")
	_, block, ok := strings.Cut(section, "```yaml\n")
	require.True(t, ok, "the Policy section has a yaml example")
	block, _, ok = strings.Cut(block, "```")
	require.True(t, ok)
	fromReadme, err := Parse([]byte(block), "README.md")
	require.NoError(t, err)
	want := loadExample(t)
	require.Len(t, fromReadme.rules, len(want.rules))
	for i := range want.rules {
		got, w := fromReadme.rules[i], want.rules[i]
		got.ref.Line, w.ref.Line = 0, 0
		assert.Equal(t, w, got, "rule %d", i+1)
	}
	assert.Equal(t, want.groups, fromReadme.groups)
	assert.Equal(t, want.channels, fromReadme.channels)
}
