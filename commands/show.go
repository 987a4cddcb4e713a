package commands

import (
	"context"
	"errors"
	"fmt"

	"github.com/orgtoken/orgtoken-bot/astro"
	"github.com/orgtoken/orgtoken-bot/policy"
	"github.com/orgtoken/orgtoken-bot/reply"
)

// runShow shows one token and every role it holds. One list read finds it by ID or name among
// Organization tokens; an ID not in that list (a Workspace- or Deployment-scoped token) is read
// directly.
func runShow(ctx context.Context, s *Service, req Request, a *args) (reply.Reply, error) {
	key := a.Positionals[0]
	if _, err := s.authorize(ctx, policy.Input{UserID: req.UserID, ChannelID: req.ChannelID, Action: policy.ActionShow}); err != nil {
		return reply.Reply{}, err
	}
	tok, err := s.showTarget(ctx, key)
	if err != nil {
		return reply.Reply{}, err
	}
	if _, err := s.workspaces.load(ctx); err != nil {
		s.log.WarnContext(ctx, "could not read workspace names", "err", err)
	}
	return s.showExtras(ctx, tok, s.showReply(tok)), nil
}

// showTarget reads the token key names, by ID or exact name, with every field show prints. It
// reads the organization's tokens in full, one request of its own, rather than join the read
// that changes by name share, which decodes only summaries.
func (s *Service) showTarget(ctx context.Context, key string) (*astro.Token, error) {
	all, err := s.tokens.ListAllTokens(ctx, orgTokensOptions)
	if err != nil {
		return nil, astroFailure(err)
	}
	var named []int
	for i := range all {
		if all[i].ID == key {
			return &all[i], nil
		}
		if sameName(all[i].Name, key) {
			named = append(named, i)
		}
	}
	if len(named) == 1 {
		return &all[named[0]], nil
	}
	// No single match: answer as a change by name would (close matches, or the tokens sharing
	// the name), unless key is the ID of a token outside the list.
	sums := make([]astro.TokenSummary, len(all))
	for i := range all {
		sums[i] = astro.SummaryOf(all[i])
	}
	_, err = s.pickByName(sums, key)
	if e := (*Error)(nil); errors.As(err, &e) && e.Code == ENotFound && idPattern.MatchString(key) {
		direct, getErr := s.tokens.GetToken(ctx, key)
		switch {
		case getErr == nil:
			return direct, nil
		case !astro.IsNotFound(getErr):
			return nil, astroFailure(getErr)
		}
	}
	return nil, err
}

func (s *Service) showReply(t *astro.Token) reply.Reply {
	now := s.now()
	r := reply.Reply{Visibility: reply.Ephemeral, Title: "Token " + t.Name}
	r.Fields = []reply.Field{
		{Label: "ID", Value: t.ID},
		{Label: "Scope", Value: t.Type},
		{Label: "Description", Value: t.Description},
	}
	if !t.CreatedAt.IsZero() {
		created := fmt.Sprintf("%s (%s)", relativeTime(t.CreatedAt, now), t.CreatedAt.UTC().Format("2006-01-02"))
		if by := t.CreatedBy.DisplayName(); by != "" {
			created += " by " + by
		}
		r.Fields = append(r.Fields, reply.Field{Label: "Created", Value: created})
	}
	if !t.UpdatedAt.IsZero() {
		updated := relativeTime(t.UpdatedAt, now)
		if by := t.UpdatedBy.DisplayName(); by != "" {
			updated += " by " + by
		}
		r.Fields = append(r.Fields, reply.Field{Label: "Updated", Value: updated})
	}
	// Astro leaves out lastUsedAt for a token never used and endAt for one that never expires;
	// a field left out would not tell those apart from something the bot failed to show.
	lastUsed := "never"
	if t.LastUsedAt != nil {
		lastUsed = relativeTime(*t.LastUsedAt, now)
	}
	r.Fields = append(r.Fields, reply.Field{Label: "Last used", Value: lastUsed})
	if t.EndAt == nil {
		r.Fields = append(r.Fields, reply.Field{Label: "Expires", Value: "never"})
	} else {
		end := reply.Field{Label: "Expires", Value: t.EndAt.UTC().Format("2006-01-02 15:04 MST")}
		if !t.EndAt.After(now) {
			// A token past its end no longer works: "Expires" a date gone by reads as still valid.
			end = reply.Field{Label: "Expired", Value: end.Value + " (" + relativeTime(*t.EndAt, now) + ")"}
		}
		r.Fields = append(r.Fields, end)
	}
	table := &reply.Table{Columns: []string{"ENTITY", "ENTITY ID", "ROLE"}, KeyColumn: 2, Total: len(t.Roles)}
	for _, role := range t.Roles {
		id := role.EntityID
		if role.EntityType == astro.EntityWorkspace {
			id = s.workspaceLabel(id)
		}
		if role.DeploymentID != "" {
			id += " (deployment " + role.DeploymentID + ")"
		}
		table.Rows = append(table.Rows, []string{role.EntityType, id, role.Role})
	}
	r.Table = table
	if len(t.Roles) == 0 {
		r.Notes = append(r.Notes, reply.Para("This token has no roles."))
	}
	return r
}
