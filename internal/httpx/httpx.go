// Package httpx holds the HTTP plumbing every transport shares: JSON bodies, errors in the
// documented shape, cookies, request ids, access logs and panic recovery.
package httpx

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"loginsign/internal/apperr"
	"loginsign/internal/auth"
)

// MaxJSONBody is the default limit of a JSON request body.
const MaxJSONBody = 1 << 20

// WriteJSON writes v with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

// ErrorBody is the documented error shape of the portal and app REST routes.
type ErrorBody struct {
	Error   string `json:"error"`
	Message string `json:"message,omitempty"`
}

// WriteError writes err as {"error","message"} with its status. Internal errors are logged
// and shown as "internal error".
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	e := apperr.As(err)
	if e.Code == apperr.Internal {
		slog.ErrorContext(r.Context(), "internal error", "err", err, "path", r.URL.Path)
		e = &apperr.Error{Code: apperr.Internal, Message: "internal error"}
	}
	if e.Code == apperr.RateLimited && e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	WriteJSON(w, apperr.HTTPStatus(e.Code), ErrorBody{Error: e.Name(), Message: e.Message})
}

// DecodeJSON reads a JSON object body of at most limit bytes (MaxJSONBody when 0) into v.
// Unknown fields are refused so that typos are not silently ignored.
func DecodeJSON(w http.ResponseWriter, r *http.Request, v any, limit int64) error {
	if limit <= 0 {
		limit = MaxJSONBody
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return apperr.New(apperr.Invalid, "Content-Type must be application/json")
		}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		return apperr.New(apperr.Invalid, "body must hold a single JSON value")
	}
	return nil
}

func jsonError(err error) error {
	var maxErr *http.MaxBytesError
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &maxErr):
		return apperr.New(apperr.TooLarge, "body larger than %d bytes", maxErr.Limit)
	case errors.Is(err, io.EOF):
		return apperr.New(apperr.Invalid, "body is empty; send a JSON object")
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF):
		return apperr.New(apperr.Invalid, "malformed JSON")
	case errors.As(err, &typeErr) && typeErr.Field == "":
		return apperr.New(apperr.Invalid, "body must be a JSON object")
	case errors.As(err, &typeErr):
		return apperr.New(apperr.Invalid, "field %q must be %s", typeErr.Field, typeErr.Type)
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return apperr.New(apperr.Invalid, "%s", strings.TrimPrefix(err.Error(), "json: "))
	default:
		return apperr.New(apperr.Invalid, "malformed JSON: %v", err)
	}
}

// Time formats t as RFC 3339 UTC with milliseconds, the format of every REST timestamp.
func Time(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

// TimePtr formats t, or returns nil for a nil or zero time.
func TimePtr(t *time.Time) *string {
	if t == nil || t.IsZero() {
		return nil
	}
	s := Time(*t)
	return &s
}

// MethodNotAllowed writes 405 with Allow.
func MethodNotAllowed(w http.ResponseWriter, r *http.Request, allow ...string) {
	w.Header().Set("Allow", strings.Join(allow, ", "))
	WriteJSON(w, http.StatusMethodNotAllowed, ErrorBody{Error: "method_not_allowed",
		Message: "method " + r.Method + " not allowed; use " + strings.Join(allow, ", ")})
}

// ClientIP is the address of the party that sent r: the one ClientAddress put into its
// context (the peer, or the client a trusted proxy forwarded), else the TCP peer.
func ClientIP(r *http.Request) string {
	if ip := auth.ClientIP(r.Context()); ip != "" {
		return ip
	}
	return Proxies{}.ClientIP(r)
}

// Errorf is a shortcut for a 400 apperr.
func Errorf(format string, args ...any) error { return apperr.New(apperr.Invalid, format, args...) }
