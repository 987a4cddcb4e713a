package policy

import "testing"

func BenchmarkDecide(b *testing.B) {
	p := loadExample(b)
	cases := []struct {
		name string
		in   Input
	}{
		{"AllowFirstRule", Input{UserID: "U0NOBODY", ChannelID: "C0OPS", Action: ActionList, WorkspaceID: "clws-ops"}},
		{"AllowWithApproval", Input{UserID: "U0MEMBER", UserGroups: []string{"S0A", "S0B", "S0PLATFORM"}, ChannelID: "C0PROD", Action: ActionUpdate, WorkspaceID: "clws-prod", Role: "WORKSPACE_OWNER", CurrentRole: "WORKSPACE_MEMBER"}},
		{"DenyAfterAllRules", Input{UserID: "U0NOBODY", UserGroups: []string{"S0A", "S0B"}, ChannelID: "C0PROD", Action: ActionUpdate, WorkspaceID: "clws-prod", Role: "WORKSPACE_OWNER", CurrentRole: "WORKSPACE_MEMBER"}},
		{"DenyChannel", Input{UserID: "U0ADMIN1", ChannelID: "C0RANDOM", Action: ActionRemove, WorkspaceID: "clws-prod"}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = p.Decide(c.in)
			}
		})
	}
}
