package server

import (
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// TestSignInFlow is the whole product path, driven by real clients: golang.org/x/oauth2 with
// PKCE builds the authorization URL and exchanges the code, a cookie-jar HTTP client plays the
// browser (login form, magic link read from a real SMTP conversation, confirmation POST,
// consent), go-oidc verifies the id_token against the discovery document and JWKS, and the
// access token reads /api/user. Then refresh-token rotation, remembered consent, and reuse of
// a rotated refresh token revoking the family.
func TestSignInFlow(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		ctx := e.ctx()
		conf := e.config(e.app, rpCallback)
		b := e.browser()

		verifier := oauth2.GenerateVerifier()
		authURL := conf.AuthCodeURL("state-123", oauth2.S256ChallengeOption(verifier), oidc.Nonce("nonce-456"))
		login := b.get(authURL)
		if login.Request.URL.Path != "/login" || !strings.Contains(login.Body, "Demo App") {
			t.Fatalf("authorize without a session should land on the login page naming the app, got %s:\n%s", login.Request.URL, login.Body)
		}
		consent := b.signIn(login, defaultTestEmail)
		if consent.Request.URL.Path != "/oauth/consent" {
			t.Fatalf("after the magic link: %s", consent.Request.URL)
		}
		for _, want := range []string{"Demo App", `name="share" value="alias" checked`, defaultTestEmail, `value="deny"`, "@relay.127.0.0.1"} {
			if !strings.Contains(consent.Body, want) {
				t.Errorf("consent page lacks %q", want)
			}
		}
		q := callback(t, b.consent(consent, "allow", "alias"))
		if q.Get("state") != "state-123" || q.Get("iss") != e.base || q.Get("code") == "" {
			t.Fatalf("callback query = %v", q)
		}

		tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		if tok.TokenType != "Bearer" || tok.RefreshToken == "" || tok.ExpiresIn != 3600 || tok.Extra("scope") != "openid email profile" {
			t.Fatalf("token = %+v scope=%v", tok, tok.Extra("scope"))
		}
		rawID, _ := tok.Extra("id_token").(string)
		provider, err := oidc.NewProvider(oidc.ClientContext(ctx, http.DefaultClient), e.base)
		if err != nil {
			t.Fatalf("discovery: %v", err)
		}
		idt, err := provider.Verifier(&oidc.Config{ClientID: e.app.ID}).Verify(oidc.ClientContext(ctx, http.DefaultClient), rawID)
		if err != nil {
			t.Fatalf("id_token does not verify: %v", err)
		}
		var claims struct {
			Email    string `json:"email"`
			AuthTime int64  `json:"auth_time"`
			GlobalID string `json:"global_id"`
		}
		if err := idt.Claims(&claims); err != nil {
			t.Fatal(err)
		}
		if idt.Nonce != "nonce-456" || idt.Issuer != e.base || claims.AuthTime == 0 || !globalIDRe.MatchString(claims.GlobalID) {
			t.Fatalf("id_token: nonce=%q iss=%q claims=%+v", idt.Nonce, idt.Issuer, claims)
		}

		// GET /api/user through the oauth2 client: exactly the documented keys.
		resp, err := conf.Client(ctx, tok).Get(e.base + "/api/user")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		status, user, _ := e.apiUser(tok.AccessToken)
		if status != 200 || resp.StatusCode != 200 {
			t.Fatalf("/api/user: %d %v", status, user)
		}
		keys := make([]string, 0, len(user))
		for k := range user {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		// The documented keys, plus the OIDC claims of the granted scopes (openid email profile).
		if strings.Join(keys, ",") != "email,email_verified,globalId,global_id,id,image,name,sub" {
			t.Fatalf("/api/user keys = %v, want exactly sub, id, globalId, global_id, name, email, email_verified, image", keys)
		}
		if user["sub"] != idt.Subject || user["global_id"] != claims.GlobalID || user["email_verified"] != true {
			t.Fatalf("/api/user claims %v disagree with the id_token (sub %q, %+v)", user, idt.Subject, claims)
		}
		if user["id"] != idt.Subject || !strings.HasPrefix(idt.Subject, "con_") || user["globalId"] != claims.GlobalID {
			t.Fatalf("/api/user = %v, id_token sub %q", user, idt.Subject)
		}
		if !aliasRe.MatchString(user["email"].(string)) || user["email"] != claims.Email {
			t.Fatalf("email %q should be the masked alias, id_token email %q", user["email"], claims.Email)
		}

		t.Logf("user=%v sub=%s claims=%+v", user, idt.Subject, claims)
		// Refresh: rotation gives a new refresh token; the old one is spent.
		expired := &oauth2.Token{RefreshToken: tok.RefreshToken}
		tok2, err := conf.TokenSource(ctx, expired).Token()
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		if tok2.RefreshToken == "" || tok2.RefreshToken == tok.RefreshToken || tok2.AccessToken == tok.AccessToken {
			t.Fatal("refresh did not rotate")
		}
		if status, _, _ := e.apiUser(tok2.AccessToken); status != 200 {
			t.Fatalf("refreshed access token: %d", status)
		}

		// Remembered consent: a second authorization goes straight back with a code.
		v2 := oauth2.GenerateVerifier()
		again := b.get(conf.AuthCodeURL("state-2", oauth2.S256ChallengeOption(v2)))
		q2 := callback(t, again)
		if q2.Get("state") != "state-2" || q2.Get("code") == "" {
			t.Fatalf("remembered consent should redirect with a code: %v", q2)
		}
		tok3, err := conf.Exchange(ctx, q2.Get("code"), oauth2.VerifierOption(v2))
		if err != nil {
			t.Fatal(err)
		}
		if status, u3, _ := e.apiUser(tok3.AccessToken); status != 200 || u3["id"] != user["id"] || u3["email"] != user["email"] {
			t.Fatalf("second sign-in should see the same connection and alias: %v vs %v", u3, user)
		}

		// Reusing the rotated refresh token after the grace window revokes the family: the
		// token it rotated into and the access tokens of that sign-in stop working; the other
		// sign-in is untouched.
		later := e.srv.oauth.Config.RefreshGrace + time.Second
		e.srv.oauth.Now = func() time.Time { return time.Now().UTC().Add(later) }
		_, err = conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" || re.Response.StatusCode != 400 {
			t.Fatalf("reuse of a rotated refresh token: %v", err)
		}
		if _, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok2.RefreshToken}).Token(); err == nil {
			t.Fatal("the family's current refresh token still works after reuse")
		}
		if status, _, _ := e.apiUser(tok2.AccessToken); status != 401 {
			t.Fatalf("the family's access token after reuse: %d, want 401", status)
		}
		if status, _, _ := e.apiUser(tok3.AccessToken); status != 200 {
			t.Fatalf("another sign-in's token after reuse: %d, want 200", status)
		}

		// Login count and last session are kept per sign-in.
		conn, err := e.srv.db.AppConnection.Get(t.Context(), user["id"].(string))
		if err != nil {
			t.Fatal(err)
		}
		if conn.LoginCount != 2 || conn.LastSessionAt == nil {
			t.Fatalf("login_count=%d last_session_at=%v, want 2 and set", conn.LoginCount, conn.LastSessionAt)
		}
	})
}

var (
	globalIDRe = regexp.MustCompile(`^[A-Z]{2}[0-9]{4}$`)
	aliasRe    = regexp.MustCompile(`^[a-z0-9]{6,10}@relay\.127\.0\.0\.1$`)
)

var _ = url.Values{}
