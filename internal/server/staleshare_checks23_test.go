package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"loginsign/ent/appconnection"
	"loginsign/internal/auth"
)

// TestAStolenOldSessionCannotShowAnAppTheRealAddress: the consent page answered from a session
// cookie whose sign-in is 16 minutes old, choosing the person's real address, sends the browser
// to /login?again=1 with the flow (the login page says why) and connects nothing; the same
// cookie still connects with the alias.
func TestAStolenOldSessionCannotShowAnAppTheRealAddress(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		ctx := context.Background()
		stolen := e.browser()
		stolen.signInTo("pat@example.com")
		pat := e.userByEmail("pat@example.com")
		e.ageSessions(pat.ID, auth.RecentSignIn+time.Minute)
		connections := func() int {
			return e.srv.db.AppConnection.Query().Where(appconnection.UserID(pat.ID), appconnection.ApplicationID(e.app.ID)).CountX(ctx)
		}

		conf := e.config(e.app, rpCallback)
		p := stolen.consent(stolen.get(conf.AuthCodeURL("s")), "allow", "pat@example.com")
		at := p.Request.URL
		if p.StatusCode != 200 || at.Path != "/login" || at.Query().Get("again") != "1" || at.Query().Get("flow") == "" ||
			!strings.Contains(p.Body, `id="sign-in-again"`) {
			t.Fatalf("showing the real address from an old session: %d at %s, want the login page with again=1, the flow and its notice", p.StatusCode, at)
		}
		if n := connections(); n != 0 {
			t.Fatalf("%d connections after the refused consent, want none", n)
		}

		if q := callback(t, stolen.consent(stolen.get(conf.AuthCodeURL("s")), "allow", "alias")); q.Get("code") == "" {
			t.Fatalf("connecting with the alias from the old session: %v, want a code", q)
		}
		if c := e.srv.db.AppConnection.Query().Where(appconnection.UserID(pat.ID), appconnection.ApplicationID(e.app.ID)).OnlyX(ctx); c.AppEmail != "" {
			t.Fatalf("the application is shown %q, want the alias", c.AppEmail)
		}
	})
}
