package server

import (
	"net/http"
	"strings"
	"testing"
)

// TestHomeAndErrorPages: / is a page saying what LoginSign is and where to go; unknown pages
// and wrong methods answer HTML in the same design, while API paths keep their JSON errors.
func TestHomeAndErrorPages(t *testing.T) {
	t.Parallel()
	ls := startLiveServer(t, "sqlite://"+t.TempDir()+"/db.sqlite")
	do := func(method, path string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, ls.URL+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return resp, readAll(t, resp.Body)
	}
	resp, body := do("GET", "/")
	for _, want := range []string{`href="/login"`, `href="/dashboard"`, `href="/portal"`, `href="/docs"`, "Any LoginSign account can use the"} {
		if !strings.Contains(body, want) {
			t.Errorf("GET / lacks %q", want)
		}
	}
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || resp.Header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("GET / = %d %v", resp.StatusCode, resp.Header)
	}
	for _, tc := range []struct {
		method, path string
		status       int
		html         bool
		want         string
	}{
		{"GET", "/nope", 404, true, "Page not found"},
		{"GET", "/portal/nope", 404, true, "Page not found"},
		{"GET", "/static/nope.css", 404, false, ""},
		{"POST", "/", 405, true, "not for a POST request"},
		{"DELETE", "/dashboard", 405, true, "It answers: GET, HEAD."},
		{"GET", "/api/nope", 404, false, `"error":"not_found"`},
		{"GET", "/oauth/nope", 404, false, `"error":"not_found"`},
		{"DELETE", "/api/user", 405, false, `"error":"invalid_request"`},
		{"DELETE", "/api/developer/applications", 405, false, `"error":"method_not_allowed"`},
	} {
		resp, body := do(tc.method, tc.path)
		isHTML := strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html")
		if resp.StatusCode != tc.status || (tc.html && !isHTML) || (!tc.html && isHTML) || !strings.Contains(body, tc.want) {
			t.Errorf("%s %s = %d %s %.200q, want %d (html %v) with %q", tc.method, tc.path, resp.StatusCode,
				resp.Header.Get("Content-Type"), body, tc.status, tc.html, tc.want)
		}
		if tc.html && (!strings.Contains(body, `href="/"`) || resp.Header.Get("Content-Security-Policy") == "") {
			t.Errorf("%s %s: the error page has no way home or no CSP", tc.method, tc.path)
		}
	}
}
