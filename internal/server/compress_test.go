package server

import (
	"compress/gzip"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// countingReader counts the bytes read through it (the bytes on the wire).
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// TestResponsesAreCompressed: GraphQL, the REST API and the API description are gzipped for
// clients that accept it (and only for them); the HTML pages, which carry one-time tokens next
// to reflected input, are not (BREACH; see httpx.Compress).
func TestResponsesAreCompressed(t *testing.T) {
	t.Parallel()
	ls := startLiveServer(t, "sqlite://"+t.TempDir()+"/db.sqlite")
	// Without DisableCompression the client would ask for gzip and hide the answer's encoding.
	c := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	do := func(method, path, body, enc string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, ls.URL+path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if enc != "" {
			req.Header.Set("Accept-Encoding", enc)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		wire := &countingReader{r: resp.Body}
		var r io.Reader = wire
		if resp.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(wire)
			if err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			r = zr
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		resp.Header.Set("X-Wire-Size", strconv.Itoa(wire.n))
		return resp, string(b)
	}
	introspection := `{"query":"{ __schema { types { name description fields { name description } } } }"}`
	for _, tc := range []struct{ method, path, body, want string }{
		{"POST", "/graphql", introspection, `"__schema"`},
		{"GET", "/openapi.json", "", `"openapi"`},
		{"GET", "/.well-known/openid-configuration", "", `"issuer"`},
	} {
		resp, body := do(tc.method, tc.path, tc.body, "gzip, deflate, br")
		t.Logf("%s %s: %d bytes, %s on the wire", tc.method, tc.path, len(body), resp.Header.Get("X-Wire-Size"))
		if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(body, tc.want) ||
			!strings.Contains(resp.Header.Get("Vary"), "Accept-Encoding") {
			t.Errorf("%s %s with Accept-Encoding gzip = %d, Content-Encoding %q, Vary %q, body %.80q", tc.method, tc.path,
				resp.StatusCode, resp.Header.Get("Content-Encoding"), resp.Header.Get("Vary"), body)
		}
		plain, body2 := do(tc.method, tc.path, tc.body, "")
		if plain.Header.Get("Content-Encoding") != "" || !strings.Contains(body2, tc.want) {
			t.Errorf("%s %s without Accept-Encoding: Content-Encoding %q", tc.method, tc.path, plain.Header.Get("Content-Encoding"))
		}
	}
	// A 404 of an API path keeps its JSON shape, compressed or not.
	if resp, body := do("GET", "/api/nope", "", "gzip"); resp.StatusCode != 404 || !strings.Contains(body, `"not_found"`) {
		t.Errorf("GET /api/nope = %d %q", resp.StatusCode, body)
	}
	// Pages are never compressed.
	for _, path := range []string{"/login", "/"} {
		if resp, _ := do("GET", path, "", "gzip"); resp.Header.Get("Content-Encoding") != "" {
			t.Errorf("GET %s is compressed (%q): pages echo input next to one-time tokens", path, resp.Header.Get("Content-Encoding"))
		}
	}
}
