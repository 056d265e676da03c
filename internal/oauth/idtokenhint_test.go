package oauth_test

import (
	"net/url"
	"testing"
	"time"

	"loginsign/internal/oauth"
)

// TestAnIDTokenHintAsksForThePersonItNames: an authorization request may name the person the
// client expects with an id_token it was given (OpenID Connect Core §3.1.2.1, id_token_hint).
// The person it names, signed in, gets a code; anyone else signed in is asked to sign in, and
// with prompt=none the client gets login_required instead of a code for whoever holds the
// browser; someone who signs in within the flow and is still not that person ends it with
// login_required. A hint LoginSign did not sign, or signed for another client, is
// invalid_request, sent back to the client.
func TestAnIDTokenHintAsksForThePersonItNames(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		const cb = "https://rp.example/cb"
		ctx := e.ctx()
		app, secret := e.client(t, cb)
		other, otherSecret := e.client(t, cb)
		x, y := e.person(t), e.person(t)
		issued := func(appID, appSecret string, userID string) string {
			t.Helper()
			code, err := e.svc.Approve(ctx, e.authorize(t, authzQuery(appID, cb, "")), userID, oauth.ShareAlias, e.clock.Now())
			if err != nil {
				t.Fatal(err)
			}
			resp, err := e.token(appID, appSecret, codeForm(code, cb, ""))
			if err != nil || resp.IDToken == "" {
				t.Fatalf("the id_token to hint with: %+v %v", resp, err)
			}
			return resp.IDToken
		}
		hintX := issued(app.ID, secret, x.ID)
		issued(app.ID, secret, y.ID) // y consented too: nothing but the hint stands between y and a code
		now := e.clock.Now()
		flow := func(prompt string) *oauth.Flow {
			t.Helper()
			q := authzQuery(app.ID, cb, "", "id_token_hint", hintX)
			if prompt != "" {
				q.Set("prompt", prompt)
			}
			return e.startFlow(t, q, "browser-1")
		}

		if n, err := e.svc.Continue(ctx, flow(oauth.PromptNone), x.ID, now); err != nil || redirectTo(n) == "" || redirectError(t, redirectTo(n)) != "" {
			t.Errorf("prompt=none, the hinted person signed in: %+v %v; want a code", n, err)
		}
		if n, err := e.svc.Continue(ctx, flow(oauth.PromptNone), y.ID, now); err != nil || redirectError(t, redirectTo(n)) != oauth.LoginRequired {
			t.Errorf("prompt=none, another person signed in: %+v %v; want login_required", n, err)
		}
		if n, err := e.svc.Continue(ctx, flow(""), y.ID, now); err != nil || !n.Login || redirectTo(n) != "" {
			t.Errorf("another person signed in: %+v %v; want the sign-in", n, err)
		}
		if n, err := e.svc.Decide(ctx, flow(""), y.ID, now, true, oauth.ShareAlias, ""); err != nil || !n.Login || redirectTo(n) != "" {
			t.Errorf("another person answering the consent page: %+v %v; want the sign-in", n, err)
		}
		signedInWithin := func(userID string) *oauth.Flow {
			f := flow("")
			f.LoginUserID, f.LoginAt = userID, now.Unix()
			return f
		}
		if n, err := e.svc.Continue(ctx, signedInWithin(x.ID), x.ID, now.Add(-time.Hour)); err != nil || redirectTo(n) == "" || redirectError(t, redirectTo(n)) != "" {
			t.Errorf("the hinted person signed in within the flow: %+v %v; want a code", n, err)
		}
		if n, err := e.svc.Continue(ctx, signedInWithin(y.ID), y.ID, now); err != nil || redirectError(t, redirectTo(n)) != oauth.LoginRequired {
			t.Errorf("another person signed in within the flow: %+v %v; want login_required", n, err)
		}
		if n, err := e.svc.Decide(ctx, signedInWithin(y.ID), y.ID, now, true, oauth.ShareAlias, ""); err != nil || redirectError(t, redirectTo(n)) != oauth.LoginRequired {
			t.Errorf("another person signed in within the flow, answering the consent page: %+v %v; want login_required", n, err)
		}

		logoutToken, err := e.svc.Keys.SignTyped(ctx, "ES256", "logout+jwt", map[string]any{"iss": e.svc.Config.Issuer,
			"sub": idTokenClaims(t, hintX)["sub"], "aud": []string{app.ID}, "iat": now.Unix()})
		if err != nil {
			t.Fatal(err)
		}
		for name, hint := range map[string]string{
			"a logout token of the same connection": logoutToken,
			"an id_token of another client":         issued(other.ID, otherSecret, x.ID),
			"not a JWT":                             "not-a-token",
			"a token signed by nobody":              "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
		} {
			req, _, err := e.svc.Authorize(ctx, authzQuery(app.ID, cb, "", "id_token_hint", hint))
			e := wantOAuthError(t, err, oauth.InvalidRequest)
			if !e.Redirect || req.State != "st-1" {
				t.Errorf("%s: %+v, want invalid_request sent back to the client", name, e)
			}
		}
		// An expired id_token still names its person (as at the end-session endpoint).
		e.advance(t, 2*time.Hour)
		if _, _, err := e.svc.Authorize(e.ctx(), url.Values{"client_id": {app.ID}, "redirect_uri": {cb}, "response_type": {"code"},
			"id_token_hint": {hintX}, "prompt": {"none"}}); err != nil {
			t.Errorf("an expired hint of the client's own: %v", err)
		}
	})
}
