package commands

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/orgtoken/orgtoken-bot/astro"
	"github.com/orgtoken/orgtoken-bot/reply"
)

// orgTokensOptions lists every Organization-scoped token, a full page per request, so an
// organization of up to 1,000 tokens costs one request.
var orgTokensOptions = astro.ListTokensOptions{IncludeOnlyOrganizationTokens: true, Limit: astro.MaxPageSize}

// lockToken finds the token a change names and locks it. The token it returns was read under
// the lock (or, for a name, by a list read the lock vouches for), so its roles are the base for
// the write.
//
// By ID: lock, then GET (1 read). By name, when an earlier list already told which token the
// name stands for: lock it and GET it while the list in flight, shared with other lookups,
// confirms the name (lockPredicted). Otherwise list the organization's tokens to learn the ID (a
// list already in flight is shared), lock, and reuse the listed roles unless the lock was
// released by someone else since the list was requested; only then GET again. So a change costs
// one read of its own plus the write, and two round trips.
func (s *Service) lockToken(ctx context.Context, a *args) (*astro.Token, func(), error) {
	if len(a.Positionals) == 1 {
		id := a.Positionals[0]
		unlock, err := s.locker.LockToken(ctx, id)
		if err != nil {
			return nil, nil, err
		}
		tok, err := s.getToken(ctx, id)
		if err != nil {
			unlock()
			return nil, nil, err
		}
		return tok, unlock, nil
	}

	// Concurrent lookups share one read; the checkpoint is the one taken before it started.
	read, predicted := s.orgTokens.start(ctx, a.Name, true)
	if predicted != "" {
		tok, unlock, err := s.lockPredicted(ctx, read, a.Name, predicted)
		if tok != nil || err != nil {
			return tok, unlock, err
		}
	}
	all, checkpoint, err := s.orgTokens.wait(ctx, read)
	if err != nil {
		return nil, nil, astroFailure(err)
	}
	listed, err := s.pickByName(all, a.Name)
	if err != nil {
		return nil, nil, err
	}
	// Decoded from the shared list, the token is the change's own.
	found, err := listed.Token()
	if err != nil {
		return nil, nil, astroFailure(err)
	}
	unlock, err := s.locker.LockToken(ctx, found.ID)
	if err != nil {
		return nil, nil, err
	}
	if fl, fresh := s.locker.(FreshnessLocker); fresh && !fl.ReleasedSince(found.ID, checkpoint) {
		return found, unlock, nil
	}
	tok, err := s.getToken(ctx, found.ID)
	if err != nil {
		unlock()
		return nil, nil, err
	}
	return tok, unlock, nil
}

// lockPredicted is a change by name whose token an earlier list already named. It locks and
// reads that token while the shared list arrives, then lets the list confirm that the name
// stands for it alone. Both come back within one round trip, since the list went out first. It
// returns no token and no error when the list names another token: the caller then goes on
// from the list, which is ready by then.
func (s *Service) lockPredicted(ctx context.Context, read *listFlight, name, id string) (*astro.Token, func(), error) {
	unlock, err := s.locker.LockToken(ctx, id)
	if err != nil {
		s.orgTokens.leave(read)
		return nil, nil, err
	}
	tok, getErr := s.getToken(ctx, id)
	all, _, err := s.orgTokens.wait(ctx, read)
	if err != nil {
		unlock()
		return nil, nil, astroFailure(err)
	}
	listed, err := s.pickByName(all, name)
	switch {
	case err != nil:
		unlock()
		return nil, nil, err
	case listed.ID != id:
		unlock()
		return nil, nil, nil
	case getErr != nil:
		unlock()
		return nil, nil, getErr
	}
	return tok, unlock, nil
}

// getToken reads a token by ID, saying plainly when there is none.
func (s *Service) getToken(ctx context.Context, id string) (*astro.Token, error) {
	tok, err := s.tokens.GetToken(ctx, id)
	if astro.IsNotFound(err) {
		return nil, &Error{Code: ENotFound, Message: fmt.Sprintf("There is no token with ID %s.", quote(id)),
			Hint: "IDs are listed by " + s.commandName + " list. To pick a token by name, use -n \"Token name\"."}
	}
	if err != nil {
		return nil, astroFailure(err)
	}
	return tok, nil
}

// pickByName returns the one token named exactly name (see sameName), or an error that lists
// the tokens sharing the name, or offers close matches.
func (s *Service) pickByName(all []astro.TokenSummary, name string) (*astro.TokenSummary, error) {
	var matches []*astro.TokenSummary
	quotesDiffer := false
	for i := range all {
		if sameName(all[i].Name, name) {
			matches = append(matches, &all[i])
			quotesDiffer = quotesDiffer || all[i].Name != matches[0].Name
		}
	}
	switch len(matches) {
	case 1:
		return matches[0], nil
	case 0:
		return nil, s.noSuchName(all, name)
	}
	e := &Error{Code: EAmbiguous,
		Message: fmt.Sprintf("%d Organization tokens are named %s.", len(matches), quote(name)),
		Hint:    "Give the ID of the one you mean instead of the name."}
	if quotesDiffer {
		e.Message = fmt.Sprintf("%d Organization tokens are named %s, counting curly and straight quotes as the same.", len(matches), quote(name))
		e.Hint = "Slack may turn ' into ’ as you type, so these names cannot be told apart. " + e.Hint
	}
	slices.SortFunc(matches, func(a, b *astro.TokenSummary) int { return a.CreatedAt.Compare(b.CreatedAt) })
	const shown = 10
	for _, t := range matches[:min(len(matches), shown)] {
		e.Details = append(e.Details, s.tokenLine(t))
	}
	if len(matches) > shown {
		e.Details = append(e.Details, reply.Line{reply.Textf("…and %d more.", len(matches)-shown)})
	}
	return nil, e
}

func (s *Service) noSuchName(all []astro.TokenSummary, name string) *Error {
	e := &Error{Code: ENotFound, Message: fmt.Sprintf("No Organization token is named %s.", quote(name))}
	close := closeMatches(all, name, 5)
	if len(close) == 0 {
		e.Hint = "Names must match exactly. See " + s.commandName + " list."
		return e
	}
	e.Details = append(e.Details, reply.Para("Did you mean:"))
	for _, t := range close {
		e.Details = append(e.Details, s.tokenLine(t))
	}
	e.Hint = "Names must match exactly, including case."
	return e
}

// foldQuotes straightens typographic quotes as splitText does. It allocates only when there is
// one to straighten, which few names have.
func foldQuotes(s string) string {
	if !strings.ContainsAny(s, typographicQuotes) {
		return s
	}
	return quoteStraightener.Replace(s)
}

// sameName reports whether name is the one typed. The parser straightens every quote typed,
// as Slack clients curl them, so a name holding ’ could never match exactly.
func sameName(name, typed string) bool {
	if name == typed {
		return true
	}
	// Every typographic quote starts with byte 0xE2 in UTF-8. Looking for it is what keeps a
	// lookup among 1,000 names at a few microseconds: folding every name costs a hundred
	// times that.
	if strings.IndexByte(name, 0xE2) < 0 && strings.IndexByte(typed, 0xE2) < 0 {
		return false
	}
	return foldQuotes(name) == foldQuotes(typed)
}

// tokenLine describes a token in one line: name, ID and when and by whom it was created.
func (s *Service) tokenLine(t *astro.TokenSummary) reply.Line {
	l := reply.Line{reply.Text("• "), reply.Strong(reply.Truncate(t.Name, 80)), reply.Text(" "), reply.Literal(t.ID)}
	if !t.CreatedAt.IsZero() {
		l = append(l, reply.Text(", created "+relativeTime(t.CreatedAt, s.now())))
		if by := t.CreatedBy().DisplayName(); by != "" {
			l = append(l, reply.Text(" by "+reply.Truncate(by, 60)))
		}
	}
	return l
}

// closeMatches ranks tokens whose names resemble name: equal ignoring case, containing it (or
// contained in it), or a few edits away.
func closeMatches(all []astro.TokenSummary, name string, limit int) []*astro.TokenSummary {
	want := strings.ToLower(foldQuotes(strings.TrimSpace(name)))
	type scored struct {
		t     *astro.TokenSummary
		score int
	}
	var out []scored
	for i := range all {
		got := strings.ToLower(foldQuotes(all[i].Name))
		score := -1
		switch {
		case got == want:
			score = 0
		case want != "" && (strings.Contains(got, want) || strings.Contains(want, got) && got != ""):
			score = 1
		default:
			if len(got) < 200 && len(want) < 200 {
				if d := editDistance(got, want); d <= max(2, len([]rune(want))/4) {
					score = 1 + d
				}
			}
		}
		if score >= 0 {
			out = append(out, scored{&all[i], score})
		}
	}
	slices.SortStableFunc(out, func(a, b scored) int {
		return cmp.Or(cmp.Compare(a.score, b.score), strings.Compare(a.t.Name, b.t.Name))
	})
	res := make([]*astro.TokenSummary, 0, min(len(out), limit))
	for _, sc := range out[:min(len(out), limit)] {
		res = append(res, sc.t)
	}
	return res
}

// relativeTime says how long ago t was, in the largest whole unit: "3 days ago".
func relativeTime(t, now time.Time) string {
	d := now.Sub(t)
	if d < 0 {
		return "just now"
	}
	unit := func(n int, name string) string {
		if n == 1 {
			return "1 " + name + " ago"
		}
		return fmt.Sprintf("%d %ss ago", n, name)
	}
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return unit(int(d/time.Minute), "minute")
	case d < 24*time.Hour:
		return unit(int(d/time.Hour), "hour")
	case d < 30*24*time.Hour:
		return unit(int(d/(24*time.Hour)), "day")
	case d < 365*24*time.Hour:
		return unit(int(d/(30*24*time.Hour)), "month")
	default:
		return unit(int(d/(365*24*time.Hour)), "year")
	}
}
