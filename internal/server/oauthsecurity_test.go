package server

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"loginsign/internal/auth"
	"loginsign/internal/ids"
	"loginsign/internal/oauth"
)

// sqliteEnv is the server on a fresh SQLite file and the test's Redis.
func sqliteEnv(t *testing.T, opts ...envOption) *oauthEnv {
	return newOAuthEnv(t, "sqlite://"+filepath.Join(t.TempDir(), "db.sqlite"), opts...)
}

// authorizeURL builds /oauth/authorize with q.
func (e *oauthEnv) authorizeURL(q url.Values) string {
	return e.base + "/oauth/authorize?" + q.Encode()
}

func validQuery(e *oauthEnv) url.Values {
	return url.Values{"client_id": {e.app.ID}, "redirect_uri": {rpCallback}, "response_type": {"code"},
		"scope": {"openid email"}, "state": {"xyz"}}
}

// Security rule: exact redirect-URI match (loopback port excepted); an unknown client or an
// unregistered redirect URI gets an error page, never a redirect.
func TestAuthorizeRedirectURIExactMatch(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	b := e.browser()
	tests := []struct {
		name     string
		clientID string
		redirect string
		wantPage bool // error page (400) instead of the login page
	}{
		{"registered URI", e.app.ID, rpCallback, false},
		{"trailing slash", e.app.ID, rpCallback + "/", true},
		{"upper-case host", e.app.ID, "https://APP.example.test/callback", true},
		{"www prefix", e.app.ID, "https://www.app.example.test/callback", true},
		{"default port spelled out", e.app.ID, "https://app.example.test:443/callback", true},
		{"extra query", e.app.ID, rpCallback + "?next=/admin", true},
		{"path prefix", e.app.ID, rpCallback + "/evil", true},
		{"http instead of https", e.app.ID, "http://app.example.test/callback", true},
		{"other host", e.app.ID, "https://evil.example/callback", true},
		{"fragment", e.app.ID, rpCallback + "#x", true},
		{"loopback with any port (RFC 8252)", e.app.ID, "http://127.0.0.1:53123/native/cb", false},
		{"loopback with another path", e.app.ID, "http://127.0.0.1:53123/native/cb2", true},
		{"loopback with another host", e.app.ID, "http://localhost:53123/native/cb", true},
		{"unknown client", "app_nosuchclient", rpCallback, true},
		{"malformed client", "../../etc", rpCallback, true},
		{"missing redirect_uri", e.app.ID, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := validQuery(e)
			q.Set("client_id", tt.clientID)
			q.Set("redirect_uri", tt.redirect)
			if tt.redirect == "" {
				q.Del("redirect_uri")
			}
			p := b.get(e.authorizeURL(q))
			if tt.wantPage {
				if p.StatusCode != http.StatusBadRequest || p.Header.Get("Location") != "" || !strings.Contains(p.Body, "invalid") {
					t.Fatalf("want a 400 error page and no redirect, got %d Location=%q", p.StatusCode, p.Header.Get("Location"))
				}
				if !strings.HasPrefix(p.Header.Get("Content-Type"), "text/html") {
					t.Fatalf("error page Content-Type %q", p.Header.Get("Content-Type"))
				}
				return
			}
			if p.StatusCode != 200 || p.Request.URL.Path != "/login" {
				t.Fatalf("want the login page, got %d at %s", p.StatusCode, p.Request.URL)
			}
		})
	}
}

// Errors after the client and redirect URI are validated go back to the client with error,
// error_description, state and iss (RFC 6749 §4.1.2.1, RFC 9207).
func TestAuthorizeRedirectsErrors(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	b := e.browser()
	tests := []struct {
		name   string
		change func(url.Values)
		want   string
	}{
		{"unsupported response_type", func(q url.Values) { q.Set("response_type", "token") }, "unsupported_response_type"},
		{"missing response_type", func(q url.Values) { q.Del("response_type") }, "invalid_request"},
		{"unknown scope", func(q url.Values) { q.Set("scope", "openid admin") }, "invalid_scope"},
		{"PKCE plain refused", func(q url.Values) {
			q.Set("code_challenge", "plain-verifier-plain-verifier-plain-verifier-1")
			q.Set("code_challenge_method", "plain")
		}, "invalid_request"},
		{"challenge without method (would default to plain)", func(q url.Values) {
			q.Set("code_challenge", oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier()))
		}, "invalid_request"},
		{"malformed S256 challenge", func(q url.Values) { q.Set("code_challenge", "short"); q.Set("code_challenge_method", "S256") }, "invalid_request"},
		{"repeated state", func(q url.Values) { q.Add("state", "other") }, "invalid_request"},
		{"unknown prompt", func(q url.Values) { q.Set("prompt", "select_account") }, "invalid_request"},
		{"prompt=none without a session", func(q url.Values) { q.Set("prompt", "none") }, "login_required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := validQuery(e)
			tt.change(q)
			p := b.get(e.authorizeURL(q))
			cb := callback(t, p)
			if cb.Get("error") != tt.want || cb.Get("error_description") == "" || cb.Get("iss") != e.base || cb.Get("code") != "" {
				t.Fatalf("callback = %v, want error=%s with description and iss", cb, tt.want)
			}
			if tt.name != "repeated state" && cb.Get("state") != "xyz" {
				t.Fatalf("state = %q, want xyz", cb.Get("state"))
			}
		})
	}
}

// Security rule: 303 after POST; deny answers access_denied; pages carry CSP with
// frame-ancestors 'none', Referrer-Policy no-referrer and nosniff.
func TestPagesPostRedirectGetAndHeaders(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	b := e.browser()
	b.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	checkHeaders := func(name string, p page) {
		t.Helper()
		csp := p.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "default-src 'none'") {
			t.Errorf("%s: CSP %q", name, csp)
		}
		if p.Header.Get("Referrer-Policy") != "no-referrer" || p.Header.Get("X-Content-Type-Options") != "nosniff" ||
			p.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: headers %v", name, p.Header)
		}
	}
	q := validQuery(e)
	q.Set("state", "deny-me")
	p := b.get(e.authorizeURL(q))
	if p.StatusCode != http.StatusSeeOther {
		t.Fatalf("authorize without session: %d", p.StatusCode)
	}
	login := b.get(e.base + p.Header.Get("Location"))
	checkHeaders("login", login)
	if !strings.Contains(login.Body, `<link rel="stylesheet" href="/static/app.css">`) {
		t.Error("login page does not link /static/app.css")
	}
	p = b.post(e.base+"/login", url.Values{"email": {"bob@example.com"}, "flow": {login.hidden(t, "flow")}})
	if p.StatusCode != http.StatusSeeOther || !strings.HasPrefix(p.Header.Get("Location"), "/login/sent") {
		t.Fatalf("POST /login: %d %q", p.StatusCode, p.Header.Get("Location"))
	}
	confirm := b.get(e.magicLink("bob@example.com"))
	checkHeaders("magic link confirmation", confirm)
	p = b.post(e.base+"/login/magic", url.Values{"token": {confirm.hidden(t, "token")}})
	if p.StatusCode != http.StatusSeeOther || !strings.HasPrefix(p.Header.Get("Location"), "/oauth/consent?flow=") {
		t.Fatalf("POST /login/magic: %d %q", p.StatusCode, p.Header.Get("Location"))
	}
	consent := b.get(e.base + p.Header.Get("Location"))
	checkHeaders("consent", consent)
	if !strings.Contains(consent.Header.Get("Content-Security-Policy"), "form-action 'self' https://app.example.test") {
		t.Errorf("consent CSP should allow the form to end at the app: %q", consent.Header.Get("Content-Security-Policy"))
	}
	p = b.consent(consent, "deny", "")
	if p.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /oauth/consent: %d", p.StatusCode)
	}
	cb := callback(t, p)
	if cb.Get("error") != "access_denied" || cb.Get("state") != "deny-me" || cb.Get("iss") != e.base {
		t.Fatalf("deny callback = %v", cb)
	}
	out := b.get(e.base + "/logout")
	if out.StatusCode != 200 || !strings.Contains(out.Body, `method="post" action="/logout"`) {
		t.Fatalf("GET /logout should show a button: %d", out.StatusCode)
	}
	p = b.post(e.base+"/logout", url.Values{})
	if p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != "/login" {
		t.Fatalf("POST /logout: %d %q", p.StatusCode, p.Header.Get("Location"))
	}
	if p := b.get(e.authorizeURL(validQuery(e))); p.StatusCode != http.StatusSeeOther || !strings.HasPrefix(p.Header.Get("Location"), "/login") {
		t.Fatalf("after logout authorize should ask to sign in: %d %q", p.StatusCode, p.Header.Get("Location"))
	}
	// The error page carries the same headers.
	checkHeaders("error page", b.get(e.base+"/oauth/authorize?client_id=nope&redirect_uri=x"))
}

// Security rule: PKCE S256 only; a downgrade (challenge at authorize, no verifier at token)
// and a verifier without a challenge are refused; codes are single use and bound to client
// and redirect URI.
func TestTokenCodeRules(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	other := e.createApp("Other App", rpCallback)
	b := e.browser()
	code, verifier := e.authorizeCode(b, defaultTestEmail)
	exchange := func(app testApp, code, redirect, verifier string) (int, map[string]any) {
		f := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}}
		if verifier != "" {
			f.Set("code_verifier", verifier)
		}
		st, body, hdr := e.tokenRequest(app, f)
		if hdr.Get("Cache-Control") != "no-store" {
			t.Errorf("token answer without Cache-Control: no-store")
		}
		return st, body
	}
	t.Run("downgrade: challenge sent, no verifier", func(t *testing.T) {
		c, _ := e.authorizeCode(b, defaultTestEmail)
		st, body := exchange(e.app, c, rpCallback, "")
		wantOAuthError(t, st, body, http.Header{"Cache-Control": {"no-store"}}, 400, "invalid_grant")
	})
	t.Run("wrong verifier", func(t *testing.T) {
		c, _ := e.authorizeCode(b, defaultTestEmail)
		st, body := exchange(e.app, c, rpCallback, oauth2.GenerateVerifier())
		wantOAuthError(t, st, body, http.Header{"Cache-Control": {"no-store"}}, 400, "invalid_grant")
	})
	t.Run("verifier without challenge", func(t *testing.T) {
		p := b.get(e.authorizeURL(validQuery(e)))
		c := callback(t, p).Get("code")
		st, body := exchange(e.app, c, rpCallback, oauth2.GenerateVerifier())
		wantOAuthError(t, st, body, http.Header{"Cache-Control": {"no-store"}}, 400, "invalid_grant")
	})
	t.Run("bound to the client", func(t *testing.T) {
		// Another client's exchange neither spends the code nor, once the client has used
		// it, revokes what it issued (RFC 6749 §4.1.3): a leaked code ends nobody's sign-in.
		c, v := e.authorizeCode(b, defaultTestEmail)
		st, body := exchange(other, c, rpCallback, v)
		wantOAuthError(t, st, body, http.Header{"Cache-Control": {"no-store"}}, 400, "invalid_grant")
		if body["error_description"] != "the authorization code is invalid or has expired" {
			t.Errorf("another client's code: %v, want it answered as an unknown one", body["error_description"])
		}
		st, body = exchange(e.app, c, rpCallback, v)
		if st != 200 {
			t.Fatalf("the client's own exchange after another client's: %d %v", st, body)
		}
		st, other2 := exchange(other, c, rpCallback, v)
		wantOAuthError(t, st, other2, http.Header{"Cache-Control": {"no-store"}}, 400, "invalid_grant")
		if st, _, _ := e.apiUser(body["access_token"].(string)); st != 200 {
			t.Errorf("the client's access token after another client presented its spent code: %d, want 200", st)
		}
	})
	t.Run("bound to the redirect URI", func(t *testing.T) {
		c, v := e.authorizeCode(b, defaultTestEmail)
		st, body := exchange(e.app, c, rpLoopback, v)
		wantOAuthError(t, st, body, http.Header{"Cache-Control": {"no-store"}}, 400, "invalid_grant")
	})
	t.Run("single use; a replay revokes what the code issued", func(t *testing.T) {
		st, body := exchange(e.app, code, rpCallback, verifier)
		if st != 200 {
			t.Fatalf("first exchange: %d %v", st, body)
		}
		access, refresh := body["access_token"].(string), body["refresh_token"].(string)
		if st, _, _ := e.apiUser(access); st != 200 {
			t.Fatalf("fresh access token: %d", st)
		}
		st, body = exchange(e.app, code, rpCallback, verifier)
		wantOAuthError(t, st, body, http.Header{"Cache-Control": {"no-store"}}, 400, "invalid_grant")
		if st, _, _ := e.apiUser(access); st != 401 {
			t.Fatalf("access token after the code's replay: %d, want 401", st)
		}
		st, body, _ = e.tokenRequest(e.app, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}})
		wantOAuthError(t, st, body, http.Header{"Cache-Control": {"no-store"}}, 400, "invalid_grant")
	})
	t.Run("expired code", func(t *testing.T) {
		c, v := e.authorizeCode(b, defaultTestEmail)
		e.srv.kv.Del(context.Background(), "oc:"+ids.Hash(c)) // what the TTL does after CodeTTL
		st, body := exchange(e.app, c, rpCallback, v)
		wantOAuthError(t, st, body, http.Header{"Cache-Control": {"no-store"}}, 400, "invalid_grant")
		if ttl := e.srv.oauth.Config.CodeTTL; ttl > 10*time.Minute {
			t.Fatalf("code TTL %v exceeds 10 minutes", ttl)
		}
	})
}

// TestConsentPostedStraightAwayStillAsksForTheSignIn: a request with prompt=login or max_age
// sends a signed-in browser to sign in again; the consent form posted at once, with the flow
// from that page, does the same instead of answering the client with a code (OpenID Connect
// Core §3.1.2.1). Before, whoever held a signed-in browser got past the fresh sign-in an app
// asked for before a sensitive action.
func TestConsentPostedStraightAwayStillAsksForTheSignIn(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	b := e.browser()
	e.authorizeCode(b, defaultTestEmail) // signed in, and consented to e.app
	other := e.createApp("Second", rpCallback)
	for _, param := range [][2]string{{"prompt", "login"}, {"max_age", "0"}} {
		t.Run(param[0], func(t *testing.T) {
			u := e.config(other, rpCallback).AuthCodeURL("st-2", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()),
				oauth2.SetAuthURLParam(param[0], param[1]))
			login := b.get(u)
			if !strings.Contains(login.Body, `type="email"`) {
				t.Fatalf("%s=%s: %d %s, want the login page", param[0], param[1], login.StatusCode, login.Request.URL)
			}
			flow := login.hidden(t, "flow")
			p := b.post(e.base+"/oauth/consent", url.Values{"flow": {flow}, "action": {"allow"}})
			if loc := p.Request.URL.String(); p.StatusCode != 200 || !strings.Contains(loc, "/login?flow="+flow) || !strings.Contains(p.Body, `type="email"`) {
				t.Fatalf("the consent form posted at once: %d %s (Location %q), want the login page of the flow", p.StatusCode, loc, p.Header.Get("Location"))
			}
		})
	}
}

// TestSignInPagesLetTheirFormsEndAtTheClient: the browser checks a page's form-action against
// every redirect of a form's navigation, and the sign-in forms of a flow (the address, the
// mailed code, a passkey, the second step) end at the client's redirect URI when the person
// consented before. Each page of a flow names where it goes: the origin of a web app, the
// scheme of a native app's private-use URI (TestReturningPersonGetsBackToTheAppInBrowser shows
// it in Chromium).
func TestSignInPagesLetTheirFormsEndAtTheClient(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	native := e.createApp("Native Notes", "com.example.notes:/cb")
	for _, tc := range []struct {
		app           testApp
		redirect, src string
	}{{e.app, rpCallback, "https://" + rpCallbackHost}, {native, "com.example.notes:/cb", "com.example.notes:"}} {
		t.Run(tc.src, func(t *testing.T) {
			b := e.browser()
			u := e.config(tc.app, tc.redirect).AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
			login := b.get(u)
			want := "form-action 'self' " + tc.src + ";"
			if csp := login.Header.Get("Content-Security-Policy"); !strings.Contains(login.Body, `type="email"`) || !strings.Contains(csp, want) {
				t.Fatalf("login page of the flow: %d, CSP %q, want %q", login.StatusCode, csp, want)
			}
			sent := b.post(e.base+"/login", url.Values{"email": {"forms@example.com"}, "flow": {login.hidden(t, "flow")}})
			if csp := sent.Header.Get("Content-Security-Policy"); sent.StatusCode != 200 || !strings.Contains(csp, want) {
				t.Fatalf("check-your-email page of the flow: %d, CSP %q, want %q", sent.StatusCode, csp, want)
			}
			magic := b.get(e.magicLink("forms@example.com"))
			wantMagic := "form-action 'self' https: http: " + tc.src + ";"
			if csp := magic.Header.Get("Content-Security-Policy"); magic.StatusCode != 200 || !strings.Contains(csp, wantMagic) {
				t.Fatalf("the link's page: %d, CSP %q, want %q", magic.StatusCode, csp, wantMagic)
			}
		})
	}
}

// TestConsentPageSaysWhereTheAnswerGoes: the name, icon and website on the consent page are the
// developer's to choose ("Google Drive"); where the answer goes is not. The page names the
// redirect URI's host (a native app's scheme), so an app that borrows another's name is told
// apart by where it sends the person.
func TestConsentPageSaysWhereTheAnswerGoes(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	native := e.createApp("Native Notes", "com.example.notes:/cb")
	b := e.browser()
	for _, tc := range []struct {
		app             testApp
		redirect, where string
	}{{e.app, rpCallback, rpCallbackHost}, {native, "com.example.notes:/cb", "com.example.notes:"}} {
		p := b.get(e.config(tc.app, tc.redirect).AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		if strings.Contains(p.Body, `type="email"`) {
			p = b.signIn(p, defaultTestEmail)
		}
		want := `<p class="note" id="returns-to">Your answer goes to <strong>` + tc.where + `</strong>.</p>`
		if p.StatusCode != 200 || !strings.Contains(p.Body, `value="allow"`) || !strings.Contains(p.Body, want) {
			t.Errorf("consent page of %s: %d, want %q in\n%s", tc.redirect, p.StatusCode, want, p.Body)
		}
	}
}

// Replaying one code from 50 goroutines yields exactly one success.
func TestCodeReplayConcurrent(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		code, verifier := e.authorizeCode(e.browser(), defaultTestEmail)
		var ok, grantErr atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				st, body, _ := e.tokenRequest(e.app, url.Values{"grant_type": {"authorization_code"}, "code": {code},
					"redirect_uri": {rpCallback}, "code_verifier": {verifier}})
				switch {
				case st == 200:
					ok.Add(1)
				case st == 400 && body["error"] == "invalid_grant":
					grantErr.Add(1)
				default:
					t.Errorf("unexpected answer %d %v", st, body)
				}
			}()
		}
		close(start)
		wg.Wait()
		if ok.Load() != 1 || grantErr.Load() != 49 {
			t.Fatalf("%d successes and %d invalid_grant, want 1 and 49", ok.Load(), grantErr.Load())
		}
	})
}

// Security rule: refresh tokens rotate, reuse revokes the family (TestSignInFlow), and the
// family has an absolute expiry that rotation does not extend.
func TestRefreshAbsoluteExpiry(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	var offset atomic.Int64
	e.srv.oauth.Now = func() time.Time { return time.Now().UTC().Add(time.Duration(offset.Load())) }
	code, verifier := e.authorizeCode(e.browser(), defaultTestEmail)
	_, body, _ := e.tokenRequest(e.app, url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {rpCallback}, "code_verifier": {verifier}})
	refresh := body["refresh_token"].(string)
	ttl := e.srv.oauth.Config.RefreshTokenTTL
	// Rotate just before the end: the new token keeps the family's expiry.
	offset.Store(int64(ttl - time.Hour))
	st, body, _ := e.tokenRequest(e.app, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}})
	if st != 200 {
		t.Fatalf("refresh before expiry: %d %v", st, body)
	}
	offset.Store(int64(ttl + time.Minute))
	st, body, hdr := e.tokenRequest(e.app, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {body["refresh_token"].(string)}})
	wantOAuthError(t, st, body, hdr, 400, "invalid_grant")
	if !strings.Contains(body["error_description"].(string), "expired") {
		t.Fatalf("description %q should say expired", body["error_description"])
	}
}

// Token endpoint errors: RFC 6749 §5.2 codes and statuses; invalid_client is 401 with
// WWW-Authenticate; the client secret is compared in constant time (ids.Equal), also for an
// unknown client.
func TestTokenEndpointErrors(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	var compares atomic.Int32
	e.srv.oauth.Equal = func(a, b string) bool { compares.Add(1); return ids.Equal(a, b) }
	post := func(header string, body string) (int, map[string]any, http.Header) {
		req, _ := http.NewRequest(http.MethodPost, e.base+"/oauth/token", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if header != "" {
			req.Header.Set("Authorization", header)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		decodeJSON(t, resp, &m)
		return resp.StatusCode, m, resp.Header
	}
	basic := func(id, secret string) string {
		r, _ := http.NewRequest("GET", "/", nil)
		r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
		return r.Header.Get("Authorization")
	}
	good := basic(e.app.ID, e.app.Secret)
	tests := []struct {
		name, header, body string
		status             int
		code               string
	}{
		{"no client authentication", "", "grant_type=authorization_code&code=x&redirect_uri=y", 401, "invalid_client"},
		{"wrong secret", basic(e.app.ID, "lss_wrong"), "grant_type=authorization_code&code=x&redirect_uri=y", 401, "invalid_client"},
		{"unknown client", basic("app_unknown", "lss_x"), "grant_type=authorization_code&code=x&redirect_uri=y", 401, "invalid_client"},
		{"malformed Basic", "Basic !!!", "grant_type=authorization_code", 401, "invalid_client"},
		{"other scheme", "Bearer abc", "grant_type=authorization_code", 401, "invalid_client"},
		{"form credentials work too", "", "grant_type=authorization_code&code=x&redirect_uri=y&client_id=" + e.app.ID + "&client_secret=" + url.QueryEscape(e.app.Secret), 400, "invalid_grant"},
		{"both Basic and form secret", good, "grant_type=authorization_code&client_secret=x", 400, "invalid_request"},
		{"missing grant_type", good, "code=x", 400, "invalid_request"},
		{"unsupported grant_type", good, "grant_type=password&username=a&password=b", 400, "unsupported_grant_type"},
		{"implicit unsupported", good, "grant_type=implicit", 400, "unsupported_grant_type"},
		{"client_credentials with a person scope", good, "grant_type=client_credentials&scope=openid", 400, "invalid_scope"},
		{"missing code", good, "grant_type=authorization_code&redirect_uri=y", 400, "invalid_request"},
		{"missing redirect_uri", good, "grant_type=authorization_code&code=x", 400, "invalid_request"},
		{"repeated parameter", good, "grant_type=authorization_code&code=x&code=y&redirect_uri=z", 400, "invalid_request"},
		{"malformed verifier", good, "grant_type=authorization_code&code=x&redirect_uri=y&code_verifier=short", 400, "invalid_request"},
		{"unknown code", good, "grant_type=authorization_code&code=lsac_nope&redirect_uri=y", 400, "invalid_grant"},
		{"missing refresh_token", good, "grant_type=refresh_token", 400, "invalid_request"},
		{"unknown refresh_token", good, "grant_type=refresh_token&refresh_token=lsrt_nope", 400, "invalid_grant"},
		{"bad scope on refresh", good, "grant_type=refresh_token&refresh_token=lsrt_nope&scope=admin", 400, "invalid_grant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := compares.Load()
			st, body, hdr := post(tt.header, tt.body)
			wantOAuthError(t, st, body, hdr, tt.status, tt.code)
			if tt.code == "invalid_client" && !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Basic") {
				t.Errorf("invalid_client without WWW-Authenticate: %v", hdr)
			}
			if tt.name == "wrong secret" || tt.name == "unknown client" {
				if compares.Load() == before {
					t.Errorf("client secret not compared with the constant-time Equal")
				}
			}
		})
	}
	// GET is refused with 405 and the same error shape.
	resp, err := http.Get(e.base + "/oauth/token?grant_type=authorization_code")
	if err != nil {
		t.Fatal(err)
	}
	var m405 map[string]any
	decodeJSON(t, resp, &m405)
	wantOAuthError(t, resp.StatusCode, m405, resp.Header, 405, "invalid_request")
	if resp.Header.Get("Allow") != "POST" {
		t.Errorf("Allow = %q", resp.Header.Get("Allow"))
	}
	// Wrong content type.
	req, _ := http.NewRequest(http.MethodPost, e.base+"/oauth/token", strings.NewReader(`{"grant_type":"authorization_code"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", good)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	decodeJSON(t, resp, &m)
	wantOAuthError(t, resp.StatusCode, m, resp.Header, 400, "invalid_request")
}

// Security rule: rate limits answer 429 with Retry-After: token endpoint (the application's
// quota, set in the portal), healthcheck (per IP), login (per address, per IP).
func TestRateLimits(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	if err := e.srv.db.Application.UpdateOneID(e.app.ID).SetClientRequestsPerMinute(3).Exec(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		e.tokenRequest(e.app, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"lsrt_x"}})
	}
	st, body, hdr := e.tokenRequest(e.app, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"lsrt_x"}})
	wantOAuthError(t, st, body, hdr, 429, "rate_limited")
	if hdr.Get("Retry-After") == "" {
		t.Error("token 429 without Retry-After")
	}

	for i := 0; i < 30; i++ {
		resp, _ := http.Get(e.base + "/api/oauth/healthcheck?client_id=" + e.app.ID + "&redirect_uri=" + url.QueryEscape(rpCallback))
		resp.Body.Close()
	}
	resp, err := http.Get(e.base + "/api/oauth/healthcheck?client_id=" + e.app.ID + "&redirect_uri=" + url.QueryEscape(rpCallback))
	if err != nil {
		t.Fatal(err)
	}
	decodeJSON(t, resp, &body)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" || body["error"] != "rate_limited" {
		t.Fatalf("healthcheck over the limit: %d %v %v", resp.StatusCode, resp.Header, body)
	}

	b := e.browser()
	for i := 0; i < 5; i++ {
		if p := b.post(e.base+"/login", url.Values{"email": {"carol@example.com"}}); p.StatusCode != 200 {
			t.Fatalf("login %d: %d", i, p.StatusCode)
		}
	}
	p := b.post(e.base+"/login", url.Values{"email": {"carol@example.com"}})
	if p.StatusCode != 429 || p.Header.Get("Retry-After") == "" {
		t.Fatalf("sixth link for one address: %d Retry-After=%q", p.StatusCode, p.Header.Get("Retry-After"))
	}
	e.srv.oauth.Config.Limits.LoginPerIP.N = 6 // 6 hits were counted above
	p = b.post(e.base+"/login", url.Values{"email": {"dave@example.com"}})
	if p.StatusCode != 429 || p.Header.Get("Retry-After") == "" {
		t.Fatalf("over the per-IP login limit: %d", p.StatusCode)
	}
}

// Every valid authorization request is kept in Redis for the flow's lifetime before anyone
// signs in, so one client address (an IPv6 /64 as one) may start only so many: past it, GET
// and POST /oauth/authorize answer the 429 page and store nothing; other addresses go on.
func TestAuthorizationRequestsPerAddressAreLimited(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t, withEnv("LOGINSIGN_TRUSTED_PROXIES", "127.0.0.1/32, ::1"))
	e.srv.oauth.Config.Limits.FlowsPerAddress = oauth.Limit{N: 3, Window: 15 * time.Minute}
	authorize := e.config(e.app, rpCallback).AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
	from := func(addr, method string) page {
		t.Helper()
		b := e.browser()
		req, _ := http.NewRequest(method, authorize, nil)
		if method == http.MethodPost {
			u, _ := url.Parse(authorize)
			req, _ = http.NewRequest(method, e.base+"/oauth/authorize", strings.NewReader(u.RawQuery))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		req.Header.Set("X-Forwarded-For", addr)
		resp, err := b.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return page{resp, string(body)}
	}
	for i, addr := range []string{"2001:db8:7:1::1", "2001:db8:7:1::2", "2001:db8:7:1:ffff::3"} {
		method := []string{http.MethodGet, http.MethodPost}[i%2]
		if p := from(addr, method); p.StatusCode != 200 || !strings.Contains(p.Body, `name="flow"`) {
			t.Fatalf("%s %d from %s: %d, want the sign-in page with its flow", method, i+1, addr, p.StatusCode)
		}
	}
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		p := from("2001:db8:7:1::99", method)
		if p.StatusCode != 429 || p.Header.Get("Retry-After") == "" || strings.Contains(p.Body, `name="flow"`) {
			t.Fatalf("%s past the limit from the same /64: %d Retry-After=%q", method, p.StatusCode, p.Header.Get("Retry-After"))
		}
	}
	if p := from("198.51.100.7", http.MethodGet); p.StatusCode != 200 || !strings.Contains(p.Body, `name="flow"`) {
		t.Fatalf("another address: %d", p.StatusCode)
	}
}

// Security rule: cookies HttpOnly, Secure outside dev with the __Host- prefix, SameSite=Lax;
// the session id rotates at sign-in.
func TestSessionCookieAndRotation(t *testing.T) {
	t.Parallel()
	t.Run("flags outside dev", func(t *testing.T) {
		e := sqliteEnv(t, withEnv("LOGINSIGN_DEV", "false"))
		b := e.browser()
		b.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		b.post(e.base+"/login", url.Values{"email": {defaultTestEmail}})
		tok, _ := url.Parse(e.magicLink(defaultTestEmail))
		p := b.post(e.base+"/login/magic", url.Values{"token": {tok.Query().Get("token")}})
		var found bool
		for _, c := range p.Cookies() {
			if c.Name == "__Host-ls_session" {
				found = true
				if !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Domain != "" {
					t.Fatalf("session cookie flags: %+v", c)
				}
			}
		}
		if !found {
			t.Fatalf("no __Host-ls_session cookie in %v", p.Header["Set-Cookie"])
		}
	})
	t.Run("rotation at sign-in", func(t *testing.T) {
		e := sqliteEnv(t)
		b := e.browser()
		b.signIn(b.get(e.base+"/login"), defaultTestEmail)
		first := sessionCookie(t, b, e)
		b.signIn(b.get(e.base+"/login"), defaultTestEmail)
		second := sessionCookie(t, b, e)
		if first == second {
			t.Fatal("the session id did not change at sign-in")
		}
		if _, err := e.srv.identity.Sessions.Lookup(context.Background(), first); err == nil {
			t.Fatal("the session before sign-in still works")
		}
		if _, err := e.srv.identity.Sessions.Lookup(context.Background(), second); err != nil {
			t.Fatalf("the new session: %v", err)
		}
		// Sign-out ends it.
		b.post(e.base+"/logout", url.Values{})
		if _, err := e.srv.identity.Sessions.Lookup(context.Background(), second); err == nil {
			t.Fatal("the session survives /logout")
		}
	})
}

func sessionCookie(t *testing.T, b *browser, e *oauthEnv) string {
	t.Helper()
	u, _ := url.Parse(e.base)
	for _, c := range b.Jar.Cookies(u) {
		if c.Name == "ls_session" {
			return c.Value
		}
	}
	t.Fatal("no session cookie")
	return ""
}

// The idle and absolute session timeouts: internal/identity TestSessionTimeouts.

var _ = auth.Session{}

// Security rule: cookie-authenticated writes refuse cross-site requests: a form on another
// site cannot post the login, the magic-link confirmation, the consent or the sign-out.
func TestPagesRefuseCrossSitePosts(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	for _, path := range []string{"/login", "/login/magic", "/oauth/consent", "/logout"} {
		req, _ := http.NewRequest(http.MethodPost, e.base+path, strings.NewReader("email=a%40example.com&action=allow"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		req.Header.Set("Origin", "https://evil.example")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("cross-site POST %s: %d, want 403", path, resp.StatusCode)
		}
	}
	if n := e.smtp.Count(); n != 0 {
		t.Fatalf("a cross-site login sent %d mails", n)
	}
}
