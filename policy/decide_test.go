package policy

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func loadExample(t testing.TB) *Policy {
	t.Helper()
	p, err := Load("testdata/example.yaml")
	require.NoError(t, err)
	return p
}

type actor struct {
	name   string
	id     string
	groups []string
}

var exampleActors = []actor{
	{"admin by user ID", "U0ADMIN1", nil},
	{"admin by enterprise ID", "W0ADMIN2", nil},
	{"admin by user group", "U0MEMBER", []string{"S0OTHER", "S0PLATFORM"}},
	{"approver", "U0APPROVER", nil},
	{"security by user group", "U0SEC", []string{"S0SECURITY"}},
	{"on-call by user group", "U0ONCALL", []string{"S0ONCALL"}},
	{"SRE by user ID", "U0SRE", nil},
	{"nobody", "U0NOBODY", []string{"S0OTHER"}},
}

// exampleWant is what testdata/example.yaml means, written out by hand as plain conditions,
// independently of the rule engine: the cross-product test compares the two.
type exampleWant struct {
	allowed   bool
	rule      string
	approvals int // 0: no approval needed
	confirm   bool
	maxElev   time.Duration
}

func expectExample(a actor, action Action, role, current, ws, ch string) exampleWant {
	rank := map[string]int{"WORKSPACE_MEMBER": 1, "WORKSPACE_AUTHOR": 2, "WORKSPACE_OPERATOR": 3, "WORKSPACE_OWNER": 4}
	isAdmin := a.id == "U0ADMIN1" || a.id == "W0ADMIN2" || slices.Contains(a.groups, "S0PLATFORM")
	isOncall := a.id == "U0SRE" || slices.Contains(a.groups, "S0ONCALL")

	if ch != "C0OPS" && ch != "C0PROD" && ch != "C0HELP" {
		return exampleWant{}
	}
	switch action {
	case ActionList, ActionShow:
		return exampleWant{allowed: true, rule: "read"}
	case ActionRemove:
		if isAdmin {
			return exampleWant{allowed: true, rule: "remove", confirm: true}
		}
		return exampleWant{}
	case ActionAdd, ActionUpdate:
		r := rank[role]
		if r == 0 {
			return exampleWant{}
		}
		high := r >= 3
		switch {
		case isAdmin && !high:
			return exampleWant{allowed: true, rule: "low-roles"}
		case action == ActionUpdate && isOncall && rank[current] > r:
			return exampleWant{allowed: true, rule: "oncall-downgrade"}
		case isAdmin && ws == "clws-prod" && ch == "C0PROD":
			return exampleWant{allowed: true, rule: "prod-elevation", approvals: 2, confirm: true, maxElev: 8 * time.Hour}
		case isAdmin && (ws == "clws-ops" || ws == "clws-dev"):
			return exampleWant{allowed: true, rule: "nonprod-elevation", approvals: 1}
		}
	}
	return exampleWant{}
}

func TestDecide_ExamplePolicyEveryCombination(t *testing.T) {
	t.Parallel()
	p := loadExample(t)
	actions := []Action{ActionList, ActionShow, ActionAdd, ActionUpdate, ActionRemove, ActionApprove}
	roles := []string{"", "WORKSPACE_MEMBER", "WORKSPACE_AUTHOR", "WORKSPACE_OPERATOR", "WORKSPACE_OWNER", "workspace_owner"}
	currents := []string{"", "WORKSPACE_MEMBER", "WORKSPACE_AUTHOR", "WORKSPACE_OPERATOR", "WORKSPACE_OWNER", "CUSTOM_ROLE"}
	workspaces := []string{"clws-ops", "clws-prod", "clws-dev", "clws-other", ""}
	channels := []string{"C0OPS", "C0PROD", "C0HELP", "C0RANDOM", ""}

	var mismatches []string
	cases, allowed, approvals := 0, 0, 0
	for _, a := range exampleActors {
		for _, action := range actions {
			for _, role := range roles {
				for _, current := range currents {
					for _, ws := range workspaces {
						for _, ch := range channels {
							in := Input{UserID: a.id, UserGroups: a.groups, ChannelID: ch, Action: action, WorkspaceID: ws, Role: role, CurrentRole: current}
							want := expectExample(a, action, role, current, ws, ch)
							got := p.Decide(in)
							cases++
							if got.Allowed {
								allowed++
							}
							if got.NeedsApproval() {
								approvals++
							}
							if msg := compareDecision(got, want, a.id); msg != "" {
								mismatches = append(mismatches, fmt.Sprintf("%s %+v: %s", a.name, in, msg))
							}
						}
					}
				}
			}
		}
	}
	if n := len(mismatches); n > 10 {
		mismatches = append(mismatches[:10], fmt.Sprintf("... %d mismatches in all", n))
	}
	assert.Empty(t, strings.Join(mismatches, "\n"), "of %d cases", cases)
	// Guard against a vacuous table: both outcomes, and approvals, must actually occur.
	assert.Greater(t, allowed, cases/10)
	assert.Less(t, allowed, cases/2)
	assert.Positive(t, approvals)
}

func compareDecision(got Decision, want exampleWant, requester string) string {
	switch {
	case got.Allowed != want.allowed:
		return fmt.Sprintf("allowed=%v, want %v (reason %q)", got.Allowed, want.allowed, got.Reason)
	case got.Reason == "":
		return "empty reason"
	case !want.allowed:
		if got.Rule != (RuleRef{}) || got.Approval != nil {
			return fmt.Sprintf("denied with rule %+v / approval %+v", got.Rule, got.Approval)
		}
		return ""
	case got.Rule.Name != want.rule:
		return fmt.Sprintf("rule %q, want %q", got.Rule.Name, want.rule)
	case got.Confirm != want.confirm || got.MaxElevation != want.maxElev:
		return fmt.Sprintf("confirm=%v maxElevation=%s, want %v %s", got.Confirm, got.MaxElevation, want.confirm, want.maxElev)
	case want.approvals == 0 && got.Approval != nil:
		return fmt.Sprintf("unexpected approval %+v", got.Approval)
	case want.approvals > 0 && (got.Approval == nil || got.Approval.Count != want.approvals || got.Approval.Requester != requester):
		return fmt.Sprintf("approval %+v, want count %d requested by %s", got.Approval, want.approvals, requester)
	}
	return ""
}

func TestDecide(t *testing.T) {
	t.Parallel()
	p := loadExample(t)
	tests := []struct {
		name       string
		in         Input
		allowed    bool
		rule       RuleRef
		approval   *Approval
		reasonHas  []string
		reasonHasN []string // must not appear
	}{
		{
			name:      "EveryoneMayList",
			in:        Input{UserID: "U0NOBODY", ChannelID: "C0HELP", Action: ActionList},
			allowed:   true,
			rule:      RuleRef{Index: 1, Line: 20, Name: "read"},
			reasonHas: []string{"allowed by rule 1 (read)"},
		},
		{
			name:    "AdminUpgradeInProdNeedsTwoApprovals",
			in:      Input{UserID: "U0ADMIN1", ChannelID: "C0PROD", Action: ActionUpdate, WorkspaceID: "clws-prod", Role: "WORKSPACE_OWNER", CurrentRole: "WORKSPACE_MEMBER"},
			allowed: true,
			rule:    RuleRef{Index: 4, Line: 35, Name: "prod-elevation"},
			approval: &Approval{
				Approvers: []string{"approvers"}, Count: 2, Channel: "C0APPROVE",
				ExpiresAfter: 24 * time.Hour, RequireReason: true, Requester: "U0ADMIN1",
			},
			reasonHas: []string{"allowed by rule 4 (prod-elevation) after approval by 2 of approvers"},
		},
		{
			name:    "NonProdElevationDefaultsToOneApproval",
			in:      Input{UserID: "W0ADMIN2", ChannelID: "C0OPS", Action: ActionAdd, WorkspaceID: "clws-dev", Role: "WORKSPACE_OPERATOR"},
			allowed: true,
			rule:    RuleRef{Index: 5, Line: 50, Name: "nonprod-elevation"},
			approval: &Approval{
				Approvers: []string{"approvers", "platform-admins"}, Count: 1, Channel: "C0APPROVE",
				ExpiresAfter: 4 * time.Hour, Requester: "W0ADMIN2",
			},
		},
		{
			name:      "ErrProdElevationOutsideProdChannelPointsToChannel",
			in:        Input{UserID: "U0ADMIN1", ChannelID: "C0OPS", Action: ActionUpdate, WorkspaceID: "clws-prod", Role: "WORKSPACE_OWNER", CurrentRole: "WORKSPACE_MEMBER"},
			reasonHas: []string{"no rule allows update to WORKSPACE_OWNER in clws-prod for you", "rule 4 (prod-elevation) allows it only in C0PROD"},
		},
		{
			name:       "ErrNonAdminNamesRulesThatExcludeThem",
			in:         Input{UserID: "U0NOBODY", ChannelID: "C0PROD", Action: ActionUpdate, WorkspaceID: "clws-prod", Role: "WORKSPACE_OWNER", CurrentRole: "WORKSPACE_MEMBER"},
			reasonHas:  []string{"no rule allows update to WORKSPACE_OWNER in clws-prod for you", "rule 4 (prod-elevation) covers it only for platform-admins"},
			reasonHasN: []string{"only in C0PROD"},
		},
		{
			name:    "OncallMayDowngrade",
			in:      Input{UserID: "U0ONCALL", UserGroups: []string{"S0ONCALL"}, ChannelID: "C0OPS", Action: ActionUpdate, WorkspaceID: "clws-ops", Role: "WORKSPACE_MEMBER", CurrentRole: "WORKSPACE_OWNER"},
			allowed: true,
			rule:    RuleRef{Index: 3, Line: 30, Name: "oncall-downgrade"},
		},
		{
			name:      "ErrOncallMayNotUpgrade",
			in:        Input{UserID: "U0ONCALL", UserGroups: []string{"S0ONCALL"}, ChannelID: "C0OPS", Action: ActionUpdate, WorkspaceID: "clws-ops", Role: "WORKSPACE_AUTHOR", CurrentRole: "WORKSPACE_MEMBER"},
			reasonHas: []string{"no rule allows update to WORKSPACE_AUTHOR in clws-ops for you", "rule 2 (low-roles) covers it only for platform-admins"},
		},
		{
			name:    "RemoveNeedsConfirmation",
			in:      Input{UserID: "U0MEMBER", UserGroups: []string{"S0PLATFORM"}, ChannelID: "C0OPS", Action: ActionRemove, WorkspaceID: "clws-ops", CurrentRole: "WORKSPACE_OWNER"},
			allowed: true,
			rule:    RuleRef{Index: 6, Line: 57, Name: "remove"},
		},
		{
			name:      "ErrRemoveSaysWhatIsRemoved",
			in:        Input{UserID: "U0NOBODY", ChannelID: "C0OPS", Action: ActionRemove, WorkspaceID: "clws-ops", CurrentRole: "WORKSPACE_OWNER"},
			reasonHas: []string{"no rule allows remove WORKSPACE_OWNER from clws-ops for you"},
		},
		{
			name:      "ErrChannelNotEnabled",
			in:        Input{UserID: "U0ADMIN1", ChannelID: "C0RANDOM", Action: ActionList},
			reasonHas: []string{"/orgtoken is not enabled in this channel; use C0HELP, C0OPS, C0PROD"},
		},
		{
			name:      "ErrNoChannelIsNotAnyChannel",
			in:        Input{UserID: "U0ADMIN1", Action: ActionList},
			reasonHas: []string{"not enabled in this channel"},
		},
		{
			name:      "ErrApproveIsNotARuleAction",
			in:        Input{UserID: "U0APPROVER", ChannelID: "C0OPS", Action: ActionApprove},
			reasonHas: []string{"approval is decided per request"},
		},
		{
			name:      "ErrNoUserIsNotEveryone",
			in:        Input{ChannelID: "C0OPS", Action: ActionList},
			reasonHas: []string{"no user given"},
		},
		{
			name:      "ErrUnknownAction",
			in:        Input{UserID: "U0ADMIN1", ChannelID: "C0OPS", Action: "delete"},
			reasonHas: []string{`unknown action "delete"`},
		},
		{
			name:      "ErrUnknownRole",
			in:        Input{UserID: "U0ADMIN1", ChannelID: "C0OPS", Action: ActionAdd, WorkspaceID: "clws-ops", Role: "OWNER"},
			reasonHas: []string{`"OWNER" is not a workspace role (WORKSPACE_MEMBER, WORKSPACE_AUTHOR, WORKSPACE_OPERATOR, WORKSPACE_OWNER)`},
		},
		{
			name:      "ErrMissingRole",
			in:        Input{UserID: "U0ADMIN1", ChannelID: "C0OPS", Action: ActionUpdate, WorkspaceID: "clws-ops"},
			reasonHas: []string{"update needs a role"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := p.Decide(tt.in)
			assert.Equal(t, tt.allowed, d.Allowed, d.Reason)
			assert.Equal(t, tt.rule, d.Rule)
			if tt.approval != nil || !tt.allowed {
				assert.Equal(t, tt.approval, d.Approval)
			}
			for _, s := range tt.reasonHas {
				assert.Contains(t, d.Reason, s)
			}
			for _, s := range tt.reasonHasN {
				assert.NotContains(t, d.Reason, s)
			}
		})
	}
}

// A rule that matches the request but not the requester is skipped, so a later rule can catch
// everyone else; this is what lets a policy say "admins directly, others with approval".
func TestDecide_RuleExcludingRequesterFallsThrough(t *testing.T) {
	t.Parallel()
	p, err := Parse([]byte(`
groups:
  admins: [U0ADMIN]
  reviewers: [U0REV1, U0REV2]
rules:
  - actions: [update]
    who: [admins]
  - name: others-with-approval
    actions: [update]
    who: everyone
    approval: { approvers: [reviewers], channel: C0APPROVE }
`), "layered.yaml")
	require.NoError(t, err)

	admin := p.Decide(Input{UserID: "U0ADMIN", Action: ActionUpdate, WorkspaceID: "ws", Role: "WORKSPACE_OWNER"})
	assert.True(t, admin.Allowed)
	assert.False(t, admin.NeedsApproval())
	assert.Equal(t, RuleRef{Index: 1, Line: 6}, admin.Rule)

	other := p.Decide(Input{UserID: "U0DEV", Action: ActionUpdate, WorkspaceID: "ws", Role: "WORKSPACE_OWNER"})
	assert.True(t, other.NeedsApproval())
	assert.Equal(t, "others-with-approval", other.Rule.Name)
	assert.Equal(t, "allowed by rule 2 (others-with-approval) after approval by 1 of reviewers", other.Reason)
}

func TestDecide_RoleFilterOnRemoveMatchesRemovedRole(t *testing.T) {
	t.Parallel()
	p, err := Parse([]byte(`
rules:
  - actions: [remove]
    roles: [WORKSPACE_MEMBER]
    who: everyone
`), "remove.yaml")
	require.NoError(t, err)

	assert.True(t, p.Decide(Input{UserID: "U0X", Action: ActionRemove, WorkspaceID: "ws", CurrentRole: "WORKSPACE_MEMBER"}).Allowed)
	assert.False(t, p.Decide(Input{UserID: "U0X", Action: ActionRemove, WorkspaceID: "ws", CurrentRole: "WORKSPACE_OWNER"}).Allowed)
	assert.False(t, p.Decide(Input{UserID: "U0X", Action: ActionRemove, WorkspaceID: "ws"}).Allowed, "unknown current role must not match a role filter")
}

func TestDecide_ApprovalIsACopy(t *testing.T) {
	t.Parallel()
	p := loadExample(t)
	in := Input{UserID: "U0ADMIN1", ChannelID: "C0PROD", Action: ActionAdd, WorkspaceID: "clws-prod", Role: "WORKSPACE_OWNER"}
	first := p.Decide(in)
	require.NotNil(t, first.Approval)
	first.Approval.Approvers[0] = "platform-admins"
	first.Approval.Count = 0

	again := p.Decide(in)
	require.NotNil(t, again.Approval)
	assert.Equal(t, []string{"approvers"}, again.Approval.Approvers)
	assert.Equal(t, 2, again.Approval.Count)
}

func TestDirectionOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		current, next string
		want          Direction
	}{
		{"", "", DirectionNone},
		{"", "WORKSPACE_MEMBER", DirectionGrant},
		{"WORKSPACE_OWNER", "", DirectionRevoke},
		{"WORKSPACE_MEMBER", "WORKSPACE_AUTHOR", DirectionUpgrade},
		{"WORKSPACE_AUTHOR", "WORKSPACE_OPERATOR", DirectionUpgrade},
		{"WORKSPACE_MEMBER", "WORKSPACE_OWNER", DirectionUpgrade},
		{"WORKSPACE_OWNER", "WORKSPACE_OPERATOR", DirectionDowngrade},
		{"WORKSPACE_OPERATOR", "WORKSPACE_MEMBER", DirectionDowngrade},
		{"WORKSPACE_AUTHOR", "WORKSPACE_AUTHOR", DirectionSame},
		{"CUSTOM_ROLE", "WORKSPACE_OWNER", DirectionUnknown},
		{"WORKSPACE_OWNER", "owner", DirectionUnknown},
		{"CUSTOM_ROLE", "", DirectionRevoke},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, DirectionOf(tt.current, tt.next), "%q -> %q", tt.current, tt.next)
	}
}

func TestDecide_DirectionFilters(t *testing.T) {
	t.Parallel()
	p, err := Parse([]byte(`
rules:
  - name: self-service
    actions: [add, update, remove]
    direction: [downgrade, revoke, same]
    who: everyone
`), "dir.yaml")
	require.NoError(t, err)
	tests := []struct {
		action        Action
		current, role string
		want          bool
	}{
		{ActionUpdate, "WORKSPACE_OWNER", "WORKSPACE_MEMBER", true},
		{ActionUpdate, "WORKSPACE_AUTHOR", "WORKSPACE_AUTHOR", true},
		{ActionRemove, "WORKSPACE_OWNER", "", true},
		{ActionUpdate, "WORKSPACE_MEMBER", "WORKSPACE_OWNER", false},
		{ActionAdd, "", "WORKSPACE_MEMBER", false},
		{ActionUpdate, "CUSTOM_ROLE", "WORKSPACE_MEMBER", false},
		{ActionRemove, "", "", false},
	}
	for _, tt := range tests {
		d := p.Decide(Input{UserID: "U0X", Action: tt.action, WorkspaceID: "ws", CurrentRole: tt.current, Role: tt.role})
		assert.Equal(t, tt.want, d.Allowed, "%s %q -> %q: %s", tt.action, tt.current, tt.role, d.Reason)
	}
}

func TestCanApprove(t *testing.T) {
	t.Parallel()
	p := loadExample(t)
	prod := p.Decide(Input{UserID: "U0ADMIN1", ChannelID: "C0PROD", Action: ActionAdd, WorkspaceID: "clws-prod", Role: "WORKSPACE_OWNER"}).Approval
	nonprod := p.Decide(Input{UserID: "U0ADMIN1", ChannelID: "C0OPS", Action: ActionAdd, WorkspaceID: "clws-ops", Role: "WORKSPACE_OWNER"}).Approval
	require.NotNil(t, prod)
	require.NotNil(t, nonprod)

	tests := []struct {
		name     string
		approval Approval
		user     string
		groups   []string
		want     bool
	}{
		{"ApproverByUserID", *prod, "U0APPROVER", nil, true},
		{"ApproverByUserGroup", *prod, "U0SEC", []string{"S0OTHER", "S0SECURITY"}, true},
		{"ErrNotInApproverGroups", *prod, "U0NOBODY", []string{"S0OTHER"}, false},
		{"ErrAdminIsNotAProdApprover", *prod, "W0ADMIN2", nil, false},
		{"AdminApprovesNonProdOfAnotherAdmin", *nonprod, "W0ADMIN2", nil, true},
		{"AdminByUserGroupApprovesNonProd", *nonprod, "U0MEMBER", []string{"S0PLATFORM"}, true},
		{"ErrRequesterNeverApprovesOwnRequest", *nonprod, "U0ADMIN1", nil, false},
		{"ErrRequesterExcludedEvenViaGroup", Approval{Approvers: []string{"platform-admins"}, Requester: "U0MEMBER"}, "U0MEMBER", []string{"S0PLATFORM"}, false},
		{"ErrUnknownGroupGivesNobody", Approval{Approvers: []string{"gone"}, Requester: "U0X"}, "U0APPROVER", nil, false},
		{"ErrEmptyUser", *prod, "", []string{"S0SECURITY"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, p.CanApprove(tt.user, tt.groups, tt.approval))
		})
	}
}

func TestPolicyAccessors(t *testing.T) {
	t.Parallel()
	p := loadExample(t)

	assert.Equal(t, "testdata/example.yaml", p.Source())
	assert.Equal(t, []string{"S0ONCALL", "S0PLATFORM", "S0SECURITY"}, p.SlackUserGroups())
	assert.Equal(t, []string{"clws-dev", "clws-ops", "clws-prod"}, p.Workspaces())

	users, groups := p.GroupMembers("platform-admins")
	assert.Equal(t, []string{"U0ADMIN1", "W0ADMIN2"}, users)
	assert.Equal(t, []string{"S0PLATFORM"}, groups)
	users, groups = p.GroupMembers("nope")
	assert.Nil(t, users)
	assert.Nil(t, groups)

	assert.True(t, p.ChannelAllowed("C0HELP"))
	assert.False(t, p.ChannelAllowed("C0RANDOM"))
	assert.False(t, p.ChannelAllowed(""))
	assert.Equal(t, "clws-prod", p.DefaultWorkspace("C0PROD"))
	assert.Empty(t, p.DefaultWorkspace("C0HELP"))
	assert.Empty(t, p.DefaultWorkspace("C0RANDOM"))
}

func TestPolicyWithoutChannelsAllowsEveryChannel(t *testing.T) {
	t.Parallel()
	p, err := Parse([]byte("rules:\n  - actions: [list]\n    who: [U0ONE]\n"), "min.yaml")
	require.NoError(t, err)
	assert.True(t, p.ChannelAllowed("C0ANY"))
	assert.True(t, p.ChannelAllowed(""))
	assert.Empty(t, p.DefaultWorkspace("C0ANY"))
	assert.True(t, p.Decide(Input{UserID: "U0ONE", ChannelID: "D0DM", Action: ActionList}).Allowed)
	assert.False(t, p.Decide(Input{UserID: "U0TWO", ChannelID: "D0DM", Action: ActionList}).Allowed)
}
