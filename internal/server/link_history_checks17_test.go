package server

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestASignInLinksPageTakesItsTokenOutOfTheHistory17: a sign-in link's token stayed in the
// address bar and the tab's history (Referrer-Policy: no-referrer kept it from other sites
// only): on a shared computer, Back or the history led the next person to it. The link's
// page, and a used link's page, now load /static/forget-link.js (script-src 'self' allows
// it), which replaces the entry with the same address without its token; the page's form
// carries the token itself, so the link signs in with or without script (this test posts it
// as a browser without script does).
func TestASignInLinksPageTakesItsTokenOutOfTheHistory17(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		const email = "history.link@example.com"
		b := e.browser()
		b.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		if p := b.post(e.base+"/login", url.Values{"email": {email}}); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("POST /login = %d", p.StatusCode)
		}
		link, _ := e.signInMail(email)
		u, _ := url.Parse(link)
		token := u.Query().Get("token")
		p := b.get(link)
		if p.StatusCode != http.StatusOK || !strings.Contains(p.Body, `<script src="/static/forget-link.js`) {
			t.Fatalf("the sign-in link's page = %d, loads no forget-link.js:\n%s", p.StatusCode, p.Body)
		}
		if !strings.Contains(p.Header.Get("Content-Security-Policy"), "script-src 'self'") {
			t.Errorf("the link page's CSP does not allow its own scripts: %s", p.Header.Get("Content-Security-Policy"))
		}
		if !strings.Contains(p.Body, `name="token" value="`+token+`"`) {
			t.Fatalf("the link page's form does not carry the token, and would not work once the address lost it:\n%s", p.Body)
		}
		res, err := http.Get(e.base + "/static/forget-link.js")
		if err != nil {
			t.Fatal(err)
		}
		js, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || !strings.Contains(res.Header.Get("Content-Type"), "javascript") ||
			!strings.Contains(string(js), `history.replaceState(`) || !strings.Contains(string(js), `searchParams.delete("token")`) {
			t.Fatalf("/static/forget-link.js = %d %s:\n%s", res.StatusCode, res.Header.Get("Content-Type"), js)
		}
		// Without script: the form's POST signs in.
		if q := b.post(e.base+"/login/magic", url.Values{"token": {token}, "confirm": {"yes"}}); q.StatusCode != http.StatusSeeOther {
			t.Fatalf("POST /login/magic = %d %s", q.StatusCode, q.Body)
		}
		if q := b.get(link); q.StatusCode != http.StatusGone || !strings.Contains(q.Body, `<script src="/static/forget-link.js`) {
			t.Errorf("the used link's page = %d, loads no forget-link.js:\n%s", q.StatusCode, q.Body)
		}
	})
}
