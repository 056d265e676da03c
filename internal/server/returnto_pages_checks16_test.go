package server

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	authpages "loginsign/internal/web/auth"
)

// TestAReturnToOfAnotherSiteCannotLandTheSignInOnItsApp: any site can set the return_to
// cookie with a top-level GET /login?return_to=…; the person's own sign-in within the next
// half hour then followed it. A same-origin path of the site's choosing, its application's
// authorization, met the person right after signing in to LoginSign for their dashboard: the
// consent screen of the site's app (or, with consent given before, a code straight to it). A
// return path is one of the pages that send people to sign in (dashboard, portal, account
// links, playground), without dot segments, encoded or not; anything else lands on the
// dashboard.
func TestAReturnToOfAnotherSiteCannotLandTheSignInOnItsApp(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		authz := e.config(e.app, rpCallback).AuthCodeURL("st", oauth2.SetAuthURLParam("prompt", "consent"))
		au, _ := url.Parse(authz)
		authzPath := au.RequestURI()
		for i, rt := range []string{
			authzPath,
			"/dashboard/../" + strings.TrimPrefix(authzPath, "/"),
			"/dashboard/%2e%2e/" + strings.TrimPrefix(authzPath, "/"),
			"/login/magic?token=lsml_the_sites_own",
			"/oauth/logout",
		} {
			who := "returnpage" + string(rune('a'+i)) + "@example.com"
			b := noFollowBrowser(e)
			b.get(e.base + "/login?" + url.Values{"return_to": {rt}}.Encode())
			if p := b.post(e.base+"/login", url.Values{"email": {who}}); p.StatusCode != http.StatusSeeOther {
				t.Fatalf("POST /login = %d", p.StatusCode)
			}
			_, code := e.signInMail(who)
			p := b.post(e.base+"/login/code", url.Values{"code": {code}})
			if p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != "/dashboard" {
				t.Errorf("return_to %q: the sign-in answered %d to %q, want the dashboard", rt, p.StatusCode, p.Header.Get("Location"))
			}
		}
		// The pages that send people to sign in still come back.
		for _, rt := range []string{"/portal/synchronisation?app=app_x", "/account/email-change/confirm?token=t", "/dashboard/emails/verify?token=t", "/dashboard"} {
			if !authpages.SafeReturnPath(rt) {
				t.Errorf("SafeReturnPath(%q) = false, want true", rt)
			}
		}
		for _, rt := range []string{"/oauth/authorize?client_id=x", "/login", "/portalx", "/dashboard/./x", "/%64ashboard/../oauth/consent"} {
			if authpages.SafeReturnPath(rt) {
				t.Errorf("SafeReturnPath(%q) = true, want false", rt)
			}
		}
	})
}
