package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/sethvargo/go-envconfig"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The start-up auth.test tells a token Slack refused from a Slack the bot could not reach: an
// outage or a wrong SLACK_API_URL must not send the operator off to replace a good token.
func TestStartupAuthCheckSaysWhyItFailed(t *testing.T) {
	t.Parallel()
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":false,"error":"invalid_auth"}`))
	}))
	t.Cleanup(refusing.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := "http://" + ln.Addr().String() + "/api/"
	require.NoError(t, ln.Close())

	cases := []struct {
		name, apiURL, want, notWant string
	}{
		{"TokenRefused", refusing.URL + "/api/", "Slack rejected SLACK_BOT_TOKEN", "could not check"},
		{"SlackUnreachable", closed, "could not check SLACK_BOT_TOKEN with Slack", "rejected"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := loadConfig(context.Background(), envconfig.MapLookuper(with(fullEnv(), map[string]string{
				"SLACK_API_URL":         tc.apiURL,
				"ORGTOKEN_ADMINS":       "U0ADMIN",
				"ORGTOKEN_DATABASE_URL": filepath.Join(t.TempDir(), "bot.db"),
				"ORGTOKEN_HTTP_ADDR":    "127.0.0.1:0",
			})))
			require.NoError(t, err)
			cfg.GCPercent = 0 // leave the test binary's GC alone
			var logs bytes.Buffer
			assert.Equal(t, 1, serve(context.Background(), cfg, &logs))
			assert.Contains(t, logs.String(), tc.want)
			assert.NotContains(t, logs.String(), tc.notWant)
			assert.NotContains(t, logs.String(), "secretbotvalue")
		})
	}
}

// A policy file that cannot be read is named by its setting, not reported as an invalid policy.
func TestUnreadablePolicyFileNamesTheSetting(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "policy.yaml")
	_, err := loadPolicy(&config{PolicyFile: missing})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "ORGTOKEN_POLICY_FILE")
	assert.Contains(t, err.Error(), missing)
}
