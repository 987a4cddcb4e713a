package astro

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
)

// ListTokens fetches one page of the organization's API tokens.
//
// GET /organizations/{organizationId}/tokens
func (c *Client) ListTokens(ctx context.Context, opts ListTokensOptions) (*TokensPage, error) {
	q, err := tokensQuery(opts)
	if err != nil {
		return nil, err
	}
	// The decoder appends into page.Tokens, doubling from one: sized ahead, a page costs one
	// slice instead of a series (for a 25-token page, 63 tokens' worth). A full page is sized
	// like the last one; a smaller limit bounds the page. Each token gets room for as many
	// roles as the last page's tokens held. The room is made once the answer is in, so a list
	// waiting on Astro holds none.
	page := new(TokensPage)
	sizePage := roomForTokens(&page.Tokens, c.expectedPageLen(opts), c.expectedRoles())
	if err := c.do(ctx, request{method: http.MethodGet, path: c.orgPath("tokens"), query: q, beforeDecode: sizePage}, page); err != nil {
		return nil, err
	}
	c.noteFullPage(opts, len(page.Tokens))
	c.noteRoles(page.Tokens)
	for i := range page.Tokens {
		page.Tokens[i].fillScope()
		fitRoles(&page.Tokens[i])
	}
	if len(page.Tokens) >= internFrom {
		internProfiles(page.Tokens)
	}
	return page, nil
}

// ListTokenSummaries is ListAllTokens for lookups by name or ID: the same requests, each token
// decoded only as far as TokenSummary goes. For a 1,000-token organization that is about three
// quarters of the decoding time and a third of the memory (BenchmarkListTokenSummaries1000).
// The summaries' strings and raw values are views of the answer: keeping any of them keeps
// the whole page, so a caller that keeps some for longer than a command clones them.
//
// GET /organizations/{organizationId}/tokens (repeated with increasing offset)
func (c *Client) ListTokenSummaries(ctx context.Context, opts ListTokensOptions) ([]TokenSummary, error) {
	if opts.Limit <= 0 || opts.Limit > MaxPageSize {
		opts.Limit = MaxPageSize
	}
	return collectPages(ctx, c.logger, "tokens", opts.Offset, opts.Limit, func(offset int) ([]TokenSummary, int, error) {
		opts.Offset = offset
		q, err := tokensQuery(opts)
		if err != nil {
			return nil, 0, err
		}
		var page struct {
			Tokens     []TokenSummary `json:"tokens"`
			TotalCount int            `json:"totalCount"`
		}
		sizePage := roomFor(&page.Tokens, c.expectedPageLen(opts))
		// Views of the answer, not copies: a 1,000-token page decodes in two thirds of the
		// time with a quarter of the allocation (BenchmarkListTokenSummaries1000).
		if err := c.do(ctx, request{method: http.MethodGet, path: c.orgPath("tokens"), query: q, beforeDecode: sizePage, zeroCopy: true}, &page); err != nil {
			return nil, 0, err
		}
		c.noteFullPage(opts, len(page.Tokens))
		for i := range page.Tokens {
			page.Tokens[i].fillScope()
		}
		return page.Tokens, page.TotalCount, nil
	}, func(t TokenSummary) string { return t.ID })
}

func tokensQuery(opts ListTokensOptions) (url.Values, error) {
	if opts.Offset < 0 || opts.Limit < 0 {
		return nil, fmt.Errorf("astro: negative offset (%d) or limit (%d)", opts.Offset, opts.Limit)
	}
	q := url.Values{}
	if opts.WorkspaceID != "" {
		q.Set("workspaceId", opts.WorkspaceID)
	}
	if opts.IncludeOnlyOrganizationTokens {
		q.Set("includeOnlyOrganizationTokens", "true")
	}
	if opts.Offset > 0 {
		q.Set("offset", strconv.Itoa(opts.Offset))
	}
	if opts.Limit > 0 {
		q.Set("limit", strconv.Itoa(min(opts.Limit, MaxPageSize)))
	}
	for _, s := range opts.Sorts {
		q.Add("sorts", s)
	}
	return q, nil
}

// roomFor returns a function that makes room for n elements in *dst (none when n is 0), for a
// request's beforeDecode.
func roomFor[T any](dst *[]T, n int) func() {
	return func() {
		if n > 0 {
			*dst = make([]T, 0, n)
		}
	}
}

// expectedPageLen is how many tokens to make room for before decoding a page (0: let the
// decoder grow the slice): a full page is sized like the last one, a smaller limit bounds it.
func (c *Client) expectedPageLen(opts ListTokensOptions) int {
	if opts.Limit >= MaxPageSize {
		return int(c.fullPageLen.Load())
	}
	return opts.Limit
}

func (c *Client) noteFullPage(opts ListTokensOptions, n int) {
	if opts.Limit >= MaxPageSize {
		c.fullPageLen.Store(int64(n))
	}
}

// internFrom is the page size from which profiles are interned: below it there is little to
// share and the map costs more than it saves.
const internFrom = 100

// internProfiles makes tokens with the same creator or updater share one Profile. A handful of
// people and automations create an organization's tokens, yet each decoded token carries its
// own two copies (≈ 450 bytes with their strings): about half of what a decoded 1,000-token
// organization holds while the commands waiting on it run.
func internProfiles(toks []Token) {
	seen := make(map[Profile]*Profile)
	intern := func(p *Profile) *Profile {
		if p == nil {
			return nil
		}
		if q, ok := seen[*p]; ok {
			return q
		}
		seen[*p] = p
		return p
	}
	for i := range toks {
		toks[i].CreatedBy = intern(toks[i].CreatedBy)
		toks[i].UpdatedBy = intern(toks[i].UpdatedBy)
	}
}

// roomForTokens returns a beforeDecode that makes room for n tokens with k roles each, the
// roles cut from one array. The decoder appends a token's roles into the room its slice
// already has (as encoding/json does), and only a token with more than k gets an array of its
// own; left to itself it gives every token room for ten, 640 bytes for the usual two or three.
func roomForTokens(dst *[]Token, n, k int) func() {
	return func() {
		if n <= 0 {
			return
		}
		toks := make([]Token, n)
		roles := make([]Role, n*k)
		for i := range toks {
			toks[i].Roles = roles[i*k : i*k : (i+1)*k]
		}
		*dst = toks[:0]
	}
}

// fitRoles caps a decoded token's roles at their number, so appending to them (as a role
// change does) copies them instead of writing into the next token's room, and leaves a token
// without roles with none rather than empty room.
func fitRoles(t *Token) {
	if len(t.Roles) == 0 {
		t.Roles = nil
		return
	}
	t.Roles = t.Roles[:len(t.Roles):len(t.Roles)]
}

// maxRoomPerToken bounds the room made for each token's roles, whatever the last page held.
const maxRoomPerToken = 8

// expectedRoles is how many roles to make room for in each token of the next answer: as many
// as the last page's tokens held on average, rounded up; before any page, an Organization
// token's organization role and one workspace role.
func (c *Client) expectedRoles() int {
	if k := c.rolesPerToken.Load(); k > 0 {
		return int(k)
	}
	return 2
}

func (c *Client) noteRoles(toks []Token) {
	if len(toks) == 0 {
		return
	}
	n := 0
	for i := range toks {
		n += len(toks[i].Roles)
	}
	c.rolesPerToken.Store(int64(min(max((n+len(toks)-1)/len(toks), 1), maxRoomPerToken)))
}

// ListAllTokens walks every page from opts.Offset on, MaxPageSize tokens a request unless
// opts.Limit asks for smaller pages, so 2,500 tokens cost 3 requests. A walk that sees the list
// change under it starts over (collectPages), and fails with ErrListKeptChanging if it keeps
// changing.
//
// GET /organizations/{organizationId}/tokens (repeated with increasing offset)
func (c *Client) ListAllTokens(ctx context.Context, opts ListTokensOptions) ([]Token, error) {
	if opts.Limit <= 0 || opts.Limit > MaxPageSize {
		opts.Limit = MaxPageSize
	}
	return collectPages(ctx, c.logger, "tokens", opts.Offset, opts.Limit, func(offset int) ([]Token, int, error) {
		opts.Offset = offset
		page, err := c.ListTokens(ctx, opts)
		if err != nil {
			return nil, 0, err
		}
		return page.Tokens, page.TotalCount, nil
	}, func(t Token) string { return t.ID })
}

// FindTokensByName returns every token (within opts' filters) whose name is exactly name.
// Names are not unique in Astro, so callers must handle zero, one or several matches.
//
// GET /organizations/{organizationId}/tokens (all pages)
func (c *Client) FindTokensByName(ctx context.Context, name string, opts ListTokensOptions) ([]Token, error) {
	all, err := c.ListAllTokens(ctx, opts)
	if err != nil {
		return nil, err
	}
	var matches []Token
	for _, t := range all {
		if t.Name == name {
			matches = append(matches, t)
		}
	}
	return matches, nil
}

// GetToken fetches one token with its current roles.
//
// GET /organizations/{organizationId}/tokens/{tokenId}
func (c *Client) GetToken(ctx context.Context, id string) (*Token, error) {
	if id == "" {
		return nil, errors.New("astro: token ID is empty")
	}
	tok := new(Token)
	k := c.expectedRoles()
	sizeRoles := func() { tok.Roles = make([]Role, 0, k) }
	if err := c.do(ctx, request{method: http.MethodGet, path: c.orgPath("tokens", id), beforeDecode: sizeRoles}, tok); err != nil {
		return nil, err
	}
	tok.fillScope()
	fitRoles(tok)
	return tok, nil
}

// UpdateTokenRoles replaces every role of a token with roles (build the list with
// WithWorkspaceRole so nothing else is lost) and returns the roles the API reports afterwards.
// It is sent again only when the request provably never reached Astro (a 429, a refused
// connection). A replacement is not idempotent over time: the list comes from an earlier read,
// and resending it after the first one landed would undo whatever changed the token in between
// (the Astro UI, Terraform). So when it fails after the request may have reached Astro (a
// 5xx, a reset or timeout once sent), it is not resent and the error is an
// *OutcomeUnknownError: re-read the token before saying what happened.
//
// POST /organizations/{organizationId}/tokens/{tokenId}/roles
func (c *Client) UpdateTokenRoles(ctx context.Context, id string, roles []Role) (*SubjectRoles, error) {
	if id == "" {
		return nil, errors.New("astro: token ID is empty")
	}
	if len(roles) == 0 {
		// The API requires at least one role; an organization token always keeps its
		// ORGANIZATION role, so an empty list means the caller lost it.
		return nil, errors.New("astro: a token must keep at least one role")
	}
	body := struct {
		Roles []Role `json:"roles"`
	}{Roles: roles}
	out := new(SubjectRoles)
	err := c.do(ctx, request{method: http.MethodPost, path: c.orgPath("tokens", id, "roles"), body: body, write: true}, out)
	if err != nil {
		var unknown *OutcomeUnknownError
		if errors.As(err, &unknown) {
			unknown.TokenID = id
		}
		return nil, err
	}
	return out, nil
}

// orgPath builds /organizations/{org}/seg/... with every variable segment escaped.
func (c *Client) orgPath(segments ...string) string {
	p := "/organizations/" + url.PathEscape(c.orgID)
	for _, s := range segments {
		p += "/" + url.PathEscape(s)
	}
	return p
}

// maxWalks bounds how many times a walk page by page starts over because the list moved.
// Each try costs a request a page; three lets a one-off change (a token deleted in the Astro UI)
// cost one more walk, and an organization busy enough to defeat three gets a clear error.
const maxWalks = 3

// ErrListKeptChanging is returned (wrapped) when every try at reading a list page by page saw
// it change under the walk. Trying again later usually succeeds.
var ErrListKeptChanging = errors.New("astro: the list kept changing while it was read page by page")

// errListMoved marks one walk that saw the list change; collectPages starts over on it.
var errListMoved = errors.New("astro: the list changed between two page reads")

// collectPages reads a list page by page from offset, limit items a page, and returns it as one
// consistent read, starting the walk over (up to maxWalks times) when the list moved under it.
//
// Pages are addressed by offset, so a token deleted (or created) ahead of the next offset
// between two reads slides the rest of the list: the next page skips a token (or repeats one).
// A skip is silent, and a lookup by name must not miss the second holder of a name. What a
// walk can see is a totalCount that differs from the first page's, a token it already has, and
// a page boundary that moved: a page read one item early must start with the item the last
// page ended with. That last check catches a deletion paired with a creation, which keeps the
// total; it is made wherever it costs no extra request (the rest of the list is not a whole
// number of pages), so a paired change across any other boundary goes unseen.
//
// A list of n items costs ceil(n/limit) requests a walk: one for the common single page.
func collectPages[T any](ctx context.Context, log *slog.Logger, what string, offset, limit int, fetch func(offset int) ([]T, int, error), key func(T) string) ([]T, error) {
	for walk := 1; walk <= maxWalks; walk++ {
		items, err := walkPages(offset, limit, fetch, key)
		if !errors.Is(err, errListMoved) {
			return items, err
		}
		log.WarnContext(ctx, "astro: list changed while it was read page by page", "list", what, "walk", walk, "max_walks", maxWalks)
	}
	return nil, fmt.Errorf("%w (%s, %d tries)", ErrListKeptChanging, what, maxWalks)
}

// walkPages is one try of collectPages: every page from start, or errListMoved.
func walkPages[T any](start, limit int, fetch func(offset int) ([]T, int, error), key func(T) string) ([]T, error) {
	items, total, err := fetch(start)
	if err != nil {
		return nil, err
	}
	next := start + len(items)
	if len(items) == 0 || len(items) < limit || next >= total {
		return items, nil // one page: nothing can have moved, and nothing to copy
	}
	all := items
	seen := make(map[string]bool, len(items))
	for _, it := range items {
		seen[key(it)] = true
	}
	for {
		// Reading one item early adds no request when the rest is not a whole number of
		// pages (limit 1 never is read early, so every read makes progress).
		early := (total-next)%limit != 0
		at := next
		if early {
			at--
		}
		items, pageTotal, err := fetch(at)
		if err != nil {
			return nil, err
		}
		if pageTotal != total {
			return nil, errListMoved
		}
		got := len(items)
		if early {
			if got == 0 || key(items[0]) != key(all[len(all)-1]) {
				return nil, errListMoved
			}
			items = items[1:]
		}
		for _, it := range items {
			k := key(it)
			if seen[k] {
				return nil, errListMoved // the list slid down, and may also have slid past one
			}
			seen[k] = true
			all = append(all, it)
		}
		next = at + got
		if got == 0 || got < limit || next >= total {
			return all, nil
		}
	}
}
