package server

// What a review against RFC 9700 (OAuth 2.0 Security Best Current Practice) found and this
// suite keeps closed: native apps without PKCE, a 302 after a POST, a registered query lost
// on the way back, and the healthcheck naming a client's other redirect URIs to anyone.

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"loginsign/internal/auth"
	"loginsign/internal/portal"
)

// developerApp registers an application the way a developer with a free account does (the
// portal's CreateApplication, with all its checks), owned by dev@example.com.
func developerApp(t *testing.T, e *oauthEnv, name string, redirects []string) testApp {
	t.Helper()
	ctx := context.Background()
	u, _, err := e.srv.identity.EnsureUser(ctx, "dev@example.com")
	if err != nil {
		t.Fatal(err)
	}
	created, err := e.srv.portal.CreateApplication(auth.WithSession(ctx, auth.Session{UserID: u.ID, SignedInAt: time.Now()}),
		portal.ApplicationInput{Name: name, RedirectURIs: redirects})
	if err != nil {
		t.Fatalf("registering %v: %v", redirects, err)
	}
	return testApp{ID: created.Application.ID, Secret: created.ClientSecret, Redirects: redirects}
}

// stopAtRedirects is a browser that stops at every redirect.
func stopAtRedirects(e *oauthEnv) *browser {
	b := e.browser()
	b.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return b
}

// A native app's redirect URI of a private-use scheme (RFC 8252 §7.1) gets a code only with
// PKCE: its client secret ships inside the app and any app on the device may claim the
// scheme, so the challenge is what keeps the code to the app that asked (RFC 8252 §8.1,
// RFC 9700 §2.1.1). With one, the flow works as for any app.
func TestANativeAppsPrivateUseRedirectNeedsPKCE(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	const native = "com.example.notes:/oauth/cb"
	app := developerApp(t, e, "Notes Native", []string{native})
	b := e.browser()
	b.signInTo("pat@example.com")
	b.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	p := b.get(e.config(app, native).AuthCodeURL("st"))
	loc, _ := url.Parse(p.Header.Get("Location"))
	if loc == nil || !strings.HasPrefix(loc.String(), native+"?") || loc.Query().Get("error") != "invalid_request" ||
		loc.Query().Get("code") != "" || loc.Query().Get("state") != "st" {
		t.Fatalf("authorize without code_challenge for %s: %d %s, want a redirect with error=invalid_request", native, p.StatusCode, p.Header.Get("Location"))
	}

	verifier := oauth2.GenerateVerifier()
	p = b.get(e.config(app, native).AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)))
	if p.StatusCode == 200 && strings.Contains(p.Body, `value="allow"`) {
		p = b.consent(p, "allow", "")
	}
	loc, _ = url.Parse(p.Header.Get("Location"))
	if loc == nil || loc.Query().Get("code") == "" {
		t.Fatalf("authorize with PKCE for %s: %d %s, want a code", native, p.StatusCode, p.Header.Get("Location"))
	}
	status, body, _ := e.tokenRequest(app, url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")},
		"redirect_uri": {native}, "code_verifier": {verifier}})
	if status != 200 || body["access_token"] == nil {
		t.Fatalf("exchange with the verifier: %d %v", status, body)
	}
}

// An authorization request POSTed from the client's own form that has an error goes back
// with 303, as every answer to a POST does (RFC 9700 §4.12: a 307 would send the form on to
// the client; DESIGN's "303 after POST").
func TestAnAuthorizationPOSTsErrorRedirectIs303(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	b := stopAtRedirects(e)
	form := validQuery(e)
	form.Set("scope", "openid nosuchscope")
	for _, site := range []string{"", "same-site", "none"} {
		req, _ := http.NewRequest(http.MethodPost, e.base+"/oauth/authorize", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if site != "" {
			req.Header.Set("Sec-Fetch-Site", site)
		}
		resp, err := b.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusSeeOther || loc == nil || loc.Query().Get("error") != "invalid_scope" {
			t.Errorf("POST /oauth/authorize (Sec-Fetch-Site %q) with an unknown scope: %d %s, want 303 with error=invalid_scope",
				site, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
}

// The registered redirect URI's query is retained byte for byte when the answer is added
// (RFC 6749 §3.1.2), also a query Go's parser refuses (a ";" separator, a bad escape), which
// parsing and encoding it again dropped: the client was sent to a URI it never registered.
func TestTheRegisteredRedirectQueryIsKept(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	for _, reg := range []string{"https://app.example.test/cb?tenant=a;b", "https://app.example.test/cb?next=%zz", "https://app.example.test/cb?b=2&a=1"} {
		app := developerApp(t, e, "Query App", []string{reg})
		p := stopAtRedirects(e).get(e.base + "/oauth/authorize?" + url.Values{"client_id": {app.ID}, "redirect_uri": {reg},
			"response_type": {"code"}, "scope": {"bogus"}, "state": {"s"}}.Encode())
		loc := p.Header.Get("Location")
		if !strings.HasPrefix(loc, reg+"&") || !strings.Contains(loc, "error=invalid_scope") || !strings.Contains(loc, "state=s") {
			t.Errorf("registered %s: redirected to %q, want the registered URI with the answer appended", reg, loc)
		}
	}
}

// Anyone holding a client id (it is public) may ask whether a redirect URI is registered, and
// learns nothing of the URIs they did not send: the closest registered URI of a near guess
// named an application's staging and private-use callbacks, the raw material of redirect
// attacks (RFC 9700 §4.1). The team sees them (TestParityRedirectURICheck).
func TestTheHealthcheckNamesNoUnsentRedirectURIToStrangers(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	hidden := "https://staging-internal.app.example.test/oauth/cb"
	app := developerApp(t, e, "Hidden Callbacks", []string{"https://app.example.test/callback", hidden, "com.example.victim:/cb"})
	for _, guess := range []string{"https://staging.app.example.test/oauth/cb", "com.example:/"} {
		resp, err := http.Get(e.base + "/api/oauth/healthcheck?" + url.Values{"client_id": {app.ID}, "redirect_uri": {guess}}.Encode())
		if err != nil {
			t.Fatal(err)
		}
		var out map[string]any
		err = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || out["ok"] != false || out["clientFound"] != true {
			t.Fatalf("guess %q: %d %v %v", guess, resp.StatusCode, out, err)
		}
		b, _ := json.Marshal(out)
		if out["closestRedirectUri"] != nil || strings.Contains(string(b), "staging-internal") || strings.Contains(string(b), "victim") {
			t.Errorf("anonymous healthcheck of %q names a registered URI: %s", guess, b)
		}
	}
}
