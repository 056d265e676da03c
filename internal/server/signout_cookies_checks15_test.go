package server

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"loginsign/internal/store/storetest"
)

// TestSignOutForgetsTheSignInOfThisBrowser15: a person signs in on a shared computer with the
// link of their mail, opened in the same browser, then signs out. The next person at that
// browser must not find the previous one's sign-in there: the "check your email" page showed
// their address (and offered to mail them again) for as long as the waiting cookie lived.
func TestSignOutForgetsTheSignInOfThisBrowser15(t *testing.T) {
	t.Parallel()
	e := newOAuthEnv(t, storetest.URLs(t)["sqlite"])
	b := e.browser()
	const who = "shared.computer@example.com"
	after := b.signIn(b.get(e.base+"/login?return_to=/portal"), who)
	if after.StatusCode != http.StatusOK {
		t.Fatalf("sign-in: %d at %s", after.StatusCode, after.Request.URL)
	}
	out := b.post(e.base+"/logout", url.Values{})
	if out.StatusCode != http.StatusOK || out.Request.URL.Path != "/login" {
		t.Fatalf("sign-out: %d at %s", out.StatusCode, out.Request.URL)
	}
	sent := b.get(e.base + "/login/sent")
	if strings.Contains(sent.Body, who) {
		t.Errorf("after signing out, /login/sent still shows the previous person's address %s:\n%s", who, sent.Body)
	}
	resend := b.post(e.base+"/login/resend", url.Values{})
	if resend.StatusCode < 400 {
		t.Errorf("after signing out, POST /login/resend answers %d (a new link for the previous person?)", resend.StatusCode)
	}
	for _, c := range b.Jar.Cookies(out.Request.URL) {
		switch c.Name {
		case "ls_waiting", "ls_second_step", "ls_return_to":
			t.Errorf("after signing out, the browser still holds %s", c.Name)
		}
	}
}
