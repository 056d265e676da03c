package server

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"loginsign/internal/auth"
	"loginsign/internal/oauth"
	"loginsign/internal/portal"
)

// In Chromium: a person who consented before and signs in again with the mailed code lands on
// the app. The code's form posts to LoginSign, whose answer redirects to the app's redirect
// URI; the browser checks the page's form-action against every redirect of a form's
// navigation, so a page allowing only 'self' stopped the person on "Check your email".
// First-time sign-ins stop at the consent page (a LoginSign page) and did not show it.
func TestReturningPersonGetsBackToTheAppInBrowser(t *testing.T) {
	ls := startLiveServer(t, "sqlite://"+filepath.Join(t.TempDir(), "db.sqlite"))
	ctx := context.Background()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	app := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><html lang="en"><title>App</title><main><h1 id="landed">Signed in</h1></main></html>`)
	})}
	go app.Serve(ln)
	t.Cleanup(func() { app.Close() })
	callback := "http://" + ln.Addr().String() + "/cb"
	dev, err := ls.identity.CreateUser(ctx, "dev@example.com", "Dana Developer")
	if err != nil {
		t.Fatal(err)
	}
	created, err := ls.portal.CreateApplication(auth.WithSession(ctx, auth.Session{UserID: dev.ID, SignedInAt: time.Now()}),
		portal.ApplicationInput{Name: "Notes", RedirectURIs: []string{callback}})
	if err != nil {
		t.Fatal(err)
	}
	authorize := ls.URL + "/oauth/authorize?" + url.Values{"client_id": {created.Application.ID}, "redirect_uri": {callback},
		"response_type": {"code"}, "scope": {"openid email"}, "state": {"st-1"},
		"code_challenge": {oauth.S256(oauth2.GenerateVerifier())}, "code_challenge_method": {"S256"}}.Encode()

	b := newChrome(t)
	defer b.report()
	tb := b.tab("person")
	const who = "rita@example.com"
	signInByCode := func(t *testing.T, n int) {
		t.Helper()
		tb.open(t, authorize, "input[type=email]")
		tb.do(t, chromedp.SendKeys(`input[type=email]`, who), chromedp.Submit(`input[type=email]`))
		tb.waitFor(t, `document.querySelector('#sent-to')`)
		code := ls.mailCode(t, who, n)
		tb.do(t, chromedp.SendKeys(`#code`, code), chromedp.Submit(`#code`))
	}
	t.Run("first sign-in, with consent", func(t *testing.T) {
		signInByCode(t, 1)
		tb.waitFor(t, `document.querySelector('#consent-form[data-guarded] button[value=allow]')`)
		// Double clickjacking: a site shows this page under a still pointer and asks for a
		// double click, whose second press lands on Allow. The page is held as just shown
		// (data-settle-ms), so only that press, the pointer still, is tested.
		evalIn[bool](t, tb, `(() => { const f = document.getElementById('consent-form');
			f.setAttribute('data-settle-ms', '600000');
			document.addEventListener('submit', () => { window.posted = true; });
			window.dispatchEvent(new Event('focus')); return true; })()`)
		tb.do(t, chromedp.Click(`button[value=allow]`))
		if evalIn[bool](t, tb, `!!window.posted`) {
			t.Fatal("a press on Allow from a still pointer, on a page just shown, posted the consent")
		}
		// One move, as a browser may report when a window is shown under the pointer, is not
		// a hand moving.
		at := evalIn[[]float64](t, tb, `(() => { const r = document.querySelector('button[value=allow]').getBoundingClientRect();
			return [r.left + r.width / 2, r.top + r.height / 2]; })()`)
		tb.do(t, chromedp.MouseEvent(chromedp.MouseMoved, at[0]-200, at[1]-100), chromedp.MouseEvent(chromedp.MouseMoved, at[0], at[1]),
			chromedp.MouseClickXY(at[0], at[1]))
		if evalIn[bool](t, tb, `!!window.posted`) {
			t.Fatal("a press on Allow after a single move of the pointer, on a page just shown, posted the consent")
		}
		// Nor is a key pressed in the page: a site can ask for a game of keys as well as for a
		// double click.
		tb.do(t, chromedp.KeyEvent("\t"), chromedp.MouseClickXY(at[0], at[1]))
		if evalIn[bool](t, tb, `!!window.posted`) {
			t.Fatal("a press on Allow after a key press, from a still pointer on a page just shown, posted the consent")
		}
		tb.do(t, press(`button[value=allow]`))
		tb.waitFor(t, `location.href.startsWith("`+callback+`?") && document.querySelector('#landed')`)
	})
	t.Run("signed out, the same person signs in again by code", func(t *testing.T) {
		tb.do(t, func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			_, err := cdp.Call(ctx, tg, network.ClearBrowserCookies, cdp.Empty{})
			return chromedp.Void{}, err
		})
		signInByCode(t, 2)
		tb.waitFor(t, `location.href.startsWith("`+callback+`?") && document.querySelector('#landed')`)
	})
}
