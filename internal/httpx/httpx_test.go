package httpx

import (
	"context"
	"errors"
	"fmt"
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

// A request whose own context ended (its client went away) is answered 499 with no body and
// logged at Info level; the same error on a live request, or another error on an ended one,
// is left to the error writer, which answers 500.
func TestClientGoneIsNoServerError(t *testing.T) {
	t.Parallel()
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	canceled := fmt.Errorf("loading the row: %w", context.Canceled)
	for _, c := range []struct {
		name string
		ctx  context.Context
		err  error
		gone bool
	}{
		{"client gone", ended, canceled, true},
		{"canceled inside, client still there", context.Background(), canceled, false},
		{"another error after the client went", ended, errors.New("disk on fire"), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			var logged strings.Builder
			log := slog.New(slog.NewTextHandler(&logged, nil))
			r := httptest.NewRequestWithContext(c.ctx, "GET", "/api/x", nil)
			w := httptest.NewRecorder()
			if got := AnswerClientGone(w, r, log, c.err); got != c.gone {
				t.Fatalf("AnswerClientGone = %v, want %v", got, c.gone)
			}
			if !c.gone {
				if w.Code != http.StatusOK || w.Body.Len() != 0 || logged.Len() != 0 {
					t.Fatalf("left to the error writer, it answered %d %q and logged %q", w.Code, w.Body.String(), logged.String())
				}
				WriteError(w, r, c.err)
				if w.Code != http.StatusInternalServerError {
					t.Fatalf("WriteError answered %d, want 500", w.Code)
				}
				return
			}
			if w.Code != apperr.StatusClientGone || w.Body.Len() != 0 {
				t.Fatalf("answer %d %q, want %d with no body", w.Code, w.Body.String(), apperr.StatusClientGone)
			}
			if !strings.Contains(logged.String(), "level=INFO") || strings.Contains(logged.String(), "level=ERROR") {
				t.Fatalf("log %q, want one record at Info level", logged.String())
			}
			// WriteError answers it the same way.
			w = httptest.NewRecorder()
			WriteError(w, r, c.err)
			if w.Code != apperr.StatusClientGone || w.Body.Len() != 0 {
				t.Fatalf("WriteError answered %d %q, want %d with no body", w.Code, w.Body.String(), apperr.StatusClientGone)
			}
		})
	}
}
