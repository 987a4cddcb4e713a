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
	assert.Contains(t, got, "Every action is ALLOWED here")
	assert.Contains(t, got, "> list\n[i] Organization API tokens in workspace clwsdataplatform000000001\nID                         NAME                 DESCRIPTION")
	assert.Contains(t, got, "cltkairflowcideployer0001  airflow-ci-deployer  GitHub Actions deploys")
	assert.Contains(t, got, "[ok] Token added to workspace\n@UTESTER1 added dbt-cloud-sync")
	assert.Contains(t, got, "WORKSPACE     clwsdataplatform000000001  WORKSPACE_OPERATOR")
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
	assert.NotContains(t, out.String(), "Every action is ALLOWED here")
	assert.Contains(t, out.String(), "You are not allowed to do this.\nWhy: sandbox policy says no")
}
