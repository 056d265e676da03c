package server

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"loginsign/internal/oauth"
	"loginsign/internal/portal"
)

// TestAnApplicationBeingDeletedRedeemsNothingItHeld: what the application obtained before its
// deletion began buys nothing at the endpoints that authenticate it: a code issued before is
// not exchanged, its secret introspects and revokes no token (invalid_client, 401), and a
// healthcheck or widget lookup meets an unknown client. A person connected to it reads no
// deletingSince through their connection (it is a team field).
func TestAnApplicationBeingDeletedRedeemsNothingItHeld(t *testing.T) {
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		b := e.browser()
		tok := e.connect(b, e.app, defaultTestEmail)
		code, verifier := e.authorizeCode(b, defaultTestEmail)
		ctx := context.Background()
		e.srv.db.Application.UpdateOneID(e.app.ID).SetDeletingSince(time.Now()).ExecX(ctx)

		for _, tt := range []struct {
			what, path string
			form       url.Values
		}{
			{"a code issued before the deletion", "/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
				"redirect_uri": {rpCallback}, "code_verifier": {verifier}}},
			{"introspection of a person's access token", "/oauth/introspect", url.Values{"token": {tok.AccessToken}}},
			{"revocation of a person's refresh token", "/oauth/revoke", url.Values{"token": {tok.RefreshToken}}},
			{"a pushed authorization request", "/oauth/par", url.Values{"response_type": {"code"}, "redirect_uri": {rpCallback},
				"scope": {"openid"}, "code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"}}},
		} {
			if st, body, _ := e.postForm(tt.path, e.app, tt.form); st != http.StatusUnauthorized || body["error"] != oauth.InvalidClient {
				t.Errorf("%s (%s): %d %v, want 401 invalid_client", tt.what, tt.path, st, body)
			}
		}
		if code := b.gqlCode(`{ viewer { connections(first: 5) { edges { node { application { id deletingSince } } } } } }`, nil); code != "not_found" {
			t.Errorf("deletingSince through the person's connection: error code %q, want not_found", code)
		}
	})
}

// TestRequiredPushedRequestsHaveNoSideDoor: an application that requires pushed authorization
// requests (RFC 9126 §6) takes none in the browser's URL by any other way: not with
// prompt=none, not with a request_uri that is not one of ours (a URL, which RFC 9101 would
// fetch), and a request_uri pushed by another client is that client's, unknown here (shown,
// never redirected). Its own pushed request still signs the person in.
func TestRequiredPushedRequestsHaveNoSideDoor(t *testing.T) {
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		other := e.createApp("Other App", rpCallback)
		b := e.browser()
		e.connect(b, e.app, defaultTestEmail, "openid", "email")
		required := true
		e.updateApp(e.app, portal.ApplicationPatch{RequirePushedAuthorizationRequests: &required})
		verifier := oauth2.GenerateVerifier()
		pkce := func(q url.Values) url.Values {
			return with(with(q, "code_challenge", oauth2.S256ChallengeFromVerifier(verifier)), "code_challenge_method", "S256")
		}

		if got := callback(t, b.get(e.authorizeURL(with(pkce(validQuery(e)), "prompt", "none")))); got.Get("error") != oauth.InvalidRequest ||
			!strings.Contains(got.Get("error_description"), "/oauth/par") || got.Has("code") {
			t.Errorf("prompt=none to an application that requires pushed requests: callback %v, want invalid_request naming /oauth/par", got)
		}
		// A request_uri of another kind is refused before the requirement is looked at.
		if got := callback(t, b.get(e.authorizeURL(with(pkce(validQuery(e)), "request_uri", "https://attacker.example/request.jwt")))); got.Get("error") != oauth.RequestURINotSupported || got.Has("code") {
			t.Errorf("a request_uri that is not ours: callback %v, want request_uri_not_supported and no code", got)
		}
		othersURI := e.pushRequest(t, other, pkce(url.Values{"response_type": {"code"}, "redirect_uri": {rpCallback}, "scope": {"openid"}, "state": {"o"}}))
		wantShownError(t, "another client's request_uri", b.get(e.pushedURL(e.app.ID, othersURI, nil)), oauth.InvalidRequestURI)

		own := e.pushRequest(t, e.app, pkce(url.Values{"response_type": {"code"}, "redirect_uri": {rpCallback}, "scope": {"openid email"}, "state": {"own"}}))
		if got := callback(t, b.get(e.pushedURL(e.app.ID, own, url.Values{"prompt": {"none"}}))); got.Get("code") == "" || got.Get("state") != "own" {
			t.Errorf("its own pushed request: callback %v, want a code", got)
		}
	})
}

// TestTheQuickstartOfAnApplicationThatRequiresPushedRequestsPushesThem: the portal's quickstart
// (GraphQL Application.quickstart, "the one place the portal, GraphQL and the README's
// examples come from") is what a developer pastes to sign people in. Once the application
// requires pushed authorization requests, an authorization URL with the request's parameters
// and three programs that redirect with them are refused (invalid_request at the redirect
// URI): the quickstart must push the request (POST /oauth/par, then client_id and request_uri
// only). Today oauth.QuickstartFor does not know the setting (it takes the client id and
// redirect URIs only).
func TestTheQuickstartOfAnApplicationThatRequiresPushedRequestsPushesThem(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *portalEnv) {
		dev := e.person("dev@example.com", "Dana Developer", true)
		app := dev.createApp("Shop", false)
		e.srv.db.Application.UpdateOneID(app).SetRequirePushedAuthorizationRequests(true).ExecX(context.Background())
		got := dev.mustGQL(`query($id: ID!) { application(id: $id) { quickstart { authorizeUrl node python go } } }`,
			map[string]any{"id": app})["application"].(map[string]any)["quickstart"].(map[string]any)
		par := e.srv.oauth.Discovery().PushedAuthorizationRequestEndpoint
		for _, k := range []string{"authorizeUrl", "node", "python", "go"} {
			if v, _ := got[k].(string); !strings.Contains(v, par) && !strings.Contains(v, "request_uri") && !strings.Contains(v, "WithPAR") {
				t.Errorf("quickstart.%s of an application that requires pushed requests says nothing of pushing them (%s): it would be refused:\n%.300s", k, par, v)
			}
		}
	})
}

// TestTheLoginEmbedOfAnApplicationThatRequiresPushedRequestsOffersNoDeadEnd: the widgets end in
// the ordinary code flow with the request's parameters in the top window's URL (/embed/login's
// form and "Continue as" link, loginsign.js's authorizeURL), which an application that
// requires pushed authorization requests refuses (invalid_request at its redirect URI). The
// embed must then not offer that sign-in: either it says the application takes only pushed
// requests (an error page, as for an unknown client) or its link is one the application
// takes. Today it renders a "Continue as" link that ends in invalid_request.
func TestTheLoginEmbedOfAnApplicationThatRequiresPushedRequestsOffersNoDeadEnd(t *testing.T) {
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		b := e.browser()
		e.connect(b, e.app, defaultTestEmail, "openid", "email")
		required := true
		e.updateApp(e.app, portal.ApplicationPatch{RequirePushedAuthorizationRequests: &required})

		embed := b.get(e.base + "/embed/login?" + url.Values{"client_id": {e.app.ID}, "redirect_uri": {rpCallback}, "state": {"w"}}.Encode())
		if embed.StatusCode >= 400 {
			return // it says so instead of offering the sign-in
		}
		m := regexp.MustCompile(`href="(/oauth/authorize\?[^"]+)"`).FindStringSubmatch(embed.Body)
		if m == nil {
			t.Fatalf("the embed of a signed-in person has no Continue link:\n%s", embed.Body)
		}
		got := callback(t, b.get(e.base+html.UnescapeString(m[1])))
		if got.Has("error") {
			t.Errorf("the login embed of an application that requires pushed requests offers a sign-in it refuses: callback %v", got)
		}
	})
}
