package server

import (
	"golang.org/x/oauth2"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// noFollowBrowser is a browser of e that stops at every redirect, so that its Location can be
// read.
func noFollowBrowser(e *oauthEnv) *browser {
	b := e.browser()
	b.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return b
}

// crossSite sends a form POST as a browser sends one from a page on another site: with
// Sec-Fetch-Site cross-site and the page's Origin.
func (b *browser) crossSite(u string, form url.Values) page {
	b.e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		b.e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.Header.Set("Sec-Fetch-Mode", "navigate")
	req.Header.Set("Origin", "https://evil.example")
	resp, err := b.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return page{resp, string(body)}
}

func setsCookie(p page, name string) bool {
	for _, c := range p.Cookies() {
		if c.Name == name && c.Value != "" && c.MaxAge >= 0 {
			return true
		}
	}
	return false
}

// Login CSRF: an attacker asks for a link to their own address and puts its token in an
// auto-submitting form on their page. The victim's browser posting it cross-site must not come
// back signed in to the attacker's account (nor be given a session cookie at all), and the
// attacker's link stays unspent.
func TestACrossSitePostOfTheAttackersOwnLinkDoesNotSignTheVisitorIn(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		const attacker = "mallory-csrf@example.com"
		mallory := noFollowBrowser(e)
		mallory.post(e.base+"/login", url.Values{"email": {attacker}})
		link, _ := e.signInMail(attacker)
		tok, _ := url.Parse(link)
		token := tok.Query().Get("token")

		victim := noFollowBrowser(e)
		p := victim.crossSite(e.base+"/login/magic", url.Values{"token": {token}})
		if p.StatusCode != http.StatusForbidden {
			t.Fatalf("cross-site POST /login/magic = %d %q, want 403", p.StatusCode, p.Header.Get("Location"))
		}
		if setsCookie(p, "session") || setsCookie(p, "__Host-session") {
			t.Fatal("the cross-site POST of a link set a session cookie")
		}
		if d := victim.get(e.base + "/dashboard"); d.StatusCode == http.StatusOK {
			t.Fatal("the visitor is signed in to the attacker's account after a cross-site POST")
		}
		// The link was not spent by the refused POST: its owner can still use it.
		if p := mallory.get(link); p.StatusCode != http.StatusOK || !strings.Contains(p.Body, token) {
			t.Fatalf("the attacker's link after the refused cross-site POST = %d", p.StatusCode)
		}
	})
}

// The other sign-in forms refuse a cross-site POST as well: the code form (a login CSRF with
// the attacker's own code would need the attacker's waiting cookie, but the form must not act
// regardless), the approval of another device, the second step, the consent answer and
// sign-out.
func TestCrossSitePostsToTheSignInConsentAndLogoutFormsAreRefused(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		b := noFollowBrowser(e)
		for _, path := range []string{"/login", "/login/code", "/login/resend", "/login/waiting", "/login/magic/approve",
			"/login/verify", "/login/passkey", "/oauth/consent", "/logout"} {
			p := b.crossSite(e.base+path, url.Values{"email": {"victim-x@example.com"}, "code": {"123456"}, "action": {"allow"}})
			if p.StatusCode != http.StatusForbidden {
				t.Errorf("cross-site POST %s = %d, want 403", path, p.StatusCode)
			}
		}
	})
}

// A stranger who knows only the victim's address must not get its 6-digit code checked in the
// victim's browser's stead: the code mailed for the victim's own waiting sign-in does not sign
// in the stranger's waiting sign-in for the same address, and typing it there does not burn it.
func TestTheVictimsCodeDoesNotSignInAStrangersWaitingSignInForTheSameAddress(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		const victim = "victim-code@example.com"
		stranger := noFollowBrowser(e)
		stranger.post(e.base+"/login", url.Values{"email": {victim}})
		_, strangersCode := e.signInMail(victim)
		own := noFollowBrowser(e)
		own.post(e.base+"/login", url.Values{"email": {victim}})
		_, code := e.signInMail(victim)
		_ = strangersCode // equal to code one time in a million: the stranger's 400 below would then be a 303
		if p := stranger.post(e.base+"/login/code", url.Values{"code": {code}}); p.StatusCode != http.StatusBadRequest {
			t.Fatalf("the victim's code in the stranger's waiting sign-in = %d %q, want 400", p.StatusCode, p.Header.Get("Location"))
		}
		if p := stranger.get(e.base + "/dashboard"); p.StatusCode == http.StatusOK {
			t.Fatal("the stranger is signed in")
		}
		if p := own.post(e.base+"/login/code", url.Values{"code": {code}}); p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != "/dashboard" {
			t.Fatalf("the victim's own code afterwards = %d %q, want 303 /dashboard", p.StatusCode, p.Header.Get("Location"))
		}
	})
}

// The mailbox's caps are shared by everyone who asks, so a browser that signed in to the
// account before has a budget of its own for sign-in mails (loginLimits): a stranger cannot
// lock the person out of signing in by mail. The codes tried for the address are capped the
// same way (CodePerAddress), but with no budget of the person's own: a stranger who asks for
// a few links to the address and types wrong codes spends the cap for everyone, and the
// person's own browser, which signed in there before and asks for its own link, is then
// refused the right code for the rest of the window (a day by default).
func TestAStrangersWrongCodesDoNotLockThePersonsKnownBrowserOutOfTheCode(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL) // the default limits: 20 codes a day, 5 links in 15 minutes
		const who = "locked-out@example.com"

		// The person signs in once in their own browser: it is now a known browser.
		own := noFollowBrowser(e)
		own.post(e.base+"/login", url.Values{"email": {who}})
		_, code := e.signInMail(who)
		if p := own.post(e.base+"/login/code", url.Values{"code": {code}}); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("first sign-in by code = %d", p.StatusCode)
		}
		own.post(e.base+"/logout", url.Values{})

		// A stranger asks for four links to the address (within the mailbox's 5 in 15 minutes)
		// and types five wrong codes for each.
		stranger := noFollowBrowser(e)
		for range 4 {
			if p := stranger.post(e.base+"/login", url.Values{"email": {who}}); p.StatusCode != http.StatusSeeOther {
				t.Fatalf("the stranger's link = %d", p.StatusCode)
			}
			_, sc := e.signInMail(who)
			wrong := "000000"
			if sc == wrong {
				wrong = "111111"
			}
			for range 5 {
				stranger.post(e.base+"/login/code", url.Values{"code": {wrong}})
			}
		}

		// The person's own browser asks for a link and types the right code.
		if p := own.post(e.base+"/login", url.Values{"email": {who}}); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("the known browser's new link = %d, want 303", p.StatusCode)
		}
		_, code = e.signInMail(who)
		p := own.post(e.base+"/login/code", url.Values{"code": {code}})
		if p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != "/dashboard" {
			t.Fatalf("the person's right code in their own known browser after a stranger's wrong ones = %d (Retry-After %q), want 303 /dashboard",
				p.StatusCode, p.Header.Get("Retry-After"))
		}
	})
}

// return_to is remembered before the sign-in and followed after it: every form of another
// origin (scheme-relative, backslash, encoded, dot segments, control characters) must end on
// LoginSign's own origin.
func TestReturnToNeverLeavesTheOriginAfterSignIn(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		base, _ := url.Parse(e.base)
		for i, rt := range []string{
			"//evil.example/", "/\\evil.example/", "/%2F%2Fevil.example/", "/%5Cevil.example/", "/.//evil.example/",
			"/..//evil.example/", "/%2e%2e//evil.example/", "/\t/evil.example/", "https://evil.example/", "/%0d%0aLocation:%20https://evil.example/",
		} {
			who := "return" + string(rune('a'+i)) + "@example.com"
			b := noFollowBrowser(e)
			b.get(e.base + "/login?" + url.Values{"return_to": {rt}}.Encode())
			b.post(e.base+"/login", url.Values{"email": {who}})
			_, code := e.signInMail(who)
			p := b.post(e.base+"/login/code", url.Values{"code": {code}})
			if p.StatusCode != http.StatusSeeOther {
				t.Fatalf("return_to %q: sign-in = %d", rt, p.StatusCode)
			}
			loc := p.Header.Get("Location")
			to, err := base.Parse(loc)
			if err != nil || to.Host != base.Host || to.Scheme != base.Scheme || strings.ContainsAny(loc, "\\\r\n\t") {
				t.Errorf("return_to %q: Location %q leaves %s", rt, loc, e.base)
			}
		}
	})
}

// A flow's id "alone is worth nothing in another browser" (oauth.Flow): the login page of
// another browser's flow must not fill in the address the app named in login_hint, nor name
// the app. A flow id travels in URLs (history, a shared screen, a pasted link).
func TestTheLoginPageOfAnotherBrowsersFlowDoesNotShowItsLoginHint(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		const hint = "hinted-person@example.com"
		owner := e.browser()
		p := owner.get(e.config(e.app, rpCallback).AuthCodeURL("st", oauth2.SetAuthURLParam("login_hint", hint)))
		flow := p.Request.URL.Query().Get("flow")
		if p.StatusCode != http.StatusOK || flow == "" || !strings.Contains(p.Body, hint) {
			t.Fatalf("the owner's login page = %d %s", p.StatusCode, p.Request.URL)
		}
		other := e.browser()
		q := other.get(e.base + "/login?" + url.Values{"flow": {flow}}.Encode())
		if strings.Contains(q.Body, hint) {
			t.Errorf("another browser's /login?flow= shows the flow's login_hint %q", hint)
		}
		if strings.Contains(q.Body, "Demo App") {
			t.Errorf("another browser's /login?flow= names the flow's app")
		}
	})
}

// Session fixation: a session cookie already in the browser before a sign-in (planted, or an
// earlier person's on a shared computer) does not survive it: the sign-in sets a new session
// id, and the old id no longer opens the dashboard in any browser.
func TestASessionCookieFromBeforeASignInDoesNotSurviveIt(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		b := noFollowBrowser(e)
		sessionOf := func(p page) string {
			for _, c := range p.Cookies() {
				if strings.HasSuffix(c.Name, "session") && c.Value != "" {
					return c.Name + "=" + c.Value
				}
			}
			return ""
		}
		signIn := func(who string) string {
			b.post(e.base+"/login", url.Values{"email": {who}})
			_, code := e.signInMail(who)
			p := b.post(e.base+"/login/code", url.Values{"code": {code}})
			if p.StatusCode != http.StatusSeeOther || sessionOf(p) == "" {
				t.Fatalf("sign-in of %s = %d, no session cookie", who, p.StatusCode)
			}
			return sessionOf(p)
		}
		planted := signIn("planted-first@example.com")
		second := signIn("fixated-victim@example.com")
		if second == planted {
			t.Fatal("the sign-in kept the session id that was in the browser before it")
		}
		req, _ := http.NewRequest(http.MethodGet, e.base+"/dashboard", nil)
		req.Header.Set("Cookie", planted)
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Fatal("the session id from before the sign-in still opens the dashboard")
		}
	})
}

// An app that asks without the email scope, in an odd spelling (repeats, extra spaces, a
// non-breaking space) and with a claims parameter naming email as essential, gets no address:
// the consent page shows no email line, and neither the token response's scope nor userinfo
// carries one.
func TestOddScopeSpellingsAndAClaimsParameterDoNotShareTheAddress(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		const who = "scoped-person@example.com"
		b := e.browser()
		verifier := oauth2.GenerateVerifier()
		cfg := e.config(e.app, rpCallback)
		cfg.Scopes = []string{"openid ", " openid\u00a0profile", "profile"}
		u := cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier),
			oauth2.SetAuthURLParam("claims", `{"userinfo":{"email":{"essential":true},"email_verified":null},"id_token":{"email":{"essential":true}}}`))
		p := b.signIn(b.get(u), who)
		if p.StatusCode != http.StatusOK || !strings.Contains(p.Body, `value="allow"`) {
			t.Fatalf("want the consent page, got %d %s", p.StatusCode, p.Request.URL)
		}
		// The address appears once, in the "Signed in as" note, never as something to share.
		if strings.Count(p.Body, who) != 1 || !strings.Contains(p.Body, "Signed in as "+who) || strings.Contains(p.Body, `name="share"`) {
			t.Fatalf("the consent page of a request without the email scope offers the address:\n%s", p.Body)
		}
		q := callback(t, b.consent(p, "allow", ""))
		status, tok, _ := e.tokenRequest(e.app, url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")},
			"redirect_uri": {rpCallback}, "code_verifier": {verifier}})
		if status != http.StatusOK {
			t.Fatalf("token = %d %v", status, tok)
		}
		if sc, _ := tok["scope"].(string); strings.Contains(sc, "email") {
			t.Errorf("token scope %q includes email", sc)
		}
		access, _ := tok["access_token"].(string)
		status, info, _ := e.apiUser(access)
		if status != http.StatusOK {
			t.Fatalf("userinfo = %d", status)
		}
		if _, ok := info["email"]; ok {
			t.Errorf("userinfo carries an address: %v", info)
		}
	})
}
