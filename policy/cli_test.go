package policy

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const example = "testdata/example.yaml"

func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = RunCLI(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "policy.yaml")
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

func TestRunCLI_Check(t *testing.T) {
	t.Parallel()
	bad := writeFile(t, "groups:\n  admins: [U0A1]\nrules:\n  - actions: [list, nuke]\n    who: [admin]\n")

	tests := []struct {
		name      string
		args      []string
		code      int
		stdoutHas []string
		stderrHas []string
	}{
		{
			name: "OK",
			args: []string{"check", example},
			code: ExitOK,
			stdoutHas: []string{
				"testdata/example.yaml: OK: 6 rules\n",
				"user groups the bot resolves: S0ONCALL, S0PLATFORM, S0SECURITY\n",
				"workspaces referred to: clws-dev, clws-ops, clws-prod\n",
			},
		},
		{
			name: "ErrInvalidFileListsEveryProblem",
			args: []string{"check", bad},
			code: ExitInvalid,
			stderrHas: []string{
				bad + `:4: rules[0].actions[1]: unknown action "nuke"`,
				bad + `:5: rules[0].who[0]: group "admin" is not defined; did you mean admins?`,
				bad + ": 2 problems\n",
			},
		},
		{"ErrMissingFile", []string{"check", filepath.Join(t.TempDir(), "nope.yaml")}, ExitInvalid, nil, []string{"nope.yaml"}},
		{"ErrNoFile", []string{"check"}, ExitUsage, nil, []string{"check needs exactly one FILE, got 0", "usage:"}},
		{"ErrTwoFiles", []string{"check", example, example}, ExitUsage, nil, []string{"check needs exactly one FILE, got 2"}},
		{"ErrUnknownFlag", []string{"check", "--strict", example}, ExitUsage, nil, []string{"flag provided but not defined: -strict"}},
		{"ErrNoCommand", nil, ExitUsage, nil, []string{"usage:"}},
		{"ErrUnknownCommand", []string{"lint", example}, ExitUsage, nil, []string{`unknown policy command "lint"`}},
		{"Help", []string{"help"}, ExitOK, []string{"exit status: 0 valid / allowed, 1 invalid file, 2 usage, 3 denied"}, nil},
		{"HelpFlag", []string{"check", "-h"}, ExitOK, []string{"usage:"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := runCLI(tt.args...)
			assert.Equal(t, tt.code, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
			for _, s := range tt.stdoutHas {
				assert.Contains(t, stdout, s)
			}
			for _, s := range tt.stderrHas {
				assert.Contains(t, stderr, s)
			}
			if tt.code == ExitOK {
				assert.Empty(t, stderr)
			}
		})
	}
}

func TestRunCLI_Explain(t *testing.T) {
	t.Parallel()
	bad := writeFile(t, "rules:\n  - actions: [list]\n")

	tests := []struct {
		name      string
		args      []string
		code      int
		stdoutHas []string
		stderrHas []string
	}{
		{
			name: "AllowedAfterApprovalShowsWhoMayApprove",
			args: []string{"explain", example, "--user", "U0ADMIN1", "--action", "update", "--role", "WORKSPACE_OWNER", "--current-role", "WORKSPACE_MEMBER", "--workspace", "clws-prod", "--channel", "C0PROD"},
			code: ExitOK,
			stdoutHas: []string{
				"request: U0ADMIN1 in channel C0PROD: update in workspace clws-prod, WORKSPACE_MEMBER -> WORKSPACE_OWNER (upgrade)\n",
				"decision: allowed after approval\n",
				"rule: 4 (prod-elevation) at rules[3], line 35\n",
				"approval: 2 approvals from distinct people, never the requester\n",
				"  group approvers: users U0APPROVER; user groups S0SECURITY\n",
				"  channel: C0APPROVE\n",
				"  expires after: 24h\n",
				"  reason required: yes\n",
				"max elevation: 8h\n",
				"confirmation: required",
			},
		},
		{
			name: "FlagsBeforeFileAndChannelDefaultWorkspace",
			args: []string{"explain", "--user", "U0MEMBER", "--groups", "S0OTHER, S0PLATFORM", "--action", "add", "--role", "WORKSPACE_OPERATOR", "--channel", "C0OPS", example},
			code: ExitOK,
			stdoutHas: []string{
				"note: using workspace clws-ops, the default of channel C0OPS\n",
				"request: U0MEMBER (user groups S0OTHER, S0PLATFORM) in channel C0OPS: add in workspace clws-ops, (none) -> WORKSPACE_OPERATOR (grant)\n",
				"rule: 5 (nonprod-elevation) at rules[4], line 50\n",
				"  group platform-admins: users U0ADMIN1, W0ADMIN2; user groups S0PLATFORM\n",
				"  expires after: 4h\n",
				"  reason required: no\n",
			},
		},
		{
			name: "RemoveShowsRevokeAndConfirmation",
			args: []string{"explain", example, "--user", "W0ADMIN2", "--action", "remove", "--current-role", "WORKSPACE_OWNER", "--channel", "C0HELP", "--workspace", "clws-ops"},
			code: ExitOK,
			stdoutHas: []string{
				"request: W0ADMIN2 in channel C0HELP: remove in workspace clws-ops, WORKSPACE_OWNER -> (none) (revoke)\n",
				"decision: allowed\n",
				"rule: 6 (remove) at rules[5], line 57\n",
				"confirmation: required",
			},
		},
		{
			name:      "AllowedWithoutApproval",
			args:      []string{"explain", example, "--user", "U0NOBODY", "--action", "list", "--channel", "C0HELP"},
			code:      ExitOK,
			stdoutHas: []string{"decision: allowed\n", "rule: 1 (read) at rules[0], line 20\n", "reason: allowed by rule 1 (read)\n"},
		},
		{
			name: "DeniedNamesTheRuleThatExcludedTheUser",
			args: []string{"explain", example, "--user", "U0NOBODY", "--action", "update", "--role", "WORKSPACE_OWNER", "--current-role", "WORKSPACE_MEMBER", "--workspace", "clws-prod", "--channel", "C0PROD"},
			code: ExitDenied,
			stdoutHas: []string{
				"decision: denied\n",
				"rule: none matched\n",
				"reason: no rule allows update to WORKSPACE_OWNER in clws-prod for you; rule 4 (prod-elevation) covers it only for platform-admins\n",
			},
		},
		{
			name:      "DeniedWithoutChannelSaysWhy",
			args:      []string{"explain", example, "--user", "U0ADMIN1", "--action", "list"},
			code:      ExitDenied,
			stdoutHas: []string{"note: no --channel given", "reason: /orgtoken is not enabled in this channel; use C0HELP, C0OPS, C0PROD\n"},
		},
		{
			name: "ErrEveryBadFlagReported",
			args: []string{"explain", example, "--user", "alice", "--action", "approve", "--role", "OWNER", "--current-role", "ADMIN", "--channel", "#ops", "--groups", "S0OK,ops"},
			code: ExitUsage,
			stderrHas: []string{
				`--user "alice" is not a Slack user ID`,
				"--action approve is decided per request",
				`--role "OWNER" is not one of WORKSPACE_MEMBER`,
				`--current-role "ADMIN" is not one of`,
				`--channel "#ops" is not a Slack channel ID`,
				`--groups: "ops" is not a Slack user-group ID`,
			},
		},
		{"ErrMissingUserAndAction", []string{"explain", example}, ExitUsage, nil, []string{"--user is required", "--action is required"}},
		{"ErrAddWithoutRoleIsUsageNotDenied", []string{"explain", example, "--user", "U0ADMIN1", "--action", "add", "--channel", "C0OPS"}, ExitUsage, nil, []string{"--action add needs --role"}},
		{"ErrUpdateWithoutRoleIsUsageNotDenied", []string{"explain", example, "--user", "U0ADMIN1", "--action", "update", "--current-role", "WORKSPACE_MEMBER", "--channel", "C0OPS"}, ExitUsage, nil, []string{"--action update needs --role"}},
		{"ErrRemoveWithRole", []string{"explain", example, "--user", "U0ADMIN1", "--action", "remove", "--role", "WORKSPACE_OWNER", "--channel", "C0OPS"}, ExitUsage, nil, []string{"--action remove takes no --role; give the role being removed as --current-role"}},
		{"ErrRemoveWithoutCurrentRole", []string{"explain", example, "--user", "U0ADMIN1", "--action", "remove", "--channel", "C0OPS"}, ExitUsage, nil, []string{"--action remove needs --current-role"}},
		{"ErrUpdateWithoutCurrentRole", []string{"explain", example, "--user", "U0SRE", "--action", "update", "--role", "WORKSPACE_MEMBER", "--channel", "C0OPS"}, ExitUsage, nil, []string{"--action update needs --current-role"}},
		{"ErrAddWithCurrentRole", []string{"explain", example, "--user", "U0ADMIN1", "--action", "add", "--role", "WORKSPACE_OWNER", "--current-role", "WORKSPACE_MEMBER", "--channel", "C0OPS"}, ExitUsage, nil, []string{"--action add is for a token with no role"}},
		{"ErrListWithRole", []string{"explain", example, "--user", "U0ADMIN1", "--action", "list", "--role", "WORKSPACE_OWNER", "--channel", "C0OPS"}, ExitUsage, nil, []string{"--action list takes no --role"}},
		{"ErrUnknownAction", []string{"explain", example, "--user", "U0A1", "--action", "delete"}, ExitUsage, nil, []string{`--action "delete" is not one of list, show, add, update, remove`}},
		{"ErrInvalidFile", []string{"explain", bad, "--user", "U0A1", "--action", "list"}, ExitInvalid, nil, []string{bad + ":2: rules[0].who: missing", bad + ": 1 problem\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := runCLI(tt.args...)
			assert.Equal(t, tt.code, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
			for _, s := range tt.stdoutHas {
				assert.Contains(t, stdout, s)
			}
			for _, s := range tt.stderrHas {
				assert.Contains(t, stderr, s)
			}
			if tt.code == ExitDenied || tt.code == ExitOK {
				assert.True(t, strings.HasPrefix(stdout, "note:") || strings.HasPrefix(stdout, "policy: "+example), stdout)
			}
		})
	}
}
