package oauth_test

import (
	"net/url"
	"testing"
	"time"

	"loginsign/internal/oauth"
)

// TestARevokedAccessTokenStaysRevokedThroughARetryOfItsRotation: an access token a rotation
// answered and the client then revoked (RFC 7009) does not come back when the spent refresh
// token is presented again within the grace window: the retry restores a token only where
// its answer was lost, and this one was answered. The family's live refresh token still
// rotates: revoking an access token ends that token alone.
func TestARevokedAccessTokenStaysRevokedThroughARetryOfItsRotation(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{RefreshGrace: time.Minute}, func(t *testing.T, e *flowEnv) {
		s := e.signIn(t, "openid email")
		creds := oauth.ClientCredentials{ID: s.id, Secret: s.secret}
		next, err := e.token(s.id, s.secret, refreshForm(s.resp.RefreshToken))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.svc.Revoke(e.ctx(), creds, url.Values{"token": {next.AccessToken}}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.AccessToken(e.ctx(), next.AccessToken); err == nil {
			t.Fatal("the revoked access token still works")
		}

		resp, err := e.token(s.id, s.secret, refreshForm(s.resp.RefreshToken))
		if err == nil {
			t.Errorf("the retry after the revocation was answered: %+v", resp)
		} else {
			wantOAuthError(t, err, oauth.InvalidGrant)
		}
		if _, err := e.svc.AccessToken(e.ctx(), next.AccessToken); err == nil {
			t.Fatal("the retry within the grace window revived the revoked access token")
		}
		if in, err := e.svc.Introspect(e.ctx(), creds, url.Values{"token": {next.AccessToken}}); err != nil || in.Active {
			t.Fatalf("introspection of the revoked access token after the retry: %+v, %v", in, err)
		}

		after, err := e.token(s.id, s.secret, refreshForm(next.RefreshToken))
		if err != nil {
			t.Fatalf("the live refresh token after the access token's revocation: %v", err)
		}
		if _, err := e.svc.AccessToken(e.ctx(), after.AccessToken); err != nil {
			t.Fatalf("the next rotation's access token: %v", err)
		}
	})
}

// TestASpentTokenWhoseAccessTokenWasRevokedStillRevokesTheFamilyAfterGrace: the revoked
// access token's tombstone does not stop reuse detection: past the grace window the spent
// refresh token revokes the family, its live refresh token included.
func TestASpentTokenWhoseAccessTokenWasRevokedStillRevokesTheFamilyAfterGrace(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{RefreshGrace: 5 * time.Second}, func(t *testing.T, e *flowEnv) {
		s := e.signIn(t, "openid email")
		creds := oauth.ClientCredentials{ID: s.id, Secret: s.secret}
		next, err := e.token(s.id, s.secret, refreshForm(s.resp.RefreshToken))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.svc.Revoke(e.ctx(), creds, url.Values{"token": {next.AccessToken}}); err != nil {
			t.Fatal(err)
		}
		e.advance(t, 10*time.Second)
		if resp, err := e.token(s.id, s.secret, refreshForm(s.resp.RefreshToken)); err == nil {
			t.Fatalf("the spent refresh token was answered after the grace window: %+v", resp)
		}
		if resp, err := e.token(s.id, s.secret, refreshForm(next.RefreshToken)); err == nil {
			t.Fatalf("the family's live refresh token still rotates after the reuse: %+v", resp)
		}
	})
}
