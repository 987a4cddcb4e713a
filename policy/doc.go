// Package policy decides who may do what to which token role, and what needs approval.
// Decisions are pure functions of the policy and an Input: no I/O happens here, so the caller
// resolves Slack user-group membership first and passes it in.
//
// # Policy file
//
// The bot reads a YAML policy from the file named by ORGTOKEN_POLICY_FILE. When none is set it
// uses the built-in policy of [FromAdmins]. A file that fails validation is rejected whole: the
// bot refuses to start, and every problem is reported at once as "FILE:LINE: KEY: problem".
// testdata/example.yaml is a complete, commented example.
//
// Top-level keys (no others are accepted):
//
//	groups:    optional. Named sets of Slack IDs: users (U…, W…) and user groups (S…).
//	           Names start with a lower-case letter and use a-z, 0-9, '-', '_', '.', so they
//	           can never be mistaken for Slack IDs. "everyone" is reserved. Groups cannot nest.
//	channels:  optional. Channel IDs (C…, G…) where /orgtoken may be used, each optionally with a
//	           default workspace ID: { workspace: clws… }. Without this section every channel is
//	           allowed. It does not restrict approval buttons, which live in approval channels.
//	rules:     required, non-empty list. Read top to bottom; the first rule that allows the
//	           request decides it. When none does, the request is denied.
//
// Rule keys:
//
//	name:          optional label, unique, shown in explanations and audit.
//	actions:       required. Any of list, show, add, update, remove. (approve is not a rule
//	               action: a rule's approval.approvers decide who may approve.)
//	roles:         optional filter: WORKSPACE_MEMBER, WORKSPACE_AUTHOR, WORKSPACE_OPERATOR,
//	               WORKSPACE_OWNER. For add and update it matches the requested role; for remove
//	               it matches the role being removed (Input.CurrentRole).
//	workspaces:    optional filter of workspace IDs (not names: the caller resolves names).
//	direction:     optional filter: grant, upgrade, downgrade, revoke, same. The direction is
//	               computed from the current role to the requested one along
//	               MEMBER < AUTHOR < OPERATOR < OWNER (see [DirectionOf]); remove always revokes.
//	channels:      optional filter of channel IDs where the rule applies; each must also be listed
//	               in the top-level channels section when that section exists.
//	who:           required. "everyone", or a list of group names and raw Slack IDs (U…, W…, S…).
//	approval:      optional. The change is allowed only after approval:
//	                 approvers:      required list of group names whose members may approve.
//	                 count:          distinct approvers needed, not counting the requester
//	                                 (default 1). When the approver groups list only users it
//	                                 must be satisfiable, also for approvers who may request.
//	                 channel:        required channel ID where the request is posted.
//	                 expires_after:  how long the request stays open (Go duration, default 24h).
//	                 require_reason: true if the requester must give --reason.
//	max_elevation: optional Go duration capping time-boxed elevation under this rule; the bot
//	               then makes a change that raises a role only time-boxed.
//	confirm:       optional; true marks the change high-risk: the requester must type a
//	               confirmation.
//
// roles, direction, approval, max_elevation and confirm describe changes, so a rule using them
// may not list list or show among its actions.
//
// # Matching
//
// A rule applies when the request matches all of its filters (actions, roles, workspaces,
// direction, channels) AND the requester is in its who. A rule whose filters match but whose who
// excludes the requester is skipped, and later rules are still tried; who works like a
// firewall's source address, not like a lock on the request. This allows the common layering
// "admins may do X directly; everyone else may do X with approval". The price is that order
// matters: put stricter rules for a request first, and make sure a broader rule further down is
// meant to catch those the stricter rule's who leaves out. Deny reasons name the rules that
// covered the request but excluded the requester, so a surprising decision is easy to trace.
//
// When the channels section exists, a request from any other channel (or from no channel) is
// denied before rules are read. So is a request without a user ID, an unknown action, or an add
// or update without a valid role (exact upper-case names: the caller normalises what people
// type). Action approve never goes through rules: [Policy.CanApprove] decides it from the
// Approval the original request carried, which names its Requester.
//
// # Command line
//
// [RunCLI] implements "orgtoken-bot policy check FILE" (validate, list every problem) and
// "orgtoken-bot policy explain FILE --user U… --action A [--role R] [--current-role R]
// [--workspace W] [--channel C] [--groups S1,S2]" (show the decision, the rule, and who may
// approve). add and update need --role; update and remove need --current-role (add is for a
// token with no role in the workspace): anything else is a usage error, as the bot never decides
// it. Exit status: 0 valid or allowed, 1 invalid file, 2 usage, 3 denied.
package policy
