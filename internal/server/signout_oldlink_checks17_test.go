package server

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"loginsign/internal/httpx"
	"loginsign/internal/oauth"
	"loginsign/internal/store/storetest"
)

// TestSigningOutEndsTheAddressOfTheBrowsersOldLinks17: on a shared computer, a person asks
// for a sign-in link, signs in, and signs out. The browser cookie outlives the sign-out (it
// names the browser), and the link stays in the browser's history: its page, opened there by
// the next person to use the computer, named the previous person's address whole, and one
// press on "email me a new link" mailed them a new link and left the browser on a waiting
// page naming the address again. After the sign-out the page names the address only masked
// and asks for it to be typed, as in any other browser; a link asked for after the sign-out
// is the browser's own again.
func TestSigningOutEndsTheAddressOfTheBrowsersOldLinks17(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		tok := func(link string) string { u, _ := url.Parse(link); return u.Query().Get("token") }
		const email = "shared.computer@example.com"
		masked := oauth.MaskEmail(email)
		b := e.browser()
		b.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		if p := b.post(e.base+"/login", url.Values{"email": {email}}); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("POST /login = %d", p.StatusCode)
		}
		link, code := e.signInMail(email)
		if p := b.post(e.base+"/login/code", url.Values{"code": {code}}); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("code = %d %s", p.StatusCode, p.Body)
		}
		if p := b.get(link); p.StatusCode != http.StatusGone || !strings.Contains(p.Body, `value="`+email+`"`) {
			t.Fatalf("the used link's page in the asking browser, signed in = %d:\n%s", p.StatusCode, p.Body)
		}
		if p := b.post(e.base+"/logout", url.Values{}); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("POST /logout = %d %s", p.StatusCode, p.Body)
		}

		p := b.get(link)
		if p.StatusCode != http.StatusGone || strings.Contains(p.Body, email) || !strings.Contains(p.Body, masked) {
			t.Errorf("the used link's page in the same browser after its person signed out = %d, want 410 naming only %s:\n%s", p.StatusCode, masked, p.Body)
		}
		before := e.smtp.Count()
		p = b.post(e.base+"/login", url.Values{"flow": {""}, "link": {tok(link)}})
		if p.StatusCode != http.StatusBadRequest {
			t.Errorf("a new link from the old one after the sign-out = %d %q, want 400 asking for the address:\n%s", p.StatusCode, p.Header.Get("Location"), p.Body)
		}
		if n := e.smtp.Count(); n != before {
			t.Errorf("the old link mailed %d new links to %s after its person signed out", n-before, email)
		}
		if s := b.get(e.base + "/login/sent"); strings.Contains(s.Body, email) {
			t.Errorf("the waiting page names %s after its person signed out:\n%s", email, s.Body)
		}

		// The next link asked for in this browser is its own again.
		if p := b.post(e.base+"/login", url.Values{"email": {email}}); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("POST /login = %d", p.StatusCode)
		}
		link2, code2 := e.signInMail(email)
		if p := b.post(e.base+"/login/code", url.Values{"code": {code2}}); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("code = %d %s", p.StatusCode, p.Body)
		}
		if p := b.get(link2); p.StatusCode != http.StatusGone || !strings.Contains(p.Body, `value="`+email+`"`) {
			t.Errorf("a link asked for after the sign-out, in the same browser = %d, want its address whole:\n%s", p.StatusCode, p.Body)
		}
	})
}

// TestASignOutWithoutASessionNotesNothing: the browser's count of sign-outs is a key the
// store keeps a day and never evicts for room; a POST /logout without a session, each with a
// browser cookie of its own making, wrote one every time, with no limit.
func TestASignOutWithoutASessionNotesNothing(t *testing.T) {
	t.Parallel()
	e := newOAuthEnv(t, storetest.URLs(t)["sqlite"])
	base, _ := url.Parse(e.base)
	cookies := httpx.Cookies{Secure: e.srv.cfg.SecureCookies()}
	for i := range 20 {
		b := e.browser()
		b.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		made := []*http.Cookie{{Name: cookies.Name(httpx.BrowserCookie), Value: fmt.Sprintf("made-up-browser-%02d", i)}}
		if i%2 == 1 {
			made = append(made, &http.Cookie{Name: cookies.SessionName(), Value: fmt.Sprintf("made-up-session-%02d", i)})
		}
		b.Jar.SetCookies(base, made)
		if p := b.post(e.base+"/logout", url.Values{}); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("POST /logout without a session = %d %s", p.StatusCode, p.Body)
		}
	}
	keys, err := e.srv.kv.Keys(context.Background(), "rl:brout:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 0 {
		t.Errorf("20 sign-outs without a session kept %d sign-out counts, want none", len(keys))
	}
}
