package commands_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/astro"
	"github.com/orgtoken/orgtoken-bot/commands"
	"github.com/orgtoken/orgtoken-bot/emulators/astroemu"
	"github.com/orgtoken/orgtoken-bot/reply"
)

const (
	bobsCurly    = "cltkbobsdeployercurly0001" // named with ’, as Slack clients and macOS type it
	bobsStraight = "cltkbobsdeployerstrgt0002" // named with '
)

func orgMember(e *env) astroemu.Role {
	return astroemu.Role{EntityType: astroemu.EntityOrganization, EntityID: e.emu.OrganizationID(), Role: astroemu.RoleOrganizationMember}
}

// TestNamesWithTypographicQuotes: the parser straightens every quote people type (Slack curls
// them), so a name is found whichever quotes it and the typed text hold; what is shown keeps the
// token's own quotes.
func TestNamesWithTypographicQuotes(t *testing.T) {
	t.Parallel()
	withCurly := func(t *testing.T) *env {
		e := newEnv(t)
		e.emu.AddToken(astroemu.Token{ID: bobsCurly, Name: "Bob’s deployer", Roles: []astroemu.Role{orgMember(e)}})
		return e
	}

	for name, typed := range map[string]string{"TypedCurly": `show "Bob’s deployer"`, "TypedStraight": `show "Bob's deployer"`, "TypedInCurlyQuotes": "show “Bob’s deployer”"} {
		t.Run("Show"+name, func(t *testing.T) {
			t.Parallel()
			r := withCurly(t).run(t, typed)
			assert.Equal(t, "Token Bob’s deployer", r.Title, text(r))
			assert.Contains(t, text(r), bobsCurly)
		})
	}
	t.Run("ChangeByName", func(t *testing.T) {
		t.Parallel()
		e := withCurly(t)
		r := e.run(t, `add -n "Bob’s deployer" -r member`)
		assert.Equal(t, reply.Success, r.Tone, text(r))
		assert.Contains(t, text(r), "Bob’s deployer")
		assert.Equal(t, []astroemu.Role{orgMember(e), wsRole(wsData, astro.RoleWorkspaceMember)}, e.roles(t, bobsCurly))
	})
	t.Run("SuggestionCanBeTypedBack", func(t *testing.T) {
		t.Parallel()
		e := withCurly(t)
		r := e.run(t, `show "Bob’s deploy"`)
		require.Equal(t, `No Organization token is named "Bob's deploy".`, r.Title)
		assert.Contains(t, text(r), "Did you mean:")
		assert.Contains(t, text(r), "Bob’s deployer")
		r = e.run(t, `show "Bob’s deployer"`)
		assert.Equal(t, "Token Bob’s deployer", r.Title, text(r))
	})
	t.Run("NamesDifferingOnlyInQuotesAreAmbiguous", func(t *testing.T) {
		t.Parallel()
		e := withCurly(t)
		e.emu.AddToken(astroemu.Token{ID: bobsStraight, Name: "Bob's deployer", Roles: []astroemu.Role{orgMember(e)}})
		for _, typed := range []string{`show "Bob's deployer"`, `show "Bob’s deployer"`, `remove -n "Bob’s deployer"`} {
			r := e.run(t, typed)
			assert.Equal(t, `2 Organization tokens are named "Bob's deployer", counting curly and straight quotes as the same.`, r.Title, typed)
			assert.Contains(t, text(r), "Bob’s deployer")
			assert.Contains(t, text(r), bobsCurly)
			assert.Contains(t, text(r), bobsStraight)
			assert.Contains(t, text(r), "Give the ID of the one you mean")
		}
		assert.Zero(t, e.emu.CountRequests(astroemu.EndpointUpdateRoles))
	})
	t.Run("ListFilterByName", func(t *testing.T) {
		t.Parallel()
		e := withCurly(t)
		require.NoError(t, e.emu.SetRoles(bobsCurly, []astroemu.Role{orgMember(e), wsRole(wsData, astro.RoleWorkspaceMember)}))
		for _, typed := range []string{`list --name "bob's"`, `list --name "Bob’s dep"`} {
			r := e.run(t, typed)
			assert.Contains(t, text(r), bobsCurly, typed)
		}
	})
	t.Run("SameNameTwiceIsAmbiguousAsBefore", func(t *testing.T) {
		t.Parallel()
		e := withCurly(t)
		e.emu.AddToken(astroemu.Token{ID: bobsStraight, Name: "Bob’s deployer", Roles: []astroemu.Role{orgMember(e)}})
		r := e.run(t, `show "Bob’s deployer"`)
		assert.Equal(t, `2 Organization tokens are named "Bob's deployer".`, r.Title)
	})
}

func TestWorkspaceNamesWithTypographicQuotes(t *testing.T) {
	t.Parallel()
	const bobsWS = "clwsbobssandbox0000000001"
	for name, typed := range map[string]string{"TypedCurly": `list -w "Bob’s sandbox"`, "TypedStraight": `list --workspace "bob's sandbox"`} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newOncallEnv(t)
			e.emu.AddWorkspace(astroemu.Workspace{ID: bobsWS, Name: "Bob’s sandbox"})
			r := e.runAs(t, alice, otherChan, typed)
			assert.Equal(t, "Organization API tokens in workspace Bob’s sandbox ("+bobsWS+")", r.Title, text(r))
		})
	}
	t.Run("DifferingOnlyInQuotesIsAmbiguous", func(t *testing.T) {
		t.Parallel()
		e := newOncallEnv(t)
		e.emu.AddWorkspace(astroemu.Workspace{ID: bobsWS, Name: "Bob’s sandbox"})
		e.emu.AddWorkspace(astroemu.Workspace{ID: "clwsbobssandbox0000000002", Name: "Bob's sandbox"})
		r := e.runAs(t, alice, otherChan, `list -w "Bob's sandbox"`)
		assert.Equal(t, `2 workspaces are named "Bob's sandbox".`, r.Title)
		assert.Contains(t, text(r), bobsWS)
		assert.Contains(t, text(r), "clwsbobssandbox0000000002")
		assert.Contains(t, text(r), "Bob’s sandbox")
	})
}

// A high-risk change is confirmed by typing the token's name; Slack and macOS curl the
// apostrophe as it is typed, so the name counts quotes as a command does.
func TestConfirmationCountsQuotesAsTheSame(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.emu.AddToken(astroemu.Token{ID: bobsStraight, Name: "Bob's deployer", Roles: []astroemu.Role{orgMember(e)}})
	e.auth.decision.Confirm = true
	cmd := "add " + bobsStraight + " -r member"
	asked := e.run(t, cmd)
	require.Equal(t, reply.Warning, asked.Tone, text(asked))
	confirm := func(typed string) reply.Reply {
		return e.svc.Run(t.Context(), commands.Request{UserID: alice, ChannelID: opsChan, Text: cmd, ConfirmedName: typed})
	}
	wrong := confirm("Bob deployer")
	assert.Equal(t, reply.Failure, wrong.Tone, text(wrong))
	assert.Empty(t, e.emu.CountRequests(astroemu.EndpointUpdateRoles), "a wrong name writes nothing")
	assert.True(t, commands.ConfirmsName("Bob's deployer", " Bob’s deployer "), "the form's check agrees")
	assert.True(t, commands.ConfirmsName("deploy ", "deploy "), "a name with a space at its end, typed exactly")
	assert.False(t, commands.ConfirmsName("Bob's deployer", "Bob's deployer2"))
	done := confirm("Bob’s deployer")
	assert.Equal(t, reply.Success, done.Tone, text(done))
	assert.Equal(t, []astroemu.Role{orgMember(e), wsRole(wsData, astro.RoleWorkspaceMember)}, e.roles(t, bobsStraight))
}
