package server

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"loginsign/ent/useremail"
	"loginsign/internal/auth"
	"loginsign/internal/portal"
	"loginsign/internal/store/storetest"
)

// TestPasskeysInBrowser drives real Chromium with the DevTools virtual authenticator (CTAP2,
// internal transport, resident keys, user verification): the person adds a passkey on the
// dashboard, signs out, signs in to the sample app with the passkey (no mail), consents, and
// the app's backend exchanges the code. The id_token says amr hwk+mfa. It also turns on
// two-step verification on the dashboard with a code computed from the key it shows, and
// photographs the new dashboard sections.
func TestPasskeysInBrowser(t *testing.T) {
	for name, dbURL := range storetest.URLs(t) {
		t.Run(name, func(t *testing.T) { passkeyStory(t, dbURL, name == "sqlite") })
	}
}

func passkeyStory(t *testing.T, dbURL string, photograph bool) {
	ls := startLiveServerNamed(t, dbURL, "localhost")
	b := newChrome(t)
	if !photograph {
		b.shots = t.TempDir()
	}
	sample := startSampleApp(t, ls.URL)
	ctx := context.Background()
	dev, err := ls.identity.CreateUser(ctx, "dev@example.com", "Dana Developer")
	if err != nil {
		t.Fatal(err)
	}
	created, err := ls.portal.CreateApplication(auth.WithSession(ctx, auth.Session{UserID: dev.ID, SignedInAt: time.Now()}),
		portal.ApplicationInput{Name: "Sample Notes", RedirectURIs: []string{sample.RedirectURI()}})
	if err != nil {
		t.Fatal(err)
	}
	sample.setClient(created.Application.ID, created.ClientSecret)
	person, err := ls.identity.CreateUser(ctx, "ann@example.com", "Ann Example")
	if err != nil {
		t.Fatal(err)
	}

	tb := b.tab("passkey-person")
	var recovery string // a recovery code shown when two-step verification is turned on
	var authenticator webauthn.AuthenticatorID
	tb.do(t, func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		if _, err := cdp.Call(ctx, tg, webauthn.Enable, webauthn.EnableParams{}); err != nil {
			return chromedp.Void{}, err
		}
		res, err := cdp.Call(ctx, tg, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
			Options: &webauthn.VirtualAuthenticatorOptions{
				Protocol: webauthn.AuthenticatorProtocolCtap2, Transport: webauthn.AuthenticatorTransportInternal,
				HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true,
			}})
		if err == nil {
			authenticator = res.AuthenticatorID
		}
		return chromedp.Void{}, err
	})
	ls.signInByCookie(t, tb, person.ID)

	t.Run("fill in the profile on the dashboard", func(t *testing.T) {
		pic := filepath.Join(t.TempDir(), "me.png")
		if err := os.WriteFile(pic, testPNG(t, 480, 480), 0o644); err != nil {
			t.Fatal(err)
		}
		tb.open(t, ls.URL+"/dashboard", "#profile-form")
		tb.waitFor(t, `document.querySelectorAll('#profile-region option').length > 200 && document.querySelector('#profile-name').value === "Ann Example"`)
		tb.do(t, chromedp.SetValue(`#profile-name`, "Ann Q. Example"), chromedp.SetValue(`#profile-region`, "DE"),
			chromedp.Click(`#profile-form button[type=submit]`))
		// The result shows next to the form (LS.busy), not in the page-wide status box.
		tb.waitFor(t, `[...document.querySelectorAll('#profile .form-status')].some(b => b.textContent.includes("Your profile was saved"))`)
		tb.do(t, chromedp.SetUploadFiles(`#profile-picture-file`, []string{pic}))
		tb.waitFor(t, `!document.querySelector('#profile-picture').hidden && document.querySelector('#profile-picture').naturalWidth === 256`)
		u, err := ls.identity.User(ctx, person.ID)
		if err != nil || u.Name != "Ann Q. Example" || u.Region != "DE" || !strings.HasPrefix(u.Image, ls.URL+"/pictures/") {
			t.Fatalf("profile saved as %q %q %q (%v)", u.Name, u.Region, u.Image, err)
		}
		tb.do(t, chromedp.ScrollIntoView(`#profile`))
		tb.shot(t, "dashboard-profile")
		tb.checkLabels(t, "dashboard")
	})

	t.Run("add a passkey on the dashboard", func(t *testing.T) {
		tb.open(t, ls.URL+"/dashboard", "#add-passkey-form")
		tb.waitFor(t, `!document.querySelector('#add-passkey-form').hidden && !document.querySelector('[data-slot=passkeys][aria-busy]') && document.querySelector('#passkeys .empty')`)
		// A passkey signs in as both steps: adding one takes a code mailed to the person.
		code := ls.mailedChangeCode(t, tb, "ann@example.com", `#passkey-code-send`)
		tb.do(t, chromedp.SendKeys(`#passkey-name`, "Test laptop"), chromedp.SendKeys(`#passkey-code`, code),
			chromedp.Click(`#add-passkey-form button[type=submit]`))
		tb.waitFor(t, `document.querySelector('#passkeys li[data-passkey]') && document.querySelector('#passkeys li[data-passkey]').textContent.includes("Test laptop")`)
		var creds []*webauthn.Credential
		tb.do(t, func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			res, err := cdp.Call(ctx, tg, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: authenticator})
			if err == nil {
				creds = res.Credentials
			}
			return chromedp.Void{}, err
		})
		if len(creds) != 1 || !creds[0].IsResidentCredential || !bytes.Equal(creds[0].UserHandle, ls.passkeys.UserHandle(person.ID)) {
			t.Fatalf("virtual authenticator holds %+v", creds)
		}
		ls.waitNotice(t, "ann@example.com", "A passkey was added")
		tb.do(t, chromedp.ScrollIntoView(`#passkeys`))
		tb.shot(t, "dashboard-passkeys")
		tb.checkLabels(t, "dashboard")
	})

	t.Run("an address is added with the passkey in place of a mailed code", func(t *testing.T) {
		tb.open(t, ls.URL+"/dashboard", "#add-email-form")
		tb.waitFor(t, `!document.querySelector('[aria-busy=true]') && !document.querySelector('#address-code-passkey').hidden`)
		sent := len(ls.Mail.Messages())
		tb.do(t, chromedp.Click(`#address-code-passkey`))
		tb.waitFor(t, `document.body.textContent.includes("Confirmed with your passkey") && document.querySelector('#address-code').value.startsWith("lspc_")`)
		tb.do(t, chromedp.SendKeys(`#add-email`, "ann.passkey@example.com"), chromedp.Click(`#add-email-form button[type=submit]`))
		tb.waitFor(t, `document.querySelector('#addresses').textContent.includes("ann.passkey@example.com")`)
		if n := ls.db.UserEmail.Query().Where(useremail.Email("ann.passkey@example.com")).CountX(ctx); n != 1 {
			t.Fatalf("%d rows of the address confirmed with the passkey, want 1", n)
		}
		for _, m := range ls.Mail.Messages()[sent:] {
			if m.Subject == "Your LoginSign confirmation code" {
				t.Errorf("a confirmation code was mailed though the passkey confirmed the change")
			}
		}
		tb.checkLabels(t, "dashboard")
	})

	t.Run("turn on two-step verification on the dashboard", func(t *testing.T) {
		tb.open(t, ls.URL+"/dashboard", "#totp-begin")
		tb.do(t, chromedp.Click(`#totp-begin`), chromedp.WaitVisible(`#totp-qr`))
		tb.waitFor(t, `document.querySelector('#totp-qr').naturalWidth > 100`)
		tb.do(t, chromedp.ScrollIntoView(`#two-step`))
		tb.shot(t, "dashboard-two-step-setup")
		secret := tb.text(t, `#totp-secret`)
		// The app's code alone turns nothing on: the person's passkey (or a mailed code)
		// confirms the set-up, which a copied session cookie could not.
		tb.do(t, chromedp.SendKeys(`#totp-confirm-form-code`, totpCode(t, secret, ls.now())), chromedp.Click(`#totp-confirm-form button[type=submit]`))
		tb.waitFor(t, `document.querySelector('#totp-confirmation-error') !== null`)
		if n := ls.db.TOTPFactor.Query().CountX(ctx); n != 0 {
			t.Fatalf("%d authenticator apps set up with the app's code alone, want 0", n)
		}
		tb.waitFor(t, `!document.querySelector('#totp-confirmation-passkey').hidden`)
		tb.do(t, chromedp.Click(`#totp-confirmation-passkey`))
		tb.waitFor(t, `document.querySelector('#totp-confirmation').value.startsWith("lspc_")`)
		tb.do(t, chromedp.Click(`#totp-confirm-form button[type=submit]`))
		tb.waitFor(t, `document.querySelectorAll('#recovery-codes li').length === 10`)
		recovery = tb.text(t, `#recovery-codes li`)
		ls.waitNotice(t, "ann@example.com", "Two-step verification was turned on")
		tb.do(t, chromedp.ScrollIntoView(`#two-step`))
		tb.shot(t, "dashboard-recovery-codes")
		tb.open(t, ls.URL+"/dashboard", "#two-step")
		tb.waitFor(t, `document.querySelector('#two-step').textContent.includes("10 recovery codes left")`)
		// A passkey signs in as both steps: adding one now takes a code of the app, and no
		// code is mailed any more (the app is the stronger factor).
		tb.waitFor(t, `document.querySelector('#add-passkey-form #passkey-code') !== null && document.querySelector('#passkey-code-send').hidden`)
		// So do the changes that could take the account: an address added, made primary or
		// removed, and closing the account.
		tb.waitFor(t, `document.querySelector('#addresses #address-code') !== null && document.querySelector('#address-code-send').hidden &&
			document.querySelector('#delete-form #delete-code') !== null && document.querySelector('#delete-code-send').hidden`)
		tb.checkLabels(t, "dashboard")
		tb.do(t, chromedp.ScrollIntoView(`#two-step`))
		tb.shot(t, "dashboard-two-step-on")
	})

	t.Run("with two-step verification on, an address is removed with a code", func(t *testing.T) {
		if _, err := ls.db.UserEmail.Create().SetUserID(person.ID).SetEmail("ann.old@example.com").SetVerifiedAt(time.Now()).Save(ctx); err != nil {
			t.Fatal(err)
		}
		// The app was set up in this session: its codes confirm nothing until a sign-in after
		// it (a copied session could set up its thief's app), so the person signs in again.
		ls.signInByCookie(t, tb, person.ID)
		tb.open(t, ls.URL+"/dashboard", "#address-code")
		tb.waitFor(t, `document.querySelector('#addresses').textContent.includes("ann.old@example.com")`)
		remove := `//li[contains(., "ann.old@example.com")]/button[last()]`
		tb.do(t, chromedp.Click(remove), chromedp.Click(remove))
		tb.waitFor(t, `document.body.textContent.includes("enter a current code from your authenticator app")`)
		tb.do(t, chromedp.ScrollIntoView(`#addresses`))
		tb.shot(t, "dashboard-address-code")
		tb.do(t, chromedp.SendKeys(`#address-code`, recovery), chromedp.Click(remove), chromedp.Click(remove))
		tb.waitFor(t, `!document.querySelector('#addresses').textContent.includes("ann.old@example.com")`)
		if n := ls.db.UserEmail.Query().Where(useremail.Email("ann.old@example.com")).CountX(ctx); n != 0 {
			t.Errorf("the address is still the account's after its removal with a recovery code")
		}
	})

	t.Run("sign out, then sign in to the app with the passkey", func(t *testing.T) {
		// The virtual authenticator answers at once when presence is simulated, which would
		// also complete a login page's passkey autofill request (signing straight back in after
		// the sign-out): hold it while pages load (a pending autofill request stays pending),
		// then press the button.
		presence := func(on bool) {
			tb.do(t, func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
				_, err := cdp.Call(ctx, tg, webauthn.SetAutomaticPresenceSimulation,
					webauthn.SetAutomaticPresenceSimulationParams{AuthenticatorID: authenticator, Enabled: on})
				return chromedp.Void{}, err
			})
		}
		presence(false)
		tb.open(t, ls.URL+"/logout", "button[type=submit]")
		tb.do(t, chromedp.Click(`button[type=submit]`))
		tb.waitFor(t, `location.pathname === "/login"`)
		sent := len(ls.Mail.Messages())
		tb.open(t, sample.URL+"/", "#signin a.loginsign-btn")
		tb.do(t, chromedp.Click(`#signin a.loginsign-btn`), chromedp.WaitVisible(`#passkey-form button`), chromedp.Sleep(300*time.Millisecond))
		tb.shot(t, "signin-passkey")
		presence(true)
		tb.do(t, chromedp.Click(`#passkey-form button`))
		tb.waitFor(t, `document.querySelector('button[value=allow]')`)
		tb.do(t, chromedp.Click(`input[type=radio]`), press(`button[value=allow]`))
		tb.waitFor(t, `location.href.startsWith("`+sample.RedirectURI()+`?") && document.querySelector('#done')`)
		if n := len(ls.Mail.Messages()); n != sent {
			t.Errorf("a passkey sign-in sent %d mails", n-sent)
		}
		sample.mu.Lock()
		defer sample.mu.Unlock()
		if sample.exchangeErr != nil || len(sample.exchanged) == 0 || sample.exchanged[0].AccessToken == "" {
			t.Fatalf("the app's backend could not exchange the code: %v", sample.exchangeErr)
		}
		raw, _ := sample.exchanged[0].Extra("id_token").(string)
		parts := strings.Split(raw, ".")
		if len(parts) != 3 {
			t.Fatalf("id_token %q", raw)
		}
		payload, err := decodeSegment(parts[1])
		if err != nil || !strings.Contains(string(payload), `"amr":["hwk","mfa"]`) || !strings.Contains(string(payload), `"acr":"urn:loginsign:acr:mfa"`) {
			t.Fatalf("id_token claims %s", payload)
		}
		tb.open(t, ls.URL+"/dashboard", "#sessions li")
		tb.waitFor(t, `document.querySelector('#sessions').textContent.includes("with a passkey")`)
		tb.waitFor(t, `document.querySelector('#passkeys li[data-passkey]') && document.querySelector('#passkeys').textContent.includes("last used")`)
		tb.do(t, chromedp.ScrollIntoView(`#sessions`))
		tb.shot(t, "dashboard-sessions-sign-in-method")
	})
}
