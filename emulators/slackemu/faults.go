package slackemu

import (
	"math"
	"net/http"
	"strconv"
	"time"
)

// Fault scripts a failure for a Web API method (including "apps.connections.open").
type Fault struct {
	// Error is the Slack error code returned as {"ok":false,"error":...} with HTTP 200.
	Error string
	// Status is an HTTP status to answer instead (e.g. 500, 404). With RetryAfter it
	// defaults to 429.
	Status int
	// RetryAfter sets an integer Retry-After header (seconds, rounded up).
	RetryAfter time.Duration
	// Times is how many calls the fault applies to; 0 means every call until ClearFaults.
	Times int
}

// InjectFault queues f for method; queued faults apply in order, each for its Times calls.
func (e *Emulator) InjectFault(method string, f Fault) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ff := f
	e.faults[method] = append(e.faults[method], &ff)
}

// ClearFaults removes every queued fault for method.
func (e *Emulator) ClearFaults(method string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.faults, method)
}

// takeFaultLocked consumes one use of the next fault for method.
func (e *Emulator) takeFaultLocked(method string) *Fault {
	q := e.faults[method]
	if len(q) == 0 {
		return nil
	}
	f := *q[0]
	if q[0].Times > 0 {
		q[0].Times--
		if q[0].Times == 0 {
			q = q[1:]
		}
	}
	if len(q) == 0 {
		delete(e.faults, method)
	} else {
		e.faults[method] = q
	}
	return &f
}

// writeFault answers the request as the fault says and returns the recorded status and error.
func writeFault(w http.ResponseWriter, f *Fault) (int, string) {
	status := f.Status
	if status == 0 && f.RetryAfter > 0 {
		status = http.StatusTooManyRequests
	}
	if f.RetryAfter > 0 {
		w.Header().Set("Retry-After", retryAfterSeconds(f.RetryAfter))
	}
	if status != 0 && status != http.StatusOK {
		code := f.Error
		if code == "" {
			code = http.StatusText(status)
		}
		if status == http.StatusTooManyRequests {
			writeJSON(w, status, map[string]any{"ok": false, "error": "ratelimited"})
			return status, "ratelimited"
		}
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		_, _ = w.Write([]byte("<html><body>" + http.StatusText(status) + "</body></html>"))
		return status, code
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": f.Error})
	return http.StatusOK, f.Error
}

func retryAfterSeconds(d time.Duration) string {
	s := int64(math.Ceil(d.Seconds()))
	if s < 1 {
		s = 1
	}
	return strconv.FormatInt(s, 10)
}

// RateLimit allows Calls calls per Window for a method, per channel when PerChannel.
type RateLimit struct {
	Calls      int
	Window     time.Duration
	PerChannel bool
}

type rateLimiter struct {
	limit   RateLimit
	windows map[string]*rateWindow
}

type rateWindow struct {
	start time.Time
	count int
}

// SetRateLimit limits method; Calls <= 0 removes the limit. Over the limit a call gets HTTP 429
// with an integer Retry-After until the window ends, as Slack does.
func (e *Emulator) SetRateLimit(method string, rl RateLimit) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if rl.Calls <= 0 {
		delete(e.limits, method)
		return
	}
	if rl.Window <= 0 {
		rl.Window = time.Minute
	}
	e.limits[method] = &rateLimiter{limit: rl, windows: map[string]*rateWindow{}}
}

// rateLimitedLocked counts the call and reports how long the caller must wait, or 0.
func (e *Emulator) rateLimitedLocked(method, channel string) time.Duration {
	rl := e.limits[method]
	if rl == nil {
		return 0
	}
	key := ""
	if rl.limit.PerChannel {
		key = channel
	}
	now := e.now()
	w := rl.windows[key]
	if w == nil || now.Sub(w.start) >= rl.limit.Window {
		w = &rateWindow{start: now}
		rl.windows[key] = w
	}
	if w.count >= rl.limit.Calls {
		return w.start.Add(rl.limit.Window).Sub(now)
	}
	w.count++
	return 0
}
