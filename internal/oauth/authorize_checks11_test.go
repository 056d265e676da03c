package oauth_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"loginsign/internal/oauth"
	authpages "loginsign/internal/web/auth"
)

// TestAnAuthorizationRequestPostedWithTextNoStoreTakesIsInvalidRequest: the server's edge
// refuses a NUL or invalid UTF-8 in a query, but not in the form of POST /oauth/authorize
// (OpenID Connect Core §3.1.2.1), which a client's own page or any HTTP client sends. Such a
// nonce was kept with the code and written to the refresh-token row at the exchange, which
// PostgreSQL refuses: the token endpoint answered 500 (server_error) after spending the code.
// Every parameter of the request is now such text or invalid_request: redirected to the
// client (with its state) once client and redirect URI check out, shown before that.
func TestAnAuthorizationRequestPostedWithTextNoStoreTakesIsInvalidRequest(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		const redirect = "https://client.example/cb"
		app, _ := e.client(t, redirect)
		mux := http.NewServeMux()
		(&authpages.Pages{OAuth: e.svc, Identity: e.svc.Identity, Log: slog.New(slog.DiscardHandler)}).Register(mux)

		t.Run("POST form over HTTP", func(t *testing.T) {
			form := authzQuery(app.ID, redirect, verifier(), "nonce", "n\x00nce")
			r := httptest.NewRequest(http.MethodPost, "/oauth/authorize", strings.NewReader(form.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.Header.Set("Sec-Fetch-Site", "same-origin")
			w := httptest.NewRecorder()
			mux.ServeHTTP(w, r)
			loc := w.Result().Header.Get("Location")
			u, err := url.Parse(loc)
			if w.Code != http.StatusSeeOther || err != nil || !strings.HasPrefix(loc, redirect+"?") {
				t.Fatalf("POST /oauth/authorize with a NUL in nonce = %d, Location %q; want 303 to the client with error=invalid_request", w.Code, loc)
			}
			if got := u.Query(); got.Get("error") != oauth.InvalidRequest || got.Get("state") != "st-1" ||
				!strings.Contains(got.Get("error_description"), "nonce") {
				t.Fatalf("answer %v, want error=invalid_request about nonce with state st-1", got)
			}
		})

		for _, param := range []string{"nonce", "state", "login_hint", "acr_values", "ui_locales", "prompt", "scope"} {
			for _, bad := range []string{"a\x00b", "a\xffb"} {
				q := authzQuery(app.ID, redirect, verifier(), param, bad)
				_, _, err := e.svc.Authorize(e.ctx(), q)
				if got := wantOAuthError(t, err, oauth.InvalidRequest); !got.Redirect {
					t.Errorf("%s=%q: %v is shown; want it redirected to the client", param, bad, got)
				}
			}
		}
		for _, param := range []string{"client_id", "redirect_uri"} {
			q := authzQuery(app.ID, redirect, verifier(), param, "a\x00b")
			_, _, err := e.svc.Authorize(e.ctx(), q)
			if got := oauth.AsError(err); err == nil || got.Redirect {
				t.Errorf("%s with a NUL: %v; want an error shown, never redirected", param, err)
			}
		}
	})
}

// TestAMaxAgeOfCenturiesTakesTheSignInThePersonHas: max_age is a number of seconds of up to
// ten digits; one past 292 years overflowed time.Duration to a negative age limit, which every
// sign-in exceeded: the person was sent to sign in again at every authorization, and
// prompt=none answered login_required to a person signed in a minute ago. Now the sign-in's
// age is compared in seconds: a max_age of centuries takes it, a max_age of 60 still does not
// take one of an hour.
func TestAMaxAgeOfCenturiesTakesTheSignInThePersonHas(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		const cb = "https://rp.example/cb"
		app, _ := e.client(t, cb)
		u := e.person(t)
		ctx := e.ctx()
		f := e.startFlow(t, authzQuery(app.ID, cb, ""), "browser-1")
		if n, err := e.svc.Decide(ctx, f, u.ID, e.clock.Now(), true, oauth.ShareAlias, ""); err != nil || redirectTo(n) == "" {
			t.Fatalf("first consent: %+v, %v", n, err)
		}
		signedIn := e.clock.Now().Add(-time.Minute)
		for _, maxAge := range []string{"9223372036", "9223372037", "9999999999"} {
			for _, prompt := range []string{"", "none"} {
				f := e.startFlow(t, authzQuery(app.ID, cb, "", "max_age", maxAge, "prompt", prompt), "browser-1")
				n, err := e.svc.Continue(ctx, f, u.ID, signedIn)
				if err != nil || n.Login || redirectTo(n) == "" || redirectError(t, redirectTo(n)) != "" {
					t.Errorf("max_age=%s prompt=%q, signed in a minute ago: %+v (%s), %v; want a code", maxAge, prompt, n, redirectTo(n), err)
				}
			}
		}
		f = e.startFlow(t, authzQuery(app.ID, cb, "", "max_age", "60"), "browser-1")
		if n, err := e.svc.Continue(ctx, f, u.ID, e.clock.Now().Add(-time.Hour)); err != nil || !n.Login {
			t.Fatalf("max_age=60, signed in an hour ago: %+v, %v; want the sign-in", n, err)
		}
	})
}
