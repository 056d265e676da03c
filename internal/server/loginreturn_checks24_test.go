package server

import (
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// TestTheSignInPageOfALinkDropsItsTokenFromTheHistory24: a signed-out person who opens a mailed
// link (an address verification, a team invitation) is sent to /login?return_to=<the link's
// page with its token>; that address stayed in the tab's history with a token that still worked
// (a day, 7 days), after the link's own page had dropped it. The sign-in page now loads
// forget-link.js, which drops a return_to that carries a token; the server keeps the page to
// return to (the return_to cookie, set when the sign-in page is served), so the person still
// comes back to the link after signing in, from a sign-in page whose address has lost it.
func TestTheSignInPageOfALinkDropsItsTokenFromTheHistory24(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	pat := e.browser()
	pat.signInTo("pat@example.com")
	pat.gql(`mutation($e: String!, $c: String) { addEmail(input: {email: $e, code: $c}) { userEmail { id } } }`,
		map[string]any{"e": "pat@second.example", "c": pat.changeCode()})
	link := e.mailLink("pat@second.example", "/dashboard/emails/verify")

	// A signed-out browser of Pat's opens the link, then its sign-in link.
	b := e.browser()
	p := b.get(link)
	m := regexp.MustCompile(`id="confirm-sign-in" href="([^"]+)"`).FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("the signed-out link page offers no sign-in:\n%s", p.Body)
	}
	login := b.get(e.base + html.UnescapeString(m[1]))
	if !strings.Contains(login.Request.URL.RawQuery, "token") {
		t.Fatalf("the sign-in page's address carries no token to drop: %s", login.Request.URL)
	}
	if !strings.Contains(login.Body, `<script src="/static/forget-link.js"></script>`) {
		t.Errorf("the sign-in page keeps the link's token in the history (no forget-link.js):\n%s", login.Body)
	}
	res, err := http.Get(e.base + "/static/forget-link.js")
	if err != nil {
		t.Fatal(err)
	}
	js, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(js), `searchParams.delete("return_to")`) {
		t.Errorf("forget-link.js leaves return_to:\n%s", js)
	}
	// The address without return_to (as the script leaves it): the sign-in still comes back to
	// the link's page, whose form confirms the address.
	back := b.signIn(b.get(e.base+"/login"), "pat@example.com")
	if back.StatusCode != http.StatusOK || back.Request.URL.Path != "/dashboard/emails/verify" ||
		!strings.Contains(back.Body, `name="token" value="`+mustToken(t, link)+`"`) {
		t.Fatalf("after signing in: %d %s\n%s", back.StatusCode, back.Request.URL, back.Body)
	}
	if q := b.post(e.base+"/dashboard/emails/verify", url.Values{"token": {mustToken(t, link)}}); q.StatusCode != http.StatusOK {
		t.Errorf("confirming after the sign-in: %d %s", q.StatusCode, q.Body)
	}
}
