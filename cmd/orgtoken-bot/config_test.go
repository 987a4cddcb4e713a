package main

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	testAppToken   = "xapp-1-A111-222-secretappvalue"
	testBotToken   = "xoxb-111-222-secretbotvalue"
	testAstroToken = "astro-secret-token-value"
)

func fullEnv() map[string]string {
	return map[string]string{
		"SLACK_APP_TOKEN":       testAppToken,
		"SLACK_BOT_TOKEN":       testBotToken,
		"ASTRO_API_TOKEN":       testAstroToken,
		"ASTRO_ORGANIZATION_ID": "org-1",
	}
}

func TestLoadConfig(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		env      map[string]string
		problems []string // substrings that must all appear in the error
		check    func(t *testing.T, c *config)
	}{
		{
			name: "NoCredentialsRunsSandbox",
			env:  map[string]string{},
			check: func(t *testing.T, c *config) {
				assert.True(t, c.Sandbox)
			},
		},
		{
			name: "FullConfigWithDefaults",
			env:  fullEnv(),
			check: func(t *testing.T, c *config) {
				assert.False(t, c.Sandbox)
				assert.Equal(t, "https://slack.com/api/", c.SlackAPIURL)
				assert.Equal(t, "https://api.astronomer.io/v1", c.AstroAPIURL)
				assert.Equal(t, "/orgtoken", c.CommandName)
				assert.Equal(t, 16, c.Workers)
				assert.Equal(t, time.Minute, c.GroupCacheTTL)
				assert.Equal(t, slog.LevelInfo, c.LogLevel)
				assert.Equal(t, 5*time.Second, c.ReleaseMemoryAfter)
				assert.Equal(t, 50, c.GCPercent, "the bot sets its GC target when the operator gave none")
			},
		},
		{
			name: "AnOperatorsGOGCStands",
			env:  with(fullEnv(), map[string]string{"GOGC": "200"}),
			check: func(t *testing.T, c *config) {
				assert.Zero(t, c.GCPercent, "the runtime already applied GOGC; the bot leaves it")
			},
		},
		{
			name: "MemoryReleaseCanBeTurnedOff",
			env:  with(fullEnv(), map[string]string{"ORGTOKEN_RELEASE_MEMORY_AFTER": "0"}),
			check: func(t *testing.T, c *config) {
				assert.Zero(t, c.ReleaseMemoryAfter)
			},
		},
		{
			name: "ListsAndURLsParsed",
			env: with(fullEnv(), map[string]string{
				"ORGTOKEN_ADMINS":           "U0AAA, S0BBB,W0CCC",
				"ORGTOKEN_ALLOWED_CHANNELS": "C0OPS",
				"SLACK_API_URL":             "http://127.0.0.1:9/api",
				"ASTRO_API_URL":             "http://127.0.0.1:9/v1/",
			}),
			check: func(t *testing.T, c *config) {
				assert.Equal(t, []string{"U0AAA", "S0BBB", "W0CCC"}, c.Admins)
				assert.Equal(t, []string{"C0OPS"}, c.AllowedChannels)
				assert.Equal(t, "http://127.0.0.1:9/api/", c.SlackAPIURL, "slack-go needs the trailing slash")
				assert.Equal(t, "http://127.0.0.1:9/v1", c.AstroAPIURL)
			},
		},
		{
			name:     "PartialCredentialsRefusedListingWhatIsMissing",
			env:      map[string]string{"SLACK_BOT_TOKEN": testBotToken, "ASTRO_ORGANIZATION_ID": "org-1"},
			problems: []string{"SLACK_APP_TOKEN, ASTRO_API_TOKEN not set"},
		},
		{
			name:     "SwappedSlackTokens",
			env:      with(fullEnv(), map[string]string{"SLACK_APP_TOKEN": testBotToken, "SLACK_BOT_TOKEN": testAppToken}),
			problems: []string{"SLACK_APP_TOKEN must be an app-level token starting with xapp-", "SLACK_BOT_TOKEN must be a bot token starting with xoxb-"},
		},
		{
			name: "EveryMalformedValueReportedAtOnce",
			env: with(fullEnv(), map[string]string{
				"ORGTOKEN_ADMINS":               "alice",
				"ORGTOKEN_ALLOWED_CHANNELS":     "#ops",
				"ORGTOKEN_WORKERS":              "zero",
				"ORGTOKEN_GROUP_CACHE_TTL":      "soon",
				"ORGTOKEN_RELEASE_MEMORY_AFTER": "-1s",
				"ORGTOKEN_LOG_FORMAT":           "xml",
				"ORGTOKEN_COMMAND":              "orgtoken",
				"ASTRO_API_URL":                 "api.astronomer.io",
			}),
			problems: []string{
				`ORGTOKEN_ADMINS: "alice"`, `ORGTOKEN_ALLOWED_CHANNELS: "#ops"`, `ORGTOKEN_WORKERS: "zero"`,
				`ORGTOKEN_GROUP_CACHE_TTL: "soon"`, `ORGTOKEN_LOG_FORMAT: "xml"`, `ORGTOKEN_COMMAND: "orgtoken"`,
				`ORGTOKEN_RELEASE_MEMORY_AFTER: "-1s" must be a duration such as 30s or 5m, from 100ms to 1h0m0s`,
				`ASTRO_API_URL "api.astronomer.io"`,
			},
		},
		{
			// Caught before the bot connects to Slack, naming the setting, rather than as a
			// listen error in the log once everything else has started.
			name:     "HTTPAddrWithoutAPort",
			env:      with(fullEnv(), map[string]string{"ORGTOKEN_HTTP_ADDR": "8080"}),
			problems: []string{`ORGTOKEN_HTTP_ADDR: "8080" must be host:port or :port`},
		},
		{
			name:     "HTTPAddrWithABadPort",
			env:      with(fullEnv(), map[string]string{"ORGTOKEN_HTTP_ADDR": ":http-alt-x"}),
			problems: []string{`ORGTOKEN_HTTP_ADDR: ":http-alt-x"`},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := loadConfig(context.Background(), envconfig.MapLookuper(tc.env))
			if len(tc.problems) > 0 {
				require.Error(t, err)
				for _, p := range tc.problems {
					assert.Contains(t, err.Error(), p)
				}
				for _, s := range []string{testAppToken, testBotToken, testAstroToken} {
					assert.NotContains(t, err.Error(), s, "errors never print secrets")
				}
				return
			}
			require.NoError(t, err)
			tc.check(t, c)
		})
	}
}

func TestSecretsRedactWhenPrinted(t *testing.T) {
	t.Parallel()
	c, err := loadConfig(context.Background(), envconfig.MapLookuper(fullEnv()))
	require.NoError(t, err)
	for _, s := range []string{fmt.Sprintf("%v", *c), fmt.Sprintf("%+v", *c), fmt.Sprintf("%#v", *c)} {
		assert.NotContains(t, s, "secretappvalue")
		assert.NotContains(t, s, "secretbotvalue")
		assert.NotContains(t, s, testAstroToken)
	}
	assert.Equal(t, testAstroToken, c.AstroAPIToken.Value())
}

func with(base, extra map[string]string) map[string]string {
	out := make(map[string]string, len(base)+len(extra))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}
