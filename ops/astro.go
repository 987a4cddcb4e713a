package ops

import (
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Astro endpoint labels: one per API call the bot makes, "other" for anything else.
const (
	endpointListTokens     = "list_tokens"
	endpointGetToken       = "get_token"
	endpointUpdateRoles    = "update_roles"
	endpointListWorkspaces = "list_workspaces"
	endpointOther          = other
)

// InstrumentAstro wraps the transport of the Astro client's *http.Client so every attempt,
// retries included, is counted by endpoint and status and timed, and so any HTTP answer marks
// Astro as reachable for /readyz. A nil next means http.DefaultTransport; a nil m returns next
// unchanged.
func InstrumentAstro(next http.RoundTripper, m *Metrics) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	if m == nil {
		return next
	}
	return &astroTransport{next: next, m: m}
}

type astroTransport struct {
	next http.RoundTripper
	m    *Metrics
}

func (t *astroTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	endpoint := astroEndpoint(req.Method, req.URL)
	start := time.Now()
	resp, err := t.next.RoundTrip(req)
	status := 0
	if err == nil {
		status = resp.StatusCode
	}
	t.m.observeAstro(endpoint, status, err, time.Since(start), time.Now())
	return resp, err
}

// astroEndpoint names the call from its method and path shape, wherever the API is mounted:
// .../organizations/{org}/tokens[/{id}[/roles]] and .../organizations/{org}/workspaces.
func astroEndpoint(method string, u *url.URL) string {
	if u == nil {
		return endpointOther
	}
	var segs []string
	for s := range strings.SplitSeq(u.EscapedPath(), "/") {
		if s != "" {
			segs = append(segs, s)
		}
	}
	for i := 0; i+1 < len(segs); i++ {
		if segs[i] != "organizations" {
			continue
		}
		rest := segs[i+2:]
		switch {
		case method == http.MethodGet && len(rest) == 1 && rest[0] == "tokens":
			return endpointListTokens
		case method == http.MethodGet && len(rest) == 2 && rest[0] == "tokens":
			return endpointGetToken
		case method == http.MethodPost && len(rest) == 3 && rest[0] == "tokens" && rest[2] == "roles":
			return endpointUpdateRoles
		case method == http.MethodGet && len(rest) == 1 && rest[0] == "workspaces":
			return endpointListWorkspaces
		}
		return endpointOther
	}
	return endpointOther
}
