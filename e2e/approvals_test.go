package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/orgtoken/orgtoken-bot/store/storetest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/emulators/astroemu"
	"github.com/orgtoken/orgtoken-bot/emulators/slackemu"
	"github.com/orgtoken/orgtoken-bot/store"
)

const (
	approverDirect = "U0APPRV01" // approver named in the policy
	approverGroup1 = "U0APPRV02" // approvers through the S0APPRVRS user group
	approverGroup2 = "U0APPRV03"
	approverSlack  = "S0APPRVRS"
	approveChannel = "C0APPROVE"

	actionApprove = "orgtoken.request.approve"
	actionDeny    = "orgtoken.request.deny"
)

// approvalPolicyYAML: admins change roles directly; anyone else needs two approvals.
const approvalPolicyYAML = `
groups:
  admins: [U0ADMIN01, S0ADMINS]
  approvers: [U0APPRV01, S0APPRVRS]
rules:
  - name: read
    actions: [list, show]
    who: everyone
  - name: admins-direct
    actions: [add, update, remove]
    who: [admins]
  - name: two-approvals
    actions: [add, update, remove]
    who: everyone
    approval: { approvers: [approvers], count: 2, channel: C0APPROVE, expires_after: %s }
`

// newApprovalWorld is a world whose bot runs the approval policy with requests expiring after
// expiresAfter.
func newApprovalWorld(t *testing.T, expiresAfter string) *world {
	t.Helper()
	w := newWorld(t)
	w.slack.AddUser(slackemu.User{ID: approverDirect, Name: "april", RealName: "April Approver"})
	w.slack.AddUser(slackemu.User{ID: approverGroup1, Name: "gina", RealName: "Gina Groupapprover"})
	w.slack.AddUser(slackemu.User{ID: approverGroup2, Name: "gil", RealName: "Gil Groupapprover"})
	w.slack.SetUserGroup(approverSlack, approverGroup1, approverGroup2)
	w.slack.AddChannel(slackemu.Channel{ID: approveChannel, Name: "token-approvals", BotIsMember: true})
	path := filepath.Join(w.dir, "policy.yaml")
	require.NoError(t, os.WriteFile(path, fmt.Appendf(nil, approvalPolicyYAML, expiresAfter), 0o600))
	w.env["ORGTOKEN_POLICY_FILE"] = path
	return w
}

// requestChange types a command that needs approval and returns the approval message posted
// for it, with the requester's ephemeral answer.
func (w *world) requestChange(t *testing.T, user, command, tokenID string) (slackemu.Message, slackemu.ResponsePost) {
	t.Helper()
	p := reply(t, w.slash(user, opsChannel, command))
	require.Contains(t, text(p.Blocks), "Approval requested", "command %q", command)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	m, err := w.slack.WaitMessage(ctx, func(m slackemu.Message) bool {
		return m.Channel == approveChannel && !m.Ephemeral && m.ThreadTS == "" && strings.Contains(text(m.Blocks), tokenID)
	})
	require.NoError(t, err, "no approval message for %s", tokenID)
	return m, p
}

// click presses a button on the approval message as user and returns the bot's answer to them.
func (w *world) click(t *testing.T, user, ts, actionID string) slackemu.ResponsePost {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	in, err := w.slack.ClickButton(ctx, slackemu.Click{UserID: user, MessageTS: ts, ActionID: actionID})
	require.NoError(t, err)
	return reply(t, in)
}

// waitMessage waits until the message at ts reads want.
func (w *world) waitMessage(t *testing.T, ts, want string) slackemu.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	m, err := w.slack.WaitMessage(ctx, func(m slackemu.Message) bool {
		return m.TS == ts && strings.Contains(text(m.Blocks), want)
	})
	if err != nil {
		got, _ := w.slack.Message(ts)
		require.NoError(t, err, "message %s never said %q; it says:\n%s", ts, want, text(got.Blocks))
	}
	return m
}

// threadReply waits for the bot's reply in the thread of ts.
func (w *world) threadReply(t *testing.T, ts string) slackemu.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	m, err := w.slack.WaitMessage(ctx, func(m slackemu.Message) bool { return m.ThreadTS == ts })
	require.NoError(t, err, "no thread reply to %s", ts)
	return m
}

func (w *world) workspaceRole(t *testing.T, tokenID, ws string) string {
	t.Helper()
	tok, ok := w.astro.Token(tokenID)
	require.True(t, ok)
	return roleIn(tok, ws)
}

func TestApprovalsEndToEnd(t *testing.T) {
	t.Parallel()
	w := newApprovalWorld(t, "1h")
	w.startBot(map[string]string{"ORGTOKEN_WORKERS": "32"})
	dp, sandbox := astroemu.SampleWorkspaceDataPlatform, astroemu.SampleWorkspaceSandbox

	t.Run("TwoApprovalsApplyTheChangeOnce", func(t *testing.T) {
		msg, answer := w.requestChange(t, outsiderID, "update "+astroemu.SampleTokenCIDeployer+" --role operator -w "+dp+` --reason "deploys blocked"`, astroemu.SampleTokenCIDeployer)
		assert.Equal(t, "ephemeral", answer.ResponseType)
		assert.Contains(t, text(answer.Blocks), "<#"+approveChannel+">", "the requester is told where it went")
		body := text(msg.Blocks)
		for _, want := range []string{"<@" + outsiderID + ">", "WORKSPACE_AUTHOR", "WORKSPACE_OPERATOR", "deploys blocked",
			"astro workspace token organization-token update " + astroemu.SampleTokenCIDeployer, "<@" + approverDirect + ">", approverSlack, "Expires"} {
			assert.Contains(t, body, want)
		}
		writes := w.astro.CountRequests(astroemu.EndpointUpdateRoles)

		self := w.click(t, outsiderID, msg.TS, actionApprove)
		assert.Equal(t, "ephemeral", self.ResponseType)
		assert.False(t, self.ReplaceOriginal)
		assert.Contains(t, text(self.Blocks), "cannot approve or deny your own request")

		outsider := w.click(t, adminID, msg.TS, actionApprove)
		assert.Equal(t, "ephemeral", outsider.ResponseType)
		assert.Contains(t, text(outsider.Blocks), "not an approver")

		first := w.click(t, approverDirect, msg.TS, actionApprove)
		assert.Contains(t, text(first.Blocks), "recorded (1 of 2)")
		assert.Equal(t, "WORKSPACE_AUTHOR", w.workspaceRole(t, astroemu.SampleTokenCIDeployer, dp))

		again := w.click(t, approverDirect, msg.TS, actionApprove)
		assert.Contains(t, text(again.Blocks), "You already approved")

		last := w.click(t, approverGroup1, msg.TS, actionApprove)
		assert.Contains(t, text(last.Blocks), "approved and applied")
		assert.Equal(t, "WORKSPACE_OPERATOR", w.workspaceRole(t, astroemu.SampleTokenCIDeployer, dp))
		assert.Equal(t, writes+1, w.astro.CountRequests(astroemu.EndpointUpdateRoles), "exactly one write")

		final := w.waitMessage(t, msg.TS, "Approved and applied")
		assert.Empty(t, final.Buttons(), "a decided request has no buttons")
		assert.Contains(t, text(final.Blocks), "<@"+approverGroup1+">")
		assert.Contains(t, text(w.threadReply(t, msg.TS).Blocks), "<@"+outsiderID+"> your request")
	})

	t.Run("DenialEndsTheRequest", func(t *testing.T) {
		msg, _ := w.requestChange(t, outsiderID, "add "+astroemu.SampleTokenDBTSync+" --role member -w "+dp, astroemu.SampleTokenDBTSync)
		writes := w.astro.CountRequests(astroemu.EndpointUpdateRoles)
		p := w.click(t, approverGroup2, msg.TS, actionDeny)
		assert.Contains(t, text(p.Blocks), "You denied")
		final := w.waitMessage(t, msg.TS, "Denied by <@"+approverGroup2+">")
		assert.Empty(t, final.Buttons())
		assert.Equal(t, writes, w.astro.CountRequests(astroemu.EndpointUpdateRoles))
		assert.Empty(t, w.workspaceRole(t, astroemu.SampleTokenDBTSync, dp))
	})

	t.Run("OutsideChangeMakesTheRequestStale", func(t *testing.T) {
		msg, _ := w.requestChange(t, outsiderID, "add "+astroemu.SampleTokenTerraform+" --role member -w "+sandbox, astroemu.SampleTokenTerraform)
		tok, _ := w.astro.Token(astroemu.SampleTokenTerraform)
		require.NoError(t, w.astro.SetRoles(astroemu.SampleTokenTerraform, append(tok.Roles,
			astroemu.Role{EntityType: astroemu.EntityWorkspace, EntityID: sandbox, Role: "WORKSPACE_AUTHOR"})))
		writes := w.astro.CountRequests(astroemu.EndpointUpdateRoles)

		p := w.click(t, approverDirect, msg.TS, actionApprove)
		assert.Contains(t, text(p.Blocks), "out of date")
		final := w.waitMessage(t, msg.TS, "Closed as stale")
		assert.Empty(t, final.Buttons())
		assert.Equal(t, writes, w.astro.CountRequests(astroemu.EndpointUpdateRoles), "nothing written")
		assert.Equal(t, "WORKSPACE_AUTHOR", w.workspaceRole(t, astroemu.SampleTokenTerraform, sandbox))
	})

	t.Run("TwentyConcurrentClicksWriteOnce", func(t *testing.T) {
		msg, _ := w.requestChange(t, outsiderID, "update "+astroemu.SampleTokenMLFeatures+" --role operator -w "+astroemu.SampleWorkspaceMLOps, astroemu.SampleTokenMLFeatures)
		writes := w.astro.CountRequests(astroemu.EndpointUpdateRoles)
		reads := w.astro.CountRequests(astroemu.EndpointGetToken)
		// Every click is held at its token read until all twenty are in, so they race for real.
		release := w.astro.Hold(astroemu.EndpointGetToken)
		defer release()
		var (
			wg  sync.WaitGroup
			ins = make([]*slackemu.Interaction, 20)
		)
		for i := range ins {
			wg.Add(1)
			go func() {
				defer wg.Done()
				user := []string{approverDirect, approverGroup1, approverGroup2}[i%3]
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				in, err := w.slack.ClickButton(ctx, slackemu.Click{UserID: user, MessageTS: msg.TS, ActionID: actionApprove})
				assert.NoError(t, err)
				ins[i] = in
			}()
		}
		wg.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		require.NoError(t, w.astro.WaitRequests(ctx, astroemu.EndpointGetToken, reads+len(ins)))
		release()
		for _, in := range ins {
			if in != nil {
				reply(t, in)
			}
		}
		w.waitMessage(t, msg.TS, "Approved and applied")
		assert.Equal(t, writes+1, w.astro.CountRequests(astroemu.EndpointUpdateRoles), "exactly one write")
		assert.Equal(t, "WORKSPACE_OPERATOR", w.workspaceRole(t, astroemu.SampleTokenMLFeatures, astroemu.SampleWorkspaceMLOps))
	})

	t.Run("RequestsAndCancel", func(t *testing.T) {
		msg, answer := w.requestChange(t, outsiderID, "add "+astroemu.SampleTokenSandboxPlayroom+" --role member -w "+sandbox, astroemu.SampleTokenSandboxPlayroom)
		id := requestID(t, text(answer.Blocks))
		listed := reply(t, w.slash(approverGroup2, opsChannel, "requests"))
		assert.Contains(t, text(listed.Blocks), id, "an approver sees it")
		p := reply(t, w.slash(outsiderID, opsChannel, "cancel "+id))
		assert.Contains(t, text(p.Blocks), "is cancelled")
		final := w.waitMessage(t, msg.TS, "Cancelled by <@"+outsiderID+">")
		assert.Empty(t, final.Buttons())
	})
}

func TestApprovalRequestExpires(t *testing.T) {
	t.Parallel()
	w := newApprovalWorld(t, "2s")
	w.startBot(map[string]string{"ORGTOKEN_SWEEP_INTERVAL": "200ms"})
	msg, _ := w.requestChange(t, outsiderID, "add "+astroemu.SampleTokenSandboxPlayroom+" --role member -w "+astroemu.SampleWorkspaceSandbox, astroemu.SampleTokenSandboxPlayroom)
	final := w.waitMessage(t, msg.TS, "Expired")
	assert.Empty(t, final.Buttons(), "an expired request cannot be approved")
	assert.Contains(t, text(w.threadReply(t, msg.TS).Blocks), "expired")
	assert.Empty(t, w.workspaceRole(t, astroemu.SampleTokenSandboxPlayroom, astroemu.SampleWorkspaceSandbox))
}

func TestApprovalSurvivesRestart(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{store.BackendSQLite, store.BackendPostgres} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			w := newApprovalWorld(t, "1h")
			extra := map[string]string{}
			if backend == store.BackendPostgres {
				extra["ORGTOKEN_DATABASE_URL"] = storetest.PostgresURL(t)
			}
			first := w.startBot(extra)
			msg, _ := w.requestChange(t, outsiderID, "update "+astroemu.SampleTokenCIDeployer+" --role owner -w "+astroemu.SampleWorkspaceAnalytics, astroemu.SampleTokenCIDeployer)
			first.stop(syscall.SIGTERM)
			w.startBot(extra)

			w.click(t, approverDirect, msg.TS, actionApprove)
			w.click(t, approverGroup1, msg.TS, actionApprove)
			w.waitMessage(t, msg.TS, "Approved and applied")
			assert.Equal(t, "WORKSPACE_OWNER", w.workspaceRole(t, astroemu.SampleTokenCIDeployer, astroemu.SampleWorkspaceAnalytics))
		})
	}
}

// requestID finds the request ID in the requester's answer.
func requestID(t *testing.T, s string) string {
	t.Helper()
	i := strings.Index(s, "Approval requested: ")
	require.GreaterOrEqual(t, i, 0, s)
	rest := s[i+len("Approval requested: "):]
	require.GreaterOrEqual(t, len(rest), 13, s)
	return rest[:13]
}

func TestApprovalFromSomeoneWhoLeftTheApproverGroupDoesNotCount(t *testing.T) {
	t.Parallel()
	w := newApprovalWorld(t, "1h")
	w.startBot(map[string]string{"ORGTOKEN_GROUP_CACHE_TTL": "0s"}) // group membership read live
	dp := astroemu.SampleWorkspaceDataPlatform
	msg, _ := w.requestChange(t, outsiderID, "update "+astroemu.SampleTokenCIDeployer+" --role operator -w "+dp, astroemu.SampleTokenCIDeployer)
	writes := w.astro.CountRequests(astroemu.EndpointUpdateRoles)

	first := w.click(t, approverGroup1, msg.TS, actionApprove)
	assert.Contains(t, text(first.Blocks), "recorded (1 of 2)")
	w.slack.SetUserGroup(approverSlack, approverGroup2) // gina leaves the approvers' user group

	second := w.click(t, approverDirect, msg.TS, actionApprove)
	assert.Contains(t, text(second.Blocks), "recorded (1 of 2)")
	assert.Contains(t, text(second.Blocks), "<@"+approverGroup1+">'s approval no longer counts because they are no longer in group approvers.")
	assert.Equal(t, writes, w.astro.CountRequests(astroemu.EndpointUpdateRoles), "nothing written")
	assert.Equal(t, "WORKSPACE_AUTHOR", w.workspaceRole(t, astroemu.SampleTokenCIDeployer, dp))
	open := w.waitMessage(t, msg.TS, "no longer counts")
	assert.Len(t, open.Buttons(), 2, "still open for another approver")

	last := w.click(t, approverGroup2, msg.TS, actionApprove)
	assert.Contains(t, text(last.Blocks), "approved and applied")
	assert.Equal(t, "WORKSPACE_OPERATOR", w.workspaceRole(t, astroemu.SampleTokenCIDeployer, dp))
	assert.Equal(t, writes+1, w.astro.CountRequests(astroemu.EndpointUpdateRoles), "exactly one write")
}

func TestAskingAgainAfterARequestLapsedClosesItsMessage(t *testing.T) {
	t.Parallel()
	w := newApprovalWorld(t, "2s")
	w.startBot(map[string]string{"ORGTOKEN_SWEEP_INTERVAL": "1h"}) // the sweeper runs only at start-up
	tok, sandbox := astroemu.SampleTokenSandboxPlayroom, astroemu.SampleWorkspaceSandbox
	command := "add " + tok + " --role member -w " + sandbox
	old, _ := w.requestChange(t, outsiderID, command, tok)
	time.Sleep(2500 * time.Millisecond) // past its expiry, long before the next sweep

	p := reply(t, w.slash(outsiderID, opsChannel, command))
	require.Contains(t, text(p.Blocks), "Approval requested")
	closed := w.waitMessage(t, old.TS, "Expired")
	assert.Empty(t, closed.Buttons(), "a lapsed request cannot be clicked")
	assert.Contains(t, text(w.threadReply(t, old.TS).Blocks), "expired")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	fresh, err := w.slack.WaitMessage(ctx, func(m slackemu.Message) bool {
		return m.Channel == approveChannel && m.ThreadTS == "" && m.TS != old.TS && strings.Contains(text(m.Blocks), tok)
	})
	require.NoError(t, err)
	assert.Len(t, fresh.Buttons(), 2, "the new request is open")
}
