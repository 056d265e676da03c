package apperr

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
)

// Unavailable is a dependency (SQL database, Redis) that does not answer: HTTP 503 with
// Retry-After, OAuth's temporarily_unavailable (RFC 6749 §4.1.2.1).
const Unavailable Code = "temporarily_unavailable"

// RetryAfterUnavailable is the Retry-After, in seconds, of an Unavailable answer.
const RetryAfterUnavailable = 5

// UnavailableMessage is what callers are told; which dependency failed goes to the log only.
const UnavailableMessage = "the service is temporarily unavailable; retry later"

// DependencyDown reports whether err (anywhere in its chain) is an outage of a dependency
// rather than a bug: a network failure or timeout talking to it, a dropped or closed
// connection, a database refusing connections or shutting down, a store out of memory. Such
// errors answer 503 with Retry-After instead of 500; the caller's own retry can succeed.
func DependencyDown(err error) bool {
	if err == nil {
		return false
	}
	var sqlState interface{ SQLState() string }
	switch {
	case netError(err), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.ErrClosedPipe),
		errors.Is(err, driver.ErrBadConn), errors.Is(err, sql.ErrConnDone):
		return true
	case errors.As(err, &sqlState):
		// Class 08 connection exception, 53 insufficient resources, 57P0x operator
		// intervention (shutdown, cannot connect now).
		c := sqlState.SQLState()
		return strings.HasPrefix(c, "08") || strings.HasPrefix(c, "53") || strings.HasPrefix(c, "57P")
	}
	// go-redis and Redis replies that mean "not now".
	msg := err.Error()
	// MISCONF: a Redis whose snapshots fail (a full disk) refuses writes until they work again,
	// as the embedded store answers TRYAGAIN when its log cannot be written.
	for _, s := range []string{"redis: connection pool timeout", "redis: client is closed", "LOADING ", "MASTERDOWN ",
		"OOM ", "TRYAGAIN ", "CLUSTERDOWN ", "MISCONF ", "embedded store is closed"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// netError reports whether err's chain holds a net.Error other than a bare syscall.Errno:
// every Errno has the methods of net.Error, so a missing file (ENOENT) or a refused
// permission (EACCES) would read as an outage. The network's own errnos are listed in
// DependencyDown.
func netError(err error) bool {
	var ne net.Error
	if !errors.As(err, &ne) {
		return false
	}
	_, errno := ne.(syscall.Errno)
	return !errno
}

// textRefused reports whether err is PostgreSQL refusing text a request carried: a NUL
// character or bytes that are not UTF-8 (SQLSTATE 22021 character_not_in_repertoire, 22P05
// untranslatable_character). Nothing the server composes holds them, so the request is at
// fault; SQLite stores such text.
func textRefused(err error) bool {
	var sqlState interface{ SQLState() string }
	if !errors.As(err, &sqlState) {
		return false
	}
	c := sqlState.SQLState()
	return c == "22021" || c == "22P05"
}

// ClientGone reports whether err is the cancellation of ctx, the request's own context: the
// client went away (or the server stopped waiting for the request) before its answer. That
// is no fault of the server's, and nobody reads the answer: the transports log it at Info
// level instead of as an internal error, and an HTTP answer records StatusClientGone.
func ClientGone(ctx context.Context, err error) bool {
	return err != nil && ctx.Err() != nil && errors.Is(err, context.Canceled)
}

// StatusClientGone is the status of an HTTP answer to a client that went away, for the
// access log and the metrics only (nginx's 499, "client closed request"): the client does
// not receive it, and a 500 would count as the server's error.
const StatusClientGone = 499
