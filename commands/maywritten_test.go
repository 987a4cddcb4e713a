package commands_test

import (
	"errors"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/astro"
	"github.com/orgtoken/orgtoken-bot/commands"
	"github.com/orgtoken/orgtoken-bot/emulators/astroemu"
	"github.com/orgtoken/orgtoken-bot/store"
)

// A revert-now of an approved request still applying reads the requested role in place (it
// landed) and puts the role back with its answer lost. The sweeper, finding the role back, calls
// the request failed, but must leave that retry to report the revert: ending it as "nothing of
// it to undo" erased an elevation that happened from the record.
func TestSweeperLeavesARevertWhoseWriteMayHaveLanded(t *testing.T) {
	e := newApprovalEnv(t)
	id := e.request(t, alice, oneReq+" --for 2h") // AUTHOR -> OPERATOR
	lostWrite(e.emu, true, 2)
	e.click(t, bob, commands.ActionApprove, id)
	require.Equal(t, store.StateApplying, e.state(t, id).State)
	require.Equal(t, "WORKSPACE_OPERATOR", e.roleIn(t, astroemu.SampleTokenCIDeployer, wsData))
	pending := e.pendingRevertsOf(t, astroemu.SampleTokenCIDeployer)
	require.Len(t, pending, 1)

	e.emu.ScriptFaults(astroemu.EndpointUpdateRoles, astroemu.Fault{ApplyFirst: true, Status: http.StatusBadGateway})
	e.svc.Act(t.Context(), commands.Action{UserID: admin, ChannelID: opsChan, ActionID: commands.ActionRevertNow, Value: pending[0].ID})
	require.Equal(t, "WORKSPACE_AUTHOR", e.roleIn(t, astroemu.SampleTokenCIDeployer, wsData))
	retry := e.pendingRevertsOf(t, astroemu.SampleTokenCIDeployer)
	require.Len(t, retry, 1)
	require.True(t, retry[0].MayHaveWritten)

	e.advance(2 * time.Minute)
	require.NoError(t, e.svc.SweepExpired(t.Context(), e.now()))
	for range 3 {
		e.advance(time.Minute)
		require.NoError(t, e.svc.ProcessDueReverts(t.Context(), "a"))
	}
	actions := e.auditActions(t, id)
	assert.NotContains(t, actions, "revert.cancelled")
	assert.True(t, slices.Contains(actions, "revert.done"), "the revert is on record: %v", actions)
	assert.Empty(t, e.pendingRevertsOf(t, astroemu.SampleTokenCIDeployer))
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// A revert write that never left (a refused connection) cannot have put the role back: the
// role found back later is someone else's doing, not reported as the bot's.
func TestRevertWriteThatNeverLeftIsNotNotedAsMayHaveWritten(t *testing.T) {
	e := newApprovalEnv(t)
	e.runAs(t, admin, "update "+astroemu.SampleTokenCIDeployer+" --role operator --for 1h")
	pending := e.pendingRevertsOf(t, astroemu.SampleTokenCIDeployer)
	require.Len(t, pending, 1)
	var refuse atomic.Bool
	refuse.Store(true)
	tr := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		if req.Method == http.MethodPost && refuse.Load() {
			return nil, errors.New("dial tcp: connection refused") // the body never read
		}
		return http.DefaultTransport.RoundTrip(req)
	})
	e.svc = e.serviceOver(t, e.st, e.now, func(c *commands.Config) {
		c.Tokens = astro.New(e.emu.OrganizationID(), e.emu.APIToken(), astro.WithBaseURL(e.emu.URL()),
			astro.WithRetryPolicy(astro.RetryPolicy{MaxAttempts: 1}), astro.WithHTTPClient(&http.Client{Transport: tr}))
	})
	e.advance(time.Hour + time.Minute)
	require.NoError(t, e.svc.ProcessDueReverts(t.Context(), "a"))
	got, err := e.st.GetRevert(t.Context(), pending[0].ID)
	require.NoError(t, err)
	assert.Equal(t, store.RevertPending, got.State)
	assert.False(t, got.MayHaveWritten, "the write never left")
}

// An attempt that reads the elevated role still in place proves no earlier attempt landed, so
// a role an admin puts back afterwards is reported as already back, not as the bot's revert.
func TestReadingTheElevatedRoleForgetsAnEarlierLostAnswer(t *testing.T) {
	e := newApprovalEnv(t)
	e.runAs(t, admin, "update "+astroemu.SampleTokenCIDeployer+" --role operator --for 1h")
	pending := e.pendingRevertsOf(t, astroemu.SampleTokenCIDeployer)
	require.Len(t, pending, 1)
	e.emu.ScriptFaults(astroemu.EndpointUpdateRoles,
		astroemu.Fault{Status: http.StatusBadGateway}, // not applied, answer unknown
		astroemu.Fault{Status: http.StatusForbidden})  // refused outright
	e.advance(time.Hour + time.Minute)
	require.NoError(t, e.svc.ProcessDueReverts(t.Context(), "a"))
	noted, err := e.st.GetRevert(t.Context(), pending[0].ID)
	require.NoError(t, err)
	require.True(t, noted.MayHaveWritten)
	e.advance(3 * time.Minute)
	require.NoError(t, e.svc.ProcessDueReverts(t.Context(), "a"))
	require.Equal(t, "WORKSPACE_OPERATOR", e.roleIn(t, astroemu.SampleTokenCIDeployer, wsData))
	cleared, err := e.st.GetRevert(t.Context(), pending[0].ID)
	require.NoError(t, err)
	require.False(t, cleared.MayHaveWritten, "the read proved the first attempt did not land")

	require.NoError(t, e.emu.SetRoles(astroemu.SampleTokenCIDeployer, []astroemu.Role{
		{EntityType: astroemu.EntityOrganization, EntityID: e.emu.OrganizationID(), Role: "ORGANIZATION_MEMBER"},
		wsRole(wsData, "WORKSPACE_AUTHOR"),
	}))
	e.advance(3 * time.Minute)
	require.NoError(t, e.svc.ProcessDueReverts(t.Context(), "a"))
	got, err := e.st.GetRevert(t.Context(), pending[0].ID)
	require.NoError(t, err)
	require.Equal(t, store.RevertDone, got.State)
	assert.Contains(t, got.Outcome, "already back")
}
