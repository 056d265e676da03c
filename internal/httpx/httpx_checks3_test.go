package httpx

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"loginsign/internal/apperr"
)

// DecodeJSON with limit 0 applies MaxJSONBody: a body one byte over it is refused as too large.
func TestDecodeJSONDefaultLimitIsMaxJSONBody(t *testing.T) {
	t.Parallel()
	var v struct {
		Name string `json:"name"`
	}
	fits := `{"name":"` + strings.Repeat("a", MaxJSONBody-len(`{"name":""}`)) + `"}`
	r := httptest.NewRequest("POST", "/", strings.NewReader(fits))
	if err := DecodeJSON(httptest.NewRecorder(), r, &v, 0); err != nil {
		t.Fatalf("a body of exactly MaxJSONBody bytes: %v, want accepted", err)
	}
	over := `{"name":"` + strings.Repeat("a", MaxJSONBody+1-len(`{"name":""}`)) + `"}`
	r = httptest.NewRequest("POST", "/", strings.NewReader(over))
	if err := DecodeJSON(httptest.NewRecorder(), r, &v, 0); !apperr.Is(err, apperr.TooLarge) {
		t.Fatalf("a body of MaxJSONBody+1 bytes with limit 0: err = %v, want %s", err, apperr.TooLarge)
	}
}

// A JSON media type with a +json suffix or parameters is accepted; other types are not.
func TestDecodeJSONAcceptsJSONMediaTypes(t *testing.T) {
	t.Parallel()
	for ct, ok := range map[string]bool{
		"application/json; charset=utf-8": true,
		"application/merge-patch+json":    true,
		"Application/JSON":                true,
		"text/plain":                      false,
		"application/jsonx":               false,
		"application/json; =":             false,
	} {
		r := httptest.NewRequest("POST", "/", strings.NewReader(`{"name":"a"}`))
		r.Header.Set("Content-Type", ct)
		var v struct {
			Name string `json:"name"`
		}
		err := DecodeJSON(httptest.NewRecorder(), r, &v, 0)
		if ok && err != nil {
			t.Errorf("Content-Type %q: %v, want accepted", ct, err)
		}
		if !ok && !apperr.Is(err, apperr.Invalid) {
			t.Errorf("Content-Type %q: err = %v, want invalid_request", ct, err)
		}
	}
}

// An internal error caused by a dependency outage is answered 503 temporarily_unavailable with
// Retry-After, not 500; an Unavailable apperr without a RetryAfter gets the default one.
func TestWriteErrorAnswersAnOutageUnavailable(t *testing.T) {
	t.Parallel()
	want := strconv.Itoa(apperr.RetryAfterUnavailable)
	for name, err := range map[string]error{
		"a refused connection":          fmt.Errorf("loading the user: %w", syscall.ECONNREFUSED),
		"an Unavailable without a wait": apperr.New(apperr.Unavailable, "down"),
	} {
		rec := httptest.NewRecorder()
		WriteError(rec, httptest.NewRequest("GET", "/api/x", nil), err)
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != want ||
			!strings.Contains(rec.Body.String(), `"error":"temporarily_unavailable"`) {
			t.Errorf("%s: %d Retry-After %q %s, want 503 Retry-After %s temporarily_unavailable",
				name, rec.Code, rec.Header().Get("Retry-After"), rec.Body, want)
		}
	}
	// Another internal error stays a 500 without Retry-After.
	rec := httptest.NewRecorder()
	WriteError(rec, httptest.NewRequest("GET", "/api/x", nil), errors.New("a bug"))
	if rec.Code != http.StatusInternalServerError || rec.Header().Get("Retry-After") != "" {
		t.Errorf("a bug: %d Retry-After %q, want 500 and none", rec.Code, rec.Header().Get("Retry-After"))
	}
}

// A rate-limit error without a wait carries no Retry-After (a "0" would invite a retry now).
func TestWriteErrorLeavesOutARetryAfterOfZero(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	WriteError(rec, httptest.NewRequest("GET", "/api/x", nil), apperr.New(apperr.RateLimited, "slow down"))
	if rec.Code != http.StatusTooManyRequests || len(rec.Header().Values("Retry-After")) != 0 {
		t.Fatalf("%d Retry-After %q, want 429 without Retry-After", rec.Code, rec.Header().Values("Retry-After"))
	}
}

// WriteUnavailable carries Retry-After in every shape.
func TestWriteUnavailableAlwaysSaysWhenToRetry(t *testing.T) {
	t.Parallel()
	for _, p := range []string{"/graphql", "/oauth/token", "/api/me", "/login"} {
		rec := httptest.NewRecorder()
		WriteUnavailable(rec, httptest.NewRequest("GET", p, nil))
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != strconv.Itoa(apperr.RetryAfterUnavailable) {
			t.Errorf("%s: %d Retry-After %q, want 503 Retry-After %d", p, rec.Code, rec.Header().Get("Retry-After"), apperr.RetryAfterUnavailable)
		}
	}
}

// A client's X-Request-Id is echoed up to 64 characters; a longer one is replaced.
func TestObserveReplacesAnOverlongRequestID(t *testing.T) {
	t.Parallel()
	h := Observe(discard(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(RequestID(r.Context())))
	}), nil)
	for _, tt := range []struct {
		sent string
		kept bool
	}{
		{strings.Repeat("a", 64), true},
		{strings.Repeat("b", 65), false},
		{strings.Repeat("c", 4000), false},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("X-Request-Id", tt.sent)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		got := rec.Header().Get("X-Request-Id")
		if (got == tt.sent) != tt.kept || got == "" || rec.Body.String() != got || len(got) > 64 {
			t.Errorf("X-Request-Id of %d characters: answered one of %d characters (%d in the context), kept %v, want kept %v",
				len(tt.sent), len(got), rec.Body.Len(), got == tt.sent, tt.kept)
		}
	}
}

// http.ErrAbortHandler is not swallowed: Observe panics again with it, so net/http aborts the
// response instead of completing a truncated one.
func TestObserveRepanicsErrAbortHandler(t *testing.T) {
	t.Parallel()
	h := Observe(discard(), http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) }), nil)
	rec := httptest.NewRecorder()
	v := func() (v any) {
		defer func() { v = recover() }()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		return nil
	}()
	if v != http.ErrAbortHandler {
		t.Fatalf("Observe recovered ErrAbortHandler (answered %d %q), re-panic = %v; want it panicked again", rec.Code, rec.Body, v)
	}
}

// A secure cookie is __Host-ls_<base>: HttpOnly, Secure, Path=/, SameSite=Lax, no Domain; a
// cleared one expires at once.
func TestCookiesAreHostOnlyHttpOnlyLax(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	c := Cookies{Secure: true}
	c.Set(rec, "session", "v", 0)
	c.Clear(rec, "state")
	cks := rec.Result().Cookies()
	if len(cks) != 2 {
		t.Fatalf("cookies %v, want 2", cks)
	}
	for _, ck := range cks {
		if !strings.HasPrefix(ck.Name, "__Host-ls_") || !ck.HttpOnly || !ck.Secure || ck.Path != "/" || ck.Domain != "" || ck.SameSite != http.SameSiteLaxMode {
			t.Errorf("cookie %s: HttpOnly %v Secure %v Path %q Domain %q SameSite %v; want __Host-, HttpOnly, Secure, /, none, Lax",
				ck.Name, ck.HttpOnly, ck.Secure, ck.Path, ck.Domain, ck.SameSite)
		}
	}
	if cks[0].Name != "__Host-ls_session" || cks[1].MaxAge >= 0 {
		t.Errorf("names %q %q, cleared MaxAge %d; want __Host-ls_session and a negative MaxAge", cks[0].Name, cks[1].Name, cks[1].MaxAge)
	}
	if (Cookies{}).SessionName() != "ls_session" {
		t.Errorf("dev session cookie %q, want ls_session", (Cookies{}).SessionName())
	}
}
