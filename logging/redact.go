// Package logging builds the bot's slog logger: JSON or text, with a handler that redacts
// credentials from every message and attribute before anything is written.
package logging

import (
	"context"
	"io"
	"log/slog"
	"regexp"
	"strings"
)

// tokenPattern matches Slack tokens (xoxb-, xoxp-, xapp-, xoxe- refresh tokens, …), JWTs such as
// Astro API tokens, and the paths of Slack's response_url and incoming-webhook URLs (whoever holds
// one can post into a channel: a net/http error quotes the URL whole), so a secret is redacted
// even when it is not one the process was configured with.
var tokenPattern = regexp.MustCompile(`\bxox[abposre]-[A-Za-z0-9-]+|\bxapp-[A-Za-z0-9-]+|\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*|(?i:bearer\s+)[A-Za-z0-9._~+/=-]{8,}|hooks\.slack(?:-gov)?\.com/[A-Za-z0-9/_%-]+`)

const mask = "[redacted]"

// Redact removes known secret values and anything shaped like a token from s.
func Redact(s string, secrets []string) string {
	for _, v := range secrets {
		if v != "" {
			s = strings.ReplaceAll(s, v, mask)
		}
	}
	if !mayHoldToken(s) {
		return s
	}
	return tokenPattern.ReplaceAllStringFunc(s, func(m string) string {
		switch {
		case strings.HasPrefix(strings.ToLower(m), "bearer"):
			return "Bearer " + mask
		case strings.HasPrefix(m, "hooks."):
			host, _, _ := strings.Cut(m, "/")
			return host + "/" + mask
		}
		return mask
	})
}

// mayHoldToken reports whether s contains what every tokenPattern match starts with. Most of
// what is logged (IDs, names, durations) holds none, and this scan costs a fraction of running
// the pattern, which has no literal prefix to search for.
func mayHoldToken(s string) bool {
	if strings.Contains(s, "xox") || strings.Contains(s, "xapp-") || strings.Contains(s, "eyJ") || strings.Contains(s, "hooks.slack") {
		return true
	}
	for i := strings.IndexAny(s, "bB"); i >= 0 && i+len("bearer") <= len(s); {
		if strings.EqualFold(s[i:i+len("bearer")], "bearer") {
			return true
		}
		next := strings.IndexAny(s[i+1:], "bB")
		if next < 0 {
			break
		}
		i += 1 + next
	}
	return false
}

// New returns a logger writing format ("json" or "text") to w at level, redacting secrets.
func New(w io.Writer, format string, level slog.Leveler, secrets ...string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	if format == "text" {
		h = slog.NewTextHandler(w, opts)
	} else {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(&redactingHandler{next: h, secrets: nonEmpty(secrets)})
}

func nonEmpty(in []string) []string {
	var out []string
	for _, s := range in {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

type redactingHandler struct {
	next    slog.Handler
	secrets []string
}

func (h *redactingHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *redactingHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, Redact(r.Message, h.secrets), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.redactAttr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h *redactingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		red[i] = h.redactAttr(a)
	}
	return &redactingHandler{next: h.next.WithAttrs(red), secrets: h.secrets}
}

func (h *redactingHandler) WithGroup(name string) slog.Handler {
	return &redactingHandler{next: h.next.WithGroup(name), secrets: h.secrets}
}

// redactAttr resolves LogValuers and stringifies errors and other values first, so no
// formatting path can smuggle a secret past the filter.
func (h *redactingHandler) redactAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, Redact(v.String(), h.secrets))
	case slog.KindGroup:
		g := v.Group()
		out := make([]any, len(g))
		for i, ga := range g {
			out[i] = h.redactAttr(ga)
		}
		return slog.Group(a.Key, out...)
	case slog.KindAny:
		// A list of strings stays a list (JSON array), each element redacted.
		if list, ok := v.Any().([]string); ok {
			out := make([]string, len(list))
			for i, e := range list {
				out[i] = Redact(e, h.secrets)
			}
			return slog.Any(a.Key, out)
		}
		return slog.String(a.Key, Redact(v.String(), h.secrets))
	default:
		return slog.Attr{Key: a.Key, Value: v}
	}
}
