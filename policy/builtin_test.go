package policy

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFromAdmins(t *testing.T) {
	t.Parallel()
	p, err := FromAdmins([]string{"U0ADMIN", " S0ADMINS ", "", "W0ENT"}, []string{"C0OPS", " "})
	require.NoError(t, err)
	assert.Equal(t, BuiltinSource, p.Source())
	assert.Equal(t, []string{"S0ADMINS"}, p.SlackUserGroups())
	users, groups := p.GroupMembers(AdminsGroup)
	assert.Equal(t, []string{"U0ADMIN", "W0ENT"}, users)
	assert.Equal(t, []string{"S0ADMINS"}, groups)

	tests := []struct {
		name    string
		in      Input
		allowed bool
		rule    string
	}{
		{"EveryoneMayList", Input{UserID: "U0DEV", ChannelID: "C0OPS", Action: ActionList}, true, "everyone-reads"},
		{"EveryoneMayShow", Input{UserID: "U0DEV", ChannelID: "C0OPS", Action: ActionShow, WorkspaceID: "ws"}, true, "everyone-reads"},
		{"AdminByIDMayUpdateToOwner", Input{UserID: "U0ADMIN", ChannelID: "C0OPS", Action: ActionUpdate, WorkspaceID: "ws", Role: "WORKSPACE_OWNER", CurrentRole: "WORKSPACE_MEMBER"}, true, "admins-change"},
		{"AdminByEnterpriseIDMayAdd", Input{UserID: "W0ENT", ChannelID: "C0OPS", Action: ActionAdd, WorkspaceID: "ws", Role: "WORKSPACE_MEMBER"}, true, "admins-change"},
		{"AdminByUserGroupMayRemove", Input{UserID: "U0DEV", UserGroups: []string{"S0ADMINS"}, ChannelID: "C0OPS", Action: ActionRemove, WorkspaceID: "ws", CurrentRole: "WORKSPACE_OWNER"}, true, "admins-change"},
		{"ErrNonAdminMayNotAdd", Input{UserID: "U0DEV", UserGroups: []string{"S0OTHER"}, ChannelID: "C0OPS", Action: ActionAdd, WorkspaceID: "ws", Role: "WORKSPACE_MEMBER"}, false, ""},
		{"ErrOutsideAllowedChannels", Input{UserID: "U0ADMIN", ChannelID: "C0ELSE", Action: ActionList}, false, ""},
		{"ErrApproveIsNeverARuleAction", Input{UserID: "U0ADMIN", ChannelID: "C0OPS", Action: ActionApprove}, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := p.Decide(tt.in)
			assert.Equal(t, tt.allowed, d.Allowed, d.Reason)
			assert.Equal(t, tt.rule, d.Rule.Name)
			assert.Nil(t, d.Approval, "the built-in policy never asks for approval")
			assert.NotEmpty(t, d.Reason)
		})
	}
}

func TestFromAdmins_NoChannelsMeansEveryChannel(t *testing.T) {
	t.Parallel()
	p, err := FromAdmins([]string{"U0ADMIN"}, nil)
	require.NoError(t, err)
	assert.True(t, p.ChannelAllowed("C0ANYWHERE"))
	assert.True(t, p.Decide(Input{UserID: "U0ADMIN", ChannelID: "D0DM", Action: ActionRemove, WorkspaceID: "ws", CurrentRole: "WORKSPACE_MEMBER"}).Allowed)
}

func TestFromAdmins_Errors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		admins   []string
		channels []string
		want     string
	}{
		{
			name:   "ErrNoAdmins",
			admins: []string{"", " "},
			want:   "built-in policy (ORGTOKEN_ADMINS): ORGTOKEN_ADMINS: no admins given, so nobody could change any token; set ORGTOKEN_ADMINS or ORGTOKEN_POLICY_FILE",
		},
		{
			name:     "ErrEveryBadIDReported",
			admins:   []string{"u0admin", "@alice", "U0OK"},
			channels: []string{"#ops", "c0ops"},
			want: "built-in policy (ORGTOKEN_ADMINS): ORGTOKEN_ADMINS: \"u0admin\" is not a Slack user ID (U…, W…) or user-group ID (S…); did you mean U0ADMIN? Slack IDs are upper-case\n" +
				"built-in policy (ORGTOKEN_ADMINS): ORGTOKEN_ADMINS: \"@alice\" is not a Slack user ID (U…, W…) or user-group ID (S…)\n" +
				"built-in policy (ORGTOKEN_ADMINS): ORGTOKEN_ALLOWED_CHANNELS: \"#ops\" is not a Slack channel ID (C…, G…)\n" +
				"built-in policy (ORGTOKEN_ADMINS): ORGTOKEN_ALLOWED_CHANNELS: \"c0ops\" is not a Slack channel ID (C…, G…); did you mean C0OPS? Slack IDs are upper-case",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := FromAdmins(tt.admins, tt.channels)
			assert.Nil(t, p)
			var ve *ValidationError
			require.ErrorAs(t, err, &ve)
			assert.Equal(t, tt.want, err.Error())
		})
	}
}
