package server

import (
	"testing"

	"loginsign/internal/store/storetest"
	authpages "loginsign/internal/web/auth"
)

// TestLoginReturnsToTheAskingPage: /login?return_to=/portal lands on the portal after the
// magic link; anything that is not a path on this origin lands on the dashboard.
func TestLoginReturnsToTheAskingPage(t *testing.T) {
	t.Parallel()
	e := newOAuthEnv(t, storetest.URLs(t)["sqlite"])
	for returnTo, want := range map[string]string{
		"/portal/licenses":         "/portal/licenses",
		"//evil.example.com/x":     "/dashboard",
		"https://evil.example.com": "/dashboard",
		"":                         "/dashboard",
	} {
		b := e.browser()
		after := b.signIn(b.get(e.base+"/login?return_to="+returnTo), "ann@example.com")
		if after.StatusCode != 200 || after.Request.URL.Path != want {
			t.Errorf("return_to=%q: landed on %s (%d), want %s", returnTo, after.Request.URL, after.StatusCode, want)
		}
	}
}

func TestSafeReturnPath(t *testing.T) {
	t.Parallel()
	for p, want := range map[string]bool{
		"/portal": true, "/dashboard?tab=1": true, "//evil.com": false, "/\\evil.com": false,
		"https://evil.com": false, "portal": false, "": false, "/a\r\nSet-Cookie: x": false,
	} {
		if got := authpages.SafeReturnPath(p); got != want {
			t.Errorf("SafeReturnPath(%q) = %v, want %v", p, got, want)
		}
	}
}
