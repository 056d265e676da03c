// Package httpx holds the HTTP plumbing every transport shares: JSON bodies, errors in the
// documented shape, cookies, request ids, access logs and panic recovery.
package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

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
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		return jsonError(err)
	}
	if err := CheckJSONText(raw); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
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

// CheckText refuses text no store accepts: invalid UTF-8, or a NUL character (PostgreSQL
// text cannot hold either). what names the text in the message. The answer is apperr
// Invalid (400).
func CheckText(what, s string) *apperr.Error {
	if !utf8.ValidString(s) {
		return apperr.New(apperr.Invalid, "%s is not valid UTF-8", what)
	}
	if strings.IndexByte(s, 0) >= 0 {
		return apperr.New(apperr.Invalid, "%s contains a NUL character", what)
	}
	return nil
}

// CheckJSONText refuses a JSON text that is not UTF-8 or whose strings hold a NUL (the escape
// \u0000), with apperr Invalid: encoding/json would quietly replace the first and pass the
// second on to the database, which refuses it.
func CheckJSONText(b []byte) *apperr.Error {
	if !utf8.Valid(b) {
		return apperr.New(apperr.Invalid, "the body is not valid UTF-8")
	}
	if HasEscapedNUL(b) {
		return apperr.New(apperr.Invalid, "the body contains a NUL character (\\u0000)")
	}
	return nil
}

// HasEscapedNUL reports whether b holds the JSON (or GraphQL) string escape \u0000: a
// backslash that is not itself escaped, then u0000.
func HasEscapedNUL(b []byte) bool {
	for i := 0; ; {
		j := bytes.Index(b[i:], []byte("u0000"))
		if j < 0 {
			return false
		}
		at := i + j
		n := 0
		for k := at - 1; k >= 0 && b[k] == '\\'; k-- {
			n++
		}
		if n%2 == 1 {
			return true
		}
		i = at + 1
	}
}
