package astroemu_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/emulators/astroemu"
)

func TestSeedSampleCoversTheShapesTheBotMeets(t *testing.T) {
	t.Parallel()
	srv := newSample(t)
	tokens := srv.Tokens()
	require.Len(t, tokens, sampleTokenCount)
	assert.Len(t, srv.Workspaces(), 4)

	names := map[string]int{}
	var orgOnly, wsScoped, depScoped, depRole, dagRole, expired, neverUsed, byKey, special int
	now := time.Now()
	for _, tok := range tokens {
		names[tok.Name]++
		if tok.Type == astroemu.TypeWorkspace {
			wsScoped++
		}
		if tok.Type == astroemu.TypeDeployment {
			depScoped++
		}
		if tok.Type == astroemu.TypeOrganization && len(tok.Roles) == 1 && tok.Roles[0].EntityType == astroemu.EntityOrganization && tok.Roles[0].Role != astroemu.RoleOrganizationMember {
			orgOnly++
		}
		for _, r := range tok.Roles {
			switch r.EntityType {
			case astroemu.EntityDeployment:
				depRole++
			case astroemu.EntityDAG, astroemu.EntityDAGTag:
				dagRole++
				assert.NotEmpty(t, r.DeploymentID)
			}
		}
		if !tok.EndAt.IsZero() && tok.EndAt.Before(now) {
			expired++
		}
		if tok.LastUsedAt.IsZero() {
			neverUsed++
		}
		if tok.CreatedBy.SubjectType == astroemu.SubjectServiceKey {
			byKey++
		}
		if strings.Contains(tok.Name, "<!channel>") && strings.Contains(tok.Name, "&") {
			special++
		}
		assert.NotEmpty(t, tok.CreatedBy.ID, tok.Name)
	}
	assert.Equal(t, 2, names["ci-token"], "two tokens share a name")
	assert.Equal(t, 2, orgOnly, "organization-only tokens")
	assert.Equal(t, 1, wsScoped)
	assert.Equal(t, 1, depScoped)
	assert.GreaterOrEqual(t, depRole, 2)
	assert.Equal(t, 2, dagRole)
	assert.Equal(t, 1, expired)
	assert.Positive(t, neverUsed)
	assert.Positive(t, byKey, "some tokens were created by another API token")
	assert.Equal(t, 1, special)
}

func TestSeedLargeIsDeterministicAndPaginates(t *testing.T) {
	t.Parallel()
	const n = 2500
	a := newSample(t)
	b := newSample(t)
	a.SeedLarge(n)
	b.SeedLarge(n)
	require.Equal(t, a.Tokens(), b.Tokens(), "same arguments, same data")
	require.Len(t, a.Tokens(), n+sampleTokenCount)

	seen := map[string]bool{}
	for offset := 0; ; offset += 1000 {
		var page struct {
			Tokens []struct {
				ID string `json:"id"`
			} `json:"tokens"`
			TotalCount int `json:"totalCount"`
		}
		resp := call(t, a, http.MethodGet, fmt.Sprintf("/organizations/%s/tokens?limit=1000&offset=%d", testOrg, offset), nil)
		require.Equal(t, http.StatusOK, resp.status)
		resp.decode(t, &page)
		assert.Equal(t, n+sampleTokenCount, page.TotalCount)
		for _, tok := range page.Tokens {
			if seen[tok.ID] {
				t.Errorf("token %s on two pages", tok.ID)
			}
			seen[tok.ID] = true
		}
		if len(page.Tokens) < 1000 {
			break
		}
	}
	assert.Len(t, seen, n+sampleTokenCount, "pages cover every token once")
}

func TestSeedLargeUsesGivenWorkspaces(t *testing.T) {
	t.Parallel()
	srv, err := astroemu.Start(astroemu.Options{OrganizationID: testOrg, APIToken: testToken})
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	srv.SeedLarge(400, "clwsone", "clwstwo")
	require.Len(t, srv.Workspaces(), 2)
	var page tokenPage
	call(t, srv, http.MethodGet, "/organizations/"+testOrg+"/tokens?workspaceId=clwsone&limit=1000", nil).decode(t, &page)
	assert.Positive(t, page.TotalCount)
	assert.Less(t, page.TotalCount, 400)
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	srv := newSample(t)
	srv.SeedLarge(500)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 10 {
				role := []string{astroemu.RoleWorkspaceMember, astroemu.RoleWorkspaceAuthor}[j%2]
				resp := call(t, srv, http.MethodPost, rolesPath(astroemu.SampleTokenCIFirst), rolesBody(orgRole(astroemu.RoleOrganizationMember), wsRole(astroemu.SampleWorkspaceSandbox, role)))
				assert.Equal(t, http.StatusOK, resp.status)
				assert.Equal(t, http.StatusOK, call(t, srv, http.MethodGet, "/organizations/"+testOrg+"/tokens?sorts=updatedAt:desc&limit=50", nil).status)
				srv.ScriptFaults(astroemu.EndpointGetToken, astroemu.Fault{Status: 500})
				call(t, srv, http.MethodGet, "/organizations/"+testOrg+"/tokens/"+astroemu.SampleTokenCIFirst, nil)
				_ = srv.SetRoles(astroemu.SampleTokenDBTSync, []astroemu.Role{{EntityType: astroemu.EntityOrganization, EntityID: testOrg, Role: astroemu.RoleOrganizationMember}})
				srv.AddToken(astroemu.Token{Name: fmt.Sprintf("late-%d-%d", i, j)})
				_ = srv.Requests()
			}
		})
	}
	wg.Wait()
	assert.Equal(t, 80, srv.CountRequests(astroemu.EndpointUpdateRoles))
	assert.Equal(t, 0, srv.PendingFaults(astroemu.EndpointGetToken))
}
