package commands_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/astro"
	"github.com/orgtoken/orgtoken-bot/commands"
	"github.com/orgtoken/orgtoken-bot/emulators/astroemu"
	"github.com/orgtoken/orgtoken-bot/logging/logtest"
	"github.com/orgtoken/orgtoken-bot/policy"
	"github.com/orgtoken/orgtoken-bot/reply"
	"github.com/orgtoken/orgtoken-bot/reply/blockkit"
	"github.com/orgtoken/orgtoken-bot/reply/plaintext"
)

const (
	alice   = "U0ALICE01"
	opsChan = "C0OPS0001"
	wsData  = astroemu.SampleWorkspaceDataPlatform
	wsAna   = astroemu.SampleWorkspaceAnalytics
	wsML    = astroemu.SampleWorkspaceMLOps
	wsSand  = astroemu.SampleWorkspaceSandbox
)

var testNow = time.Date(2025, 11, 5, 12, 0, 0, 0, time.UTC)

type env struct {
	emu  *astroemu.Server
	svc  *commands.Service
	auth *fakeAuth
	logs *logtest.Buffer
}

// fakeAuth answers with decision (or err) and records what it was asked.
type fakeAuth struct {
	mu       sync.Mutex
	decision policy.Decision
	err      error
	inputs   []policy.Input
}

func (f *fakeAuth) Decide(_ context.Context, in policy.Input) (policy.Decision, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inputs = append(f.inputs, in)
	return f.decision, f.err
}

func (f *fakeAuth) last() policy.Input {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.inputs[len(f.inputs)-1]
}

func newEnv(t *testing.T) *env {
	t.Helper()
	emu := astroemu.New(astroemu.Options{Now: func() time.Time { return testNow }})
	t.Cleanup(emu.Close)
	emu.SeedSample()
	return newEnvWith(t, emu, astro.New(emu.OrganizationID(), emu.APIToken(), astro.WithBaseURL(emu.URL()),
		astro.WithRetryPolicy(astro.RetryPolicy{MaxAttempts: 1})))
}

func newEnvWith(t *testing.T, emu *astroemu.Server, tokens commands.Tokens, options ...func(*commands.Config)) *env {
	t.Helper()
	e := &env{emu: emu, auth: &fakeAuth{decision: policy.Decision{Allowed: true}}, logs: &logtest.Buffer{}}
	cfg := commands.Config{
		Tokens: tokens, Authorizer: e.auth, Clock: func() time.Time { return testNow },
		DefaultWorkspace: wsData, Logger: slog.New(slog.NewTextHandler(e.logs, nil)),
	}
	for _, o := range options {
		o(&cfg)
	}
	svc, err := commands.New(cfg)
	require.NoError(t, err)
	e.svc = svc
	return e
}

// run runs text as alice and checks that the reply renders within Slack's limits.
func (e *env) run(t *testing.T, text string) reply.Reply {
	t.Helper()
	r := e.svc.Run(t.Context(), commands.Request{UserID: alice, UserName: "alice", ChannelID: opsChan, Text: text})
	checkRenders(t, r)
	return r
}

// checkRenders renders r both ways and asserts the Block Kit limits; every reply a test sees
// goes through it.
func checkRenders(t *testing.T, r reply.Reply) {
	t.Helper()
	blocks, fallback := blockkit.Render(r)
	require.NoError(t, blockkit.CheckLimits(blocks), "reply %q", r.Title)
	assert.NotEmpty(t, fallback)
	assert.NotEmpty(t, plaintext.Render(r))
}

func (e *env) roles(t *testing.T, id string) []astroemu.Role {
	t.Helper()
	tok, ok := e.emu.Token(id)
	require.True(t, ok, "token %s", id)
	return tok.Roles
}

func (e *env) counts() map[astroemu.Endpoint]int {
	return map[astroemu.Endpoint]int{
		astroemu.EndpointListTokens:  e.emu.CountRequests(astroemu.EndpointListTokens),
		astroemu.EndpointGetToken:    e.emu.CountRequests(astroemu.EndpointGetToken),
		astroemu.EndpointUpdateRoles: e.emu.CountRequests(astroemu.EndpointUpdateRoles),
	}
}

func reqs(list, get, post int) map[astroemu.Endpoint]int {
	return map[astroemu.Endpoint]int{
		astroemu.EndpointListTokens: list, astroemu.EndpointGetToken: get, astroemu.EndpointUpdateRoles: post,
	}
}

func text(r reply.Reply) string { return plaintext.Render(r) }

func wsRole(ws, role string) astroemu.Role {
	return astroemu.Role{EntityType: astroemu.EntityWorkspace, EntityID: ws, Role: role}
}

func TestChangesApplied(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		text      string
		token     string
		wantRoles func(before []astroemu.Role) []astroemu.Role
		wantReqs  map[astroemu.Endpoint]int
		wantTitle string
		wantText  []string
		wantInput policy.Input
	}{
		{
			name: "AddByNameCostsOneListAndOnePost", text: "add -n dbt-cloud-sync --role operator",
			token: astroemu.SampleTokenDBTSync,
			wantRoles: func(b []astroemu.Role) []astroemu.Role {
				return append(slices.Clone(b), wsRole(wsData, "WORKSPACE_OPERATOR"))
			},
			wantReqs:  reqs(1, 0, 1),
			wantTitle: "Token added to workspace",
			wantText:  []string{"@" + alice + " added dbt-cloud-sync (`cltkdbtcloudsync000000002`) in workspace `" + wsData + "` as `WORKSPACE_OPERATOR`."},
			wantInput: policy.Input{UserID: alice, ChannelID: opsChan, Action: policy.ActionAdd, WorkspaceID: wsData, Role: "WORKSPACE_OPERATOR"},
		},
		{
			name: "AddByIDCostsOneGetAndOnePost", text: "add cltksandboxexperiments013 -r member -w " + wsSand,
			token: astroemu.SampleTokenSandboxPlayroom,
			wantRoles: func(b []astroemu.Role) []astroemu.Role {
				return append(slices.Clone(b), wsRole(wsSand, "WORKSPACE_MEMBER"))
			},
			wantReqs:  reqs(0, 1, 1),
			wantTitle: "Token added to workspace",
			wantInput: policy.Input{UserID: alice, ChannelID: opsChan, Action: policy.ActionAdd, WorkspaceID: wsSand, Role: "WORKSPACE_MEMBER"},
		},
		{
			name: "UpdateKeepsDeploymentAndOrganizationRoles", text: "update cltkmlfeaturepipeline0005 --role operator -w " + wsML,
			token: astroemu.SampleTokenMLFeatures,
			wantRoles: func(b []astroemu.Role) []astroemu.Role {
				out := slices.Clone(b)
				out[1].Role = "WORKSPACE_OPERATOR"
				return out
			},
			wantReqs:  reqs(0, 1, 1),
			wantTitle: "Token role updated",
			wantText:  []string{"from `WORKSPACE_OWNER` to `WORKSPACE_OPERATOR`"},
			wantInput: policy.Input{UserID: alice, ChannelID: opsChan, Action: policy.ActionUpdate, WorkspaceID: wsML, Role: "WORKSPACE_OPERATOR", CurrentRole: "WORKSPACE_OWNER"},
		},
		{
			name: "RemoveByNameKeepsOtherWorkspace", text: `remove --org-token-name "airflow-ci-deployer" -w ` + wsAna,
			token: astroemu.SampleTokenCIDeployer,
			wantRoles: func(b []astroemu.Role) []astroemu.Role {
				return slices.DeleteFunc(slices.Clone(b), func(r astroemu.Role) bool { return r.EntityID == wsAna })
			},
			wantReqs:  reqs(1, 0, 1),
			wantTitle: "Token removed from workspace",
			wantText:  []string{"(was `WORKSPACE_OPERATOR`) from workspace `" + wsAna + "`"},
			wantInput: policy.Input{UserID: alice, ChannelID: opsChan, Action: policy.ActionRemove, WorkspaceID: wsAna, CurrentRole: "WORKSPACE_OPERATOR"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			before := e.roles(t, tt.token)
			r := e.run(t, tt.text)
			assert.Equal(t, tt.wantTitle, r.Title, text(r))
			assert.Equal(t, reply.InChannel, r.Visibility)
			assert.Equal(t, reply.Success, r.Tone)
			assert.Contains(t, r.Body[0], reply.Mention(alice), "names who made the change")
			for _, want := range tt.wantText {
				assert.Contains(t, text(r), want)
			}
			assert.Equal(t, tt.wantRoles(before), e.roles(t, tt.token))
			assert.Equal(t, tt.wantReqs, e.counts())
			assert.Equal(t, tt.wantInput, e.auth.last())
		})
	}
}

func TestChangesRefusedWriteNothing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		text      string
		setup     func(e *env)
		wantTitle string
		wantText  []string
		wantTone  reply.Tone
		wantAsked bool // whether policy was consulted about the change (what the user may read is asked first)
	}{
		{name: "AddSameRoleIsNothingToDo", text: "add cltkairflowcideployer0001 -r author",
			wantTitle: "Nothing to do", wantTone: reply.Info,
			wantText: []string{"already has `WORKSPACE_AUTHOR` in workspace `" + wsData + "`"}},
		{name: "AddOtherRoleSuggestsUpdate", text: "add cltkairflowcideployer0001 -r owner",
			wantTitle: `"airflow-ci-deployer" already has a role in this workspace.`, wantTone: reply.Failure,
			wantText: []string{"has `WORKSPACE_AUTHOR`", "/orgtoken update cltkairflowcideployer0001 --role owner -w " + wsData}},
		{name: "AddWorkspaceScopedTokenRefused", text: "add cltkanalyticsworkspace010 -r member",
			wantTitle: `"analytics-workspace-token" is a Workspace-scoped token, not an Organization token.`, wantTone: reply.Failure,
			wantText: []string{"Only Organization API tokens"}},
		{name: "UpdateDeploymentScopedTokenRefused", text: "update cltkfeaturestoredeploy012 -r member",
			wantTitle: `"feature-store-deploy" is a Deployment-scoped token, not an Organization token.`, wantTone: reply.Failure},
		{name: "UpdateNotInWorkspaceSuggestsAdd", text: "update -n dbt-cloud-sync -r member",
			wantTitle: `"dbt-cloud-sync" has no role in this workspace.`, wantTone: reply.Failure,
			wantText: []string{"/orgtoken add cltkdbtcloudsync000000002 --role member"}},
		{name: "UpdateSameRoleIsNothingToDo", text: "update cltkairflowcideployer0001 -r WORKSPACE_AUTHOR",
			wantTitle: "Nothing to do", wantTone: reply.Info},
		{name: "RemoveNotInWorkspace", text: "remove cltkterraformautomation03",
			wantTitle: `"terraform-automation" has no role in this workspace.`, wantTone: reply.Failure,
			wantText: []string{"terraform-automation (`cltkterraformautomation03`) has no role in workspace `" + wsData + "`"}},
		{name: "AmbiguousNameListsIDs", text: "update -n ci-token -r owner",
			wantTitle: `2 Organization tokens are named "ci-token".`, wantTone: reply.Failure,
			wantText: []string{"`cltkcitokensandbox0000007`", "`cltkcitokendataplatform08`", "Give the ID"}},
		{name: "UnknownNameOffersCloseMatches", text: "add -n Airflow-CI-Deployer -r member",
			wantTitle: `No Organization token is named "Airflow-CI-Deployer".`, wantTone: reply.Failure,
			wantText: []string{"Did you mean:", "airflow-ci-deployer `cltkairflowcideployer0001`"}},
		{name: "UnknownID", text: "add cltknosuchtoken000000000 -r member",
			wantTitle: `There is no token with ID "cltknosuchtoken000000000".`, wantTone: reply.Failure},
		{name: "Denied", text: "update cltkairflowcideployer0001 -r owner",
			setup: func(e *env) {
				e.auth.decision = policy.Decision{Allowed: false, Reason: "only #platform-admins may grant WORKSPACE_OWNER"}
			},
			wantTitle: "You are not allowed to do this.", wantTone: reply.Failure, wantAsked: true,
			wantText: []string{"Why: only #platform-admins may grant WORKSPACE_OWNER"}},
		{name: "AuthorizerFailureFailsClosed", text: "update cltkairflowcideployer0001 -r owner",
			setup:     func(e *env) { e.auth.err = context.DeadlineExceeded },
			wantTitle: "Could not check whether you may do this, so it was refused.", wantTone: reply.Failure, wantAsked: true,
			wantText: []string{"ref "}},
		{name: "NeedsApprovalWritesNothingYet", text: "update cltkairflowcideployer0001 -r owner",
			setup: func(e *env) {
				e.auth.decision = policy.Decision{Allowed: true, Approval: &policy.Approval{Approvers: []string{"platform-admins", "security"}, Count: 2, Channel: "C0APPROVE"}}
			},
			wantTitle: "Approval needed", wantTone: reply.Warning, wantAsked: true,
			wantText: []string{"needs approval from platform-admins, security (2 approvers) in #C0APPROVE", "being enabled"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			if tt.setup != nil {
				tt.setup(e)
			}
			before := e.emu.Tokens()
			r := e.run(t, tt.text)
			assert.Equal(t, tt.wantTitle, r.Title, text(r))
			assert.Equal(t, tt.wantTone, r.Tone)
			assert.Equal(t, reply.Ephemeral, r.Visibility)
			assert.Contains(t, text(r), "Nothing was changed.")
			for _, want := range tt.wantText {
				assert.Contains(t, text(r), want)
			}
			assert.Equal(t, 0, e.emu.CountRequests(astroemu.EndpointUpdateRoles), "nothing may be written")
			assert.Equal(t, before, e.emu.Tokens())
			e.auth.mu.Lock()
			askedChange := slices.ContainsFunc(e.auth.inputs, func(in policy.Input) bool {
				return in.Action != policy.ActionShow && in.Action != policy.ActionList
			})
			assert.Equal(t, tt.wantAsked, askedChange)
			e.auth.mu.Unlock()
		})
	}
}

func TestAstroFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		text     string
		endpoint astroemu.Endpoint
		fault    astroemu.Fault
		want     []string
	}{
		{name: "ForbiddenOnWrite", text: "add -n dbt-cloud-sync -r member", endpoint: astroemu.EndpointUpdateRoles,
			fault: astroemu.Fault{Status: http.StatusForbidden, Message: "token lacks ORGANIZATION_OWNER"},
			want:  []string{"The bot's Astro API token lacks permission for this.", "Astro said: token lacks ORGANIZATION_OWNER", "Astro request ID: `emu-"}},
		{name: "RateLimitedOnList", text: "list", endpoint: astroemu.EndpointListTokens,
			fault: astroemu.Fault{Status: http.StatusTooManyRequests, RetryAfter: 7 * time.Second},
			want:  []string{"Astro is rate-limiting the bot", "Retry in 7 s."}},
		{name: "ServerErrorOnRead", text: "update cltkairflowcideployer0001 -r owner", endpoint: astroemu.EndpointGetToken,
			fault: astroemu.Fault{Status: http.StatusServiceUnavailable, Message: "maintenance"},
			want:  []string{"Astro is having trouble (HTTP 503).", "Astro said: maintenance", "Astro request ID: `emu-"}},
		{name: "Unauthorized", text: "show ci-token", endpoint: astroemu.EndpointListTokens,
			fault: astroemu.Fault{Status: http.StatusUnauthorized},
			want:  []string{"Astro rejected the bot's API token"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			before := e.emu.Tokens()
			e.emu.ScriptFaults(tt.endpoint, tt.fault)
			r := e.run(t, tt.text)
			assert.Equal(t, reply.Failure, r.Tone)
			assert.Equal(t, reply.Ephemeral, r.Visibility)
			for _, want := range tt.want {
				assert.Contains(t, text(r), want)
			}
			assert.Contains(t, text(r), "Nothing was changed.")
			assert.Equal(t, before, e.emu.Tokens())
		})
	}
}

// A lookup by name in an organization of more than one page, whose tokens change under every
// read, says so instead of "something went wrong on the bot's side".
func TestListThatKeepsChangingIsExplained(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.emu.SeedLarge(1200)
	var faults []astroemu.Fault
	for _, tok := range e.emu.Tokens()[:100] { // generated tokens, the oldest
		if tok.Type == astroemu.TypeOrganization {
			faults = append(faults, astroemu.Fault{Before: func() { e.emu.RemoveToken(tok.ID) }})
		}
	}
	e.emu.ScriptFaults(astroemu.EndpointListTokens, faults...)

	r := e.run(t, "add -n dbt-cloud-sync -r owner")

	assert.Equal(t, "Astro's list kept changing while the bot read it page by page.", r.Title, text(r))
	assert.Equal(t, reply.Failure, r.Tone)
	assert.Contains(t, text(r), "try again in a moment")
	assert.Contains(t, text(r), "Nothing was changed.")
	assert.Equal(t, 0, e.emu.CountRequests(astroemu.EndpointUpdateRoles))
}

func TestOutcomeUnknownIsConfirmedByReading(t *testing.T) {
	t.Parallel()
	t.Run("WriteLanded", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.emu.ScriptFaults(astroemu.EndpointUpdateRoles, astroemu.Fault{ApplyFirst: true, Status: http.StatusBadGateway})
		r := e.run(t, "update cltkairflowcideployer0001 -r owner")
		assert.Equal(t, "Token role updated", r.Title, text(r))
		assert.Equal(t, reply.InChannel, r.Visibility)
		assert.Contains(t, text(r), "reading the token again confirmed the change")
		assert.Equal(t, "WORKSPACE_OWNER", e.roles(t, astroemu.SampleTokenCIDeployer)[1].Role)
		assert.Equal(t, reqs(0, 2, 1), e.counts())
	})
	t.Run("WriteDidNotLand", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.emu.ScriptFaults(astroemu.EndpointUpdateRoles, astroemu.Fault{Status: http.StatusBadGateway})
		r := e.run(t, "update cltkairflowcideployer0001 -r owner")
		assert.Equal(t, "Astro did not answer in time; the change is not in place yet.", r.Title, text(r))
		assert.Equal(t, reply.Ephemeral, r.Visibility)
		assert.Equal(t, reply.Warning, r.Tone)
		assert.Contains(t, text(r), "has `WORKSPACE_AUTHOR` in workspace")
		assert.Contains(t, text(r), "Astro may still carry the request out, so check with `/orgtoken show cltkairflowcideployer0001` in a minute before trying again")
		assert.NotContains(t, text(r), "Nothing was changed.", "a late write may still land")
		assert.Equal(t, "WORKSPACE_AUTHOR", e.roles(t, astroemu.SampleTokenCIDeployer)[1].Role)
	})
	t.Run("ReReadFailsToo", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.emu.ScriptFaults(astroemu.EndpointUpdateRoles, astroemu.Fault{ApplyFirst: true, Status: http.StatusBadGateway})
		e.emu.ScriptFaults(astroemu.EndpointGetToken, astroemu.Fault{}, astroemu.Fault{Status: http.StatusInternalServerError})
		r := e.run(t, "update cltkairflowcideployer0001 -r owner")
		assert.Equal(t, "Could not confirm whether the change was applied.", r.Title, text(r))
		assert.Contains(t, text(r), "may or may not have been applied")
		assert.Contains(t, text(r), "/orgtoken show cltkairflowcideployer0001")
		assert.NotContains(t, text(r), "Nothing was changed.", "it may have changed")
	})
	t.Run("SomeoneElseChangedIt", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.emu.ScriptFaults(astroemu.EndpointUpdateRoles, astroemu.Fault{Reset: true})
		release := e.emu.Hold(astroemu.EndpointUpdateRoles)
		defer release()
		done := make(chan reply.Reply, 1)
		go func() {
			done <- e.svc.Run(context.WithoutCancel(t.Context()), commands.Request{UserID: alice, ChannelID: opsChan, Text: "update cltkairflowcideployer0001 -r owner"})
		}()
		require.NoError(t, e.emu.WaitRequests(t.Context(), astroemu.EndpointUpdateRoles, 1))
		// While the write hangs, someone changes the role in the Astro UI; then the write fails.
		outside := slices.Clone(e.roles(t, astroemu.SampleTokenCIDeployer))
		outside[1].Role = "WORKSPACE_MEMBER"
		require.NoError(t, e.emu.SetRoles(astroemu.SampleTokenCIDeployer, outside))
		release()
		r := <-done
		checkRenders(t, r)
		assert.Equal(t, "The token's role is not what was asked for.", r.Title, text(r))
		assert.Equal(t, reply.InChannel, r.Visibility)
		assert.Contains(t, text(r), "Astro now reports: airflow-ci-deployer (`cltkairflowcideployer0001`) has `WORKSPACE_MEMBER` in workspace")
		assert.Equal(t, outside, e.roles(t, astroemu.SampleTokenCIDeployer))
	})
}

// Two changes by name to the same token at once must not lose either: the second reads the
// token again after the first released the lock.
func TestConcurrentChangesByNameKeepBoth(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	release := e.emu.Hold(astroemu.EndpointUpdateRoles)
	defer release()
	results := make(chan reply.Reply, 2)
	go func() { results <- e.run(t, "add -n dbt-cloud-sync -r member -w "+wsData) }()
	require.NoError(t, e.emu.WaitRequests(t.Context(), astroemu.EndpointUpdateRoles, 1))
	go func() { results <- e.run(t, "add -n dbt-cloud-sync -r author -w "+wsSand) }()
	require.NoError(t, e.emu.WaitRequests(t.Context(), astroemu.EndpointListTokens, 2))
	release()
	for range 2 {
		r := <-results
		assert.Equal(t, "Token added to workspace", r.Title, text(r))
	}
	roles := e.roles(t, astroemu.SampleTokenDBTSync)
	assert.Contains(t, roles, wsRole(wsData, "WORKSPACE_MEMBER"))
	assert.Contains(t, roles, wsRole(wsSand, "WORKSPACE_AUTHOR"))
	assert.Contains(t, roles, wsRole(wsAna, "WORKSPACE_MEMBER"))
	assert.Equal(t, reqs(2, 1, 2), e.counts(), "only the second change re-reads")
}

func TestList(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.run(t, "list -w "+wsAna)
	require.NotNil(t, r.Table, text(r))
	assert.Equal(t, reply.Ephemeral, r.Visibility)
	assert.Equal(t, []string{"ID", "NAME", "DESCRIPTION", "SCOPE", "WORKSPACE ROLE", "CREATED", "CREATED BY"}, r.Table.Columns)
	assert.Equal(t, [][]string{
		{"cltkchannelalerts00000009", "<!channel> alerts & paging", "Pages on-call when <DAG> SLAs & freshness checks fail", "ORGANIZATION", "WORKSPACE_ACCESSOR", "1 year ago", "Marcus Chen"},
		{"cltkairflowcideployer0001", "airflow-ci-deployer", "GitHub Actions deploys for the data platform repos", "ORGANIZATION", "WORKSPACE_OPERATOR", "1 year ago", "Priya Raman"},
		{"cltkdbtcloudsync000000002", "dbt-cloud-sync", "Triggers dbt Cloud jobs after loads finish", "ORGANIZATION", "WORKSPACE_MEMBER", "1 year ago", "Marcus Chen"},
	}, r.Table.Rows)
	require.Len(t, r.Buttons, 1, "one page needs no paging")
	assert.Equal(t, commands.ActionShare, r.Buttons[0].ActionID, "a lookup can be shared")
	assert.Equal(t, 1, e.emu.CountRequests(astroemu.EndpointListTokens))
	assert.Equal(t, policy.Input{UserID: alice, ChannelID: opsChan, Action: policy.ActionList, WorkspaceID: wsAna}, e.auth.last())
}

func TestListCreatedByAnAPIToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.run(t, "list")
	require.NotNil(t, r.Table)
	assert.Equal(t, []string{"cltkcitokendataplatform08", "ci-token", "Data platform CI (owned by the ingestion team)", "ORGANIZATION", "WORKSPACE_AUTHOR", "1 year ago", "terraform-automation"}, r.Table.Rows[1])
}

func TestListEmptyAndUnknownWorkspace(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.run(t, "list -w "+wsML)
	require.NotNil(t, r.Table)
	assert.Len(t, r.Table.Rows, 1)
	e.emu.AddWorkspace(astroemu.Workspace{ID: "clwsemptyworkspace0000001", Name: "Empty"})
	r = e.run(t, "list -w clwsemptyworkspace0000001")
	assert.Nil(t, r.Table)
	assert.Contains(t, text(r), "No Organization API tokens have a role in workspace `clwsemptyworkspace0000001`.")
	r = e.run(t, "list -w clwsnosuchworkspace000001")
	assert.Equal(t, "Astro could not find it.", r.Title)
	assert.Contains(t, text(r), `Astro said: workspace "clwsnosuchworkspace000001" not found`)
}

func TestListPagesThroughALargeWorkspace(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.emu.SeedLarge(2000, wsSand)
	e.emu.ResetRequests()
	r := e.run(t, "list -w "+wsSand)
	require.NotNil(t, r.Table, text(r))
	total := r.Table.Total
	assert.Greater(t, total, astro.MaxPageSize, "more than one page of the API")
	assert.Len(t, r.Table.Rows, 25)
	assert.Equal(t, "Showing 1–25 of "+reply.Count(total), r.Table.Range())
	byName := func(a, b []string) int { return strings.Compare(a[1], b[1]) }
	assert.True(t, slices.IsSortedFunc(r.Table.Rows, byName), "in Astro's name order")
	assert.Equal(t, 1, e.emu.CountRequests(astroemu.EndpointListTokens), "only the page shown is read")
	require.Len(t, r.Buttons, 2, "Next and Share")
	assert.Equal(t, "Next", r.Buttons[0].Label)
	assert.Contains(t, text(r), "Next: `/orgtoken list -w "+wsSand+" --page 2`")

	next := e.svc.Act(t.Context(), commands.Action{UserID: alice, ChannelID: opsChan, ActionID: r.Buttons[0].ActionID, Value: r.Buttons[0].Value})
	checkRenders(t, next)
	require.NotNil(t, next.Table, text(next))
	assert.Equal(t, "Showing 26–50 of "+reply.Count(total), next.Table.Range())
	assert.Len(t, next.Buttons, 3, "Previous, Next and Share")
	assert.True(t, next.ReplaceOriginal, "a page replaces the message whose button was clicked")
	assert.Len(t, next.Table.Rows, 25)
	assert.True(t, slices.IsSortedFunc(append(slices.Clone(r.Table.Rows), next.Table.Rows...), byName), "page 2 carries on where page 1 ended")
	seen := map[string]bool{}
	for _, row := range append(slices.Clone(r.Table.Rows), next.Table.Rows...) {
		assert.False(t, seen[row[0]], "token %s shown twice", row[0])
		seen[row[0]] = true
	}
	reqs := e.emu.Requests()
	require.Len(t, reqs, 2, "one request per page")
	query, err := url.ParseQuery(reqs[1].RawQuery)
	require.NoError(t, err)
	assert.Equal(t, url.Values{"workspaceId": {wsSand}, "includeOnlyOrganizationTokens": {"true"}, "sorts": {"name:asc"}, "offset": {"25"}, "limit": {"25"}}, query)

	last := e.run(t, "list -w "+wsSand+" --page 80")
	assert.Contains(t, last.Title, "Page 80 is past the end: there are ", text(last))
}

func TestActRejectsUnknownAndForgedButtons(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.svc.Act(t.Context(), commands.Action{UserID: alice, ActionID: "orgtoken.nope", Value: "x"})
	checkRenders(t, r)
	assert.Equal(t, "This button is not supported any more.", r.Title)
	r = e.svc.Act(t.Context(), commands.Action{UserID: alice, ActionID: commands.ActionListNext, Value: "--for 2h"})
	checkRenders(t, r)
	assert.Equal(t, "Unknown flag --for for list.", r.Title)
	assert.Equal(t, 0, e.emu.CountRequests(astroemu.EndpointUpdateRoles))
}

func TestShow(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text string
		wantTitle  string
		wantText   []string
		wantReqs   map[astroemu.Endpoint]int
	}{
		{name: "ByName", text: "show ml-feature-pipeline", wantTitle: "Token ml-feature-pipeline",
			wantText: []string{"DEPLOYMENT    cldpfeaturestore000000001  DEPLOYMENT_ADMIN", "WORKSPACE     clwsmlops0000000000000003  WORKSPACE_OWNER", "Created:     1 year ago (2024-04-03) by Jo Okafor"},
			wantReqs: reqs(1, 0, 0)},
		{name: "ByID", text: "show cltkdagviewerreporting006", wantTitle: "Token dag-viewer-reporting",
			wantText: []string{"DAG           daily_revenue_report (deployment"}, wantReqs: reqs(1, 0, 0)},
		{name: "WorkspaceScopedByID", text: "show cltkanalyticsworkspace010", wantTitle: "Token analytics-workspace-token",
			wantText: []string{"Scope:       WORKSPACE"}, wantReqs: reqs(1, 1, 0)},
		{name: "Expiring", text: "show dbt-cloud-sync", wantTitle: "Token dbt-cloud-sync",
			wantText: []string{"Expires:     2030-03-15 13:00 UTC"}, wantReqs: reqs(1, 0, 0)},
		{name: "NeverUsedNeverExpires", text: "show billing-export", wantTitle: "Token billing-export",
			wantText: []string{"Last used:   never\nExpires:     never"}, wantReqs: reqs(1, 0, 0)},
		{name: "Expired", text: "show legacy-etl", wantTitle: "Token legacy-etl",
			wantText: []string{"Expired:     2024-01-30 10:00 UTC (1 year ago)"}, wantReqs: reqs(1, 0, 0)},
		{name: "Unknown", text: "show nothing-like-it", wantTitle: `No Organization token is named "nothing-like-it".`, wantReqs: reqs(1, 1, 0)},
		{name: "CloseMatch", text: "show ml-feature-pipelin", wantTitle: `No Organization token is named "ml-feature-pipelin".`,
			wantText: []string{"Did you mean:", "• ml-feature-pipeline `" + astroemu.SampleTokenMLFeatures + "`, created 1 year ago by Jo Okafor"}, wantReqs: reqs(1, 1, 0)},
		{name: "SharedName", text: "show ci-token", wantTitle: `2 Organization tokens are named "ci-token".`,
			wantText: []string{astroemu.SampleTokenCIFirst, astroemu.SampleTokenCISecond}, wantReqs: reqs(1, 0, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			r := e.run(t, tt.text)
			assert.Equal(t, tt.wantTitle, r.Title, text(r))
			assert.Equal(t, reply.Ephemeral, r.Visibility)
			for _, want := range tt.wantText {
				assert.Contains(t, text(r), want)
			}
			assert.Equal(t, tt.wantReqs, e.counts())
		})
	}
}

func TestHelp(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, in := range []string{"", "help"} {
		r := e.run(t, in)
		out := text(r)
		for _, verb := range []string{"add", "update", "remove", "list", "show", "help"} {
			assert.Contains(t, out, "`/orgtoken "+verb+" ")
		}
		assert.Contains(t, out, "Examples:")
	}
	r := e.run(t, "help update")
	assert.Contains(t, text(r), "Usage: `/orgtoken update (TOKEN_ID | --org-token-name NAME | -n NAME) --role ROLE [--workspace WS] [--for DURATION]")
	assert.Contains(t, text(r), "--role ROLE | -r ROLE:")
	assert.Contains(t, text(r), "Example: `/orgtoken update --org-token-name \"CI deployer\" --role=author`")
	r = e.run(t, "help updte")
	assert.Contains(t, text(r), "Did you mean /orgtoken update?")
}

func TestUnexpectedErrorsAreLoggedWithAReference(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, nil, brokenTokens{})
	r := e.run(t, "list")
	assert.Equal(t, "Something went wrong on the bot's side.", r.Title)
	require.Regexp(t, `ref [0-9a-f]{6}\.`, text(r))
	ref := regexpRef.FindStringSubmatch(text(r))[1]
	assert.Contains(t, e.logs.String(), "ref="+ref)
	assert.Contains(t, e.logs.String(), "dial tcp: connection refused")
	assert.NotContains(t, text(r), "dial tcp", "raw errors stay in the log")
}

// unreadableRoles lists one token whose roles Astro sent in a form the bot cannot read, and
// counts writes.
type unreadableRoles struct {
	brokenTokens
	writes atomic.Int32
}

func (u *unreadableRoles) ListTokenSummaries(context.Context, astro.ListTokensOptions) ([]astro.TokenSummary, error) {
	return []astro.TokenSummary{{ID: "cltketl000000000000000001", Name: "etl", Type: astro.ScopeOrganization,
		RawRoles: json.RawMessage(`"not a list"`)}}, nil
}

func (u *unreadableRoles) UpdateTokenRoles(context.Context, string, []astro.Role) (*astro.SubjectRoles, error) {
	u.writes.Add(1)
	return nil, errBroken
}

// A change by name whose token's listed roles cannot be read writes nothing (writing a role
// list built from them could drop roles) and says something went wrong, with a reference.
func TestAChangeByNameRefusesTokenRolesItCannotRead(t *testing.T) {
	t.Parallel()
	tokens := &unreadableRoles{}
	e := newEnvWith(t, nil, tokens)
	r := e.run(t, "add -n etl -r member -w "+wsData)
	assert.Equal(t, "Something went wrong on the bot's side.", r.Title, text(r))
	assert.Regexp(t, `ref [0-9a-f]{6}\.`, text(r))
	assert.Zero(t, tokens.writes.Load(), "nothing is written from roles the bot could not read")
	assert.Contains(t, e.logs.String(), "cltketl000000000000000001")
}
