package oauth_test

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"loginsign/internal/ids"
	"loginsign/internal/oauth"
)

// TestAuthorizeValidatesClientAndRedirect: Service.Authorize checks a request against the
// registered client. An unknown client or a redirect URI not registered exactly is shown (never
// redirected: the redirect URI is not trusted yet); every later error is redirectable and
// comes with the client, so the caller can send it back with state.
func TestAuthorizeValidatesClientAndRedirect(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		app, _ := e.client(t, "https://rp.example/cb", "http://127.0.0.1/native")
		e.client(t, "https://other.example/cb") // registered, but for another client
		tests := []struct {
			name     string
			q        url.Values
			code     string // "" = accepted
			redirect bool
			withApp  bool
		}{
			{"registered redirect", authzQuery(app.ID, "https://rp.example/cb", ""), "", false, true},
			{"loopback redirect on any port", authzQuery(app.ID, "http://127.0.0.1:53123/native", ""), "", false, true},
			{"unknown client is shown", authzQuery("app_doesnotexist", "https://rp.example/cb", ""), oauth.InvalidRequest, false, false},
			{"client id of another kind is shown", authzQuery("usr_abc", "https://rp.example/cb", ""), oauth.InvalidRequest, false, false},
			{"unregistered redirect is shown", authzQuery(app.ID, "https://rp.example/cb/other", ""), oauth.InvalidRequest, false, true},
			{"another client's redirect is shown", authzQuery(app.ID, "https://other.example/cb", ""), oauth.InvalidRequest, false, true},
			{"trailing slash is another redirect", authzQuery(app.ID, "https://rp.example/cb/", ""), oauth.InvalidRequest, false, true},
			{"missing client_id is shown", url.Values{"redirect_uri": {"https://rp.example/cb"}, "response_type": {"code"}}, oauth.InvalidRequest, false, false},
			{"token response type is redirected", authzQuery(app.ID, "https://rp.example/cb", "", "response_type", "token"), oauth.UnsupportedResponseType, true, true},
			{"unknown scope is redirected", authzQuery(app.ID, "https://rp.example/cb", "", "scope", "openid admin"), oauth.InvalidScope, true, true},
			{"plain PKCE is redirected", authzQuery(app.ID, "https://rp.example/cb", "", "code_challenge", strings.Repeat("a", 43), "code_challenge_method", "plain"), oauth.InvalidRequest, true, true},
			{"redirect error of an unregistered redirect is shown", authzQuery(app.ID, "https://evil.example/cb", "", "response_type", "token"), oauth.InvalidRequest, false, true},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				req, got, err := e.svc.Authorize(e.ctx(), tt.q)
				if tt.withApp != (got != nil) || (got != nil && got.ID != app.ID) {
					t.Fatalf("client = %v, want app %v", got, tt.withApp)
				}
				if tt.code == "" {
					if err != nil {
						t.Fatalf("Authorize: %v", err)
					}
					if req.ClientID != app.ID || req.State != "st-1" || !slices.Equal(req.Scopes, []string{"openid", "email", "profile"}) {
						t.Fatalf("request = %+v", req)
					}
					return
				}
				oe := wantOAuthError(t, err, tt.code)
				if oe.Redirect != tt.redirect {
					t.Fatalf("redirect = %v, want %v (%v)", oe.Redirect, tt.redirect, err)
				}
				if tt.redirect {
					loc, _ := url.Parse(e.svc.ErrorResponse(req, oe).URL())
					if loc.Query().Get("error") != tt.code || loc.Query().Get("state") != "st-1" ||
						loc.Query().Get("iss") != e.svc.Config.Issuer || !strings.HasPrefix(loc.String(), "https://rp.example/cb?") {
						t.Fatalf("error redirect %s", loc)
					}
				}
			})
		}
	})
}

// TestAuthorizationCodeGrant: the authorization_code grant (RFC 6749 §4.1.3, RFC 7636 §4.6)
// from Approve's code to the token response, and every way a redemption is refused.
func TestAuthorizationCodeGrant(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		const cb = "https://rp.example/cb"
		tests := []struct {
			name string
			// pkce sends a code challenge with the authorization request.
			pkce bool
			// change alters the exchange: the code, the client id and secret, the form.
			change func(e *flowEnv, code *string, id, secret *string, form url.Values)
			want   string // "" = tokens
		}{
			{"issues tokens for a code", false, nil, ""},
			{"issues tokens for a code with PKCE", true, nil, ""},
			{"PKCE mismatch", true, func(_ *flowEnv, _ *string, _, _ *string, f url.Values) { f.Set("code_verifier", verifier()) }, oauth.InvalidGrant},
			{"PKCE verifier missing", true, func(_ *flowEnv, _ *string, _, _ *string, f url.Values) { f.Del("code_verifier") }, oauth.InvalidGrant},
			{"PKCE verifier without challenge", false, func(_ *flowEnv, _ *string, _, _ *string, f url.Values) { f.Set("code_verifier", verifier()) }, oauth.InvalidGrant},
			{"PKCE verifier malformed", true, func(_ *flowEnv, _ *string, _, _ *string, f url.Values) { f.Set("code_verifier", "short") }, oauth.InvalidRequest},
			{"redirect mismatch", false, func(_ *flowEnv, _ *string, _, _ *string, f url.Values) {
				f.Set("redirect_uri", "https://rp.example/other")
			}, oauth.InvalidGrant},
			{"redirect missing", false, func(_ *flowEnv, _ *string, _, _ *string, f url.Values) { f.Del("redirect_uri") }, oauth.InvalidRequest},
			{"unknown code", false, func(_ *flowEnv, c *string, _, _ *string, f url.Values) { f.Set("code", oauth.CodePrefix+"unknown") }, oauth.InvalidGrant},
			{"overlong code", false, func(_ *flowEnv, c *string, _, _ *string, f url.Values) { f.Set("code", strings.Repeat("c", 300)) }, oauth.InvalidGrant},
			{"expired code", false, func(e *flowEnv, c *string, _, _ *string, _ url.Values) { e.expireCode(t, *c) }, oauth.InvalidGrant},
			{"wrong client secret", false, func(_ *flowEnv, _ *string, _, s *string, _ url.Values) { *s += "x" }, oauth.InvalidClient},
			{"unknown client", false, func(_ *flowEnv, _ *string, id, _ *string, _ url.Values) { *id = "app_unknown" }, oauth.InvalidClient},
			{"code of another client", false, func(e *flowEnv, _ *string, id, s *string, _ url.Values) {
				other, secret := e.client(t, cb)
				*id, *s = other.ID, secret
			}, oauth.InvalidGrant},
			{"unsupported grant type", false, func(_ *flowEnv, _ *string, _, _ *string, f url.Values) { f.Set("grant_type", "password") }, oauth.UnsupportedGrantType},
			{"missing grant type", false, func(_ *flowEnv, _ *string, _, _ *string, f url.Values) { f.Del("grant_type") }, oauth.InvalidRequest},
			{"repeated parameter", false, func(_ *flowEnv, _ *string, _, _ *string, f url.Values) { f.Add("redirect_uri", cb) }, oauth.InvalidRequest},
			{"blocked connection", false, func(e *flowEnv, _ *string, _, _ *string, _ url.Values) {
				if _, err := e.db.AppConnection.Update().SetBlocked(true).Save(context.Background()); err != nil {
					t.Fatal(err)
				}
			}, oauth.InvalidGrant},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				// Not parallel: "blocked connection" blocks every connection of the database
				// and "expired code" moves the shared clock.
				app, secret := e.client(t, cb)
				u := e.person(t)
				v := ""
				if tt.pkce {
					v = verifier()
				}
				code := e.code(t, u, authzQuery(app.ID, cb, v, "scope", "openid email"))
				id, form := app.ID, codeForm(code, cb, v)
				if tt.change != nil {
					tt.change(e, &code, &id, &secret, form)
				}
				resp, err := e.token(id, secret, form)
				if tt.want != "" {
					wantOAuthError(t, err, tt.want)
					return
				}
				if err != nil {
					t.Fatalf("Token: %v", err)
				}
				if resp.TokenType != "Bearer" || resp.Scope != "openid email" || resp.ExpiresIn != 3600 ||
					!strings.HasPrefix(resp.AccessToken, oauth.AccessTokenPrefix) || !strings.HasPrefix(resp.RefreshToken, oauth.RefreshTokenPrefix) ||
					strings.Count(resp.IDToken, ".") != 2 {
					t.Fatalf("token response %+v", resp)
				}
				tok, err := e.svc.AccessToken(e.ctx(), resp.AccessToken)
				if err != nil || tok.ApplicationID != app.ID || tok.UserID != u.ID || !slices.Equal(tok.Scopes, []string{"openid", "email"}) {
					t.Fatalf("AccessToken = %+v, %v", tok, err)
				}
				info, err := e.svc.UserInfo(e.ctx(), resp.AccessToken)
				if err != nil || info.Subject != tok.ConnectionID || !strings.HasSuffix(info.Email, "@relay.test.example") || info.Profile {
					t.Fatalf("UserInfo = %+v, %v (the app sees the masked address, no profile)", info, err)
				}
			})
		}
	})
}

// TestReusedCodeRevokesItsTokens: a code redeemed twice (RFC 6749 §4.1.2) answers invalid_grant
// and revokes the access and refresh token the first redemption issued.
func TestReusedCodeRevokesItsTokens(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		const cb = "https://rp.example/cb"
		app, secret := e.client(t, cb)
		code := e.code(t, e.person(t), authzQuery(app.ID, cb, ""))
		first, err := e.token(app.ID, secret, codeForm(code, cb, ""))
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.token(app.ID, secret, codeForm(code, cb, ""))
		if oe := wantOAuthError(t, err, oauth.InvalidGrant); !strings.Contains(oe.Description, "already used") {
			t.Fatalf("reuse answered %q", oe.Description)
		}
		if _, err := e.svc.AccessToken(e.ctx(), first.AccessToken); err == nil {
			t.Fatal("the access token of a reused code still works")
		}
		_, err = e.token(app.ID, secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first.RefreshToken}})
		wantOAuthError(t, err, oauth.InvalidGrant)
	})
}

// TestCodeLifetime: a code is redeemable up to CodeTTL and not after (the store expires it).
func TestCodeLifetime(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{CodeTTL: time.Minute}, func(t *testing.T, e *flowEnv) {
		const cb = "https://rp.example/cb"
		app, secret := e.client(t, cb)
		u := e.person(t)
		if e.embedded {
			code := e.code(t, u, authzQuery(app.ID, cb, ""))
			e.clock.Advance(59 * time.Second)
			if _, err := e.token(app.ID, secret, codeForm(code, cb, "")); err != nil {
				t.Fatalf("a code before CodeTTL: %v", err)
			}
		}
		code := e.code(t, u, authzQuery(app.ID, cb, ""))
		if d, err := e.kv.PTTL(context.Background(), "oc:"+ids.Hash(code)).Result(); err != nil || d <= 0 || d > time.Minute {
			t.Fatalf("the code lives %v (%v), want at most CodeTTL", d, err)
		}
		e.expireCode(t, code)
		_, err := e.token(app.ID, secret, codeForm(code, cb, ""))
		if oe := wantOAuthError(t, err, oauth.InvalidGrant); !strings.Contains(oe.Description, "expired") {
			t.Fatalf("expired code answered %q", oe.Description)
		}
	})
}

// TestContinueAndDecide: the authorization endpoint's next step for a flow: sign in when nobody
// is, login_required for prompt=none, the consent page on a first connect, a code once consent
// is remembered, access_denied when the person says no.
func TestContinueAndDecide(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		const cb = "https://rp.example/cb"
		ctx := e.ctx()
		app, secret := e.client(t, cb)
		u := e.person(t)
		flow := func(q url.Values) *oauth.Flow {
			t.Helper()
			id, err := e.svc.StartFlow(ctx, e.authorize(t, q), "browser-1")
			if err != nil {
				t.Fatal(err)
			}
			f, err := e.svc.BrowserFlow(ctx, id, "browser-1")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.svc.BrowserFlow(ctx, id, "browser-2"); err == nil {
				t.Fatal("a flow continued in another browser")
			}
			return f
		}
		redirectParam := func(loc, k string) string {
			t.Helper()
			l, err := url.Parse(loc)
			if err != nil || !strings.HasPrefix(loc, cb+"?") {
				t.Fatalf("redirect %q", loc)
			}
			return l.Query().Get(k)
		}

		if n, err := e.svc.Continue(ctx, flow(authzQuery(app.ID, cb, "")), "", time.Time{}); err != nil || !n.Login {
			t.Fatalf("nobody signed in: %+v, %v", n, err)
		}
		n, err := e.svc.Continue(ctx, flow(authzQuery(app.ID, cb, "", "prompt", "none")), "", time.Time{})
		if err != nil || redirectParam(redirectTo(n), "error") != oauth.LoginRequired {
			t.Fatalf("prompt=none, nobody signed in: %+v, %v", n, err)
		}
		n, err = e.svc.Continue(ctx, flow(authzQuery(app.ID, cb, "", "prompt", "none")), u.ID, e.clock.Now())
		if err != nil || redirectParam(redirectTo(n), "error") != oauth.ConsentRequired {
			t.Fatalf("prompt=none before consent: %+v, %v", n, err)
		}
		f := flow(authzQuery(app.ID, cb, ""))
		n, err = e.svc.Continue(ctx, f, u.ID, e.clock.Now())
		if err != nil || n.Consent == nil || !n.Consent.FirstConnect || len(n.Consent.Addresses) != 2 ||
			!n.Consent.Addresses[0].Masked || !n.Consent.Addresses[0].Checked || n.Consent.Addresses[1].Email != u.Email {
			t.Fatalf("first connect: %+v, %v", n, err)
		}
		if n, err := e.svc.Decide(ctx, f, u.ID, e.clock.Now(), false, "", ""); err != nil || redirectParam(redirectTo(n), "error") != oauth.AccessDenied {
			t.Fatalf("deny: %+v, %v", n, err)
		}
		if n, err := e.svc.Decide(ctx, f, u.ID, e.clock.Now(), true, "someone-else@example.com", ""); err != nil || redirectParam(redirectTo(n), "error") != oauth.InvalidRequest {
			t.Fatalf("sharing an address that is not the person's: %+v, %v", n, err)
		}
		// The consent form posted straight away, for a request that asks for a newer sign-in
		// than the person's, asks for it as the authorization request does.
		for _, q := range [][]string{{"prompt", "login"}, {"max_age", "0"}} {
			again := flow(authzQuery(app.ID, cb, "", q...))
			n, err := e.svc.Decide(ctx, again, u.ID, e.clock.Now().Add(-time.Minute), true, oauth.ShareAlias, "")
			if err != nil || !n.Login || redirectTo(n) != "" {
				t.Fatalf("allow with %s=%s, without signing in again: %+v, %v; want the sign-in", q[0], q[1], n, err)
			}
		}
		n, err = e.svc.Decide(ctx, f, u.ID, e.clock.Now(), true, oauth.ShareAlias, "")
		if err != nil || redirectParam(redirectTo(n), "code") == "" || redirectParam(redirectTo(n), "state") != "st-1" {
			t.Fatalf("allow: %+v, %v", n, err)
		}
		// Consent is remembered: the next authorization goes straight back with a code.
		n, err = e.svc.Continue(ctx, flow(authzQuery(app.ID, cb, "")), u.ID, e.clock.Now())
		if err != nil || redirectTo(n) == "" {
			t.Fatalf("remembered consent: %+v, %v", n, err)
		}
		if _, err := e.token(app.ID, secret, codeForm(redirectParam(redirectTo(n), "code"), cb, "")); err != nil {
			t.Fatalf("the remembered consent's code: %v", err)
		}
		// prompt=consent and max_age ask again.
		if n, err := e.svc.Continue(ctx, flow(authzQuery(app.ID, cb, "", "prompt", "consent")), u.ID, e.clock.Now()); err != nil || n.Consent == nil {
			t.Fatalf("prompt=consent: %+v, %v", n, err)
		}
		if n, err := e.svc.Continue(ctx, flow(authzQuery(app.ID, cb, "", "max_age", "60")), u.ID, e.clock.Now().Add(-time.Hour)); err != nil || !n.Login {
			t.Fatalf("a sign-in older than max_age: %+v, %v", n, err)
		}
	})
}
