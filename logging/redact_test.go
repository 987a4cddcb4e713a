package logging

import (
	"bytes"
	"errors"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestLoggerRedactsSecrets(t *testing.T) {
	t.Parallel()
	const astroToken = "opaque-astro-token-value-123"
	cases := []struct {
		name string
		log  func(*slog.Logger)
		leak string
	}{
		{"ConfiguredSecretInMessage", func(l *slog.Logger) { l.Info("token is " + astroToken) }, astroToken},
		{"SlackBotTokenInAttr", func(l *slog.Logger) { l.Info("x", "tok", "xoxb-1234-5678-abcdef") }, "xoxb-1234-5678-abcdef"},
		{"AppTokenInError", func(l *slog.Logger) { l.Warn("x", "error", errors.New("dial xapp-1-A0-123-abc failed")) }, "xapp-1-A0-123-abc"},
		{"JWTInGroup", func(l *slog.Logger) {
			l.Info("x", slog.Group("req", "auth", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"))
		}, "eyJhbGciOiJIUzI1NiJ9"},
		{"BearerHeader", func(l *slog.Logger) { l.Info("x", "header", "Authorization: Bearer abcdefghijkl") }, "abcdefghijkl"},
		{"WithAttrs", func(l *slog.Logger) { l.With("token", astroToken).Info("x") }, astroToken},
		{"StringList", func(l *slog.Logger) { l.Info("x", "ids", []string{"ok", "xoxb-9-9-leak"}) }, "xoxb-9-9-leak"},
		{"RefreshToken", func(l *slog.Logger) { l.Info("x", "tok", "xoxe-1-My0xLTEyMzQ1") }, "xoxe-1-My0xLTEyMzQ1"},
		{"ResponseURLInTransportError", func(l *slog.Logger) {
			l.Warn("x", "error", errors.New(`Post "https://hooks.slack.com/commands/T0001/1234/AbCdEfGh": dial tcp: i/o timeout`))
		}, "T0001/1234/AbCdEfGh"},
		{"GovSlackResponseURL", func(l *slog.Logger) {
			l.Warn("x", "error", errors.New(`Post "https://hooks.slack-gov.com/commands/T0001/1234/AbCdEfGh": EOF`))
		}, "T0001/1234/AbCdEfGh"},
	}
	for _, tc := range cases {
		for _, format := range []string{"json", "text"} {
			t.Run(tc.name+"/"+format, func(t *testing.T) {
				t.Parallel()
				var buf bytes.Buffer
				tc.log(New(&buf, format, slog.LevelDebug, astroToken))
				assert.NotContains(t, buf.String(), tc.leak)
				assert.Contains(t, buf.String(), "[redacted]")
			})
		}
	}
}

func TestLoggerKeepsOrdinaryText(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	New(&buf, "json", slog.LevelInfo).Info("added role", "token", "deploy-bot", "role", "WORKSPACE_MEMBER")
	assert.Contains(t, buf.String(), `"token":"deploy-bot"`)
	assert.NotContains(t, buf.String(), "[redacted]")
}

func TestLoggerKeepsStringListsAsLists(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	New(&buf, "json", slog.LevelInfo).Info("command", "astro_request_ids", []string{"req-1", "req-2"})
	assert.Contains(t, buf.String(), `"astro_request_ids":["req-1","req-2"]`)
}

// FuzzRedactSkipsOnlyWhatCannotMatch: the quick check in front of the token pattern never lets
// through a string the pattern alone would have changed.
func FuzzRedactSkipsOnlyWhatCannotMatch(f *testing.F) {
	for _, s := range []string{"deploy-bot", "xoxb-1-2-abc", "dial xapp-1-A0-123-abc failed", "Authorization: BeArEr abcdefghijkl",
		"bearer", "b", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln", "WORKSPACE_OWNER", "Bb bearer\tabcdefgh12"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if tokenPattern.MatchString(s) && !mayHoldToken(s) {
			t.Fatalf("%q holds a token the quick check missed", s)
		}
	})
}

// BenchmarkRedactOrdinaryAttr is what most logged strings cost: nothing to redact.
func BenchmarkRedactOrdinaryAttr(b *testing.B) {
	secrets := []string{"opaque-astro-token-value-123"}
	b.ReportAllocs()
	for b.Loop() {
		if Redact("update -n \"airflow ci deployer\" --role WORKSPACE_OPERATOR --workspace-id clwsbench0001", secrets) == "" {
			b.Fatal("empty")
		}
	}
}
