package server

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"loginsign/internal/auth"
	"loginsign/internal/portal"
)

// signInIDToken runs a whole code flow (PKCE, nonce) for app with browser b and returns the
// raw id_token.
func (e *oauthEnv) signInIDToken(b *browser, app testApp, nonce string) string {
	e.t.Helper()
	conf := e.config(app, app.Redirects[0])
	verifier := oauth2.GenerateVerifier()
	p := b.get(conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce)))
	if p.Request.URL.Path == "/login" {
		p = b.signIn(p, defaultTestEmail)
	}
	if p.StatusCode == 200 {
		p = b.consent(p, "allow", "")
	}
	q := callback(e.t, p)
	tok, err := conf.Exchange(e.ctx(), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		e.t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		e.t.Fatal("no id_token")
	}
	return raw
}

// setSigningAlg switches app's id_token algorithm through the portal domain operation.
func (e *oauthEnv) setSigningAlg(app testApp, alg string) {
	e.t.Helper()
	if err := e.setSigningAlgErr(app, alg); err != nil {
		e.t.Fatal(err)
	}
}

func jwtHeader(t testing.TB, raw string) (alg, kid string) {
	t.Helper()
	h, err := base64Header(raw)
	if err != nil {
		t.Fatal(err)
	}
	var v struct{ Alg, Kid string }
	if err := json.Unmarshal([]byte(h), &v); err != nil {
		t.Fatal(err)
	}
	return v.Alg, v.Kid
}

// Each application's id_tokens come in its chosen algorithm (ES256 by default, RS256 on
// request), and go-oidc, configured from discovery alone, verifies both before, during and
// after a key rotation: old tokens keep verifying while the new keys are published, and tokens
// signed by the new keys verify once they sign.
func TestIDTokensOfBothAlgorithmsVerifyAcrossKeyRotation(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		es := e.app
		rs := e.createApp("RSA App", rpCallback)
		e.setSigningAlg(rs, "RS256")
		if err := e.setSigningAlgErr(rs, "HS256"); err == nil {
			t.Fatal("HS256 accepted as idTokenSigningAlg")
		}
		b := e.browser()
		ctx := oidc.ClientContext(context.Background(), http.DefaultClient)
		provider, err := oidc.NewProvider(ctx, e.base)
		if err != nil {
			t.Fatal(err)
		}
		verify := func(app testApp, raw, wantAlg, nonce string) string {
			t.Helper()
			alg, kid := jwtHeader(t, raw)
			if alg != wantAlg {
				t.Fatalf("id_token of %s signed %s, want %s", app.ID, alg, wantAlg)
			}
			idt, err := provider.Verifier(&oidc.Config{ClientID: app.ID}).Verify(ctx, raw)
			if err != nil {
				t.Fatalf("%s id_token does not verify: %v", alg, err)
			}
			if idt.Nonce != nonce {
				t.Fatalf("nonce %q, want %q", idt.Nonce, nonce)
			}
			return kid
		}
		oldES := e.signInIDToken(b, es, "n1")
		oldRS := e.signInIDToken(b, rs, "n2")
		oldESKid, oldRSKid := verify(es, oldES, "ES256", "n1"), verify(rs, oldRS, "RS256", "n2")

		newKids, err := e.srv.oauth.Keys.Rotate(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		// Rotation under way: the new keys are published, the old ones still sign.
		if kid := verify(rs, e.signInIDToken(b, rs, "n3"), "RS256", "n3"); kid != oldRSKid {
			t.Fatalf("RS256 signed by %s before the new key's activation, want %s", kid, oldRSKid)
		}
		// Past the publication lead the new keys sign; old tokens still verify.
		real := e.srv.oauth.Now
		e.srv.oauth.Now = func() time.Time { return real().Add(time.Hour + time.Minute) }
		if kid := verify(es, e.signInIDToken(b, es, "n4"), "ES256", "n4"); kid != newKids[0] {
			t.Fatalf("ES256 signed by %s after activation, want the new key %s", kid, newKids[0])
		}
		if kid := verify(rs, e.signInIDToken(b, rs, "n5"), "RS256", "n5"); kid != newKids[1] {
			t.Fatalf("RS256 signed by %s after activation, want the new key %s", kid, newKids[1])
		}
		verify(es, oldES, "ES256", "n1")
		verify(rs, oldRS, "RS256", "n2")
		if oldESKid == newKids[0] || oldRSKid == newKids[1] {
			t.Fatal("rotation reused a key id")
		}
	})
}

func (e *oauthEnv) setSigningAlgErr(app testApp, alg string) error {
	ctx := context.Background()
	u, _, err := e.srv.identity.EnsureUser(ctx, "dev@example.com")
	if err != nil {
		return err
	}
	_, err = e.srv.portal.UpdateApplication(auth.WithSession(ctx, auth.Session{UserID: u.ID}), app.ID,
		portal.ApplicationPatch{IDTokenSigningAlg: &alg})
	return err
}
