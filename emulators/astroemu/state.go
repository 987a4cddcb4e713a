package astroemu

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// apiError is an error the emulator answers with its status and message.
type apiError struct {
	status  int
	message string
}

func (e *apiError) Error() string { return e.message }

func badRequest(format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, message: fmt.Sprintf(format, args...)}
}

// tokenEntry is immutable once published: a change replaces the entry, so readers may keep
// using an entry (and its pre-rendered JSON) after releasing the lock.
type tokenEntry struct {
	tok  Token
	wire []byte
}

func newTokenEntry(t Token) *tokenEntry { return &tokenEntry{tok: t, wire: renderToken(t)} }

// before is the default list order: creation time, then ID.
func (e *tokenEntry) before(o *tokenEntry) bool {
	if c := e.tok.CreatedAt.Compare(o.tok.CreatedAt); c != 0 {
		return c < 0
	}
	return e.tok.ID < o.tok.ID
}

type sortedView struct {
	version uint64
	entries []*tokenEntry
}

// state is the organization's data. Lists walk a slice kept in default order, so a page needs
// no sort; custom sorts are cached until the next change.
type state struct {
	mu         sync.RWMutex
	tokens     map[string]*tokenEntry
	order      []*tokenEntry
	workspaces map[string]Workspace
	wsOrder    []Workspace
	version    uint64

	sortMu sync.Mutex
	sorted map[string]sortedView
}

func newState() *state {
	return &state{
		tokens:     map[string]*tokenEntry{},
		workspaces: map[string]Workspace{},
		sorted:     map[string]sortedView{},
	}
}

// putTokenLocked inserts or replaces a token, keeping order sorted. Appending in creation order
// (the common case when seeding) is O(1).
func (s *state) putTokenLocked(t Token) {
	e := newTokenEntry(t)
	if old, ok := s.tokens[t.ID]; ok {
		i := s.indexLocked(old)
		if old.tok.CreatedAt.Equal(t.CreatedAt) {
			s.order[i] = e
			s.tokens[t.ID] = e
			s.version++
			return
		}
		s.order = slices.Delete(s.order, i, i+1)
	}
	s.tokens[t.ID] = e
	if n := len(s.order); n == 0 || s.order[n-1].before(e) {
		s.order = append(s.order, e)
	} else {
		i, _ := slices.BinarySearchFunc(s.order, e, compareEntries)
		s.order = slices.Insert(s.order, i, e)
	}
	s.version++
}

func compareEntries(a, b *tokenEntry) int {
	if c := a.tok.CreatedAt.Compare(b.tok.CreatedAt); c != 0 {
		return c
	}
	return strings.Compare(a.tok.ID, b.tok.ID)
}

func (s *state) indexLocked(e *tokenEntry) int {
	i, found := slices.BinarySearchFunc(s.order, e, compareEntries)
	if found && s.order[i] == e {
		return i
	}
	return slices.Index(s.order, e)
}

func (s *state) removeToken(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.tokens[id]
	if !ok {
		return false
	}
	i := s.indexLocked(e)
	s.order = slices.Delete(s.order, i, i+1)
	delete(s.tokens, id)
	s.version++
	return true
}

func (s *state) token(id string) (Token, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, ok := s.tokens[id]
	if !ok {
		return Token{}, false
	}
	return e.tok.clone(), true
}

func (s *state) tokenWire(id string) ([]byte, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, ok := s.tokens[id]
	if !ok {
		return nil, false
	}
	return e.wire, true
}

func (s *state) allTokens() []Token {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Token, len(s.order))
	for i, e := range s.order {
		out[i] = e.tok.clone()
	}
	return out
}

func (s *state) putWorkspaceLocked(ws Workspace) {
	if _, ok := s.workspaces[ws.ID]; ok {
		s.wsOrder = slices.DeleteFunc(s.wsOrder, func(o Workspace) bool { return o.ID == ws.ID })
	}
	s.workspaces[ws.ID] = ws
	i, _ := slices.BinarySearchFunc(s.wsOrder, ws, compareWorkspaces)
	s.wsOrder = slices.Insert(s.wsOrder, i, ws)
}

func compareWorkspaces(a, b Workspace) int {
	if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

func (s *state) allWorkspaces() []Workspace {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Clone(s.wsOrder)
}

// replaceRoles swaps a token's whole role list, as POST .../roles does. validate is false for
// "outside changes" made by tests, which may set up states the API would refuse.
func (s *state) replaceRoles(orgID, id string, roles []Role, by Subject, now time.Time, validate bool) (Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.tokens[id]
	if !ok {
		return Token{}, &apiError{status: http.StatusNotFound, message: fmt.Sprintf("API token %q not found", id)}
	}
	if validate {
		if err := validateRoles(orgID, e.tok, roles, s.workspaces); err != nil {
			return Token{}, err
		}
	}
	t := e.tok.clone()
	t.Roles = slices.Clone(roles)
	t.UpdatedAt = now
	t.UpdatedBy = by
	s.putTokenLocked(t)
	return t.clone(), nil
}

type tokenQuery struct {
	workspaceID  string
	deploymentID string
	orgOnly      bool
	offset       int
	limit        int
	sorts        []string
}

func (q tokenQuery) matches(t *Token) bool {
	if q.orgOnly && t.Type != TypeOrganization {
		return false
	}
	if q.workspaceID != "" && !slices.ContainsFunc(t.Roles, func(r Role) bool {
		return r.EntityType == EntityWorkspace && r.EntityID == q.workspaceID
	}) {
		return false
	}
	if q.deploymentID != "" && !slices.ContainsFunc(t.Roles, func(r Role) bool {
		return (r.EntityType == EntityDeployment && r.EntityID == q.deploymentID) ||
			((r.EntityType == EntityDAG || r.EntityType == EntityDAGTag) && r.DeploymentID == q.deploymentID)
	}) {
		return false
	}
	return true
}

// listTokens returns the rendered tokens of one page and the number of matches.
func (s *state) listTokens(q tokenQuery) ([][]byte, int, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if q.workspaceID != "" {
		if _, ok := s.workspaces[q.workspaceID]; !ok {
			return nil, 0, &apiError{status: http.StatusNotFound, message: fmt.Sprintf("workspace %q not found", q.workspaceID)}
		}
	}
	entries := s.order
	if len(q.sorts) > 0 {
		entries = s.sortedLocked(q.sorts)
	}
	page := make([][]byte, 0, min(q.limit, len(entries)))
	total := 0
	for _, e := range entries {
		if !q.matches(&e.tok) {
			continue
		}
		if total >= q.offset && total < q.offset+q.limit {
			page = append(page, e.wire)
		}
		total++
	}
	return page, total, nil
}

// sortedLocked needs s.mu held (read is enough): the version cannot move while it runs.
func (s *state) sortedLocked(sorts []string) []*tokenEntry {
	key := strings.Join(sorts, ",")
	s.sortMu.Lock()
	defer s.sortMu.Unlock()
	if v, ok := s.sorted[key]; ok && v.version == s.version {
		return v.entries
	}
	entries := slices.Clone(s.order)
	// Stable over the default order, so ties keep creation order.
	slices.SortStableFunc(entries, func(a, b *tokenEntry) int {
		for _, sk := range sorts {
			field, dir, _ := strings.Cut(sk, ":")
			c := compareTokenField(&a.tok, &b.tok, field)
			if dir == "desc" {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return 0
	})
	s.sorted[key] = sortedView{version: s.version, entries: entries}
	return entries
}

var tokenSorts = []string{
	"name:asc", "name:desc", "description:asc", "description:desc", "createdAt:asc", "createdAt:desc",
	"updatedAt:asc", "updatedAt:desc", "tokenStartAt:asc", "tokenStartAt:desc",
}

func compareTokenField(a, b *Token, field string) int {
	switch field {
	case "name":
		return cmp.Compare(a.Name, b.Name)
	case "description":
		return cmp.Compare(a.Description, b.Description)
	case "createdAt":
		return a.CreatedAt.Compare(b.CreatedAt)
	case "updatedAt":
		return a.UpdatedAt.Compare(b.UpdatedAt)
	case "tokenStartAt":
		return a.StartAt.Compare(b.StartAt)
	}
	return 0
}

type workspaceQuery struct {
	ids    []string
	names  []string
	offset int
	limit  int
	sorts  []string
}

var workspaceSorts = []string{"name:asc", "name:desc", "createdAt:asc", "createdAt:desc", "updatedAt:asc", "updatedAt:desc"}

func (s *state) listWorkspaces(q workspaceQuery) ([]Workspace, int) {
	s.mu.RLock()
	all := slices.Clone(s.wsOrder)
	s.mu.RUnlock()
	all = slices.DeleteFunc(all, func(ws Workspace) bool {
		return (len(q.ids) > 0 && !slices.Contains(q.ids, ws.ID)) ||
			(len(q.names) > 0 && !slices.Contains(q.names, ws.Name))
	})
	if len(q.sorts) > 0 {
		slices.SortStableFunc(all, func(a, b Workspace) int {
			for _, sk := range q.sorts {
				field, dir, _ := strings.Cut(sk, ":")
				var c int
				switch field {
				case "name":
					c = cmp.Compare(a.Name, b.Name)
				case "createdAt":
					c = a.CreatedAt.Compare(b.CreatedAt)
				case "updatedAt":
					c = a.UpdatedAt.Compare(b.UpdatedAt)
				}
				if dir == "desc" {
					c = -c
				}
				if c != 0 {
					return c
				}
			}
			return 0
		})
	}
	total := len(all)
	start := min(q.offset, total)
	end := min(start+q.limit, total)
	return all[start:end], total
}
