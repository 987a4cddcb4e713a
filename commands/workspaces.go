package commands

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/orgtoken/orgtoken-bot/astro"
	"github.com/orgtoken/orgtoken-bot/reply"
)

// Workspaces lists the organization's workspaces, so people can name them by name and replies
// can show names; *astro.Client satisfies it.
type Workspaces interface {
	ListWorkspaces(ctx context.Context) ([]astro.Workspace, error)
}

// workspaceTTL is how long the workspace list is reused. Workspaces are created and renamed
// rarely, and a stale name only mislabels a reply; IDs are what the bot acts on.
const workspaceTTL = time.Minute

// workspaceRecheck is how old a list may be before a name or ID it lacks is looked up again.
const workspaceRecheck = 5 * time.Second

// workspaceCache holds the last workspace list read. A burst of commands shares one read.
type workspaceCache struct {
	src   Workspaces // nil: names are unknown and only IDs are accepted
	now   Clock
	group singleflight.Group

	mu      sync.Mutex
	byID    map[string]astro.Workspace
	ordered []astro.Workspace
	read    time.Time
}

// load returns the workspaces, reading them again when the copy is older than workspaceTTL.
func (c *workspaceCache) load(ctx context.Context) ([]astro.Workspace, error) {
	return c.loadFresh(ctx, workspaceTTL)
}

// loadFresh is load with a copy no older than maxAge.
func (c *workspaceCache) loadFresh(ctx context.Context, maxAge time.Duration) ([]astro.Workspace, error) {
	if c.src == nil {
		return nil, nil
	}
	c.mu.Lock()
	if c.byID != nil && c.now().Sub(c.read) < maxAge {
		out := c.ordered
		c.mu.Unlock()
		return out, nil
	}
	c.mu.Unlock()
	v, err, _ := c.group.Do("all", func() (any, error) {
		// The read must not end with the one caller that happened to start it.
		readCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		defer cancel()
		ws, err := c.src.ListWorkspaces(readCtx)
		if err != nil {
			return nil, err
		}
		slices.SortFunc(ws, func(a, b astro.Workspace) int {
			return cmp.Or(cmp.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)), cmp.Compare(a.ID, b.ID))
		})
		byID := make(map[string]astro.Workspace, len(ws))
		for _, w := range ws {
			byID[w.ID] = w
		}
		c.mu.Lock()
		c.byID, c.ordered, c.read = byID, ws, c.now()
		c.mu.Unlock()
		return ws, nil
	})
	if err != nil {
		return nil, err
	}
	return v.([]astro.Workspace), nil
}

// name returns the cached name of a workspace, or "" when it is not known. It never reads, so
// it can label a reply after the command has loaded the list.
func (c *workspaceCache) name(id string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byID[id].Name
}

// workspaceFor picks the workspace a command acts on: the one given by --workspace or
// --workspace-id (an ID or a name), else the channel's default from the policy, else the bot's
// default. It returns the workspace's ID.
func (s *Service) workspaceFor(ctx context.Context, req Request, a *args) (string, error) {
	if a.WorkspaceID != "" {
		return s.resolveWorkspace(ctx, a.WorkspaceID)
	}
	ws := ""
	if s.channelDefault != nil {
		ws = s.channelDefault(req.ChannelID)
	}
	if ws == "" {
		ws = s.defaultWS
	}
	if ws == "" {
		return "", &Error{Code: EInvalid, Message: "No workspace given and no default workspace is configured for this channel.",
			Hint: `Add --workspace "Workspace name" (or -w WORKSPACE_ID).`}
	}
	// Load the names so the reply can show which workspace it is about; a failure only costs
	// the name.
	if _, err := s.workspaces.load(ctx); err != nil {
		s.log.WarnContext(ctx, "could not read workspace names", "err", err)
	}
	return ws, nil
}

// resolveWorkspace turns what someone typed into a workspace ID: an exact ID, else a name
// (ignoring case). When the list cannot be read, text that looks like an ID is used as is, so
// Astro being slow to list workspaces never blocks a change by ID.
func (s *Service) resolveWorkspace(ctx context.Context, typed string) (string, error) {
	typed = strings.TrimSpace(typed)
	all, err := s.workspaces.load(ctx)
	if err != nil || s.workspaces.src == nil {
		if idPattern.MatchString(typed) {
			if err != nil {
				s.log.WarnContext(ctx, "could not read workspace names; using the ID as given", "err", err)
			}
			return typed, nil
		}
		if err != nil {
			return "", astroFailure(err)
		}
		return "", &Error{Code: EInvalid, Message: fmt.Sprintf("%s is not a workspace ID.", quote(typed)),
			Hint: "This bot cannot look workspaces up by name; give the workspace's ID."}
	}
	named, found := matchWorkspace(all, typed)
	if !found {
		// A workspace created since the list was read should not be refused for a minute.
		if fresh, err := s.workspaces.loadFresh(ctx, workspaceRecheck); err == nil {
			all = fresh
			named, found = matchWorkspace(all, typed)
		}
	}
	if found {
		return named[0].ID, nil
	}
	if len(named) == 0 {
		if idPattern.MatchString(typed) && len(all) == 0 {
			return typed, nil
		}
		return "", s.noSuchWorkspace(all, typed)
	}
	e := &Error{Code: EAmbiguous, Message: fmt.Sprintf("%d workspaces are named %s.", len(named), quote(typed)),
		Hint: "Give the ID of the one you mean with -w WORKSPACE_ID."}
	for _, w := range named[:min(len(named), 10)] {
		e.Details = append(e.Details, reply.Line{reply.Text("• "), reply.Strong(reply.Truncate(w.Name, 80)), reply.Text(" "), reply.Literal(w.ID)})
	}
	return "", e
}

// matchWorkspace finds typed among the workspaces: found is true for an exact ID or a single
// name match (ignoring case and, as sameName, quote style), named[0] being the one. Several name
// matches come back unfound.
func matchWorkspace(all []astro.Workspace, typed string) (named []astro.Workspace, found bool) {
	for _, w := range all {
		if w.ID == typed {
			return []astro.Workspace{w}, true
		}
	}
	for _, w := range all {
		if strings.EqualFold(foldQuotes(strings.TrimSpace(w.Name)), foldQuotes(typed)) {
			named = append(named, w)
		}
	}
	return named, len(named) == 1
}

func (s *Service) noSuchWorkspace(all []astro.Workspace, typed string) *Error {
	e := &Error{Code: ENotFound, Message: fmt.Sprintf("No workspace has the name or ID %s.", quote(typed))}
	want := strings.ToLower(foldQuotes(typed))
	var close []astro.Workspace
	for _, w := range all {
		got := strings.ToLower(foldQuotes(w.Name))
		if strings.Contains(got, want) || strings.Contains(want, got) && got != "" ||
			len(got) < 200 && len(want) < 200 && editDistance(got, want) <= max(2, len([]rune(want))/4) {
			close = append(close, w)
		}
	}
	if len(close) == 0 {
		names := make([]string, 0, min(len(all), 8))
		for _, w := range all[:min(len(all), 8)] {
			names = append(names, quote(w.Name))
		}
		if len(names) > 0 {
			e.Hint = "Workspaces: " + strings.Join(names, ", ")
			if len(all) > len(names) {
				e.Hint += fmt.Sprintf(" and %d more", len(all)-len(names))
			}
			e.Hint += "."
		}
		return e
	}
	e.Details = append(e.Details, reply.Para("Did you mean:"))
	for _, w := range close[:min(len(close), 5)] {
		e.Details = append(e.Details, reply.Line{reply.Text("• "), reply.Strong(reply.Truncate(w.Name, 80)), reply.Text(" "), reply.Literal(w.ID)})
	}
	return e
}

// workspaceLabel names a workspace for a reply: "Data Platform (clws…)", or the bare ID when
// its name is not known.
func (s *Service) workspaceLabel(id string) string {
	if name := s.workspaces.name(id); name != "" {
		return name + " (" + id + ")"
	}
	return id
}

// workspaceSpans is workspaceLabel as styled spans: the name in bold, the ID as code.
func (s *Service) workspaceSpans(id string) reply.Line {
	if name := s.workspaces.name(id); name != "" {
		return reply.Line{reply.Strong(reply.Truncate(name, 100)), reply.Text(" ("), reply.Literal(id), reply.Text(")")}
	}
	return reply.Line{reply.Literal(id)}
}

// where is " in workspace Data Platform (clws…)" for a change's replies; the bare ID when the
// name is not known.
func (c change) where() reply.Line {
	return concat(reply.Line{reply.Text(" in workspace ")}, c.wsSpans())
}

// whereFrom is " from workspace …", as where.
func (c change) whereFrom() reply.Line {
	return concat(reply.Line{reply.Text(" from workspace ")}, c.wsSpans())
}

func (c change) wsSpans() reply.Line {
	if c.wsName == "" {
		return reply.Line{reply.Literal(c.workspace)}
	}
	return reply.Line{reply.Strong(reply.Truncate(c.wsName, 100)), reply.Text(" ("), reply.Literal(c.workspace), reply.Text(")")}
}
