package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/commands"
	"github.com/orgtoken/orgtoken-bot/policy"
)

func TestSandboxRunsAScript(t *testing.T) {
	t.Parallel()
	script := strings.Join([]string{
		"# comments and blank lines are skipped",
		"",
		"list",
		"/orgtoken add -n dbt-cloud-sync --role operator",
		"show dbt-cloud-sync",
		"frobnicate",
	}, "\n")
	var out bytes.Buffer
	require.NoError(t, runSandbox(t.Context(), strings.NewReader(script), &out, sandboxOptions{UserID: "UTESTER1"}))
	got := out.String()
	assert.Contains(t, got, "LOCAL SANDBOX: no Slack, no Astro, fake data.")
	assert.Contains(t, got, "SLACK_APP_TOKEN")
	assert.Contains(t, got, "ASTRO_API_TOKEN")
	assert.Contains(t, got, "WORKSPACE_OWNER needs two approvals", "the banner explains the sample policy")
	assert.Contains(t, got, "> list\n[i] Organization API tokens in workspace Data Platform (clwsdataplatform000000001)\nID                         NAME                 DESCRIPTION")
	assert.Contains(t, got, "cltkairflowcideployer0001  airflow-ci-deployer  GitHub Actions deploys")
	assert.Contains(t, got, "[ok] Token added to workspace\n@UTESTER1 added dbt-cloud-sync")
	assert.Contains(t, got, "WORKSPACE     Analytics (clwsanalytics000000000002)     WORKSPACE_MEMBER")
	assert.Contains(t, got, `[error] Unknown subcommand "frobnicate".`)
	assert.NotContains(t, got, "# comments")
}

func TestSandboxAppliesAGivenAuthorizer(t *testing.T) {
	t.Parallel()
	deny := commands.AuthorizerFunc(func(context.Context, policy.Input) (policy.Decision, error) {
		return policy.Decision{Reason: "sandbox policy says no"}, nil
	})
	var out bytes.Buffer
	require.NoError(t, runSandbox(t.Context(), strings.NewReader("update cltkairflowcideployer0001 -r owner\n"), &out, sandboxOptions{Authorizer: deny}))
	assert.NotContains(t, out.String(), "A sample policy applies")
	assert.Contains(t, out.String(), "The configured policy decides what you may do.")
	assert.Contains(t, out.String(), "You are not allowed to do this.\nWhy: sandbox policy says no")
}

func TestSandboxApprovalWalkThrough(t *testing.T) {
	t.Parallel()
	script := strings.Join([]string{
		"update cltkairflowcideployer0001 --role owner",
		`update cltkairflowcideployer0001 --role owner --reason "demo"`,
		"press 1",
		"as U0ALICE",
		"press 1",
		"as nobody",
		"as U0BOB",
		"press 3",
		"press 99",
	}, "\n")
	var out bytes.Buffer
	require.NoError(t, runSandbox(t.Context(), strings.NewReader(script), &out, sandboxOptions{}))
	got := out.String()
	steps := []string{
		"This change needs a reason",
		"[i] Approval requested: r",
		"--- message 1 posted in #C0APPROVALS ---\n[!] Approval needed (0 of 2): airflow-ci-deployer to WORKSPACE_OWNER",
		"buttons: [1 Approve] [2 Deny]",
		"> press 1 (clicked as USANDBOX)\n[error] You cannot approve or deny your own request",
		"[i] You are now U0ALICE.",
		"> press 1 (clicked as U0ALICE)\n[ok] Your approval of r",
		"--- message 1 in #C0APPROVALS now reads ---\n[!] Approval needed (1 of 2)",
		"buttons: [3 Approve] [4 Deny]",
		`[error] "nobody" is not a Slack user ID`,
		"> press 3 (clicked as U0BOB)\n[ok] You gave the last approval of r",
		"--- message 1 in #C0APPROVALS now reads ---\n[ok] Approved and applied",
		"Result: applied",
		"--- reply in the thread of message 1 in #C0APPROVALS ---\n@USANDBOX your request r",
		`[error] There is no button "99"`,
	}
	rest := got
	for _, s := range steps {
		i := strings.Index(rest, s)
		require.GreaterOrEqual(t, i, 0, "missing, or out of order: %q\n%s", s, got)
		rest = rest[i+len(s):]
	}
}

func TestSandboxTimeBoxAndRevertNow(t *testing.T) {
	t.Parallel()
	script := strings.Join([]string{
		"update cltkairflowcideployer0001 --role operator --for 2h",
		"press 1", // Revert now
		"show airflow-ci-deployer",
	}, "\n")
	var out bytes.Buffer
	require.NoError(t, runSandbox(t.Context(), strings.NewReader(script), &out, sandboxOptions{UserID: "UTESTER1"}))
	got := out.String()
	assert.Contains(t, got, "Time-boxed: in 2h (")
	assert.NotContains(t, got, "Time-boxed changes are not enabled")
	assert.Contains(t, got, "Time-boxed change reverted")
	assert.Contains(t, got, "WORKSPACE     Data Platform (clwsdataplatform00000000…  WORKSPACE_AUTHOR", "back to its role before")
}
