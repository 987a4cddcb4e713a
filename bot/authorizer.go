package bot

import (
	"context"

	"github.com/orgtoken/orgtoken-bot/policy"
)

// Authorizer decides with the policy after resolving, live, the Slack user groups the policy
// refers to. A failed lookup is an error, never a guess, so the command is refused.
type Authorizer struct {
	Policy *policy.Policy
	Groups *GroupResolver
}

// Decide implements the command layer's Authorizer.
func (a *Authorizer) Decide(ctx context.Context, in policy.Input) (policy.Decision, error) {
	groups, err := a.userGroups(ctx, in.UserID)
	if err != nil {
		return policy.Decision{}, err
	}
	in.UserGroups = groups
	return a.Policy.Decide(in), nil
}

// CanApprove reports whether userID is, right now, an eligible approver for ap.
func (a *Authorizer) CanApprove(ctx context.Context, userID string, ap policy.Approval) (bool, error) {
	groups, err := a.userGroups(ctx, userID)
	if err != nil {
		return false, err
	}
	return a.Policy.CanApprove(userID, groups, ap), nil
}

func (a *Authorizer) userGroups(ctx context.Context, userID string) ([]string, error) {
	referenced := a.Policy.SlackUserGroups()
	if len(referenced) == 0 {
		return nil, nil
	}
	return a.Groups.GroupsOf(ctx, userID, referenced)
}
