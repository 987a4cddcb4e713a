package astroemu

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

const (
	defaultLimit = 20
	maxLimit     = 1000
)

// handle answers one request the way the API does: authenticate, check the organization, then
// the endpoint's own validation.
func (s *Server) handle(w http.ResponseWriter, r *http.Request, ep Endpoint, p routeParams, body []byte) {
	if !s.authorized(r) {
		s.writeError(w, http.StatusUnauthorized, "Unauthorized: a valid bearer API token is required")
		return
	}
	if p.org != s.opts.OrganizationID {
		if ep == EndpointListWorkspaces {
			// The platform API documents no 404 here: an organization you cannot see is forbidden.
			s.writeError(w, http.StatusForbidden, fmt.Sprintf("you do not have access to organization %q", p.org))
			return
		}
		s.writeError(w, http.StatusNotFound, fmt.Sprintf("organization %q not found", p.org))
		return
	}
	var err error
	switch ep {
	case EndpointListTokens:
		err = s.listTokens(w, r.URL.Query())
	case EndpointGetToken:
		err = s.getToken(w, p.tokenID)
	case EndpointUpdateRoles:
		err = s.updateRoles(w, p.tokenID, body)
	case EndpointListWorkspaces:
		err = s.listWorkspaces(w, r.URL.Query())
	}
	if err != nil {
		var ae *apiError
		if !errors.As(err, &ae) {
			ae = &apiError{status: http.StatusInternalServerError, message: "internal error"}
		}
		s.writeError(w, ae.status, ae.message)
	}
}

func (s *Server) listTokens(w http.ResponseWriter, q url.Values) error {
	offset, limit, err := pagination(q)
	if err != nil {
		return err
	}
	sorts, err := sortParams(q, tokenSorts)
	if err != nil {
		return err
	}
	query := tokenQuery{
		workspaceID:  q.Get("workspaceId"),
		deploymentID: q.Get("deploymentId"),
		offset:       offset,
		limit:        limit,
		sorts:        sorts,
	}
	if v := q.Get("includeOnlyOrganizationTokens"); v != "" {
		b, perr := strconv.ParseBool(v)
		if perr != nil {
			return badRequest("includeOnlyOrganizationTokens must be true or false, got %q", v)
		}
		query.orgOnly = b
	}
	page, total, err := s.st.listTokens(query)
	if err != nil {
		return err
	}
	// Sized exactly: grown by doubling, a 1,000-token page cost more in clearing fresh memory
	// than in copying the tokens (BenchmarkListTokenSummaries1000).
	size := 96 // the wrapper and its three numbers
	for _, t := range page {
		size += len(t) + 1
	}
	var buf bytes.Buffer
	buf.Grow(size)
	buf.WriteString(`{"tokens":[`)
	for i, t := range page {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(t)
	}
	fmt.Fprintf(&buf, `],"totalCount":%d,"offset":%d,"limit":%d}`, total, offset, limit)
	s.writeJSON(w, http.StatusOK, buf.Bytes())
	return nil
}

func (s *Server) getToken(w http.ResponseWriter, id string) error {
	b, ok := s.st.tokenWire(id)
	if !ok {
		return &apiError{status: http.StatusNotFound, message: fmt.Sprintf("API token %q not found", id)}
	}
	s.writeJSON(w, http.StatusOK, b)
	return nil
}

func (s *Server) updateRoles(w http.ResponseWriter, id string, body []byte) error {
	var req wireUpdateRolesRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return badRequest("request body is not a valid UpdateApiTokenRolesRequest: %v", err)
	}
	roles := make([]Role, len(req.Roles))
	for i, r := range req.Roles {
		roles[i] = Role(r)
	}
	t, err := s.st.replaceRoles(s.opts.OrganizationID, id, roles, s.opts.Actor, s.now(), true)
	if err != nil {
		return err
	}
	b, _ := json.Marshal(subjectRoles(t.Roles))
	s.writeJSON(w, http.StatusOK, b)
	return nil
}

func (s *Server) listWorkspaces(w http.ResponseWriter, q url.Values) error {
	offset, limit, err := pagination(q)
	if err != nil {
		return err
	}
	sorts, err := sortParams(q, workspaceSorts)
	if err != nil {
		return err
	}
	page, total := s.st.listWorkspaces(workspaceQuery{
		ids: nonEmpty(q["workspaceIds"]), names: nonEmpty(q["names"]),
		offset: offset, limit: limit, sorts: sorts,
	})
	resp := struct {
		Workspaces []wireWorkspace `json:"workspaces"`
		TotalCount int             `json:"totalCount"`
		Offset     int             `json:"offset"`
		Limit      int             `json:"limit"`
	}{Workspaces: make([]wireWorkspace, 0, len(page)), TotalCount: total, Offset: offset, Limit: limit}
	for _, ws := range page {
		resp.Workspaces = append(resp.Workspaces, renderWorkspace(ws, s.opts.OrganizationID, s.opts.OrganizationName))
	}
	b, _ := json.Marshal(resp)
	s.writeJSON(w, http.StatusOK, b)
	return nil
}

func pagination(q url.Values) (offset, limit int, err error) {
	offset, limit = 0, defaultLimit
	if v := q.Get("offset"); v != "" {
		n, perr := strconv.Atoi(v)
		if perr != nil || n < 0 {
			return 0, 0, badRequest("offset must be an integer >= 0, got %q", v)
		}
		offset = n
	}
	if v := q.Get("limit"); v != "" {
		n, perr := strconv.Atoi(v)
		if perr != nil || n < 0 || n > maxLimit {
			return 0, 0, badRequest("limit must be an integer between 0 and %d, got %q", maxLimit, v)
		}
		limit = n
	}
	return offset, limit, nil
}

func sortParams(q url.Values, allowed []string) ([]string, error) {
	sorts := nonEmpty(q["sorts"])
	for _, sk := range sorts {
		if !slices.Contains(allowed, sk) {
			return nil, badRequest("sorts value %q must be one of %s", sk, strings.Join(allowed, ", "))
		}
	}
	return sorts, nil
}

func nonEmpty(vs []string) []string {
	return slices.DeleteFunc(slices.Clone(vs), func(v string) bool { return v == "" })
}
