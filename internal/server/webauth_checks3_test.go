package server

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// TestEverySignInAndLinkPagePostRefusesCrossSite: besides the login, the link confirmation,
// the consent and the sign-out (TestPagesRefuseCrossSitePosts), every other cookie-bound
// POST of the sign-in and account-link pages is refused cross-site: a page on another site
// cannot type a code, resend, finish a waiting sign-in, approve another device, post a second
// step or a passkey, or act on an account link in the person's browser.
func TestEverySignInAndLinkPagePostRefusesCrossSite(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	for _, path := range []string{"/login/resend", "/login/code", "/login/waiting", "/login/verify", "/login/magic/approve",
		"/login/passkey", "/dashboard/emails/verify", "/account/email-change/confirm", "/account/email-change/cancel"} {
		req, _ := http.NewRequest(http.MethodPost, e.base+path, strings.NewReader("code=123456&token=x&match=12"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		req.Header.Set("Origin", "https://evil.example")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("cross-site POST %s = %d, want 403", path, resp.StatusCode)
		}
	}
}

// TestSignInFormsOverTheirLimitAre413: each sign-in page's form is read up to its limit, and
// a larger one is refused with 413 before any work.
func TestSignInFormsOverTheirLimitAre413(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	for _, c := range []struct {
		path  string
		limit int
	}{
		{"/login/code", 16 << 10}, {"/login/resend", 16 << 10}, {"/login/magic/approve", 16 << 10},
		{"/oauth/consent", 16 << 10}, {"/oauth/authorize", 16 << 10},
	} {
		body := "code=" + strings.Repeat("a", c.limit)
		resp, err := http.Post(e.base+c.path, "application/x-www-form-urlencoded", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("POST %s with a %d-byte form = %d, want 413", c.path, len(body), resp.StatusCode)
		}
	}
}

// TestAPlantedReturnCookieCannotLeadOffSite: the page to return to after signing in is
// checked again when it is used, not only when GET /login?return_to= sets it: a return_to
// cookie naming another site (planted by a sibling host or left by an older version) leads
// to the dashboard, never off-site.
func TestAPlantedReturnCookieCannotLeadOffSite(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	for _, planted := range []string{"https://evil.example/x", "//evil.example/x"} {
		b := e.browser()
		base, _ := url.Parse(e.base)
		b.Jar.SetCookies(base, []*http.Cookie{{Name: "ls_return_to", Value: planted, Path: "/"}})
		p := b.signIn(b.get(e.base+"/login"), defaultTestEmail)
		if loc := p.Header.Get("Location"); p.StatusCode != http.StatusOK || p.Request.URL.Path != "/dashboard" {
			t.Errorf("signing in with a planted return_to %q: %d at %s (Location %q), want the dashboard", planted, p.StatusCode, p.Request.URL, loc)
		}
	}
}

// TestGETLogoutDoesNotSignOut: GET /logout only shows the sign-out button; a link or an image
// pointing at it leaves the person signed in.
func TestGETLogoutDoesNotSignOut(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	b := e.browser()
	if p := b.signIn(b.get(e.base+"/login"), defaultTestEmail); p.Request.URL.Path != "/dashboard" {
		t.Fatalf("sign-in ended at %s (%d)", p.Request.URL, p.StatusCode)
	}
	if p := b.get(e.base + "/logout"); p.StatusCode != http.StatusOK || p.Request.URL.Path != "/logout" {
		t.Fatalf("GET /logout = %d at %s, want 200 on the sign-out page", p.StatusCode, p.Request.URL)
	}
	if p := b.get(e.base + "/dashboard"); p.StatusCode != http.StatusOK || p.Request.URL.Path != "/dashboard" {
		t.Fatalf("after GET /logout, GET /dashboard = %d at %s, want the dashboard (still signed in)", p.StatusCode, p.Request.URL)
	}
}

// TestAUsedLinksPageInAnotherBrowserDoesNotCarryTheFlow: the page of a used sign-in link
// offers a new link that continues the link's authorization flow only in the browser that
// flow is bound to. Opened in another browser (a forwarded mail, another device), its new-link
// form carries no flow, so that browser's sign-in cannot continue someone else's authorization.
func TestAUsedLinksPageInAnotherBrowserDoesNotCarryTheFlow(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	a := e.browser()
	login := a.get(e.config(e.app, rpCallback).AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	flow := login.hidden(t, "flow")
	if sent := a.post(e.base+"/login", url.Values{"email": {defaultTestEmail}, "flow": {flow}}); sent.StatusCode != http.StatusOK {
		t.Fatalf("POST /login = %d %s", sent.StatusCode, sent.Body)
	}
	link := e.magicLink(defaultTestEmail)
	confirm := a.get(link)
	if p := a.post(e.base+"/login/magic", url.Values{"token": {confirm.hidden(t, "token")}}); p.StatusCode != http.StatusOK || !strings.Contains(p.Body, `value="allow"`) {
		t.Fatalf("using the link in its own browser = %d at %s, want the consent page", p.StatusCode, p.Request.URL)
	}

	// The flow is still alive in the first browser (consent not answered); the link is used.
	own := a.get(link)
	if got := own.hidden(t, "flow"); got != flow {
		t.Fatalf("the used link's page in its own browser carries flow %q, want %q", got, flow)
	}
	other := e.browser().get(link)
	if other.StatusCode != http.StatusGone {
		t.Fatalf("the used link in another browser = %d, want 410", other.StatusCode)
	}
	if got := other.hidden(t, "flow"); got != "" || strings.Contains(other.Body, flow) {
		t.Fatalf("the used link's page in another browser carries the flow (hidden flow %q), want none", got)
	}
}

// TestAConsentWithoutAnActionDecidesNothing: the consent form must name its answer; a POST
// without action (or with an unknown one) is a 400 page, not an allow: no code goes to the app.
func TestAConsentWithoutAnActionDecidesNothing(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	b := e.browser()
	consent := b.signIn(b.get(e.config(e.app, rpCallback).AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))), defaultTestEmail)
	flow := consent.hidden(t, "flow")
	for _, action := range []string{"", "yes"} {
		p := b.post(e.base+"/oauth/consent", url.Values{"flow": {flow}, "action": {action}})
		if p.StatusCode != http.StatusBadRequest || strings.Contains(p.Header.Get("Location"), "code=") {
			t.Fatalf("consent with action %q = %d (Location %q), want 400 and no code", action, p.StatusCode, p.Header.Get("Location"))
		}
	}
}

// TestAShortBrowserCookieIsReplaced: the browser id that flows and sign-in budgets are bound to
// is LoginSign's own random one; a short value in the cookie (planted, or guessed) is not taken
// as this browser's id: the authorization request sets a new one.
func TestAShortBrowserCookieIsReplaced(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	b := e.browser()
	base, _ := url.Parse(e.base)
	b.Jar.SetCookies(base, []*http.Cookie{{Name: "ls_browser", Value: "lsbr_short", Path: "/"}})
	b.get(e.config(e.app, rpCallback).AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	for _, c := range b.Jar.Cookies(base) {
		if c.Name == "ls_browser" && c.Value == "lsbr_short" {
			t.Fatalf("the planted short browser cookie %q was kept as the browser's id, want a new one", c.Value)
		}
	}
}

// TestTheWaitingStateIsNotStored: GET /login/waiting, the state of this browser's sign-in
// that the waiting page polls, is never stored by a cache (a stale "approved" or a shared
// cache's answer for another browser would be wrong).
func TestTheWaitingStateIsNotStored(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	b := e.browser()
	b.post(e.base+"/login", url.Values{"email": {defaultTestEmail}})
	p := b.get(e.base + "/login/waiting")
	if p.StatusCode != http.StatusOK || !strings.Contains(p.Header.Get("Cache-Control"), "no-store") {
		t.Fatalf("GET /login/waiting = %d, Cache-Control %q, want 200 with no-store", p.StatusCode, p.Header.Get("Cache-Control"))
	}
}
