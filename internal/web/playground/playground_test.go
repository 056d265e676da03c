package playground

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func serve(t *testing.T, method, target string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, req)
	return rec
}

func TestPage(t *testing.T) {
	t.Parallel()
	rec := serve(t, http.MethodGet, "/playground", nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /playground: status %d", rec.Code)
	}
	want := map[string]string{
		"Content-Type":           "text/html; charset=utf-8",
		"Cache-Control":          "no-cache",
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "no-referrer",
	}
	for k, v := range want {
		if got := rec.Header().Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}

	csp := rec.Header().Get("Content-Security-Policy")
	directives := map[string]string{}
	for _, d := range strings.Split(csp, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
		directives[name] = value
	}
	for name, value := range map[string]string{
		"default-src":     "'none'",
		"script-src":      "'self'",
		"connect-src":     "'self'",
		"worker-src":      "'self'",
		"frame-ancestors": "'none'",
	} {
		if directives[name] != value {
			t.Errorf("CSP %s = %q, want %q (CSP %q)", name, directives[name], value, csp)
		}
	}
	if strings.Contains(csp, "unsafe-") || strings.Contains(csp, "*") {
		t.Errorf("CSP allows unsafe sources: %q", csp)
	}

	// style-src allows only this origin and the page's nonce, which the bundle reads from
	// <meta name="csp-nonce">.
	body := rec.Body.String()
	m := regexp.MustCompile(`^'self' 'nonce-([A-Za-z0-9_-]{22,})'$`).FindStringSubmatch(directives["style-src"])
	if m == nil {
		t.Fatalf("CSP style-src = %q, want 'self' and a nonce", directives["style-src"])
	}
	nonce := m[1]
	if !strings.Contains(body, `<meta name="csp-nonce" content="`+nonce+`" />`) {
		t.Errorf("page does not carry the CSP nonce %q:\n%s", nonce, body)
	}
	if strings.Contains(body, noncePlaceholder) {
		t.Error("page still contains the nonce placeholder")
	}
	if got := rec.Header().Get("Content-Length"); got != strconv.Itoa(len(body)) {
		t.Errorf("Content-Length = %q, body is %d bytes", got, len(body))
	}

	if !strings.Contains(body, "<title>LoginSign GraphQL playground</title>") {
		t.Errorf("page title missing:\n%s", body)
	}
}

func TestNonceIsPerRequest(t *testing.T) {
	t.Parallel()
	a := serve(t, http.MethodGet, "/playground", nil).Header().Get("Content-Security-Policy")
	b := serve(t, http.MethodGet, "/playground", nil).Header().Get("Content-Security-Policy")
	if a == b {
		t.Errorf("two requests got the same CSP nonce: %q", a)
	}
}

// TestPageReferencesOnlyLocalAssets checks that every src/href in the page points at an asset
// this handler serves, and that the page has no inline script.
func TestPageReferencesOnlyLocalAssets(t *testing.T) {
	t.Parallel()
	body := serve(t, http.MethodGet, "/playground", nil).Body.String()

	if strings.Contains(body, "://") || strings.Contains(body, `"//`) || strings.Contains(body, "url(") {
		t.Errorf("page references an absolute URL:\n%s", body)
	}
	if regexp.MustCompile(`<script(\s[^>]*)?>\s*[^<\s]`).MatchString(body) {
		t.Errorf("page has an inline script:\n%s", body)
	}
	if regexp.MustCompile(`(?i)<style|\sstyle=|\son[a-z]+=`).MatchString(body) {
		t.Errorf("page has inline styles or event handlers:\n%s", body)
	}

	refs := regexp.MustCompile(`(?:src|href)="([^"]*)"`).FindAllStringSubmatch(body, -1)
	var js, css bool
	for _, m := range refs {
		ref := m[1]
		if ref == "data:," { // the empty favicon, so the browser doesn't ask for /favicon.ico
			continue
		}
		u, err := url.Parse(ref)
		if err != nil || u.Scheme != "" || u.Host != "" || !strings.HasPrefix(u.Path, AssetPrefix) {
			t.Errorf("reference %q is not a local asset under %s", ref, AssetPrefix)
			continue
		}
		rec := serve(t, http.MethodGet, ref, nil)
		if rec.Code != http.StatusOK {
			t.Errorf("GET %s: status %d", ref, rec.Code)
		}
		js = js || u.Path == AssetPrefix+"graphiql.js"
		css = css || u.Path == AssetPrefix+"graphiql.css"
	}
	if !js || !css {
		t.Errorf("page does not load graphiql.js and graphiql.css: %q", refs)
	}
}

// TestBundleLoadsNothingRemote checks that the stylesheet pulls in no remote fonts or imports.
// (The script bundle contains URLs only in error messages, licence text and links.)
func TestBundleLoadsNothingRemote(t *testing.T) {
	t.Parallel()
	css := serve(t, http.MethodGet, "/playground/assets/graphiql.css", nil).Body.String()
	if strings.Contains(css, "@import") {
		t.Error("graphiql.css has an @import")
	}
	for _, m := range regexp.MustCompile(`url\(\s*['"]?([^'")]*)`).FindAllStringSubmatch(css, -1) {
		if !strings.HasPrefix(m[1], "data:") && !strings.HasPrefix(m[1], "#") {
			t.Errorf("graphiql.css loads %q", m[1])
		}
	}
	js := serve(t, http.MethodGet, "/playground/assets/graphiql.js", nil).Body.String()
	for _, bad := range []string{"unpkg.com", "jsdelivr", "fonts.googleapis", "fonts.gstatic", "cdnjs"} {
		if strings.Contains(js, bad) || strings.Contains(css, bad) {
			t.Errorf("bundle references %s", bad)
		}
	}
}

func TestAssets(t *testing.T) {
	t.Parallel()
	for name, ct := range map[string]string{
		"graphiql.js":  "text/javascript; charset=utf-8",
		"graphiql.css": "text/css; charset=utf-8",
	} {
		rec := serve(t, http.MethodGet, AssetPrefix+name, nil)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: status %d", name, rec.Code)
		}
		if rec.Body.Len() == 0 {
			t.Errorf("%s is empty", name)
		}
		for k, v := range map[string]string{
			"Content-Type":           ct,
			"Cache-Control":          "public, max-age=31536000, immutable",
			"X-Content-Type-Options": "nosniff",
			"Referrer-Policy":        "no-referrer",
		} {
			if got := rec.Header().Get(k); got != v {
				t.Errorf("%s: %s = %q, want %q", name, k, got, v)
			}
		}

		etag := rec.Header().Get("ETag")
		if etag == "" {
			t.Errorf("%s: no ETag", name)
			continue
		}
		if rec := serve(t, http.MethodGet, AssetPrefix+name, map[string]string{"If-None-Match": etag}); rec.Code != http.StatusNotModified {
			t.Errorf("%s with matching If-None-Match: status %d, want 304", name, rec.Code)
		}
	}
}

func TestHead(t *testing.T) {
	t.Parallel()
	for _, target := range []string{"/playground", "/playground/assets/graphiql.js"} {
		rec := serve(t, http.MethodHead, target, nil)
		if rec.Code != http.StatusOK {
			t.Errorf("HEAD %s: status %d", target, rec.Code)
		}
		if rec.Body.Len() != 0 {
			t.Errorf("HEAD %s: body of %d bytes", target, rec.Body.Len())
		}
		if rec.Header().Get("Content-Type") == "" {
			t.Errorf("HEAD %s: no Content-Type", target)
		}
	}
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	for _, target := range []string{
		"/",
		"/playground/",
		"/playground/index.html",
		"/playground/assets",
		"/playground/assets/",
		"/playground/assets/index.html",
		"/playground/assets/missing.js",
		"/playground/assets/../assets/graphiql.js",
		"/playground/assets/sub/graphiql.js",
		"/playgroundx",
		"/graphql",
	} {
		if rec := serve(t, http.MethodGet, target, nil); rec.Code != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", target, rec.Code)
		}
	}
}

func TestMethodNotAllowed(t *testing.T) {
	t.Parallel()
	for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions} {
		for _, target := range []string{"/playground", "/playground/assets/graphiql.js"} {
			rec := serve(t, method, target, nil)
			if rec.Code != http.StatusMethodNotAllowed {
				t.Errorf("%s %s: status %d, want 405", method, target, rec.Code)
			}
			if got := rec.Header().Get("Allow"); got != "GET, HEAD" {
				t.Errorf("%s %s: Allow = %q", method, target, got)
			}
		}
	}
}

func TestAssetsAreGzippedWhenAccepted(t *testing.T) {
	t.Parallel()
	h := Handler()
	for _, name := range []string{"graphiql.js", "graphiql.css"} {
		req := httptest.NewRequest(http.MethodGet, AssetPrefix+name, nil)
		req.Header.Set("Accept-Encoding", "gzip, br")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Encoding") != "gzip" || !strings.Contains(rec.Header().Get("Vary"), "Accept-Encoding") {
			t.Fatalf("%s: %d %v", name, rec.Code, rec.Header())
		}
		zr, err := gzip.NewReader(rec.Body)
		if err != nil {
			t.Fatal(err)
		}
		plain, _ := io.ReadAll(zr)
		want, _ := assets.ReadFile("assets/" + name)
		if !bytes.Equal(plain, want) || rec.Body.Len() >= len(want) {
			t.Fatalf("%s: gzip body decodes to %d bytes (want %d)", name, len(plain), len(want))
		}
		plainReq := httptest.NewRequest(http.MethodGet, AssetPrefix+name, nil)
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, plainReq)
		if rec.Header().Get("Content-Encoding") != "" || rec.Body.Len() != len(want) {
			t.Fatalf("%s without Accept-Encoding: %v, %d bytes", name, rec.Header(), rec.Body.Len())
		}
	}
}
