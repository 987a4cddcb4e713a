package commands_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/astro"
	"github.com/orgtoken/orgtoken-bot/commands"
	"github.com/orgtoken/orgtoken-bot/emulators/astroemu"
	"github.com/orgtoken/orgtoken-bot/policy"
	"github.com/orgtoken/orgtoken-bot/reply"
)

// elevateConfirmed makes a time-boxed change under a policy that marks it high-risk, typing the
// token's name, and returns its "Revert now" button.
func elevateConfirmed(t *testing.T, e *oncallEnv) reply.Button {
	t.Helper()
	e.auth.decision = policy.Decision{Allowed: true, Confirm: true}
	r := e.svc.Run(t.Context(), commands.Request{UserID: alice, ChannelID: opsChan, ConfirmedName: "airflow-ci-deployer",
		Text: "update " + astroemu.SampleTokenCIDeployer + " -r owner --for 2h"})
	require.Equal(t, reply.Success, r.Tone, text(r))
	return button(t, r, commands.ActionRevertNow)
}

func confirmOf(t *testing.T, r reply.Reply) commands.Confirmation {
	t.Helper()
	require.Equal(t, "Confirm this high-risk change", r.Title, text(r))
	var c commands.Confirmation
	require.NoError(t, json.Unmarshal([]byte(button(t, r, commands.ActionConfirm).Value), &c))
	return c
}

func TestRevertNowNeedsTheTypedConfirmation(t *testing.T) {
	t.Parallel()
	t.Run("ClickAsksForTheName", func(t *testing.T) {
		t.Parallel()
		e := newOncallEnv(t)
		b := elevateConfirmed(t, e)

		asked := e.click(t, dora, b)
		c := confirmOf(t, asked)
		assert.Equal(t, commands.Confirmation{Text: "revert-now " + b.Value, Name: "airflow-ci-deployer"}, c)
		assert.Contains(t, text(asked), "from `WORKSPACE_OWNER` to `WORKSPACE_AUTHOR`")
		assert.Equal(t, astro.RoleWorkspaceOwner, e.roleIn(t, astroemu.SampleTokenCIDeployer, wsData), "nothing changes on the click")

		// The form's submission runs the command again with the typed name, as bot does.
		done := e.svc.Run(t.Context(), commands.Request{UserID: dora, ChannelID: opsChan, Text: c.Text, ConfirmedName: "airflow-ci-deployer"})
		assert.Equal(t, "Time-boxed change reverted", done.Title, text(done))
		assert.Equal(t, astro.RoleWorkspaceAuthor, e.roleIn(t, astroemu.SampleTokenCIDeployer, wsData))
	})
	t.Run("WrongNameIsRefused", func(t *testing.T) {
		t.Parallel()
		e := newOncallEnv(t)
		b := elevateConfirmed(t, e)

		r := e.svc.Run(t.Context(), commands.Request{UserID: dora, ChannelID: opsChan, Text: "revert-now " + b.Value, ConfirmedName: "airflow-ci"})
		assert.Equal(t, `The name you typed, "airflow-ci", is not the name of token `+astroemu.SampleTokenCIDeployer+".", r.Title, text(r))
		assert.Equal(t, astro.RoleWorkspaceOwner, e.roleIn(t, astroemu.SampleTokenCIDeployer, wsData))
		pending, err := e.st.ListPendingReverts(t.Context(), "")
		require.NoError(t, err)
		assert.Len(t, pending, 1, "the revert still happens on schedule")
	})
	t.Run("TypedVerbAsksToo", func(t *testing.T) {
		t.Parallel()
		e := newOncallEnv(t)
		b := elevateConfirmed(t, e)

		c := confirmOf(t, e.runAs(t, dora, opsChan, "revert-now "+b.Value))
		assert.Equal(t, "revert-now "+b.Value, c.Text)
		assert.Equal(t, astro.RoleWorkspaceOwner, e.roleIn(t, astroemu.SampleTokenCIDeployer, wsData))
	})
}

// TestRevertNowThatNeedsApproval: ending a time-box early is refused when the change it makes
// needs approval (ending a time-boxed downgrade raises the role), typed or clicked, and the
// refusal says what to do instead rather than calling it an elevation or sending the user to an
// approver, who has no way to carry it out.
func TestRevertNowThatNeedsApproval(t *testing.T) {
	t.Parallel()
	e := newOncallEnv(t)
	r := e.runAs(t, alice, opsChan, "update "+astroemu.SampleTokenCIDeployer+" -r member --for 2h")
	require.Equal(t, reply.Success, r.Tone, text(r))
	b := button(t, r, commands.ActionRevertNow)

	e.auth.decision = policy.Decision{Allowed: true, Approval: &policy.Approval{Approvers: []string{"approvers"}, Count: 1, Channel: "C0APPROVE"}}
	for name, got := range map[string]reply.Reply{
		"Click": e.click(t, alice, b),
		"Typed": e.runAs(t, alice, opsChan, "revert-now "+b.Value),
	} {
		assert.Equal(t, "Ending this time-boxed change early needs approval under the policy, which revert-now cannot wait for.", got.Title, name)
		assert.Contains(t, text(got), "update "+astroemu.SampleTokenCIDeployer+" --role WORKSPACE_AUTHOR -w "+wsData, name)
		assert.NotContains(t, text(got), "elevation", name)
		assert.NotContains(t, text(got), "Ask an approver", name)
	}
	assert.Equal(t, astro.RoleWorkspaceMember, e.roleIn(t, astroemu.SampleTokenCIDeployer, wsData), "nothing is written")
	pending, err := e.st.ListPendingReverts(t.Context(), "")
	require.NoError(t, err)
	assert.Len(t, pending, 1, "the revert still happens on schedule")
}
