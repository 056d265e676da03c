package server

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"loginsign/ent/appconnection"
	"loginsign/ent/useremail"
	"loginsign/internal/oauth"
	"loginsign/internal/store/storetest"
)

// startBackground starts what `loginsign serve` runs besides the HTTP server: the webhook
// delivery worker. It stops when ctx ends.
func startBackground(ctx context.Context, s *Server) {
	go s.webhooks.Worker.Run(ctx)
}

// sampleApp is a third-party app on http://localhost:<port>: a page with the LoginSign widgets,
// a callback that receives the code (its backend exchanges it with golang.org/x/oauth2), and a
// webhook receiver.
type sampleApp struct {
	URL         string // http://localhost:port: another site than LoginSign's 127.0.0.1
	SameSiteURL string // http://127.0.0.1:port: the same site as LoginSign (cookies reach its iframes)
	loginURL    string

	mu           sync.Mutex
	clientID     string
	clientSecret string
	callbacks    []url.Values
	exchanged    []*oauth2.Token
	exchangeErr  error
	webhooks     []map[string]any
}

func startSampleApp(t *testing.T, loginSign string) *sampleApp {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	app := &sampleApp{URL: "http://localhost:" + port, SameSiteURL: "http://127.0.0.1:" + port, loginURL: loginSign}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", app.home)
	mux.HandleFunc("GET /embedded", app.embedded)
	mux.HandleFunc("GET /callback", app.callback)
	mux.HandleFunc("POST /webhook", app.webhook)
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return app
}

func (a *sampleApp) RedirectURI() string { return a.URL + "/callback" }

func (a *sampleApp) setClient(id, secret string) {
	a.mu.Lock()
	a.clientID, a.clientSecret = id, secret
	a.mu.Unlock()
}

func (a *sampleApp) home(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	id := a.clientID
	a.mu.Unlock()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sample Notes</title><script src="%[1]s/widgets/v1/loginsign.js" async></script></head>
<body><header><h1>Sample Notes</h1>
<div id="menu" data-loginsign-user-menu data-name="Ann Example" data-global-id="AB1234" data-logout-url="/logout"></div></header>
<main><p>Sign in to keep your notes.</p>
<div id="signin" data-loginsign-button data-client-id="%[2]s" data-redirect-uri="%[3]s" data-size="large" data-shape="pill"></div>
<p>Other looks:</p>
<div data-loginsign-button data-client-id="%[2]s" data-redirect-uri="%[3]s" data-size="small" data-theme="dark" data-label="Continue with LoginSign"></div>
<div data-loginsign-button data-client-id="%[2]s" data-redirect-uri="%[3]s" data-shape="circle" data-mode="popup"></div>
</main></body></html>`, html.EscapeString(a.loginURL), html.EscapeString(id), html.EscapeString(a.RedirectURI()))
}

func (a *sampleApp) embedded(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	id := a.clientID
	a.mu.Unlock()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Sample Notes: sign in</title>
<script src="%[1]s/widgets/v1/loginsign.js" async></script></head>
<body><main><h1>Sample Notes</h1>
<div id="login" data-loginsign-login-page data-client-id="%[2]s" data-redirect-uri="%[3]s"></div></main>
<div id="banner" data-loginsign-banner data-client-id="%[2]s" data-redirect-uri="%[3]s" data-position="bottom-right"></div>
</body></html>`, html.EscapeString(a.loginURL), html.EscapeString(id), html.EscapeString(a.RedirectURI()))
}

// callback is the redirect URI: it records the query and exchanges the code server-side.
func (a *sampleApp) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	a.mu.Lock()
	a.callbacks = append(a.callbacks, q)
	cfg := oauth2.Config{ClientID: a.clientID, ClientSecret: a.clientSecret, RedirectURL: a.RedirectURI(),
		Endpoint: oauth2.Endpoint{AuthURL: a.loginURL + "/oauth/authorize", TokenURL: a.loginURL + "/oauth/token"}}
	a.mu.Unlock()
	if code := q.Get("code"); code != "" {
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		tok, err := cfg.Exchange(ctx, code)
		cancel()
		a.mu.Lock()
		a.exchanged, a.exchangeErr = append(a.exchanged, tok), err
		a.mu.Unlock()
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Signed in</title></head>
<body><h1 id="done">Back at Sample Notes</h1><p>code: <code id="code">%s</code></p><p>state: <code id="state">%s</code></p></body></html>`,
		html.EscapeString(q.Get("code")), html.EscapeString(q.Get("state")))
}

func (a *sampleApp) webhook(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body)
	a.mu.Lock()
	a.webhooks = append(a.webhooks, body)
	a.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// waitWebhook waits for a webhook whose "type" (or "event") is typ.
func (a *sampleApp) waitWebhook(t *testing.T, typ string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		a.mu.Lock()
		for _, h := range a.webhooks {
			if h["type"] == typ || h["event"] == typ {
				a.mu.Unlock()
				return h
			}
		}
		a.mu.Unlock()
		time.Sleep(100 * time.Millisecond)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	t.Fatalf("no %s webhook arrived; got %v", typ, a.webhooks)
	return nil
}

// signInByCookie gives tb a session for userID as the sign-in pages would.
func (ls *liveServer) signInByCookie(t *testing.T, tb *tab, userID string) {
	t.Helper()
	raw, err := ls.identity.Sessions.Create(context.Background(), userID, "Mozilla/5.0 (X11; Linux x86_64) Chrome/130.0 test", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	name := ls.routesCookies().SessionName()
	httpOnly := true
	tb.do(t, func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, network.SetCookie, network.SetCookieParams{
			Name: name, Value: raw, URL: ls.URL + "/", HTTPOnly: &httpOnly, SameSite: network.CookieSameSiteLax,
		})
		return chromedp.Void{}, err
	})
}

// codeRE finds the 6-digit code ("123 456") in a sign-in mail.
var codeRE = regexp.MustCompile(`\b(\d{3}) (\d{3})\b`)

// mailCode waits until n sign-in mails went to to and returns the code of the last one.
func (ls *liveServer) mailCode(t *testing.T, to string, n int) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		var last string
		count := 0
		for _, m := range ls.Mail.Messages() {
			if containsFold(m.To, to) {
				count++
				last = m.Text
			}
		}
		if count >= n {
			if c := codeRE.FindStringSubmatch(last); c != nil {
				return c[1] + c[2]
			}
			t.Fatalf("the sign-in mail has no code:\n%s", last)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%d mail(s) to %s did not arrive", n, to)
	return ""
}

// graphQLFields lists the root fields the server's schema has, so steps that need an API that
// has not landed yet can say so precisely.
func (ls *liveServer) graphQLFields(t *testing.T) map[string]bool {
	t.Helper()
	body := `{"query":"{ q: __type(name: \"Query\") { fields { name } } m: __type(name: \"Mutation\") { fields { name } } }"}`
	resp, err := http.Post(ls.URL+"/graphql", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Data map[string]struct{ Fields []struct{ Name string } }
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, typ := range out.Data {
		for _, f := range typ.Fields {
			have[f.Name] = true
		}
	}
	return have
}

// routeExists reports whether a GET of path is answered by something other than 404.
func (ls *liveServer) routeExists(t *testing.T, path string) bool {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(ls.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode != http.StatusNotFound
}

func requireAPI(t *testing.T, have map[string]bool, names ...string) {
	t.Helper()
	var missing []string
	for _, n := range names {
		if !have[n] {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("the schema lacks GraphQL %s", strings.Join(missing, ", "))
	}
}

// TestPagesSecurityHeaders checks the headers and redirects of every page without a browser.
func TestPagesSecurityHeaders(t *testing.T) {
	ls := startLiveServer(t, "sqlite://"+t.TempDir()+"/db.sqlite")
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) *http.Response {
		resp, err := noFollow.Get(ls.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}

	t.Run("signed-out visitors are sent to sign in", func(t *testing.T) {
		for path, want := range map[string]string{
			"/dashboard":                      "/login?return_to=%2Fdashboard",
			"/portal":                         "/login?return_to=%2Fportal",
			"/portal/licenses":                "/login?return_to=%2Fportal%2Flicenses",
			"/portal/synchronisation?app=app": "/login?return_to=%2Fportal%2Fsynchronisation%3Fapp%3Dapp",
		} {
			resp := get(path)
			if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != want {
				t.Errorf("GET %s = %d Location %q, want 303 %q", path, resp.StatusCode, resp.Header.Get("Location"), want)
			}
			if resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("GET %s: Cache-Control %q, want no-store", path, resp.Header.Get("Cache-Control"))
			}
		}
	})

	t.Run("personal pages are private, unframable and script-safe", func(t *testing.T) {
		u, err := ls.identity.CreateUser(context.Background(), "headers@example.com", "")
		if err != nil {
			t.Fatal(err)
		}
		raw, err := ls.identity.Sessions.Create(context.Background(), u.ID, "test", "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		for _, path := range []string{"/dashboard", "/portal", "/portal/apps", "/portal/apps/app_x", "/portal/users", "/portal/licenses", "/portal/synchronisation", "/portal/nope"} {
			req, _ := http.NewRequest(http.MethodGet, ls.URL+path, nil)
			req.AddCookie(&http.Cookie{Name: ls.routesCookies().SessionName(), Value: raw})
			resp, err := noFollow.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body := readAll(t, resp.Body)
			resp.Body.Close()
			if path == "/portal/nope" {
				if resp.StatusCode != http.StatusNotFound {
					t.Errorf("GET %s = %d, want 404", path, resp.StatusCode)
				}
				continue
			}
			h := resp.Header
			if resp.StatusCode != 200 || h.Get("Cache-Control") != "no-store" || h.Get("X-Frame-Options") != "DENY" ||
				h.Get("Referrer-Policy") != "no-referrer" || h.Get("X-Content-Type-Options") != "nosniff" ||
				!strings.Contains(h.Get("Content-Security-Policy"), "script-src 'self';") ||
				!strings.HasSuffix(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
				t.Errorf("GET %s = %d %v", path, resp.StatusCode, h)
			}
			if strings.Contains(body, "<script>") || strings.Contains(body, " style=") || strings.Contains(body, " onclick=") {
				t.Errorf("GET %s has inline script or style", path)
			}
		}
	})

	t.Run("static files are cache-busted and long-lived", func(t *testing.T) {
		resp := get("/static/app.css")
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/css; charset=utf-8" || resp.Header.Get("Cache-Control") != "public, max-age=300, must-revalidate" {
			t.Fatalf("/static/app.css = %d %v", resp.StatusCode, resp.Header)
		}
		v := strings.Trim(resp.Header.Get("ETag"), `"`)
		resp = get("/static/app.css?v=" + v)
		if resp.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" {
			t.Fatalf("versioned app.css Cache-Control = %q", resp.Header.Get("Cache-Control"))
		}
		for path, ct := range map[string]string{
			"/widgets/v1/loginsign.js": "text/javascript; charset=utf-8", "/widgets/v1/loginsign.css": "text/css; charset=utf-8",
			"/brand/icon-light.svg": "image/svg+xml", "/brand/icon-dark.svg": "image/svg+xml",
		} {
			resp := get(path)
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != ct || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("GET %s = %d %q", path, resp.StatusCode, resp.Header.Get("Content-Type"))
			}
		}
		for _, path := range []string{"/static/nope.css", "/static/../server.go", "/widgets/v2/loginsign.js", "/static/"} {
			if resp := get(path); resp.StatusCode == http.StatusOK {
				t.Errorf("GET %s = %d, want no file", path, resp.StatusCode)
			}
		}
	})

	t.Run("embeds refuse unknown apps and unregistered redirect URIs", func(t *testing.T) {
		for path, want := range map[string]int{
			"/embed/login":                                        http.StatusBadRequest,
			"/embed/login?client_id=app_nope":                     http.StatusNotFound,
			"/embed/banner?client_id=app_nope":                    http.StatusNotFound,
			"/embed/banner?client_id=" + strings.Repeat("x", 200): http.StatusBadRequest,
		} {
			resp := get(path)
			if resp.StatusCode != want {
				t.Errorf("GET %s = %d, want %d", path, resp.StatusCode, want)
			}
			if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
				t.Errorf("GET %s: an error page must not be framable: %q", path, resp.Header.Get("Content-Security-Policy"))
			}
		}
	})
}

// TestPagesInBrowser drives the pages in headless Chromium: a developer creates an app in the
// portal, a person signs in to it through the Login Button, the developer sees the person and
// generates license codes, the person redeems one and removes the app in the dashboard, and the
// app's webhook receiver hears connection_deleted. Every page is photographed at desktop and
// phone widths and its first-load transfer size is logged.
func TestPagesInBrowser(t *testing.T) {
	for name, dbURL := range storetest.URLs(t) {
		t.Run(name, func(t *testing.T) { browserStory(t, dbURL, name == "sqlite") })
	}
}

func browserStory(t *testing.T, dbURL string, photograph bool) {
	ls := startLiveServer(t, dbURL)
	b := newChrome(t)
	if !photograph {
		b.shots = t.TempDir()
	}
	defer b.report()
	sample := startSampleApp(t, ls.URL)
	api := ls.graphQLFields(t)
	ctx := context.Background()

	dev, err := ls.identity.CreateUser(ctx, "dev@example.com", "Dana Developer")
	if err != nil {
		t.Fatal(err)
	}
	person, err := ls.identity.CreateUser(ctx, "ann@example.com", "Ann Example")
	if err != nil {
		t.Fatal(err)
	}

	devTab := b.tab("developer")
	ls.signInByCookie(t, devTab, dev.ID)
	personTab := b.tab("person")

	var clientID string
	t.Run("developer creates an app in the portal", func(t *testing.T) {
		devTab.measure(t, "portal-apps", ls.URL+"/portal/apps", "#create-app")
		devTab.do(t,
			chromedp.SendKeys(`#create-app input[name=name]`, "Sample Notes"),
			chromedp.SendKeys(`#create-app input[name=website]`, sample.URL),
			chromedp.SendKeys(`#create-app textarea[name=redirectUris]`, sample.RedirectURI()),
			chromedp.SendKeys(`#create-app input[name=webhookUrl]`, sample.URL+"/webhook"),
			chromedp.SendKeys(`#create-app textarea[name=allowedOrigins]`, sample.SameSiteURL),
			chromedp.Click(`#create-app button[type=submit]`),
			chromedp.WaitVisible(`[data-secret="Client secret"]`),
		)
		clientID = devTab.text(t, `[data-client-id]`)
		secret := devTab.text(t, `[data-secret="Client secret"]`)
		if !strings.HasPrefix(secret, "lss_") || clientID == "" {
			t.Fatalf("created app shows client id %q and secret %q", clientID, secret)
		}
		if !strings.HasPrefix(devTab.text(t, `[data-secret="Webhook secret"]`), "whsec_") {
			t.Fatal("the webhook secret is not shown once")
		}
		sample.setClient(clientID, secret)
		devTab.waitFor(t, `document.querySelector('[data-app="`+clientID+`"]')`)
		devTab.shot(t, "portal-apps")
	})
	if clientID == "" {
		t.FailNow()
	}

	t.Run("the post-create panel shows the quickstart until acknowledged", func(t *testing.T) {
		value := func(label string) string {
			return evalIn[string](t, devTab, `document.querySelector('#created-app [data-qs="`+label+`"] .qs-value').textContent`)
		}
		if got := value("Issuer"); got != ls.URL {
			t.Errorf("issuer %q, want %q", got, ls.URL)
		}
		if got := value("Discovery URL"); got != ls.URL+"/.well-known/openid-configuration" {
			t.Errorf("discovery URL %q", got)
		}
		au, err := url.Parse(value("Authorize URL"))
		if err != nil || au.Query().Get("client_id") != clientID || au.Query().Get("redirect_uri") != sample.RedirectURI() ||
			au.Query().Get("code_challenge_method") != "S256" || ls.URL+au.Path != ls.URL+"/oauth/authorize" {
			t.Errorf("authorize URL %q", value("Authorize URL"))
		}
		if c := value("Token request (curl)"); !strings.Contains(c, ls.URL+"/oauth/token") || !strings.Contains(c, clientID) {
			t.Errorf("token curl:\n%s", c)
		}
		for _, p := range []string{"node", "python", "go"} {
			prog := evalIn[string](t, devTab, `document.querySelector('#created-app [data-program="`+p+`"] .qs-value').textContent`)
			if !strings.Contains(prog, clientID) || !strings.Contains(prog, "LOGINSIGN_CLIENT_SECRET") {
				t.Errorf("%s program:\n%s", p, prog)
			}
		}
		if n := evalIn[int](t, devTab, `document.querySelectorAll('#created-app [data-copy]').length`); n < 8 {
			t.Errorf("%d Copy buttons in the panel", n)
		}
		if !evalIn[bool](t, devTab, `document.querySelector('#qs-done').disabled`) {
			t.Fatal("Done is enabled before the secret is acknowledged")
		}
		devTab.do(t, chromedp.Click(`#qs-done`, chromedp.NodeReady))
		if evalIn[bool](t, devTab, `!document.querySelector('#created-app')`) {
			t.Fatal("the panel closed without the acknowledgement")
		}
		devTab.shot(t, "portal-created-app")
		devTab.do(t, chromedp.Click(`#qs-ack`), chromedp.Click(`#qs-done`))
		devTab.waitFor(t, `!document.querySelector('#created-app') && document.querySelector('#create-app .alert.ok')`)
	})

	t.Run("widgets render on the app's page", func(t *testing.T) {
		personTab.measure(t, "sample-app-with-widgets", sample.URL+"/", "#signin a.loginsign-btn")
		href := evalIn[string](t, personTab, `document.querySelector('#signin a').href`)
		u, err := url.Parse(href)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		stored := evalIn[string](t, personTab, `sessionStorage.getItem("loginsign:state")`)
		if u.Scheme+"://"+u.Host != ls.URL || u.Path != "/oauth/authorize" || q.Get("client_id") != clientID ||
			q.Get("redirect_uri") != sample.RedirectURI() || q.Get("response_type") != "code" ||
			q.Get("scope") != "openid email profile" || len(q.Get("state")) < 20 {
			t.Fatalf("login button goes to %s", href)
		}
		if n := evalIn[int](t, personTab, `document.querySelectorAll('a.loginsign-btn').length`); n != 3 {
			t.Fatalf("%d login buttons rendered, want 3", n)
		}
		if got := evalIn[string](t, personTab, `document.querySelector('#menu summary').getAttribute('aria-label')`); got != "Ann Example, account menu" {
			t.Fatalf("user menu label %q", got)
		}
		if stored == "" {
			t.Fatal("no state in sessionStorage")
		}
		// The same widgets from JavaScript.
		got := evalIn[string](t, personTab, `(() => {
			const el = document.createElement("div");
			document.body.appendChild(el);
			const a = LoginSign.render(el, {widget: "button", clientId: "app_js", redirectUri: "https://app.example/cb",
				shape: "circle", size: "small", theme: "dark", label: "Go"});
			let unknown = "";
			try { LoginSign.render(el, {widget: "nope"}); } catch (e) { unknown = e.message; }
			el.remove();
			return [a.className, a.getAttribute("aria-label"), new URL(a.href).searchParams.get("client_id"), unknown].join("|");
		})()`)
		if want := "loginsign-btn loginsign-small loginsign-circle loginsign-dark|Go|app_js|LoginSign: unknown widget nope"; got != want {
			t.Errorf("LoginSign.render = %q, want %q", got, want)
		}
		personTab.do(t, chromedp.Click(`#menu summary`), chromedp.WaitVisible(`.loginsign-menu-panel`))
		personTab.shot(t, "widgets-sample-app")

		personTab.measure(t, "sample-app-embedded-login+banner", sample.URL+"/embedded", "#login iframe")
		personTab.waitFor(t, `document.querySelector('#login iframe').offsetHeight > 100`)
		personTab.shot(t, "widgets-embedded-login")
	})

	t.Run("embedded login page continues in the top window", func(t *testing.T) {
		if !ls.routeExists(t, "/login") {
			t.Fatal("GET /login answers 404")
		}
		visitor := b.tab("visitor")
		visitor.open(t, sample.SameSiteURL+"/embedded", "#login iframe")
		frames, err := chromedp.Run(visitor.ctx, chromedp.Nodes(`#login iframe`, chromedp.Populate(-1, true)))
		if err != nil || len(frames) != 1 || frames[0].ContentDocument == nil {
			t.Fatalf("login iframe: %v", err)
		}
		doc := frames[0].ContentDocument
		visitor.do(t, chromedp.WaitVisible(`#email`, chromedp.FromNode(doc)),
			chromedp.SendKeys(`#email`, "visitor@example.com", chromedp.FromNode(doc)),
			chromedp.Click(`button[type=submit]`, chromedp.FromNode(doc)))
		visitor.waitFor(t, `location.origin === "`+ls.URL+`" && document.querySelector('input[type=email]')`)
		if got := evalIn[string](t, visitor, `document.querySelector('input[type=email]').value`); got != "visitor@example.com" {
			t.Errorf("the sign-in page in the top window has %q, want the address typed in the widget", got)
		}
	})

	t.Run("embeds may be framed only by the app's origins", func(t *testing.T) {
		for _, path := range []string{
			"/embed/login?client_id=" + clientID + "&redirect_uri=" + url.QueryEscape(sample.RedirectURI()),
			"/embed/banner?client_id=" + clientID,
		} {
			resp, err := http.Get(ls.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			csp := resp.Header.Get("Content-Security-Policy")
			_, ancestors, _ := strings.Cut(csp, "frame-ancestors ")
			if want := sample.SameSiteURL + " " + sample.URL; resp.StatusCode != 200 || ancestors != want || resp.Header.Get("X-Frame-Options") != "" {
				t.Errorf("GET %s = %d, CSP %q", path, resp.StatusCode, csp)
			}
		}
		resp, err := http.Get(ls.URL + "/embed/login?client_id=" + clientID + "&redirect_uri=" + url.QueryEscape("https://evil.example/cb"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("embed login with an unregistered redirect URI = %d, want 400", resp.StatusCode)
		}
	})

	var signedIn bool
	t.Run("person signs in through the Login Button and consents", func(t *testing.T) {
		if !ls.routeExists(t, "/oauth/authorize?client_id="+clientID) || !ls.routeExists(t, "/login") {
			t.Fatal("/oauth/authorize or /login answers 404")
		}
		personTab.open(t, sample.URL+"/", "#signin a.loginsign-btn")
		personTab.do(t, chromedp.Click(`#signin a.loginsign-btn`), chromedp.WaitVisible(`input[type=email]`))
		personTab.shot(t, "signin-email")
		personTab.do(t, chromedp.SendKeys(`input[type=email]`, person.Email), chromedp.Submit(`input[type=email]`))
		link := ls.nextLink(t, person.Email)
		personTab.waitFor(t, `document.querySelector('#sent-to') && document.querySelector('#sent-to').textContent === "`+person.Email+`"`)
		personTab.shot(t, "signin-link-sent")
		personTab.open(t, link, "#magic-form[data-guarded] button[type=submit]")
		personTab.shot(t, "signin-magic-link")
		personTab.do(t, press(`#magic-form button[type=submit]`))
		personTab.waitFor(t, `location.href.startsWith("`+sample.RedirectURI()+`") || document.querySelector('input[type=radio]')`)
		shownAlias := ""
		if evalIn[bool](t, personTab, `!!document.querySelector('input[type=radio]')`) {
			personTab.shot(t, "consent")
			// The page names the exact private address the app will get.
			shownAlias = evalIn[string](t, personTab, `document.querySelector('label.address em').textContent`)
			// Choose the private relay address (the first choice), then allow.
			personTab.do(t, chromedp.Click(`input[type=radio]`), press(`button[value=allow]`))
		}
		personTab.waitFor(t, `location.href.startsWith("`+sample.RedirectURI()+`?") && document.querySelector('#done')`)
		// The callback page can check the state against what the widget kept in sessionStorage.
		code, state := personTab.text(t, "#code"), personTab.text(t, "#state")
		if kept := evalIn[string](t, personTab, `sessionStorage.getItem("loginsign:state")`); code == "" || len(state) < 20 || kept != state {
			t.Fatalf("landed with code %q state %q; the widget kept state %q", code, state, kept)
		}
		sample.mu.Lock()
		defer sample.mu.Unlock()
		if sample.exchangeErr != nil || len(sample.exchanged) == 0 || sample.exchanged[0].AccessToken == "" {
			t.Fatalf("the app's backend could not exchange the code: %v", sample.exchangeErr)
		}
		c, err := ls.db.AppConnection.Query().Where(appconnection.ApplicationID(clientID), appconnection.UserID(person.ID)).Only(ctx)
		if err != nil || shownAlias == "" || c.AliasEmail != shownAlias {
			t.Fatalf("consent showed the alias %q; the connection has %+v (%v)", shownAlias, c, err)
		}
		signedIn = true
	})

	t.Run("popup mode signs in in a popup that lands on the redirect URI", func(t *testing.T) {
		if !signedIn {
			t.Fatal("the sign-in above failed")
		}
		personTab.open(t, sample.URL+"/", `a.loginsign-btn[data-loginsign-mode="popup"]`)
		popup := chromedp.WaitNewTarget(personTab.ctx, func(info *target.Info) bool { return true })
		personTab.do(t, chromedp.Click(`a.loginsign-btn[data-loginsign-mode="popup"]`))
		var id target.ID
		select {
		case id = <-popup:
		case <-time.After(browserWait):
			t.Fatal("no popup opened")
		}
		pctx, cancel := chromedp.NewContext(personTab.ctx, chromedp.WithTargetID(id))
		defer cancel()
		deadline := time.Now().Add(browserWait)
		for {
			loc, err := chromedp.Run(pctx, chromedp.Location())
			if err == nil && strings.HasPrefix(loc, sample.RedirectURI()+"?code=") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("popup is at %s (%v), want the redirect URI with a code", loc, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if loc := personTab.location(); !strings.HasPrefix(loc, sample.URL+"/") || strings.Contains(loc, "code=") {
			t.Fatalf("the opener moved to %s", loc)
		}
	})

	t.Run("banner offers to continue as the signed-in person", func(t *testing.T) {
		if !signedIn {
			ls.signInByCookie(t, personTab, person.ID)
		}
		personTab.open(t, sample.SameSiteURL+"/embedded", "#banner iframe.loginsign-banner")
		personTab.waitFor(t, `!document.querySelector('#banner iframe').classList.contains('loginsign-pending')`)
		personTab.shot(t, "widgets-banner")
		frames, err := chromedp.Run(personTab.ctx, chromedp.Nodes(`#banner iframe`, chromedp.Populate(-1, true)))
		if err != nil || len(frames) != 1 || frames[0].ContentDocument == nil {
			t.Fatalf("banner iframe: %v %v", frames, err)
		}
		label, err := chromedp.Run(personTab.ctx, chromedp.Text(`#continue`, chromedp.FromNode(frames[0].ContentDocument)))
		if err != nil || label != "Continue as Ann Example" {
			t.Fatalf("banner button says %q (%v)", label, err)
		}
		personTab.do(t, chromedp.Click(`#continue`, chromedp.FromNode(frames[0].ContentDocument)))
		personTab.waitFor(t, `location.href.startsWith("`+ls.URL+`/oauth/authorize?") || location.href.startsWith("`+sample.RedirectURI()+`?")`)
		loc := personTab.location()
		if strings.HasPrefix(loc, ls.URL+"/oauth/authorize?") {
			u, _ := url.Parse(loc)
			if u.Query().Get("client_id") != clientID || u.Query().Get("redirect_uri") != sample.RedirectURI() {
				t.Fatalf("banner started authorize at %s", loc)
			}
		}
	})

	t.Run("developer sees the person in the users table", func(t *testing.T) {
		if !signedIn {
			t.Fatal("the sign-in above failed")
		}
		requireAPI(t, api, "application")
		devTab.measure(t, "portal-users", ls.URL+"/portal/users?app="+clientID, "#users")
		devTab.waitFor(t, `document.querySelector('[data-user="`+person.GlobalID+`"]')`)
		devTab.shot(t, "portal-users")
		devTab.do(t, chromedp.SendKeys(`#user-search`, "nobody-here"), chromedp.Click(`#users form[role=search] button`))
		devTab.waitFor(t, `!document.querySelector('[data-user]') && document.querySelector('[data-slot="user-count"]').textContent === "0 users"`)
		devTab.do(t, chromedp.SetValue(`#user-search`, person.GlobalID), chromedp.Click(`#users form[role=search] button`))
		devTab.waitFor(t, `document.querySelectorAll('[data-user]').length === 1`)
	})

	var code string
	t.Run("developer generates license codes", func(t *testing.T) {
		requireAPI(t, api, "application", "addLicenseVariant", "createLicenseCodes")
		devTab.measure(t, "portal-licenses", ls.URL+"/portal/licenses?app="+clientID, "#variant-form")
		devTab.do(t, chromedp.SendKeys(`#variant-name`, "Pro"), chromedp.SendKeys(`#variant-description`, "Everything, forever"),
			chromedp.Click(`#variant-form button[type=submit]`))
		devTab.waitFor(t, `document.querySelector('#generate-variant option')`)
		devTab.do(t, chromedp.SetValue(`#generate-count`, "3"), chromedp.Click(`#generate-form button[type=submit]`), chromedp.WaitVisible(`#generated-codes`))
		codes := strings.Fields(evalIn[string](t, devTab, `document.querySelector('#generated-codes').value`))
		if len(codes) != 3 {
			t.Fatalf("generated %v, want 3 codes", codes)
		}
		code = codes[0]
		devTab.waitFor(t, `document.querySelector('[data-code="`+code+`"]')`)
		devTab.do(t, chromedp.SendKeys(`#upload-codes`, "SHOP-2026-0001\nSHOP-2026-0002\n"+codes[1]+"\n"), chromedp.Click(`#upload-form button[type=submit]`))
		devTab.waitFor(t, `document.querySelector('#upload-form .alert')`)
		if got := devTab.text(t, `#upload-form .alert`); !strings.HasPrefix(got, "2 added, 1 duplicate,") {
			t.Errorf("upload answered %q", got)
		}
		devTab.shot(t, "portal-licenses")
		devTab.do(t, chromedp.SendKeys(`#code-search`, code), chromedp.Click(`#codes form[role=search] button`))
		devTab.waitFor(t, `document.querySelectorAll('[data-code]').length === 1`)
	})

	t.Run("person redeems a code in the dashboard", func(t *testing.T) {
		if !signedIn || code == "" {
			t.Fatal("the sign-in or the generated codes above failed")
		}
		requireAPI(t, api, "claimLicenseCode")
		personTab.measure(t, "dashboard", ls.URL+"/dashboard", "#redeem-form")
		personTab.waitFor(t, `document.querySelector('#redeem-app option')`)
		personTab.do(t, chromedp.SendKeys(`#redeem-code`, code), chromedp.Click(`#redeem-form button[type=submit]`))
		personTab.waitFor(t, `document.querySelector('#licenses table') && document.querySelector('#licenses table').textContent.includes("`+code+`")`)
	})

	t.Run("developer checks a redirect URI and rotates the client secret", func(t *testing.T) {
		requireAPI(t, api, "application", "redirectUriCheck", "resetClientSecret")
		devTab.open(t, ls.URL+"/portal/apps/"+clientID, "#redirect-list li button")
		devTab.waitFor(t, `document.querySelector('#quickstart [data-qs="Issuer"] .qs-value')`)
		if got := evalIn[string](t, devTab, `document.querySelector('#quickstart [data-qs="Authorize URL"] .qs-value').textContent`); !strings.Contains(got, "client_id="+clientID) {
			t.Errorf("the app page's quickstart authorize URL %q", got)
		}
		devTab.do(t, chromedp.Click(`#redirect-list li button`))
		devTab.waitFor(t, `document.querySelector('#redirect-list .badge').textContent.startsWith("ok")`)
		devTab.do(t, chromedp.Click(`//button[text()="Reset client secret"]`), chromedp.Click(`//button[starts-with(text(), "Confirm: the old secret")]`), chromedp.WaitVisible(`#credentials [data-secret="Client secret"]`))
		if s := devTab.text(t, `#credentials [data-secret="Client secret"]`); !strings.HasPrefix(s, "lss_") {
			t.Fatalf("rotated secret %q", s)
		}
		devTab.shot(t, "portal-app-settings-rotated")
	})

	t.Run("developer sends a test webhook and sees it in the delivery log", func(t *testing.T) {
		requireAPI(t, api, "pingWebhook", "retryWebhookEvent")
		devTab.open(t, ls.URL+"/portal/synchronisation?app="+clientID, "#sync-tests button")
		devTab.do(t, chromedp.Click(`//button[text()="Send a test webhook"]`))
		devTab.waitFor(t, `document.querySelector('#sync-results .alert')`)
		sample.waitWebhook(t, "ping")
		devTab.open(t, ls.URL+"/portal/synchronisation?app="+clientID, `#deliveries tr[data-event="ping"]`)
		devTab.do(t, chromedp.Click(`#deliveries tr[data-event="ping"] button`))
		devTab.waitFor(t, `document.querySelector('#deliveries .form-status').textContent.includes("Sent again")`)
	})

	t.Run("developer imports existing users: every row is a proposal", func(t *testing.T) {
		requireAPI(t, api, "importAppUsers", "undoImport")
		devTab.open(t, ls.URL+"/portal/synchronisation?app="+clientID+"#import-existing-users", "#import-form")
		devTab.do(t, chromedp.SendKeys(`#import-name`, "Old accounts"),
			chromedp.SendKeys(`#import-csv`, "externalUserId,email,name\n42,ann@example.com,Ann Example\n43,nobody@example.com,No One\n"),
			chromedp.Click(`#import-form button[type=submit]`))
		devTab.waitFor(t, `document.querySelectorAll('#import-results tbody tr').length === 2`)
		// A known and an unknown address read the same: the developer learns nothing.
		rows := evalIn[[]string](t, devTab, `[...document.querySelectorAll('#import-results tbody tr td:nth-child(4)')].map(td => td.textContent)`)
		if len(rows) != 2 || rows[0] != "proposed" || rows[1] != "proposed" {
			t.Fatalf("import results: %v", rows)
		}
		devTab.shot(t, "portal-import")
	})

	t.Run("person accepts the proposal on the app's consent page", func(t *testing.T) {
		if !signedIn {
			t.Fatal("the sign-in above failed")
		}
		requireAPI(t, api, "refusePendingLink")
		personTab.open(t, ls.URL+"/dashboard", "#apps")
		personTab.waitFor(t, `!document.querySelector('#pending-links').hidden && document.querySelector('#pending-links').textContent.includes("42")`)
		personTab.shot(t, "dashboard-pending-link")
		// An import alone does not bring the consent page back for a person who already
		// consented (it would tell the app its guess was right); the app offers the link by
		// asking for the page (prompt=consent), which names the app's record of the person.
		offer := url.Values{"client_id": {clientID}, "redirect_uri": {sample.RedirectURI()}, "response_type": {"code"},
			"scope": {"openid email profile"}, "state": {"offer-link"}, "prompt": {"consent"}}
		personTab.open(t, ls.URL+"/oauth/authorize?"+offer.Encode(), "#known-as")
		if known := personTab.text(t, "#known-as"); !strings.Contains(known, "42") || !strings.Contains(known, "Sample Notes") {
			t.Fatalf("consent page says %q", known)
		}
		personTab.shot(t, "consent-known-as")
		personTab.do(t, press(`button[value=allow_link]`))
		personTab.waitFor(t, `location.href.startsWith("`+sample.RedirectURI()+`?") && document.querySelector('#done')`)
		c, err := ls.db.AppConnection.Query().Where(appconnection.ApplicationID(clientID), appconnection.UserID(person.ID)).Only(ctx)
		if err != nil || c.ExternalUserID != "42" {
			t.Fatalf("after allowing, the connection is %+v (%v)", c, err)
		}
		personTab.open(t, ls.URL+"/dashboard", "#apps")
		personTab.waitFor(t, `document.querySelector('#pending-links').hidden`)
	})

	t.Run("developer rolls the import back", func(t *testing.T) {
		requireAPI(t, api, "undoImport")
		devTab.do(t, chromedp.Click(`#import-results button`), chromedp.Click(`#import-results button`))
		devTab.waitFor(t, `document.querySelector('#imports-status').textContent.includes("rolled back")`)
		if status := devTab.text(t, "#imports-status"); !strings.Contains(status, "1 proposal withdrawn, 0 connections removed") {
			t.Fatalf("rollback says %q", status)
		}
	})

	t.Run("person mutes mail and adds an address", func(t *testing.T) {
		if !signedIn {
			t.Fatal("the sign-in above failed")
		}
		requireAPI(t, api, "setAppEmailMuted", "addEmail", "setPrimaryEmail")
		personTab.open(t, ls.URL+"/dashboard", "#apps li[data-connection] input[type=checkbox]")
		personTab.do(t, chromedp.Click(`#apps li[data-connection] input[type=checkbox]`))
		personTab.waitFor(t, `document.querySelector('#apps li[data-connection]').textContent.includes("muted.")`)
		// Adding an address takes a code mailed to the person (a copied session cookie must not
		// add its thief's address): without it the address is refused and nothing is mailed.
		personTab.do(t, chromedp.SendKeys(`#add-email`, "ann.work@example.com"), chromedp.Click(`#add-email-form button`))
		personTab.waitFor(t, `document.body.textContent.includes("enter the confirmation code we mail to your address")`)
		if n := ls.db.UserEmail.Query().Where(useremail.Email("ann.work@example.com")).CountX(ctx); n != 0 {
			t.Fatal("an address was added without the mailed code")
		}
		code := ls.mailedChangeCode(t, personTab, person.Email, `#address-code-send`)
		personTab.waitFor(t, `document.body.textContent.includes("We mailed a code to `+person.Email+`")`)
		if focused := evalIn[string](t, personTab, `document.activeElement ? document.activeElement.id : ""`); focused != "address-code" {
			t.Errorf("after the code was mailed the focus is on %q, not the code field it is typed into", focused)
		}
		personTab.shot(t, "dashboard-address-code-mailed")
		personTab.do(t, chromedp.SendKeys(`#address-code`, code), chromedp.Click(`#add-email-form button`))
		personTab.waitFor(t, `document.querySelector('#addresses').textContent.includes("ann.work@example.com")`)
		link := ls.nextLink(t, "ann.work@example.com")
		personTab.open(t, link, "button[type=submit]")
		personTab.shot(t, "verify-address")
		personTab.do(t, chromedp.Click(`button[type=submit]`))
		personTab.waitFor(t, `document.querySelector('h1').textContent === "Address confirmed"`)
		personTab.open(t, ls.URL+"/dashboard", "#addresses li")
		personTab.waitFor(t, `document.querySelector('#addresses').textContent.includes("verified")`)
		// Sample Notes is shown the primary address (as if the person had chosen it on the
		// consent page): it follows a new primary, so the button names it before it acts.
		c, err := ls.db.AppConnection.Query().Where(appconnection.ApplicationID(clientID), appconnection.UserID(person.ID)).Only(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ls.db.AppConnection.UpdateOne(c).SetAppEmail(person.Email).ExecX(ctx)
		personTab.open(t, ls.URL+"/dashboard", "#addresses li button")
		code = ls.mailedChangeCode(t, personTab, person.Email, `#address-code-send`)
		personTab.do(t, chromedp.SendKeys(`#address-code`, code), chromedp.Click(`//button[text()="Make primary"]`))
		personTab.waitFor(t, `[...document.querySelectorAll('#addresses button')].some(b => b.textContent === "Confirm: Sample Notes will see this address")`)
		if now, _ := ls.identity.User(ctx, person.ID); now.Email != person.Email {
			t.Fatal("the first click of Make primary changed the primary address")
		}
		personTab.do(t, chromedp.Click(`//button[text()="Confirm: Sample Notes will see this address"]`))
		personTab.waitFor(t, `document.querySelector('#addresses li strong') && document.querySelector('#addresses li strong').textContent === "ann.work@example.com"`)
		personTab.waitFor(t, `document.querySelector('#status').textContent !== ""`)
		if status := personTab.text(t, "#status"); !strings.Contains(status, "Sample Notes now see it") {
			t.Errorf("after making ann.work primary the page says %q", status)
		}
		if c, _ := ls.db.AppConnection.Get(ctx, c.ID); c.AppEmail != "ann.work@example.com" {
			t.Errorf("Sample Notes is shown %q after the change", c.AppEmail)
		}
	})

	t.Run("app asks to change the person's address and the person confirms", func(t *testing.T) {
		if !signedIn {
			t.Fatal("the sign-in above failed")
		}
		u, err := ls.identity.User(ctx, person.ID)
		if err != nil {
			t.Fatal(err)
		}
		c, err := ls.db.AppConnection.Query().Where(appconnection.ApplicationID(clientID), appconnection.UserID(person.ID)).Only(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// The app's backend calls the email-sync route (here from the developer's portal tab).
		devTab.open(t, ls.URL+"/portal/apps", "main")
		evalIn[bool](t, devTab, `(window.__sync = null, fetch("/api/developer/applications/`+clientID+`/users/`+c.ID+`/email",
			{method: "PATCH", headers: {"Content-Type": "application/json"}, body: JSON.stringify({email: "ann.home@example.com"})})
			.then(r => r.text()).then(t => window.__sync = t), true)`)
		devTab.waitFor(t, `window.__sync`)
		if got := evalIn[string](t, devTab, `window.__sync`); got != `{"ok":true,"changed":false,"pending":true}`+"\n" {
			t.Fatalf("email sync answered %q", got)
		}
		if still, _ := ls.identity.User(ctx, person.ID); still.Email != u.Email {
			t.Fatal("the request changed the address before the person confirmed")
		}
		// The old address gets a "this wasn't me" notice; the new one the confirmation.
		cancel := ls.nextLink(t, u.Email)
		confirm := ls.nextLink(t, "ann.home@example.com")
		if !strings.Contains(cancel, "/account/email-change/cancel?") || !strings.Contains(confirm, "/account/email-change/confirm?") {
			t.Fatalf("links: cancel %s confirm %s", cancel, confirm)
		}
		personTab.open(t, confirm, "#confirm-submit")
		if msg := personTab.text(t, "#confirm-message"); !strings.Contains(msg, "Sample Notes asked to make ann.home@example.com") {
			t.Fatalf("confirmation page says %q", msg)
		}
		personTab.shot(t, "email-change-confirm")
		// The confirmation takes the person's second step too: a code mailed to the address
		// this session's sign-in proved (the first one, now an alternative address), which the
		// page's button asks for.
		code := ls.mailedChangeCode(t, personTab, person.Email, `#confirm-send-code`)
		personTab.waitFor(t, `document.querySelector('#confirm-message').textContent.includes("We mailed a confirmation code to `+person.Email+`")`)
		personTab.do(t, chromedp.SendKeys(`#confirm-code`, code), chromedp.Click(`#confirm-submit`))
		personTab.waitFor(t, `document.querySelector('h1').textContent === "Primary address changed"`)
		if now, _ := ls.identity.User(ctx, person.ID); now.Email != "ann.home@example.com" {
			t.Fatalf("primary address is %s after confirming", now.Email)
		}
		// The cancel link of a confirmed request only explains (410 Gone).
		personTab.allow("410 (Gone)")
		personTab.open(t, cancel, "h1")
		if h := personTab.text(t, "h1"); h != "Link not valid" {
			t.Fatalf("cancel page after confirming: %q", h)
		}
		personTab.shot(t, "email-change-cancel-used")
	})

	t.Run("every page, photographed", func(t *testing.T) {
		if !signedIn {
			ls.signInByCookie(t, personTab, person.ID)
		}
		personTab.measure(t, "dashboard", ls.URL+"/dashboard", "#apps")
		personTab.waitFor(t, `!document.querySelector('#apps .empty') || document.querySelector('#apps .empty').textContent !== "Loading…"`)
		personTab.shot(t, "dashboard")
		personTab.checkLabels(t, "dashboard")
		personTab.darkShot(t, "dashboard")
		for _, p := range []struct{ name, path, sel string }{
			{"portal-overview", "/portal?app=" + clientID, "#apps-card"},
			{"portal-app-settings", "/portal/apps/" + clientID, "#redirect-uris"},
			{"portal-users", "/portal/users?app=" + clientID, "#users"},
			{"portal-licenses", "/portal/licenses?app=" + clientID, "#codes"},
			{"portal-synchronisation", "/portal/synchronisation?app=" + clientID, "#import-existing-users"},
		} {
			// Wait for the view, or for the error it shows when its API is missing (the console
			// error then fails the test, but every page still gets its picture).
			devTab.measure(t, p.name, ls.URL+p.path, "#view")
			devTab.waitFor(t, `document.querySelector("`+p.sel+`") || document.querySelector("#view > .alert.error")`)
			devTab.shot(t, p.name)
			devTab.checkLabels(t, p.name)
		}
		devTab.darkShot(t, "portal-licenses")
		devTab.measure(t, "playground", ls.URL+"/playground", ".graphiql-container")
		// It opens on the saved analytics example, which runs as the signed-in developer.
		devTab.waitFor(t, `document.querySelector('.graphiql-query-editor') && document.querySelector('.graphiql-query-editor').innerText.includes("query MyAnalytics")`)
		devTab.do(t, chromedp.Click(`.graphiql-execute-button`))
		devTab.waitFor(t, `document.querySelector('.graphiql-response') && document.querySelector('.graphiql-response').innerText.includes('"data"')`)
		if got := evalIn[string](t, devTab, `document.querySelector('.graphiql-response').innerText`); !strings.Contains(got, "Sample Notes") || strings.Contains(got, `"errors"`) {
			t.Fatalf("the example query answered:\n%s", got)
		}
		devTab.shot(t, "playground-example")
		// The schema loaded: the documentation explorer lists the root types.
		devTab.do(t, chromedp.Click(`[aria-label*="Documentation Explorer"]`))
		devTab.waitFor(t, `document.body.innerText.includes("Root Types")`)
		devTab.shot(t, "playground")
	})

	t.Run("person removes the app and the app hears connection_deleted", func(t *testing.T) {
		if !signedIn {
			t.Fatal("the sign-in above failed")
		}
		requireAPI(t, api, "disconnectApp")
		personTab.open(t, ls.URL+"/dashboard", "#apps li[data-connection] button")
		personTab.do(t, chromedp.Click(`#apps li[data-connection] button`), chromedp.Click(`#apps li[data-connection] button`))
		personTab.waitFor(t, `!document.querySelector('#apps li[data-connection]')`)
		hook := sample.waitWebhook(t, "connection_deleted")
		if hook == nil {
			t.Fatal("no webhook")
		}
		personTab.shot(t, "dashboard-after-removal")
	})

	t.Run("person signs out everywhere else", func(t *testing.T) {
		if !signedIn {
			t.Fatal("the sign-in above failed")
		}
		requireAPI(t, api, "revokeOtherSessions")
		if _, err := ls.identity.Sessions.Create(ctx, person.ID, "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Safari/604.1", "192.0.2.7"); err != nil {
			t.Fatal(err)
		}
		personTab.open(t, ls.URL+"/dashboard", "#sessions li")
		personTab.waitFor(t, `document.querySelectorAll('#sessions li').length >= 2`)
		personTab.do(t, chromedp.Click(`#sign-out-others`))
		personTab.waitFor(t, `document.querySelectorAll('#sessions li').length === 1 && document.querySelector('#sessions').textContent.includes("this browser")`)
	})

	t.Run("check your email: resend counts down, the 6-digit code signs in", func(t *testing.T) {
		ls.oauth.Config.ResendAfter = 5 * time.Second
		defer func() { ls.oauth.Config.ResendAfter = 30 * time.Second }()
		const who = "cody@example.com"
		tb := b.tab("code")
		tb.allow("status of 400")
		tb.open(t, sample.URL+"/", "#signin a.loginsign-btn")
		tb.do(t, chromedp.Click(`#signin a.loginsign-btn`), chromedp.WaitVisible(`input[type=email]`),
			chromedp.SendKeys(`input[type=email]`, who), chromedp.Submit(`input[type=email]`))
		tb.waitFor(t, `document.querySelector('#sent-to') && document.querySelector('#sent-to').textContent === "`+who+`"`)
		// Looked at as soon as the page shows, before waiting for the mail: on a loaded machine
		// the mail can take longer than the countdown.
		if !evalIn[bool](t, tb, `document.querySelector('#resend').disabled && /in \d+ s/.test(document.querySelector('#resend-countdown').textContent)`) {
			t.Error("the resend button does not count down")
		}
		first := ls.mailCode(t, who, 1)
		tb.shot(t, "signin-check-email")
		tb.measure(t, "check your email (/login/sent)", tb.location(), "#sent-to")
		// Resend once the countdown is over: a new link and code; the first code is void.
		tb.waitFor(t, `!document.querySelector('#resend').disabled`)
		tb.do(t, chromedp.Click(`#resend`))
		tb.waitFor(t, `location.hash === "#resent" && document.querySelector('#resend').disabled`)
		second := ls.mailCode(t, who, 2)
		if first == second {
			t.Log("the new code equals the old one by chance")
		}
		wrong := "000000"
		if second == wrong {
			wrong = "111111"
		}
		tb.do(t, chromedp.SendKeys(`#code`, wrong), chromedp.Submit(`#code`))
		tb.waitFor(t, `document.querySelector('#code-error') && document.querySelector('#code').getAttribute('aria-invalid') === "true"`)
		if msg := evalIn[string](t, tb, `document.querySelector('#code-error').textContent`); !strings.Contains(msg, "4 attempts left") {
			t.Errorf("a wrong code says %q", msg)
		}
		tb.shot(t, "signin-code-wrong")
		tb.do(t, chromedp.SendKeys(`#code`, second[:3]+" "+second[3:]), chromedp.Submit(`#code`))
		tb.waitFor(t, `location.href.startsWith("`+sample.RedirectURI()+`?") || document.querySelector('button[value=allow]')`)
		if evalIn[bool](t, tb, `!!document.querySelector('button[value=allow]')`) {
			tb.do(t, press(`button[value=allow]`))
		}
		tb.waitFor(t, `location.href.startsWith("`+sample.RedirectURI()+`?") && document.querySelector('#done')`)
	})

	var usedLink string
	t.Run("link opened on another device: approving it signs in the first tab", func(t *testing.T) {
		const who = "dora@example.com"
		first := b.tab("first device")
		other := b.tab("other device")
		other.allow("status of 400")
		first.open(t, sample.URL+"/", "#signin a.loginsign-btn")
		first.do(t, chromedp.Click(`#signin a.loginsign-btn`), chromedp.WaitVisible(`input[type=email]`),
			chromedp.SendKeys(`input[type=email]`, who), chromedp.Submit(`input[type=email]`))
		first.waitFor(t, `document.querySelector('#match')`)
		match := first.text(t, "#match")
		usedLink = ls.nextLink(t, who)
		other.measure(t, "sign-in link on another device", usedLink, "#approve-form")
		other.shot(t, "signin-magic-link-other-device")
		wrong := "10"
		if match == wrong {
			wrong = "11"
		}
		other.do(t, chromedp.SendKeys(`#match`, wrong), chromedp.Click(`#approve`))
		other.waitFor(t, `document.querySelector('#match-error') && document.querySelector('#match').getAttribute('aria-invalid') === "true"`)
		other.do(t, chromedp.SetValue(`#match`, match), chromedp.Click(`#approve`))
		other.waitFor(t, `document.querySelector('#approved')`)
		other.shot(t, "signin-approved-on-other-device")
		// The first tab moves on by itself: consent, then back at the app.
		first.waitFor(t, `location.href.startsWith("`+sample.RedirectURI()+`?") || document.querySelector('button[value=allow]')`)
		if evalIn[bool](t, first, `!!document.querySelector('button[value=allow]')`) {
			first.do(t, press(`button[value=allow]`))
		}
		first.waitFor(t, `location.href.startsWith("`+sample.RedirectURI()+`?") && document.querySelector('#done')`)
		// The other device was not signed in.
		other.open(t, ls.URL+"/dashboard", "input[type=email]")
	})

	t.Run("link opened on another device: signing in there tells the first tab", func(t *testing.T) {
		const who = "dora@example.com"
		first := b.tab("first device again")
		other := b.tab("signs in on the other device")
		first.open(t, ls.URL+"/login", "input[type=email]")
		first.do(t, chromedp.SendKeys(`input[type=email]`, who), chromedp.Submit(`input[type=email]`))
		first.waitFor(t, `document.querySelector('#sent-to')`)
		link := ls.nextLink(t, who)
		other.open(t, link, "form[data-guarded] #sign-in-here")
		// Double clickjacking: a site opens its own link's page in a window under a still
		// pointer and asks for a double click, whose second press lands on "Sign in on this
		// device" (login CSRF). The page is held as just shown (data-settle-ms), so only that
		// press, the pointer still, is tested (guard.js, as on the consent page).
		evalIn[bool](t, other, `(() => { const f = document.querySelector('#sign-in-here').form;
			f.setAttribute('data-settle-ms', '600000');
			document.addEventListener('submit', () => { window.posted = true; });
			window.dispatchEvent(new Event('focus')); return true; })()`)
		other.do(t, chromedp.Click(`#sign-in-here`))
		if evalIn[bool](t, other, `!!window.posted || location.pathname !== "/login/magic"`) {
			t.Fatal("a press on Sign in from a still pointer, on a link's page just shown, signed in")
		}
		// Nor after a key pressed in the page (a game of keys instead of a double click).
		other.do(t, chromedp.KeyEvent("\t"), chromedp.Click(`#sign-in-here`))
		if evalIn[bool](t, other, `!!window.posted || location.pathname !== "/login/magic"`) {
			t.Fatal("a press on Sign in after a key press, from a still pointer on a link's page just shown, signed in")
		}
		other.do(t, press(`#sign-in-here`))
		other.waitFor(t, `location.pathname === "/dashboard"`)
		first.waitFor(t, `!document.querySelector('#waiting-status').hidden && document.querySelector('#waiting-status').textContent.includes("other device")`)
		first.shot(t, "signin-waiting-signed-in-elsewhere")

		// Each error page offers the next step. A used link: a new link to the same address,
		// back to the app, and for a person signed in here, continue as them.
		other.allow("status of 410")
		other.open(t, usedLink, "#new-link-form")
		// Not the browser that asked for the link: the address is masked and typed (since
		// stop 64 the old link no longer asks for a new one outside the browser that asked).
		if v := evalIn[string](t, other, `document.querySelector('#new-link-to').textContent + "|" + document.querySelector('#new-link-form #email').value + "|" + !!document.querySelector('#new-link-form [name=link]')`); !strings.Contains(v, oauth.MaskEmail(who)) || !strings.HasSuffix(v, "||false") {
			t.Errorf("the used link's page in another browser offers %q, want %s masked and an empty address field", v, who)
		}
		if got := evalIn[string](t, other, `document.querySelector('#signed-in-as').textContent + "|" + document.querySelector('#continue').getAttribute('href')`); !strings.Contains(got, who) || !strings.HasSuffix(got, "|/dashboard") {
			t.Errorf("signed-in next step: %q", got)
		}
		if href := evalIn[string](t, other, `document.querySelector('#back-to-app').href`); !strings.HasPrefix(href, sample.URL) {
			t.Errorf("back to the app goes to %q", href)
		}
		other.shot(t, "signin-link-used-signed-in")
		fresh := b.tab("used link, signed out")
		fresh.allow("status of 410")
		fresh.measure(t, "used sign-in link (410)", usedLink, "#new-link-form")
		if evalIn[bool](t, fresh, `!!document.querySelector('#signed-in-as')`) {
			t.Error("a signed-out browser is told it is signed in")
		}
		fresh.shot(t, "signin-link-used")
		fresh.do(t, chromedp.SendKeys(`#new-link-form #email`, who), chromedp.Click(`#new-link-form button[type=submit]`))
		fresh.waitFor(t, `document.querySelector('#sent-to') && document.querySelector('#sent-to').textContent === "`+who+`"`)
	})

	t.Run("error and sign-out pages", func(t *testing.T) {
		errTab := b.tab("errors")
		errTab.allow("status of 400")
		errTab.allow("status of 410")
		errTab.measure(t, "signin (/login)", ls.URL+"/login", "input[type=email]")
		errTab.open(t, ls.URL+"/oauth/authorize?client_id=app_unknown&response_type=code&redirect_uri=https%3A%2F%2Fapp.example%2Fcb", "main")
		errTab.shot(t, "signin-error-unknown-app")
		errTab.measure(t, "home (/)", ls.URL+"/", "main h1")
		errTab.shot(t, "home")
		errTab.allow("status of 404")
		errTab.measure(t, "not found (404)", ls.URL+"/no-such-page", "main h1")
		if h := errTab.text(t, "main h1"); h != "Page not found" {
			t.Errorf("404 page says %q", h)
		}
		errTab.shot(t, "not-found")
		// A link that never existed: a new link, the address to be typed.
		errTab.open(t, ls.URL+"/login/magic?token=lsml_expired", "#new-link-form")
		if v := evalIn[string](t, errTab, `document.querySelector('#email').value`); v != "" {
			t.Errorf("the garbage link's page prefills %q", v)
		}
		errTab.shot(t, "signin-magic-link-invalid")
		personTab.open(t, ls.URL+"/logout", "main")
		personTab.shot(t, "signout")
	})

	t.Run("person deletes the account", func(t *testing.T) {
		if !signedIn {
			t.Fatal("the sign-in above failed")
		}
		requireAPI(t, api, "closeAccount")
		personTab.open(t, ls.URL+"/dashboard", "#delete-code-send")
		code := ls.mailedChangeCode(t, personTab, person.Email, `#delete-code-send`)
		personTab.do(t, chromedp.SendKeys(`#delete-confirm`, person.GlobalID), chromedp.SendKeys(`#delete-code`, code),
			chromedp.Click(`#delete-form button[type=submit]`))
		personTab.waitFor(t, `location.pathname === "/login"`)
		if u, err := ls.identity.User(ctx, person.ID); err == nil && u != nil {
			t.Fatalf("the account still exists: %v", u.ID)
		}
	})
}
