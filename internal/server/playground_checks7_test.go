package server

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestGraphQLRefusesCrossSiteWritesInSimpleRequests: the playground's endpoint takes the
// session cookie, so a page elsewhere must not run a mutation with it: not by a cross-site
// POST of any content type a form or a no-CORS fetch can send, and not by GET. A cross-site
// GET query gets no CORS grant and no JSONP; the playground page may not be framed.
func TestGraphQLRefusesCrossSiteWritesInSimpleRequests(t *testing.T) {
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		b := e.browser()
		b.signInTo(defaultTestEmail)
		const mutation = `mutation { revokeOtherSessions(input: {}) { revokedSessions } }`
		body, _ := json.Marshal(map[string]string{"query": mutation})
		for _, tt := range []struct{ name, ct, body string }{
			{"application/json", "application/json", string(body)},
			{"text/plain", "text/plain", string(body)},
			{"form", "application/x-www-form-urlencoded", url.Values{"query": {mutation}}.Encode()},
			{"multipart", "multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"query\"\r\n\r\n" + mutation + "\r\n--x--\r\n"},
		} {
			req, _ := http.NewRequest(http.MethodPost, e.base+"/graphql", strings.NewReader(tt.body))
			req.Header.Set("Content-Type", tt.ct)
			req.Header.Set("Origin", "https://mallory.example")
			req.Header.Set("Sec-Fetch-Site", "cross-site")
			resp, err := b.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			out, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden || strings.Contains(string(out), "revokedSessions") {
				t.Errorf("cross-site POST %s: %d %s, want 403", tt.name, resp.StatusCode, out)
			}
		}
		p := b.get(e.base + "/graphql?" + url.Values{"query": {mutation}}.Encode())
		if p.StatusCode != http.StatusMethodNotAllowed || strings.Contains(p.Body, "revokedSessions\":") {
			t.Errorf("a mutation by GET: %d %s, want 405", p.StatusCode, p.Body)
		}
		// A cross-site read of a query: no CORS grant, JSON only (no JSONP callback), never stored.
		req, _ := http.NewRequest(http.MethodGet, e.base+"/graphql?"+url.Values{"query": {`{ viewer { globalID } }`}, "callback": {"steal"}}.Encode(), nil)
		req.Header.Set("Origin", "https://mallory.example")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		resp, err := b.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		read, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.Header.Get("Access-Control-Allow-Origin") != "" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") ||
			resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Cache-Control") != "no-store" || strings.HasPrefix(string(read), "steal") {
			t.Errorf("a cross-site GET query: %d %v %s", resp.StatusCode, resp.Header, read)
		}
		pg := b.get(e.base + "/playground")
		csp := pg.Header.Get("Content-Security-Policy")
		if pg.StatusCode != 200 || !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "connect-src 'self'") ||
			!strings.Contains(csp, "script-src 'self';") || pg.Header.Get("X-Frame-Options") != "DENY" || strings.Contains(pg.Body, defaultTestEmail) {
			t.Errorf("the playground page: %d, CSP %q, X-Frame-Options %q", pg.StatusCode, csp, pg.Header.Get("X-Frame-Options"))
		}
	})
}

// TestPersistedQueriesAreNotAnOracleAcrossPeople: automatic persisted queries (a client sends
// sha256(query) alone and the server runs the text it cached) share one cache for everybody.
// A developer's search for an address, sent by an APQ client, is then confirmable by anyone
// who guesses the text: the hash alone runs (for the prober's own session) instead of
// PERSISTED_QUERY_NOT_FOUND. What one person sent must not be observable by another; the
// sender's own hash still runs.
func TestPersistedQueriesAreNotAnOracleAcrossPeople(t *testing.T) {
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		dev := e.browser()
		dev.signInTo("dev@example.com")
		q := `{ application(id: "` + e.app.ID + `") { users(filter: {search: "bob@example.com"}) { totalCount } } }`
		sum := sha256.Sum256([]byte(q))
		ext := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hex.EncodeToString(sum[:])}}
		if st, out := dev.api(http.MethodPost, "/graphql", map[string]any{"query": q, "extensions": ext}); st != 200 || out["errors"] != nil {
			t.Fatalf("the developer's persisted query: %d %v", st, out)
		}
		prober := e.browser()
		prober.signInTo("mallory@example.com")
		// The control: the hash of a text nobody sent.
		other := sha256.Sum256([]byte(strings.Replace(q, "bob@", "carol@", 1)))
		_, ctl := prober.api(http.MethodPost, "/graphql", map[string]any{"extensions": map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hex.EncodeToString(other[:])}}})
		if raw, _ := json.Marshal(ctl); !strings.Contains(string(raw), "PERSISTED_QUERY_NOT_FOUND") {
			t.Fatalf("the hash of a query nobody sent: %s, want PERSISTED_QUERY_NOT_FOUND", raw)
		}
		_, out := prober.api(http.MethodPost, "/graphql", map[string]any{"extensions": ext})
		raw, _ := json.Marshal(out)
		if !strings.Contains(string(raw), "PERSISTED_QUERY_NOT_FOUND") {
			t.Errorf("another person sending only the hash of the developer's query got %s, want PERSISTED_QUERY_NOT_FOUND (the same answer as for a query nobody sent)", raw)
		}
		// The developer's own client still sends the hash alone.
		if st, out := dev.api(http.MethodPost, "/graphql", map[string]any{"extensions": ext}); st != 200 || out["errors"] != nil || out["data"] == nil {
			t.Errorf("the developer sending only the hash of their own query: %d %v, want its data", st, out)
		}
	})
}
