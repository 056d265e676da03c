package server

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// A browser that sends no Fetch Metadata (Safari before 16.4) still sends Origin with a POST.
// Its cross-site POST of an authorization request carries none of LoginSign's SameSite=Lax
// cookies, so answering it would give the browser a new browser cookie, replacing its own
// (the flows bound to it and its sign-in budget): any page could do that with an
// auto-submitting form. It is answered, as the Sec-Fetch-Site cross-site one is, with the
// same request as a GET, and sets no cookie. A same-origin POST and one without Origin (a
// server) are answered directly.
func TestAnOldBrowsersCrossSiteAuthorizationPOSTSetsNoCookie(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	form := url.Values{"client_id": {e.app.ID}, "redirect_uri": {rpCallback}, "response_type": {"code"},
		"scope": {"openid email"}, "state": {"st-old"}}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	post := func(origin string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, e.base+"/oauth/authorize", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for _, origin := range []string{"https://" + rpCallbackHost, "https://evil.example", "null"} {
		resp := post(origin)
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusSeeOther || loc == nil || loc.Path != "/oauth/authorize" ||
			loc.Query().Encode() != form.Encode() || len(resp.Cookies()) != 0 {
			t.Errorf("POST /oauth/authorize with Origin %q and no Sec-Fetch-Site: %d %q, cookies %v; want 303 to the same request as a GET, no cookie",
				origin, resp.StatusCode, resp.Header.Get("Location"), resp.Cookies())
		}
	}
	base, _ := url.Parse(e.base)
	for _, origin := range []string{"", base.Scheme + "://" + base.Host} {
		resp := post(origin)
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusSeeOther || loc == nil || loc.Path != "/login" {
			t.Errorf("POST /oauth/authorize with Origin %q: %d %q, want 303 to /login (answered directly)",
				origin, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
}
