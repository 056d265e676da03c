package oauth_test

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"entgo.io/ent/dialect"

	"loginsign/ent/refreshtoken"
	"loginsign/internal/ids"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/oauth"
	"loginsign/internal/store/storetest"
)

// signedIn is a person's sign-in to a fresh client: the client, its secret and the first
// token response.
type signedIn struct {
	id, secret string
	resp       *oauth.TokenResponse
}

func (e *flowEnv) signIn(t *testing.T, scope string) signedIn {
	t.Helper()
	const cb = "https://rp.example/cb"
	app, secret := e.client(t, cb)
	code := e.code(t, e.person(t), authzQuery(app.ID, cb, "", "scope", scope))
	resp, err := e.token(app.ID, secret, codeForm(code, cb, ""))
	if err != nil {
		t.Fatal(err)
	}
	return signedIn{app.ID, secret, resp}
}

// rotated rotates s's first refresh token n times, one after the other, and returns the
// live one.
func (e *flowEnv) rotated(t *testing.T, s signedIn, n int) string {
	t.Helper()
	rt := s.resp.RefreshToken
	for range n {
		next, err := e.token(s.id, s.secret, refreshForm(rt))
		if err != nil {
			t.Fatal(err)
		}
		rt = next.RefreshToken
	}
	return rt
}

func refreshForm(rt string, extra ...string) url.Values {
	f := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
	for i := 0; i+1 < len(extra); i += 2 {
		f.Set(extra[i], extra[i+1])
	}
	return f
}

// TestRefreshTokenGrant: the refresh_token grant (RFC 6749 §6) with rotation (RFC 9700
// §4.14.2): every way a refresh is answered, by behaviour.
func TestRefreshTokenGrant(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{RefreshTokenTTL: 24 * time.Hour, RefreshGrace: 5 * time.Second}, func(t *testing.T, e *flowEnv) {
		tests := []struct {
			name string
			run  func(t *testing.T, s signedIn)
		}{
			{"rotates to a new pair and spends the old token", func(t *testing.T, s signedIn) {
				next, err := e.token(s.id, s.secret, refreshForm(s.resp.RefreshToken))
				if err != nil || next.RefreshToken == s.resp.RefreshToken || next.AccessToken == s.resp.AccessToken ||
					next.Scope != "openid email profile" || next.IDToken == "" {
					t.Fatalf("rotation: %+v, %v", next, err)
				}
				if _, err := e.svc.AccessToken(e.ctx(), next.AccessToken); err != nil {
					t.Fatalf("the new access token: %v", err)
				}
				// OpenID Connect Core §12.2 (errata set 2): a refreshed id_token should not
				// carry the nonce of the sign-in, which binds only the first one to its request.
				first, refreshed := idTokenClaims(t, s.resp.IDToken), idTokenClaims(t, next.IDToken)
				if first["nonce"] == nil || refreshed["nonce"] != nil || refreshed["auth_time"] != first["auth_time"] {
					t.Errorf("nonce and auth_time: first %v %v, refreshed %v %v; want the nonce only in the first, the same auth_time",
						first["nonce"], first["auth_time"], refreshed["nonce"], refreshed["auth_time"])
				}
			}},
			{"a retry within the grace window answers the same pair", func(t *testing.T, s signedIn) {
				a, err := e.token(s.id, s.secret, refreshForm(s.resp.RefreshToken))
				if err != nil {
					t.Fatal(err)
				}
				b, err := e.token(s.id, s.secret, refreshForm(s.resp.RefreshToken))
				if err != nil || a.AccessToken != b.AccessToken || a.RefreshToken != b.RefreshToken {
					t.Fatalf("retry: %+v / %+v, %v", a, b, err)
				}
			}},
			{"a retry for another scope gets the same refresh token and an access token of that scope", func(t *testing.T, s signedIn) {
				a, err := e.token(s.id, s.secret, refreshForm(s.resp.RefreshToken))
				if err != nil {
					t.Fatal(err)
				}
				b, err := e.token(s.id, s.secret, refreshForm(s.resp.RefreshToken, "scope", "openid"))
				if err != nil || b.RefreshToken != a.RefreshToken || b.AccessToken == a.AccessToken || b.Scope != "openid" {
					t.Fatalf("retry for openid: %+v after %+v, %v", b, a, err)
				}
				for tok, want := range map[string]string{a.AccessToken: "openid email profile", b.AccessToken: "openid"} {
					if got, err := e.svc.AccessToken(e.ctx(), tok); err != nil || strings.Join(got.Scopes, " ") != want {
						t.Errorf("access token %s: %+v %v, want scope %q", tok, got, err, want)
					}
				}
				_, err = e.token(s.id, s.secret, refreshForm(s.resp.RefreshToken, "scope", "admin"))
				wantOAuthError(t, err, oauth.InvalidScope)
			}},
			{"a token several rotations old revokes the family", func(t *testing.T, s signedIn) {
				rt := e.rotated(t, s, 3)
				_, err := e.token(s.id, s.secret, refreshForm(s.resp.RefreshToken))
				if oe := wantOAuthError(t, err, oauth.InvalidGrant); !strings.Contains(oe.Description, "already used") {
					t.Fatalf("reuse answered %q", oe.Description)
				}
				_, err = e.token(s.id, s.secret, refreshForm(rt))
				wantOAuthError(t, err, oauth.InvalidGrant)
			}},
			{"a forged token of the family is invalid and revokes nothing", func(t *testing.T, s signedIn) {
				next, err := e.token(s.id, s.secret, refreshForm(s.resp.RefreshToken))
				if err != nil {
					t.Fatal(err)
				}
				row, _, _ := strings.Cut(strings.TrimPrefix(next.RefreshToken, oauth.RefreshTokenPrefix), ".")
				parts := strings.Split(s.resp.RefreshToken, ".") // generation 0, spent
				tag := strings.Repeat("A", 22)
				for _, forged := range []string{
					oauth.RefreshTokenPrefix + row + ".0.forged." + tag, // a spent generation
					oauth.RefreshTokenPrefix + row + ".1.forged." + tag, // the live one
					oauth.RefreshTokenPrefix + row + ".2.forged." + tag, // one to come
					oauth.RefreshTokenPrefix + row + ".12345.forged." + tag,
					parts[0] + ".0." + parts[2] + "." + tag,      // the spent token, another tag
					parts[0] + ".0.forged." + parts[3],           // its tag, another secret
					parts[0] + ".1." + parts[2] + "." + parts[3], // its secret and tag, another generation
				} {
					_, err := e.token(s.id, s.secret, refreshForm(forged))
					if oe := wantOAuthError(t, err, oauth.InvalidGrant); !strings.Contains(oe.Description, "invalid") {
						t.Errorf("%s answered %q", forged, oe.Description)
					}
					if err := e.svc.Revoke(e.ctx(), oauth.ClientCredentials{ID: s.id, Secret: s.secret}, url.Values{"token": {forged}}); err != nil {
						t.Fatal(err)
					}
				}
				if _, err := e.token(s.id, s.secret, refreshForm(next.RefreshToken)); err != nil {
					t.Fatalf("the live token after forged ones: %v", err)
				}
			}},
			{"a malformed token is invalid_grant", func(t *testing.T, s signedIn) {
				row, _, _ := strings.Cut(strings.TrimPrefix(s.resp.RefreshToken, oauth.RefreshTokenPrefix), ".")
				for _, bad := range []string{oauth.RefreshTokenPrefix, oauth.RefreshTokenPrefix + ".", "lsat_x", "x.y.z",
					oauth.RefreshTokenPrefix + row + ".00.x.y", oauth.RefreshTokenPrefix + row + ".-1.x.y", oauth.RefreshTokenPrefix + row + ".+1.x.y",
					oauth.RefreshTokenPrefix + row + ".1.x.", oauth.RefreshTokenPrefix + row + ".99999999999.x.y", oauth.RefreshTokenPrefix + row + ".0.x.y.z",
					oauth.RefreshTokenPrefix + "usr_abc.0.x.y", oauth.RefreshTokenPrefix + "rtk_" + strings.Repeat("a", 80) + ".0.x.y"} {
					_, err := e.token(s.id, s.secret, refreshForm(bad))
					wantOAuthError(t, err, oauth.InvalidGrant)
				}
				if _, err := e.token(s.id, s.secret, refreshForm(s.resp.RefreshToken)); err != nil {
					t.Fatalf("the token after malformed ones: %v", err)
				}
			}},
			{"reuse after the grace window revokes the family", func(t *testing.T, s signedIn) {
				next, err := e.token(s.id, s.secret, refreshForm(s.resp.RefreshToken))
				if err != nil {
					t.Fatal(err)
				}
				e.clock.Advance(6 * time.Second)
				_, err = e.token(s.id, s.secret, refreshForm(s.resp.RefreshToken))
				if oe := wantOAuthError(t, err, oauth.InvalidGrant); !strings.Contains(oe.Description, "already used") {
					t.Fatalf("reuse answered %q", oe.Description)
				}
				if _, err := e.svc.AccessToken(e.ctx(), next.AccessToken); err == nil {
					t.Fatal("the family's access token survived reuse")
				}
				_, err = e.token(s.id, s.secret, refreshForm(next.RefreshToken))
				wantOAuthError(t, err, oauth.InvalidGrant)
			}},
			{"reuse after the successor was used revokes the family", func(t *testing.T, s signedIn) {
				next, err := e.token(s.id, s.secret, refreshForm(s.resp.RefreshToken))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := e.token(s.id, s.secret, refreshForm(next.RefreshToken)); err != nil {
					t.Fatal(err)
				}
				_, err = e.token(s.id, s.secret, refreshForm(s.resp.RefreshToken))
				wantOAuthError(t, err, oauth.InvalidGrant)
			}},
			{"a narrower scope is granted", func(t *testing.T, s signedIn) {
				next, err := e.token(s.id, s.secret, refreshForm(s.resp.RefreshToken, "scope", "email"))
				if err != nil || next.Scope != "email" || next.IDToken != "" {
					t.Fatalf("narrowed: %+v, %v", next, err)
				}
			}},
			{"a narrowed refresh leaves the refresh token its scope (RFC 6749 §6)", func(t *testing.T, s signedIn) {
				narrow, err := e.token(s.id, s.secret, refreshForm(s.resp.RefreshToken, "scope", "openid"))
				if err != nil || narrow.Scope != "openid" {
					t.Fatalf("narrowed: %+v, %v", narrow, err)
				}
				again, err := e.token(s.id, s.secret, refreshForm(narrow.RefreshToken, "scope", "openid email"))
				if err != nil || again.Scope != "openid email" {
					t.Fatalf("a scope the sign-in granted, after a narrower refresh: %+v, %v", again, err)
				}
				if all, err := e.token(s.id, s.secret, refreshForm(again.RefreshToken)); err != nil || all.Scope != "openid email profile" {
					t.Fatalf("no scope after narrower refreshes: %+v, %v", all, err)
				}
			}},
			{"an unknown scope is invalid_scope", func(t *testing.T, s signedIn) {
				_, err := e.token(s.id, s.secret, refreshForm(s.resp.RefreshToken, "scope", "admin"))
				wantOAuthError(t, err, oauth.InvalidScope)
			}},
			{"another client's refresh token is invalid_grant", func(t *testing.T, s signedIn) {
				other := e.signIn(t, "openid")
				_, err := e.token(other.id, other.secret, refreshForm(s.resp.RefreshToken))
				wantOAuthError(t, err, oauth.InvalidGrant)
				if _, err := e.token(s.id, s.secret, refreshForm(s.resp.RefreshToken)); err != nil {
					t.Fatalf("the owner's refresh after another client tried: %v", err)
				}
			}},
			{"an unknown refresh token is invalid_grant", func(t *testing.T, s signedIn) {
				_, err := e.token(s.id, s.secret, refreshForm(oauth.RefreshTokenPrefix+"nope"))
				wantOAuthError(t, err, oauth.InvalidGrant)
			}},
			{"a missing refresh token is invalid_request", func(t *testing.T, s signedIn) {
				_, err := e.token(s.id, s.secret, url.Values{"grant_type": {"refresh_token"}})
				wantOAuthError(t, err, oauth.InvalidRequest)
			}},
			{"an expired family is invalid_grant", func(t *testing.T, s signedIn) {
				e.clock.Advance(25 * time.Hour)
				_, err := e.token(s.id, s.secret, refreshForm(s.resp.RefreshToken))
				if oe := wantOAuthError(t, err, oauth.InvalidGrant); !strings.Contains(oe.Description, "expired") {
					t.Fatalf("expired answered %q", oe.Description)
				}
			}},
			{"rotation does not extend the family's life", func(t *testing.T, s signedIn) {
				e.clock.Advance(20 * time.Hour)
				next, err := e.token(s.id, s.secret, refreshForm(s.resp.RefreshToken))
				if err != nil {
					t.Fatal(err)
				}
				e.clock.Advance(5 * time.Hour)
				_, err = e.token(s.id, s.secret, refreshForm(next.RefreshToken))
				wantOAuthError(t, err, oauth.InvalidGrant)
			}},
			{"a revoked refresh token is invalid_grant", func(t *testing.T, s signedIn) {
				if err := e.svc.Revoke(e.ctx(), oauth.ClientCredentials{ID: s.id, Secret: s.secret}, url.Values{"token": {s.resp.RefreshToken}}); err != nil {
					t.Fatal(err)
				}
				_, err := e.token(s.id, s.secret, refreshForm(s.resp.RefreshToken))
				wantOAuthError(t, err, oauth.InvalidGrant)
			}},
			{"a blocked connection is invalid_grant", func(t *testing.T, s signedIn) {
				tok, err := e.svc.AccessToken(e.ctx(), s.resp.AccessToken)
				if err != nil {
					t.Fatal(err)
				}
				if err := e.db.AppConnection.UpdateOneID(tok.ConnectionID).SetBlocked(true).Exec(e.ctx()); err != nil {
					t.Fatal(err)
				}
				_, err = e.token(s.id, s.secret, refreshForm(s.resp.RefreshToken))
				wantOAuthError(t, err, oauth.InvalidGrant)
			}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) { tt.run(t, e.signIn(t, "openid email profile")) })
		}
	})
}

// TestRevokeAndIntrospect: RFC 7009 and RFC 7662 for the calling client's own tokens; another
// client's token is answered like an unknown one and changes nothing.
func TestRevokeAndIntrospect(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		s := e.signIn(t, "openid email")
		other := e.signIn(t, "openid")
		creds := oauth.ClientCredentials{ID: s.id, Secret: s.secret}
		otherCreds := oauth.ClientCredentials{ID: other.id, Secret: other.secret}
		introspect := func(c oauth.ClientCredentials, tok string) *oauth.Introspection {
			t.Helper()
			in, err := e.svc.Introspect(e.ctx(), c, url.Values{"token": {tok}})
			if err != nil {
				t.Fatal(err)
			}
			return in
		}
		if in := introspect(creds, s.resp.AccessToken); !in.Active || in.ClientID != s.id || in.Scope != "openid email" || in.TokenType != "Bearer" {
			t.Fatalf("own access token: %+v", in)
		}
		if in := introspect(creds, s.resp.RefreshToken); !in.Active || in.TokenType != "refresh_token" {
			t.Fatalf("own refresh token: %+v", in)
		}
		for _, tok := range []string{s.resp.AccessToken, s.resp.RefreshToken, "lsat_unknown", "lsrt_unknown", "something"} {
			if in := introspect(otherCreds, tok); in.Active {
				t.Fatalf("another client's or an unknown token %q is active: %+v", tok, in)
			}
		}
		// Another client revoking the token changes nothing.
		for _, tok := range []string{s.resp.AccessToken, s.resp.RefreshToken} {
			if err := e.svc.Revoke(e.ctx(), otherCreds, url.Values{"token": {tok}}); err != nil {
				t.Fatal(err)
			}
		}
		if in := introspect(creds, s.resp.AccessToken); !in.Active {
			t.Fatal("another client revoked the access token")
		}
		// Bad requests.
		_, err := e.svc.Introspect(e.ctx(), creds, url.Values{})
		wantOAuthError(t, err, oauth.InvalidRequest)
		err = e.svc.Revoke(e.ctx(), creds, url.Values{"token": {"a", "b"}})
		wantOAuthError(t, err, oauth.InvalidRequest)
		err = e.svc.Revoke(e.ctx(), oauth.ClientCredentials{ID: s.id, Secret: "wrong"}, url.Values{"token": {s.resp.AccessToken}})
		wantOAuthError(t, err, oauth.InvalidClient)
		// Revoking the access token ends it alone; revoking the refresh token ends the family.
		if err := e.svc.Revoke(e.ctx(), creds, url.Values{"token": {s.resp.AccessToken}}); err != nil {
			t.Fatal(err)
		}
		if in := introspect(creds, s.resp.AccessToken); in.Active {
			t.Fatal("a revoked access token is active")
		}
		next, err := e.token(s.id, s.secret, refreshForm(s.resp.RefreshToken))
		if err != nil {
			t.Fatalf("the refresh token after its access token was revoked: %v", err)
		}
		if err := e.svc.Revoke(e.ctx(), creds, url.Values{"token": {next.RefreshToken}}); err != nil {
			t.Fatal(err)
		}
		if in := introspect(creds, next.AccessToken); in.Active {
			t.Fatal("the family's access token outlived the revoked refresh token")
		}
	})
}

// TestClientCredentialsGrant: an application's backend gets a token for its own app API
// (RFC 6749 §4.4): app scopes only, no refresh token, no id_token, no person.
func TestClientCredentialsGrant(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		app, secret := e.client(t, "https://rp.example/cb")
		other, _ := e.client(t, "https://rp.example/cb")
		form := func(scope string) url.Values {
			return url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}
		}
		resp, err := e.token(app.ID, secret, form(""))
		if err != nil || resp.RefreshToken != "" || resp.IDToken != "" || resp.Scope != "app:users:read app:users:write" {
			t.Fatalf("client_credentials: %+v, %v", resp, err)
		}
		if _, err := e.svc.AccessToken(e.ctx(), resp.AccessToken); err == nil {
			t.Fatal("a client_credentials token acts for a person")
		}
		if err := e.svc.AppAccessToken(e.ctx(), resp.AccessToken, app.ID, oauth.ScopeAppUsersRead); err != nil {
			t.Fatalf("own app API: %v", err)
		}
		err = e.svc.AppAccessToken(e.ctx(), resp.AccessToken, other.ID, oauth.ScopeAppUsersRead)
		wantOAuthError(t, err, oauth.InsufficientScope)
		read, err := e.token(app.ID, secret, form("app:users:read app:users:read"))
		if err != nil || read.Scope != "app:users:read" {
			t.Fatalf("read only: %+v, %v", read, err)
		}
		err = e.svc.AppAccessToken(e.ctx(), read.AccessToken, app.ID, oauth.ScopeAppUsersWrite)
		wantOAuthError(t, err, oauth.InsufficientScope)
		err = e.svc.AppAccessToken(e.ctx(), "lsat_unknown", app.ID, oauth.ScopeAppUsersRead)
		wantOAuthError(t, err, oauth.InvalidToken)
		_, err = e.token(app.ID, secret, form("openid"))
		wantOAuthError(t, err, oauth.InvalidScope)
		if in, err := e.svc.Introspect(e.ctx(), oauth.ClientCredentials{ID: app.ID, Secret: secret}, url.Values{"token": {resp.AccessToken}}); err != nil || !in.Active || in.Subject != app.ID {
			t.Fatalf("introspection: %+v, %v", in, err)
		}
	})
}

// TestAFamilyHoldsOnlyItsRecentAccessTokens: a family refreshed every 20 minutes for ten
// hours keeps the hashes of its last hours' access tokens, not of all thirty (the one set
// per family of earlier versions, extended on every rotation, grew by one a rotation); the
// sets of its past hours expire; and a revocation still ends every live token, on both
// sides of a bucket's boundary, and one of the earlier versions' set.
func TestAFamilyHoldsOnlyItsRecentAccessTokens(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{RefreshTokenTTL: 24 * time.Hour}, func(t *testing.T, e *flowEnv) {
		ctx, ttl := e.ctx(), e.svc.Config.AccessTokenTTL
		s := e.signIn(t, "openid")
		family := e.db.RefreshToken.Query().Where(refreshtoken.TokenHash(ids.Hash(s.resp.RefreshToken))).OnlyX(ctx).FamilyID
		firstBucket := e.svc.TokenBucket(e.clock.Now().Add(ttl))
		rt := s.resp.RefreshToken
		refresh := func() string {
			t.Helper()
			next, err := e.token(s.id, s.secret, refreshForm(rt))
			if err != nil {
				t.Fatal(err)
			}
			rt = next.RefreshToken
			return next.AccessToken
		}
		for i := range 30 {
			e.clock.Advance(20 * time.Minute)
			refresh()
			// Alive or expired less than a bucket ago, in the buckets around now: the last
			// three hours' tokens at most.
			if held, err := e.svc.FamilyAccessTokens(ctx, family); err != nil || len(held) > 9 {
				t.Fatalf("after %d rotations the family holds %d access tokens (%v), want at most 9", i+1, len(held), err)
			}
		}
		if e.embedded { // the store's clock is the service's: the past hours' sets expired
			e.kv.Engine.Sweep()
			for b := firstBucket; b < e.svc.TokenBucket(e.clock.Now().Add(-ttl)); b++ {
				if n, err := e.kv.Exists(ctx, oauth.FamilyTokensKey(family, b)).Result(); err != nil || n != 0 {
					t.Fatalf("the set of bucket %d (now %d) is still there: %d %v", b, e.svc.TokenBucket(e.clock.Now()), n, err)
				}
			}
		}

		// Two live tokens in two buckets: the first expires five minutes before a bucket
		// ends, the second five minutes after.
		end := time.UnixMilli((e.svc.TokenBucket(e.clock.Now().Add(ttl)) + 1) * ttl.Milliseconds())
		wait := end.Add(-5 * time.Minute).Sub(e.clock.Now().Add(ttl))
		if wait < 0 { // within five minutes of the end already: the next bucket's
			wait += ttl
		}
		e.clock.Advance(wait)
		before := refresh()
		e.clock.Advance(10 * time.Minute)
		after := refresh()
		if a, b := e.svc.TokenBucket(e.clock.Now().Add(ttl-10*time.Minute)), e.svc.TokenBucket(e.clock.Now().Add(ttl)); a+1 != b {
			t.Fatalf("the two tokens are in buckets %d and %d, want two neighbours", a, b)
		}
		// A third, moved to the family's one set of the earlier versions.
		e.clock.Advance(time.Minute)
		legacy := refresh()
		h := ids.Hash(legacy)
		if err := e.kv.SRem(ctx, oauth.FamilyTokensKey(family, e.svc.TokenBucket(e.clock.Now().Add(ttl))), h).Err(); err != nil {
			t.Fatal(err)
		}
		if err := e.kv.SAdd(ctx, "fat:"+family, h).Err(); err != nil {
			t.Fatal(err)
		}
		for _, tok := range []string{before, after, legacy} {
			if _, err := e.svc.AccessToken(ctx, tok); err != nil {
				t.Fatalf("a live access token before the revocation: %v", err)
			}
		}

		// The sign-in's first refresh token, spent hours ago, revokes the family.
		_, err := e.token(s.id, s.secret, refreshForm(s.resp.RefreshToken))
		wantOAuthError(t, err, oauth.InvalidGrant)
		for name, tok := range map[string]string{"before the boundary": before, "after it": after, "in the earlier versions' set": legacy} {
			if _, err := e.svc.AccessToken(ctx, tok); err == nil {
				t.Errorf("the access token %s still works after the family was revoked", name)
			}
			if n, err := e.kv.Exists(ctx, "at:"+ids.Hash(tok)).Result(); err != nil || n != 0 {
				t.Errorf("the access token %s is still stored: %d %v", name, n, err)
			}
		}
		if held, err := e.svc.FamilyAccessTokens(ctx, family); err != nil || len(held) != 0 {
			t.Errorf("after the revocation the family holds %d access tokens (%v), want none", len(held), err)
		}
	})
}

// TestRotationMovesTheFamilyRow: a sign-in's refresh tokens are one row, written by the
// rotation's own statement, not through ent: each rotation moves it to the next generation
// (the live token's hash, the time) and leaves the grant it continues as it was.
func TestRotationMovesTheFamilyRow(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{RefreshTokenTTL: 24 * time.Hour}, func(t *testing.T, e *flowEnv) {
		s := e.signIn(t, "openid email")
		first := e.db.RefreshToken.Query().Where(refreshtoken.TokenHash(ids.Hash(s.resp.RefreshToken))).OnlyX(e.ctx())
		if first.Generation != 0 || first.CurrentHash == nil || *first.CurrentHash != first.TokenHash || first.RotatedAt != nil {
			t.Fatalf("a new family's row: %+v", first)
		}
		rt := s.resp.RefreshToken
		for gen := 1; gen <= 3; gen++ {
			e.clock.Advance(time.Minute)
			next, err := e.token(s.id, s.secret, refreshForm(rt, "scope", "openid"))
			if err != nil {
				t.Fatal(err)
			}
			rt = next.RefreshToken
			in, err := e.svc.Introspect(e.ctx(), oauth.ClientCredentials{ID: s.id, Secret: s.secret}, url.Values{"token": {rt}})
			if err != nil || !in.Active || in.IssuedAt != e.clock.Now().Unix() || in.Scope != "openid email" {
				t.Errorf("introspecting generation %d: %+v %v, want active, issued now, the sign-in's scope", gen, in, err)
			}
			row, err := e.db.RefreshToken.Get(e.ctx(), first.ID)
			if err != nil {
				t.Fatalf("the family's row through ent: %v", err)
			}
			at := func(t *time.Time) bool { return t != nil && t.Sub(e.clock.Now()).Abs() < time.Millisecond } // PostgreSQL keeps µs
			if row.Generation != gen || row.CurrentHash == nil || *row.CurrentHash != ids.Hash(rt) || !at(row.RotatedAt) || row.RevokedAt != nil {
				t.Errorf("after rotation %d: generation %d, current %v (want %s), rotated %v (want %v), revoked %v", gen,
					row.Generation, row.CurrentHash, ids.Hash(rt), row.RotatedAt, e.clock.Now(), row.RevokedAt)
			}
			if row.TokenHash != first.TokenHash || row.FamilyID != first.FamilyID || row.ConnectionID != first.ConnectionID ||
				row.ApplicationID != first.ApplicationID || row.Nonce != first.Nonce || !row.ExpiresAt.Equal(first.ExpiresAt) ||
				!slices.Equal(row.Amr, first.Amr) || !slices.Equal(row.Scopes, []string{"openid", "email"}) ||
				(row.AuthTime == nil) != (first.AuthTime == nil) || (first.AuthTime != nil && !row.AuthTime.Equal(*first.AuthTime)) {
				t.Errorf("after rotation %d the row %+v does not continue %+v", gen, row, first)
			}
		}
		if n := e.db.RefreshToken.Query().Where(refreshtoken.FamilyID(first.FamilyID)).CountX(e.ctx()); n != 1 {
			t.Errorf("%d rows for one sign-in after three rotations, want 1", n)
		}
	})
}

// TestRefreshAfterTheDatabaseLostRotations: a database that lost its last rotations (a
// crash after their asynchronous commit, a failover to a replica that lagged, a restore)
// holds a family's row at a generation before the token its client holds. That token still
// rotates, here and on an instance that never kept the row, and the row catches up: the
// token the row held is then spent, a revoked family stays revoked, and the token the row
// held, presented first, gets the very pair the lost rotation issued.
func TestRefreshAfterTheDatabaseLostRotations(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{RefreshTokenTTL: 24 * time.Hour, RefreshGrace: 5 * time.Second}, func(t *testing.T, e *flowEnv) {
		rowOf := func(tok string) string {
			row, _, _ := strings.Cut(strings.TrimPrefix(tok, oauth.RefreshTokenPrefix), ".")
			return row
		}
		// lose puts the family's row back to the first token, live, as before any rotation.
		lose := func(t *testing.T, first string) {
			t.Helper()
			e.sqlExec(t, "UPDATE refresh_tokens SET generation = 0, current_hash = ?, rotated_at = NULL WHERE id = ?",
				ids.Hash(first), rowOf(first))
		}
		wantRow := func(t *testing.T, first string, gen int, live string) {
			t.Helper()
			row := e.db.RefreshToken.GetX(e.ctx(), rowOf(first))
			if row.Generation != gen || row.CurrentHash == nil || *row.CurrentHash != ids.Hash(live) || row.RotatedAt == nil {
				t.Errorf("the row at generation %d, current %v, rotated %v; want %d, %s", row.Generation, row.CurrentHash,
					row.RotatedAt, gen, ids.Hash(live))
			}
		}
		t.Run("the token of a lost rotation rotates, and the row's token is then spent", func(t *testing.T) {
			s := e.signIn(t, "openid email")
			held := e.rotated(t, s, 1)
			lose(t, s.resp.RefreshToken)
			e.clock.Advance(time.Minute)
			next, err := e.token(s.id, s.secret, refreshForm(held)) // the process kept the row: its write finds it behind
			if err != nil {
				t.Fatalf("the token of the lost rotation: %v", err)
			}
			if _, err := e.svc.AccessToken(e.ctx(), next.AccessToken); err != nil || next.IDToken == "" {
				t.Fatalf("its answer: %+v, access token %v", next, err)
			}
			wantRow(t, s.resp.RefreshToken, 2, next.RefreshToken)
			_, err = e.token(s.id, s.secret, refreshForm(s.resp.RefreshToken))
			if oe := wantOAuthError(t, err, oauth.InvalidGrant); !strings.Contains(oe.Description, "already used") {
				t.Fatalf("the token the row held, after the catch-up: %q", oe.Description)
			}
		})
		t.Run("two lost rotations, on an instance that never kept the row", func(t *testing.T) {
			s := e.signIn(t, "openid")
			held := e.rotated(t, s, 2)
			lose(t, s.resp.RefreshToken)
			next, err := e.otherInstance(t).Token(e.ctx(), oauth.ClientCredentials{ID: s.id, Secret: s.secret}, refreshForm(held))
			if err != nil {
				t.Fatalf("two generations ahead: %v", err)
			}
			wantRow(t, s.resp.RefreshToken, 3, next.RefreshToken)
			if _, err := e.token(s.id, s.secret, refreshForm(next.RefreshToken)); err != nil {
				t.Fatalf("the caught-up family's next rotation: %v", err)
			}
		})
		t.Run("a revoked family stays revoked", func(t *testing.T) {
			s := e.signIn(t, "openid")
			held := e.rotated(t, s, 1)
			lose(t, s.resp.RefreshToken)
			e.sqlExec(t, "UPDATE refresh_tokens SET revoked_at = ? WHERE id = ?", e.clock.Now(), rowOf(held))
			_, err := e.token(s.id, s.secret, refreshForm(held))
			if oe := wantOAuthError(t, err, oauth.InvalidGrant); !strings.Contains(oe.Description, "revoked") {
				t.Fatalf("ahead of a revoked row: %q", oe.Description)
			}
		})
		t.Run("the row's token, presented first, gets the lost rotation's pair", func(t *testing.T) {
			s := e.signIn(t, "openid")
			lost, err := e.token(s.id, s.secret, refreshForm(s.resp.RefreshToken))
			if err != nil {
				t.Fatal(err)
			}
			lose(t, s.resp.RefreshToken)
			again, err := e.token(s.id, s.secret, refreshForm(s.resp.RefreshToken))
			if err != nil || again.RefreshToken != lost.RefreshToken || again.AccessToken != lost.AccessToken {
				t.Fatalf("the row's live token after the loss: %+v, %v; want the lost rotation's pair", again, err)
			}
			if _, err := e.token(s.id, s.secret, refreshForm(lost.RefreshToken)); err != nil {
				t.Fatalf("the client's token after that: %v", err)
			}
		})
	})
}

// TestConcurrentRotationsOfManyFamilies: rotations arriving together are written together
// (one transaction on SQLite, one statement on PostgreSQL); each is answered by its own row:
// the same token presented three times at once gets one pair, and a spent token among them
// revokes its family alone.
func TestConcurrentRotationsOfManyFamilies(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		const families, copies = 9, 3
		signIns := make([]signedIn, families)
		for i := range signIns {
			signIns[i] = e.signIn(t, "openid")
		}
		// The thief's family: its first token is two rotations old.
		thief := e.signIn(t, "openid")
		live := e.rotated(t, thief, 2)
		start := make(chan struct{})
		var wg sync.WaitGroup
		got := make([][copies]*oauth.TokenResponse, families)
		errs := make([][copies]error, families)
		for i, s := range signIns {
			for c := range copies {
				wg.Go(func() {
					<-start
					got[i][c], errs[i][c] = e.token(s.id, s.secret, refreshForm(s.resp.RefreshToken))
				})
			}
		}
		var reuse error
		wg.Go(func() {
			<-start
			_, reuse = e.token(thief.id, thief.secret, refreshForm(thief.resp.RefreshToken))
		})
		close(start)
		wg.Wait()

		for i, s := range signIns {
			for c := range copies {
				if errs[i][c] != nil {
					t.Fatalf("family %d, copy %d: %v", i, c, errs[i][c])
				}
				if got[i][c].RefreshToken != got[i][0].RefreshToken || got[i][c].AccessToken != got[i][0].AccessToken {
					t.Errorf("family %d: copies of one token answered different pairs", i)
				}
			}
			row := e.db.RefreshToken.Query().Where(refreshtoken.TokenHash(ids.Hash(s.resp.RefreshToken))).OnlyX(e.ctx())
			if row.Generation != 1 || row.RevokedAt != nil {
				t.Errorf("family %d after its concurrent rotations: generation %d, revoked %v; want 1, not revoked", i, row.Generation, row.RevokedAt)
			}
			if _, err := e.token(s.id, s.secret, refreshForm(got[i][0].RefreshToken)); err != nil {
				t.Errorf("family %d: its new token: %v", i, err)
			}
		}
		wantOAuthError(t, reuse, "invalid_grant")
		row := e.db.RefreshToken.Query().Where(refreshtoken.TokenHash(ids.Hash(thief.resp.RefreshToken))).OnlyX(e.ctx())
		if row.RevokedAt == nil || row.Generation != 2 {
			t.Errorf("the reused family's row: generation %d, revoked %v; want 2 and revoked", row.Generation, row.RevokedAt)
		}
		if _, err := e.token(thief.id, thief.secret, refreshForm(live)); err == nil {
			t.Error("the reused family's live token still rotates")
		}
	})
}

// TestRotationBatchRolledBackByADeadlockRunsAgain: on PostgreSQL a batch locks its rows one
// by one, so two batches (of two instances) naming the same rows in another order can
// deadlock; PostgreSQL then rolls one back, and its rotations run again instead of failing.
// Here the other instance is a transaction holding B's row that then wants A's, while a batch
// [A, B] holds A's and waits for B's.
func TestRotationBatchRolledBackByADeadlockRunsAgain(t *testing.T) {
	t.Parallel()
	// PostgreSQL alone: SQLite's one writer commits one batch at a time.
	e := postgresOnlyFlowEnv(t, oauth.Config{})
	ctx := e.ctx()
	// The batch locks its rows in the order its rotations queued, which the case sets up by
	// spacing the requests; under load that order can come out the other way, and then there
	// is no deadlock: the case is tried again with new sign-ins.
	for try := 1; ; try++ {
		if e.deadlockedBatch(t, ctx) {
			return
		}
		if try == 3 {
			t.Fatal("no deadlock in three tries: the case did not happen")
		}
	}
}

// deadlockedBatch runs the case of TestRotationBatchRolledBackByADeadlockRunsAgain once and
// reports whether PostgreSQL detected a deadlock; every rotation must succeed either way.
func (e *flowEnv) deadlockedBatch(t *testing.T, ctx context.Context) bool {
	t.Helper()
	z, a, b := e.signIn(t, "openid"), e.signIn(t, "openid"), e.signIn(t, "openid")
	row := func(s signedIn) string {
		return e.db.RefreshToken.Query().Where(refreshtoken.TokenHash(ids.Hash(s.resp.RefreshToken))).OnlyIDX(ctx)
	}
	count := func(query string) (n int64) {
		if err := e.db.SQL.QueryRowContext(ctx, query).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	deadlocks := func() int64 {
		return count(`SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()`)
	}
	// waitForBatch waits until a rotation batch waits for a row lock.
	waitForBatch := func() {
		for deadline := time.Now().Add(10 * time.Second); count(`SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%unnest%'`) == 0; {
			if time.Now().After(deadline) {
				t.Fatal("no rotation batch is waiting for a row lock")
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	before := deadlocks()
	lock := func(id string) *sql.Tx {
		tx, err := e.db.SQL.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET rotated_at = rotated_at WHERE id = $1`, id); err != nil {
			t.Fatal(err)
		}
		return tx
	}
	holdZ, holdB := lock(row(z)), lock(row(b))
	errs := make(chan error, 3)
	refresh := func(s signedIn) {
		go func() {
			_, err := e.token(s.id, s.secret, refreshForm(s.resp.RefreshToken))
			errs <- err
		}()
	}
	refresh(z) // a batch of its own, waiting for Z's row
	waitForBatch()
	refresh(a) // queued meanwhile: the next batch is [A, B]
	time.Sleep(200 * time.Millisecond)
	refresh(b)
	time.Sleep(200 * time.Millisecond)
	holdZ.Rollback() // [Z] commits; [A, B] locks A and waits for B
	waitForBatch()
	// The other instance wants A: PostgreSQL rolls back the batch, which waited first. Under
	// load the batch's one deadlock check (deadlock_timeout after its wait began) can run
	// before this update closes the cycle; this update's own check then finds it and rolls
	// this transaction back instead: not the case, which is tried again.
	batchRolledBack := true
	if _, err := holdB.ExecContext(ctx, `UPDATE refresh_tokens SET rotated_at = rotated_at WHERE id = $1`, row(a)); err != nil {
		if !strings.Contains(err.Error(), "40P01") {
			t.Fatalf("the other instance: %v", err)
		}
		batchRolledBack = false
	}
	holdB.Rollback()
	for range 3 {
		if err := <-errs; err != nil {
			t.Errorf("a rotation of a batch PostgreSQL rolled back: %v", err)
		}
	}
	for _, s := range []signedIn{z, a, b} {
		if gen := e.db.RefreshToken.GetX(ctx, row(s)).Generation; gen != 1 {
			t.Errorf("generation %d after one rotation", gen)
		}
	}
	if !batchRolledBack {
		return false
	}
	// The backend that detected the deadlock reports it within PostgreSQL's idle stats
	// interval (10 s).
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if deadlocks() > before {
			return true
		}
	}
	return false
}

// TestRotationConnectionGoesBack: on SQLite rotations are written on one pooled connection
// kept while they keep coming; it goes back to the pool once they stop, and at once when
// the pool has no other connection (the next request's reads need it).
func TestRotationConnectionGoesBack(t *testing.T) {
	t.Parallel()
	for _, open := range []int{8, 1} {
		t.Run(fmt.Sprintf("pool of %d", open), func(t *testing.T) {
			t.Parallel()
			k, clk := kvtest.EmbeddedClock(t)
			db := storetest.SQLite(t)
			e := newFlowEnv(t, db, k, clk, true, oauth.Config{RefreshTokenTTL: 24 * time.Hour})
			s := e.signIn(t, "openid")
			db.SQL.SetMaxOpenConns(open)
			rt := s.resp.RefreshToken
			for range 3 {
				next, err := e.token(s.id, s.secret, refreshForm(rt))
				if err != nil {
					t.Fatal(err)
				}
				rt = next.RefreshToken
				if open == 1 && db.SQL.Stats().InUse != 0 {
					t.Fatalf("a pool of one: %d connection in use after the rotation", db.SQL.Stats().InUse)
				}
			}
			for deadline := time.Now().Add(10 * time.Second); db.SQL.Stats().InUse != 0; time.Sleep(50 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("%d connections still in use 10 s after the last rotation", db.SQL.Stats().InUse)
				}
			}
		})
	}
}

// TestPostgresRotationsRunTheGenericPlan: on PostgreSQL the connection the rotations keep
// runs their statement with its generic plan, never planning an execution anew (which was
// most of a small batch's time), and commits asynchronously unless Config.SyncRotations;
// it goes back to the pool with both settings reset, so that no other query inherits them.
func TestPostgresRotationsRunTheGenericPlan(t *testing.T) {
	t.Parallel()
	for _, sync := range []bool{false, true} {
		t.Run(fmt.Sprintf("SyncRotations=%v", sync), func(t *testing.T) {
			t.Parallel()
			e := postgresOnlyFlowEnv(t, oauth.Config{SyncRotations: sync})
			const pool, rotations = 4, 8
			e.db.SQL.SetMaxOpenConns(pool)
			e.db.SQL.SetMaxIdleConns(pool) // the rotations' connection stays in the pool once back
			ctx := e.ctx()
			s := e.signIn(t, "openid")
			s.resp.RefreshToken = e.rotated(t, s, rotations)
			var (
				generic, custom int64
				commit          string
			)
			plans := func(c *sql.Conn) {
				err := c.QueryRowContext(ctx, `SELECT generic_plans, custom_plans FROM pg_prepared_statements
					WHERE statement LIKE 'UPDATE refresh_tokens SET generation%'`).Scan(&generic, &custom)
				if err != nil {
					t.Error(err)
				}
				if err := c.QueryRowContext(ctx, "SHOW synchronous_commit").Scan(&commit); err != nil {
					t.Error(err)
				}
			}
			for try := 1; !e.svc.OnRotationConn(plans); try++ {
				// The connection went back to the pool (a second after the last rotation) before it
				// could be read: a machine that stalled that long gets another rotation.
				if try == 5 {
					t.Fatal("no connection kept by the rotations right after them")
				}
				s.resp.RefreshToken = e.rotated(t, s, 1)
			}
			if generic == 0 || custom != 0 {
				t.Errorf("the rotations' statement ran with %d generic and %d custom plans, want generic ones only", generic, custom)
			}
			if want := map[bool]string{false: "off", true: "on"}[sync]; commit != want {
				t.Errorf("the rotations' connection has synchronous_commit %q, want %q", commit, want)
			}
			for deadline := time.Now().Add(10 * time.Second); e.db.SQL.Stats().InUse != 0; time.Sleep(50 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("%d connections still in use 10 s after the last rotation", e.db.SQL.Stats().InUse)
				}
			}
			// Every connection the pool can hold, the one the rotations gave back among them.
			for range pool {
				c, err := e.db.SQL.Conn(ctx)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				var mode, commit string
				if err := c.QueryRowContext(ctx, "SELECT current_setting('plan_cache_mode'), current_setting('synchronous_commit')").
					Scan(&mode, &commit); err != nil {
					t.Fatal(err)
				}
				if mode != "auto" || commit != "on" {
					t.Errorf("a pooled connection has plan_cache_mode %q and synchronous_commit %q, want auto and on", mode, commit)
				}
			}
		})
	}
}

// sqlExec runs query (with ? placeholders) on the database directly, as another instance or
// an operator would: no hook of this process sees it.
func (e *flowEnv) sqlExec(t *testing.T, query string, args ...any) {
	t.Helper()
	if e.db.Dialect == dialect.Postgres {
		for i := 1; strings.Contains(query, "?"); i++ {
			query = strings.Replace(query, "?", fmt.Sprintf("$%d", i), 1)
		}
	}
	if _, err := e.db.SQL.ExecContext(e.ctx(), query, args...); err != nil {
		t.Fatal(err)
	}
}

// idTokenClaims are the claims of a compact JWS, unverified (the signature has its own tests).
func idTokenClaims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("id_token %q", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRefreshOfAKeptRowSeesOtherInstances: a refresh token this process issued rotates
// without reading its row (the process keeps it), so what may change meanwhile, possibly
// through another instance that this process's hooks do not see, must still count: the
// connection blocked, the token spent elsewhere, the profile the id_token reports.
func TestRefreshOfAKeptRowSeesOtherInstances(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{RefreshTokenTTL: 24 * time.Hour, RefreshGrace: 5 * time.Second}, func(t *testing.T, e *flowEnv) {
		connOf := func(t *testing.T, s signedIn) string {
			t.Helper()
			tok, err := e.svc.AccessToken(e.ctx(), s.resp.AccessToken)
			if err != nil {
				t.Fatal(err)
			}
			return tok.ConnectionID
		}
		t.Run("a connection blocked elsewhere refuses, and the token stays unspent", func(t *testing.T) {
			s := e.signIn(t, "openid email profile")
			conn := connOf(t, s)
			e.sqlExec(t, "UPDATE app_connections SET blocked = ? WHERE id = ?", true, conn)
			_, err := e.token(s.id, s.secret, refreshForm(s.resp.RefreshToken))
			wantOAuthError(t, err, oauth.InvalidGrant)
			if !strings.Contains(err.Error(), "blocked") {
				t.Errorf("want the blocked description, got %v", err)
			}
			if rt := e.db.RefreshToken.Query().Where(refreshtoken.TokenHash(ids.Hash(s.resp.RefreshToken))).OnlyX(e.ctx()); rt.Generation != 0 {
				t.Error("the refused refresh spent the token")
			}
			e.sqlExec(t, "UPDATE app_connections SET blocked = ? WHERE id = ?", false, conn)
			if _, err := e.token(s.id, s.secret, refreshForm(s.resp.RefreshToken)); err != nil {
				t.Fatalf("after unblocking, the same token: %v", err)
			}
		})
		t.Run("its tokens deleted elsewhere (the connection removed) refuse", func(t *testing.T) {
			s := e.signIn(t, "openid")
			e.sqlExec(t, "DELETE FROM refresh_tokens WHERE connection_id = ?", connOf(t, s))
			_, err := e.token(s.id, s.secret, refreshForm(s.resp.RefreshToken))
			wantOAuthError(t, err, oauth.InvalidGrant)
		})
		t.Run("a token rotated elsewhere is reuse here", func(t *testing.T) {
			s := e.signIn(t, "openid")
			elsewhere, err := e.otherInstance(t).Token(e.ctx(), oauth.ClientCredentials{ID: s.id, Secret: s.secret}, refreshForm(s.resp.RefreshToken))
			if err != nil {
				t.Fatal(err)
			}
			e.clock.Advance(6 * time.Second) // past the grace window
			_, err = e.token(s.id, s.secret, refreshForm(s.resp.RefreshToken))
			wantOAuthError(t, err, oauth.InvalidGrant)
			if _, err := e.token(s.id, s.secret, refreshForm(elsewhere.RefreshToken)); err == nil {
				t.Error("the token the other instance issued outlived the reuse")
			}
			fam := e.db.RefreshToken.Query().Where(refreshtoken.TokenHash(ids.Hash(s.resp.RefreshToken))).OnlyX(e.ctx())
			if fam.RevokedAt == nil {
				t.Error("reuse of a token spent elsewhere left its family unrevoked")
			}
		})
		t.Run("a token another instance issued rotates here", func(t *testing.T) {
			s := e.signIn(t, "openid")
			elsewhere, err := e.otherInstance(t).Token(e.ctx(), oauth.ClientCredentials{ID: s.id, Secret: s.secret}, refreshForm(s.resp.RefreshToken))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.token(s.id, s.secret, refreshForm(elsewhere.RefreshToken)); err != nil {
				t.Fatalf("here, the token the other instance issued: %v", err)
			}
		})
		t.Run("the id_token reports a profile changed elsewhere", func(t *testing.T) {
			s := e.signIn(t, "openid email profile")
			first, err := e.token(s.id, s.secret, refreshForm(s.resp.RefreshToken))
			if err != nil {
				t.Fatal(err)
			}
			conn := e.db.AppConnection.GetX(e.ctx(), connOf(t, s))
			e.sqlExec(t, "UPDATE users SET name = ? WHERE id = ?", "Renamed Elsewhere", conn.UserID)
			if err := e.kv.Incr(e.ctx(), "gen:profiles").Err(); err != nil { // what the other instance's write does
				t.Fatal(err)
			}
			next, err := e.token(s.id, s.secret, refreshForm(first.RefreshToken))
			if err != nil {
				t.Fatal(err)
			}
			if name := idTokenClaims(t, next.IDToken)["name"]; name != "Renamed Elsewhere" {
				t.Errorf("id_token name %v, want the new one", name)
			}
		})
	})
}

// TestARevokedFamilyStaysRevoked: once reuse has revoked a family, its spent token presented
// again brings none of its tokens back. This process keeps the family's row and takes the
// token for the live one until its write, which writes the token's successor, the access
// token the rotation that spent it answered; what it reads in the same round trip (the
// revocation's marker) must make it delete that token again, while a second revocation of
// the family is under way and once the code's window is over alike.
func TestARevokedFamilyStaysRevoked(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{RefreshTokenTTL: 24 * time.Hour, RefreshGrace: 5 * time.Second}, func(t *testing.T, e *flowEnv) {
		alive := func(access string) bool {
			_, err := e.svc.AccessToken(e.ctx(), access)
			if err != nil && !errors.Is(err, oauth.ErrInvalidToken) {
				t.Fatal(err)
			}
			return err == nil
		}
		// revoked is a sign-in whose first refresh token was rotated, to next, and then
		// presented again past the grace window.
		revoked := func(t *testing.T) (s signedIn, next *oauth.TokenResponse) {
			t.Helper()
			s = e.signIn(t, "openid")
			next, err := e.token(s.id, s.secret, refreshForm(s.resp.RefreshToken))
			if err != nil {
				t.Fatal(err)
			}
			e.clock.Advance(6 * time.Second)
			_, err = e.token(s.id, s.secret, refreshForm(s.resp.RefreshToken))
			wantOAuthError(t, err, oauth.InvalidGrant)
			if alive(next.AccessToken) {
				t.Fatal("the family's access token outlived the reuse")
			}
			return s, next
		}
		t.Run("while another revocation deletes the family's sets", func(t *testing.T) {
			s, next := revoked(t)
			// The other revocation read the family's sets before this write and deletes them
			// after it.
			e.svc.OnTokenWritten(func(family string) {
				if err := e.kv.Del(e.ctx(), e.svc.FamilyTokensKeys(family)...).Err(); err != nil {
					t.Error(err)
				}
			})
			defer e.svc.OnTokenWritten(nil)
			_, err := e.token(s.id, s.secret, refreshForm(s.resp.RefreshToken))
			wantOAuthError(t, err, oauth.InvalidGrant)
			if alive(next.AccessToken) {
				t.Error("the spent token presented again brought its successor's access token back")
			}
		})
		t.Run("once the code's window is over", func(t *testing.T) {
			s, next := revoked(t)
			e.advance(t, e.svc.Config.CodeTTL+2*time.Minute)
			_, err := e.token(s.id, s.secret, refreshForm(s.resp.RefreshToken))
			wantOAuthError(t, err, oauth.InvalidGrant)
			if alive(next.AccessToken) {
				t.Error("the spent token presented again brought its successor's access token back")
			}
		})
	})
}

// TestRefreshLimitsAnswerBeforeReuseRevokes: a refresh counts the client's limits in the
// round trip of its access-token write, but a reused token is answered before any write, by
// revoking its family; the limits are counted first, so a client over its quota revokes
// nothing. The reuse is presented to another instance, which does not keep the row and so
// reads it and finds the token spent.
func TestRefreshLimitsAnswerBeforeReuseRevokes(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{RefreshTokenTTL: 24 * time.Hour, RefreshGrace: 5 * time.Second}, func(t *testing.T, e *flowEnv) {
		s := e.signIn(t, "openid") // the quota's first request
		creds := oauth.ClientCredentials{ID: s.id, Secret: s.secret}
		if err := e.db.Application.UpdateOneID(s.id).SetClientRequestsPerMinute(3).Exec(e.ctx()); err != nil {
			t.Fatal(err)
		}
		next, err := e.token(s.id, s.secret, refreshForm(s.resp.RefreshToken))
		if err != nil {
			t.Fatal(err)
		}
		other := e.otherInstance(t)
		// The third request, which leaves the application cached there: the limits of the next
		// one are left to its write.
		if _, err := other.Introspect(e.ctx(), creds, url.Values{"token": {next.AccessToken}}); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(6 * time.Second) // past the grace window
		_, err = other.Token(e.ctx(), creds, refreshForm(s.resp.RefreshToken))
		wantOAuthError(t, err, oauth.RateLimited)
		if fam := e.db.RefreshToken.Query().Where(refreshtoken.TokenHash(ids.Hash(s.resp.RefreshToken))).OnlyX(e.ctx()); fam.RevokedAt != nil {
			t.Fatal("a reuse over the quota revoked the family")
		}
		if err := e.kv.Del(e.ctx(), "rl:client-quota:"+s.id).Err(); err != nil { // the window turns
			t.Fatal(err)
		}
		_, err = other.Token(e.ctx(), creds, refreshForm(s.resp.RefreshToken))
		wantOAuthError(t, err, oauth.InvalidGrant)
		if fam := e.db.RefreshToken.Query().Where(refreshtoken.TokenHash(ids.Hash(s.resp.RefreshToken))).OnlyX(e.ctx()); fam.RevokedAt == nil {
			t.Fatal("the reuse within the quota left the family unrevoked")
		}
	})
}

// TestRefreshTokensOfTheOneRowPerTokenLayout: rows written before a sign-in's refresh tokens
// were one row (one row per token, no current_hash) keep working: the live token rotates, and
// its row becomes the family's row; a retry within the grace window gets the same pair;
// reuse revokes, a token spent by an earlier release included; introspection and revocation
// find them.
func TestRefreshTokensOfTheOneRowPerTokenLayout(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{RefreshTokenTTL: 24 * time.Hour, RefreshGrace: 5 * time.Second}, func(t *testing.T, e *flowEnv) {
		creds := func(s signedIn) oauth.ClientCredentials { return oauth.ClientCredentials{ID: s.id, Secret: s.secret} }
		// legacy writes the rows an earlier release wrote for s's sign-in: a spent token and
		// its successor, of one family; it returns both tokens.
		legacy := func(t *testing.T, s signedIn) (spent, live string) {
			t.Helper()
			tok, err := e.svc.AccessToken(e.ctx(), s.resp.AccessToken)
			if err != nil {
				t.Fatal(err)
			}
			family := ids.New("fam_")
			for i, rotated := range []bool{true, false} {
				raw := ids.Secret(oauth.RefreshTokenPrefix)
				c := e.db.RefreshToken.Create().SetTokenHash(ids.Hash(raw)).SetFamilyID(family).SetConnectionID(tok.ConnectionID).
					SetApplicationID(s.id).SetScopes([]string{"openid", "email"}).SetExpiresAt(e.clock.Now().Add(time.Hour))
				if rotated {
					c.SetRotatedAt(e.clock.Now().Add(-time.Minute))
				}
				c.SaveX(e.ctx())
				if i == 0 {
					spent = raw
				} else {
					live = raw
				}
			}
			return spent, live
		}
		t.Run("the live token rotates, is retried, and its reuse revokes", func(t *testing.T) {
			s := e.signIn(t, "openid")
			_, live := legacy(t, s)
			if in, err := e.svc.Introspect(e.ctx(), creds(s), url.Values{"token": {live}}); err != nil || !in.Active {
				t.Fatalf("introspecting the live token: %+v %v", in, err)
			}
			a, err := e.token(s.id, s.secret, refreshForm(live))
			if err != nil {
				t.Fatal(err)
			}
			row := e.db.RefreshToken.Query().Where(refreshtoken.TokenHash(ids.Hash(live))).OnlyX(e.ctx())
			if row.Generation != 1 || row.CurrentHash == nil || *row.CurrentHash != ids.Hash(a.RefreshToken) {
				t.Fatalf("the rotated row: generation %d, current %v", row.Generation, row.CurrentHash)
			}
			b, err := e.token(s.id, s.secret, refreshForm(live))
			if err != nil || a.RefreshToken != b.RefreshToken || a.AccessToken != b.AccessToken {
				t.Fatalf("retry within the window: %+v / %+v, %v", a, b, err)
			}
			if in, err := e.svc.Introspect(e.ctx(), creds(s), url.Values{"token": {live}}); err != nil || in.Active {
				t.Fatalf("introspecting the spent token: %+v %v", in, err)
			}
			e.clock.Advance(6 * time.Second)
			_, err = e.token(s.id, s.secret, refreshForm(live))
			wantOAuthError(t, err, oauth.InvalidGrant)
			if _, err := e.token(s.id, s.secret, refreshForm(a.RefreshToken)); err == nil {
				t.Fatal("the family survived the reuse of its first token")
			}
		})
		t.Run("a token spent by an earlier release revokes its family", func(t *testing.T) {
			s := e.signIn(t, "openid")
			spent, live := legacy(t, s)
			_, err := e.token(s.id, s.secret, refreshForm(spent))
			if oe := wantOAuthError(t, err, oauth.InvalidGrant); !strings.Contains(oe.Description, "already used") {
				t.Fatalf("reuse answered %q", oe.Description)
			}
			_, err = e.token(s.id, s.secret, refreshForm(live))
			wantOAuthError(t, err, oauth.InvalidGrant)
		})
		t.Run("a forged token naming such a row is invalid and revokes nothing", func(t *testing.T) {
			s := e.signIn(t, "openid")
			spent, live := legacy(t, s)
			for _, raw := range []string{spent, live} {
				row := e.db.RefreshToken.Query().Where(refreshtoken.TokenHash(ids.Hash(raw))).OnlyX(e.ctx())
				forged := oauth.RefreshTokenPrefix + row.ID + ".0.forged." + strings.Repeat("A", 22)
				_, err := e.token(s.id, s.secret, refreshForm(forged))
				if oe := wantOAuthError(t, err, oauth.InvalidGrant); !strings.Contains(oe.Description, "invalid") {
					t.Errorf("forged token answered %q", oe.Description)
				}
				if err := e.svc.Revoke(e.ctx(), creds(s), url.Values{"token": {forged}}); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := e.token(s.id, s.secret, refreshForm(live)); err != nil {
				t.Fatalf("the live token after forged ones: %v", err)
			}
		})
		t.Run("revoking the live token ends the family", func(t *testing.T) {
			s := e.signIn(t, "openid")
			_, live := legacy(t, s)
			if err := e.svc.Revoke(e.ctx(), creds(s), url.Values{"token": {live}}); err != nil {
				t.Fatal(err)
			}
			_, err := e.token(s.id, s.secret, refreshForm(live))
			wantOAuthError(t, err, oauth.InvalidGrant)
		})
	})
}

// TestPurgeRefreshTokens: the housekeeping deletes the rows of expired families and only
// those.
func TestPurgeRefreshTokens(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{RefreshTokenTTL: 24 * time.Hour}, func(t *testing.T, e *flowEnv) {
		old := e.signIn(t, "openid")
		e.clock.Advance(20 * time.Hour)
		young := e.signIn(t, "openid")
		e.clock.Advance(5 * time.Hour) // old's family expired an hour ago
		rowOf := func(s signedIn) string {
			row, _, _ := strings.Cut(strings.TrimPrefix(s.resp.RefreshToken, oauth.RefreshTokenPrefix), ".")
			return row
		}
		n, err := e.svc.PurgeRefreshTokens(e.ctx())
		if err != nil || n != 1 {
			t.Fatalf("purge: %d rows, %v; want the expired family's one", n, err)
		}
		if exists := e.db.RefreshToken.Query().Where(refreshtoken.ID(rowOf(old))).ExistX(e.ctx()); exists {
			t.Error("the expired family's row survived the purge")
		}
		if _, err := e.token(young.id, young.secret, refreshForm(young.resp.RefreshToken)); err != nil {
			t.Errorf("a live family after the purge: %v", err)
		}
		_, err = e.token(old.id, old.secret, refreshForm(old.resp.RefreshToken))
		wantOAuthError(t, err, oauth.InvalidGrant)
	})
}
