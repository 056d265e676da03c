package oauth_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"loginsign/ent/appconnection"
	"loginsign/internal/oauth"
)

// TestACodeForARedirectTheDeveloperRemovedGetsNoTokens: a code issued for a redirect URI that
// the developer unregisters before the exchange is refused (invalid_grant), even though the
// redirect_uri sent matches the authorization request's.
func TestACodeForARedirectTheDeveloperRemovedGetsNoTokens(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		const cb = "https://rp.example/cb"
		app, secret := e.client(t, cb, "https://rp.example/other")
		code := e.code(t, e.person(t), authzQuery(app.ID, cb, "", "scope", "openid email"))
		if _, err := e.db.Application.UpdateOneID(app.ID).SetRedirectUris([]string{"https://rp.example/other"}).
			Save(context.Background()); err != nil {
			t.Fatal(err)
		}
		resp, err := e.token(app.ID, secret, codeForm(code, cb, ""))
		if err == nil {
			t.Fatalf("tokens issued for an unregistered redirect: %+v", resp)
		}
		wantOAuthError(t, err, oauth.InvalidGrant)
	})
}

// TestARefreshCannotAskForAScopeTheSignInDidNotGrant: a refresh asking for a known scope the
// person never granted (email, after a sign-in for openid profile) answers invalid_scope and
// issues nothing (RFC 6749 §6): an app cannot widen what it sees by refreshing.
func TestARefreshCannotAskForAScopeTheSignInDidNotGrant(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		s := e.signIn(t, "openid profile")
		for _, scope := range []string{"email", "openid email", "openid profile email"} {
			resp, err := e.token(s.id, s.secret, refreshForm(s.resp.RefreshToken, "scope", scope))
			if err == nil {
				t.Fatalf("scope %q: tokens of scope %q issued", scope, resp.Scope)
			}
			wantOAuthError(t, err, oauth.InvalidScope)
		}
		// Refused before it was spent: the token still rotates, to its granted scope.
		next, err := e.token(s.id, s.secret, refreshForm(s.resp.RefreshToken))
		if err != nil || next.Scope != "openid profile" {
			t.Fatalf("rotation after the refusals: %+v, %v", next, err)
		}
	})
}

// TestARetryWithinGraceAfterTheFamilyExpiredGetsNothing: the grace window repeats a lost
// rotation only while the sign-in's absolute expiry has not passed; a retry after it answers
// invalid_grant.
func TestARetryWithinGraceAfterTheFamilyExpiredGetsNothing(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{RefreshTokenTTL: time.Hour, RefreshGrace: 10 * time.Second}, func(t *testing.T, e *flowEnv) {
		s := e.signIn(t, "openid email")
		e.advance(t, time.Hour-2*time.Second)
		if _, err := e.token(s.id, s.secret, refreshForm(s.resp.RefreshToken)); err != nil {
			t.Fatalf("rotation before the expiry: %v", err)
		}
		e.advance(t, 4*time.Second) // past the family's expiry, within the grace window
		resp, err := e.token(s.id, s.secret, refreshForm(s.resp.RefreshToken))
		if err == nil {
			t.Fatalf("a retry after the family expired was answered: %+v", resp)
		}
		if oe := wantOAuthError(t, err, oauth.InvalidGrant); !strings.Contains(oe.Description, "expired") {
			t.Fatalf("retry answered %q, want the expiry", oe.Description)
		}
	})
}

// TestARetryWithinGraceOfABlockedConnectionGetsNothing: once the connection is blocked, a
// retry of a rotation within the grace window answers invalid_grant instead of the pair.
func TestARetryWithinGraceOfABlockedConnectionGetsNothing(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{RefreshGrace: time.Minute}, func(t *testing.T, e *flowEnv) {
		s := e.signIn(t, "openid email")
		if _, err := e.token(s.id, s.secret, refreshForm(s.resp.RefreshToken)); err != nil {
			t.Fatal(err)
		}
		if _, err := e.db.AppConnection.Update().Where(appconnection.ApplicationID(s.id)).SetBlocked(true).
			Save(context.Background()); err != nil {
			t.Fatal(err)
		}
		resp, err := e.token(s.id, s.secret, refreshForm(s.resp.RefreshToken))
		if err == nil {
			t.Fatalf("a retry for a blocked connection was answered: %+v", resp)
		}
		if oe := wantOAuthError(t, err, oauth.InvalidGrant); !strings.Contains(oe.Description, "blocked") {
			t.Fatalf("retry answered %q, want the block", oe.Description)
		}
	})
}

// TestUserInfoWithoutTheEmailScopeShowsNoAddress: GET /api/user's domain operation gives an
// app the person's address only when the email scope was granted; a sign-in for openid
// profile sees the profile and no email.
func TestUserInfoWithoutTheEmailScopeShowsNoAddress(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		s := e.signIn(t, "openid profile")
		u, err := e.svc.UserInfo(e.ctx(), s.resp.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		if u.Email != "" || !u.Profile {
			t.Fatalf("userinfo of an openid profile token: %+v, want a profile and no email", u)
		}
	})
}
