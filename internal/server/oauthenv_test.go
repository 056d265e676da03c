package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"loginsign/internal/auth"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/mail/mailtest"
	"loginsign/internal/portal"

	"loginsign/internal/server/servertest"
)

// oauthEnv is a whole LoginSign server on loopback (newServer + routes(), real HTTP), a test
// SMTP server receiving its mail, and one registered application.
type oauthEnv struct {
	t    testing.TB
	srv  *Server
	http *httptest.Server
	base string
	smtp *mailtest.Server
	app  testApp
	// lastBrowser is the browser of the last runOpenIDClient, for its logout.
	lastBrowser *browser
}

type testApp struct {
	ID, Secret string
	Redirects  []string
}

// RP redirect URIs of the test application. app.example.test is never dialled: browsers stop
// at the redirect to it.
const (
	rpCallback       = "https://app.example.test/callback"
	rpLoopback       = "http://127.0.0.1/native/cb"
	rpCallbackHost   = "app.example.test"
	testSecretHex    = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	defaultTestEmail = "ann@example.com"
)

type envOption func(map[string]string)

func withEnv(k, v string) envOption { return func(m map[string]string) { m[k] = v } }

// newOAuthEnv starts the server on dbURL (and the Redis of kvtest.URL).
func newOAuthEnv(t testing.TB, dbURL string, opts ...envOption) *oauthEnv {
	t.Helper()
	smtp := mailtest.Start(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	m := map[string]string{
		"LOGINSIGN_BASE_URL": base, "DATABASE_URL": dbURL, "REDIS_URL": kvtest.URL(t),
		"LOGINSIGN_SMTP_URL": smtp.URL(), "LOGINSIGN_DATA_DIR": t.TempDir(), "LOGINSIGN_SECRET": testSecretHex,
		"LOGINSIGN_LOG_LEVEL": "error",
	}
	for _, o := range opts {
		o(m)
	}
	base = m["LOGINSIGN_BASE_URL"]
	cfg, err := loadConfig(nil, env(m))
	if err != nil {
		t.Fatal(err)
	}
	s, err := newServer(context.Background(), cfg, newLogger(io.Discard, "error"))
	if err != nil {
		t.Fatal(err)
	}
	// Responses are checked against the OpenAPI document in tests; benchmarks measure the
	// handler as it is served (the validator would cost more than the route).
	h := s.routes()
	if _, bench := t.(*testing.B); !bench {
		h = validated(t, h)
	}
	hs := httptest.NewUnstartedServer(h)
	hs.Listener.Close()
	hs.Listener = ln
	hs.Start()
	e := &oauthEnv{t: t, srv: s, http: hs, base: base, smtp: smtp}
	t.Cleanup(func() { hs.Close(); s.Close() })
	e.app = e.createApp("Demo App", rpCallback, rpLoopback)
	return e
}

// createApp registers an application owned by dev@example.com.
func (e *oauthEnv) createApp(name string, redirects ...string) testApp {
	e.t.Helper()
	return e.createAppOf("dev@example.com", name, redirects...)
}

// createAppOf registers an application owned by the developer whose address is owner.
func (e *oauthEnv) createAppOf(owner, name string, redirects ...string) testApp {
	e.t.Helper()
	ctx := context.Background()
	u, _, err := e.srv.identity.EnsureUser(ctx, owner)
	if err != nil {
		e.t.Fatal(err)
	}
	created, err := e.srv.portal.CreateApplication(auth.WithSession(ctx, auth.Session{UserID: u.ID, SignedInAt: time.Now()}),
		portal.ApplicationInput{Name: name, RedirectURIs: redirects, IconURL: "https://app.example.test/icon.png"})
	if err != nil {
		e.t.Fatal(err)
	}
	return testApp{ID: created.Application.ID, Secret: created.ClientSecret, Redirects: redirects}
}

// config is the golang.org/x/oauth2 configuration of app.
func (e *oauthEnv) config(app testApp, redirect string, scopes ...string) *oauth2.Config {
	if len(scopes) == 0 {
		scopes = []string{"openid", "email", "profile"}
	}
	return &oauth2.Config{
		ClientID: app.ID, ClientSecret: app.Secret, RedirectURL: redirect, Scopes: scopes,
		Endpoint: oauth2.Endpoint{AuthURL: e.base + "/oauth/authorize", TokenURL: e.base + "/oauth/token", AuthStyle: oauth2.AuthStyleInHeader},
	}
}

// ctx carries a plain HTTP client for oauth2 and go-oidc.
func (e *oauthEnv) ctx() context.Context {
	return context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Timeout: 10 * time.Second})
}

// browser is an HTTP client with a cookie jar that stops at redirects leaving LoginSign.
type browser struct {
	*http.Client
	e *oauthEnv
}

func (e *oauthEnv) browser() *browser {
	jar, _ := cookiejar.New(nil)
	b := &browser{e: e}
	b.Client = &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if !strings.HasPrefix(req.URL.String(), e.base) {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	return b
}

// page is a fetched response with its body read.
type page struct {
	*http.Response
	Body string
}

func (b *browser) do(method, u string, form url.Values) page {
	b.e.t.Helper()
	var req *http.Request
	var err error
	if form != nil {
		req, err = http.NewRequest(method, u, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req, err = http.NewRequest(method, u, nil)
	}
	if err != nil {
		b.e.t.Fatal(err)
	}
	resp, err := b.Do(req)
	if err != nil {
		b.e.t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return page{resp, string(body)}
}

func (b *browser) get(u string) page                   { return b.do(http.MethodGet, u, nil) }
func (b *browser) post(u string, form url.Values) page { return b.do(http.MethodPost, u, form) }

var (
	hiddenRe = regexp.MustCompile(`<input type="hidden" name="([a-z]+)" value="([^"]*)">`)
	linkRe   = regexp.MustCompile(`(?m)^(http\S+/login/magic\?token=\S+)\s*$`)
)

// hidden returns the value of the hidden input name on p.
func (p page) hidden(t testing.TB, name string) string {
	t.Helper()
	for _, m := range hiddenRe.FindAllStringSubmatch(p.Body, -1) {
		if m[1] == name {
			return m[2]
		}
	}
	t.Fatalf("no hidden input %q on %s (status %d):\n%s", name, p.Request.URL, p.StatusCode, p.Body)
	return ""
}

// magicLink reads the next mail and returns its sign-in link. Security notices (sent in the
// background when factors change) are skipped; notices_test.go reads them.
func (e *oauthEnv) magicLink(to string) string {
	e.t.Helper()
	m := e.smtp.Next(e.t, 10*time.Second)
	for isSecurityNotice(m.Subject) {
		m = e.smtp.Next(e.t, 10*time.Second)
	}
	if len(m.To) != 1 || !strings.EqualFold(m.To[0], to) {
		e.t.Fatalf("mail went to %v, want %s", m.To, to)
	}
	match := linkRe.FindStringSubmatch(strings.ReplaceAll(m.Text, "\r\n", "\n"))
	if match == nil {
		e.t.Fatalf("no magic link in mail text:\n%s", m.Text)
	}
	if !strings.HasPrefix(match[1], e.base+"/login/magic?token=") {
		e.t.Fatalf("link %q is not on the base URL %s", match[1], e.base)
	}
	return match[1]
}

// signIn drives the login page from p (the login page of a flow, or /login) through the
// magic link and returns the page after the link's POST (redirects followed inside
// LoginSign).
func (b *browser) signIn(loginPage page, email string) page {
	t := b.e.t
	t.Helper()
	if loginPage.StatusCode != 200 || !strings.Contains(loginPage.Body, `type="email"`) {
		t.Fatalf("not a login page: %d %s\n%s", loginPage.StatusCode, loginPage.Request.URL, loginPage.Body)
	}
	sent := b.post(b.e.base+"/login", url.Values{"email": {email}, "flow": {loginPage.hidden(t, "flow")}})
	if sent.StatusCode != 200 || !strings.Contains(sent.Body, "Check your email") {
		t.Fatalf("after POST /login: %d %s", sent.StatusCode, sent.Body)
	}
	link := b.e.magicLink(email)
	confirm := b.get(link)
	if confirm.StatusCode != 200 {
		t.Fatalf("GET magic link: %d %s", confirm.StatusCode, confirm.Body)
	}
	return b.post(b.e.base+"/login/magic", url.Values{"token": {confirm.hidden(t, "token")}})
}

// consent answers the consent page p.
func (b *browser) consent(p page, action, share string) page {
	t := b.e.t
	t.Helper()
	if p.StatusCode != 200 || !strings.Contains(p.Body, `value="allow"`) {
		t.Fatalf("not a consent page: %d %s\n%s", p.StatusCode, p.Request.URL, p.Body)
	}
	f := url.Values{"flow": {p.hidden(t, "flow")}, "known": {p.hidden(t, "known")}, "action": {action}}
	if share != "" {
		f.Set("share", share)
	}
	return b.post(b.e.base+"/oauth/consent", f)
}

// callback checks that p is a redirect to the RP and returns its query.
func callback(t testing.TB, p page) url.Values {
	t.Helper()
	if p.StatusCode != http.StatusSeeOther && p.StatusCode != http.StatusFound {
		t.Fatalf("want a redirect to the app, got %d at %s:\n%s", p.StatusCode, p.Request.URL, p.Body)
	}
	loc, err := url.Parse(p.Header.Get("Location"))
	if err != nil || loc.Host != rpCallbackHost && loc.Hostname() != "127.0.0.1" {
		t.Fatalf("redirect to %q, want the app", p.Header.Get("Location"))
	}
	return loc.Query()
}

// authorizeCode runs a whole sign-in for email with PKCE and returns the code and verifier.
func (e *oauthEnv) authorizeCode(b *browser, email string) (code, verifier string) {
	e.t.Helper()
	verifier = oauth2.GenerateVerifier()
	u := e.config(e.app, rpCallback).AuthCodeURL("st-1", oauth2.S256ChallengeOption(verifier))
	p := b.get(u)
	if strings.Contains(p.Body, `type="email"`) {
		p = b.signIn(p, email)
	}
	if p.StatusCode == 200 {
		p = b.consent(p, "allow", "")
	}
	q := callback(e.t, p)
	if q.Get("code") == "" {
		e.t.Fatalf("no code in callback: %v", q)
	}
	return q.Get("code"), verifier
}

// tokenRequest posts form to /oauth/token with Basic credentials of app.
func (e *oauthEnv) tokenRequest(app testApp, form url.Values) (int, map[string]any, http.Header) {
	e.t.Helper()
	return e.postForm("/oauth/token", app, form)
}

func (e *oauthEnv) postForm(path string, app testApp, form url.Values) (int, map[string]any, http.Header) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if app.ID != "" {
		req.SetBasicAuth(url.QueryEscape(app.ID), url.QueryEscape(app.Secret))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &body); err != nil {
			e.t.Fatalf("POST %s: %d, body not JSON: %q", path, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode, body, resp.Header
}

// apiUser calls GET /api/user with token.
func (e *oauthEnv) apiUser(token string) (int, map[string]any, http.Header) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.base+"/api/user", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body, resp.Header
}

// forBackends runs fn on every storage backend (SQLite + embedded Redis always; PostgreSQL
// + real Redis when the environment names them).
var forBackends = servertest.ForBackends

func wantOAuthError(t testing.TB, status int, body map[string]any, hdr http.Header, wantStatus int, wantCode string) {
	t.Helper()
	if status != wantStatus || body["error"] != wantCode {
		t.Fatalf("got %d %v, want %d error=%s", status, body, wantStatus, wantCode)
	}
	if hdr.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", hdr.Get("Cache-Control"))
	}
	if _, ok := body["error_description"].(string); !ok {
		t.Errorf("no error_description in %v", body)
	}
	_ = fmt.Sprint
}

func decodeJSON(t testing.TB, resp *http.Response, v any) {
	t.Helper()
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("%s %s: %d, body is not JSON: %v", resp.Request.Method, resp.Request.URL, resp.StatusCode, err)
	}
}

func decodeSegment(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

func decodeBody(resp *http.Response, v any) error {
	defer func() {
		// Read to the end, so the client can reuse the connection (benchmarks).
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}()
	return json.NewDecoder(resp.Body).Decode(v)
}
