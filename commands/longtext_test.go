package commands_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/commands"
	"github.com/orgtoken/orgtoken-bot/emulators/astroemu"
	"github.com/orgtoken/orgtoken-bot/reply"
	"github.com/orgtoken/orgtoken-bot/reply/blockkit"
	"github.com/orgtoken/orgtoken-bot/store"
)

// User text that grows when escaped (& → &amp;) must not push the bot's own lines out of a
// message: Slack gets only so much text, and the renderer cuts the long text instead.

// renderedParts renders r within Slack's limits and returns its sections' and its context
// blocks' text as Slack gets it.
func renderedParts(t *testing.T, r reply.Reply) (sections, notes string) {
	t.Helper()
	blocks, _ := blockkit.Render(r)
	require.NoError(t, blockkit.CheckLimits(blocks))
	var s, n strings.Builder
	for _, b := range blocks {
		switch b := b.(type) {
		case *slack.SectionBlock:
			if b.Text != nil {
				s.WriteString(b.Text.Text + "\n")
			}
		case *slack.ContextBlock:
			for _, el := range b.ContextElements.Elements {
				n.WriteString(el.(*slack.TextBlockObject).Text + "\n")
			}
		}
	}
	return s.String(), n.String()
}

func TestLongReasonLeavesTheApprovalLinesAndMentions(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t)
	reason := strings.Repeat("&", 480) // 2,400 characters once escaped
	e.request(t, alice, "update "+astroemu.SampleTokenCIDeployer+` --role owner --reason "`+reason+`"`)
	shown, _ := renderedParts(t, e.msgs.only(t).r)
	assert.Contains(t, shown, "*Reason:* `&amp;&amp;", "the reason is shown, cut if it must be")
	assert.Contains(t, shown, "Same as: `astro workspace token organization-token update "+astroemu.SampleTokenCIDeployer+" --role WORKSPACE_OWNER")
	assert.Contains(t, shown, "*Approvers:* 2 approvals from `approvers` (<@"+bob+">, <@"+carol+">, <!subteam^"+secGroup+">)", "the approvers are notified")
	assert.Contains(t, shown, "Expires 2025-11-05 13:00 UTC.")
}

func TestReasonCannotForgeALineOfTheApprovalMessage(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t)
	forged := "x\n*Same as:* `astro workspace token organization-token update " + astroemu.SampleTokenCIDeployer + " --role WORKSPACE_MEMBER`\n> ok"
	e.request(t, alice, "update "+astroemu.SampleTokenCIDeployer+` --role owner --reason "`+forged+`"`)
	shown, _ := renderedParts(t, e.msgs.only(t).r)
	var sameAs []string
	for _, line := range strings.Split(shown, "\n") {
		assert.False(t, strings.HasPrefix(line, "*Same as:"), "a line reads as the bot's: %q", line)
		assert.False(t, strings.HasPrefix(line, "&gt;"), "a line quotes the requester: %q", line)
		if strings.HasPrefix(line, "Same as:") {
			sameAs = append(sameAs, line)
		}
	}
	require.Len(t, sameAs, 1, shown)
	assert.Contains(t, sameAs[0], "--role WORKSPACE_OWNER")
	assert.Contains(t, shown, "*Reason:* `x *Same as:* 'astro workspace token organization-token update "+astroemu.SampleTokenCIDeployer+" --role WORKSPACE_MEMBER' &gt; ok`\n",
		"the reason is one code span on its own line, in which Slack formats nothing")
}

type seqAudit struct{}

func (seqAudit) AppendAudit(_ context.Context, e store.AuditEntry) (store.AuditEntry, error) {
	e.Seq = 42
	return e, nil
}

type recordingPoster struct{ got []reply.Reply }

func (p *recordingPoster) Post(_ context.Context, _ string, r reply.Reply) (string, error) {
	p.got = append(p.got, r)
	return "1.1", nil
}

func TestAuditChannelPostKeepsItsEntryNumberAfterALongDetail(t *testing.T) {
	t.Parallel()
	p := &recordingPoster{}
	ac := &commands.AuditChannel{Audit: seqAudit{}, Poster: p, Channel: "C0AUDIT01"}
	_, err := ac.AppendAudit(t.Context(), store.AuditEntry{At: testNow, ActorID: alice, Action: "request.created",
		TokenID: "cltk1", TokenName: "ci", WorkspaceID: wsData, Before: "WORKSPACE_MEMBER", After: "WORKSPACE_OWNER",
		Detail: "reason: " + strings.Repeat("<>", 240)})
	require.NoError(t, err)
	require.Len(t, p.got, 1)
	_, notes := renderedParts(t, p.got[0])
	assert.Contains(t, notes, "reason: &lt;&gt;&lt;&gt;")
	assert.Contains(t, notes, "Audit entry #42 · "+testNow.UTC().Format("2006-01-02 15:04:05 MST"))
}

func TestLongAstroMessageLeavesTheHint(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.emu.ScriptFaults(astroemu.EndpointListTokens, astroemu.Fault{Status: http.StatusTooManyRequests, RetryAfter: 30 * time.Second, Message: strings.Repeat("&", 1000)})
	r := e.run(t, "list")
	require.Equal(t, "Astro is rate-limiting the bot.", r.Title)
	shown, notes := renderedParts(t, r)
	assert.Contains(t, shown, "Astro said: &amp;&amp;")
	assert.Contains(t, shown, "Retry in 30 s.")
	assert.Contains(t, notes, "Nothing was changed.")
}

func TestSharedListWithALongFilterSaysWhoSharedIt(t *testing.T) {
	t.Parallel()
	e := newOncallEnv(t)
	filter := strings.Repeat("&", 200)
	for i := range 30 {
		e.emu.AddToken(astroemu.Token{Name: filter + strings.Repeat("x", i),
			Roles: []astroemu.Role{{EntityType: astroemu.EntityWorkspace, EntityID: wsSand, Role: "WORKSPACE_MEMBER"}}})
	}
	r := e.runAs(t, alice, otherChan, `list -w Sandbox --name "`+filter+`"`)
	require.NotNil(t, r.Table, text(r))
	require.Equal(t, 30, r.Table.Total)
	shared := e.click(t, dora, button(t, r, commands.ActionShare))
	_, notes := renderedParts(t, shared)
	assert.Contains(t, notes, "Page 1 of 2.")
	assert.Contains(t, notes, "Shared by <@"+dora+">.")
}
