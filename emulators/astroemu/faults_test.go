package astroemu_test

import (
	"context"
	"encoding/json"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/emulators/astroemu"
)

// noReuse is a client whose connections are never reused, so a reset reaches the caller
// instead of being retried by the transport.
func noReuse() *http.Client {
	return &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
}

func promoteBody() map[string]any {
	return rolesBody(orgRole(astroemu.RoleOrganizationMember), wsRole(astroemu.SampleWorkspaceSandbox, astroemu.RoleWorkspaceOwner))
}

func sandboxRole(t *testing.T, srv *astroemu.Server) string {
	t.Helper()
	tok, ok := srv.Token(astroemu.SampleTokenCIFirst)
	require.True(t, ok)
	for _, r := range tok.Roles {
		if r.EntityID == astroemu.SampleWorkspaceSandbox {
			return r.Role
		}
	}
	return ""
}

func TestFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		fault       astroemu.Fault
		wantStatus  int // 0: the request fails without a response
		wantApplied bool
		retryAfter  string
	}{
		{name: "status with Retry-After", fault: astroemu.Fault{Status: 429, RetryAfter: 1500 * time.Millisecond}, wantStatus: 429, retryAfter: "2"},
		{name: "server error is not applied", fault: astroemu.Fault{Status: 500}, wantStatus: 500},
		{name: "reset is not applied", fault: astroemu.Fault{Reset: true}},
		{name: "timeout after the write landed", fault: astroemu.Fault{ApplyFirst: true, Status: 504}, wantStatus: 504, wantApplied: true},
		{name: "reset after the write landed", fault: astroemu.Fault{ApplyFirst: true, Reset: true}, wantApplied: true},
		{name: "delay only serves normally", fault: astroemu.Fault{Delay: time.Millisecond}, wantStatus: 200, wantApplied: true},
		{name: "apply first without failure answers once", fault: astroemu.Fault{ApplyFirst: true}, wantStatus: 200, wantApplied: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := newSample(t)
			srv.ScriptFaults(astroemu.EndpointUpdateRoles, tc.fault)
			resp, err := do(context.Background(), noReuse(), srv, http.MethodPost, rolesPath(astroemu.SampleTokenCIFirst), promoteBody(), "Bearer "+testToken)
			if tc.wantStatus == 0 {
				require.Error(t, err, "a reset leaves the client without a response")
			} else {
				require.NoError(t, err)
				assert.Equal(t, tc.wantStatus, resp.status)
				assert.Equal(t, tc.retryAfter, resp.header.Get("Retry-After"))
				if tc.wantStatus >= 400 {
					var e apiErr
					resp.decode(t, &e)
					assert.Equal(t, tc.wantStatus, e.StatusCode)
					assert.NotEmpty(t, e.RequestID)
				}
			}
			want := astroemu.RoleWorkspaceMember
			if tc.wantApplied {
				want = astroemu.RoleWorkspaceOwner
			}
			assert.Equal(t, want, sandboxRole(t, srv))
			assert.Equal(t, 0, srv.PendingFaults(astroemu.EndpointUpdateRoles))
			assert.Equal(t, 1, srv.CountRequests(astroemu.EndpointUpdateRoles))
		})
	}
}

// After runs between a landed write and its lost answer: the change it makes is what the
// token holds at the end, and the client sees the fault's answer.
func TestFaultAfterRunsBetweenTheWriteAndItsAnswer(t *testing.T) {
	t.Parallel()
	srv := newSample(t)
	var during astroemu.Token
	srv.ScriptFaults(astroemu.EndpointUpdateRoles, astroemu.Fault{ApplyFirst: true, Status: http.StatusBadGateway, After: func() {
		// On the emulator's goroutine: assert, not require.
		during, _ = srv.Token(astroemu.SampleTokenCIFirst)
		assert.NoError(t, srv.SetRoles(astroemu.SampleTokenCIFirst, []astroemu.Role{
			{EntityType: astroemu.EntityOrganization, EntityID: testOrg, Role: astroemu.RoleOrganizationMember},
			{EntityType: astroemu.EntityWorkspace, EntityID: astroemu.SampleWorkspaceSandbox, Role: astroemu.RoleWorkspaceAuthor},
		}))
	}})

	resp := call(t, srv, http.MethodPost, rolesPath(astroemu.SampleTokenCIFirst), promoteBody())

	assert.Equal(t, http.StatusBadGateway, resp.status)
	assert.Contains(t, during.Roles, astroemu.Role{EntityType: astroemu.EntityWorkspace, EntityID: astroemu.SampleWorkspaceSandbox, Role: astroemu.RoleWorkspaceOwner},
		"the write landed before After ran")
	assert.Equal(t, astroemu.RoleWorkspaceAuthor, sandboxRole(t, srv), "After's change is the last")
}

func TestFaultsAreConsumedInOrderPerEndpoint(t *testing.T) {
	t.Parallel()
	srv := newSample(t)
	srv.ScriptFaults(astroemu.EndpointGetToken,
		astroemu.Fault{Status: 503, Message: "upstream unavailable"},
		astroemu.Fault{Status: 429, RetryAfter: 3 * time.Second})
	path := "/organizations/" + testOrg + "/tokens/" + astroemu.SampleTokenCIFirst

	first := call(t, srv, http.MethodGet, path, nil)
	var e apiErr
	first.decode(t, &e)
	assert.Equal(t, 503, first.status)
	assert.Equal(t, "upstream unavailable", e.Message)

	list := call(t, srv, http.MethodGet, "/organizations/"+testOrg+"/tokens", nil)
	assert.Equal(t, http.StatusOK, list.status, "other endpoints are unaffected")

	second := call(t, srv, http.MethodGet, path, nil)
	assert.Equal(t, 429, second.status)
	assert.Equal(t, "3", second.header.Get("Retry-After"))

	assert.Equal(t, http.StatusOK, call(t, srv, http.MethodGet, path, nil).status, "after the script, requests succeed")
}

// A change scripted with Before lands before the request is served: the answer already shows
// it, as a list read just after someone deleted a token in the Astro UI would.
func TestFaultBeforeChangesStateAheadOfTheAnswer(t *testing.T) {
	t.Parallel()
	srv := newSample(t)
	srv.ScriptFaults(astroemu.EndpointListTokens, astroemu.Fault{Before: func() {
		srv.RemoveToken(astroemu.SampleTokenCIFirst)
	}})

	resp := call(t, srv, http.MethodGet, "/organizations/"+testOrg+"/tokens", nil)

	require.Equal(t, http.StatusOK, resp.status, "%s", resp.body)
	var page tokenPage
	resp.decode(t, &page)
	assert.NotContains(t, ids(page.Tokens), astroemu.SampleTokenCIFirst)
	assert.Equal(t, sampleTokenCount-1, page.TotalCount)
	assert.Equal(t, 0, srv.PendingFaults(astroemu.EndpointListTokens))
}

func TestLatencyAndDelayEndWithTheClient(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(*astroemu.Server)
	}{
		{name: "latency", setup: func(s *astroemu.Server) { s.SetLatency(astroemu.EndpointListWorkspaces, time.Hour) }},
		{name: "fault delay", setup: func(s *astroemu.Server) {
			s.ScriptFaults(astroemu.EndpointListWorkspaces, astroemu.Fault{Delay: time.Hour})
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := newSample(t)
			tc.setup(srv)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				_, err := do(ctx, http.DefaultClient, srv, http.MethodGet, "/organizations/"+testOrg+"/workspaces", nil, "Bearer "+testToken)
				done <- err
			}()
			require.NoError(t, srv.WaitRequests(context.Background(), astroemu.EndpointListWorkspaces, 1))
			cancel()
			assert.ErrorIs(t, <-done, context.Canceled)
			srv.SetLatency(astroemu.EndpointListWorkspaces, 0)
		})
	}
}

func TestLatencyJitterSpreadsAnswers(t *testing.T) {
	t.Parallel()
	srv := newSample(t)
	const latency, spread = 40 * time.Millisecond, 30 * time.Millisecond
	srv.SetLatency(astroemu.EndpointListWorkspaces, latency)
	srv.SetLatencyJitter(astroemu.EndpointListWorkspaces, spread)
	var fastest time.Duration
	for i := range 30 {
		start := time.Now()
		require.Equal(t, http.StatusOK, call(t, srv, http.MethodGet, "/organizations/"+testOrg+"/workspaces", nil).status)
		took := time.Since(start)
		require.GreaterOrEqual(t, took, latency-spread, "never earlier than latency - spread")
		if i == 0 || took < fastest {
			fastest = took
		}
	}
	// Half the draws fall below the latency; the odds that none of 30 does are 1 in 10^9.
	assert.Less(t, fastest, latency-5*time.Millisecond, "some answers came before the plain latency")
}

func TestLatenessIsRecordedPerDelayedAnswer(t *testing.T) {
	t.Parallel()
	srv := newSample(t)
	srv.SetLatency(astroemu.EndpointListWorkspaces, 5*time.Millisecond)
	for range 3 {
		require.Equal(t, http.StatusOK, call(t, srv, http.MethodGet, "/organizations/"+testOrg+"/workspaces", nil).status)
	}
	call(t, srv, http.MethodGet, "/organizations/"+testOrg+"/tokens/"+astroemu.SampleTokenCIFirst, nil)
	late := srv.Lateness()
	require.Len(t, late, 3, "one per answer that waited out a latency, none for the undelayed GET")
	for _, d := range late {
		assert.GreaterOrEqual(t, d, time.Duration(0), "a latency wait never ends early")
	}
	srv.ResetRequests()
	assert.Empty(t, srv.Lateness())
}

func TestHold(t *testing.T) {
	t.Parallel()
	srv := newSample(t)
	release := srv.Hold(astroemu.EndpointUpdateRoles)
	done := make(chan response, 1)
	go func() {
		resp, err := do(context.Background(), http.DefaultClient, srv, http.MethodPost, rolesPath(astroemu.SampleTokenCIFirst), promoteBody(), "Bearer "+testToken)
		if err != nil {
			resp.status = -1
		}
		done <- resp
	}()
	require.NoError(t, srv.WaitRequests(context.Background(), astroemu.EndpointUpdateRoles, 1))

	// Other endpoints are not held.
	assert.Equal(t, http.StatusOK, call(t, srv, http.MethodGet, "/organizations/"+testOrg+"/tokens", nil).status)
	select {
	case <-done:
		t.Fatal("held request was answered before release")
	default:
	}
	assert.Equal(t, astroemu.RoleWorkspaceMember, sandboxRole(t, srv), "a held write has not landed")

	release()
	release() // idempotent
	assert.Equal(t, http.StatusOK, (<-done).status)
	assert.Equal(t, astroemu.RoleWorkspaceOwner, sandboxRole(t, srv))
}

func TestCloseReleasesHolds(t *testing.T) {
	t.Parallel()
	srv := newSample(t)
	srv.Hold(astroemu.EndpointGetToken)
	done := make(chan error, 1)
	go func() {
		_, err := do(context.Background(), noReuse(), srv, http.MethodGet, "/organizations/"+testOrg+"/tokens/x", nil, "Bearer "+testToken)
		done <- err
	}()
	require.NoError(t, srv.WaitRequests(context.Background(), astroemu.EndpointGetToken, 1))
	srv.Close()
	assert.Error(t, <-done)
	assert.Error(t, srv.WaitRequests(context.Background(), astroemu.EndpointGetToken, 2), "waiting on a closed server returns")
}

func TestRequestsAreRecorded(t *testing.T) {
	t.Parallel()
	srv := newSample(t)
	call(t, srv, http.MethodGet, "/organizations/"+testOrg+"/tokens?workspaceId="+astroemu.SampleWorkspaceAnalytics+"&limit=5", nil)
	call(t, srv, http.MethodPost, rolesPath(astroemu.SampleTokenCIFirst), promoteBody())
	call(t, srv, http.MethodGet, "/organizations/"+testOrg+"/teams", nil)

	reqs := srv.Requests()
	require.Len(t, reqs, 3)
	assert.Equal(t, astroemu.EndpointListTokens, reqs[0].Endpoint)
	assert.Equal(t, "/v1/organizations/"+testOrg+"/tokens", reqs[0].Path)
	assert.Equal(t, "workspaceId="+astroemu.SampleWorkspaceAnalytics+"&limit=5", reqs[0].RawQuery)
	assert.Equal(t, http.MethodPost, reqs[1].Method)
	assert.Equal(t, astroemu.EndpointUpdateRoles, reqs[1].Endpoint)
	var body struct {
		Roles []roleJSON `json:"roles"`
	}
	require.NoError(t, json.Unmarshal(reqs[1].Body, &body))
	assert.Len(t, body.Roles, 2)
	assert.Equal(t, astroemu.Endpoint(""), reqs[2].Endpoint, "unserved paths are recorded too")
	for _, r := range reqs {
		assert.Equal(t, "REDACTED", r.Header.Get("Authorization"))
		assert.False(t, r.Time.IsZero())
		assert.NotContains(t, strings.Join(r.Header.Values("Authorization"), ""), testToken)
	}
	assert.Equal(t, 1, srv.CountRequests(astroemu.EndpointListTokens))
	assert.Equal(t, 1, srv.CountRequests(astroemu.EndpointUpdateRoles))
	assert.Equal(t, 0, srv.CountRequests(astroemu.EndpointGetToken))

	srv.ResetRequests()
	assert.Empty(t, srv.Requests())
	assert.Equal(t, 0, srv.CountRequests(astroemu.EndpointListTokens))
}

func TestRecordingIsCapped(t *testing.T) {
	t.Parallel()
	srv := newSample(t, func(o *astroemu.Options) { o.MaxRecorded = 2 })
	for i, id := range []string{"a", "b", "c", "d", "e"} {
		call(t, srv, http.MethodGet, "/organizations/"+testOrg+"/tokens/"+id, nil)
		reqs := srv.Requests()
		require.Len(t, reqs, min(i+1, 2))
		assert.Equal(t, "/v1/organizations/"+testOrg+"/tokens/"+id, reqs[len(reqs)-1].Path, "newest kept")
		if i > 0 {
			prev := []string{"a", "b", "c", "d"}[i-1]
			assert.Equal(t, "/v1/organizations/"+testOrg+"/tokens/"+prev, reqs[0].Path, "oldest dropped first")
		}
	}
	assert.Equal(t, 5, srv.CountRequests(astroemu.EndpointGetToken), "counts are not capped")
}

// Astro's latency runs from a request's arrival, as a remote server's would: time the
// emulator spends before its handler runs (here a stalled middleware, under load a wait for a
// core it shares with the bot) is part of it, not added to it, and Answers says so.
func TestLatencyRunsFromTheRequestsArrival(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("arrival times come from the kernel's receive timestamps, read on Linux only")
	}
	const stall, latency = 300 * time.Millisecond, 400 * time.Millisecond
	srv := newSample(t, func(o *astroemu.Options) {
		o.Middleware = func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				time.Sleep(stall)
				next.ServeHTTP(w, r)
			})
		}
	})
	// The kernel turns timestamping on a moment after the emulator asks for it.
	require.Eventually(t, func() bool {
		srv.ResetRequests()
		resp, err := do(context.Background(), http.DefaultClient, srv, http.MethodGet, "/organizations/"+testOrg+"/workspaces", nil, "Bearer "+testToken)
		if err != nil || resp.status != http.StatusOK {
			return false
		}
		a := srv.Answers()
		return len(a) == 1 && a[0].Answered.Sub(a[0].Received) >= stall
	}, 10*time.Second, time.Millisecond, "the emulator had the request from its arrival, before the stalled handler ran")

	srv.SetLatency(astroemu.EndpointListWorkspaces, latency)
	srv.ResetRequests()
	start := time.Now()
	require.Equal(t, http.StatusOK, call(t, srv, http.MethodGet, "/organizations/"+testOrg+"/workspaces", nil).status)
	took := time.Since(start)
	assert.GreaterOrEqual(t, took, latency)
	assert.Less(t, took, stall+latency-100*time.Millisecond, "the stall is inside the latency, not added to it")
	a := srv.Answers()
	require.Len(t, a, 1)
	assert.GreaterOrEqual(t, a[0].Answered.Sub(a[0].Received), latency)
}
