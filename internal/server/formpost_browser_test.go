package server

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"loginsign/internal/auth"
	"loginsign/internal/oauth"
	"loginsign/internal/portal"
	"loginsign/internal/store/storetest"
)

// arrival is one request that reached the app's redirect URI.
type arrival struct {
	method, rawQuery, contentType string
	form                          url.Values
}

// startFormPostApp runs an app on a loopback port whose redirect URI (callback, ".../cb")
// records every request that reaches it on arrivals, and answers a page showing #landed.
func startFormPostApp(t *testing.T) (callback string, arrivals <-chan arrival) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan arrival, 16)
	app := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/cb" {
			http.NotFound(w, r)
			return
		}
		r.ParseForm()
		got <- arrival{method: r.Method, rawQuery: r.URL.RawQuery, contentType: r.Header.Get("Content-Type"), form: r.PostForm}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><html lang="en"><title>App</title><link rel="icon" href="data:,"><main><h1 id="landed">Back at the app</h1></main></html>`)
	})}
	go app.Serve(ln)
	t.Cleanup(func() { app.Close() })
	return "http://" + ln.Addr().String() + "/cb", got
}

// nextArrival waits for the next request to the app's redirect URI and checks it is a form
// post (OAuth 2.0 Form Post Response Mode §2) with nothing in the URL's query.
func nextArrival(t *testing.T, arrivals <-chan arrival, what string) url.Values {
	t.Helper()
	select {
	case a := <-arrivals:
		if a.method != http.MethodPost || a.rawQuery != "" || a.contentType != "application/x-www-form-urlencoded" {
			t.Fatalf("%s: the app got %s ?%s (%s), want a form POST without a query", what, a.method, a.rawQuery, a.contentType)
		}
		return a.form
	case <-time.After(browserWait):
		t.Fatalf("%s: nothing reached the app's redirect URI", what)
		return nil
	}
}

// wantPosted fails unless form holds exactly the fields want ("?" for any non-empty value).
func wantPosted(t *testing.T, what string, form url.Values, want map[string]string) {
	t.Helper()
	if len(form) != len(want) {
		t.Fatalf("%s: the app got %v, want the fields %v", what, form, want)
	}
	for k, v := range want {
		if got := form[k]; len(got) != 1 || got[0] == "" || (v != "?" && got[0] != v) {
			t.Fatalf("%s: the app got %s = %q, want %q (all: %v)", what, k, got, v, form)
		}
	}
}

// TestFormPostAnswersReachTheAppByPostInBrowser: in Chromium, on every backend, with
// response_mode=form_post every answer reaches the app's redirect URI as a form POST, never in
// the URL: an error of the request itself (invalid_scope), prompt=none without a session
// (login_required, also by the page's button when script is off), and a person who signs in
// and allows (the consent page's answer), then comes back with consent remembered: each
// code, with its state and iss, exchanges at /oauth/token. No page breaks its
// Content-Security-Policy on the way (the tab fails on any reported violation).
func TestFormPostAnswersReachTheAppByPostInBrowser(t *testing.T) {
	for name, dbURL := range storetest.URLs(t) {
		t.Run(name, func(t *testing.T) { formPostStory(t, dbURL) })
	}
}

// formPostClient registers a developer's application whose one redirect URI is callback and
// returns its client_id and secret.
func formPostClient(t *testing.T, ls *liveServer, callback string) (id, secret string) {
	t.Helper()
	ctx := context.Background()
	dev, err := ls.identity.CreateUser(ctx, "dev@example.com", "Dana Developer")
	if err != nil {
		t.Fatal(err)
	}
	created, err := ls.portal.CreateApplication(auth.WithSession(ctx, auth.Session{UserID: dev.ID, SignedInAt: time.Now()}),
		portal.ApplicationInput{Name: "Notes", RedirectURIs: []string{callback}})
	if err != nil {
		t.Fatal(err)
	}
	return created.Application.ID, created.ClientSecret
}

func formPostStory(t *testing.T, dbURL string) {
	ls := startLiveServer(t, dbURL)
	ctx := context.Background()
	callback, arrivals := startFormPostApp(t)
	clientID, secret := formPostClient(t, ls, callback)
	verifier := oauth2.GenerateVerifier()
	authorize := func(extra ...string) string {
		q := url.Values{"client_id": {clientID}, "redirect_uri": {callback}, "response_type": {"code"}, "response_mode": {"form_post"},
			"scope": {"openid email"}, "state": {"st-1"}, "code_challenge": {oauth.S256(verifier)}, "code_challenge_method": {"S256"}}
		for i := 0; i+1 < len(extra); i += 2 {
			q.Set(extra[i], extra[i+1])
		}
		return ls.URL + "/oauth/authorize?" + q.Encode()
	}
	exchange := func(t *testing.T, code string) {
		t.Helper()
		cfg := oauth2.Config{ClientID: clientID, ClientSecret: secret, RedirectURL: callback,
			Endpoint: oauth2.Endpoint{AuthURL: ls.URL + "/oauth/authorize", TokenURL: ls.URL + "/oauth/token", AuthStyle: oauth2.AuthStyleInHeader}}
		tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		tok, err := cfg.Exchange(tctx, code, oauth2.VerifierOption(verifier))
		if err != nil || tok.Extra("id_token") == nil {
			t.Fatalf("exchanging the posted code: %v", err)
		}
	}
	landed := `location.href === "` + callback + `" && document.querySelector('#landed')`

	b := newChrome(t)
	defer b.report()
	t.Run("an error of the request itself is posted", func(t *testing.T) {
		tb := b.tab("invalid scope")
		tb.do(t, chromedp.Navigate(authorize("scope", "openid offline_access")))
		tb.waitFor(t, landed)
		form := nextArrival(t, arrivals, "unknown scope")
		wantPosted(t, "unknown scope", form, map[string]string{"error": oauth.InvalidScope, "error_description": "?", "state": "st-1", "iss": ls.URL})
	})
	t.Run("prompt=none without a session posts login_required", func(t *testing.T) {
		tb := b.tab("prompt none")
		tb.do(t, chromedp.Navigate(authorize("prompt", "none", "state", `st-2 "<&>'`)))
		tb.waitFor(t, landed)
		form := nextArrival(t, arrivals, "prompt=none")
		wantPosted(t, "prompt=none", form, map[string]string{"error": oauth.LoginRequired, "error_description": "?", "state": `st-2 "<&>'`, "iss": ls.URL})
	})
	t.Run("without script, the page's button posts the answer", func(t *testing.T) {
		tb := b.tab("no script")
		tb.do(t, func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
			return chromedp.Void{}, err
		})
		tb.open(t, authorize("prompt", "none"), `#form-post button[type=submit]`)
		select {
		case a := <-arrivals:
			t.Fatalf("the page posted by itself with script off: %+v", a)
		case <-time.After(500 * time.Millisecond):
		}
		tb.do(t, chromedp.Click(`#form-post button[type=submit]`))
		form := nextArrival(t, arrivals, "the button")
		wantPosted(t, "the button", form, map[string]string{"error": oauth.LoginRequired, "error_description": "?", "state": "st-1", "iss": ls.URL})
	})
	tb := b.tab("person")
	const who = "rita@example.com"
	t.Run("a person who signs in and allows: the code is posted and exchanges", func(t *testing.T) {
		tb.open(t, authorize(), "input[type=email]")
		tb.do(t, chromedp.SendKeys(`input[type=email]`, who), chromedp.Submit(`input[type=email]`))
		tb.waitFor(t, `document.querySelector('#sent-to')`)
		tb.do(t, chromedp.SendKeys(`#code`, ls.mailCode(t, who, 1)), chromedp.Submit(`#code`))
		tb.waitFor(t, `document.querySelector('button[value=allow]')`)
		tb.do(t, press(`button[value=allow]`))
		tb.waitFor(t, landed)
		form := nextArrival(t, arrivals, "allow")
		wantPosted(t, "allow", form, map[string]string{"code": "?", "state": "st-1", "iss": ls.URL})
		exchange(t, form.Get("code"))
	})
	t.Run("consent remembered: the code is posted straight away", func(t *testing.T) {
		tb.do(t, chromedp.Navigate(authorize("state", "st-3")))
		tb.waitFor(t, landed)
		form := nextArrival(t, arrivals, "remembered consent")
		wantPosted(t, "remembered consent", form, map[string]string{"code": "?", "state": "st-3", "iss": ls.URL})
		exchange(t, form.Get("code"))
	})
	select {
	case a := <-arrivals:
		t.Fatalf("the app got one request more than answers were given: %+v", a)
	default:
	}
}

// TestTheFormPostPageIsSelfContained: the page of a form_post answer is 200, never stored,
// HTML; its Content-Security-Policy lets its form go to the redirect URI's origin and nowhere
// else, and runs no inline script; its hidden fields carry the answer HTML-escaped (a state
// holding markup stays text); its script is LoginSign's own /static/form-post.js.
func TestTheFormPostPageIsSelfContained(t *testing.T) {
	for name, dbURL := range storetest.URLs(t) {
		t.Run(name, func(t *testing.T) {
			ls := startLiveServer(t, dbURL)
			callback, _ := startFormPostApp(t)
			const state = `"><script>alert(1)</script>`
			clientID, _ := formPostClient(t, ls, callback)
			q := url.Values{"client_id": {clientID}, "redirect_uri": {callback}, "response_type": {"code"},
				"response_mode": {"form_post"}, "prompt": {"none"}, "state": {state}}
			client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			resp, err := client.Get(ls.URL + "/oauth/authorize?" + q.Encode())
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			page := string(body)
			origin := strings.TrimSuffix(callback, "/cb")
			h := resp.Header
			if resp.StatusCode != http.StatusOK || h.Get("Cache-Control") != "no-store" || h.Get("Content-Type") != "text/html; charset=utf-8" {
				t.Fatalf("answered %d, Cache-Control %q, Content-Type %q; want 200, no-store, text/html; charset=utf-8",
					resp.StatusCode, h.Get("Cache-Control"), h.Get("Content-Type"))
			}
			csp := h.Get("Content-Security-Policy")
			if !strings.Contains(csp, "form-action 'self' "+origin+";") || !strings.Contains(csp, "script-src 'self';") {
				t.Fatalf("Content-Security-Policy %q: want form-action 'self' %s and script-src 'self' only", csp, origin)
			}
			for _, want := range []string{
				`<form method="post" action="` + callback + `" id="form-post">`,
				`<input type="hidden" name="error" value="login_required">`,
				`<input type="hidden" name="iss" value="` + ls.URL + `">`,
				`<input type="hidden" name="state" value="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;">`,
				`<script src="/static/form-post.js"></script>`,
				`<button type="submit">`,
			} {
				if !strings.Contains(page, want) {
					t.Fatalf("the page lacks %s:\n%s", want, page)
				}
			}
			if strings.Count(page, "<script") != 1 || strings.Contains(page, "alert(1)</script>") {
				t.Fatalf("the page runs other script than form-post.js:\n%s", page)
			}
			js, err := http.Get(ls.URL + "/static/form-post.js")
			if err != nil {
				t.Fatal(err)
			}
			js.Body.Close()
			if js.StatusCode != http.StatusOK || !strings.HasPrefix(js.Header.Get("Content-Type"), "text/javascript") {
				t.Fatalf("/static/form-post.js answered %d %q", js.StatusCode, js.Header.Get("Content-Type"))
			}
		})
	}
}
