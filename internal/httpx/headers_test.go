package httpx

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// get serves h over real HTTP and returns the answer's headers to GET /.
func get(t *testing.T, h http.Handler) http.Header {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.Header
}

// Strict-Transport-Security goes on every answer outside dev mode when the base URL is https
// (whatever the case of its scheme), never in dev mode or for an http base URL; nosniff and
// Referrer-Policy always.
func TestSecurityHeadersHSTS(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		base string
		dev  bool
		want string
	}{
		{"https://login.example.com", false, HSTS},
		{"HTTPS://login.example.com", false, HSTS},
		{"https://login.example.com", true, ""},
		{"http://login.example.com", false, ""},
		{"http://localhost:8080", true, ""},
		{"", false, ""},
	} {
		h := get(t, SecurityHeaders(http.NotFoundHandler(), tt.base, tt.dev))
		if got := strings.Join(h.Values("Strict-Transport-Security"), ", "); got != tt.want {
			t.Errorf("base %q dev %v: Strict-Transport-Security %q, want %q", tt.base, tt.dev, got, tt.want)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("base %q dev %v: %v", tt.base, tt.dev, h)
		}
	}
	if HSTS != "max-age=63072000; includeSubDomains" {
		t.Errorf("HSTS = %q", HSTS)
	}
}

// WriteJSON answers no-store unless the handler chose a Cache-Control (a public document).
func TestWriteJSONIsNotStoredByDefault(t *testing.T) {
	t.Parallel()
	h := get(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, map[string]string{"email": "ann@example.com"})
	}))
	if cc := h.Values("Cache-Control"); len(cc) != 1 || cc[0] != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
	h = get(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		WriteJSON(w, http.StatusOK, map[string]string{"issuer": "https://login.example.com"})
	}))
	if cc := h.Values("Cache-Control"); len(cc) != 1 || cc[0] != "public, max-age=3600" {
		t.Errorf("a public document: Cache-Control %q", cc)
	}
	h = get(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, r, Errorf("bad"))
	}))
	if cc := h.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("an error: Cache-Control %q, want no-store", cc)
	}
}
