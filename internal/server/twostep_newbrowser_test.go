package server

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"loginsign/internal/mail"
	"loginsign/internal/mail/mailtest"
)

// Someone who can open the person's mail reaches the second step as often as they like, each
// time in a browser new to the account. Their wrong codes, 20 a day, pause the second step of
// every browser new to the account (429 with Retry-After and the way out, even for the right
// code) and mail the person a notice, once; the person's own browser, which signed in before,
// still signs in with the right code.
func TestAStrangerGuessingSecondStepCodesPausesNewBrowsersNotThePersons(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		// The 15-minute window (TestTwoStepVerification) would stop the guesses first within
		// one test: this one is about the day's.
		e.srv.mfa.Attempts.N = 1000
		const who = "paused@example.com"
		own := e.browser()
		own.signIn(own.get(e.base+"/login"), who)
		secret, _ := enrolTOTP(t, own)
		own.post(e.base+"/logout", url.Values{})

		stranger, _ := e.secondStep(t, e.base+"/login", who)
		day := e.srv.mfa.NewBrowserFailures.N
		for i := range day {
			if p := stranger.code("000000x"); p.StatusCode != http.StatusBadRequest {
				t.Fatalf("wrong code %d: %d, want 400", i+1, p.StatusCode)
			}
		}
		const headline = "Sign-ins from new browsers were paused"
		var notices []mailtest.Envelope
		for deadline := time.Now().Add(10 * time.Second); len(notices) == 0 && time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond)
			notices = e.noticesTo(who, headline)
		}
		if len(notices) != 1 || !strings.Contains(notices[0].Text, "change the password of your email") {
			t.Fatalf("notices %q to %s after %d wrong codes: %d, want one telling what to do", headline, who, day, len(notices))
		}

		// Another new browser, with the right code: 429, and nobody is signed in.
		other, _ := e.secondStep(t, e.base+"/login", who)
		p := other.code(totpCode(t, secret, time.Now().Add(30*time.Second)))
		if p.StatusCode != http.StatusTooManyRequests || p.Header.Get("Retry-After") == "" ||
			!strings.Contains(p.Body, "browser you used before") {
			t.Fatalf("the right code in a new browser during the pause: %d Retry-After=%q:\n%s", p.StatusCode, p.Header.Get("Retry-After"), p.Body)
		}
		if other.signedIn() || stranger.signedIn() {
			t.Fatal("a browser new to the account signed in during the pause")
		}

		// The person's own browser signs in.
		p = own.signIn(own.get(e.base+"/login"), who)
		if p.Request.URL.Path != "/login/verify" {
			t.Fatalf("the person's browser after the magic link: %d %s, want the second step", p.StatusCode, p.Request.URL)
		}
		if p := own.code(totpCode(t, secret, time.Now().Add(30*time.Second))); p.StatusCode != http.StatusOK || !own.signedIn() {
			t.Fatalf("the right code in the person's own browser during the pause: %d %s, want signed in", p.StatusCode, p.Request.URL)
		}
		time.Sleep(200 * time.Millisecond) // a second notice would be on its way
		if n := len(e.noticesTo(who, headline)); n != 1 {
			t.Fatalf("%d notices %q, want one", n, headline)
		}
	})
}

// noticesTo is the security notices headline mailed to to so far.
func (e *oauthEnv) noticesTo(to, headline string) []mailtest.Envelope {
	var out []mailtest.Envelope
	for _, m := range e.smtp.Messages() {
		if containsFold(m.To, to) && m.Subject == mail.SecurityNoticeSubject+headline {
			out = append(out, m)
		}
	}
	return out
}
