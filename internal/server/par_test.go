package server

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"loginsign/internal/oauth"
)

// pushRequest pushes form as app's authorization request to /oauth/par and returns its
// request_uri, failing t unless the answer is 201 with a request_uri and expires_in 60.
func (e *oauthEnv) pushRequest(t *testing.T, app testApp, form url.Values) string {
	t.Helper()
	status, body, hdr := e.postForm("/oauth/par", app, form)
	uri, _ := body["request_uri"].(string)
	if status != http.StatusCreated || !strings.HasPrefix(uri, oauth.RequestURIPrefix) || body["expires_in"] != float64(60) {
		t.Fatalf("POST /oauth/par: %d %v, want 201 with a request_uri and expires_in 60", status, body)
	}
	if hdr.Get("Cache-Control") != "no-store" {
		t.Errorf("POST /oauth/par: Cache-Control %q, want no-store", hdr.Get("Cache-Control"))
	}
	return uri
}

// pushedURL is the authorization endpoint's URL for client and requestURI, with more.
func (e *oauthEnv) pushedURL(client, requestURI string, more url.Values) string {
	q := url.Values{"client_id": {client}, "request_uri": {requestURI}}
	for k, v := range more {
		q[k] = v
	}
	return e.authorizeURL(q)
}

// wantShownError checks that p is the error page of an OAuth error with code, not a redirect.
func wantShownError(t *testing.T, what string, p page, code string) {
	t.Helper()
	if p.StatusCode != http.StatusBadRequest || p.Header.Get("Location") != "" || !strings.Contains(p.Body, code) {
		t.Fatalf("%s: %d, Location %q, want the error page of %s:\n%s", what, p.StatusCode, p.Header.Get("Location"), code, p.Body)
	}
}

// TestPushedAuthorizationRequests: an authorization request pushed to /oauth/par (RFC 9126)
// is checked there as the authorization endpoint checks it and answered in JSON; its
// request_uri then stands for it at the authorization endpoint, once, for the client that
// pushed it only, and whatever else the browser's URL says: the code goes to the pushed
// redirect URI with the pushed state, and is bound to the pushed PKCE challenge.
func TestPushedAuthorizationRequests(t *testing.T) {
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		other := e.createApp("Other App", "https://other.example.test/cb")
		verifier := oauth2.GenerateVerifier()
		pushed := url.Values{"response_type": {"code"}, "redirect_uri": {rpCallback}, "scope": {"openid email"},
			"state": {"pushed-state"}, "nonce": {"pushed-nonce"}, "code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)},
			"code_challenge_method": {"S256"}}
		uri := e.pushRequest(t, e.app, pushed)

		b := e.browser()
		// What the browser's URL adds is not the request: another redirect URI, state, scope
		// and no PKCE.
		p := b.get(e.pushedURL(e.app.ID, uri, url.Values{"redirect_uri": {"https://evil.example.test/cb"},
			"state": {"browser-state"}, "scope": {"openid profile"}, "response_type": {"code"}}))
		p = b.consent(b.signIn(p, defaultTestEmail), "allow", "")
		q := callback(t, p)
		if loc := p.Header.Get("Location"); !strings.HasPrefix(loc, rpCallback+"?") || q.Get("state") != "pushed-state" || q.Get("code") == "" {
			t.Fatalf("callback %s, want the pushed redirect URI and state with a code", loc)
		}
		cfg := e.config(e.app, rpCallback)
		tok, err := cfg.Exchange(e.ctx(), q.Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("exchanging the code with the pushed verifier: %v", err)
		}
		if got, _ := tok.Extra("scope").(string); got != "openid email" {
			t.Errorf("granted scope %q, want the pushed openid email", got)
		}

		wantShownError(t, "the request_uri again", b.get(e.pushedURL(e.app.ID, uri, nil)), oauth.InvalidRequestURI)
		wantShownError(t, "an unknown request_uri", b.get(e.pushedURL(e.app.ID, oauth.RequestURIPrefix+"nope", nil)), oauth.InvalidRequestURI)
		second := e.pushRequest(t, e.app, pushed)
		wantShownError(t, "the request_uri with another client_id", b.get(e.pushedURL(other.ID, second, nil)), oauth.InvalidRequestURI)
		wantShownError(t, "the request_uri without client_id", b.get(e.base+"/oauth/authorize?"+url.Values{"request_uri": {second}}.Encode()),
			oauth.InvalidRequest)
		// Neither spent it: its own client still gets a code with it (consent is remembered).
		q = callback(t, b.get(e.pushedURL(e.app.ID, second, nil)))
		if q.Get("state") != "pushed-state" || q.Get("code") == "" {
			t.Fatalf("the request_uri tried with another client_id: callback %v, want a code", q)
		}
		if _, err := cfg.Exchange(e.ctx(), q.Get("code")); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
			t.Errorf("the code exchanged without the pushed PKCE verifier: %v, want invalid_grant", err)
		}
		// A request_uri the server did not issue is still refused as before.
		p = b.get(e.base + "/oauth/authorize?" + url.Values{"client_id": {e.app.ID}, "redirect_uri": {rpCallback},
			"response_type": {"code"}, "request_uri": {"https://app.example.test/request.jwt"}}.Encode())
		if q := callback(t, p); q.Get("error") != oauth.RequestURINotSupported {
			t.Errorf("a request_uri by reference: callback %v, want error %s", q, oauth.RequestURINotSupported)
		}

		// The endpoint's refusals are the token endpoint's JSON errors, and store nothing.
		for _, c := range []struct {
			name   string
			app    testApp
			form   url.Values
			status int
			code   string
		}{
			{"a wrong client secret", testApp{ID: e.app.ID, Secret: "wrong"}, pushed, http.StatusUnauthorized, oauth.InvalidClient},
			{"no client authentication", testApp{}, pushed, http.StatusUnauthorized, oauth.InvalidClient},
			{"an unregistered redirect URI", e.app, with(pushed, "redirect_uri", "https://evil.example.test/cb"), http.StatusBadRequest, oauth.InvalidRequest},
			{"another client's redirect URI", e.app, with(pushed, "redirect_uri", "https://other.example.test/cb"), http.StatusBadRequest, oauth.InvalidRequest},
			{"no redirect URI", e.app, with(pushed, "redirect_uri", ""), http.StatusBadRequest, oauth.InvalidRequest},
			{"a request_uri", e.app, with(pushed, "request_uri", second), http.StatusBadRequest, oauth.InvalidRequest},
			{"a request object", e.app, with(pushed, "request", "eyJhbGciOiJub25lIn0.e30."), http.StatusBadRequest, oauth.RequestNotSupported},
			{"plain PKCE", e.app, with(pushed, "code_challenge_method", "plain"), http.StatusBadRequest, oauth.InvalidRequest},
			{"the implicit flow", e.app, with(pushed, "response_type", "token"), http.StatusBadRequest, oauth.UnsupportedResponseType},
			{"an unknown scope", e.app, with(pushed, "scope", "openid admin"), http.StatusBadRequest, oauth.InvalidScope},
			{"another client_id in the form", e.app, with(pushed, "client_id", other.ID), http.StatusBadRequest, oauth.InvalidRequest},
		} {
			status, body, hdr := e.postForm("/oauth/par", c.app, c.form)
			if status != c.status || body["error"] != c.code || hdr.Get("Location") != "" {
				t.Errorf("%s: %d %v, want %d %s", c.name, status, body, c.status, c.code)
			}
		}

		// The bytes the applications of one developer push are bounded together: each of
		// these two requests is over 1,000 bytes and under 1,500, and the budget is 2,000.
		e.srv.oauth.Config.Limits.PushedBytesPerOwner = oauth.Limit{N: 2000, Window: time.Minute}
		const dev2CB = "https://dev2.example.test/callback" // another developer's applications, another host
		first, second2 := e.createAppOf("dev2@example.com", "First", dev2CB), e.createAppOf("dev2@example.com", "Second", dev2CB)
		long := with(with(pushed, "redirect_uri", dev2CB), "state", strings.Repeat("<", 1000)) // stored as 1,000 bytes, not 6,000
		e.pushRequest(t, first, long)
		status, body, hdr := e.postForm("/oauth/par", second2, long)
		if status != http.StatusTooManyRequests || body["error"] != oauth.RateLimited || hdr.Get("Retry-After") == "" {
			t.Errorf("a push past the developer's budget: %d %v Retry-After %q, want 429 rate_limited", status, body, hdr.Get("Retry-After"))
		}
	})
}

// with is a copy of v with k set to value ("" removes it).
func with(v url.Values, k, value string) url.Values {
	out := url.Values{}
	for key, vals := range v {
		out[key] = vals
	}
	if value == "" {
		out.Del(k)
	} else {
		out.Set(k, value)
	}
	return out
}
