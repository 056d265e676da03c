package server

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// A magic link asked for in one browser inside an authorization request, and used with "Sign
// in on this device" in another, signs in there without that authorization: whoever asked may
// be a stranger who typed the person's address into the sign-in of their own application
// (their client, their redirect_uri). Carried into the person's browser, the flow would end
// on a consent screen for an application the person never opened, or, with the consent
// remembered, in a code for it at the stranger's redirect_uri. The person's own sign-in on the
// other device still finishes its flow: the link in the same browser, or the number approved
// from the device that received the mail.
func TestMagicLinkElsewhereLeavesTheAskersFlow(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	const victim = "vic@example.com"
	// Mallory's application (its owner does not matter here; its redirect URI is the test RP's).
	evil := e.createApp("Mallory Notes", rpCallback)

	// attackerAsks starts an authorization of Mallory's app in Mallory's browser and asks for
	// a link to the victim's address there; it returns the link from the victim's mailbox.
	attackerAsks := func(state string) (*browser, string) {
		t.Helper()
		mallory := e.browser()
		login := mallory.get(e.config(evil, rpCallback).AuthCodeURL(state))
		if p := mallory.post(e.base+"/login", url.Values{"email": {victim}, "flow": {login.hidden(t, "flow")}}); p.StatusCode != http.StatusOK {
			t.Fatalf("Mallory's POST /login = %d", p.StatusCode)
		}
		return mallory, e.magicLink(victim)
	}
	// hereOn presses "Sign in on this device" on the link's page in b.
	hereOn := func(b *browser, link string) page {
		t.Helper()
		confirm := b.get(link)
		if confirm.StatusCode != http.StatusOK || !strings.Contains(confirm.Body, `id="sign-in-here"`) {
			t.Fatalf("the link's page in the victim's browser = %d, want the choice of device:\n%s", confirm.StatusCode, confirm.Body)
		}
		return b.post(e.base+"/login/magic", url.Values{"token": {confirm.hidden(t, "token")}})
	}

	// No consent yet: the dashboard, not Mallory's consent screen.
	{
		_, link := attackerAsks("evil-1")
		phone := e.browser()
		p := hereOn(phone, link)
		if p.StatusCode != http.StatusOK || p.Request.URL.Path != "/dashboard" {
			t.Fatalf(`"sign in on this device" with a link Mallory asked for ended at %d %s, want the dashboard (signed in without Mallory's authorization)`,
				p.StatusCode, p.Request.URL)
		}
		if strings.Contains(p.Body, "Mallory Notes") {
			t.Fatalf("the victim's page names Mallory's app:\n%s", p.Body)
		}
	}

	// Consent remembered: no code for Mallory's redirect_uri.
	{
		// The victim once used Mallory's app (or Mallory is a developer the victim trusted).
		own := e.browser()
		if q := callback(t, own.consent(own.signIn(own.get(e.config(evil, rpCallback).AuthCodeURL("own")), victim), "allow", "")); q.Get("code") == "" {
			t.Fatalf("the victim's own sign-in: %v", q)
		}
		_, link := attackerAsks("evil-2")
		phone := e.browser()
		p := hereOn(phone, link)
		if loc := p.Header.Get("Location"); p.StatusCode == http.StatusSeeOther && strings.Contains(loc, rpCallbackHost) {
			t.Fatalf(`"sign in on this device" with a link Mallory asked for sent a code to Mallory's redirect_uri: %s`, loc)
		}
		if p.StatusCode != http.StatusOK || p.Request.URL.Path != "/dashboard" {
			t.Fatalf("ended at %d %s, want the dashboard", p.StatusCode, p.Request.URL)
		}
	}

	// The asker's browser is not signed in.
	{
		mallory, link := attackerAsks("evil-3")
		hereOn(e.browser(), link)
		if p := mallory.post(e.base+"/login/waiting", nil); p.StatusCode < 400 {
			t.Fatalf("Mallory's waiting browser finished the sign-in: %d %s", p.StatusCode, p.Request.URL)
		}
		if p := mallory.get(e.base + "/dashboard"); p.Request.URL.Path == "/dashboard" && p.StatusCode == http.StatusOK && strings.Contains(p.Body, victim) {
			t.Fatal("Mallory's browser is signed in as the victim")
		}
	}

	// The person's own devices still finish their flow.
	{
		// The link in the browser that asked.
		laptop := e.browser()
		if q := callback(t, laptop.consent(laptop.signIn(laptop.get(e.config(e.app, rpCallback).AuthCodeURL("same")), "pat@example.com"), "allow", "")); q.Get("state") != "same" || q.Get("code") == "" {
			t.Fatalf("same browser: %v", q)
		}
		// The number approved from the phone: the laptop finishes its flow.
		laptop = e.browser()
		login := laptop.get(e.config(e.app, rpCallback).AuthCodeURL("approved"))
		flow := login.hidden(t, "flow")
		laptop.post(e.base+"/login", url.Values{"email": {"pat@example.com"}, "flow": {flow}})
		link := e.magicLink("pat@example.com")
		m := matchRe.FindStringSubmatch(laptop.get(e.base + "/login/sent?flow=" + url.QueryEscape(flow)).Body)
		if m == nil {
			t.Fatal("no number on the laptop's waiting page")
		}
		phone := e.browser()
		confirm := phone.get(link)
		if p := phone.post(e.base+"/login/magic/approve", url.Values{"token": {confirm.hidden(t, "token")}, "match": {m[1]}}); p.StatusCode != http.StatusOK {
			t.Fatalf("approve = %d:\n%s", p.StatusCode, p.Body)
		}
		// Pat allowed the app above: the approved laptop goes straight back to it.
		if q := callback(t, laptop.post(e.base+"/login/waiting", nil)); q.Get("state") != "approved" || q.Get("code") == "" {
			t.Fatalf("approved laptop: %v", q)
		}
	}
}
