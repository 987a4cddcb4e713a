package astro

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
)

// ListWorkspaces returns every workspace of the organization, MaxPageSize a request.
//
// GET /organizations/{organizationId}/workspaces (repeated with increasing offset)
func (c *Client) ListWorkspaces(ctx context.Context) ([]Workspace, error) {
	return collectPages(ctx, c.logger, "workspaces", 0, MaxPageSize, func(offset int) ([]Workspace, int, error) {
		q := url.Values{"limit": {strconv.Itoa(MaxPageSize)}}
		if offset > 0 {
			q.Set("offset", strconv.Itoa(offset))
		}
		page := new(WorkspacesPage)
		if err := c.do(ctx, request{method: http.MethodGet, path: c.orgPath("workspaces"), query: q}, page); err != nil {
			return nil, 0, err
		}
		return page.Workspaces, page.TotalCount, nil
	}, func(w Workspace) string { return w.ID })
}
