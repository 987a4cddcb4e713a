package commands_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/commands"
	"github.com/orgtoken/orgtoken-bot/emulators/astroemu"
)

// adminsOnlyPolicy: only admins may read or change, and only in the ops channel.
const adminsOnlyPolicy = `
groups:
  admins: [U0ADMIN01]
channels:
  C0OPS0001:
rules:
  - actions: [list, show, add, update, remove]
    who: [admins]
`

// A change or explain refused to someone who may not read the token's roles must not name its
// current role: "already has WORKSPACE_OWNER", "nothing to do", explain's "from … to …" and the
// policy's reasons for a refused remove all did, so anyone could read any token's roles.
func TestRefusedChangesDoNotRevealRoles(t *testing.T) {
	e := newApprovalEnv(t)
	e.restartWith(t, adminsOnlyPolicy, nil)
	tok := astroemu.SampleTokenMLFeatures // WORKSPACE_OWNER in ML Ops
	run := func(user, channel, text string) string {
		return plainText(e.svc.Run(t.Context(), commands.Request{UserID: user, ChannelID: channel, Text: text}))
	}
	shown := run(mallory, opsChan, "show "+tok)
	require.Contains(t, shown, "not allowed")
	require.NotContains(t, shown, "WORKSPACE_OWNER")

	for _, tc := range []struct{ name, channel, text, why string }{
		{"ExplainUpdate", opsChan, "explain update " + tok + " --role member -w " + wsML, "its details are not shown"},
		{"ExplainRemove", opsChan, "explain remove " + tok + " -w " + wsML, "its details are not shown"},
		{"AddWhereItHasOne", opsChan, "add " + tok + " --role member -w " + wsML, "its details are not shown"},
		{"UpdateToTheSameRole", opsChan, "update " + tok + " --role owner -w " + wsML, "its details are not shown"},
		{"Remove", opsChan, "remove " + tok + " -w " + wsML, "its details are not shown"},
		{"ChannelNotEnabled", "C0NOTALLOWED", "add " + tok + " --role member -w " + wsML, "not enabled in this channel"},
		{"ExplainInChannelNotEnabled", "C0NOTALLOWED", "explain update " + tok + " --role member -w " + wsML, "not enabled in this channel"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := run(mallory, tc.channel, tc.text)
			assert.NotContains(t, got, "WORKSPACE_OWNER", "the current role was revealed")
			assert.NotContains(t, got, "Nothing to do")
			assert.Contains(t, got, "not")
			assert.Contains(t, got, tc.why)
		})
	}
	assert.Equal(t, "WORKSPACE_OWNER", e.roleIn(t, tok, wsML), "nothing was written")

	// Whoever may read the roles, or make the change, is answered as before.
	assert.Contains(t, run(admin, opsChan, "add "+tok+" --role member -w "+wsML), "WORKSPACE_OWNER")
	assert.Contains(t, run(admin, opsChan, "explain update "+tok+" --role member -w "+wsML), "WORKSPACE_OWNER")
}

// Someone who may make the change but not read roles learns the role the change is about, as
// making it would tell them anyway.
func TestAllowedChangeWithoutShowStillSaysWhatIsThere(t *testing.T) {
	e := newApprovalEnv(t)
	e.restartWith(t, `
rules:
  - actions: [add, update, remove]
    who: everyone
`, nil)
	tok := astroemu.SampleTokenMLFeatures
	r := e.svc.Run(t.Context(), commands.Request{UserID: mallory, ChannelID: opsChan, Text: "update " + tok + " --role owner -w " + wsML})
	assert.Contains(t, plainText(r), "Nothing to do")
	assert.Contains(t, plainText(r), "WORKSPACE_OWNER")
}

// A failed lookup offers names ("Did you mean", the tokens sharing a name) only to those who
// may list tokens: a change is looked up before it is decided, so guesses would list tokens.
func TestRefusedUserLearnsNoTokenNames(t *testing.T) {
	e := newApprovalEnv(t)
	e.restartWith(t, adminsOnlyPolicy, nil)
	for _, tc := range []struct{ name, channel, text string }{
		{"UpdateDidYouMean", opsChan, "update -n ml-feature --role member -w " + wsML},
		{"UpdateDidYouMeanChannelNotEnabled", "C0NOTALLOWED", "update -n ml-feature --role member -w " + wsML},
		{"RemoveAmbiguous", opsChan, "remove -n ci-token -w " + wsML},
		{"ExplainDidYouMean", opsChan, "explain update -n ml-feature --role member -w " + wsML},
		{"ExplainByIDNamesItNot", opsChan, "explain update " + astroemu.SampleTokenMLFeatures + " --role member -w " + wsML},
		{"UnknownWorkspace", opsChan, "update " + astroemu.SampleTokenMLFeatures + " --role member -w 'ML Opz'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := plainText(e.svc.Run(t.Context(), commands.Request{UserID: mallory, ChannelID: tc.channel, Text: tc.text}))
			assert.NotContains(t, got, "ml-feature-pipeline")
			assert.NotContains(t, got, astroemu.SampleTokenCIFirst)
			assert.NotContains(t, got, astroemu.SampleTokenCISecond)
			assert.NotContains(t, got, "ML Ops")
			if tc.name != "ExplainByIDNamesItNot" {
				assert.NotContains(t, got, astroemu.SampleTokenMLFeatures)
			}
		})
	}
	// Whoever may list still gets the suggestions.
	got := plainText(e.svc.Run(t.Context(), commands.Request{UserID: admin, ChannelID: opsChan, Text: "update -n ml-feature --role member -w " + wsML}))
	assert.Contains(t, got, "ml-feature-pipeline")
}

// explain keeps "could not check" (with its reference) apart from a refusal.
func TestExplainSaysWhenThePolicyCouldNotBeChecked(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.auth.err = errors.New("usergroups.users.list: ratelimited")
	got := plainText(e.run(t, "explain update "+astroemu.SampleTokenCIDeployer+" --role member"))
	assert.Contains(t, got, "Could not check")
	assert.Contains(t, got, "ref ")
}

// Hidden suggestions leave no trace: the hint does not tell whether some name was close, or a
// name could be spelled out a letter at a time.
func TestHiddenLookupIsNoSubstringOracle(t *testing.T) {
	e := newApprovalEnv(t)
	e.restartWith(t, adminsOnlyPolicy, nil)
	run := func(name string) string {
		got := plainText(e.svc.Run(t.Context(), commands.Request{UserID: mallory, ChannelID: opsChan,
			Text: "update -n " + name + " --role member -w " + wsML}))
		return strings.ReplaceAll(got, name, "NAME")
	}
	assert.Equal(t, run("qqqqqqqqqqqqq"), run("feature-pipel"), "feature-pipel is part of ml-feature-pipeline")
}

// list resolves its workspace before it is decided (list rules may name workspaces), so its
// lookup errors name workspaces only for those who may list; explain's refusal names the
// workspace as typed.
func TestWorkspaceNamesOnlyForThoseWhoMayList(t *testing.T) {
	t.Parallel()
	e := policyEnv(t, adminsOnlyPolicy)
	for _, text := range []string{
		"update -n airflow-ci-deployer -r member -w 'ML Opz'",
		"list -w 'ML Opz'",
		"list -w 'zzzzzzzzzzzzzzzzzz'",
		"explain update " + astroemu.SampleTokenMLFeatures + " --role member -w " + wsML,
	} {
		got := plainText(e.svc.Run(t.Context(), commands.Request{UserID: mallory, ChannelID: opsChan, Text: text}))
		assert.NotContains(t, got, "ML Ops", text)
		assert.NotContains(t, got, "Data Platform", text)
	}
	got := plainText(e.svc.Run(t.Context(), commands.Request{UserID: admin, ChannelID: opsChan, Text: "list -w 'ML Opz'"}))
	assert.Contains(t, got, "ML Ops", "whoever may list is helped")
}
