package astro

import (
	"context"
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
