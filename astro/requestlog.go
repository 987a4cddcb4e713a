package astro

import (
	"context"
	"slices"
	"sync"
)

type requestLogKey struct{}

type requestLog struct {
	mu  sync.Mutex
	ids []string
}

// WithRequestLog returns a context in which the client notes the request ID (X-Request-Id) of
// every Astro answer, and a function listing them, so a command's log line can name the Astro
// requests behind it for whoever has to trace one with Astronomer.
func WithRequestLog(ctx context.Context) (context.Context, func() []string) {
	l := &requestLog{}
	return context.WithValue(ctx, requestLogKey{}, l), func() []string {
		l.mu.Lock()
		defer l.mu.Unlock()
		return append([]string(nil), l.ids...)
	}
}

func recordRequestID(ctx context.Context, id string) {
	if id == "" {
		return
	}
	if l, ok := ctx.Value(requestLogKey{}).(*requestLog); ok {
		l.mu.Lock()
		l.ids = append(l.ids, id)
		l.mu.Unlock()
	}
}

// NoteRequestIDs adds ids to ctx's request log (if it has one) unless it names them already:
// answers a command waited on that were read on its behalf, such as a read shared by
// concurrent lookups. Their waiters depend on them as much as the one that sent the request.
func NoteRequestIDs(ctx context.Context, ids ...string) {
	l, ok := ctx.Value(requestLogKey{}).(*requestLog)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, id := range ids {
		if id != "" && !slices.Contains(l.ids, id) {
			l.ids = append(l.ids, id)
		}
	}
}
