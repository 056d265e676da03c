package server

import (
	"net/http"
	"testing"

	"golang.org/x/oauth2"
)

// What an app keeps seeing once the person closes their account: nothing. The app was given
// the picture URL, an access token and a refresh token while the person was connected with the
// profile scope; after the closing the userinfo answers 401, the refresh token is refused and the
// picture URL answers 404.
func TestAfterTheAccountIsClosedTheAppSeesNeitherProfileNorPicture(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		ctx := e.ctx()
		b := e.browser()
		b.signInTo("closer@example.com")
		st, body := b.putPicture(testPNG(t, 64, 64), "image/png", false)
		pic, _ := body["pictureUrl"].(string)
		if st != http.StatusOK || pic == "" {
			t.Fatalf("upload: %d %v", st, body)
		}
		conf := e.config(e.app, rpCallback, "openid", "profile")
		verifier := oauth2.GenerateVerifier()
		p := b.get(conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)))
		if p.StatusCode == 200 {
			p = b.consent(p, "allow", "alias")
		}
		tok, err := conf.Exchange(ctx, callback(t, p).Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		if st, info, _ := e.apiUser(tok.AccessToken); st != 200 || info["picture"] != pic {
			t.Fatalf("userinfo before the closing: %d %v (picture %s)", st, info, pic)
		}
		gid := b.viewer()
		b.gql(`mutation($g: String!, $c: String) { closeAccount(input: {confirmGlobalId: $g, code: $c}) { endedConnections } }`, map[string]any{"g": gid, "c": b.changeCode()})

		if st, info, _ := e.apiUser(tok.AccessToken); st != http.StatusUnauthorized {
			t.Errorf("userinfo after the closing: %d %v, want 401", st, info)
		}
		if _, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil {
			t.Errorf("the refresh token still works after the closing")
		}
		resp, err := http.Get(pic)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("the picture URL the app was given answers %d after the closing, want 404", resp.StatusCode)
		}
		if n := e.srv.db.ProfilePicture.Query().CountX(ctx); n != 0 {
			t.Errorf("%d pictures kept after the closing", n)
		}
	})
}
