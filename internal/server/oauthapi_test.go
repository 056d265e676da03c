package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"loginsign/ent"
	"loginsign/ent/appconnection"
	"loginsign/internal/auth"
	"loginsign/internal/connections"
	"loginsign/internal/oauth"
	"loginsign/internal/portal"
)

// signedInTokens runs a sign-in with consent share and returns the token answer.
func (e *oauthEnv) signedInTokens(b *browser, email, share string, prompt ...string) map[string]any {
	e.t.Helper()
	verifier := oauth2.GenerateVerifier()
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}
	for _, p := range prompt {
		opts = append(opts, oauth2.SetAuthURLParam("prompt", p))
	}
	p := b.get(e.config(e.app, rpCallback).AuthCodeURL("s", opts...))
	if strings.Contains(p.Body, `type="email"`) {
		p = b.signIn(p, email)
	}
	if p.StatusCode == 200 {
		p = b.consent(p, "allow", share)
	}
	code := callback(e.t, p).Get("code")
	st, body, _ := e.tokenRequest(e.app, url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {rpCallback}, "code_verifier": {verifier}})
	if st != 200 {
		e.t.Fatalf("exchange: %d %v", st, body)
	}
	return body
}

// GET /api/user: 401 invalid_token with WWW-Authenticate for an unknown token (a missing or
// malformed one: TestAPIUserBearerChallenge); a deleted or blocked connection's token stops
// working at once.
func TestAPIUser(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		b := e.browser()
		for _, tok := range []string{"lsat_unknown", strings.Repeat("a", 600)} {
			st, body, hdr := e.apiUser(tok)
			if st != 401 || body["error"] != "invalid_token" || !strings.HasPrefix(hdr.Get("WWW-Authenticate"), `Bearer realm="loginsign", error="invalid_token"`) {
				t.Fatalf("token %q: %d %v %q", tok, st, body, hdr.Get("WWW-Authenticate"))
			}
		}
		tokens := e.signedInTokens(b, defaultTestEmail, "")
		access := tokens["access_token"].(string)
		st, user, _ := e.apiUser(access)
		if st != 200 {
			t.Fatalf("%d %v", st, user)
		}
		if user["name"] != nil || user["image"] != nil {
			t.Fatalf("unset name and image should be null: %v", user)
		}
		ctx := context.Background()
		conn := user["id"].(string)
		u, _ := e.srv.identity.UserByEmail(ctx, defaultTestEmail)
		e.srv.db.User.UpdateOne(u).SetName("Ann Example").SetImage("https://img.example/ann.png").ExecX(ctx)
		if _, got, _ := e.apiUser(access); got["name"] != "Ann Example" || got["image"] != "https://img.example/ann.png" || got["globalId"] != u.GlobalID {
			t.Fatalf("profile: %v", got)
		}
		if err := e.srv.db.AppConnection.UpdateOneID(conn).SetBlocked(true).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if st, _, _ := e.apiUser(access); st != 401 {
			t.Fatalf("blocked connection: %d, want 401", st)
		}
		if st, body, _ := e.tokenRequest(e.app, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tokens["refresh_token"].(string)}}); st != 400 || body["error"] != "invalid_grant" {
			t.Fatalf("refresh of a blocked connection: %d %v", st, body)
		}
		// A blocked connection cannot sign in again either.
		p := b.get(e.config(e.app, rpCallback).AuthCodeURL("s"))
		if cb := callback(t, p); cb.Get("error") != "access_denied" {
			t.Fatalf("blocked sign-in: %v", cb)
		}
		if err := e.srv.db.AppConnection.UpdateOneID(conn).SetBlocked(false).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		tokens = e.signedInTokens(b, defaultTestEmail, "")
		access = tokens["access_token"].(string)
		err := e.srv.db.Tx(ctx, func(tx *ent.Tx) error {
			c, err := tx.AppConnection.Query().Where(appconnection.ID(conn)).WithApplication().WithUser().Only(ctx)
			if err != nil {
				return err
			}
			return connections.Delete(ctx, tx, c, connections.RemovedByPerson, time.Now())
		})
		if err != nil {
			t.Fatal(err)
		}
		if st, _, _ := e.apiUser(access); st != 401 {
			t.Fatalf("deleted connection: %d, want 401", st)
		}
		// Connecting again makes a new connection with a new alias, never the retired one.
		tokens = e.signedInTokens(b, defaultTestEmail, "")
		_, again, _ := e.apiUser(tokens["access_token"].(string))
		if again["id"] == conn || again["email"] == user["email"] {
			t.Fatalf("reconnect reused the deleted connection or its alias: %v vs %v", again, user)
		}
	})
}

// The consent page offers the masked alias (default) and the person's verified addresses; a
// shared address is what the app then sees, in /api/user and the id_token.
func TestConsentShareAddressAndPrompts(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	b := e.browser()
	ctx := context.Background()
	b.signIn(b.get(e.base+"/login"), defaultTestEmail)
	u, err := e.srv.identity.UserByEmail(ctx, defaultTestEmail)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	e.srv.db.UserEmail.Create().SetUserID(u.ID).SetEmail("ann.work@example.com").SetVerifiedAt(now).ExecX(ctx)
	e.srv.db.UserEmail.Create().SetUserID(u.ID).SetEmail("ann.pending@example.com").ExecX(ctx)

	p := b.get(e.config(e.app, rpCallback).AuthCodeURL("s"))
	for _, want := range []string{`value="alias" checked`, `value="ann@example.com"`, `value="ann.work@example.com"`} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("consent page lacks %s", want)
		}
	}
	if strings.Contains(p.Body, "ann.pending@example.com") {
		t.Error("an unverified address is offered")
	}
	// A forged choice of an address that is not the person's is refused.
	cb := callback(t, b.consent(p, "allow", "someone@else.example"))
	if cb.Get("error") != "invalid_request" {
		t.Fatalf("foreign address: %v", cb)
	}
	tokens := e.signedInTokens(b, defaultTestEmail, "ann.work@example.com")
	_, user, _ := e.apiUser(tokens["access_token"].(string))
	if user["email"] != "ann.work@example.com" {
		t.Fatalf("shared address: /api/user email = %v", user["email"])
	}
	// prompt=consent shows the page again, with the current choice checked.
	p = b.get(e.config(e.app, rpCallback).AuthCodeURL("s", oauth2.SetAuthURLParam("prompt", "consent")))
	if p.StatusCode != 200 || !strings.Contains(p.Body, `value="ann.work@example.com" checked`) {
		t.Fatalf("prompt=consent: %d", p.StatusCode)
	}
	// prompt=login asks to sign in again although a session exists.
	p = b.get(e.config(e.app, rpCallback).AuthCodeURL("s", oauth2.SetAuthURLParam("prompt", "login")))
	if p.Request.URL.Path != "/login" {
		t.Fatalf("prompt=login landed on %s", p.Request.URL)
	}
	p = b.signIn(p, defaultTestEmail)
	if cb := callback(t, p); cb.Get("code") == "" {
		t.Fatalf("after prompt=login sign-in, remembered consent should give a code: %v", cb)
	}
	// max_age=0: the session is older than that, sign in again; with prompt=none, login_required.
	p = b.get(e.config(e.app, rpCallback).AuthCodeURL("s", oauth2.SetAuthURLParam("max_age", "0"), oauth2.SetAuthURLParam("login_hint", "ann@example.com")))
	if p.Request.URL.Path != "/login" || !strings.Contains(p.Body, `value="ann@example.com"`) {
		t.Fatalf("max_age=0 should ask to sign in with the hint prefilled: %s", p.Request.URL)
	}
	p = b.get(e.config(e.app, rpCallback).AuthCodeURL("s", oauth2.SetAuthURLParam("max_age", "0"), oauth2.SetAuthURLParam("prompt", "none")))
	if cb := callback(t, p); cb.Get("error") != "login_required" {
		t.Fatalf("max_age=0 prompt=none: %v", cb)
	}
	// prompt=none with a session and consent: straight back with a code.
	p = b.get(e.config(e.app, rpCallback).AuthCodeURL("s", oauth2.SetAuthURLParam("prompt", "none")))
	if cb := callback(t, p); cb.Get("code") == "" {
		t.Fatalf("prompt=none: %v", cb)
	}
	// prompt=none for an app the person never allowed: consent_required, no page.
	fresh := e.createApp("Fresh App", rpCallback)
	p = b.get(e.config(fresh, rpCallback).AuthCodeURL("s", oauth2.SetAuthURLParam("prompt", "none")))
	if cb := callback(t, p); cb.Get("error") != "consent_required" || cb.Get("state") != "s" {
		t.Fatalf("prompt=none without consent: %v", cb)
	}
}

// Magic links: GET only shows a confirmation (scanners cannot burn it), POST uses it once,
// the answer is the same with or without an account, and a primary-address change voids it.
func TestMagicLink(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		b := e.browser()
		b.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		ctx := context.Background()
		if _, err := e.srv.identity.CreateUser(ctx, "known@example.com", "Known"); err != nil {
			t.Fatal(err)
		}
		known := b.post(e.base+"/login", url.Values{"email": {"known@example.com"}})
		unknown := b.post(e.base+"/login", url.Values{"email": {"new.person@example.com"}})
		if known.StatusCode != unknown.StatusCode || known.Header.Get("Location") != unknown.Header.Get("Location") || known.Body != unknown.Body {
			t.Fatalf("answers differ: %d %q vs %d %q", known.StatusCode, known.Header.Get("Location"), unknown.StatusCode, unknown.Header.Get("Location"))
		}
		knownLink, newLink := e.magicLink("known@example.com"), e.magicLink("new.person@example.com")
		if p := b.post(e.base+"/login", url.Values{"email": {"not an address"}}); p.StatusCode != 400 || !strings.Contains(p.Body, "not a valid email") {
			t.Fatalf("bad address: %d", p.StatusCode)
		}

		for i := 0; i < 3; i++ { // a scanner prefetching the link
			if p := b.get(newLink); p.StatusCode != 200 || !strings.Contains(p.Body, `method="post"`) {
				t.Fatalf("GET %d of the link: %d", i, p.StatusCode)
			}
		}
		tok := func(link string) string { u, _ := url.Parse(link); return u.Query().Get("token") }
		p := b.post(e.base+"/login/magic", url.Values{"token": {tok(newLink)}})
		if p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != "/dashboard" {
			t.Fatalf("POST link: %d %q", p.StatusCode, p.Header.Get("Location"))
		}
		u, err := e.srv.identity.UserByEmail(ctx, "new.person@example.com")
		if err != nil || !globalIDRe.MatchString(u.GlobalID) || u.LastLoginAt == nil {
			t.Fatalf("the link should create the account with a Global User ID: %v %+v", err, u)
		}
		if p := b.post(e.base+"/login/magic", url.Values{"token": {tok(newLink)}}); p.StatusCode != http.StatusGone {
			t.Fatalf("second use: %d, want 410", p.StatusCode)
		}
		if p := b.get(newLink); p.StatusCode != http.StatusGone {
			t.Fatalf("GET a used link: %d, want 410", p.StatusCode)
		}
		// Changing the primary address voids outstanding links.
		k, _ := e.srv.identity.UserByEmail(ctx, "known@example.com")
		if _, err := e.srv.identity.ChangePrimaryEmail(ctx, k.ID, "known2@example.com", "test", "", k.ID); err != nil {
			t.Fatal(err)
		}
		if p := b.post(e.base+"/login/magic", url.Values{"token": {tok(knownLink)}}); p.StatusCode != http.StatusGone {
			t.Fatalf("link after an address change: %d, want 410", p.StatusCode)
		}
		if n, _ := e.srv.db.User.Query().Count(ctx); n != 3 { // dev, known, new.person
			t.Fatalf("%d accounts, want 3 (a voided link must not create one)", n)
		}
	})
}

// GET /api/oauth/healthcheck: the documented shape; 400 when a parameter is missing.
func TestHealthcheck(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	get := func(q url.Values) (int, map[string]any) {
		resp, err := http.Get(e.base + "/api/oauth/healthcheck?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		decodeJSON(t, resp, &m)
		return resp.StatusCode, m
	}
	st, m := get(url.Values{"client_id": {e.app.ID}, "redirect_uri": {rpCallback}})
	b, _ := json.Marshal(m)
	want := `{"clientFound":true,"clientId":"` + e.app.ID + `","closestRedirectUri":null,"https":true,"matchedRedirectUri":"https://app.example.test/callback","ok":true,"problems":[],"redirectUri":"https://app.example.test/callback","redirectUriRegistered":true}`
	if st != 200 || string(b) != want {
		t.Fatalf("registered pair:\n got %d %s\nwant %s", st, b, want)
	}
	// A near miss tells an anonymous caller only that the URI is not registered: the closest
	// registered URI and its differences are for the application's team
	// (TestParityRedirectURICheck), or anyone holding the public client id could read the
	// application's other callbacks off near guesses.
	st, m = get(url.Values{"client_id": {e.app.ID}, "redirect_uri": {"https://www.app.example.test/callback/"}})
	if st != 200 || m["ok"] != false || m["redirectUriRegistered"] != false || m["closestRedirectUri"] != nil {
		t.Fatalf("near miss, anonymous: %d %v", st, m)
	}
	problems := strings.Join(toStrings(m["problems"]), "\n")
	if strings.Contains(problems, "app.example.test/callback\"") || strings.Contains(problems, "registered \"") ||
		!strings.Contains(problems, "Developer Portal") {
		t.Fatalf("near miss, anonymous: the problems name a registered URI or do not say where to look: %s", problems)
	}
	st, m = get(url.Values{"client_id": {"app_unknown"}, "redirect_uri": {rpCallback}})
	if st != 200 || m["ok"] != false || m["clientFound"] != false {
		t.Fatalf("unknown client: %d %v", st, m)
	}
	st, m = get(url.Values{"client_id": {e.app.ID}, "redirect_uri": {"http://127.0.0.1:4567/native/cb"}})
	if st != 200 || m["ok"] != true || m["matchedRedirectUri"] != rpLoopback || m["https"] != false {
		t.Fatalf("loopback port: %d %v", st, m)
	}
	for _, q := range []url.Values{{"client_id": {e.app.ID}}, {"redirect_uri": {rpCallback}}, {}} {
		if st, m := get(q); st != 400 || m["error"] != "invalid_request" {
			t.Fatalf("missing parameter %v: %d %v", q, st, m)
		}
	}
	// The portal exposes the same check by calling the same function.
	res, err := e.srv.oauth.CheckRedirect(context.Background(), e.app.ID, rpCallback)
	if err != nil || !res.OK {
		t.Fatalf("CheckRedirect: %+v %v", res, err)
	}
	// An application that requires pushed requests takes the pair through /oauth/par only, as
	// its authorization endpoint tells anyone who tries.
	required := true
	e.updateApp(e.app, portal.ApplicationPatch{RequirePushedAuthorizationRequests: &required})
	st, m = get(url.Values{"client_id": {e.app.ID}, "redirect_uri": {rpCallback}})
	if problems := strings.Join(toStrings(m["problems"]), "\n"); st != 200 || m["ok"] != true || !strings.Contains(problems, "/oauth/par") {
		t.Fatalf("the pair of an application that requires pushed requests: %d %v, want ok with a problem naming /oauth/par", st, m)
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

// Revocation (RFC 7009) and introspection (RFC 7662) of the client's own tokens.
func TestRevokeAndIntrospect(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	other := e.createApp("Other", rpCallback)
	tokens := e.signedInTokens(e.browser(), defaultTestEmail, "")
	access, refresh := tokens["access_token"].(string), tokens["refresh_token"].(string)

	st, body, _ := e.postForm("/oauth/introspect", e.app, url.Values{"token": {access}})
	if st != 200 || body["active"] != true || body["client_id"] != e.app.ID || body["token_type"] != "Bearer" || body["scope"] != "openid email profile" {
		t.Fatalf("introspect access: %d %v", st, body)
	}
	st, body, _ = e.postForm("/oauth/introspect", other, url.Values{"token": {access}})
	if st != 200 || len(body) != 1 || body["active"] != false {
		t.Fatalf("another client's introspection: %d %v", st, body)
	}
	st, body, hdr := e.postForm("/oauth/introspect", testApp{}, url.Values{"token": {access}})
	wantOAuthError(t, st, body, hdr, 401, "invalid_client")

	// Another client cannot revoke it.
	if st, _, _ := e.postForm("/oauth/revoke", other, url.Values{"token": {access}}); st != 200 {
		t.Fatalf("revoke by another client: %d", st)
	}
	if st, _, _ := e.apiUser(access); st != 200 {
		t.Fatal("another client revoked the token")
	}
	if st, _, _ := e.postForm("/oauth/revoke", e.app, url.Values{"token": {"lsat_unknown"}}); st != 200 {
		t.Fatalf("revoke unknown: %d", st)
	}
	if st, _, _ := e.postForm("/oauth/revoke", e.app, url.Values{"token": {access}, "token_type_hint": {"access_token"}}); st != 200 {
		t.Fatalf("revoke: %d", st)
	}
	if st, _, _ := e.apiUser(access); st != 401 {
		t.Fatal("revoked access token still works")
	}
	// Revoking the refresh token ends the family.
	st, body, _ = e.tokenRequest(e.app, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}})
	if st != 200 {
		t.Fatalf("refresh: %d %v", st, body)
	}
	newAccess, newRefresh := body["access_token"].(string), body["refresh_token"].(string)
	e.postForm("/oauth/revoke", e.app, url.Values{"token": {newRefresh}})
	if st, _, _ := e.apiUser(newAccess); st != 401 {
		t.Fatal("access token survives the revocation of its refresh token")
	}
	st, body, _ = e.postForm("/oauth/introspect", e.app, url.Values{"token": {newRefresh}})
	if st != 200 || body["active"] != false {
		t.Fatalf("revoked refresh token is active: %v", body)
	}
	st, body, hdr = e.postForm("/oauth/revoke", e.app, url.Values{})
	wantOAuthError(t, st, body, hdr, 400, "invalid_request")
}

// Discovery and JWKS; key rotation publishes the new key before it signs and keeps the old
// one published.
func TestDiscoveryAndKeyRotation(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	var d map[string]any
	resp, err := http.Get(e.base + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	decodeJSON(t, resp, &d)
	if d["issuer"] != e.base || d["token_endpoint"] != e.base+"/oauth/token" || d["jwks_uri"] != e.base+"/.well-known/jwks.json" ||
		toStrings(d["code_challenge_methods_supported"])[0] != "S256" || d["authorization_response_iss_parameter_supported"] != true {
		t.Fatalf("discovery: %v", d)
	}
	if algs := toStrings(d["id_token_signing_alg_values_supported"]); strings.Join(algs, " ") != "ES256 RS256" {
		t.Fatalf("id_token_signing_alg_values_supported = %v, want ES256 and RS256", algs)
	}
	if d["request_parameter_supported"] != false || d["request_uri_parameter_supported"] != false {
		t.Fatalf("request objects: %v %v, want false false", d["request_parameter_supported"], d["request_uri_parameter_supported"])
	}
	jwks := func() map[string]string { // kid → alg
		resp, err := http.Get(e.base + "/.well-known/jwks.json")
		if err != nil {
			t.Fatal(err)
		}
		var set struct {
			Keys []struct{ Kid, Alg, Kty, Crv, Use, N, E string }
		}
		decodeJSON(t, resp, &set)
		kids := map[string]string{}
		for _, k := range set.Keys {
			switch {
			case k.Use != "sig":
				t.Fatalf("key %+v", k)
			case k.Alg == "ES256" && k.Kty == "EC" && k.Crv == "P-256":
			case k.Alg == "RS256" && k.Kty == "RSA" && k.N != "" && k.E == "AQAB":
				if n, _ := decodeSegment(k.N); len(n) != 256 {
					t.Fatalf("RSA modulus of %d bytes, want 256", len(n))
				}
			default:
				t.Fatalf("key %+v", k)
			}
			kids[k.Kid] = k.Alg
		}
		return kids
	}
	first := jwks()
	if len(first) != 2 {
		t.Fatalf("keys %v, want one ES256 and one RS256", first)
	}
	newIDs, err := e.srv.oauth.Keys.Rotate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := jwks()
	if len(got) != 4 || got[newIDs[0]] != "ES256" || got[newIDs[1]] != "RS256" {
		t.Fatalf("after rotation keys %v, want the old two and %v", got, newIDs)
	}
	// Until its activation the new key does not sign.
	for _, alg := range []string{"ES256", "RS256"} {
		tok, err := e.srv.oauth.Keys.Sign(context.Background(), alg, map[string]any{"sub": "x"})
		if err != nil {
			t.Fatal(err)
		}
		hdr, _ := base64Header(tok)
		var h struct{ Alg, Kid string }
		json.Unmarshal([]byte(hdr), &h)
		if h.Alg != alg || first[h.Kid] != alg {
			t.Fatalf("%s signed with %s before the new key's activation, want an old key of %v", alg, hdr, first)
		}
	}
	if _, err := e.srv.oauth.Keys.Sign(context.Background(), "HS256", map[string]any{"sub": "x"}); err == nil {
		t.Fatal("signed with HS256")
	}
}

// Signing keys rotate on their own once the newest is KeyMaxAge old, once across instances.
func TestRotateKeysIfDue(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	ctx := context.Background()
	if _, err := e.srv.oauth.Keys.JWKS(ctx); err != nil { // creates the first key
		t.Fatal(err)
	}
	if rotated, err := e.srv.oauth.RotateKeysIfDue(ctx); err != nil || rotated {
		t.Fatalf("fresh key rotated: %v %v", rotated, err)
	}
	e.srv.oauth.Now = func() time.Time { return time.Now().Add(oauth.KeyMaxAge + time.Hour) }
	rotated := 0
	var wg sync.WaitGroup
	var mu sync.Mutex
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := e.srv.oauth.RotateKeysIfDue(ctx)
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				rotated++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if n, _ := e.srv.db.SigningKey.Query().Count(ctx); rotated != 1 || n != 4 {
		t.Fatalf("rotated %d times, %d keys; want 1 and 4 (ES256 and RS256, old and new)", rotated, n)
	}
}

func base64Header(jwt string) (string, error) {
	part, _, _ := strings.Cut(jwt, ".")
	b, err := decodeSegment(part)
	return string(b), err
}

var _ = io.Discard
var _ = auth.Session{}

// A flow is bound to the browser that started it: its id is useless in another browser, two
// tabs of one browser each finish their own flow, and a magic link opened in another browser
// signs in there without the flow (TestMagicLinkElsewhereLeavesTheAskersFlow: whoever asked
// may be a stranger; the person's other device approves the asking one with its number).
func TestFlowBoundToBrowser(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	b := e.browser()
	b.signIn(b.get(e.base+"/login"), defaultTestEmail)
	tab1 := b.get(e.config(e.app, rpCallback).AuthCodeURL("tab1"))
	tab2 := b.get(e.config(e.app, rpCallback).AuthCodeURL("tab2"))

	thief := e.browser()
	thief.signIn(thief.get(e.base+"/login"), "mallory@example.com")
	flow := tab1.hidden(t, "flow")
	if p := thief.get(e.base + "/oauth/consent?flow=" + url.QueryEscape(flow)); p.StatusCode != http.StatusForbidden {
		t.Fatalf("another browser opening the flow: %d", p.StatusCode)
	}
	if p := thief.post(e.base+"/oauth/consent", url.Values{"flow": {flow}, "action": {"allow"}}); p.StatusCode != http.StatusForbidden {
		t.Fatalf("another browser answering the consent: %d", p.StatusCode)
	}
	if cb := callback(t, b.consent(tab2, "allow", "")); cb.Get("state") != "tab2" || cb.Get("code") == "" {
		t.Fatalf("tab 2: %v", cb)
	}
	if cb := callback(t, b.consent(tab1, "allow", "")); cb.Get("state") != "tab1" || cb.Get("code") == "" {
		t.Fatalf("tab 1: %v", cb)
	}

	// The link asked for on the laptop is opened on the phone: the phone is signed in, the
	// flow stays the laptop's.
	laptop, phone := e.browser(), e.browser()
	login := laptop.get(e.config(e.app, rpCallback).AuthCodeURL("cross"))
	laptop.post(e.base+"/login", url.Values{"email": {"pat@example.com"}, "flow": {login.hidden(t, "flow")}})
	confirm := phone.get(e.magicLink("pat@example.com"))
	if p := phone.post(e.base+"/login/magic", url.Values{"token": {confirm.hidden(t, "token")}}); p.StatusCode != http.StatusOK || p.Request.URL.Path != "/dashboard" {
		t.Fatalf("phone: %d %s, want the dashboard", p.StatusCode, p.Request.URL)
	}
}

// Concurrent first consents of one person to one app make exactly one connection (the
// colliding transactions are retried), and every one gets a code.
func TestConcurrentFirstConnect(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		ctx := context.Background()
		u, _, err := e.srv.identity.EnsureUser(ctx, "quick@example.com")
		if err != nil {
			t.Fatal(err)
		}
		req := &oauth.AuthorizeRequest{ClientID: e.app.ID, RedirectURI: rpCallback, ResponseType: "code", Scopes: []string{"openid", "email"}}
		var wg sync.WaitGroup
		errs := make(chan error, 10)
		for range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := e.srv.oauth.Approve(ctx, req, u.ID, oauth.ShareAlias, time.Now()); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("approve: %v", err)
		}
		conns, err := e.srv.db.AppConnection.Query().Where(appconnection.UserID(u.ID)).All(ctx)
		if err != nil || len(conns) != 1 {
			t.Fatalf("%d connections (%v), want 1", len(conns), err)
		}
		if conns[0].LoginCount != 10 {
			t.Fatalf("login_count %d, want 10", conns[0].LoginCount)
		}
	})
}

// TestAuthorizeAndUserInfoTakePOST: OpenID Connect Core §3.1.2.1 and §5.3.1 (conformance
// tests oidcc-ensure-post-request-succeeds, oidcc-userinfo-post-header, -post-body): the
// authorization endpoint takes its parameters form-encoded in a POST, from the client's own
// origin, and the userinfo endpoint takes POST, with the token in the header or, without
// one, as access_token in a form body (RFC 6750 §2.2); both at once is invalid_request.
func TestAuthorizeAndUserInfoTakePOST(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	b := e.browser()
	e.authorizeCode(b, defaultTestEmail) // signed in, consent given: the next request comes straight back
	verifier := oauth2.GenerateVerifier()
	form := url.Values{"client_id": {e.app.ID}, "redirect_uri": {rpCallback}, "response_type": {"code"},
		"scope": {"openid email profile"}, "state": {"st-post"}, "code_challenge": {oauth.S256(verifier)}, "code_challenge_method": {"S256"}}
	req, _ := http.NewRequest(http.MethodPost, e.base+"/oauth/authorize", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://"+rpCallbackHost) // the client's auto-submitting form
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	// A cross-site POST carries no SameSite=Lax cookie: it is answered with the same request as
	// a GET, which does, and sets no cookie (it would replace the browser's own).
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || loc == nil || loc.Path != "/oauth/authorize" || loc.Query().Encode() != form.Encode() || len(resp.Cookies()) != 0 {
		t.Fatalf("cross-site POST: %d %q %v", resp.StatusCode, resp.Header.Get("Location"), resp.Cookies())
	}
	req, _ = http.NewRequest(http.MethodPost, e.base+"/oauth/authorize", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://"+rpCallbackHost)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err = b.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	q := callback(t, page{Response: resp})
	if q.Get("state") != "st-post" || q.Get("code") == "" {
		t.Fatalf("POST /oauth/authorize answered %v", q)
	}
	st, tokens, _ := e.tokenRequest(e.app, url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")},
		"redirect_uri": {rpCallback}, "code_verifier": {verifier}})
	if st != 200 {
		t.Fatalf("the code of a POSTed authorization: %d %v", st, tokens)
	}
	access := tokens["access_token"].(string)

	userinfo := func(header, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, e.base+"/api/user", strings.NewReader(body))
		req.Header.Set("Sec-Fetch-Site", "cross-site") // a single-page app of another origin
		if body != "" {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if header != "" {
			req.Header.Set("Authorization", "Bearer "+header)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		decodeJSON(t, resp, &m)
		return resp.StatusCode, m
	}
	_, want, _ := e.apiUser(access)
	for name, c := range map[string]struct{ header, body string }{
		"token in the header": {access, ""},
		"token in the body":   {"", url.Values{"access_token": {access}}.Encode()},
	} {
		if st, got := userinfo(c.header, c.body); st != 200 || got["sub"] != want["sub"] || got["email"] != want["email"] {
			t.Errorf("POST /api/user, %s: %d %v, want %v", name, st, got, want)
		}
	}
	if st, got := userinfo(access, url.Values{"access_token": {access}}.Encode()); st != 400 || got["error"] != "invalid_request" {
		t.Errorf("POST /api/user with the token twice: %d %v, want 400 invalid_request", st, got)
	}
	if st, got := userinfo("", url.Values{"access_token": {"lsat_unknown"}}.Encode()); st != 401 || got["error"] != "invalid_token" {
		t.Errorf("POST /api/user with an unknown token in the body: %d %v, want 401 invalid_token", st, got)
	}
}

// Other methods on the OAuth JSON routes answer 405 with a JSON body, never a text page.
func TestOAuthRoutesMethodNotAllowed(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	for _, tt := range []struct{ method, path, allow, code string }{
		{"GET", "/oauth/revoke", "POST", "invalid_request"},
		{"PUT", "/oauth/introspect", "POST", "invalid_request"},
		{"DELETE", "/api/user", "GET, HEAD, POST", "invalid_request"}, // GET takes HEAD too (since stop 65 Allow says so)
	} {
		req, _ := http.NewRequest(tt.method, e.base+tt.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		decodeJSON(t, resp, &m)
		if resp.StatusCode != 405 || resp.Header.Get("Allow") != tt.allow || m["error"] != tt.code {
			t.Errorf("%s %s: %d Allow=%q %v", tt.method, tt.path, resp.StatusCode, resp.Header.Get("Allow"), m)
		}
	}
}
