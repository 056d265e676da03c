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
	"unicode/utf16"
	"unicode/utf8"

	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/i18n"
)

// MaxJSONBody is the default limit of a JSON request body.
const MaxJSONBody = 1 << 20

// WriteJSON writes v with status, and Cache-Control: no-store unless the handler set a
// Cache-Control of its own: JSON answers carry a person's data (the portal, the dashboard's
// REST routes, tokens) or errors of a moment, none of which a browser or shared cache may keep.
// Public documents opt in to caching by setting the header first (discovery,
// "public, max-age=3600").
func WriteJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	if h.Get("Cache-Control") == "" {
		h.Set("Cache-Control", "no-store")
	}
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

// WriteError writes err as {"error","message"} with its status, the message in English (the
// developer and app-backend APIs). Internal errors are logged and shown as "internal error".
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	writeError(w, r, err, nil)
}

// WritePersonError is WriteError for the routes a person's browser calls (the dashboard's
// REST routes): the message is in the request's language (i18n.FromContext), the code is not.
func WritePersonError(w http.ResponseWriter, r *http.Request, err error) {
	l := i18n.FromContext(r.Context())
	w.Header().Set("Content-Language", l.Lang())
	w.Header().Add("Vary", "Accept-Language")
	writeError(w, r, err, l)
}

func writeError(w http.ResponseWriter, r *http.Request, err error, l *i18n.Locale) {
	if AnswerClientGone(w, r, nil, err) {
		return
	}
	e := Unavailable(r, err, apperr.As(err))
	if e.Code == apperr.Internal {
		slog.ErrorContext(r.Context(), "internal error", "err", err, "path", r.URL.Path)
		e = &apperr.Error{Code: apperr.Internal, Message: "internal error"}
	}
	if (e.Code == apperr.RateLimited || e.Code == apperr.Unavailable) && e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	WriteJSON(w, apperr.HTTPStatus(e.Code), ErrorBody{Error: e.Name(), Message: e.MessageIn(l)})
}

// Unavailable maps an internal error e whose cause err is a dependency outage
// (apperr.DependencyDown) to apperr.Unavailable with Retry-After, logging the cause; other
// errors are returned unchanged. Every transport's error writer calls it.
func Unavailable(r *http.Request, err error, e *apperr.Error) *apperr.Error {
	if e.Code == apperr.Unavailable && e.RetryAfter == 0 {
		c := *e
		c.RetryAfter = apperr.RetryAfterUnavailable
		return &c
	}
	if e.Code != apperr.Internal || !apperr.DependencyDown(err) {
		return e
	}
	slog.WarnContext(r.Context(), "dependency unavailable", "err", err, "path", r.URL.Path)
	return &apperr.Error{Code: apperr.Unavailable, Message: apperr.UnavailableMessage, RetryAfter: apperr.RetryAfterUnavailable}
}

// AnswerClientGone answers a request whose client went away (apperr.ClientGone: err is
// the end of its context) with apperr.StatusClientGone and no body, logged at Info level on
// log (slog's default when nil), and reports whether it did. Every transport's error writer
// calls it first.
func AnswerClientGone(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) bool {
	if !apperr.ClientGone(r.Context(), err) {
		return false
	}
	if log == nil {
		log = slog.Default()
	}
	log.InfoContext(r.Context(), "request canceled by the client", "err", err, "path", r.URL.Path)
	w.WriteHeader(apperr.StatusClientGone)
	return true
}

// WriteUnavailable answers 503 with Retry-After in the shape of the route r is for: GraphQL
// {"errors":[{"message","extensions":{"code":"temporarily_unavailable"}}]} on /graphql;
// {"error":"temporarily_unavailable","error_description"} on the OAuth endpoints, /api/user
// and the app-backend API; {"error","message"} on the other /api routes, the pictures and the
// JSON operations routes (/healthz, /readyz, /openapi.json: isAPIPath); a short HTML page
// elsewhere.
func WriteUnavailable(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Retry-After", strconv.Itoa(apperr.RetryAfterUnavailable))
	w.Header().Set("Cache-Control", "no-store")
	p := r.URL.Path
	switch {
	case p == "/graphql":
		WriteJSON(w, http.StatusServiceUnavailable, map[string]any{"errors": []map[string]any{{
			"message": apperr.UnavailableMessage, "extensions": map[string]any{"code": string(apperr.Unavailable)}}}})
	case strings.HasPrefix(p, "/oauth/token"), strings.HasPrefix(p, "/oauth/introspect"), strings.HasPrefix(p, "/oauth/revoke"),
		strings.HasPrefix(p, "/oauth/par"), strings.HasPrefix(p, "/api/user"), strings.HasPrefix(p, "/api/applications/"):
		WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"error": string(apperr.Unavailable), "error_description": apperr.UnavailableMessage})
	case strings.HasPrefix(p, "/api/"), strings.HasPrefix(p, "/pictures/"), p == "/healthz", p == "/readyz", p == "/openapi.json":
		WriteJSON(w, http.StatusServiceUnavailable, ErrorBody{Error: string(apperr.Unavailable), Message: apperr.UnavailableMessage})
	default:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		// Like every page: no script, nothing loaded, no form, no base. No frame-ancestors:
		// the widget embeds answer this page inside the app's iframe.
		w.Header().Set("Content-Security-Policy", "default-src 'none'; base-uri 'none'; form-action 'none'")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, unavailablePage)
	}
}

const unavailablePage = `<!doctype html><html lang="en"><meta charset="utf-8"><meta name="viewport" content="width=device-width">` +
	`<title>LoginSign is temporarily unavailable</title><h1>LoginSign is temporarily unavailable</h1>` +
	`<p>Please try again in a few seconds.</p></html>`

// DecodeJSON reads a JSON object body of at most limit bytes (MaxJSONBody when 0) into v.
// Unknown fields are refused so that typos are not silently ignored, and so is an object
// naming a member twice (checkDuplicateKeys).
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
	return checkDuplicateKeys(raw)
}

func jsonError(err error) error {
	var maxErr *http.MaxBytesError
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	var appErr *apperr.Error
	switch {
	case errors.As(err, &appErr): // a field's own UnmarshalJSON said what is wrong
		return appErr
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
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// The field's name as an argument, so that a long one is shortened (apperr.Echo).
		name, uerr := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		if uerr != nil {
			name = strings.TrimPrefix(err.Error(), "json: unknown field ")
		}
		return apperr.New(apperr.Invalid, "unknown field %q", name)
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

// MethodNotAllowed writes 405 with Allow. The method is shown shortened (apperr.Echo): it is
// any token the client sent.
func MethodNotAllowed(w http.ResponseWriter, r *http.Request, allow ...string) {
	w.Header().Set("Allow", strings.Join(allow, ", "))
	WriteJSON(w, http.StatusMethodNotAllowed, ErrorBody{Error: "method_not_allowed",
		Message: "method " + apperr.Echo(r.Method) + " not allowed; use " + strings.Join(allow, ", ")})
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
	switch nul, lone := escapes(b); {
	case nul:
		return apperr.New(apperr.Invalid, "the body contains a NUL character (\\u0000)")
	case lone:
		return apperr.New(apperr.Invalid, "the body is not valid UTF-8 (an unpaired surrogate escape)")
	}
	return nil
}

// HasEscapedNUL reports whether b holds the JSON (or GraphQL) string escape \u0000.
func HasEscapedNUL(b []byte) bool {
	nul, _ := escapes(b)
	return nul
}

// escapes reads each backslash escape of the JSON (or GraphQL) text b in turn (a backslash
// appears only inside strings, and an escaped one is skipped with what it escapes) and
// reports whether one is \u0000 and whether one is a \uD800–\uDFFF that is not half of a
// surrogate pair: encoding/json replaces that with U+FFFD, as it does a byte that is not
// UTF-8.
func escapes(b []byte) (nul, loneSurrogate bool) {
	for i := 0; i < len(b); i++ {
		j := bytes.IndexByte(b[i:], '\\')
		if j < 0 {
			break
		}
		i += j
		r, ok := escapedRune(b[i:])
		if !ok {
			i++ // a one-character escape (\\, \", \n …): skip what it escapes
			continue
		}
		i += 5
		switch {
		case r == 0:
			nul = true
		case utf16.IsSurrogate(r) && r < 0xDC00: // high: a low one must follow
			if lo, ok := escapedRune(b[i+1:]); ok && lo >= 0xDC00 && lo <= 0xDFFF {
				i += 6
				continue
			}
			loneSurrogate = true
		case utf16.IsSurrogate(r):
			loneSurrogate = true
		}
	}
	return nul, loneSurrogate
}

// escapedRune reads the \uXXXX escape at the start of b.
func escapedRune(b []byte) (rune, bool) {
	if len(b) < 6 || b[0] != '\\' || b[1] != 'u' {
		return 0, false
	}
	n, err := strconv.ParseUint(string(b[2:6]), 16, 16)
	return rune(n), err == nil
}
