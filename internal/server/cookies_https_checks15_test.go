package server

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"loginsign/internal/kv/kvtest"
	"loginsign/internal/mail/mailtest"
)

// TestCookiesOfAnHTTPSBaseURLAreSecureEvenInDevMode15: LOGINSIGN_DEV=true on a server whose
// public origin is https (a staging host that wants loopback webhooks, a developer behind a
// tunnel) sent its session and sign-in cookies without Secure and without the __Host- prefix:
// a network attacker who makes the browser load http://that-host/ reads the session cookie in
// clear, and one on a sibling subdomain can plant a browser or session cookie. Browsers reach
// an https origin over https only, so the cookies of an https base URL are Secure, dev mode or
// not; dev mode keeps plain cookies for http://localhost.
func TestCookiesOfAnHTTPSBaseURLAreSecureEvenInDevMode15(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		base, dev  string
		wantName   string
		wantSecure bool
	}{
		{"https://id.example.test", "true", "__Host-ls_return_to", true},
		{"https://id.example.test", "false", "__Host-ls_return_to", true},
		{"http://localhost:8080", "", "ls_return_to", false},
	} {
		m := map[string]string{
			"LOGINSIGN_BASE_URL": tc.base, "LOGINSIGN_DEV": tc.dev,
			"DATABASE_URL": "sqlite://" + filepath.Join(t.TempDir(), "db.sqlite"), "REDIS_URL": kvtest.URL(t),
			"LOGINSIGN_SMTP_URL": mailtest.Start(t).URL(), "LOGINSIGN_DATA_DIR": t.TempDir(), "LOGINSIGN_SECRET": testSecretHex,
			"LOGINSIGN_LOG_LEVEL": "error",
		}
		cfg, err := loadConfig(nil, env(m))
		if err != nil {
			t.Fatal(err)
		}
		s, err := newServer(context.Background(), cfg, newLogger(io.Discard, "error"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		rec := httptest.NewRecorder()
		s.routes().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.base+"/login?return_to=/portal", nil))
		resp := rec.Result()
		var found bool
		for _, c := range resp.Cookies() {
			if c.Name == "ls_return_to" || c.Name == "__Host-ls_return_to" {
				found = true
				if c.Name != tc.wantName || c.Secure != tc.wantSecure || !c.HttpOnly || c.Path != "/" || c.Domain != "" {
					t.Errorf("base %s, LOGINSIGN_DEV=%q: cookie %s Secure=%v HttpOnly=%v Path=%q Domain=%q, want %s Secure=%v",
						tc.base, tc.dev, c.Name, c.Secure, c.HttpOnly, c.Path, c.Domain, tc.wantName, tc.wantSecure)
				}
			}
		}
		if !found {
			t.Errorf("base %s, LOGINSIGN_DEV=%q: GET /login?return_to= set no return_to cookie: %v (status %d)", tc.base, tc.dev, resp.Header["Set-Cookie"], resp.StatusCode)
		}
	}
}
