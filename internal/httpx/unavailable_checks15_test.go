package httpx

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestTheUnavailablePageCarriesAContentSecurityPolicy15: the HTML 503 of a page during an
// outage (the dashboard, the portal, the sign-in pages) is a page like the others: it runs no
// script, loads nothing, posts nowhere and sets no base, whatever a proxy or a later edit puts
// in it. It may still be framed: the widget embeds answer it inside the app's iframe.
func TestTheUnavailablePageCarriesAContentSecurityPolicy15(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteUnavailable(rec, httptest.NewRequest(http.MethodGet, "/dashboard", nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("GET /dashboard during an outage: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	csp := rec.Header().Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "base-uri 'none'", "form-action 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("the unavailable page's Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "frame-ancestors") {
		t.Errorf("the unavailable page's Content-Security-Policy %q forbids framing: the widget embeds show it in an iframe", csp)
	}
}
