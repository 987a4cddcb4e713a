package commands_test

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/astro"
	"github.com/orgtoken/orgtoken-bot/commands"
	"github.com/orgtoken/orgtoken-bot/emulators/astroemu"
	"github.com/orgtoken/orgtoken-bot/reply/blockkit"
)

// Astro's explanation of a refusal is read whole under a short title, and its request ID,
// which support asks for, is always shown, however long the explanation.
func TestLongAstroMessageIsShownWholeWithItsRequestID(t *testing.T) {
	t.Parallel()
	long := "Invalid request: the role WORKSPACE_OWNER cannot be granted to an API token whose organization role is <ORGANIZATION_MEMBER>; grant ORGANIZATION_BILLING_ADMIN first & retry, or pick a lower workspace role"
	require.Greater(t, utf8.RuneCountInString(long), 180)
	tests := []struct {
		name    string
		message string
		whole   bool
	}{
		{name: "LongMessage", message: long, whole: true},
		{name: "HugeMessage", message: strings.Repeat("far too much detail & more <x> ", 300)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.emu.ScriptFaults(astroemu.EndpointListTokens, astroemu.Fault{Status: http.StatusBadRequest, Message: tt.message})
			r := e.run(t, "list")

			assert.Equal(t, "Astro refused the request (HTTP 400).", r.Title)
			blocks, _ := blockkit.Render(r)
			require.NoError(t, blockkit.CheckLimits(blocks))
			shown := mrkdwnText(t, blocks)
			if tt.whole {
				assert.Contains(t, shown, "Astro said: "+blockkit.Escape(tt.message))
			}
			assert.Regexp(t, regexp.MustCompile("Astro request ID: `emu-[0-9]+`"), shown)
			assert.Contains(t, shown, "Nothing was changed.")
		})
	}
}

// mrkdwnText is every text a user reads in blocks, rendered as Slack gets it.
func mrkdwnText(t *testing.T, blocks []slack.Block) string {
	t.Helper()
	raw, err := json.Marshal(blocks)
	require.NoError(t, err)
	var v any
	require.NoError(t, json.Unmarshal(raw, &v))
	var b strings.Builder
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if s, ok := x["text"].(string); ok {
				b.WriteString(s + "\n")
			}
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	return b.String()
}

// A write Astro answered with a 5xx may have landed, so the bot reads the token again; whatever
// that read shows, the reply keeps what Astro answered and its request ID, which its support
// needs to say what became of the write.
func TestWriteAnsweredWithAServerErrorKeepsAstrosRequestID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		faults  []astroemu.Fault // GetToken's: the lock's read, then the re-read
		wantTtl string
	}{
		{name: "ReReadShowsItUnchanged", wantTtl: "Astro did not answer in time; the change is not in place yet."},
		{name: "ReReadFails", faults: []astroemu.Fault{{}, {Status: http.StatusServiceUnavailable}},
			wantTtl: "Could not confirm whether the change was applied."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			before := e.roles(t, astroemu.SampleTokenCIDeployer)
			e.emu.ScriptFaults(astroemu.EndpointUpdateRoles, astroemu.Fault{Status: http.StatusInternalServerError, Message: "role service unavailable"})
			e.emu.ScriptFaults(astroemu.EndpointGetToken, tt.faults...)
			r := e.run(t, "update cltkairflowcideployer0001 -r owner")

			assert.Equal(t, tt.wantTtl, r.Title, text(r))
			writeID := ""
			for _, a := range e.emu.Answers() {
				if a.Endpoint == astroemu.EndpointUpdateRoles {
					writeID = a.RequestID
				}
			}
			require.NotEmpty(t, writeID)
			assert.Contains(t, text(r), "Astro request ID: `"+writeID+"`")
			assert.Contains(t, text(r), "HTTP 500 and said: role service unavailable")
			assert.NotContains(t, text(r), "Nothing was changed.", "it may have changed")
			assert.Equal(t, before, e.roles(t, astroemu.SampleTokenCIDeployer))
		})
	}
}

// A time-box ended early that Astro refuses to put back says what Astro answered and its
// request ID, as any other refusal does: "Astro refused or failed the change" alone did not tell
// a bot token without permission from a role Astro would not take, nor give support anything.
func TestRevertAstroRefusesSaysWhatAstroAnswered(t *testing.T) {
	t.Parallel()
	e := newOncallEnv(t)
	r := e.changeOK(t, "update"+ciDeployerIn+" -r operator --for 3h")
	b := button(t, r, commands.ActionRevertNow)
	e.emu.ScriptFaults(astroemu.EndpointUpdateRoles, astroemu.Fault{Status: http.StatusForbidden, Message: "token lacks ORGANIZATION_OWNER"})

	got := e.click(t, dora, b)

	assert.Equal(t, "Could not put a token's role back yet", got.Title, text(got))
	assert.Contains(t, text(got), "Astro answered HTTP 403 and said: token lacks ORGANIZATION_OWNER")
	assert.Regexp(t, regexp.MustCompile("Astro request ID: `emu-[0-9]+`"), text(got))
	assert.Equal(t, astro.RoleWorkspaceOperator, e.ciDeployerRole(t), "nothing was put back")
}

// unshownWrites is Astro accepting role writes (they land) with an answer that does not show
// the workspace role written: the roles POST's answer leaves its workspaceRoles out.
// With undo set, Astro does not keep the change (undo puts the roles back after the write).
type unshownWrites struct {
	*astro.Client
	undo func()
}

func (u unshownWrites) UpdateTokenRoles(ctx context.Context, id string, roles []astro.Role) (*astro.SubjectRoles, error) {
	after, err := u.Client.UpdateTokenRoles(ctx, id, roles)
	if err != nil {
		return nil, err
	}
	if u.undo != nil {
		u.undo()
	}
	after.WorkspaceRoles = nil
	return after, nil
}

// A roles POST that succeeds with an answer that does not show the change is not taken at its
// word: the token is read again. The change had landed, so it is announced as made, and its
// time-box is set up: trusting the answer, the bot said the token had no role there, in the
// channel, and scheduled no revert, so the elevation never ended.
func TestWriteWhoseAnswerDoesNotShowTheChangeIsConfirmedByReading(t *testing.T) {
	t.Parallel()
	e := newOncallEnv(t, func(c *commands.Config) {
		c.Tokens = unshownWrites{Client: c.Tokens.(*astro.Client)}
	})

	r := e.runAs(t, alice, opsChan, "update"+ciDeployerIn+" -r owner --for 2h")

	assert.Equal(t, "Token role updated", r.Title, text(r))
	assert.NotContains(t, text(r), "no role")
	assert.Equal(t, astro.RoleWorkspaceOwner, e.ciDeployerRole(t))
	require.Len(t, e.pendingReverts(t), 1, "the elevation has its revert")

	e.clock.Advance(3 * time.Hour)
	require.NoError(t, e.svc.ProcessDueReverts(t.Context(), "replica-a"))
	assert.Equal(t, astro.RoleWorkspaceAuthor, e.ciDeployerRole(t), "the elevation ends on time")
}

// When the read shows that the role Astro's answer left out is not there either, the reply says
// what the read found: Astro took the change without making it.
func TestWriteAstroAcceptedWithoutMakingItSaysWhatTheTokenHas(t *testing.T) {
	t.Parallel()
	var before []astroemu.Role
	var emu *astroemu.Server
	e := newOncallEnv(t, func(c *commands.Config) {
		c.Tokens = unshownWrites{c.Tokens.(*astro.Client), func() { require.NoError(t, emu.SetRoles(astroemu.SampleTokenCIDeployer, before)) }}
	})
	emu = e.emu
	tok, _ := e.emu.Token(astroemu.SampleTokenCIDeployer)
	before = tok.Roles

	r := e.runAs(t, alice, opsChan, "update"+ciDeployerIn+" -r owner --for 2h")

	assert.Equal(t, "The token's role is not what was asked for.", r.Title, text(r))
	assert.Contains(t, text(r), "has `WORKSPACE_AUTHOR` in workspace")
	assert.Equal(t, astro.RoleWorkspaceAuthor, e.ciDeployerRole(t))
	assert.Empty(t, e.pendingReverts(t), "nothing to put back")
}
