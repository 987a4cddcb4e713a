package bot

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/orgtoken/orgtoken-bot/commands"
)

// A button click is counted under the subcommand it stands for in orgtoken_commands_total, as
// typing it is: the Revert now button under revert-now, not "now" (which the metrics record as
// other).
func TestActionVerbNamesTheSubcommand(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "approve", actionVerb(commands.ActionApprove))
	assert.Equal(t, "deny", actionVerb(commands.ActionDeny))
	assert.Equal(t, "revert-now", actionVerb(commands.ActionRevertNow))
}
