package httpx

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"loginsign/internal/apperr"
)

// DecodeJSON refuses, with apperr Invalid, a body that is not UTF-8 or that carries the escape
// \u0000: encoding/json would quietly replace the first and hand the second to the database.
func TestDecodeJSONRefusesTextNoStoreAccepts(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ name, in, msg string }{
		{"invalid UTF-8", "{\"name\":\"a\xff\"}", "UTF-8"},
		{"an escaped NUL", `{"name":"a\u0000b"}`, "NUL"},
	} {
		r := httptest.NewRequest("POST", "/", strings.NewReader(tt.in))
		r.Header.Set("Content-Type", "application/json")
		var v struct {
			Name string `json:"name"`
		}
		err := DecodeJSON(httptest.NewRecorder(), r, &v, 0)
		if !apperr.Is(err, apperr.Invalid) || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: err = %v (decoded %q), want invalid_request naming %s", tt.name, err, v.Name, tt.msg)
		}
	}
}

// An internal error is answered "internal error" even when it is an apperr whose message
// holds detail meant for the log.
func TestWriteErrorHidesTheMessageOfAnInternalAppError(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	WriteError(rec, httptest.NewRequest("GET", "/api/x", nil), apperr.New(apperr.Internal, "select password_hash from users failed"))
	var body ErrorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if rec.Code != http.StatusInternalServerError || body != (ErrorBody{Error: "internal", Message: "internal error"}) {
		t.Fatalf("%d %+v, want 500 internal/internal error", rec.Code, body)
	}
}

// HasEscapedNUL finds \u0000 behind any odd number of backslashes, and only there.
func TestHasEscapedNULCountsTheBackslashes(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		want bool
	}{
		{`"\u0000"`, true},
		{`"\\u0000"`, false},   // an escaped backslash, then the text u0000
		{`"\\\u0000"`, true},   // an escaped backslash, then a NUL
		{`"\\\\u0000"`, false}, // two escaped backslashes
		{`"u0000"`, false},
		{`"\\" "\u0000"`, true},
	} {
		if got := HasEscapedNUL([]byte(tt.in)); got != tt.want {
			t.Errorf("HasEscapedNUL(%s) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// CheckText refuses a NUL wherever it is, the first character included.
func TestCheckTextRefusesANULAnywhere(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"\x00", "\x00abc", "ab\x00c", "abc\x00"} {
		if err := CheckText("the path", s); err == nil || err.Code != apperr.Invalid {
			t.Errorf("CheckText(%q) = %v, want invalid_request", s, err)
		}
	}
	if err := CheckText("the path", "/ok/é"); err != nil {
		t.Errorf("CheckText of plain text: %v", err)
	}
}

// nosniff and no-referrer go on answers the handler writes itself, not only on net/http's own
// errors (http.Error sets nosniff on its own, which would hide a missing header).
func TestSecurityHeadersOnAHandlersOwnAnswer(t *testing.T) {
	t.Parallel()
	h := get(t, SecurityHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, map[string]string{"ok": "yes"})
	}), "https://login.example.com", false))
	if h.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("X-Content-Type-Options %q, want nosniff", h.Get("X-Content-Type-Options"))
	}
	if h.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("Referrer-Policy %q, want no-referrer", h.Get("Referrer-Policy"))
	}
	if h.Get("Strict-Transport-Security") != HSTS {
		t.Errorf("Strict-Transport-Security %q, want %q", h.Get("Strict-Transport-Security"), HSTS)
	}
}

// CheckJSONText refuses a surrogate escape standing alone, and only that: a pair, an escaped
// backslash before the text, and other escapes pass.
func TestCheckJSONTextFindsLoneSurrogatesAmongEscapes(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in     string
		refuse bool
	}{
		{`{"a":"\ud83d\ude00"}`, false}, // a pair: 😀
		{`{"a":"\ud800"}`, true},
		{`{"a":"\ude00"}`, true},        // a low half first
		{`{"a":"\ud800\u0041"}`, true},  // a high half, then no low one
		{`{"a":"\ud800"}` + `\`, true},  // cut short after the high half
		{`{"a":"\\ud800"}`, false},      // an escaped backslash, then text
		{`{"a":"\\\ud800"}`, true},      // an escaped backslash, then a lone half
		{`{"a":"\n\"\u00e9\/"}`, false}, // other escapes
		{`{"a":"\ud83d\ude00\udc00"}`, true},
	} {
		err := CheckJSONText([]byte(tt.in))
		if got := err != nil; got != tt.refuse {
			t.Errorf("CheckJSONText(%s) = %v, want refused %v", tt.in, err, tt.refuse)
		}
	}
}
