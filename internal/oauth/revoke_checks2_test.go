package oauth_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"loginsign/ent/appconnection"
	"loginsign/internal/ids"
	"loginsign/internal/oauth"
)

// introspected is the introspection answer of tok for the client of s; it fails the test on
// an error.
func (e *flowEnv) introspected(t *testing.T, s signedIn, tok string) *oauth.Introspection {
	t.Helper()
	in, err := e.svc.Introspect(e.ctx(), oauth.ClientCredentials{ID: s.id, Secret: s.secret}, url.Values{"token": {tok}})
	if err != nil {
		t.Fatalf("introspecting %q: %v", tok, err)
	}
	return in
}

// block blocks every connection of the application appID, as the operator does.
func (e *flowEnv) block(t *testing.T, appID string) {
	t.Helper()
	if _, err := e.db.AppConnection.Update().Where(appconnection.ApplicationID(appID)).SetBlocked(true).
		Save(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestIntrospectionOfABlockedConnectionsTokensAnswersInactive: once the operator blocks the
// connection, its access token and its refresh token, both alive and unspent, introspect as
// {"active":false} (RFC 7662 §2.2): the app must not keep acting for a blocked person.
func TestIntrospectionOfABlockedConnectionsTokensAnswersInactive(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		s := e.signIn(t, "openid email")
		for name, tok := range map[string]string{"access": s.resp.AccessToken, "refresh": s.resp.RefreshToken} {
			if in := e.introspected(t, s, tok); !in.Active {
				t.Fatalf("the %s token before the block: %+v, want active", name, in)
			}
		}
		e.block(t, s.id)
		for name, tok := range map[string]string{"access": s.resp.AccessToken, "refresh": s.resp.RefreshToken} {
			if in := e.introspected(t, s, tok); in.Active {
				t.Errorf("the %s token of a blocked connection introspects as %+v, want inactive", name, in)
			}
		}
	})
}

// TestIntrospectionOfARotatedRefreshTokenAnswersInactive: a refresh token spent by a
// rotation introspects as inactive, within the grace window and after it, while its
// successor is active: a client cannot take the spent token for a live one.
func TestIntrospectionOfARotatedRefreshTokenAnswersInactive(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{RefreshGrace: 5 * time.Second}, func(t *testing.T, e *flowEnv) {
		s := e.signIn(t, "openid email")
		live := e.rotated(t, s, 1)
		if in := e.introspected(t, s, s.resp.RefreshToken); in.Active {
			t.Errorf("the rotated refresh token within the grace window introspects as %+v, want inactive", in)
		}
		twice := e.rotated(t, signedIn{s.id, s.secret, &oauth.TokenResponse{RefreshToken: live}}, 1)
		e.clock.Advance(10 * time.Second)
		for name, tok := range map[string]string{"first": s.resp.RefreshToken, "second": live} {
			if in := e.introspected(t, s, tok); in.Active {
				t.Errorf("the %s rotated refresh token introspects as %+v, want inactive", name, in)
			}
		}
		if in := e.introspected(t, s, twice); !in.Active {
			t.Fatalf("the live refresh token: %+v, want active", in)
		}
	})
}

// TestIntrospectionOfARevokedRefreshTokenAnswersInactive: a refresh token its client revoked
// (RFC 7009) introspects as inactive.
func TestIntrospectionOfARevokedRefreshTokenAnswersInactive(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		s := e.signIn(t, "openid email")
		if err := e.svc.Revoke(e.ctx(), oauth.ClientCredentials{ID: s.id, Secret: s.secret}, url.Values{"token": {s.resp.RefreshToken}}); err != nil {
			t.Fatal(err)
		}
		if in := e.introspected(t, s, s.resp.RefreshToken); in.Active {
			t.Fatalf("a revoked refresh token introspects as %+v, want inactive", in)
		}
	})
}

// TestIntrospectionOfAnExpiredRefreshTokenAnswersInactive: past the sign-in's absolute
// expiry (RefreshTokenTTL) its live refresh token introspects as inactive.
func TestIntrospectionOfAnExpiredRefreshTokenAnswersInactive(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{RefreshTokenTTL: time.Hour}, func(t *testing.T, e *flowEnv) {
		s := e.signIn(t, "openid email")
		e.advance(t, time.Hour-time.Second)
		if in := e.introspected(t, s, s.resp.RefreshToken); !in.Active {
			t.Fatalf("the refresh token a second before its expiry: %+v, want active", in)
		}
		e.advance(t, time.Second)
		if in := e.introspected(t, s, s.resp.RefreshToken); in.Active {
			t.Fatalf("the refresh token at its expiry introspects as %+v, want inactive", in)
		}
	})
}

// TestAClientCredentialsTokenEndsWithTheSecretItWasIssuedUnder: once the client secret is
// rotated, the client_credentials token issued under the old one is refused by the app API
// (invalid_token) and introspects as inactive, even to the client authenticated with its
// new secret; a token issued under the new secret works.
func TestAClientCredentialsTokenEndsWithTheSecretItWasIssuedUnder(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		app, oldSecret := e.client(t, "https://rp.example/cb")
		cc := url.Values{"grant_type": {"client_credentials"}}
		old, err := e.token(app.ID, oldSecret, cc)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.svc.AppAccessToken(e.ctx(), old.AccessToken, app.ID, oauth.ScopeAppUsersRead); err != nil {
			t.Fatalf("the token before the rotation: %v", err)
		}
		newSecret := ids.Secret("lss_")
		if err := e.db.Application.UpdateOneID(app.ID).SetSecretHash(ids.Hash(newSecret)).Exec(context.Background()); err != nil {
			t.Fatal(err)
		}
		err = e.svc.AppAccessToken(e.ctx(), old.AccessToken, app.ID, oauth.ScopeAppUsersRead)
		if err == nil {
			t.Fatal("the app API accepted a token issued under the rotated secret")
		}
		wantOAuthError(t, err, oauth.InvalidToken)
		s := signedIn{app.ID, newSecret, nil}
		if in := e.introspected(t, s, old.AccessToken); in.Active {
			t.Fatalf("a token issued under the rotated secret introspects as %+v, want inactive", in)
		}
		fresh, err := e.token(app.ID, newSecret, cc)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.svc.AppAccessToken(e.ctx(), fresh.AccessToken, app.ID, oauth.ScopeAppUsersRead); err != nil {
			t.Fatalf("a token issued under the new secret: %v", err)
		}
		if in := e.introspected(t, s, fresh.AccessToken); !in.Active {
			t.Fatalf("a token issued under the new secret introspects as %+v, want active", in)
		}
	})
}
