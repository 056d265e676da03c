package oauth_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

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
