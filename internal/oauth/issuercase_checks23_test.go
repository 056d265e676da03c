package oauth_test

import (
	"testing"

	"loginsign/internal/oauth"
)

// TestAnIDTokenSignedBeforeTheBaseURLWasWrittenAsAnOriginStillHints (review23):
// LOGINSIGN_BASE_URL is now kept with its host in lower case, and the issuer with it. The
// id_tokens signed before, with the issuer as the operator had written it
// ("https://ID.Test.Example"), are kept by applications for the
// logout of sessions that last months, and an id_token_hint was compared with the issuer
// byte for byte: every such logout and hinted sign-in was refused as "not an id_token issued
// by LoginSign" after the upgrade. The issuer is compared as an origin; another host is
// still refused.
func TestAnIDTokenSignedBeforeTheBaseURLWasWrittenAsAnOriginStillHints(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		const cb = "https://rp.example/cb"
		ctx := e.ctx()
		app, _ := e.client(t, cb)
		if e.svc.Config.Issuer != "https://id.test.example" {
			t.Fatalf("the test's issuer is %q", e.svc.Config.Issuer)
		}
		hint := func(iss string) string {
			t.Helper()
			tok, err := e.svc.Keys.SignTyped(ctx, "ES256", "JWT", map[string]any{"iss": iss, "sub": "con_1",
				"aud": []string{app.ID}, "iat": e.clock.Now().Unix()})
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}
		for _, iss := range []string{"https://ID.Test.Example", "HTTPS://id.test.example:443", "https://id.test.example/"} {
			if _, _, err := e.svc.Authorize(ctx, authzQuery(app.ID, cb, "", "id_token_hint", hint(iss))); err != nil {
				t.Errorf("an id_token whose issuer is %q: %v, want it taken as this issuer's", iss, err)
			}
		}
		for _, iss := range []string{"https://id.test.example.evil", "http://id.test.example", "https://id.test.example:8443",
			"https://x@id.test.example", "https://id.test.example/other"} {
			_, _, err := e.svc.Authorize(ctx, authzQuery(app.ID, cb, "", "id_token_hint", hint(iss)))
			wantOAuthError(t, err, oauth.InvalidRequest)
		}
	})
}
