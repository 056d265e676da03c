package oauth_test

import (
	"net/url"
	"strings"
	"testing"

	"loginsign/internal/apperr"
	"loginsign/internal/oauth"
)

// TestAnOAuthErrorDescriptionShowsAtMostMaxEchoCharactersOfAnInput: error_description quotes
// what the request sent (a redirect URI, a client_id, a prompt or scope value) and, like every
// other error message (apperr.Echo), shows at most apperr.MaxEcho characters of each: its
// first 60 and last 40 around "...". Before, an unregistered redirect_uri of 2,000 characters
// came back as its first 200, at /oauth/authorize's error page and in /oauth/par's JSON.
func TestAnOAuthErrorDescriptionShowsAtMostMaxEchoCharactersOfAnInput(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		const cb = "https://rp.example/cb"
		app, secret := e.client(t, cb)
		long := cb + "/" + strings.Repeat("a", 1900) + "/end"
		run := strings.Repeat("a", apperr.MaxEcho+1)
		check := func(name string, err error) {
			t.Helper()
			oe := oauth.AsError(err)
			if err == nil || oe.Code != oauth.InvalidRequest {
				t.Fatalf("%s: %v, want invalid_request", name, err)
			}
			if strings.Contains(oe.Description, run) {
				t.Errorf("%s: error_description shows %d characters of the redirect_uri, want at most %d: %q",
					name, strings.Count(oe.Description, "a"), apperr.MaxEcho, oe.Description)
			}
			// What is shown names the URI: its start and its end.
			if !strings.Contains(oe.Description, cb+"/") || !strings.Contains(oe.Description, "a/end") || !strings.Contains(oe.Description, "...") {
				t.Errorf("%s: error_description %q does not show the redirect_uri's start and end", name, oe.Description)
			}
		}
		_, _, err := e.svc.Authorize(e.ctx(), authzQuery(app.ID, long, ""))
		check("authorize", err)
		if oauth.AsError(err).Redirect {
			t.Fatal("an unregistered redirect_uri's error is redirectable")
		}
		_, err = e.svc.PushAuthorizationRequest(e.ctx(), oauth.ClientCredentials{ID: app.ID, Secret: secret}, authzQuery(app.ID, long, ""))
		check("par", err)

		// The values the parameters' limits and ParseScopes keep short stay whole, prompt
		// (64 bytes) and scope (40), and a client_id (64).
		for _, tt := range []struct{ param, value, shown string }{
			{"prompt", strings.Repeat("p", 64), strings.Repeat("p", 64)},
			{"scope", "openid " + strings.Repeat("s", 300), strings.Repeat("s", 40)},
		} {
			_, _, err := e.svc.Authorize(e.ctx(), authzQuery(app.ID, cb, "", tt.param, tt.value))
			if d := oauth.AsError(err).Description; err == nil || !strings.Contains(d, tt.shown) || strings.Contains(d, tt.shown+tt.shown[:1]) {
				t.Errorf("%s: %v, want a description showing %d characters of it", tt.param, err, len(tt.shown))
			}
		}
		_, _, err = e.svc.Authorize(e.ctx(), url.Values{"client_id": {"app_" + strings.Repeat("c", 120)}, "redirect_uri": {cb}})
		if d := oauth.AsError(err).Description; err == nil || strings.Contains(d, strings.Repeat("c", 61)) {
			t.Errorf("unknown client_id: %v", err)
		}
	})
}
