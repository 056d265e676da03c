package httpx

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"loginsign/internal/apperr"
)

func TestDecodeJSON(t *testing.T) {
	t.Parallel()
	type body struct {
		Name  string `json:"name"`
		Count int    `json:"count"`
	}
	tests := []struct {
		name, ct, in string
		code         apperr.Code
		msg          string
	}{
		{"ok", "application/json", `{"name":"a","count":1}`, "", ""},
		{"no content type is fine", "", `{"name":"a"}`, "", ""},
		{"empty", "application/json", ``, apperr.Invalid, "empty"},
		{"malformed", "application/json", `{"name":`, apperr.Invalid, "malformed"},
		{"wrong type", "application/json", `{"count":"x"}`, apperr.Invalid, `"count" must be int`},
		{"unknown field", "application/json", `{"nmae":"a"}`, apperr.Invalid, "unknown field"},
		{"array body", "application/json", `[]`, apperr.Invalid, "body must be a JSON object"},
		{"two values", "application/json", `{} {}`, apperr.Invalid, "single JSON value"},
		{"form body", "application/x-www-form-urlencoded", `name=a`, apperr.Invalid, "Content-Type"},
		{"too large", "application/json", `{"name":"` + strings.Repeat("a", 200) + `"}`, apperr.TooLarge, "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", strings.NewReader(tt.in))
			if tt.ct != "" {
				r.Header.Set("Content-Type", tt.ct)
			}
			var v body
			err := DecodeJSON(httptest.NewRecorder(), r, &v, 100)
			if tt.code == "" {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if !apperr.Is(err, tt.code) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("err = %v, want %s containing %q", err, tt.code, tt.msg)
			}
		})
	}
}

func TestWriteErrorHidesInternals(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	WriteError(rec, httptest.NewRequest("GET", "/", nil), errSecret{})
	if rec.Code != http.StatusInternalServerError || strings.Contains(rec.Body.String(), "password") ||
		strings.TrimSpace(rec.Body.String()) != `{"error":"internal","message":"internal error"}` {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	WriteError(rec, httptest.NewRequest("GET", "/", nil), &apperr.Error{Code: apperr.RateLimited, Message: "slow down", RetryAfter: 7})
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "7" {
		t.Fatalf("%d %v", rec.Code, rec.Header())
	}
}

type errSecret struct{}

func (errSecret) Error() string { return "dial tcp: password=hunter2" }

func TestObserveRecoversPanics(t *testing.T) {
	t.Parallel()
	h := Observe(discard(), http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }), nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 500 || rec.Header().Get("X-Request-Id") == "" || !strings.Contains(rec.Body.String(), "internal error") {
		t.Fatalf("%d %v %s", rec.Code, rec.Header(), rec.Body)
	}
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestAPIErrorsAreJSON(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/thing", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	mux.HandleFunc("GET /page", func(w http.ResponseWriter, r *http.Request) {})
	h := APIErrors(mux)
	tests := []struct {
		method, path string
		status       int
		body         string
	}{
		{"GET", "/api/thing", 200, "ok"},
		{"DELETE", "/api/thing", 405, `{"error":"method_not_allowed","message":"method DELETE not allowed; use GET, HEAD"}`},
		{"GET", "/api/nothing", 404, `{"error":"not_found","message":"no such route: GET /api/nothing"}`},
		{"POST", "/page", 405, "Method Not Allowed"},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
		if rec.Code != tt.status || strings.TrimSpace(rec.Body.String()) != tt.body {
			t.Errorf("%s %s = %d %q, want %d %q", tt.method, tt.path, rec.Code, rec.Body, tt.status, tt.body)
		}
	}
}
