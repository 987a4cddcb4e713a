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
