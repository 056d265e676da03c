package server

import (
	"net/http"
	"net/url"
	"testing"

	"golang.org/x/oauth2"
)

// TestACodeReplayThatCouldNotRedeemItRevokesNothing: a spent authorization code presented
// again revokes what it issued (RFC 6749 §4.1.2) only when the replay could have redeemed it:
// the right redirect_uri and code_verifier. Attack: whoever saw the spent code (a native
// app's redirect, which another app on the device may claim, or a log) and holds the client's
// credentials (a native app's ship inside it) replays it without the verifier. Before, that
// revoked the person's sign-in to the app, as often as the attacker liked; it still gets
// invalid_grant, and the client's own replay (which has the verifier) still revokes.
func TestACodeReplayThatCouldNotRedeemItRevokesNothing(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	b := e.browser()
	code, verifier := e.authorizeCode(b, defaultTestEmail)
	tok, err := e.config(e.app, rpCallback).Exchange(e.ctx(), code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("the client's exchange: %v", err)
	}
	replay := func(redirect, verifier string) {
		t.Helper()
		f := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}}
		if verifier != "" {
			f.Set("code_verifier", verifier)
		}
		st, body, hdr := e.tokenRequest(e.app, f)
		wantOAuthError(t, st, body, hdr, http.StatusBadRequest, "invalid_grant")
	}
	for _, tt := range []struct{ name, redirect, verifier string }{
		{"no verifier", rpCallback, ""},
		{"another verifier", rpCallback, oauth2.GenerateVerifier()},
		{"another redirect_uri", rpLoopback, verifier},
	} {
		replay(tt.redirect, tt.verifier)
		if st, body, _ := e.apiUser(tok.AccessToken); st != http.StatusOK {
			t.Fatalf("after a replay with %s: the access token answers %d %v, want 200", tt.name, st, body)
		}
	}
	// The replay that could have redeemed it (the client's own, after a thief's) revokes.
	replay(rpCallback, verifier)
	if st, _, _ := e.apiUser(tok.AccessToken); st != http.StatusUnauthorized {
		t.Fatalf("after the replay with the verifier: %d, want 401", st)
	}
	st, body, hdr := e.tokenRequest(e.app, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}})
	wantOAuthError(t, st, body, hdr, http.StatusBadRequest, "invalid_grant")
}

// TestARequestThatCannotRedeemACodeDoesNotSpendIt: an exchange of the client's code with
// another redirect_uri or without the right code_verifier is refused without spending the
// code. Attack: an app on the device that claims a native app's redirect scheme intercepts the
// code and, with the credentials shipped inside the app, presents it first, without the
// verifier. Before, that spent the code: the app's own exchange was then a replay, refused,
// and the person could not sign in to the app while the attacker kept doing it.
func TestARequestThatCannotRedeemACodeDoesNotSpendIt(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	b := e.browser()
	code, verifier := e.authorizeCode(b, defaultTestEmail)
	for _, f := range []url.Values{
		{"redirect_uri": {rpCallback}},
		{"redirect_uri": {rpCallback}, "code_verifier": {oauth2.GenerateVerifier()}},
		{"redirect_uri": {rpLoopback}, "code_verifier": {verifier}},
	} {
		f.Set("grant_type", "authorization_code")
		f.Set("code", code)
		st, body, hdr := e.tokenRequest(e.app, f)
		wantOAuthError(t, st, body, hdr, http.StatusBadRequest, "invalid_grant")
	}
	tok, err := e.config(e.app, rpCallback).Exchange(e.ctx(), code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("the client's exchange after refused attempts: %v", err)
	}
	if st, body, _ := e.apiUser(tok.AccessToken); st != http.StatusOK {
		t.Fatalf("the access token: %d %v", st, body)
	}
}
