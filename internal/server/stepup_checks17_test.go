package server

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"loginsign/internal/mfa"
	"loginsign/internal/store/storetest"
)

// TestASignInWithinTheFlowIsSteppedUpWhenTheAppAsksForTwoFactors: an application asks for
// acr_values=urn:loginsign:acr:mfa (acr_values_supported) for a person whose second factor is
// a passkey. Signing in within the flow with a magic link alone (one factor) used to count as
// the flow's sign-in and answer with a code whose id_token said acr 1fa; it now sends the
// person back to the login page, which says a passkey (or link and app code) is needed, and
// the passkey then finishes the authorization with acr mfa, as go-oidc reads it. A person
// with no second factor still goes on with one (acr_values is voluntary).
func TestASignInWithinTheFlowIsSteppedUpWhenTheAppAsksForTwoFactors(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL, withLocalhost)
		ctx := e.ctx()
		u, _, err := e.srv.identity.EnsureUser(context.Background(), defaultTestEmail)
		if err != nil {
			t.Fatal(err)
		}
		sk := e.addSoftKey(t, u.ID)
		conf := e.config(e.app, rpCallback)
		provider, err := oidc.NewProvider(oidc.ClientContext(ctx, http.DefaultClient), e.base)
		if err != nil {
			t.Fatal(err)
		}
		var disc struct {
			ACRValues []string `json:"acr_values_supported"`
		}
		if err := provider.Claims(&disc); err != nil || !slices.Contains(disc.ACRValues, mfa.ACRMFA) {
			t.Fatalf("acr_values_supported = %v (%v), want %s in it", disc.ACRValues, err, mfa.ACRMFA)
		}
		idToken := func(code, verifier string) (amr []string, acr string) {
			t.Helper()
			tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatal(err)
			}
			idt, err := provider.Verifier(&oidc.Config{ClientID: e.app.ID}).Verify(oidc.ClientContext(ctx, http.DefaultClient), tok.Extra("id_token").(string))
			if err != nil {
				t.Fatal(err)
			}
			var c struct {
				AMR []string `json:"amr"`
				ACR string   `json:"acr"`
			}
			if err := idt.Claims(&c); err != nil {
				t.Fatal(err)
			}
			return c.AMR, c.ACR
		}

		b := e.browser()
		verifier := oauth2.GenerateVerifier()
		p := b.signIn(b.get(conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier), oidc.Nonce("n"),
			oauth2.SetAuthURLParam("acr_values", mfa.ACRMFA))), defaultTestEmail)
		if p.StatusCode != 200 || p.Request.URL.Path != "/login" || !strings.Contains(p.Body, `id="step-up"`) {
			if p.StatusCode == 200 && strings.Contains(p.Body, `value="allow"`) {
				_, acr := idToken(callback(t, b.consent(p, "allow", "")).Get("code"), verifier)
				t.Fatalf("acr_values=mfa, a magic link alone within the flow of a person with a passkey: a code with acr %q, want the login page asking for the passkey", acr)
			}
			t.Fatalf("acr_values=mfa, a magic link alone within the flow: %d at %s, want the login page asking for the passkey", p.StatusCode, p.Request.URL)
		}
		opts := b.get(e.base + "/login/passkey")
		if opts.StatusCode != 200 {
			t.Fatalf("passkey options: %d %s", opts.StatusCode, opts.Body)
		}
		p = b.post(e.base+"/login/passkey", url.Values{"flow": {p.hidden(t, "flow")}, "credential": {sk.assert(t, opts.Body)}})
		if p.StatusCode == 200 {
			p = b.consent(p, "allow", "")
		}
		if amr, acr := idToken(callback(t, p).Get("code"), verifier); acr != mfa.ACRMFA || !slices.Contains(amr, mfa.AMRMFA) {
			t.Fatalf("after the passkey: amr %v, acr %q; want acr %s", amr, acr, mfa.ACRMFA)
		}

		// Someone with no second factor goes on with the magic link (acr_values is voluntary),
		// and the id_token says so.
		const other = "no-second-factor@example.com"
		b2 := e.browser()
		verifier = oauth2.GenerateVerifier()
		p = b2.signIn(b2.get(conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier), oidc.Nonce("n"),
			oauth2.SetAuthURLParam("acr_values", mfa.ACRMFA))), other)
		if p.StatusCode == 200 {
			p = b2.consent(p, "allow", "")
		}
		if _, acr := idToken(callback(t, p).Get("code"), verifier); acr != mfa.ACR1FA {
			t.Fatalf("a person without a second factor: acr %q, want %s", acr, mfa.ACR1FA)
		}
	})
}

// TestTheStepUpIsAskedOnceThenTheAppIsAnswered: acr_values is voluntary (OpenID Connect Core
// §3.1.2.1). A person whose only second factor is a passkey they cannot use on this device
// (another phone, a lost key) was sent back to the login page after every sign-in link, a
// dead end the application never heard of. The login page asks for the second step once; a
// person who signs in with a link again goes on, and the id_token says acr 1fa, so that the
// application decides.
func TestTheStepUpIsAskedOnceThenTheAppIsAnswered(t *testing.T) {
	t.Parallel()
	e := newOAuthEnv(t, storetest.URLs(t)["sqlite"], withLocalhost)
	ctx := e.ctx()
	u, _, err := e.srv.identity.EnsureUser(context.Background(), defaultTestEmail)
	if err != nil {
		t.Fatal(err)
	}
	e.addSoftKey(t, u.ID)
	conf := e.config(e.app, rpCallback)
	provider, err := oidc.NewProvider(oidc.ClientContext(ctx, http.DefaultClient), e.base)
	if err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	verifier := oauth2.GenerateVerifier()
	p := b.signIn(b.get(conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier), oidc.Nonce("n"),
		oauth2.SetAuthURLParam("acr_values", mfa.ACRMFA))), defaultTestEmail)
	if p.StatusCode != 200 || p.Request.URL.Path != "/login" || !strings.Contains(p.Body, `id="step-up"`) {
		t.Fatalf("acr_values=mfa, a magic link alone within the flow: %d at %s, want the login page asking for the passkey", p.StatusCode, p.Request.URL)
	}
	p = b.signIn(p, defaultTestEmail)
	if p.StatusCode == 200 && strings.Contains(p.Body, `value="allow"`) {
		p = b.consent(p, "allow", "")
	}
	if p.StatusCode == 200 && p.Request.URL.Path == "/login" {
		t.Fatalf("a second sign-in link after the login page asked for the passkey: back at %s again, want the app answered", p.Request.URL)
	}
	tok, err := conf.Exchange(ctx, callback(t, p).Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	idt, err := provider.Verifier(&oidc.Config{ClientID: e.app.ID}).Verify(oidc.ClientContext(ctx, http.DefaultClient), tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		ACR string `json:"acr"`
	}
	if err := idt.Claims(&c); err != nil || c.ACR != mfa.ACR1FA {
		t.Fatalf("after declining the second step: acr %q (%v), want %s: the app decides", c.ACR, err, mfa.ACR1FA)
	}
}
