// Package oauth is LoginSign's OAuth 2.0 / OpenID Connect authorization server: the protocol
// core, which neither reads requests nor writes responses (the HTTP adapters live in rest/ and
// internal/web/auth, like zitadel/oidc's pkg/op around its core; net/http is imported here only
// for the status constants each Error carries). It validates authorization requests, remembers
// consent, creates connections, issues and redeems authorization codes, runs the token
// endpoint grants, signs id_tokens, and answers revocation, introspection and the redirect-URI
// healthcheck. First-party magic-link sign-in and the short flow state of an authorization in
// progress live here too, because they continue an authorization.
package oauth

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"loginsign/internal/apperr"
)

// Error codes of RFC 6749 §4.1.2.1 and §5.2, RFC 6750 §3.1, OpenID Connect Core §3.1.2.6.
const (
	InvalidRequest          = "invalid_request"
	InvalidClient           = "invalid_client"
	InvalidGrant            = "invalid_grant"
	UnauthorizedClient      = "unauthorized_client"
	UnsupportedGrantType    = "unsupported_grant_type"
	UnsupportedResponseType = "unsupported_response_type"
	InvalidScope            = "invalid_scope"
	AccessDenied            = "access_denied"
	ServerError             = "server_error"
	InvalidToken            = "invalid_token"
	LoginRequired           = "login_required"
	ConsentRequired         = "consent_required"
	RateLimited             = "rate_limited"
	TemporarilyUnavailable  = "temporarily_unavailable"
	InsufficientScope       = "insufficient_scope"
	RequestNotSupported     = "request_not_supported"
	RequestURINotSupported  = "request_uri_not_supported"
	InvalidRequestURI       = "invalid_request_uri"
)

// Error is an OAuth error: one typed value that the HTTP adapters map once, to JSON
// {"error","error_description"} with Cache-Control: no-store at the token-style endpoints, or
// to a redirect (RFC 6749 §4.1.2.1) or an error page at the authorization endpoint.
//
// Builders copy (fosite style): ErrInvalidGrant.WithDescription(…) never changes
// ErrInvalidGrant.
type Error struct {
	Code        string
	Description string
	// Status is the HTTP status at the token-style endpoints.
	Status int
	// Redirect is true when the error may be sent to the redirect URI: only once the client
	// and its redirect URI are validated. Errors before that are shown as a page.
	Redirect bool
	// RetryAfter is the number of seconds to wait, for RateLimited.
	RetryAfter int
	// Cause is an internal error behind a ServerError; logged, never shown.
	Cause error
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return e.Code + ": " + e.Description + ": " + e.Cause.Error()
	}
	return e.Code + ": " + e.Description
}

func (e *Error) Unwrap() error { return e.Cause }

// WithDescription returns a copy of e with description, kept to the characters
// error_description may hold (descriptionText). Like every other error message
// (apperr.EchoArgs), it shows at most apperr.MaxEcho characters of each text argument, which
// is most often what the request sent (a redirect URI, a prompt or scope value): a
// 2,000-character redirect_uri came back as 200 of them.
func (e *Error) WithDescription(format string, args ...any) *Error {
	c := *e
	c.Description = descriptionText(fmt.Sprintf(format, apperr.EchoArgs(format, args...)...))
	return &c
}

// descriptionText keeps s to the characters RFC 6749 §4.1.2.1 and §5.2 (and RFC 6750 §3) allow
// in error_description, %x20-21 / %x23-5B / %x5D-7E, which a strict client checks: a quotation
// mark becomes an apostrophe (descriptions quote what the request sent with %q), a backslash
// a slash, an ellipsis three dots, and anything else outside the set (other text of the
// request, a byte that is not UTF-8) a question mark.
func descriptionText(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteByte('\'')
		case r == '\\':
			b.WriteByte('/')
		case r == '…':
			b.WriteString("...")
		case r < 0x20 || r > 0x7e:
			b.WriteByte('?')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Redirectable returns a copy of e that may be sent to the validated redirect URI.
func (e *Error) Redirectable() *Error {
	c := *e
	c.Redirect = true
	return &c
}

// Shown returns a copy of e that must be shown as a page, never redirected.
func (e *Error) Shown() *Error {
	c := *e
	c.Redirect = false
	return &c
}

// The errors, with their statuses at the token endpoint (RFC 6749 §5.2).
var (
	ErrInvalidRequest          = &Error{Code: InvalidRequest, Status: http.StatusBadRequest, Description: "the request is malformed"}
	ErrInvalidClient           = &Error{Code: InvalidClient, Status: http.StatusUnauthorized, Description: "client authentication failed"}
	ErrInvalidGrant            = &Error{Code: InvalidGrant, Status: http.StatusBadRequest, Description: "the grant is invalid, expired, revoked or was issued to another client"}
	ErrUnauthorizedClient      = &Error{Code: UnauthorizedClient, Status: http.StatusBadRequest, Description: "the client may not use this grant"}
	ErrUnsupportedGrantType    = &Error{Code: UnsupportedGrantType, Status: http.StatusBadRequest, Description: "grant_type must be authorization_code, refresh_token or client_credentials"}
	ErrUnsupportedResponseType = &Error{Code: UnsupportedResponseType, Status: http.StatusBadRequest, Description: "response_type must be code"}
	ErrInvalidScope            = &Error{Code: InvalidScope, Status: http.StatusBadRequest, Description: "scope may hold openid, email and profile"}
	ErrAccessDenied            = &Error{Code: AccessDenied, Status: http.StatusForbidden, Description: "the person denied access"}
	ErrInvalidToken            = &Error{Code: InvalidToken, Status: http.StatusUnauthorized, Description: "the access token is missing, expired or revoked"}
	ErrLoginRequired           = &Error{Code: LoginRequired, Status: http.StatusBadRequest, Description: "the person is not signed in"}
	ErrConsentRequired         = &Error{Code: ConsentRequired, Status: http.StatusBadRequest, Description: "the person has not consented"}
	// ErrBodyTooLarge is invalid_request answered 413: the request body is over its limit.
	ErrBodyTooLarge = &Error{Code: InvalidRequest, Status: http.StatusRequestEntityTooLarge, Description: "the request body is too large"}
	ErrRateLimited  = &Error{Code: RateLimited, Status: http.StatusTooManyRequests, Description: "too many requests; retry later"}
	ErrServer       = &Error{Code: ServerError, Status: http.StatusInternalServerError, Description: "internal error"}
	// ErrTemporarilyUnavailable is a ServerError whose cause is a dependency outage
	// (apperr.DependencyDown), as the HTTP adapters show it.
	ErrTemporarilyUnavailable = &Error{Code: TemporarilyUnavailable, Status: http.StatusServiceUnavailable,
		Description: "the service is temporarily unavailable; retry later", RetryAfter: 5}
	ErrInsufficientScope      = &Error{Code: InsufficientScope, Status: http.StatusForbidden, Description: "the access token lacks the scope this request needs"}
	ErrRequestNotSupported    = &Error{Code: RequestNotSupported, Status: http.StatusBadRequest, Description: "request objects (the request parameter) are not supported"}
	ErrRequestURINotSupported = &Error{Code: RequestURINotSupported, Status: http.StatusBadRequest, Description: "request objects by reference (the request_uri parameter) are not supported"}
	// ErrInvalidRequestURI answers a request_uri of a pushed authorization request (RFC 9126)
	// that is unknown, used, expired or another client's.
	ErrInvalidRequestURI = &Error{Code: InvalidRequestURI, Status: http.StatusBadRequest,
		Description: "the request_uri is unknown, used or expired; push the authorization request again"}
)

// serverError wraps an internal failure as a ServerError; the cause is logged, not shown.
func serverError(err error) *Error {
	e := *ErrServer
	e.Cause = err
	return &e
}

// AsError returns err as an *Error, wrapping anything else as a ServerError.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return serverError(err)
}
