package astro

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Error is a non-2xx answer from the Astro API, decoded from its {message, requestId, statusCode}
// envelope. It never holds request headers, so it cannot carry the API token.
type Error struct {
	StatusCode int
	Message    string
	RequestID  string
	// RetryAfter is the server's Retry-After hint (429 and 503), zero when absent.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Astro API %d: %s", e.StatusCode, e.Message)
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	if e.RequestID != "" {
		fmt.Fprintf(&b, " (request id %s)", e.RequestID)
	}
	return b.String()
}

// OutcomeUnknownError reports a role update that failed in a way where the request may still
// have been applied: it was sent and then the connection broke, the deadline passed, or the
// server answered 5xx. The client never sends such a request again; the caller must re-read
// the token before telling anyone what happened. A failure that proves nothing was applied (a
// 4xx answer, a refused connection) is never wrapped in this type.
type OutcomeUnknownError struct {
	TokenID string
	Err     error
}

func (e *OutcomeUnknownError) Error() string {
	return fmt.Sprintf("astro: roles update of token %s may or may not have been applied: %v", e.TokenID, e.Err)
}

func (e *OutcomeUnknownError) Unwrap() error { return e.Err }

// IsNotFound reports whether err is, or wraps, an Astro 404.
func IsNotFound(err error) bool { return hasStatus(err, http.StatusNotFound) }

// IsForbidden reports whether err is, or wraps, an Astro 403.
func IsForbidden(err error) bool { return hasStatus(err, http.StatusForbidden) }

// IsUnauthorized reports whether err is, or wraps, an Astro 401 (bad or expired API token).
func IsUnauthorized(err error) bool { return hasStatus(err, http.StatusUnauthorized) }

// IsRateLimited reports whether err is, or wraps, an Astro 429, and how long the server asked
// callers to wait (zero when it did not say).
func IsRateLimited(err error) (time.Duration, bool) {
	var apiErr *Error
	if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusTooManyRequests {
		return apiErr.RetryAfter, true
	}
	return 0, false
}

// IsOutcomeUnknown reports whether err says a write may or may not have been applied.
func IsOutcomeUnknown(err error) bool {
	var unknown *OutcomeUnknownError
	return errors.As(err, &unknown)
}

func hasStatus(err error, status int) bool {
	var apiErr *Error
	return errors.As(err, &apiErr) && apiErr.StatusCode == status
}

// errorEnvelope is the API's error body.
type errorEnvelope struct {
	Message    string `json:"message"`
	RequestID  string `json:"requestId"`
	StatusCode int    `json:"statusCode"`
}

// newError builds an *Error from a failed response. A body that is not the JSON envelope (a
// proxy's HTML page, say) is not quoted: it could be long or echo request data, so the status
// text stands in for it.
func newError(resp *http.Response, body []byte, now time.Time, redact func(string) string) *Error {
	e := &Error{
		StatusCode: resp.StatusCode,
		RequestID:  resp.Header.Get("X-Request-Id"),
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), now),
	}
	var env errorEnvelope
	if err := json.Unmarshal(body, &env); err == nil {
		e.Message = strings.TrimSpace(env.Message)
		if env.RequestID != "" {
			e.RequestID = env.RequestID
		}
	}
	if e.Message == "" {
		e.Message = strings.ToLower(http.StatusText(resp.StatusCode))
		if e.Message == "" {
			e.Message = "unexpected status"
		}
	}
	e.Message = redact(e.Message)
	e.RequestID = redact(e.RequestID)
	return e
}

// maxRetryAfterSeconds keeps an absurd header from overflowing time.Duration.
const maxRetryAfterSeconds = 24 * 60 * 60

// parseRetryAfter reads delta-seconds or an HTTP date; anything else, or a past date, is zero.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(min(secs, maxRetryAfterSeconds)) * time.Second
	}
	if at, err := http.ParseTime(v); err == nil {
		if d := at.Sub(now); d > 0 {
			return d.Round(time.Second)
		}
	}
	return 0
}
