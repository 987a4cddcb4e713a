package commands

import (
	"context"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/orgtoken/orgtoken-bot/astro"
)

// CatalogSource is what the catalog reads; *astro.Client satisfies it.
type CatalogSource interface {
	ListAllTokens(ctx context.Context, opts astro.ListTokensOptions) ([]astro.Token, error)
	ListWorkspaces(ctx context.Context) ([]astro.Workspace, error)
}

// Choice is one option of a picker: Value is what a selection sends back (an ID), Label what
// people read.
type Choice struct {
	Value       string
	Label       string
	Description string
}

// Catalog is an in-memory index of Organization tokens and workspaces for pickers. It is
// refreshed in the background because Slack wants type-ahead options inside the 3-second ack of
// the request that asks for them, which leaves no room for an Astro call. Its data is only ever
// used to offer choices: every command re-reads the token before it decides or writes anything.
type Catalog struct {
	src CatalogSource
	log *slog.Logger

	mu         sync.RWMutex
	tokens     []catalogToken
	workspaces []astro.Workspace
	refreshed  time.Time
}

type catalogToken struct {
	id, name, lower string
	roles           []astro.Role
}

// NewCatalog returns an empty catalog; call Refresh or Run to fill it.
func NewCatalog(src CatalogSource, log *slog.Logger) *Catalog {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Catalog{src: src, log: log}
}

// Refresh reloads tokens and workspaces (two Astro requests for an organization of up to
// 1,000 tokens).
func (c *Catalog) Refresh(ctx context.Context) error {
	toks, err := c.src.ListAllTokens(ctx, astro.ListTokensOptions{IncludeOnlyOrganizationTokens: true, Limit: astro.MaxPageSize})
	if err != nil {
		return err
	}
	wss, err := c.src.ListWorkspaces(ctx)
	if err != nil {
		return err
	}
	idx := make([]catalogToken, 0, len(toks))
	for _, t := range toks {
		idx = append(idx, catalogToken{id: t.ID, name: t.Name, lower: strings.ToLower(t.Name), roles: workspaceRoles(t.Roles)})
	}
	sort.Slice(idx, func(i, j int) bool {
		if idx[i].lower != idx[j].lower {
			return idx[i].lower < idx[j].lower
		}
		return idx[i].id < idx[j].id
	})
	sort.Slice(wss, func(i, j int) bool { return strings.ToLower(wss[i].Name) < strings.ToLower(wss[j].Name) })
	c.mu.Lock()
	c.tokens, c.workspaces, c.refreshed = idx, wss, time.Now()
	c.mu.Unlock()
	return nil
}

// Run refreshes the catalog now and then every interval until ctx ends.
func (c *Catalog) Run(ctx context.Context, every time.Duration) {
	for {
		if err := c.Refresh(ctx); err != nil && ctx.Err() == nil {
			c.log.Warn("could not refresh the token catalog for pickers", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

// SuggestTokens returns up to limit tokens whose name or ID contains query (case-insensitive),
// names starting with the query first.
func (c *Catalog) SuggestTokens(query string, limit int) []Choice {
	q := strings.ToLower(strings.TrimSpace(query))
	c.mu.RLock()
	defer c.mu.RUnlock()
	var prefix, other []Choice
	for _, t := range c.tokens {
		switch {
		case strings.HasPrefix(t.lower, q):
			prefix = append(prefix, Choice{Value: t.id, Label: t.name, Description: t.id})
		case strings.Contains(t.lower, q) || strings.Contains(strings.ToLower(t.id), q):
			other = append(other, Choice{Value: t.id, Label: t.name, Description: t.id})
		}
		if len(prefix) >= limit {
			break
		}
	}
	out := append(prefix, other...)
	if len(out) > limit {
		out = out[:limit]
	}
	return out
}

// Workspaces lists workspaces by name.
func (c *Catalog) Workspaces() []Choice {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]Choice, 0, len(c.workspaces))
	for _, w := range c.workspaces {
		out = append(out, Choice{Value: w.ID, Label: w.Name, Description: w.ID})
	}
	return out
}

// TokenName returns the catalogued name of a token, or "".
func (c *Catalog) TokenName(id string) string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, t := range c.tokens {
		if t.id == id {
			return t.name
		}
	}
	return ""
}

// workspaceRoles copies the workspace entries of roles into a slice of their own. The catalog
// lives as long as the bot: kept as read, its lists would hold on to however the reader
// allocated them (the JSON decoder's room for ten roles a token, ≈ 0.8 MB for 1,000 tokens,
// before astro packed a page's roles), and to entries pickers never look at.
func workspaceRoles(roles []astro.Role) []astro.Role {
	n := 0
	for _, r := range roles {
		if r.EntityType == astro.EntityWorkspace {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	out := make([]astro.Role, 0, n)
	for _, r := range roles {
		if r.EntityType == astro.EntityWorkspace {
			out = append(out, r)
		}
	}
	return out
}

// CurrentRole is the token's role in a workspace as last catalogued ("" when none or unknown).
func (c *Catalog) CurrentRole(tokenID, workspaceID string) string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, t := range c.tokens {
		if t.id == tokenID {
			return astro.WorkspaceRoleOf(t.roles, workspaceID)
		}
	}
	return ""
}
