package commands_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/astro"
	"github.com/orgtoken/orgtoken-bot/commands"
	"github.com/orgtoken/orgtoken-bot/emulators/astroemu"
	"github.com/orgtoken/orgtoken-bot/policy"
	"github.com/orgtoken/orgtoken-bot/reply"
	"github.com/orgtoken/orgtoken-bot/reply/blockkit"
	"github.com/orgtoken/orgtoken-bot/store"
)

const (
	dora      = "U0DORA001"
	dataChan  = "C0DATA001" // bound to the Analytics workspace
	otherChan = "C0OTHER01"
)

// fakeClock is a clock tests move forward by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// announcer records what the revert worker posts.
type announcer struct {
	mu    sync.Mutex
	posts []posted
}

type posted struct {
	channel string
	r       reply.Reply
}

func (a *announcer) Post(_ context.Context, channelID string, r reply.Reply) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.posts = append(a.posts, posted{channelID, r})
	return "1700000000.000100", nil
}

func (a *announcer) all() []posted {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]posted(nil), a.posts...)
}

// oncallEnv is a service with workspace names, channel defaults, a real store and a clock the
// test moves.
type oncallEnv struct {
	emu   *astroemu.Server
	st    *store.Store
	clock *fakeClock
	auth  *fakeAuth
	ann   *announcer
	svc   *commands.Service
	cfg   commands.Config
}

func newOncallEnv(t *testing.T, tweak ...func(*commands.Config)) *oncallEnv {
	t.Helper()
	clock := &fakeClock{t: testNow}
	emu := astroemu.New(astroemu.Options{Now: clock.Now})
	t.Cleanup(emu.Close)
	emu.SeedSample()
	st, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "bot.db"), store.WithClock(clock.Now))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	e := &oncallEnv{emu: emu, st: st, clock: clock, auth: &fakeAuth{decision: policy.Decision{Allowed: true}}, ann: &announcer{}}
	client := astro.New(emu.OrganizationID(), emu.APIToken(), astro.WithBaseURL(emu.URL()), astro.WithRetryPolicy(astro.RetryPolicy{MaxAttempts: 1}))
	e.cfg = commands.Config{
		Tokens: client, Workspaces: client, Authorizer: e.auth, Clock: clock.Now,
		DefaultWorkspace: wsData,
		ChannelDefaults: func(ch string) string {
			if ch == dataChan {
				return wsAna
			}
			return ""
		},
		History: st, Audit: st, Reverts: st, Announcer: e.ann,
		Logger: slog.New(slog.DiscardHandler),
	}
	for _, f := range tweak {
		f(&e.cfg)
	}
	e.svc, err = commands.New(e.cfg)
	require.NoError(t, err)
	return e
}

func (e *oncallEnv) runAs(t *testing.T, user, channel, text string) reply.Reply {
	t.Helper()
	r := e.svc.Run(t.Context(), commands.Request{UserID: user, ChannelID: channel, Text: text})
	checkRenders(t, r)
	return r
}

func (e *oncallEnv) click(t *testing.T, user string, b reply.Button) reply.Reply {
	t.Helper()
	r := e.svc.Act(t.Context(), commands.Action{UserID: user, ChannelID: opsChan, ActionID: b.ActionID, Value: b.Value})
	checkRenders(t, r)
	return r
}

func (e *oncallEnv) roleIn(t *testing.T, tokenID, ws string) string {
	t.Helper()
	for _, r := range e.emu.Tokens() {
		if r.ID != tokenID {
			continue
		}
		for _, role := range r.Roles {
			if role.EntityType == astroemu.EntityWorkspace && role.EntityID == ws {
				return role.Role
			}
		}
		return ""
	}
	t.Fatalf("no token %s", tokenID)
	return ""
}

func button(t *testing.T, r reply.Reply, actionID string) reply.Button {
	t.Helper()
	for _, b := range r.Buttons {
		if b.ActionID == actionID {
			return b
		}
	}
	t.Fatalf("no %s button in %q (buttons %v)", actionID, r.Title, r.Buttons)
	return reply.Button{}
}

func TestWorkspaceByNameOrID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text string
		wantTitle  string
		wantWS     string // the workspace policy is asked about
	}{
		{name: "ByName", text: `list --workspace "Data Platform"`, wantTitle: "Organization API tokens in workspace Data Platform (" + wsData + ")", wantWS: wsData},
		{name: "NameIgnoresCase", text: "list -w 'ml ops'", wantTitle: "Organization API tokens in workspace ML Ops (" + wsML + ")", wantWS: wsML},
		{name: "ByID", text: "list --workspace " + wsSand, wantTitle: "Organization API tokens in workspace Sandbox (" + wsSand + ")", wantWS: wsSand},
		{name: "ChannelDefault", text: "list", wantTitle: "Organization API tokens in workspace Analytics (" + wsAna + ")", wantWS: wsAna},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newOncallEnv(t)
			r := e.runAs(t, alice, dataChan, tt.text)
			assert.Equal(t, tt.wantTitle, r.Title, text(r))
			assert.Equal(t, tt.wantWS, e.auth.last().WorkspaceID)
		})
	}

	t.Run("BotDefaultOutsideBoundChannels", func(t *testing.T) {
		t.Parallel()
		e := newOncallEnv(t)
		r := e.runAs(t, alice, otherChan, "list")
		assert.Equal(t, "Organization API tokens in workspace Data Platform ("+wsData+")", r.Title)
	})
	t.Run("UnknownNameSuggests", func(t *testing.T) {
		t.Parallel()
		e := newOncallEnv(t)
		r := e.runAs(t, alice, otherChan, `list --workspace "Data Platfrom"`)
		assert.Equal(t, `No workspace has the name or ID "Data Platfrom".`, r.Title)
		assert.Contains(t, text(r), "Did you mean:")
		assert.Contains(t, text(r), "Data Platform")
		for _, in := range e.auth.inputs { // only whether the names may be suggested
			assert.Equal(t, policy.Input{UserID: alice, ChannelID: otherChan, Action: policy.ActionList}, in, "nothing is authorized for a workspace that does not exist")
		}
	})
	t.Run("ChangeRepliesNameTheWorkspace", func(t *testing.T) {
		t.Parallel()
		e := newOncallEnv(t)
		r := e.runAs(t, alice, otherChan, `add `+astroemu.SampleTokenTerraform+` -r member --workspace sandbox`)
		assert.Equal(t, reply.Success, r.Tone, text(r))
		assert.Contains(t, text(r), "in workspace Sandbox (`"+wsSand+"`)")
		assert.Equal(t, astro.RoleWorkspaceMember, e.roleIn(t, astroemu.SampleTokenTerraform, wsSand))
	})
	t.Run("NewWorkspaceIsFoundBeforeTheCacheExpires", func(t *testing.T) {
		t.Parallel()
		e := newOncallEnv(t)
		e.runAs(t, alice, otherChan, "list --workspace Analytics")
		e.emu.AddWorkspace(astroemu.Workspace{ID: "clwsfresh0000000000000001", Name: "Fresh"})
		e.clock.Advance(10 * time.Second)
		r := e.runAs(t, alice, otherChan, "list --workspace Fresh")
		assert.Equal(t, "Organization API tokens in workspace Fresh (clwsfresh0000000000000001)", r.Title, text(r))
	})
	t.Run("AmbiguousName", func(t *testing.T) {
		t.Parallel()
		e := newOncallEnv(t)
		e.emu.AddWorkspace(astroemu.Workspace{ID: "clwsanalytics2000000000009", Name: "analytics"})
		r := e.runAs(t, alice, otherChan, "list --workspace Analytics")
		assert.Equal(t, `2 workspaces are named "Analytics".`, r.Title)
		assert.Contains(t, text(r), "clwsanalytics2000000000009")
	})
	t.Run("WorkspaceNamesAreReadOnceAMinute", func(t *testing.T) {
		t.Parallel()
		e := newOncallEnv(t)
		for range 3 {
			e.runAs(t, alice, otherChan, `list --workspace Analytics`)
		}
		assert.Equal(t, 1, e.emu.CountRequests(astroemu.EndpointListWorkspaces))
		e.clock.Advance(2 * time.Minute)
		e.runAs(t, alice, otherChan, `list --workspace Analytics`)
		assert.Equal(t, 2, e.emu.CountRequests(astroemu.EndpointListWorkspaces))
	})
}

func TestListFilters(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text string
		wantNames  []string
		wantNote   string
	}{
		{name: "Role", text: "list -w Analytics --role operator", wantNames: []string{"airflow-ci-deployer"}, wantNote: "Only tokens with role operator."},
		{name: "NameSubstringIgnoringCase", text: "list -w 'Data Platform' --name CI", wantNames: []string{"airflow-ci-deployer", "ci-token"}, wantNote: `Only tokens whose name contains "CI".`},
		{name: "NoMatch", text: "list -w Analytics --name nothing", wantNames: nil, wantNote: "No Organization API tokens match."},
		{name: "AllWorkspacesWithRole", text: "list --all-workspaces --role owner", wantNames: []string{"ml-feature-pipeline"}},
		{name: "AllWorkspacesWithName", text: "list --all-workspaces --name ci-", wantNames: []string{"airflow-ci-deployer", "ci-token", "ci-token"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newOncallEnv(t)
			r := e.runAs(t, alice, otherChan, tt.text)
			var names []string
			if r.Table != nil {
				for _, row := range r.Table.Rows {
					names = append(names, row[1])
				}
			}
			assert.Equal(t, tt.wantNames, names, text(r))
			assert.Contains(t, text(r), tt.wantNote)
		})
	}

	t.Run("AllWorkspacesShowsEveryRoleByName", func(t *testing.T) {
		t.Parallel()
		e := newOncallEnv(t)
		r := e.runAs(t, alice, otherChan, "list --all-workspaces")
		require.NotNil(t, r.Table)
		assert.Equal(t, "Organization API tokens in every workspace", r.Title)
		assert.Equal(t, "WORKSPACE ROLES", r.Table.Columns[3])
		rows := map[string]string{}
		for _, row := range r.Table.Rows {
			rows[row[0]] = row[3]
		}
		assert.Equal(t, "Analytics: operator, Data Platform: author", rows[astroemu.SampleTokenCIDeployer])
		assert.Equal(t, "none", rows[astroemu.SampleTokenTerraform])
		assert.NotContains(t, rows, astroemu.SampleTokenAnalyticsWS, "only Organization tokens")
		assert.Equal(t, "", e.auth.last().WorkspaceID, "policy is asked about no single workspace")
	})
	t.Run("AllWorkspacesAndAWorkspaceConflict", func(t *testing.T) {
		t.Parallel()
		e := newOncallEnv(t)
		r := e.runAs(t, alice, otherChan, "list --all-workspaces -w Analytics")
		assert.Equal(t, "Give either --all-workspaces or a workspace, not both.", r.Title)
	})
}

func TestListPagingKeepsFiltersAndUpdatesInPlace(t *testing.T) {
	t.Parallel()
	e := newOncallEnv(t)
	e.emu.SeedLarge(2000, wsSand)
	r := e.runAs(t, alice, otherChan, "list -w Sandbox --name 'finance'")
	require.NotNil(t, r.Table, text(r))
	total := r.Table.Total
	assert.Greater(t, total, 25)
	next := button(t, r, commands.ActionListNext)
	assert.Equal(t, "-w "+wsSand+" --name finance --page 2", next.Value, "the page state is the list arguments, with the workspace by ID")

	page2 := e.click(t, dora, next)
	require.NotNil(t, page2.Table, text(page2))
	assert.True(t, page2.ReplaceOriginal, "the page replaces the message")
	assert.Equal(t, "Showing 26–50 of "+reply.Count(total), page2.Table.Range())
	for _, row := range page2.Table.Rows {
		assert.Contains(t, strings.ToLower(row[1]), "finance")
	}
	assert.Equal(t, dora, e.auth.last().UserID, "the click is authorized for who clicked")

	e.auth.mu.Lock()
	e.auth.decision = policy.Decision{Reason: "dora may not list"}
	e.auth.mu.Unlock()
	denied := e.click(t, dora, button(t, page2, commands.ActionListPrev))
	assert.Equal(t, "You are not allowed to do this.", denied.Title)
	assert.False(t, denied.ReplaceOriginal, "a refusal does not wipe the page")
}

func TestShareInChannel(t *testing.T) {
	t.Parallel()
	e := newOncallEnv(t)
	r := e.runAs(t, alice, otherChan, "show airflow-ci-deployer")
	assert.Equal(t, reply.Ephemeral, r.Visibility)
	share := button(t, r, commands.ActionShare)
	assert.Equal(t, "show "+astroemu.SampleTokenCIDeployer, share.Value, "the button carries the lookup, not its answer")

	shared := e.click(t, dora, share)
	assert.Equal(t, reply.InChannel, shared.Visibility)
	assert.Equal(t, r.Title, shared.Title)
	assert.Empty(t, shared.Buttons, "a shared snapshot has no buttons")
	assert.Contains(t, text(shared), "Shared by @"+dora)
	assert.Equal(t, policy.Input{UserID: dora, ChannelID: opsChan, Action: policy.ActionShow}, e.auth.last())

	t.Run("OnlyLookups", func(t *testing.T) {
		forged := e.click(t, dora, reply.Button{ActionID: commands.ActionShare, Value: "remove " + astroemu.SampleTokenCIDeployer + " -w " + wsData})
		assert.Equal(t, "Only lookups can be shared.", forged.Title)
		assert.Equal(t, astro.RoleWorkspaceAuthor, e.roleIn(t, astroemu.SampleTokenCIDeployer, wsData))
	})
	t.Run("RefusedForAClickerPolicyDenies", func(t *testing.T) {
		e := newOncallEnv(t)
		share := button(t, e.runAs(t, alice, otherChan, "list -w Analytics"), commands.ActionShare)
		e.auth.mu.Lock()
		e.auth.decision = policy.Decision{Reason: "no"}
		e.auth.mu.Unlock()
		r := e.click(t, dora, share)
		assert.Equal(t, reply.Ephemeral, r.Visibility)
		assert.Equal(t, "You are not allowed to do this.", r.Title)
	})
}

func TestShowHistoryAndPendingReverts(t *testing.T) {
	t.Parallel()
	e := newOncallEnv(t)
	_, err := e.st.AppendAudit(t.Context(), store.AuditEntry{At: testNow.Add(-3 * time.Hour), ActorID: dora, Action: "role.changed",
		TokenID: astroemu.SampleTokenCIDeployer, WorkspaceID: wsAna, Before: astro.RoleWorkspaceAuthor, After: astro.RoleWorkspaceOperator})
	require.NoError(t, err)
	up := e.runAs(t, alice, opsChan, "update -n airflow-ci-deployer -r owner -w 'Data Platform' --for 2h")
	require.Equal(t, reply.Success, up.Tone, text(up))

	r := e.runAs(t, alice, opsChan, "show "+astroemu.SampleTokenCIDeployer)
	out := text(r)
	assert.Contains(t, out, "WORKSPACE     Analytics ("+wsAna+")     WORKSPACE_OPERATOR", "roles name their workspace")
	assert.Contains(t, out, "Recent changes through the bot")
	assert.Contains(t, out, "3 hours ago: @"+dora+" `role.changed` in Analytics (`"+wsAna+"`): `WORKSPACE_AUTHOR` → `WORKSPACE_OPERATOR`")
	assert.Contains(t, out, "Time-boxed changes to be reverted")
	assert.Contains(t, out, " in Data Platform (`"+wsData+"`): back to `WORKSPACE_AUTHOR` in 2h (2025-11-05 14:00 UTC), asked by @"+alice)
	revert := button(t, r, commands.ActionRevertNow)
	assert.Equal(t, "Revert now: Data Platform", revert.Label)
	assert.Regexp(t, `^v[a-z2-7]{12}$`, revert.Value, "the button carries only the revert's ID")
}

func TestTimeBoxedChangeLimits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text string
		decision   policy.Decision
		noReverts  bool
		wantTitle  string
	}{
		{name: "TooShort", text: "update " + astroemu.SampleTokenCIDeployer + " -r owner --for 10m", wantTitle: "--for 10m is too short: the shortest time-boxed change is 30m."},
		{name: "TooLong", text: "update " + astroemu.SampleTokenCIDeployer + " -r owner --for 8d", wantTitle: "--for 8d is too long: the longest time-boxed change is 7d."},
		{name: "OverPolicyCap", text: "update " + astroemu.SampleTokenCIDeployer + " -r owner --for 3h",
			decision: policy.Decision{Allowed: true, MaxElevation: 2 * time.Hour}, wantTitle: "--for 3h is longer than policy allows for this change: at most 2h."},
		{name: "NotEnabled", text: "add " + astroemu.SampleTokenTerraform + " -r owner --for 1h", noReverts: true, wantTitle: "Time-boxed changes are not enabled on this bot."},
		// A rule that caps elevation would otherwise allow an elevation without end.
		{name: "LastingUnderPolicyCap", text: "update " + astroemu.SampleTokenCIDeployer + " -r owner",
			decision: policy.Decision{Allowed: true, MaxElevation: 2 * time.Hour}, wantTitle: "Policy allows this change only time-boxed, for at most 2h."},
		{name: "LastingGrantUnderPolicyCap", text: "add " + astroemu.SampleTokenTerraform + " -r member",
			decision: policy.Decision{Allowed: true, MaxElevation: 2 * time.Hour}, wantTitle: "Policy allows this change only time-boxed, for at most 2h."},
		{name: "LastingUnderPolicyCapNotEnabled", text: "update " + astroemu.SampleTokenCIDeployer + " -r owner", noReverts: true,
			decision: policy.Decision{Allowed: true, MaxElevation: 2 * time.Hour}, wantTitle: "Policy allows this change only time-boxed, for at most 2h."},
		{name: "NotForRemove", text: "remove " + astroemu.SampleTokenCIDeployer + " --for 1h", wantTitle: "Unknown flag --for for remove."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newOncallEnv(t, func(c *commands.Config) {
				if tt.noReverts {
					c.Reverts = nil
				}
			})
			if tt.decision.Allowed {
				e.auth.decision = tt.decision
			}
			r := e.runAs(t, alice, opsChan, tt.text)
			assert.Equal(t, tt.wantTitle, r.Title, text(r))
			assert.Equal(t, 0, e.emu.CountRequests(astroemu.EndpointUpdateRoles), "nothing is written")
			pending, err := e.st.ListPendingReverts(t.Context(), "")
			require.NoError(t, err)
			assert.Empty(t, pending)
		})
	}
}

// A cap on elevation leaves changes that lower a role alone: they need no --for.
func TestLoweringARoleUnderAnElevationCapIsLasting(t *testing.T) {
	t.Parallel()
	e := newOncallEnv(t)
	e.auth.decision = policy.Decision{Allowed: true, MaxElevation: 2 * time.Hour}
	r := e.runAs(t, alice, opsChan, "update "+astroemu.SampleTokenCIDeployer+" -r member -w "+wsData)
	assert.Equal(t, reply.Success, r.Tone, text(r))
	assert.Equal(t, astro.RoleWorkspaceMember, e.roleIn(t, astroemu.SampleTokenCIDeployer, wsData))
	explained := text(e.runAs(t, alice, opsChan, "explain update "+astroemu.SampleTokenCIDeployer+" -r owner -w "+wsData))
	assert.Contains(t, explained, "Only time-boxed: add `--for 2h` or less.")
}

// A lasting change ends every time-box there, so lowering a time-boxed OWNER to OPERATOR for
// good raises the token from the AUTHOR it would go back to: under a cap, that needs --for too.
func TestElevationCapCannotBeSteppedAroundThroughATimeBox(t *testing.T) {
	t.Parallel()
	e := policyEnv(t, `
rules:
  - actions: [list, show]
    who: everyone
  - actions: [add, update, remove]
    who: everyone
    max_elevation: 8h
`)
	require.Equal(t, astro.RoleWorkspaceAuthor, e.ciDeployerRole(t))
	e.changeOK(t, "update"+ciDeployerIn+" -r owner --for 1h")

	r := e.runAs(t, alice, opsChan, "update"+ciDeployerIn+" -r operator")
	assert.Equal(t, "Policy allows this change only time-boxed, for at most 8h.", r.Title, text(r))
	assert.Equal(t, astro.RoleWorkspaceOwner, e.ciDeployerRole(t), "nothing was written")
	e.changeOK(t, "update"+ciDeployerIn+" -r operator --for 2h")

	e.clock.Advance(24 * time.Hour)
	require.NoError(t, e.svc.ProcessDueReverts(t.Context(), "replica-a"))
	assert.Equal(t, astro.RoleWorkspaceAuthor, e.ciDeployerRole(t), "every elevation ended")

	// Lowering below where the time-boxes lead is a lasting change, as before.
	e.changeOK(t, "update"+ciDeployerIn+" -r owner --for 1h")
	e.changeOK(t, "update"+ciDeployerIn+" -r member")
	assert.Equal(t, astro.RoleWorkspaceMember, e.ciDeployerRole(t))
}

// The same through a rule that lets anyone lower a role without a cap: the lasting change is
// also decided as the raise from AUTHOR it really is, and explain says what the change gets.
func TestElevationCapCannotBeSteppedAroundThroughAnUncappedRule(t *testing.T) {
	t.Parallel()
	e := policyEnv(t, `
rules:
  - actions: [list, show]
    who: everyone
  - actions: [update]
    direction: [downgrade]
    who: everyone
  - actions: [add, update, remove]
    who: everyone
    max_elevation: 8h
`)
	e.changeOK(t, "update"+ciDeployerIn+" -r owner --for 1h")
	explained := text(e.runAs(t, alice, opsChan, "explain update"+ciDeployerIn+" -r operator"))
	assert.Contains(t, explained, "Only time-boxed: add `--for 8h` or less.")
	r := e.runAs(t, alice, opsChan, "update"+ciDeployerIn+" -r operator")
	assert.Equal(t, "Policy allows this change only time-boxed, for at most 8h.", r.Title, text(r))
	assert.Equal(t, astro.RoleWorkspaceOwner, e.ciDeployerRole(t), "nothing was written")

	e.clock.Advance(24 * time.Hour)
	require.NoError(t, e.svc.ProcessDueReverts(t.Context(), "replica-a"))
	assert.Equal(t, astro.RoleWorkspaceAuthor, e.ciDeployerRole(t))
}

// A lasting change the policy would refuse as the change it really is (from where the
// time-boxes lead back) is refused, saying why.
func TestLastingChangeIsDecidedFromWhereTheTimeBoxesLead(t *testing.T) {
	t.Parallel()
	e := policyEnv(t, `
rules:
  - actions: [list, show]
    who: everyone
  - actions: [update]
    direction: [downgrade]
    who: everyone
  - actions: [add, update, remove]
    who: [U0ADMIN01]
`)
	r := e.runAs(t, "U0ADMIN01", opsChan, "update"+ciDeployerIn+" -r owner --for 1h")
	require.Equal(t, astro.RoleWorkspaceOwner, e.ciDeployerRole(t), text(r))
	r = e.runAs(t, alice, opsChan, "update"+ciDeployerIn+" -r operator")
	assert.Equal(t, "You are not allowed to do this.", r.Title, text(r))
	assert.Contains(t, text(r), "counts as a change from WORKSPACE_AUTHOR")
	assert.Equal(t, astro.RoleWorkspaceOwner, e.ciDeployerRole(t))
	// Lowering to where the time-box leads anyway, or below, is a downgrade either way.
	e.changeOK(t, "update"+ciDeployerIn+" -r member")
}

func TestTimeBoxedChangeIsRevertedWhenItEnds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text string
		token, ws  string
		during     string
		after      string
		wantTitle  string
	}{
		{name: "UpdatePutsTheOldRoleBack", text: "update -n airflow-ci-deployer -r owner -w 'Data Platform' --for 2h",
			token: astroemu.SampleTokenCIDeployer, ws: wsData, during: astro.RoleWorkspaceOwner, after: astro.RoleWorkspaceAuthor},
		{name: "AddIsRemovedAgain", text: "add " + astroemu.SampleTokenTerraform + " -r operator -w Sandbox --for 1d",
			token: astroemu.SampleTokenTerraform, ws: wsSand, during: astro.RoleWorkspaceOperator, after: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newOncallEnv(t)
			before, _ := e.emu.Token(tt.token)
			r := e.runAs(t, alice, opsChan, tt.text)
			require.Equal(t, reply.Success, r.Tone, text(r))
			assert.Contains(t, text(r), "Time-boxed: in")
			button(t, r, commands.ActionRevertNow)
			assert.Equal(t, tt.during, e.roleIn(t, tt.token, tt.ws))

			require.NoError(t, e.svc.ProcessDueReverts(t.Context(), "replica-a"))
			assert.Equal(t, tt.during, e.roleIn(t, tt.token, tt.ws), "not before its time")
			assert.Empty(t, e.ann.all())

			e.clock.Advance(25 * time.Hour)
			require.NoError(t, e.svc.ProcessDueReverts(t.Context(), "replica-a"))
			assert.Equal(t, tt.after, e.roleIn(t, tt.token, tt.ws))
			after, _ := e.emu.Token(tt.token)
			assert.Equal(t, before.Roles, after.Roles, "every other role is as it was")

			posts := e.ann.all()
			require.Len(t, posts, 1)
			assert.Equal(t, opsChan, posts[0].channel, "posted where it was asked for")
			assert.Equal(t, "Time-boxed change reverted", posts[0].r.Title)
			assert.Equal(t, reply.InChannel, posts[0].r.Visibility)
			checkRenders(t, posts[0].r)

			pending, err := e.st.ListPendingReverts(t.Context(), "")
			require.NoError(t, err)
			assert.Empty(t, pending)
			audit, err := e.st.ListAudit(t.Context(), store.AuditFilter{TokenID: tt.token})
			require.NoError(t, err)
			require.NotEmpty(t, audit)
			assert.Equal(t, "revert.done", audit[len(audit)-1].Action)

			require.NoError(t, e.svc.ProcessDueReverts(t.Context(), "replica-a"))
			assert.Len(t, e.ann.all(), 1, "a revert happens once")
		})
	}
}

func TestRevertReportsInsteadOfClobberingALaterChange(t *testing.T) {
	t.Parallel()
	e := newOncallEnv(t)
	r := e.runAs(t, alice, opsChan, "update -n airflow-ci-deployer -r owner -w 'Data Platform' --for 2h")
	require.Equal(t, reply.Success, r.Tone, text(r))
	tok, _ := e.emu.Token(astroemu.SampleTokenCIDeployer)
	changed := make([]astroemu.Role, 0, len(tok.Roles))
	for _, role := range tok.Roles {
		if role.EntityType == astroemu.EntityWorkspace && role.EntityID == wsData {
			role.Role = astro.RoleWorkspaceOperator
		}
		changed = append(changed, role)
	}
	require.NoError(t, e.emu.SetRoles(astroemu.SampleTokenCIDeployer, changed))
	writes := e.emu.CountRequests(astroemu.EndpointUpdateRoles)

	e.clock.Advance(2 * time.Hour)
	require.NoError(t, e.svc.ProcessDueReverts(t.Context(), "replica-a"))
	assert.Equal(t, astro.RoleWorkspaceOperator, e.roleIn(t, astroemu.SampleTokenCIDeployer, wsData), "the later change stands")
	assert.Equal(t, writes, e.emu.CountRequests(astroemu.EndpointUpdateRoles), "nothing is written")
	posts := e.ann.all()
	require.Len(t, posts, 1)
	assert.Equal(t, "Time-boxed change not reverted: the role was changed since", posts[0].r.Title)
	assert.Contains(t, text(posts[0].r), "now has `WORKSPACE_OPERATOR`, not `WORKSPACE_OWNER`")
	pending, err := e.st.ListPendingReverts(t.Context(), "")
	require.NoError(t, err)
	assert.Empty(t, pending, "the revert is settled, not retried")
}

func TestRevertHappensOnceAcrossReplicas(t *testing.T) {
	t.Parallel()
	e := newOncallEnv(t)
	r := e.runAs(t, alice, opsChan, "update -n airflow-ci-deployer -r owner -w 'Data Platform' --for 2h")
	require.Equal(t, reply.Success, r.Tone, text(r))
	other, err := commands.New(e.cfg) // a second replica on the same store and Astro
	require.NoError(t, err)
	writes := e.emu.CountRequests(astroemu.EndpointUpdateRoles)
	e.clock.Advance(3 * time.Hour)

	var wg sync.WaitGroup
	for i, svc := range []*commands.Service{e.svc, other, e.svc, other} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			assert.NoError(t, svc.ProcessDueReverts(t.Context(), []string{"a", "b"}[i%2]))
		}()
	}
	wg.Wait()
	assert.Equal(t, writes+1, e.emu.CountRequests(astroemu.EndpointUpdateRoles), "one write")
	assert.Len(t, e.ann.all(), 1, "one announcement")
	assert.Equal(t, astro.RoleWorkspaceAuthor, e.roleIn(t, astroemu.SampleTokenCIDeployer, wsData))
}

func TestRevertIsRetriedAfterAstroFails(t *testing.T) {
	t.Parallel()
	e := newOncallEnv(t)
	r := e.runAs(t, alice, opsChan, "update -n airflow-ci-deployer -r owner -w 'Data Platform' --for 2h")
	require.Equal(t, reply.Success, r.Tone, text(r))
	e.clock.Advance(2 * time.Hour)
	e.emu.ScriptFaults(astroemu.EndpointUpdateRoles, astroemu.Fault{Status: http.StatusServiceUnavailable})
	require.NoError(t, e.svc.ProcessDueReverts(t.Context(), "replica-a"))
	assert.Equal(t, astro.RoleWorkspaceOwner, e.roleIn(t, astroemu.SampleTokenCIDeployer, wsData))
	assert.Empty(t, e.ann.all(), "a passing failure is retried, not announced")

	e.clock.Advance(5 * time.Minute) // past the claim's lease
	require.NoError(t, e.svc.ProcessDueReverts(t.Context(), "replica-b"))
	assert.Equal(t, astro.RoleWorkspaceAuthor, e.roleIn(t, astroemu.SampleTokenCIDeployer, wsData))
	require.Len(t, e.ann.all(), 1)
	assert.Equal(t, "Time-boxed change reverted", e.ann.all()[0].r.Title)
}

func TestRevertNow(t *testing.T) {
	t.Parallel()
	t.Run("ButtonEndsItEarly", func(t *testing.T) {
		t.Parallel()
		e := newOncallEnv(t)
		r := e.runAs(t, alice, opsChan, "update -n airflow-ci-deployer -r owner -w 'Data Platform' --for 2h")
		b := button(t, r, commands.ActionRevertNow)

		done := e.click(t, dora, b)
		assert.Equal(t, "Time-boxed change reverted", done.Title, text(done))
		assert.Equal(t, reply.Ephemeral, done.Visibility, "the channel is told by the announcement")
		assert.Equal(t, astro.RoleWorkspaceAuthor, e.roleIn(t, astroemu.SampleTokenCIDeployer, wsData))
		assert.Equal(t, policy.Input{UserID: dora, ChannelID: opsChan, Action: policy.ActionUpdate, WorkspaceID: wsData,
			Role: astro.RoleWorkspaceAuthor, CurrentRole: astro.RoleWorkspaceOwner}, e.auth.last(), "same policy as making the change by hand")
		posts := e.ann.all()
		require.Len(t, posts, 1)
		assert.Contains(t, text(posts[0].r), "@"+dora+" ended it early.")

		again := e.click(t, dora, b)
		assert.Contains(t, again.Title, "There is no pending revert")
		e.clock.Advance(3 * time.Hour)
		require.NoError(t, e.svc.ProcessDueReverts(t.Context(), "replica-a"))
		assert.Len(t, e.ann.all(), 1, "the worker does not revert it a second time")
	})
	t.Run("VerbForAnAdd", func(t *testing.T) {
		t.Parallel()
		e := newOncallEnv(t)
		r := e.runAs(t, alice, opsChan, "add "+astroemu.SampleTokenTerraform+" -r member -w Sandbox --for 1h")
		id := button(t, r, commands.ActionRevertNow).Value
		done := e.runAs(t, alice, opsChan, "revert-now "+id)
		assert.Equal(t, "Time-boxed change reverted", done.Title, text(done))
		assert.Equal(t, "", e.roleIn(t, astroemu.SampleTokenTerraform, wsSand))
		assert.Equal(t, policy.ActionRemove, e.auth.last().Action)
	})
	t.Run("RefusedWithoutPolicy", func(t *testing.T) {
		t.Parallel()
		e := newOncallEnv(t)
		r := e.runAs(t, alice, opsChan, "update -n airflow-ci-deployer -r owner -w 'Data Platform' --for 2h")
		e.auth.mu.Lock()
		e.auth.decision = policy.Decision{Reason: "only admins"}
		e.auth.mu.Unlock()
		denied := e.click(t, dora, button(t, r, commands.ActionRevertNow))
		assert.Equal(t, "You are not allowed to do this.", denied.Title)
		assert.Equal(t, astro.RoleWorkspaceOwner, e.roleIn(t, astroemu.SampleTokenCIDeployer, wsData))
		pending, err := e.st.ListPendingReverts(t.Context(), "")
		require.NoError(t, err)
		assert.Len(t, pending, 1, "the revert still happens on schedule")
	})
	t.Run("UnknownID", func(t *testing.T) {
		t.Parallel()
		e := newOncallEnv(t)
		r := e.runAs(t, alice, opsChan, "revert-now vaaaaaaaaaaaa")
		assert.Equal(t, `There is no pending revert "vaaaaaaaaaaaa".`, r.Title)
	})
	t.Run("FoundHoweverManyOthersArePending", func(t *testing.T) {
		t.Parallel()
		e := newOncallEnv(t)
		r := e.runAs(t, alice, opsChan, "update -n airflow-ci-deployer -r owner -w 'Data Platform' --for 2h")
		b := button(t, r, commands.ActionRevertNow)
		// Other tokens' time-boxes, all due before this one: more than one read of every
		// pending revert returns.
		for i := range 1001 {
			_, err := e.st.ScheduleRevert(t.Context(), store.Revert{TokenID: fmt.Sprintf("tok_other%04d", i), WorkspaceID: wsSand,
				ExpectedRole: astro.RoleWorkspaceOperator, DueAt: testNow.Add(time.Hour)})
			require.NoError(t, err)
		}

		done := e.click(t, dora, b)
		assert.Equal(t, "Time-boxed change reverted", done.Title, text(done))
		assert.Equal(t, astro.RoleWorkspaceAuthor, e.roleIn(t, astroemu.SampleTokenCIDeployer, wsData))
	})
}

var revertIDs = regexp.MustCompile(`\bv[a-z2-7]{12}\b`)

// TestGoldenOncallBlockKit pins the Slack rendering of the lookup and elevation replies.
func TestGoldenOncallBlockKit(t *testing.T) {
	t.Parallel()
	elevate := "update -n airflow-ci-deployer -r owner -w 'Data Platform' --for 2h"
	tests := []struct {
		name string
		get  func(t *testing.T, e *oncallEnv) reply.Reply
	}{
		{name: "list-all-workspaces", get: func(t *testing.T, e *oncallEnv) reply.Reply {
			return e.runAs(t, alice, otherChan, "list --all-workspaces --name ci")
		}},
		{name: "time-boxed-update", get: func(t *testing.T, e *oncallEnv) reply.Reply { return e.runAs(t, alice, opsChan, elevate) }},
		{name: "show-with-history", get: func(t *testing.T, e *oncallEnv) reply.Reply {
			e.runAs(t, alice, opsChan, elevate)
			return e.runAs(t, alice, opsChan, "show airflow-ci-deployer")
		}},
		{name: "shared", get: func(t *testing.T, e *oncallEnv) reply.Reply {
			return e.click(t, dora, button(t, e.runAs(t, alice, opsChan, "list -w Analytics"), commands.ActionShare))
		}},
		{name: "revert-done", get: func(t *testing.T, e *oncallEnv) reply.Reply {
			e.runAs(t, alice, opsChan, elevate)
			e.clock.Advance(2 * time.Hour)
			require.NoError(t, e.svc.ProcessDueReverts(t.Context(), "a"))
			require.Len(t, e.ann.all(), 1)
			return e.ann.all()[0].r
		}},
		{name: "drift", get: func(t *testing.T, e *oncallEnv) reply.Reply {
			e.runAs(t, alice, opsChan, "update -n airflow-ci-deployer -r owner -w 'Data Platform'")
			e.clock.Advance(time.Hour)
			e.setRoleOutside(t, astroemu.SampleTokenCIDeployer, wsData, astro.RoleWorkspaceMember)
			_, err := e.svc.CheckDrift(t.Context(), "C0DRIFT01")
			require.NoError(t, err)
			require.Len(t, e.ann.all(), 1)
			return e.ann.all()[0].r
		}},
		{name: "revert-skipped", get: func(t *testing.T, e *oncallEnv) reply.Reply {
			e.runAs(t, alice, opsChan, elevate)
			e.setRoleOutside(t, astroemu.SampleTokenCIDeployer, wsData, astro.RoleWorkspaceMember)
			e.clock.Advance(2 * time.Hour)
			require.NoError(t, e.svc.ProcessDueReverts(t.Context(), "a"))
			require.Len(t, e.ann.all(), 1)
			return e.ann.all()[0].r
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := tt.get(t, newOncallEnv(t))
			checkRenders(t, r)
			blocks, fallback := blockkit.Render(r)
			got, err := json.MarshalIndent(struct {
				Text   string `json:"text"`
				Blocks any    `json:"blocks"`
			}{fallback, blocks}, "", "  ")
			require.NoError(t, err)
			got = []byte(revertIDs.ReplaceAllString(requestIDs.ReplaceAllString(string(got), "emu-REQUEST"), "vREVERTID"))
			path := filepath.Join("testdata", "blockkit", tt.name+".golden.json")
			if *update {
				require.NoError(t, os.WriteFile(path, append(got, '\n'), 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "run go test ./commands -run TestGoldenOncallBlockKit -update")
			assert.Equal(t, strings.TrimSpace(string(want)), string(got))
		})
	}
}

// setRoleOutside changes a token's role in a workspace the way the Astro UI would.
func (e *oncallEnv) setRoleOutside(t *testing.T, tokenID, ws, role string) {
	t.Helper()
	tok, ok := e.emu.Token(tokenID)
	require.True(t, ok)
	roles := make([]astroemu.Role, 0, len(tok.Roles))
	for _, r := range tok.Roles {
		if r.EntityType == astroemu.EntityWorkspace && r.EntityID == ws {
			r.Role = role
		}
		roles = append(roles, r)
	}
	require.NoError(t, e.emu.SetRoles(tokenID, roles))
}

func TestDriftReportsChangesMadeOutsideTheBot(t *testing.T) {
	t.Parallel()
	e := newOncallEnv(t)
	const driftChan = "C0DRIFT01"
	n, err := e.svc.CheckDrift(t.Context(), driftChan)
	require.NoError(t, err)
	assert.Zero(t, n, "nothing is known before the bot changed anything")

	r := e.runAs(t, alice, opsChan, "update -n airflow-ci-deployer -r owner -w 'Data Platform'")
	require.Equal(t, reply.Success, r.Tone, text(r))
	n, err = e.svc.CheckDrift(t.Context(), driftChan)
	require.NoError(t, err)
	assert.Zero(t, n, "the bot's own change is not drift")

	e.setRoleOutside(t, astroemu.SampleTokenCIDeployer, wsData, astro.RoleWorkspaceMember)
	e.setRoleOutside(t, astroemu.SampleTokenCIDeployer, wsAna, astro.RoleWorkspaceMember) // never touched by the bot
	n, err = e.svc.CheckDrift(t.Context(), driftChan)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	posts := e.ann.all()
	require.Len(t, posts, 1)
	assert.Equal(t, driftChan, posts[0].channel)
	assert.Equal(t, "A token's role was changed outside the bot", posts[0].r.Title)
	assert.Contains(t, text(posts[0].r), "in workspace Data Platform (`"+wsData+"`) now has `WORKSPACE_MEMBER`.")
	assert.Contains(t, text(posts[0].r), "The bot last knew it as `WORKSPACE_OWNER`")

	n, err = e.svc.CheckDrift(t.Context(), driftChan)
	require.NoError(t, err)
	assert.Zero(t, n, "reported once")

	// A replica that starts afresh learns from the audit record that it was reported.
	other, err := commands.New(e.cfg)
	require.NoError(t, err)
	n, err = other.CheckDrift(t.Context(), driftChan)
	require.NoError(t, err)
	assert.Zero(t, n)
	assert.Len(t, e.ann.all(), 1)
}

// TestDriftReadsEntriesAppendedOutOfTimeOrder: an entry's At is taken before the append waits
// for the chain head (and on another replica, by another clock), so a later entry can carry an
// earlier time. The drift check must still learn from it, or the role the bot set is never
// known and a change outside the bot back to the older role goes unreported.
func TestDriftReadsEntriesAppendedOutOfTimeOrder(t *testing.T) {
	t.Parallel()
	e := newOncallEnv(t)
	const driftChan = "C0DRIFT01"
	r := e.runAs(t, alice, opsChan, "update -n airflow-ci-deployer -r owner -w 'Data Platform'")
	require.Equal(t, reply.Success, r.Tone, text(r))
	// Another replica, its clock a minute ahead, records something.
	_, err := e.st.AppendAudit(t.Context(), store.AuditEntry{At: testNow.Add(time.Minute), ActorID: dora, Action: "request.created", TokenID: "tok_other"})
	require.NoError(t, err)
	n, err := e.svc.CheckDrift(t.Context(), driftChan)
	require.NoError(t, err)
	require.Zero(t, n)

	r = e.runAs(t, alice, opsChan, "update -n airflow-ci-deployer -r member -w 'Data Platform'")
	require.Equal(t, reply.Success, r.Tone, text(r))
	n, err = e.svc.CheckDrift(t.Context(), driftChan)
	require.NoError(t, err)
	require.Zero(t, n, "the bot's own change is not drift")

	e.setRoleOutside(t, astroemu.SampleTokenCIDeployer, wsData, astro.RoleWorkspaceOwner)
	n, err = e.svc.CheckDrift(t.Context(), driftChan)
	require.NoError(t, err)
	assert.Equal(t, 1, n, "the change back to owner was made outside the bot")
	require.Len(t, e.ann.all(), 1)
	assert.Contains(t, text(e.ann.all()[0].r), "The bot last knew it as `WORKSPACE_MEMBER`")
}

// TestDriftSeesPastABusyHistory: a token's requests add entries that are not role changes; many
// of them since the bot last set its role must not hide that role from the drift check.
func TestDriftSeesPastABusyHistory(t *testing.T) {
	t.Parallel()
	e := newOncallEnv(t)
	const driftChan = "C0DRIFT01"
	r := e.runAs(t, alice, opsChan, "update -n airflow-ci-deployer -r owner -w 'Data Platform'")
	require.Equal(t, reply.Success, r.Tone, text(r))
	for i := range 60 {
		for _, action := range []string{"request.created", "request.denied"} {
			_, err := e.st.AppendAudit(t.Context(), store.AuditEntry{ActorID: dora, Action: action, TokenID: astroemu.SampleTokenCIDeployer,
				WorkspaceID: wsData, Before: astro.RoleWorkspaceOwner, After: astro.RoleWorkspaceOperator, RequestID: fmt.Sprintf("r%012d", i)})
			require.NoError(t, err)
		}
	}
	e.setRoleOutside(t, astroemu.SampleTokenCIDeployer, wsData, astro.RoleWorkspaceMember)
	n, err := e.svc.CheckDrift(t.Context(), driftChan)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	require.Len(t, e.ann.all(), 1)
	assert.Contains(t, text(e.ann.all()[0].r), "The bot last knew it as `WORKSPACE_OWNER`")
}

// failDriftAudit is an Audit that cannot write role.drift entries (the database was briefly
// unreachable); everything else reaches the store.
type failDriftAudit struct{ *store.Store }

func (a failDriftAudit) AppendAudit(ctx context.Context, e store.AuditEntry) (store.AuditEntry, error) {
	if e.Action == "role.drift" {
		return store.AuditEntry{}, errors.New("database unreachable")
	}
	return a.Store.AppendAudit(ctx, e)
}

// TestDriftReportedButNotRecordedIsTheKnownRole: a drift the check reported but could not write
// to the audit record is still the role it knows, so a later change outside the bot back to the
// role the record last holds is reported, not hidden by that older entry.
func TestDriftReportedButNotRecordedIsTheKnownRole(t *testing.T) {
	t.Parallel()
	e := newOncallEnv(t, func(c *commands.Config) { c.Audit = failDriftAudit{c.History.(*store.Store)} })
	const driftChan = "C0DRIFT01"
	r := e.runAs(t, alice, opsChan, "update -n airflow-ci-deployer -r owner -w 'Data Platform'")
	require.Equal(t, reply.Success, r.Tone, text(r))
	n, err := e.svc.CheckDrift(t.Context(), driftChan)
	require.NoError(t, err)
	require.Zero(t, n)

	e.setRoleOutside(t, astroemu.SampleTokenCIDeployer, wsData, astro.RoleWorkspaceMember)
	n, err = e.svc.CheckDrift(t.Context(), driftChan)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	n, err = e.svc.CheckDrift(t.Context(), driftChan)
	require.NoError(t, err)
	require.Zero(t, n, "reported once")

	e.setRoleOutside(t, astroemu.SampleTokenCIDeployer, wsData, astro.RoleWorkspaceOwner)
	n, err = e.svc.CheckDrift(t.Context(), driftChan)
	require.NoError(t, err)
	assert.Equal(t, 1, n, "the change back to owner was made outside the bot")
	require.Len(t, e.ann.all(), 2)
	assert.Contains(t, text(e.ann.all()[1].r), "The bot last knew it as `WORKSPACE_MEMBER`")
}

func TestPageStateKeepsAwkwardFilters(t *testing.T) {
	t.Parallel()
	e := newOncallEnv(t)
	for _, name := range []string{`it's #1`, `say "hi"`, `back\slash`, "tab\there"} {
		e.emu.AddToken(astroemu.Token{Name: "ops " + name})
		quoted := `'` + strings.ReplaceAll(name, `'`, `'"'"'`) + `'`
		r := e.runAs(t, alice, otherChan, "list --all-workspaces --name "+quoted)
		require.NotNil(t, r.Table, text(r))
		require.Len(t, r.Table.Rows, 1, "the filter finds the token named %q", name)
		shared := e.click(t, dora, button(t, r, commands.ActionShare))
		assert.Equal(t, r.Body, shared.Body, "the share click runs the same filter for %q", name)
		assert.Equal(t, r.Table.Rows, shared.Table.Rows)
	}
}

// TestPageStateKeepsFiltersStartingWithADash: "--name -r" would read as a flag missing its
// value, so Next must carry such a filter after "=".
func TestPageStateKeepsFiltersStartingWithADash(t *testing.T) {
	t.Parallel()
	e := newOncallEnv(t, func(c *commands.Config) { c.PageSize = 1 })
	for _, name := range []string{"etl-hourly-report-1", "etl-hourly-report-2", "old —role a", "old —role b"} {
		e.emu.AddToken(astroemu.Token{Name: name})
	}
	for _, filter := range []string{"-r", "-h", "-hourly", "—role"} {
		r := e.runAs(t, alice, otherChan, "list --all-workspaces --name="+filter)
		require.NotNil(t, r.Table, text(r))
		require.Len(t, r.Table.Rows, 1, "filter %q", filter)
		page2 := e.click(t, dora, button(t, r, commands.ActionListNext))
		require.NotNil(t, page2.Table, "filter %q: %s", filter, text(page2))
		assert.Equal(t, "Showing 2–2 of "+reply.Count(r.Table.Total), page2.Table.Range(), "filter %q", filter)
		assert.Contains(t, page2.Table.Rows[0][1], filter)
	}
}
