package bot

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStoredPayloadDropsTheVerificationTokenOnly(t *testing.T) {
	t.Parallel()
	in := `{"token":"legacy-verification-token","team_id":"T0001","user_id":"U0123ABCD","command":"/orgtoken",` +
		`"text":"update -n \"<!channel> & co\" -r operator -w ws-1 \u2014 ok","is_enterprise_install":false,"nested":{"token":"kept"}}`
	var want map[string]any
	require.NoError(t, json.Unmarshal([]byte(in), &want))
	delete(want, "token")

	var got map[string]any
	require.NoError(t, json.Unmarshal(withoutToken(json.RawMessage(in)), &got))
	assert.Equal(t, want, got, "everything but the top-level token survives, quotes and escapes included")
	assert.NotContains(t, string(withoutToken(json.RawMessage(in))), "legacy-verification-token")

	assert.Equal(t, "not json", string(withoutToken(json.RawMessage("not json"))), "a payload that is not an object is kept as it came")
}
