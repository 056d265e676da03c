package server

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

var undoLinkRe = regexp.MustCompile(`(?m)^(http\S+/account/two-step/undo\?token=\S+)\s*$`)

// A copy of the session cookie of a recent sign-in (malware, a shared computer) is enough to
// turn two-step verification on with the thief's own authenticator app; the person, who has
// neither its codes nor the recovery codes shown once, could then never sign in again. The
// notice mailed to them carries a "this wasn't me" link: in a browser that signed in to the
// account before, it signs the account out everywhere, the thief's copy included, and turns
// that app off once its delay is over; opened anywhere else (whoever reads the mail alone) it
// changes nothing and shows no button. Used, it is gone.
func TestTheUndoLinkOfAnAuthenticatorAppTheThiefSetUpLetsThePersonBackIn(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		// The app is turned off three days after the link is used (a sign-in with it meanwhile
		// keeps it: mfa's TestAnAuthenticatorAppUsedToSignInIsKeptDespiteTheUndoLink); here, a
		// second.
		e.srv.mfa.UndoTOTPDelay = time.Second
		const who = "undo@example.com"
		own := e.browser()
		own.signIn(own.get(e.base+"/login"), who)
		base, _ := url.Parse(e.base)
		thief := e.browser()
		thief.Jar.SetCookies(base, own.Jar.Cookies(base))
		// The thief's copy carries the person's browser cookie too; the browser that matters is
		// the one the link is opened in.
		enrolTOTP(t, thief)

		const headline = "Two-step verification was turned on"
		var notices []string
		for deadline := time.Now().Add(10 * time.Second); len(notices) == 0 && time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond)
			for _, m := range e.noticesTo(who, headline) {
				notices = append(notices, strings.ReplaceAll(m.Text, "\r\n", "\n"))
			}
		}
		if len(notices) != 1 {
			t.Fatalf("%d notices %q, want one", len(notices), headline)
		}
		match := undoLinkRe.FindStringSubmatch(notices[0])
		if match == nil || !strings.HasPrefix(match[1], e.base) {
			t.Fatalf("no undo link on the base URL in the notice:\n%s", notices[0])
		}
		link := match[1]
		token, _ := url.Parse(link)

		// Whoever reads the mail, in a browser new to the account: no button, and a POST of the
		// token changes nothing.
		stranger := e.browser()
		p := stranger.get(link)
		if p.StatusCode != http.StatusForbidden || strings.Contains(p.Body, `name="token"`) ||
			!strings.Contains(p.Body, "browser you signed in to LoginSign with before") {
			t.Fatalf("the undo link in a new browser: %d\n%s", p.StatusCode, p.Body)
		}
		if p := stranger.post(e.base+"/account/two-step/undo", url.Values{"token": {token.Query().Get("token")}}); p.StatusCode != http.StatusForbidden {
			t.Fatalf("POST of the undo link in a new browser: %d, want 403", p.StatusCode)
		}
		if n := e.srv.db.TOTPFactor.Query().CountX(t.Context()); n != 1 || !thief.signedIn() {
			t.Fatalf("after the refused undo: %d authenticator apps, thief signed in %v; want it unchanged", n, thief.signedIn())
		}

		// The person's own browser.
		p = own.get(link)
		if p.StatusCode != http.StatusOK {
			t.Fatalf("the undo link in the person's browser: %d\n%s", p.StatusCode, p.Body)
		}
		p = own.post(e.base+"/account/two-step/undo", url.Values{"token": {p.hidden(t, "token")}})
		if p.StatusCode != http.StatusOK || !strings.Contains(p.Body, "Your account is signed out everywhere") ||
			!strings.Contains(p.Body, "will be turned off on") {
			t.Fatalf("the undo: %d\n%s", p.StatusCode, p.Body)
		}
		if thief.signedIn() || own.signedIn() {
			t.Fatalf("after the undo: thief signed in %v, person's browser signed in %v; want every session ended", thief.signedIn(), own.signedIn())
		}
		if p := own.get(link); p.StatusCode != http.StatusGone {
			t.Fatalf("the undo link used twice: %d, want 410", p.StatusCode)
		}

		// Once the removal is due, the person signs in again with their mailbox alone, and is told.
		time.Sleep(1100 * time.Millisecond)
		if p := own.signIn(own.get(e.base+"/login"), who); p.Request.URL.Path == "/login/verify" || !own.signedIn() {
			t.Fatalf("signing in after the undo: %d %s, want signed in without a second step", p.StatusCode, p.Request.URL)
		}
		if n := e.srv.db.TOTPFactor.Query().CountX(t.Context()); n != 0 {
			t.Fatalf("%d authenticator apps once the removal was due, want none", n)
		}
		var off int
		for deadline := time.Now().Add(10 * time.Second); off == 0 && time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond)
			off = len(e.noticesTo(who, "Two-step verification was turned off"))
		}
		if off != 1 {
			t.Fatalf("%d notices that two-step verification was turned off, want one", off)
		}
	})
}
