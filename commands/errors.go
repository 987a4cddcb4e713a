package commands

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/orgtoken/orgtoken-bot/astro"
	"github.com/orgtoken/orgtoken-bot/reply"
)

// Code classifies an Error.
type Code string

const (
	EInvalid     Code = "invalid"     // the command could not be understood
	ENotFound    Code = "not_found"   // no such token, or no such page
	EAmbiguous   Code = "ambiguous"   // several tokens have the name
	EConflict    Code = "conflict"    // the token is in a state the command cannot change
	EDenied      Code = "denied"      // policy refused the user
	EUnavailable Code = "unavailable" // Astro refused, rate-limited or failed
	EHelp        Code = "help"        // the user asked for a verb's help with -h
)

// Error is a failure that is safe to show to the user as is. Anything else a handler returns is
// unexpected: it is logged with a reference and the user sees a generic sentence.
type Error struct {
	Code    Code
	Message string
	// Summary, when set, is the reply's title instead of Message: a short headline for a
	// Message that quotes another system, whose words Details then give whole (a title is cut
	// short by renderers).
	Summary string
	Details []reply.Line // e.g. the tokens sharing a name
	Hint    string
	// AstroRequestID is Astro's reference for a failed call, shown on a line of its own so a
	// long message never pushes it out; support asks for it.
	AstroRequestID string
	// Changed is set when the failure happened after something was written; otherwise the
	// reply says nothing was changed.
	Changed bool

	verb *command // its usage line is shown for syntax errors
}

func (e *Error) Error() string { return e.Message }

func invalidf(format string, a ...any) *Error {
	return &Error{Code: EInvalid, Message: fmt.Sprintf(format, a...)}
}

func usageErr(cmd *command, format string, a ...any) *Error {
	e := invalidf(format, a...)
	e.verb = cmd
	return e
}

// errorReply renders a user-facing error.
func (s *Service) errorReply(e *Error) reply.Reply {
	title := e.Message
	if e.Summary != "" {
		title = e.Summary
	}
	r := reply.Reply{Visibility: reply.Ephemeral, Tone: reply.Failure, Title: title, Body: e.Details}
	if e.verb != nil {
		r.Body = append(r.Body, reply.Line{reply.Text("Usage: "), reply.Literal(s.usage(e.verb))})
	}
	if e.Hint != "" {
		r.Body = append(r.Body, reply.Para(e.Hint))
	}
	if !e.Changed {
		r.Notes = append(r.Notes, reply.Para("Nothing was changed."))
	}
	if e.AstroRequestID != "" {
		r.Notes = append(r.Notes, astroRequestIDLine(e.AstroRequestID))
	}
	return r
}

// internalReply logs an unexpected error under a short reference the operator can grep for;
// the user sees only the reference.
func (s *Service) internalReply(ctx context.Context, req Request, err error) reply.Reply {
	ref := newRef()
	s.log.ErrorContext(ctx, "command failed", "ref", ref, "user", req.UserID, "channel", req.ChannelID, "err", err)
	return reply.Reply{
		Visibility: reply.Ephemeral, Tone: reply.Failure,
		Title: "Something went wrong on the bot's side.",
		Body:  []reply.Line{{reply.Textf("Nothing was changed. If it keeps happening, give the bot's operator this reference: ref %s.", ref)}},
	}
}

func newRef() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// maxAstroSaidRunes bounds how much of Astro's message a reply quotes: whole for any real
// answer, yet leaving room for the hint in a message of Slack's size.
const maxAstroSaidRunes = 1000

// astroSaid is the part of Astro's error answer a reply quotes ("" when it said nothing).
func astroSaid(apiErr *astro.Error) string {
	return reply.Truncate(strings.TrimSpace(apiErr.Message), maxAstroSaidRunes)
}

// astroRequestIDLine names Astro's request ID, which its support asks for.
func astroRequestIDLine(id string) reply.Line {
	return reply.Line{reply.Text("Astro request ID: "), reply.Literal(id)}
}

// astroFailure turns an error from Astro into a user-facing *Error: a short title saying what
// went wrong, Astro's own message under it, and its request ID. Message keeps all of it in one
// sentence for places that have only one line. Errors that are not API answers (a broken
// connection, a bug) are returned unchanged so they are logged as unexpected.
func astroFailure(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return &Error{Code: EUnavailable, Message: "Astro did not answer in time.", Hint: "Try again in a moment."}
	}
	if errors.Is(err, astro.ErrListKeptChanging) {
		// Not the bot's fault, and not worth an operator's look: tokens or workspaces were
		// being added or deleted faster than the bot could read them page by page.
		return &Error{Code: EUnavailable, Message: "Astro's list kept changing while the bot read it page by page.",
			Hint: "Someone may be adding or deleting tokens or workspaces right now; try again in a moment."}
	}
	var apiErr *astro.Error
	if !errors.As(err, &apiErr) {
		return err
	}
	said := astroSaid(apiErr)
	e := &Error{Code: EUnavailable, AstroRequestID: apiErr.RequestID}
	switch {
	case apiErr.StatusCode == http.StatusNotFound:
		e.Code = ENotFound
		e.Summary = "Astro could not find it."
	case apiErr.StatusCode == http.StatusUnauthorized:
		e.Summary = "Astro rejected the bot's API token."
		e.Hint = "The bot's Astro token may have expired or been revoked; tell the bot's operator."
	case apiErr.StatusCode == http.StatusForbidden:
		e.Summary = "The bot's Astro API token lacks permission for this."
		e.Hint = "Tell the bot's operator; the token needs Organization Owner rights."
	case apiErr.StatusCode == http.StatusTooManyRequests:
		e.Summary = "Astro is rate-limiting the bot."
		e.Hint = "Retry " + retryIn(apiErr.RetryAfter) + "."
	case apiErr.StatusCode >= 500:
		e.Summary = fmt.Sprintf("Astro is having trouble (HTTP %d).", apiErr.StatusCode)
		e.Hint = "Try again in a few minutes."
		if apiErr.RetryAfter > 0 {
			e.Hint = "Retry " + retryIn(apiErr.RetryAfter) + "."
		}
	default:
		e.Summary = fmt.Sprintf("Astro refused the request (HTTP %d).", apiErr.StatusCode)
	}
	if said != "" {
		e.Details = []reply.Line{{reply.Text("Astro said: " + said)}}
	}
	detail := said
	if apiErr.RequestID != "" {
		detail = strings.TrimSpace(detail + " (request ID " + apiErr.RequestID + ")")
	}
	e.Message = e.Summary
	if detail != "" {
		e.Message = strings.TrimSuffix(e.Summary, ".") + ": " + detail + "."
	}
	return e
}

func retryIn(d time.Duration) string {
	if d <= 0 {
		return "in a minute"
	}
	secs := int((d + time.Second - 1) / time.Second)
	if secs == 1 {
		return "in 1 s"
	}
	return fmt.Sprintf("in %d s", secs)
}
