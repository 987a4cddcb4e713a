package astro_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/astro"
	"github.com/orgtoken/orgtoken-bot/emulators/astroemu"
)

// outsideRole is a role given to the token elsewhere (the Astro UI, Terraform) while the bot's
// write was in flight: a resend of the bot's full list would take it away.
var outsideRole = astroemu.Role{EntityType: astroemu.EntityWorkspace, EntityID: astroemu.SampleWorkspaceMLOps, Role: astroemu.RoleWorkspaceMember}

func giveOutsideRole(t *testing.T, emu *astroemu.Server) func() {
	return func() {
		// assert, not require: this runs on the emulator's goroutine.
		tok, ok := emu.Token(astroemu.SampleTokenCIDeployer)
		assert.True(t, ok)
		assert.NoError(t, emu.SetRoles(astroemu.SampleTokenCIDeployer, append(tok.Roles, outsideRole)))
	}
}

// TestRoleWriteThatMayHaveLandedIsNotResent: a roles POST that may have reached Astro and failed
// is not sent again, by the client or by http.Transport: one request, an outcome-unknown error,
// and a role given elsewhere meanwhile survives.
func TestRoleWriteThatMayHaveLandedIsNotResent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		fault  astroemu.Fault
		landed bool
	}{
		{name: "BadGatewayAfterTheWriteLanded", fault: astroemu.Fault{ApplyFirst: true, Status: http.StatusBadGateway}, landed: true},
		{name: "GatewayTimeoutAfterTheWriteLanded", fault: astroemu.Fault{ApplyFirst: true, Status: http.StatusGatewayTimeout}, landed: true},
		{name: "GatewayTimeout", fault: astroemu.Fault{Status: http.StatusGatewayTimeout}},
		{name: "ServiceUnavailable", fault: astroemu.Fault{Status: http.StatusServiceUnavailable}},
		{name: "ConnectionResetAfterTheWriteLanded", fault: astroemu.Fault{ApplyFirst: true, Reset: true}, landed: true},
		{name: "ConnectionResetAfterSending", fault: astroemu.Fault{Reset: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			emu, c := newContractEmulator(t)
			emu.SeedSample()
			// Read first, as the bot does: the write then goes out on a kept-alive connection,
			// the kind http.Transport retries a replayable request on after a reset.
			before, err := c.GetToken(t.Context(), astroemu.SampleTokenCIDeployer)
			require.NoError(t, err)
			fault := tt.fault
			fault.After = giveOutsideRole(t, emu)
			emu.ScriptFaults(astroemu.EndpointUpdateRoles, fault)

			_, err = c.UpdateTokenRoles(t.Context(), astroemu.SampleTokenCIDeployer,
				astro.WithWorkspaceRole(before.Roles, astroemu.SampleWorkspaceSandbox, astro.RoleWorkspaceOperator))

			var unknown *astro.OutcomeUnknownError
			require.ErrorAs(t, err, &unknown)
			assert.Equal(t, astroemu.SampleTokenCIDeployer, unknown.TokenID)
			assert.Equal(t, 1, emu.CountRequests(astroemu.EndpointUpdateRoles), "sent once")
			after, ok := emu.Token(astroemu.SampleTokenCIDeployer)
			require.True(t, ok)
			assert.Contains(t, after.Roles, outsideRole, "the role given elsewhere is kept")
			want := ""
			if tt.landed {
				want = astro.RoleWorkspaceOperator
			}
			assert.Equal(t, want, roleIn(after.Roles, astroemu.SampleWorkspaceSandbox))
		})
	}
}

// TestRoleWriteAstroNeverGotIsRetried: what provably never reached Astro, or that Astro refused
// without acting on it, is still sent again, and lands once.
func TestRoleWriteAstroNeverGotIsRetried(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		faults []astroemu.Fault
		// transport, when set, is the client's, failing the first attempt itself before
		// anything reaches the emulator; attempts counts what it was asked.
		transport func(attempts *atomic.Int32) http.RoundTripper
	}{
		{name: "RateLimitedWithRetryAfter", faults: []astroemu.Fault{{Status: http.StatusTooManyRequests, RetryAfter: time.Second}}},
		{name: "RateLimited", faults: []astroemu.Fault{{Status: http.StatusTooManyRequests}}},
		{name: "ConnectionRefused", transport: func(dials *atomic.Int32) http.RoundTripper {
			var d net.Dialer
			return &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				if dials.Add(1) == 1 {
					return nil, &net.OpError{Op: "dial", Net: network, Err: syscall.ECONNREFUSED}
				}
				return d.DialContext(ctx, network, addr)
			}}
		}},
		{name: "FailedBeforeTheBodyWasTaken", transport: func(calls *atomic.Int32) http.RoundTripper {
			return roundTripper(func(req *http.Request) (*http.Response, error) {
				if calls.Add(1) == 1 {
					return nil, errors.New("connection lost before the request was written")
				}
				return http.DefaultTransport.RoundTrip(req)
			})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			emu, c := newContractEmulator(t)
			emu.SeedSample()
			before, err := c.GetToken(t.Context(), astroemu.SampleTokenCIDeployer)
			require.NoError(t, err)
			var attempts atomic.Int32
			if tt.transport != nil {
				c = astro.New(emu.OrganizationID(), contractAPIToken, astro.WithBaseURL(emu.URL()), fastRetries,
					astro.WithHTTPClient(&http.Client{Transport: tt.transport(&attempts)}))
			}
			emu.ScriptFaults(astroemu.EndpointUpdateRoles, tt.faults...)

			got, err := c.UpdateTokenRoles(t.Context(), astroemu.SampleTokenCIDeployer,
				astro.WithWorkspaceRole(before.Roles, astroemu.SampleWorkspaceSandbox, astro.RoleWorkspaceOperator))

			require.NoError(t, err)
			assert.Equal(t, astro.RoleWorkspaceOperator, got.WorkspaceRole(astroemu.SampleWorkspaceSandbox))
			assert.Equal(t, 1+len(tt.faults), emu.CountRequests(astroemu.EndpointUpdateRoles), "lands once")
			if tt.transport != nil {
				assert.Equal(t, int32(2), attempts.Load(), "tried again")
			}
		})
	}
}

// TestRoleWriteWhoseBodyWasTakenIsNotResent: once the transport took the body, the client cannot
// tell whether it reached Astro, so a failure then is outcome-unknown and final.
func TestRoleWriteWhoseBodyWasTakenIsNotResent(t *testing.T) {
	t.Parallel()
	emu, _ := newContractEmulator(t)
	emu.SeedSample()
	var calls atomic.Int32
	tr := roundTripper(func(req *http.Request) (*http.Response, error) {
		calls.Add(1)
		_, _ = io.Copy(io.Discard, req.Body)
		return nil, errors.New("connection lost after the request was written")
	})
	c := astro.New(emu.OrganizationID(), contractAPIToken, astro.WithBaseURL(emu.URL()), fastRetries, astro.WithHTTPClient(&http.Client{Transport: tr}))

	_, err := c.UpdateTokenRoles(t.Context(), astroemu.SampleTokenCIDeployer,
		[]astro.Role{{EntityType: astro.EntityOrganization, EntityID: emu.OrganizationID(), Role: "ORGANIZATION_MEMBER"}})

	assert.True(t, astro.IsOutcomeUnknown(err), "%v", err)
	assert.Equal(t, int32(1), calls.Load())
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

func roleIn(roles []astroemu.Role, ws string) string {
	for _, r := range roles {
		if r.EntityType == astroemu.EntityWorkspace && r.EntityID == ws {
			return r.Role
		}
	}
	return ""
}
