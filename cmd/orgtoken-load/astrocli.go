package main

import (
	"fmt"
	"strings"

	"github.com/orgtoken/orgtoken-bot/emulators/astroemu"
)

// requests counts Astro API calls by kind: list pages, single-token reads and role writes.
type requests struct{ lists, gets, writes, other int }

func (r requests) total() int { return r.lists + r.gets + r.writes + r.other }

// String reads like "3 = list + get + write" or "12 = 10 list + get + write".
func (r requests) String() string {
	var parts []string
	add := func(n int, what string) {
		switch {
		case n == 1:
			parts = append(parts, what)
		case n > 1:
			parts = append(parts, fmt.Sprintf("%d %s", n, what))
		}
	}
	add(r.lists, "list")
	add(r.gets, "get")
	add(r.writes, "write")
	add(r.other, "other")
	if len(parts) == 0 {
		return "0"
	}
	return fmt.Sprintf("%d = %s", r.total(), strings.Join(parts, " + "))
}

func countRequests(recs []astroemu.RecordedRequest) requests {
	var r requests
	for _, rec := range recs {
		switch rec.Endpoint {
		case astroemu.EndpointListTokens:
			r.lists++
		case astroemu.EndpointGetToken:
			r.gets++
		case astroemu.EndpointUpdateRoles:
			r.writes++
		default:
			r.other++
		}
	}
	return r
}

// cliPageSize is tokenPaginationLim in astro-cli's cloud/workspace-token and cloud/organization.
const cliPageSize = 100

// orgSize is what the astro CLI's request count depends on.
type orgSize struct {
	orgTokens       int // Organization-scoped tokens in the organization
	workspaceTokens int // tokens of any scope with a role in the command's workspace
}

// astroCLIRequests is how many Astro API requests `astro workspace token organization-token
// VERB` makes for one command, read from github.com/astronomer/astro-cli at ed93cc59 (release
// v1.45.0), not counting the CLI's own start-up (context, auth and version checks):
//
//   - list: cmd/cloud/workspace.go listOrganizationTokensInWorkspace calls
//     cloud/workspace-token ListTokens → getWorkspaceTokens, which pages
//     GET /organizations/{org}/tokens?workspaceId=W with limit=100 until
//     totalCount <= offset+limit (every scope is fetched; ORGANIZATION is kept client-side).
//   - add: UpsertOrgTokenWorkspaceRole with operation "create" resolves the token through
//     cloud/organization GetTokenFromInputOrUser: by ID one GET /tokens/{id}; by name
//     listOrgScopedAPITokens (the same paging, includeOnlyOrganizationTokens=true) and then a
//     GET /tokens/{id} of the match. Then one POST /tokens/{id}/roles.
//   - update: UpsertOrgTokenWorkspaceRole with operation "update" resolves through
//     cloud/workspace-token GetTokenFromInputOrUser: by ID one GET; by name getWorkspaceTokens
//     (pages of the workspace's tokens) and then a GET of the match. Then the POST.
//   - remove: RemoveOrgTokenWorkspaceRole resolves like update, then the POST.
//
// The POST is skipped only when the role is already the one asked for, which the load never
// asks for.
func astroCLIRequests(k kind, size orgSize) requests {
	pages := func(total int) int { return max(1, (total+cliPageSize-1)/cliPageSize) }
	switch {
	case k == kindList:
		return requests{lists: pages(size.workspaceTokens)}
	case !k.byName():
		return requests{gets: 1, writes: 1}
	case k == kindAddByName:
		return requests{lists: pages(size.orgTokens), gets: 1, writes: 1}
	default: // update or remove by name look the name up among the workspace's tokens
		return requests{lists: pages(size.workspaceTokens), gets: 1, writes: 1}
	}
}
