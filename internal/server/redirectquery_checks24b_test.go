package server

import (
	"context"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// TestAFormPostAnswerToASavedURIHoldsOneOfEachParameter: a redirect URI saved with code and
// state in its query, before registration refused them, is answered in query mode with
// LoginSign's in place of its own; a form_post answer posted them in its body to the URI
// with the stale ones still in its query, and a client that reads the query first (Java's
// servlets) took the stale code and state. The form now posts to the URI without them, the
// rest of its query kept.
func TestAFormPostAnswerToASavedURIHoldsOneOfEachParameter(t *testing.T) {
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		const saved = rpCallback + "?keep=a&code=stale&state=old"
		app := e.createApp("Saved Query App", rpCallback)
		if err := e.srv.db.Application.UpdateOneID(app.ID).SetRedirectUris([]string{saved}).Exec(context.Background()); err != nil {
			t.Fatal(err)
		}
		app.Redirects = []string{saved}
		b := e.browser()
		p := b.get(e.config(app, saved).AuthCodeURL("st-24", oauth2.SetAuthURLParam("response_mode", "form_post"),
			oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		if strings.Contains(p.Body, `type="email"`) {
			p = b.signIn(p, "formpost24@example.com")
		}
		if strings.Contains(p.Body, `value="allow"`) {
			p = b.consent(p, "allow", "")
		}
		f := postedForm(t, p, rpCallback+"?keep=a")
		if f.Get("code") == "" || f.Get("state") != "st-24" {
			t.Errorf("posted %v, want the code and state st-24", f)
		}
	})
}
