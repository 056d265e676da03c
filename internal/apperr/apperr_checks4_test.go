package apperr_test

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"

	"golang.org/x/text/language"

	"loginsign/internal/apperr"
	"loginsign/internal/i18n"
)

func TestEachCodeHasItsHTTPStatus(t *testing.T) {
	for code, want := range map[apperr.Code]int{
		apperr.Invalid:      http.StatusBadRequest,
		apperr.Unauthorized: http.StatusUnauthorized,
		apperr.Forbidden:    http.StatusForbidden,
		apperr.NotFound:     http.StatusNotFound,
		apperr.Conflict:     http.StatusConflict,
		apperr.Gone:         http.StatusGone,
		apperr.TooLarge:     http.StatusRequestEntityTooLarge,
		apperr.RateLimited:  http.StatusTooManyRequests,
		apperr.Unavailable:  http.StatusServiceUnavailable,
		apperr.Internal:     http.StatusInternalServerError,
		"something_else":    http.StatusInternalServerError,
	} {
		if got := apperr.HTTPStatus(code); got != want {
			t.Errorf("HTTPStatus(%q) = %d, want %d", code, got, want)
		}
	}
}

func TestAnErrorShowsItsReasonBeforeItsCode(t *testing.T) {
	for _, tt := range []struct {
		err        *apperr.Error
		name, text string
	}{
		{apperr.New(apperr.Conflict, "taken"), "conflict", "conflict: taken"},
		{apperr.WithReason(apperr.Conflict, "code_already_used", "used %d times", 2), "code_already_used", "code_already_used: used 2 times"},
		{&apperr.Error{Code: apperr.Gone}, "gone", "gone"},
	} {
		if tt.err.Name() != tt.name || tt.err.Error() != tt.text {
			t.Errorf("Name %q Error %q, want %q %q", tt.err.Name(), tt.err.Error(), tt.name, tt.text)
		}
	}
}

// A plural message reads right in English already in Message, and English is exactly Message
// (numbers ungrouped); another language translates the format, or keeps Message without one.
func TestMessageInTranslatesTheFormatAndKeepsEnglishAsFormatted(t *testing.T) {
	one := apperr.New(apperr.Invalid, "that code is not right; %d attempts left", 1)
	if one.Message != "that code is not right; 1 attempt left" {
		t.Errorf("Message = %q, want the singular", one.Message)
	}
	many := apperr.New(apperr.Invalid, "at most %d alternative addresses", 10000)
	for _, l := range []*i18n.Locale{nil, i18n.English} {
		if got := many.MessageIn(l); got != "at most 10000 alternative addresses" {
			t.Errorf("MessageIn(%v) = %q, want Message", l, got)
		}
	}
	fr := i18n.For(language.French)
	if got := many.MessageIn(fr); got != "au plus 10 000 adresses secondaires" && got != "au plus 10\u00a0000 adresses secondaires" && got != "au plus 10\u202f000 adresses secondaires" {
		t.Errorf("MessageIn(fr) = %q, want the French translation", got)
	}
	plain := apperr.New(apperr.Invalid, "no catalog has %s", "this")
	literal := &apperr.Error{Code: apperr.Invalid, Message: "a literal"}
	if plain.MessageIn(fr) != "no catalog has this" || literal.MessageIn(fr) != "a literal" {
		t.Errorf("untranslated: %q, %q; want Message", plain.MessageIn(fr), literal.MessageIn(fr))
	}
}

// An error that is not an *Error is internal, and nothing of it is shown.
func TestAnUnknownErrorIsInternalAndHidden(t *testing.T) {
	secret := errors.New("pq: password authentication failed for user root")
	e := apperr.As(fmt.Errorf("loading: %w", secret))
	if e.Code != apperr.Internal || e.Message != "internal error" {
		t.Errorf("As = %+v, want Internal \"internal error\"", e)
	}
	if apperr.CodeOf(secret) != apperr.Internal || !apperr.Is(secret, apperr.Internal) {
		t.Errorf("CodeOf = %q, want internal", apperr.CodeOf(secret))
	}
	wrapped := fmt.Errorf("x: %w", apperr.New(apperr.NotFound, "no such app"))
	if apperr.CodeOf(wrapped) != apperr.NotFound || apperr.As(wrapped).Message != "no such app" {
		t.Errorf("wrapped: %q %q, want not_found", apperr.CodeOf(wrapped), apperr.As(wrapped).Message)
	}
	if apperr.Is(nil, apperr.Internal) {
		t.Error("Is(nil, Internal) = true, want false")
	}
}

// sqlStateError is a database error carrying an SQLSTATE, as pgx's and lib/pq's errors do.
type sqlStateError string

func (e sqlStateError) Error() string    { return "sql error " + string(e) }
func (e sqlStateError) SQLState() string { return string(e) }

func TestDependencyDownTellsOutagesFromBugs(t *testing.T) {
	for _, tt := range []struct {
		err  error
		down bool
	}{
		{nil, false},
		{errors.New("some bug"), false},
		{&net.OpError{Op: "dial", Net: "tcp", Err: errors.New("no route to host")}, true},
		{context.DeadlineExceeded, true},
		{syscall.ECONNREFUSED, true},
		{io.EOF, true},
		{io.ErrUnexpectedEOF, true},
		{driver.ErrBadConn, true},
		{sqlStateError("08006"), true},  // connection_failure
		{sqlStateError("53300"), true},  // too_many_connections
		{sqlStateError("57P01"), true},  // admin_shutdown
		{sqlStateError("57014"), false}, // query_canceled: a statement timeout, not an outage
		{sqlStateError("23505"), false}, // unique_violation
		{errors.New("redis: connection pool timeout"), true},
		{errors.New("redis: client is closed"), true},
		{errors.New("OOM command not allowed when used memory > 'maxmemory'"), true},
		{errors.New("embedded store is closed"), true},
	} {
		if got := apperr.DependencyDown(fmt.Errorf("loading: %w", tt.err)); tt.err != nil && got != tt.down {
			t.Errorf("DependencyDown(%v) = %v, want %v", tt.err, got, tt.down)
		}
	}
	if apperr.DependencyDown(nil) {
		t.Error("DependencyDown(nil) = true, want false")
	}
}

func TestClientGoneIsTheCancellationOfTheRequestItself(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	if apperr.ClientGone(ctx, context.Canceled) {
		t.Error("a Canceled error from elsewhere while the request lives: ClientGone = true")
	}
	cancel()
	if !apperr.ClientGone(ctx, fmt.Errorf("query: %w", context.Canceled)) || apperr.ClientGone(ctx, nil) {
		t.Error("the request's own cancellation: ClientGone false, or true for no error")
	}
}

// The wire values other programs read: nginx's 499 in the access log and metrics, and the
// Retry-After of 503 answers.
func TestTheWireValuesOfOutagesAndGoneClients(t *testing.T) {
	if apperr.StatusClientGone != 499 || apperr.RetryAfterUnavailable != 5 {
		t.Errorf("StatusClientGone %d RetryAfterUnavailable %d, want 499 5", apperr.StatusClientGone, apperr.RetryAfterUnavailable)
	}
}
