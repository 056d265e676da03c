package oauth_test

import (
	"net/url"
	"testing"
	"time"

	"loginsign/ent/appconnection"
	"loginsign/ent/consent"
	"loginsign/internal/oauth"
)

// TestAStaleSessionCannotShowAnAppThePersonsRealAddress: the consent page answered from a
// session whose sign-in is older than auth.RecentSignIn (a cookie copied from a browser months
// ago), choosing to show the application a real address, sends the browser to sign in again
// and connects nothing: the thief's own application got the person's real address, and every
// address they moved to after (email_changed), long after the cookie was gone. The same stale
// session still connects with the alias (one click, as signing in with LoginSign is meant to
// be), and re-consents showing the address the application is shown already; a recent sign-in
// shows the address.
func TestAStaleSessionCannotShowAnAppThePersonsRealAddress(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		const cb = "https://rp.example/cb"
		ctx := e.ctx()
		u := e.person(t)
		stale := e.clock.Now().Add(-time.Hour)
		shown := func(appID string) (string, int) {
			t.Helper()
			conns, err := e.db.AppConnection.Query().Where(appconnection.UserID(u.ID), appconnection.ApplicationID(appID)).All(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(conns) == 0 {
				return "", 0
			}
			return conns[0].AppEmail, len(conns)
		}

		// A first connect: refused with the address, connects with the alias.
		app, _ := e.client(t, cb)
		n, err := e.svc.Decide(ctx, e.startFlow(t, authzQuery(app.ID, cb, "", "scope", "openid email"), "b"), u.ID, stale, true, u.Email, "")
		if err != nil || !n.Login || !n.Again || redirectTo(n) != "" {
			t.Fatalf("showing a new application the real address from a stale session: %+v, %v; want the sign-in", n, err)
		}
		if _, count := shown(app.ID); count != 0 {
			t.Fatalf("%d connections after the refused consent, want none", count)
		}
		if c := e.db.Consent.Query().Where(consent.HasConnectionWith(appconnection.UserID(u.ID))).CountX(ctx); c != 0 {
			t.Fatalf("%d consents after the refused consent, want none", c)
		}
		n, err = e.svc.Decide(ctx, e.startFlow(t, authzQuery(app.ID, cb, "", "scope", "openid email"), "b"), u.ID, stale, true, oauth.ShareAlias, "")
		if err != nil || codeIn(t, n) == "" {
			t.Fatalf("connecting with the alias from a stale session: %+v, %v; want a code", n, err)
		}
		if addr, count := shown(app.ID); count != 1 || addr != "" {
			t.Fatalf("after the alias connect: %d connections showing %q, want 1 showing the alias", count, addr)
		}

		// The connection shows the alias: the stale session does not widen it to the address.
		again := authzQuery(app.ID, cb, "", "scope", "openid email", "prompt", "consent")
		n, err = e.svc.Decide(ctx, e.startFlow(t, again, "b"), u.ID, stale, true, u.Email, "")
		if err != nil || !n.Login || !n.Again || redirectTo(n) != "" {
			t.Fatalf("widening the alias to the real address from a stale session: %+v, %v; want the sign-in", n, err)
		}
		if addr, _ := shown(app.ID); addr != "" {
			t.Fatalf("the application is shown %q after the refused consent, want the alias still", addr)
		}

		// Signed in recently, the person shows it; the stale session may then repeat that choice.
		n, err = e.svc.Decide(ctx, e.startFlow(t, again, "b"), u.ID, e.clock.Now(), true, u.Email, "")
		if err != nil || codeIn(t, n) == "" {
			t.Fatalf("showing the real address after a recent sign-in: %+v, %v; want a code", n, err)
		}
		if addr, _ := shown(app.ID); addr != u.Email {
			t.Fatalf("the application is shown %q, want %s", addr, u.Email)
		}
		n, err = e.svc.Decide(ctx, e.startFlow(t, again, "b"), u.ID, stale, true, u.Email, "")
		if err != nil || codeIn(t, n) == "" {
			t.Fatalf("re-consenting with the address already shown, from a stale session: %+v, %v; want a code", n, err)
		}
	})
}

// codeIn is the code n sends back to the client in query mode, "" for none.
func codeIn(t *testing.T, n oauth.Next) string {
	t.Helper()
	u, err := url.Parse(redirectTo(n))
	if err != nil {
		t.Fatalf("redirect %q: %v", redirectTo(n), err)
	}
	return u.Query().Get("code")
}
