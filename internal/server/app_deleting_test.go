package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"loginsign/ent"
	"loginsign/internal/auth"
	"loginsign/internal/oauth"
	"loginsign/internal/portal"
	"loginsign/internal/store"
)

// TestAnApplicationStopsWhenItsDeletionBegins: from the moment its developer deletes it, an
// application authenticates nowhere and signs nobody in, even when the deletion fails before
// its connections have all ended (a deadline, a lost database connection; a million
// connections take a quarter of an hour): its secret gets no token, its refresh tokens and
// client token are refused, its people's access tokens read nothing (/api/user, their
// licenses), an authorization request or a pushed one is an unknown client, and a sign-in begun before
// does not end with a code. Before, it went on working while the
// deletion ran, and for good after a failure. The same deletion again finishes it.
func TestAnApplicationStopsWhenItsDeletionBegins(t *testing.T) {
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		b := e.browser()
		tok := e.connect(b, e.app, defaultTestEmail)
		clientToken := e.clientToken(e.app)
		verifier := oauth2.GenerateVerifier()
		pushed := e.pushRequest(t, e.app, url.Values{"response_type": {"code"}, "redirect_uri": {rpCallback}, "scope": {"openid"},
			"state": {"s"}, "code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"}})
		// Another person is at the sign-in page of the application when the deletion begins.
		waiting := e.browser()
		signInPage := waiting.get(e.config(e.app, rpCallback).AuthCodeURL("w", oauth2.S256ChallengeOption(verifier)))

		var failing atomic.Bool
		e.srv.db.AppConnection.Use(func(next ent.Mutator) ent.Mutator {
			return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
				if m.Op().Is(ent.OpDeleteOne) && failing.Load() {
					return nil, errors.New("database connection lost (injected)")
				}
				return next.Mutate(ctx, m)
			})
		})
		ctx := context.Background()
		u, _, err := e.srv.identity.EnsureUser(ctx, "dev@example.com")
		if err != nil {
			t.Fatal(err)
		}
		dev := auth.WithSession(ctx, auth.Session{UserID: u.ID, SignedInAt: time.Now()})
		failing.Store(true)
		if err := e.srv.portal.DeleteApplication(dev, e.app.ID); err == nil {
			t.Fatal("the deletion reported success, though the connection could not end")
		}

		if st, body, _ := e.tokenRequest(e.app, url.Values{"grant_type": {"client_credentials"}}); st != http.StatusUnauthorized || body["error"] != oauth.InvalidClient {
			t.Errorf("client_credentials of the application being deleted: %d %v, want 401 invalid_client", st, body)
		}
		if st, body, _ := e.tokenRequest(e.app, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}); st != http.StatusUnauthorized || body["error"] != oauth.InvalidClient {
			t.Errorf("a refresh at the application being deleted: %d %v, want 401 invalid_client", st, body)
		}
		if st, body, _ := e.apiUser(tok.AccessToken); st != http.StatusUnauthorized || !strings.Contains(fmt.Sprint(body), "being deleted") {
			t.Errorf("GET /api/user with a person's access token to the application being deleted: %d %v, want 401", st, body)
		}
		req, _ := http.NewRequest(http.MethodGet, e.base+"/api/user/licenses/subscriptions", nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		if resp, err := http.DefaultClient.Do(req); err != nil {
			t.Fatal(err)
		} else if resp.Body.Close(); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("the person's licenses with their access token to the application being deleted: %d, want 401", resp.StatusCode)
		}
		if st, body, _ := e.appAPI(http.MethodGet, "/api/applications/"+e.app.ID+"/users", clientToken, ""); st != http.StatusUnauthorized {
			t.Errorf("the app API with the client token of the application being deleted: %d %s, want 401", st, body)
		}
		wantShownError(t, "an authorization request", b.get(e.authorizeURL(validQuery(e))), oauth.InvalidRequest)
		wantShownError(t, "a pushed authorization request", b.get(e.pushedURL(e.app.ID, pushed, nil)), oauth.InvalidRequest)
		p := waiting.post(e.base+"/login", url.Values{"email": {"bob@example.com"}, "flow": {signInPage.hidden(t, "flow")}})
		if p.StatusCode == 200 && strings.Contains(p.Body, "Check your email") {
			confirm := waiting.get(e.magicLink("bob@example.com"))
			p = waiting.post(e.base+"/login/magic", url.Values{"token": {confirm.hidden(t, "token")}})
			if p.StatusCode == 200 && strings.Contains(p.Body, `value="allow"`) {
				p = waiting.consent(p, "allow", "")
			}
		}
		if loc := p.Header.Get("Location"); strings.Contains(loc, "code=") || p.StatusCode < 400 {
			t.Errorf("a sign-in begun before the deletion: %d, Location %q, want an error and no code:\n%s", p.StatusCode, loc, p.Body)
		}

		failing.Store(false)
		if err := e.srv.portal.DeleteApplication(dev, e.app.ID); err != nil {
			t.Fatalf("deleting again: %v", err)
		}
		if _, err := e.srv.db.Application.Get(ctx, e.app.ID); !store.NotFound(err) {
			t.Fatalf("the application after the deletion finished: %v, want it gone", err)
		}
	})
}

// TestAnApplicationThatRequiresPushedRequestsTakesNoOther: an application set to require
// pushed authorization requests (RFC 9126 §6) gets invalid_request, at its registered redirect
// URI, for a request whose parameters come in the browser's URL, and a code for a pushed one;
// set back, it takes both again.
func TestAnApplicationThatRequiresPushedRequestsTakesNoOther(t *testing.T) {
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		b := e.browser()
		e.connect(b, e.app, defaultTestEmail, "openid", "email")
		required, notRequired := true, false
		e.updateApp(e.app, portal.ApplicationPatch{RequirePushedAuthorizationRequests: &required})

		q := callback(t, b.get(e.authorizeURL(validQuery(e))))
		if q.Get("error") != oauth.InvalidRequest || !strings.Contains(q.Get("error_description"), "/oauth/par") || q.Get("state") != "xyz" || q.Has("code") {
			t.Errorf("a request in the URL to an application that requires pushed ones: callback %v, want invalid_request naming /oauth/par", q)
		}
		verifier := oauth2.GenerateVerifier()
		uri := e.pushRequest(t, e.app, url.Values{"response_type": {"code"}, "redirect_uri": {rpCallback}, "scope": {"openid email"},
			"state": {"pushed"}, "code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"}})
		q = callback(t, b.get(e.pushedURL(e.app.ID, uri, nil)))
		if q.Get("code") == "" || q.Get("state") != "pushed" {
			t.Fatalf("a pushed request: callback %v, want a code", q)
		}
		if _, err := e.config(e.app, rpCallback).Exchange(e.ctx(), q.Get("code"), oauth2.VerifierOption(verifier)); err != nil {
			t.Errorf("exchanging the pushed request's code: %v", err)
		}

		e.updateApp(e.app, portal.ApplicationPatch{RequirePushedAuthorizationRequests: &notRequired})
		if q := callback(t, b.get(e.authorizeURL(with(with(validQuery(e), "code_challenge", oauth2.S256ChallengeFromVerifier(verifier)), "code_challenge_method", "S256")))); q.Get("code") == "" {
			t.Errorf("a request in the URL once the requirement is off: callback %v, want a code", q)
		}
	})
}
