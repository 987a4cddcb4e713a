package policy

import "time"

// Action is a /orgtoken subcommand that policy governs.
type Action string

const (
	ActionList    Action = "list"
	ActionShow    Action = "show"
	ActionAdd     Action = "add"
	ActionUpdate  Action = "update"
	ActionRemove  Action = "remove"
	ActionApprove Action = "approve" // deciding on someone else's request (approve or deny)
)

// Direction is how a change moves a token along the role ladder MEMBER < AUTHOR < OPERATOR < OWNER.
type Direction string

const (
	DirectionNone      Direction = ""          // not a change (list, show)
	DirectionGrant     Direction = "grant"     // no role before, a role after (add)
	DirectionUpgrade   Direction = "upgrade"   // higher role than before
	DirectionDowngrade Direction = "downgrade" // lower role than before
	DirectionRevoke    Direction = "revoke"    // a role before, none after (remove)
	DirectionSame      Direction = "same"      // the role it already has
	DirectionUnknown   Direction = "unknown"   // a role off the ladder (e.g. a custom role): cannot be ranked
)

// Input is everything a decision depends on.
type Input struct {
	UserID      string   // Slack user ID (U… or W…)
	UserGroups  []string // Slack user-group IDs (S…) the user belongs to, resolved by the caller
	ChannelID   string   // where the command was typed
	Action      Action
	WorkspaceID string
	Role        string // requested role; "" for remove, list, show
	CurrentRole string // the token's role in the workspace now; "" when it has none
}

// Decision is the outcome of Decide.
type Decision struct {
	Allowed  bool      // the action may go ahead (possibly after approval)
	Approval *Approval // non-nil when the change must be approved first
	Rule     RuleRef   // the rule that matched; zero when none did
	Reason   string    // human-readable why, for refusals and explain

	// MaxElevation caps how long a time-boxed elevation granted under this rule may last;
	// 0 means the rule sets no cap.
	MaxElevation time.Duration
	// Confirm means the change is high-risk: the requester must type a confirmation first.
	Confirm bool
}

// NeedsApproval reports whether the change waits for approvers.
func (d Decision) NeedsApproval() bool { return d.Allowed && d.Approval != nil }

// Approval is what a rule requires before a change is applied.
type Approval struct {
	Approvers     []string      // group names from the policy's groups section
	Count         int           // distinct approvers needed
	Channel       string        // Slack channel ID where the request is posted
	ExpiresAfter  time.Duration // how long the request stays open
	RequireReason bool          // the requester must give --reason
	// Requester is the user who asked (set by Decide). CanApprove never counts them as an
	// approver of their own request, so callers that persist an Approval must keep this field.
	Requester string
}

// RuleRef identifies a rule for explanations and audit.
type RuleRef struct {
	Index int    // 1-based position in rules; 0 means no rule matched
	Line  int    // line in the policy file, when loaded from one
	Name  string // optional name given in the file
}
