package server

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"loginsign/internal/oauth"
)

// TestAStrangersOldLinkCannotLeaveThisBrowserWaitingForTheirAccount: a site sends the
// person's browser to the page of its own old sign-in link (asked for with the attacker's
// address in the attacker's browser). That page may name the address only masked, and must
// not mail a new link to it from the old link: a press on "email me a new link" there left
// the person's browser waiting for a sign-in to the attacker's account (its page naming it
// only masked), and the attacker's new link, opened in that browser, signed it in to the
// attacker's account without naming it. The page asks for the address to be typed instead;
// the browser that asked for the link still gets its address filled in.
func TestAStrangersOldLinkCannotLeaveThisBrowserWaitingForTheirAccount(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		noFollow := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		browser := func() *browser { b := e.browser(); b.CheckRedirect = noFollow; return b }
		tok := func(link string) string { u, _ := url.Parse(link); return u.Query().Get("token") }
		const attacker = "mallory.attacker@example.net"
		masked := oauth.MaskEmail(attacker)
		asker := browser()
		if p := asker.post(e.base+"/login", url.Values{"email": {attacker}}); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("POST /login = %d", p.StatusCode)
		}
		link, code := e.signInMail(attacker)
		if p := asker.post(e.base+"/login/code", url.Values{"code": {code}}); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("code = %d %s", p.StatusCode, p.Body)
		}
		victim := browser()
		p := victim.get(link)
		if p.StatusCode != http.StatusGone || strings.Contains(p.Body, attacker) || !strings.Contains(p.Body, masked) {
			t.Fatalf("the attacker's used link in the victim's browser = %d:\n%s", p.StatusCode, p.Body)
		}
		if strings.Contains(p.Body, `name="link"`) || !strings.Contains(p.Body, `<input type="email" id="email" name="email" value=""`) {
			t.Errorf("the old link's page in another browser must ask for the address, not send a new link by the old one:\n%s", p.Body)
		}
		// What the old page's form posted (same origin, after the person's press).
		before := e.smtp.Count()
		p = victim.post(e.base+"/login", url.Values{"flow": {""}, "link": {tok(link)}})
		if p.StatusCode == http.StatusSeeOther || p.StatusCode != http.StatusBadRequest || !strings.Contains(p.Body, `id="email-error"`) {
			t.Errorf("a new link from a stranger's old link = %d %q, want 400 asking for the address:\n%s", p.StatusCode, p.Header.Get("Location"), p.Body)
		}
		if n := e.smtp.Count(); n != before {
			t.Errorf("the stranger's old link mailed %d new links to %s", n-before, attacker)
		}
		for _, c := range p.Cookies() {
			if strings.HasSuffix(c.Name, "waiting") && c.Value != "" {
				t.Errorf("the victim's browser was left waiting (cookie %s)", c.Name)
			}
		}
		if s := victim.get(e.base + "/login/sent"); strings.Contains(s.Body, masked) || strings.Contains(s.Body, `id="code-form"`) {
			t.Errorf("the victim's browser waits for a sign-in to %s:\n%s", masked, s.Body)
		}
		// The browser that asked for the link: its address filled in, a new link by it.
		if p := asker.get(link); p.StatusCode != http.StatusGone || !strings.Contains(p.Body, `value="`+attacker+`"`) {
			t.Fatalf("the used link's page in the asking browser = %d:\n%s", p.StatusCode, p.Body)
		}
		if p := asker.post(e.base+"/login", url.Values{"flow": {""}, "link": {tok(link)}}); p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != "/login/sent" {
			t.Fatalf("a new link from the old one in the asking browser = %d %q %s", p.StatusCode, p.Header.Get("Location"), p.Body)
		}
		e.signInMail(attacker)
	})
}
