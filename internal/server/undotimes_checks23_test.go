package server

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestTheAuthenticatorAppsUndoMailSaysTheDelayTheOperatorSet: the notice of an authenticator
// app set up, and the page of its "this wasn't me" link, say how long after the link is used
// the app is turned off from mfa.Service.UndoTOTPDelay, the operator's setting, and how long
// the link works from mfa.UndoTOTPTTL: set to five days, the mail says five days, not the
// three the catalog once wrote.
func TestTheAuthenticatorAppsUndoMailSaysTheDelayTheOperatorSet(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		e.srv.mfa.UndoTOTPDelay = 5 * 24 * time.Hour
		const who = "undo-times@example.com"
		own := e.browser()
		own.signIn(own.get(e.base+"/login"), who)
		enrolTOTP(t, own)

		const headline = "Two-step verification was turned on"
		var notice string
		for deadline := time.Now().Add(10 * time.Second); notice == "" && time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond)
			for _, m := range e.noticesTo(who, headline) {
				notice = strings.ReplaceAll(m.Text, "\r\n", "\n")
			}
		}
		for _, want := range []string{"Within 7 days, open the link below", "turns that app off 5 days later"} {
			if !strings.Contains(notice, want) {
				t.Errorf("the notice does not say %q:\n%s", want, notice)
			}
		}
		if strings.Contains(notice, "three days") || strings.Contains(notice, "seven days") {
			t.Errorf("the notice still writes its own times:\n%s", notice)
		}
		match := undoLinkRe.FindStringSubmatch(notice)
		if match == nil {
			t.Fatalf("no undo link in the notice:\n%s", notice)
		}
		p := own.get(match[1])
		if p.StatusCode != http.StatusOK || !strings.Contains(p.Body, "the app is turned off 5 days later") {
			t.Fatalf("the undo page: %d, want it to say the app is turned off 5 days later:\n%s", p.StatusCode, p.Body)
		}
		if p := own.post(e.base+"/account/two-step/undo", url.Values{"token": {p.hidden(t, "token")}}); p.StatusCode != http.StatusOK {
			t.Fatalf("the undo: %d\n%s", p.StatusCode, p.Body)
		}
		var scheduled string
		for deadline := time.Now().Add(10 * time.Second); scheduled == "" && time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond)
			for _, m := range e.noticesTo(who, "Two-step verification will be turned off") {
				scheduled = strings.ReplaceAll(m.Text, "\r\n", "\n")
			}
		}
		if !strings.Contains(scheduled, "the app will be turned off 5 days later") {
			t.Errorf("the notice of the removal does not say it is 5 days later:\n%s", scheduled)
		}
	})
}
