package oauth_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"loginsign/internal/oauth"
)

// TestALogoutRequestIsCheckedAgainstTheClientItNames: the end-session endpoint (RP-Initiated
// Logout 1.0 §2, §3) takes an id_token_hint only when LoginSign signed it for this issuer
// with one subject and one audience, a client_id only when it agrees with the hint's
// audience, and a post_logout_redirect_uri only when that client registered it exactly;
// state comes back on the redirect. Everything else is an invalid_request shown to the
// person, never a redirect.
func TestALogoutRequestIsCheckedAgainstTheClientItNames(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		const bye = "https://rp.example/bye"
		ctx := context.Background()
		s := e.signIn(t, "openid")
		other := e.signIn(t, "openid")
		for _, id := range []string{s.id, other.id} {
			if err := e.db.Application.UpdateOneID(id).SetPostLogoutRedirectUris([]string{bye}).Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}
		app, err := e.db.Application.Get(ctx, s.id)
		if err != nil {
			t.Fatal(err)
		}
		sign := func(claims map[string]any) string {
			t.Helper()
			tok, err := e.svc.Keys.Sign(ctx, app.IDTokenSigningAlg, claims)
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}
		iss := e.svc.Config.Issuer
		appID := func(r *oauth.LogoutRequest) string {
			if r.Application == nil {
				return "none"
			}
			return r.Application.ID
		}
		for _, c := range []struct {
			name string
			q    url.Values
			// refused is a word of the error's description; "" for an accepted request.
			refused string
			// redirect is the accepted request's RedirectURI.
			redirect string
		}{
			{"the hint alone", url.Values{"id_token_hint": {s.resp.IDToken}}, "", ""},
			{"the hint, its client and a registered redirect with state",
				url.Values{"id_token_hint": {s.resp.IDToken}, "client_id": {s.id}, "post_logout_redirect_uri": {bye}, "state": {"st-9"}},
				"", bye + "?state=st-9"},
			{"a client_id and a registered redirect without state",
				url.Values{"client_id": {s.id}, "post_logout_redirect_uri": {bye}}, "", bye},
			{"the hint of another client", url.Values{"id_token_hint": {other.resp.IDToken}, "client_id": {s.id}}, "client_id", ""},
			{"an unknown client", url.Values{"client_id": {"app_unknown"}}, "unknown", ""},
			{"a redirect without a client", url.Values{"post_logout_redirect_uri": {bye}}, "needs", ""},
			{"a redirect the client did not register",
				url.Values{"client_id": {s.id}, "post_logout_redirect_uri": {"https://evil.example/bye"}}, "not registered", ""},
			{"a registered redirect with another path",
				url.Values{"client_id": {s.id}, "post_logout_redirect_uri": {bye + "/more"}}, "not registered", ""},
			{"a hint of another issuer",
				url.Values{"id_token_hint": {sign(map[string]any{"iss": "https://evil.example", "sub": "con_x", "aud": s.id})}}, "id_token_hint", ""},
			{"a hint without a subject",
				url.Values{"id_token_hint": {sign(map[string]any{"iss": iss, "aud": s.id})}}, "id_token_hint", ""},
			{"a hint of two audiences",
				url.Values{"id_token_hint": {sign(map[string]any{"iss": iss, "sub": "con_x", "aud": []string{s.id, other.id}})}}, "id_token_hint", ""},
			{"a hint signed by no key of LoginSign", url.Values{"id_token_hint": {"eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."}}, "id_token_hint", ""},
		} {
			req, err := e.svc.ParseLogout(ctx, c.q)
			if c.refused == "" {
				if err != nil {
					t.Errorf("%s: refused: %v", c.name, err)
				} else if req.RedirectURI != c.redirect || appID(req) != s.id {
					t.Errorf("%s: redirect %q to %s, want %q to %s", c.name, req.RedirectURI, appID(req), c.redirect, s.id)
				}
				continue
			}
			if err == nil {
				t.Errorf("%s: accepted, redirect %q, application %s, hint %q; want an invalid_request naming %q",
					c.name, req.RedirectURI, appID(req), req.HintConnectionID, c.refused)
				continue
			}
			if oe := oauth.AsError(err); oe.Code != oauth.InvalidRequest || oe.Redirect || !strings.Contains(oe.Description, c.refused) {
				t.Errorf("%s: %v (redirect %v), want a shown invalid_request naming %q", c.name, err, oe.Redirect, c.refused)
			}
		}
	})
}
