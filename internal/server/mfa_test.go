package server

import (
	"bytes"
	"encoding/base64"
	"image/png"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"golang.org/x/oauth2"

	"loginsign/internal/mfa"
)

// totpCode is the code of secret for the time step of at, computed as an authenticator app
// does (RFC 6238: SHA-1, 6 digits, 30 s).
func totpCode(t testing.TB, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// enrolTOTP turns two-step verification on for b's person through GraphQL and returns the
// secret and the recovery codes.
func enrolTOTP(t *testing.T, b *browser) (string, []string) {
	t.Helper()
	data, errs := b.graphql(`mutation { beginTotpEnrolment(input: {}) { enrolment { secret uri qrCode expiresAt } } }`, nil)
	if errs != nil {
		t.Fatalf("beginTotpEnrolment: %v", errs)
	}
	en := data["beginTotpEnrolment"].(map[string]any)["enrolment"].(map[string]any)
	secret := en["secret"].(string)
	uri, _ := url.Parse(en["uri"].(string))
	if uri.Scheme != "otpauth" || uri.Host != "totp" || uri.Query().Get("secret") != secret || uri.Query().Get("issuer") != "LoginSign" {
		t.Fatalf("otpauth URI = %v", en["uri"])
	}
	qr, ok := strings.CutPrefix(en["qrCode"].(string), "data:image/png;base64,")
	raw, err := base64.StdEncoding.DecodeString(qr)
	if !ok || err != nil {
		t.Fatalf("qrCode is not a PNG data URI: %.60s", en["qrCode"])
	}
	if img, err := png.Decode(bytes.NewReader(raw)); err != nil || img.Bounds().Dx() < 100 {
		t.Fatalf("QR code PNG: %v", err)
	}
	// A wrong first code turns nothing on.
	if _, errs := b.graphql(`mutation($c: String!) { confirmTotpEnrolment(input: {code: $c}) { recoveryCodes } }`, map[string]any{"c": "000000x"}); errs == nil {
		t.Fatal("a malformed first code was accepted")
	}
	// With the person's confirmation (their mailbox): the app's code alone turns nothing on
	// (TestAnAppIsSetUpOnlyWithThePersonsMailboxOrPasskey, TestPasskeysInBrowser).
	data, errs = b.graphql(`mutation($c: String!, $m: String) { confirmTotpEnrolment(input: {code: $c, confirmation: $m}) { recoveryCodes } }`,
		map[string]any{"c": totpCode(t, secret, time.Now()), "m": b.changeCode()})
	if errs != nil {
		t.Fatalf("confirmTotpEnrolment: %v", errs)
	}
	var codes []string
	for _, c := range data["confirmTotpEnrolment"].(map[string]any)["recoveryCodes"].([]any) {
		if !slices.Contains(codes, c.(string)) {
			codes = append(codes, c.(string))
		}
	}
	if len(codes) != mfa.RecoveryCodeCount {
		t.Fatalf("want %d distinct recovery codes, got %v", mfa.RecoveryCodeCount, codes)
	}
	return secret, codes
}

// secondStep drives an authorization of conf up to the second-step page in a fresh browser
// and returns that browser and page.
func (e *oauthEnv) secondStep(t *testing.T, authURL, email string) (*browser, page) {
	t.Helper()
	b := e.browser()
	p := b.signIn(b.get(authURL), email)
	if p.StatusCode != 200 || p.Request.URL.Path != "/login/verify" || !strings.Contains(p.Body, `name="code"`) {
		t.Fatalf("after the magic link a person with two-step verification should see the code form, got %d %s:\n%s",
			p.StatusCode, p.Request.URL, p.Body)
	}
	// Nobody is signed in yet.
	if data, _ := b.graphql(`{ viewer { id } }`, nil); data != nil && data["viewer"] != nil {
		t.Fatalf("signed in before the second step: %v", data)
	}
	return b, p
}

func (b *browser) code(code string) page {
	return b.post(b.e.base+"/login/verify", url.Values{"code": {code}})
}

// TestTwoStepVerification: enrolment through GraphQL with a code computed from the shared
// secret; a magic-link sign-in then asks for the second step; wrong and replayed TOTP codes
// answer 400 and change nothing; the right code finishes the authorization and the id_token
// (checked by go-oidc) says amr otp+mfa and acr mfa; a recovery code works once; turning it
// off needs a code; too many codes answer 429, even a right one.
func TestTwoStepVerification(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		ctx := e.ctx()
		dash := e.browser()
		dash.signIn(dash.get(e.base+"/login"), defaultTestEmail)
		secret, recovery := enrolTOTP(t, dash)
		confirmedAt := time.Now()
		data, errs := dash.graphql(`{ viewer { twoStep { enabled enabledAt recoveryCodesLeft } } }`, nil)
		st := data["viewer"].(map[string]any)["twoStep"].(map[string]any)
		if errs != nil || st["enabled"] != true || st["enabledAt"] == nil || st["recoveryCodesLeft"] != float64(10) {
			t.Fatalf("twoStep = %v %v", st, errs)
		}
		if _, errs := dash.graphql(`mutation { beginTotpEnrolment(input: {}) { enrolment { secret } } }`, nil); errs == nil {
			t.Fatal("a second enrolment while on should conflict")
		}

		conf := e.config(e.app, rpCallback)
		verifier := oauth2.GenerateVerifier()
		authURL := conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier), oidc.Nonce("n-1"),
			oauth2.SetAuthURLParam("acr_values", mfa.ACRMFA))
		b, _ := e.secondStep(t, authURL, defaultTestEmail)
		if p := b.code("123"); p.StatusCode != 400 || !strings.Contains(p.Body, "wrong") {
			t.Fatalf("wrong code: %d %s", p.StatusCode, p.Body)
		}
		// The code that confirmed the enrolment was used: its time step is spent.
		if p := b.code(totpCode(t, secret, confirmedAt)); p.StatusCode != 400 {
			t.Fatalf("a replayed TOTP code: %d", p.StatusCode)
		}
		consent := b.code(totpCode(t, secret, confirmedAt.Add(30*time.Second)))
		q := callback(t, b.consent(consent, "allow", "alias"))
		tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		provider, err := oidc.NewProvider(oidc.ClientContext(ctx, http.DefaultClient), e.base)
		if err != nil {
			t.Fatal(err)
		}
		var disc struct {
			ACRValues []string `json:"acr_values_supported"`
			Claims    []string `json:"claims_supported"`
		}
		provider.Claims(&disc)
		if !slices.Contains(disc.ACRValues, mfa.ACRMFA) || !slices.Contains(disc.Claims, "amr") {
			t.Fatalf("discovery: %+v", disc)
		}
		claims := func(tok *oauth2.Token) (amr []string, acr string) {
			t.Helper()
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
		if amr, acr := claims(tok); !slices.Equal(amr, []string{"otp", "mfa"}) || acr != mfa.ACRMFA {
			t.Fatalf("id_token after TOTP: amr=%v acr=%q", amr, acr)
		}
		// The session remembers how it signed in.
		data, _ = b.graphql(`{ viewer { sessions { current signInMethods } } }`, nil)
		for _, s := range data["viewer"].(map[string]any)["sessions"].([]any) {
			s := s.(map[string]any)
			if s["current"] == true && (len(s["signInMethods"].([]any)) != 2 || s["signInMethods"].([]any)[0] != "otp") {
				t.Fatalf("session signInMethods = %v", s["signInMethods"])
			}
		}

		// A recovery code signs in once (any case, with or without dashes).
		verifier = oauth2.GenerateVerifier()
		authURL = conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier))
		b2, _ := e.secondStep(t, authURL, defaultTestEmail)
		q = callback(t, b2.code(strings.ToUpper(strings.ReplaceAll(recovery[0], "-", ""))))
		tok, err = conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		if amr, acr := claims(tok); !slices.Equal(amr, []string{"otp", "mfa"}) || acr != mfa.ACRMFA {
			t.Fatalf("id_token after a recovery code: amr=%v acr=%q", amr, acr)
		}
		b3, _ := e.secondStep(t, authURL, defaultTestEmail)
		if p := b3.code(recovery[0]); p.StatusCode != 400 {
			t.Fatalf("a used recovery code: %d", p.StatusCode)
		}
		data, _ = dash.graphql(`{ viewer { twoStep { recoveryCodesLeft } } }`, nil)
		if n := data["viewer"].(map[string]any)["twoStep"].(map[string]any)["recoveryCodesLeft"]; n != float64(9) {
			t.Fatalf("recoveryCodesLeft = %v, want 9", n)
		}

		// Regenerating and turning off need a fresh second step.
		data, errs = dash.graphql(`mutation($c: String!) { regenerateRecoveryCodes(input: {code: $c}) { recoveryCodes } }`, map[string]any{"c": recovery[1]})
		if errs != nil || len(data["regenerateRecoveryCodes"].(map[string]any)["recoveryCodes"].([]any)) != 10 {
			t.Fatalf("regenerateRecoveryCodes: %v %v", data, errs)
		}
		fresh := data["regenerateRecoveryCodes"].(map[string]any)["recoveryCodes"].([]any)[0].(string)
		if _, errs := dash.graphql(`mutation($c: String!) { disableTwoStep(input: {code: $c}) { disabled } }`, map[string]any{"c": recovery[2]}); errs == nil {
			t.Fatal("an old recovery code still works after regeneration")
		}
		if _, errs := dash.graphql(`mutation($c: String!) { disableTwoStep(input: {code: $c}) { disabled } }`, map[string]any{"c": fresh}); errs != nil {
			t.Fatalf("disableTwoStep: %v", errs)
		}
		// Off: the magic link alone signs in, and the id_token says one factor.
		b4 := e.browser()
		code, v := e.authorizeCode(b4, defaultTestEmail)
		tok, err = conf.Exchange(ctx, code, oauth2.VerifierOption(v))
		if err != nil {
			t.Fatal(err)
		}
		if amr, acr := claims(tok); len(amr) != 0 || acr != mfa.ACR1FA {
			t.Fatalf("id_token of a magic link alone: amr=%v acr=%q", amr, acr)
		}

		// Rate limit: another person's codes. Ten checks per 15 minutes, then 429 with
		// Retry-After even for the right code.
		zoe := e.browser()
		zoe.signIn(zoe.get(e.base+"/login"), "zoe@example.com")
		zsecret, _ := enrolTOTP(t, zoe) // two checks, counted apart from the sign-in's
		zb, _ := e.secondStep(t, e.base+"/login", "zoe@example.com")
		for i := 0; i < 10; i++ {
			if p := zb.code("999999"); p.StatusCode != 400 {
				t.Fatalf("wrong code %d: %d", i, p.StatusCode)
			}
		}
		p := zb.code(totpCode(t, zsecret, time.Now().Add(30*time.Second)))
		if p.StatusCode != http.StatusTooManyRequests || p.Header.Get("Retry-After") == "" {
			t.Fatalf("the 11th code: %d Retry-After=%q", p.StatusCode, p.Header.Get("Retry-After"))
		}
		if data, _ := zb.graphql(`{ viewer { id } }`, nil); data != nil && data["viewer"] != nil {
			t.Fatal("a rate-limited code signed in")
		}
	})
}
