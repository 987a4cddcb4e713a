package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/emulators/astroemu"
	"github.com/orgtoken/orgtoken-bot/emulators/slackemu"
)

func TestSubcommandsEndToEnd(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	bot := w.startBot(nil)

	t.Run("ListIsEphemeralAndEscaped", func(t *testing.T) {
		in := w.slash(outsiderID, opsChannel, "list --workspace-id "+astroemu.SampleWorkspaceAnalytics)
		p := reply(t, in)
		assert.Equal(t, "ephemeral", p.ResponseType)
		body := text(p.Blocks)
		assert.Contains(t, body, "airflow-ci-deployer")
		assert.Contains(t, body, "&lt;!channel&gt; alerts &amp; paging", "user-controlled names are escaped")
		assert.NotContains(t, string(p.Blocks), "<!channel>", "a token name must never ping the channel")
	})

	t.Run("NamesArriveWithSlacksEntities", func(t *testing.T) {
		// Slack sends the &, < and > people type as entities.
		p := reply(t, w.slash(outsiderID, opsChannel, `show "&lt;!channel&gt; alerts &amp; paging"`))
		body := text(p.Blocks)
		assert.NotContains(t, body, "No Organization token is named")
		assert.Contains(t, body, "Pages on-call when &lt;DAG&gt; SLAs &amp; freshness checks fail", "its own card, found by its name as Slack delivers it")
		assert.NotContains(t, string(p.Blocks), "<!channel>")
	})

	t.Run("HelpListsEverySubcommand", func(t *testing.T) {
		p := reply(t, w.slash(outsiderID, opsChannel, "help"))
		body := text(p.Blocks)
		for _, verb := range []string{"add", "update", "remove", "list"} {
			assert.Contains(t, body, verb)
		}
	})

	t.Run("AddByAdminIsPostedInChannel", func(t *testing.T) {
		msg := w.change(t, adminID, opsChannel, `add --org-token-name “terraform-automation” --role author --workspace-id `+astroemu.SampleWorkspaceSandbox)
		assert.Contains(t, text(msg.Blocks), "terraform-automation")
		assert.Contains(t, text(msg.Blocks), "<@"+adminID+">", "a change names who made it")
		tok, ok := w.astro.Token(astroemu.SampleTokenTerraform)
		require.True(t, ok)
		assert.Equal(t, "WORKSPACE_AUTHOR", roleIn(tok, astroemu.SampleWorkspaceSandbox))
		assert.Equal(t, "ORGANIZATION_OWNER", orgRoleOf(tok), "other roles are kept")
	})

	t.Run("UpdateByGroupAdmin", func(t *testing.T) {
		w.change(t, groupAdmin, opsChannel, "update "+astroemu.SampleTokenTerraform+" -r OPERATOR --workspace-id "+astroemu.SampleWorkspaceSandbox)
		tok, _ := w.astro.Token(astroemu.SampleTokenTerraform)
		assert.Equal(t, "WORKSPACE_OPERATOR", roleIn(tok, astroemu.SampleWorkspaceSandbox))
	})

	t.Run("OutsiderRefusedWithReason", func(t *testing.T) {
		before := w.astro.CountRequests(astroemu.EndpointUpdateRoles)
		p := reply(t, w.slash(outsiderID, opsChannel, "remove "+astroemu.SampleTokenTerraform+" --workspace-id "+astroemu.SampleWorkspaceSandbox))
		assert.Equal(t, "ephemeral", p.ResponseType)
		assert.Contains(t, text(p.Blocks), "not allowed", "the refusal says why")
		assert.Equal(t, before, w.astro.CountRequests(astroemu.EndpointUpdateRoles), "a refusal writes nothing")
	})

	t.Run("RemoveByAdmin", func(t *testing.T) {
		w.change(t, adminID, opsChannel, "remove "+astroemu.SampleTokenTerraform+" --workspace-id "+astroemu.SampleWorkspaceSandbox)
		tok, _ := w.astro.Token(astroemu.SampleTokenTerraform)
		assert.Empty(t, roleIn(tok, astroemu.SampleWorkspaceSandbox))
		assert.Equal(t, "ORGANIZATION_OWNER", orgRoleOf(tok))
	})

	t.Run("EachCommandLogsOneLineWithItsAstroRequests", func(t *testing.T) {
		var found bool
		require.Eventually(t, func() bool {
			for _, l := range bot.logs.JSONLines() {
				ids, _ := l["astro_request_ids"].([]any)
				if l["msg"] == "command" && l["subcommand"] == "remove" && l["outcome"] == "ok" &&
					l["envelope_id"] != "" && l["user"] == adminID && l["duration_ms"] != nil && len(ids) >= 2 {
					found = true
				}
			}
			return found
		}, 5*time.Second, 50*time.Millisecond, "a remove is one log line naming its GET and POST")
	})

	t.Run("BadInputGetsUsage", func(t *testing.T) {
		p := reply(t, w.slash(adminID, opsChannel, "add --role superuser -n x"))
		body := text(p.Blocks)
		assert.Contains(t, body, "superuser")
		assert.Contains(t, body, "member, author, operator, owner")
		assert.Contains(t, body, "Usage:")
	})
}

// change types a command that should change a role and waits for the bot's visible
// announcement of it in the channel.
func (w *world) change(t *testing.T, user, channel, text string) slackemu.Message {
	t.Helper()
	seen := map[string]bool{}
	for _, m := range w.slack.Messages(channel) {
		seen[m.TS] = true
	}
	in := w.slash(user, channel, text)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	m, err := w.slack.WaitMessage(ctx, func(m slackemu.Message) bool {
		return m.Channel == channel && !m.Ephemeral && m.Source == "chat.postMessage" && !seen[m.TS]
	})
	if err != nil {
		var got []string
		for _, p := range in.Responses() {
			got = append(got, collectStrings(p.Blocks))
		}
		require.NoError(t, err, "no channel announcement for %q; replies: %v", text, got)
	}
	return m
}

func roleIn(tok astroemu.Token, ws string) string {
	for _, r := range tok.Roles {
		if r.EntityType == "WORKSPACE" && r.EntityID == ws {
			return r.Role
		}
	}
	return ""
}

func orgRoleOf(tok astroemu.Token) string {
	for _, r := range tok.Roles {
		if r.EntityType == "ORGANIZATION" {
			return r.Role
		}
	}
	return ""
}
