package bot

import (
	"bytes"
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

func TestStoredPayloadKeepsEverythingButTopLevelTokens(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, in, want string }{
		{"first", `{"token":"x","a":1}`, `{"a":1}`},
		{"middle", `{"a":1,"token":"x","b":[1,{"token":"kept"}]}`, `{"a":1,"b":[1,{"token":"kept"}]}`},
		{"last", `{"a":{"token":"kept"},"token":"x"}`, `{"a":{"token":"kept"}}`},
		{"only", `{"token":"x"}`, `{}`},
		{"twice", `{"a":1,"token":"x","token":"y"}`, `{"a":1}`},
		{"escaped key", `{"tok\u0065n":"x","a":"\u003c!channel\u003e"}`, `{"a":"\u003c!channel\u003e"}`},
		{"spaced", "{ \"a\" : 1 ,\n \"token\" : \"x\" ,\n \"b\" : 2 }", "{ \"a\" : 1 ,\"b\" : 2 }"},
		{"no token", `{"a":1,"tokens":["x"]}`, `{"a":1,"tokens":["x"]}`},
		{"empty object", `{}`, `{}`},
		{"array", `[{"token":"x"}]`, `[{"token":"x"}]`},
		{"string", `"token"`, `"token"`},
		{"not json", `{"token":"x",`, `{"token":"x",`},
		{"two objects", `{"token":"x"} {"a":1}`, `{"token":"x"} {"a":1}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, string(withoutToken(json.RawMessage(tc.in))))
		})
	}
}

// FuzzStoredPayload checks withoutToken against decoding, deleting and re-encoding: the same
// members survive, and anything that is not a JSON object is stored as it came.
func FuzzStoredPayload(f *testing.F) {
	for _, s := range []string{`{"token":"x","a":1}`, `{"a":[1,2,{"token":3}],"token":null}`, `{"tok\u0065n":1}`,
		`{}`, `[]`, `"x"`, `{"a":1,,"token":2}`, "{\"token\":\"x\"}\n", `{"a":{"b":{"c":[]}},"token":{"d":1}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		got := withoutToken(json.RawMessage(in))
		var m map[string]json.RawMessage
		if json.Unmarshal(in, &m) != nil || m == nil {
			if !bytes.Equal(got, in) {
				t.Fatalf("%q is not an object but was stored as %q", in, got)
			}
			return
		}
		delete(m, "token")
		var have map[string]json.RawMessage
		if err := json.Unmarshal(got, &have); err != nil {
			t.Fatalf("%q was stored as %q, which is not JSON: %v", in, got, err)
		}
		want, _ := json.Marshal(m)
		gotJSON, _ := json.Marshal(have)
		if !bytes.Equal(want, gotJSON) {
			t.Fatalf("%q: stored %q, want the members of %q", in, got, want)
		}
	})
}

// BenchmarkStoredPayload is the inbox copy of a slash command's payload as Socket Mode
// delivers it: taking the verification token out of the bytes every command stores.
func BenchmarkStoredPayload(b *testing.B) {
	payload := json.RawMessage(`{"token":"legacy-verification-token","team_id":"T0EMU00001","team_domain":"emulated",` +
		`"channel_id":"C0BENCH01","channel_name":"platform","user_id":"U0BENCH01","user_name":"bench",` +
		`"command":"/orgtoken","text":"update -n \"airflow ci deployer\" --role WORKSPACE_OPERATOR --workspace-id clwsbench0001",` +
		`"api_app_id":"A0EMU00001","is_enterprise_install":"false",` +
		`"response_url":"https://hooks.slack.com/commands/T0EMU00001/1234567890/abcdefABCDEF0123456789",` +
		`"trigger_id":"1234567890.1234567890.abcdef0123456789abcdef0123456789"}`)
	b.ReportAllocs()
	for b.Loop() {
		if out := withoutToken(payload); len(out) >= len(payload) {
			b.Fatal("the token was not dropped")
		}
	}
}
