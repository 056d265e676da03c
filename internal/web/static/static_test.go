package static_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"loginsign/internal/web/static"
)

func files() *static.Files {
	return static.New(fstest.MapFS{
		"app.css":         {Data: []byte(strings.Repeat("body { color: red; }\n", 50))},
		"brand/icon.svg":  {Data: []byte("<svg/>")},
		"scripts/page.js": {Data: []byte("console.log(1)")},
	}, "/static/")
}

func get(t *testing.T, h http.Handler, method, target string, hdr map[string]string) *http.Response {
	t.Helper()
	r := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

func TestServe(t *testing.T) {
	t.Parallel()
	f := files()
	versioned := f.URL("app.css")
	if !strings.HasPrefix(versioned, "/static/app.css?v=") || len(versioned) != len("/static/app.css?v=")+12 {
		t.Fatalf("URL = %q", versioned)
	}
	tests := []struct {
		name, method, target string
		hdr                  map[string]string
		status               int
		cache, encoding, ct  string
	}{
		{"the current hash is cached for a year", "GET", versioned, nil, 200, "public, max-age=31536000, immutable", "", "text/css; charset=utf-8"},
		{"no hash is revalidated", "GET", "/static/app.css", nil, 200, "public, max-age=300, must-revalidate", "", "text/css; charset=utf-8"},
		{"an old hash is revalidated", "GET", "/static/app.css?v=000000000000", nil, 200, "public, max-age=300, must-revalidate", "", "text/css; charset=utf-8"},
		{"gzip when accepted", "GET", versioned, map[string]string{"Accept-Encoding": "br, gzip"}, 200, "public, max-age=31536000, immutable", "gzip", "text/css; charset=utf-8"},
		{"gzip refused with q=0", "GET", versioned, map[string]string{"Accept-Encoding": "gzip;q=0"}, 200, "public, max-age=31536000, immutable", "", "text/css; charset=utf-8"},
		{"tiny files are not compressed", "GET", "/static/brand/icon.svg", map[string]string{"Accept-Encoding": "gzip"}, 200, "public, max-age=300, must-revalidate", "", "image/svg+xml"},
		{"nested files by path", "GET", "/static/scripts/page.js", nil, 200, "public, max-age=300, must-revalidate", "", "text/javascript; charset=utf-8"},
		{"HEAD answers headers", "HEAD", "/static/app.css", nil, 200, "public, max-age=300, must-revalidate", "", "text/css; charset=utf-8"},
		{"unknown file", "GET", "/static/nope.css", nil, 404, "", "", "text/plain; charset=utf-8"},
		{"directory", "GET", "/static/brand", nil, 404, "", "", "text/plain; charset=utf-8"},
		{"outside the prefix", "GET", "/app.css", nil, 404, "", "", "text/plain; charset=utf-8"},
		{"writes are refused", "POST", "/static/app.css", nil, 405, "", "", "text/plain; charset=utf-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := get(t, f, tt.method, tt.target, tt.hdr)
			if resp.StatusCode != tt.status || resp.Header.Get("Cache-Control") != tt.cache ||
				resp.Header.Get("Content-Encoding") != tt.encoding || resp.Header.Get("Content-Type") != tt.ct {
				t.Fatalf("%s %s = %d cache %q encoding %q type %q", tt.method, tt.target, resp.StatusCode,
					resp.Header.Get("Cache-Control"), resp.Header.Get("Content-Encoding"), resp.Header.Get("Content-Type"))
			}
			if tt.status == 200 && resp.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Fatal("no nosniff")
			}
			body, _ := io.ReadAll(resp.Body)
			if tt.method == "HEAD" && len(body) != 0 {
				t.Fatal("HEAD has a body")
			}
			if tt.encoding == "gzip" {
				zr, err := gzip.NewReader(bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				plain, _ := io.ReadAll(zr)
				if !bytes.Equal(plain, f.Body("app.css")) {
					t.Fatal("gzip body does not decode to the file")
				}
			}
		})
	}
}

func TestNotModified(t *testing.T) {
	t.Parallel()
	f := files()
	etag := get(t, f, "GET", "/static/app.css", nil).Header.Get("ETag")
	resp := get(t, f, "GET", "/static/app.css", map[string]string{"If-None-Match": etag})
	if resp.StatusCode != http.StatusNotModified {
		t.Fatalf("If-None-Match with the current ETag = %d, want 304", resp.StatusCode)
	}
	if resp := get(t, f, "GET", "/static/app.css", map[string]string{"If-None-Match": `"old"`}); resp.StatusCode != 200 {
		t.Fatalf("If-None-Match with an old ETag = %d, want 200", resp.StatusCode)
	}
}

func TestURLOfMissingFilePanics(t *testing.T) {
	t.Parallel()
	defer func() {
		if recover() == nil {
			t.Fatal("URL of a missing file did not panic")
		}
	}()
	files().URL("missing.css")
}

func TestAssetsHoldTheSharedFiles(t *testing.T) {
	t.Parallel()
	a := static.Assets()
	for _, name := range []string{"app.css", "ls.js", "charts.js", "dashboard.js", "portal.js", "embed-banner.js", "brand/icon-light.svg", "brand/icon-dark.svg"} {
		if len(a.Body(name)) == 0 {
			t.Errorf("%s is not embedded", name)
		}
	}
	// No script may rely on what the CSP forbids.
	for _, name := range []string{"ls.js", "charts.js", "dashboard.js", "portal.js", "embed-banner.js"} {
		body := string(a.Body(name))
		for _, bad := range []string{"eval(", "new Function", "innerHTML", "document.write", "setAttribute(\"style\""} {
			if strings.Contains(body, bad) {
				t.Errorf("%s uses %s", name, bad)
			}
		}
	}
}
