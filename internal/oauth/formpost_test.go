package oauth_test

import (
	"maps"
	"net/url"
	"testing"
	"time"

	"loginsign/internal/oauth"
)

// posted checks that n answers the client by form post (OAuth 2.0 Form Post Response Mode) to
// cb with exactly the parameters want, each once, and returns them.
func posted(t *testing.T, what string, n oauth.Next, err error, cb string, want map[string]string) url.Values {
	t.Helper()
	if err != nil || n.Answer == nil {
		t.Fatalf("%s: %+v, %v; want an answer to the client", what, n, err)
	}
	a := n.Answer
	if !a.FormPost() || a.RedirectURI != cb {
		t.Fatalf("%s: answered %q to %q, want form_post to %q", what, a.Mode, a.RedirectURI, cb)
	}
	got := map[string]string{}
	for k, v := range a.Params {
		if len(v) != 1 {
			t.Fatalf("%s: %s = %q, want one value", what, k, v)
		}
		got[k] = v[0]
	}
	if want["code"] == "?" && got["code"] != "" { // any code
		want["code"] = got["code"]
	}
	if !maps.Equal(got, want) {
		t.Fatalf("%s: posts %v, want %v", what, got, want)
	}
	return a.Params
}

// TestFormPostAnswersCarryTheirParameters: with response_mode=form_post, every answer to the
// client, the code and each error Continue and Decide send back (login_required,
// consent_required, access_denied, an invalid_request of the consent form), is a form post to
// the redirect URI carrying what the query would: code or error and error_description, state
// and iss. The posted code exchanges at the token endpoint.
func TestFormPostAnswersCarryTheirParameters(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		const cb = "https://rp.example/cb"
		ctx := e.ctx()
		app, secret := e.client(t, cb)
		u := e.person(t)
		iss := e.svc.Config.Issuer
		flow := func(extra ...string) *oauth.Flow {
			t.Helper()
			id, err := e.svc.StartFlow(ctx, e.authorize(t, authzQuery(app.ID, cb, "", append([]string{"response_mode", "form_post"}, extra...)...)), "browser-1")
			if err != nil {
				t.Fatal(err)
			}
			f, err := e.svc.BrowserFlow(ctx, id, "browser-1")
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
		failed := func(e *oauth.Error) map[string]string {
			return map[string]string{"error": e.Code, "error_description": e.Description, "state": "st-1", "iss": iss}
		}

		n, err := e.svc.Continue(ctx, flow("prompt", "none"), "", time.Time{})
		posted(t, "prompt=none, nobody signed in", n, err, cb, failed(oauth.ErrLoginRequired))
		n, err = e.svc.Continue(ctx, flow("prompt", "none"), u.ID, e.clock.Now())
		posted(t, "prompt=none before consent", n, err, cb, failed(oauth.ErrConsentRequired))
		f := flow()
		if n, err := e.svc.Continue(ctx, f, u.ID, e.clock.Now()); err != nil || n.Consent == nil {
			t.Fatalf("first connect: %+v, %v; want the consent page", n, err)
		}
		n, err = e.svc.Decide(ctx, f, u.ID, e.clock.Now(), false, "", "")
		posted(t, "deny", n, err, cb, failed(oauth.ErrAccessDenied))
		n, err = e.svc.Decide(ctx, f, u.ID, e.clock.Now(), true, "someone-else@example.com", "")
		posted(t, "sharing an address that is not the person's", n, err, cb,
			failed(oauth.ErrInvalidRequest.WithDescription("the chosen address is not a verified address of this account")))
		n, err = e.svc.Decide(ctx, f, u.ID, e.clock.Now(), true, oauth.ShareAlias, "")
		posted(t, "allow", n, err, cb, map[string]string{"code": "?", "state": "st-1", "iss": iss})
		// Consent is remembered: the next authorization posts a code straight away.
		n, err = e.svc.Continue(ctx, flow(), u.ID, e.clock.Now())
		code := posted(t, "remembered consent", n, err, cb, map[string]string{"code": "?", "state": "st-1", "iss": iss}).Get("code")
		if _, err := e.token(app.ID, secret, codeForm(code, cb, "")); err != nil {
			t.Fatalf("the posted code: %v", err)
		}
	})
}

// TestAnErrorResponseInFormPostCarriesTheRequestsState: ErrorResponse, which the authorization
// endpoint uses for a request's own errors (an unknown scope after response_mode=form_post),
// posts them; without state it posts none.
func TestAnErrorResponseInFormPostCarriesTheRequestsState(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		const cb = "https://rp.example/cb"
		app, _ := e.client(t, cb)
		q := authzQuery(app.ID, cb, "", "response_mode", "form_post", "scope", "openid offline_access")
		req, _, err := e.svc.Authorize(e.ctx(), q)
		oe := oauth.AsError(err)
		if oe.Code != oauth.InvalidScope || !oe.Redirect {
			t.Fatalf("Authorize: %v, want a redirectable invalid_scope", err)
		}
		iss := e.svc.Config.Issuer
		posted(t, "unknown scope", oauth.Next{Answer: e.svc.ErrorResponse(req, oe)}, nil, cb,
			map[string]string{"error": oauth.InvalidScope, "error_description": oe.Description, "state": "st-1", "iss": iss})
		q.Del("state")
		req, _, err = e.svc.Authorize(e.ctx(), q)
		posted(t, "unknown scope without state", oauth.Next{Answer: e.svc.ErrorResponse(req, oauth.AsError(err))}, nil, cb,
			map[string]string{"error": oauth.InvalidScope, "error_description": oe.Description, "iss": iss})
	})
}

// TestAPushedRequestKeepsItsResponseMode: a request pushed with response_mode=form_post (RFC
// 9126) is answered by form post when its request_uri comes back, and one pushed without it
// in the default query mode.
func TestAPushedRequestKeepsItsResponseMode(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		const cb = "https://rp.example/cb"
		app, secret := e.client(t, cb)
		for _, mode := range []string{oauth.ResponseModeFormPost, ""} {
			form := authzQuery(app.ID, cb, "")
			if mode != "" {
				form.Set("response_mode", mode)
			}
			pushed, err := e.svc.PushAuthorizationRequest(e.ctx(), oauth.ClientCredentials{ID: app.ID, Secret: secret}, form)
			if err != nil {
				t.Fatalf("pushing response_mode %q: %v", mode, err)
			}
			req := e.authorize(t, url.Values{"client_id": {app.ID}, "request_uri": {pushed.RequestURI}})
			if req.ResponseMode != mode || e.svc.CodeResponse(req, "c").FormPost() != (mode != "") {
				t.Fatalf("pushed with response_mode %q, came back with %q", mode, req.ResponseMode)
			}
		}
	})
}
