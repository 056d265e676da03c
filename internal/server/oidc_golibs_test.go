package server

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"loginsign/ent/signingkey"
	"loginsign/internal/portal"
)

// publishedKids returns the key ids of the JWKS by algorithm.
func (e *oauthEnv) publishedKids(t *testing.T) map[string][]string {
	t.Helper()
	resp, err := http.Get(e.base + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	var set struct {
		Keys []struct{ Kid, Alg, Kty string }
	}
	decodeJSON(t, resp, &set)
	out := map[string][]string{}
	for _, k := range set.Keys {
		out[k.Alg] = append(out[k.Alg], k.Kid)
	}
	return out
}

// rotateKeys starts a key rotation and returns the new keys' ids by algorithm: from now until
// activateKeys the new keys are published while the old ones sign.
func (e *oauthEnv) rotateKeys(t *testing.T) map[string]string {
	t.Helper()
	ids, err := e.srv.oauth.Keys.Rotate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{"ES256": ids[0], "RS256": ids[1]}
}

// activateKeys moves the rotation on to where the new keys sign and the old ones are still
// published (what the publication lead, an hour, would bring), without moving the server's
// clock: the keys' active_at is set to now (after the old keys') and the key cache dropped.
func (e *oauthEnv) activateKeys(t *testing.T, kids map[string]string) {
	t.Helper()
	var ids []string
	for _, id := range kids {
		ids = append(ids, id)
	}
	n, err := e.srv.db.Client.SigningKey.Update().Where(signingkey.IDIn(ids...)).
		SetActiveAt(e.srv.oauth.Now()).Save(context.Background())
	if err != nil || n != len(ids) {
		t.Fatalf("activating %v: %d rows, %v", ids, n, err)
	}
	e.srv.oauth.Keys.Reload()
}

// goFlowResult is what one run of the Go libraries through the whole flow saw.
type goFlowResult struct {
	idToken, kid string
}

// goLibrariesFlow runs golang.org/x/oauth2 and go-oidc, configured from discovery alone,
// through the whole flow for app: authorization code with PKCE, nonce, state and RFC 9207 iss;
// the id_token verified against the JWKS; userinfo (oidc.Provider.UserInfo) agreeing with it;
// refresh-token rotation with a fresh id_token; client_credentials (the clientcredentials
// package) on the app API; RP-initiated logout back to the app.
func (e *oauthEnv) goLibrariesFlow(t *testing.T, app testApp, alg, bye string) goFlowResult {
	t.Helper()
	ctx := oidc.ClientContext(context.Background(), &http.Client{Timeout: 10 * time.Second})
	provider, err := oidc.NewProvider(ctx, e.base)
	if err != nil {
		t.Fatal(err)
	}
	conf := &oauth2.Config{ClientID: app.ID, ClientSecret: app.Secret, Endpoint: provider.Endpoint(),
		RedirectURL: app.Redirects[0], Scopes: []string{oidc.ScopeOpenID, "email", "profile"}}
	verifier := provider.Verifier(&oidc.Config{ClientID: app.ID})

	// Authorization code, PKCE, nonce, state, iss.
	b := e.browser()
	pkce, nonce, state := oauth2.GenerateVerifier(), "nonce-"+alg, "state-"+alg
	p := b.get(conf.AuthCodeURL(state, oauth2.S256ChallengeOption(pkce), oidc.Nonce(nonce)))
	if p.Request.URL.Path == "/login" {
		p = b.signIn(p, defaultTestEmail)
	}
	if p.StatusCode == 200 {
		p = b.consent(p, "allow", "")
	}
	q := callback(t, p)
	if q.Get("state") != state || q.Get("iss") != e.base {
		t.Fatalf("callback state %q iss %q", q.Get("state"), q.Get("iss"))
	}
	tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(pkce))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := verifier.Verify(ctx, raw)
	if err != nil {
		t.Fatalf("%s id_token: %v", alg, err)
	}
	gotAlg, kid := jwtHeader(t, raw)
	if gotAlg != alg || idt.Nonce != nonce {
		t.Fatalf("id_token alg %s nonce %q, want %s %q", gotAlg, idt.Nonce, alg, nonce)
	}
	var idClaims struct{ Email string }
	idt.Claims(&idClaims)

	// Userinfo through go-oidc.
	info, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	if info.Subject != idt.Subject || info.Email != idClaims.Email || info.Email == "" || !info.EmailVerified {
		t.Fatalf("userinfo sub %q email %q (verified %v), id_token sub %q email %q", info.Subject, info.Email, info.EmailVerified, idt.Subject, idClaims.Email)
	}

	// Refresh: x/oauth2 refreshes an expired token; the refresh token rotates and a fresh
	// id_token verifies.
	expired := &oauth2.Token{AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Minute)}
	fresh, err := conf.TokenSource(ctx, expired).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if fresh.RefreshToken == "" || fresh.RefreshToken == tok.RefreshToken || fresh.AccessToken == tok.AccessToken {
		t.Fatal("refresh did not rotate the tokens")
	}
	if rawFresh, _ := fresh.Extra("id_token").(string); rawFresh != "" {
		if _, err := verifier.Verify(ctx, rawFresh); err != nil {
			t.Fatalf("refreshed id_token: %v", err)
		}
	}

	// client_credentials with the clientcredentials package; its client calls the app API.
	cc := clientcredentials.Config{ClientID: app.ID, ClientSecret: app.Secret, TokenURL: provider.Endpoint().TokenURL,
		Scopes: []string{"app:users:read"}}
	ccTok, err := cc.Token(ctx)
	if err != nil {
		t.Fatalf("client_credentials: %v", err)
	}
	if ccTok.RefreshToken != "" || ccTok.Extra("id_token") != nil || ccTok.Extra("scope") != "app:users:read" {
		t.Fatalf("client_credentials token: refresh %q id_token %v scope %v", ccTok.RefreshToken, ccTok.Extra("id_token"), ccTok.Extra("scope"))
	}
	resp, err := cc.Client(ctx).Get(e.base + "/api/applications/" + app.ID + "/users")
	if err != nil {
		t.Fatal(err)
	}
	var users struct{ Total int }
	decodeJSON(t, resp, &users)
	if resp.StatusCode != 200 || users.Total < 1 {
		t.Fatalf("app API with the client_credentials client: %d, total %d", resp.StatusCode, users.Total)
	}

	// RP-initiated logout from discovery's end_session_endpoint.
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := provider.Claims(&meta); err != nil || meta.EndSession == "" {
		t.Fatalf("no end_session_endpoint: %v", err)
	}
	lo := b.get(meta.EndSession + "?" + url.Values{"id_token_hint": {raw}, "post_logout_redirect_uri": {bye}, "state": {"bye-" + alg}}.Encode())
	if lo.StatusCode != http.StatusSeeOther || lo.Header.Get("Location") != bye+"?state=bye-"+alg {
		t.Fatalf("end session: %d %q", lo.StatusCode, lo.Header.Get("Location"))
	}
	return goFlowResult{idToken: raw, kid: kid}
}

// golang.org/x/oauth2 and go-oidc run the whole flow against a real server for an ES256 and an
// RS256 application, first while a key rotation is under way (new keys published, old ones
// signing), then once the new keys sign (old ones still published): every id_token verifies
// with go-oidc from the JWKS alone, and the first ones still verify after the switch.
func TestGoLibrariesWholeFlowAcrossKeyRotation(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		const bye = "https://app.example.test/bye"
		apps := map[string]testApp{}
		for _, alg := range []string{"ES256", "RS256"} {
			alg := alg
			apps[alg] = e.createApp("Go App "+alg, rpCallback)
			e.updateApp(apps[alg], portal.ApplicationPatch{IDTokenSigningAlg: &alg, PostLogoutRedirectURIs: []string{bye}})
		}
		before := e.publishedKids(t)
		newKids := e.rotateKeys(t)
		during := e.publishedKids(t)
		first := map[string]goFlowResult{}
		for _, alg := range []string{"ES256", "RS256"} {
			if len(before[alg]) != 1 || len(during[alg]) != 2 {
				t.Fatalf("%s keys published before %v, during the rotation %v", alg, before[alg], during[alg])
			}
			t.Run("rotation under way/"+alg, func(t *testing.T) {
				first[alg] = e.goLibrariesFlow(t, apps[alg], alg, bye)
				if first[alg].kid != before[alg][0] {
					t.Fatalf("signed by %s during the rotation, want the old key %s", first[alg].kid, before[alg][0])
				}
			})
		}
		e.activateKeys(t, newKids)
		ctx := oidc.ClientContext(context.Background(), http.DefaultClient)
		provider, err := oidc.NewProvider(ctx, e.base)
		if err != nil {
			t.Fatal(err)
		}
		for _, alg := range []string{"ES256", "RS256"} {
			t.Run("new keys signing/"+alg, func(t *testing.T) {
				r := e.goLibrariesFlow(t, apps[alg], alg, bye)
				if r.kid != newKids[alg] {
					t.Fatalf("signed by %s after the switch, want the new key %s", r.kid, newKids[alg])
				}
				if old := first[alg].idToken; old != "" {
					if _, err := provider.Verifier(&oidc.Config{ClientID: apps[alg].ID}).Verify(ctx, old); err != nil {
						t.Fatalf("an id_token of the old %s key no longer verifies: %v", alg, err)
					}
				}
			})
		}
	})
}
