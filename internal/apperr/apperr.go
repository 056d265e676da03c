// Package apperr is the error vocabulary shared by the domain packages. Each transport maps a
// Code to its own status once (REST: an HTTP status and {"error","message"}; GraphQL:
// extensions.code); internal errors are logged and shown as "internal error".
package apperr

import (
	"errors"
	"fmt"

	"loginsign/internal/i18n"
)

// Code is the kind of failure.
type Code string

const (
	Invalid      Code = "invalid_request"
	Unauthorized Code = "unauthorized"
	Forbidden    Code = "forbidden"
	NotFound     Code = "not_found"
	Conflict     Code = "conflict"
	Gone         Code = "gone"
	TooLarge     Code = "payload_too_large"
	RateLimited  Code = "rate_limited"
	Internal     Code = "internal"
)

// Error is a failure a caller may see. Reason, when set, is a more specific machine-readable
// code shown instead of Code (for example "code_already_used" for a Conflict).
type Error struct {
	Code    Code
	Reason  string
	Message string
	// RetryAfter is the number of seconds a rate-limited caller should wait.
	RetryAfter int
	// format and args are what New and WithReason formatted Message from: MessageIn looks
	// the format up in the catalogs' error messages.
	format string
	args   []any
}

// MessageIn is Message in the language l, for transports that speak to people (pages, GraphQL,
// the person's REST routes): the translation of the English format New or WithReason was given
// (i18n.Locale.Error), or Message itself when there is none. Codes never change with the
// language.
func (e *Error) MessageIn(l *i18n.Locale) string {
	if e.format == "" || l == nil || l.Lang() == i18n.English.Lang() {
		return e.Message // English is the source: exactly as formatted, numbers ungrouped
	}
	if msg, ok := l.Error(e.format, e.args...); ok {
		return msg
	}
	return e.Message
}

func (e *Error) Error() string {
	if e.Message == "" {
		return e.Name()
	}
	return e.Name() + ": " + e.Message
}

// Name is the machine-readable code shown to callers.
func (e *Error) Name() string {
	if e.Reason != "" {
		return e.Reason
	}
	return string(e.Code)
}

// New returns an *Error with a formatted message. Each text argument longer than MaxEcho
// characters shows shortened (Echo), in Message and in every language (MessageIn).
func New(code Code, format string, args ...any) *Error {
	args = echoArgs(format, args)
	return &Error{Code: code, Message: message(format, args), format: format, args: args}
}

// message is format with args in English: the catalog's plural form where it has one.
func message(format string, args []any) string {
	if msg, ok := i18n.EnglishError(format, args...); ok {
		return msg
	}
	return fmt.Sprintf(format, args...)
}

// WithReason returns an *Error whose shown code is reason; its arguments are shortened as
// New's are.
func WithReason(code Code, reason, format string, args ...any) *Error {
	args = echoArgs(format, args)
	return &Error{Code: code, Reason: reason, Message: message(format, args), format: format, args: args}
}

// As returns the *Error in err's chain, or an Internal one wrapping nothing shown.
// Text that PostgreSQL refused (textRefused) is the request's fault: Invalid, whichever
// transport and route sent it.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if textRefused(err) {
		return New(Invalid, "text may not hold NUL characters or bytes that are not UTF-8")
	}
	return &Error{Code: Internal, Message: "internal error"}
}

// CodeOf is the Code of err (As), Internal for errors that are not *Error.
func CodeOf(err error) Code { return As(err).Code }

// Is reports whether err carries code.
func Is(err error, code Code) bool { return err != nil && CodeOf(err) == code }
