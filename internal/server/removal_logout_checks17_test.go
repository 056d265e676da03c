package server

import (
	"context"
	"net/url"
	"testing"

	"loginsign/ent/appconnection"
	"loginsign/internal/portal"
)

// TestRemovingAnAppFromTheDashboardLogsTheAppOut17: a person signed in to two applications
// with a back-channel logout URI and removes one of them from their dashboard (revoking its
// access). Its tokens were revoked, but the application was told nothing: its own session of
// the person stayed signed in, although closing the account (stop 64) and signing out tell it.
// Now the removed application gets one logout token (OpenID Connect Back-Channel Logout 1.0)
// whose sub is the removed connection's id, at its real HTTP receiver, through the outbox;
// the application the person kept gets none.
func TestRemovingAnAppFromTheDashboardLogsTheAppOut17(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		ctx := context.Background()
		removed := newLogoutReceiver(t)
		kept := newLogoutReceiver(t)
		e.updateApp(e.app, portal.ApplicationPatch{BackchannelLogoutURI: &removed.URL})
		other := e.createApp("Kept Logout App", rpCallback)
		e.updateApp(other, portal.ApplicationPatch{BackchannelLogoutURI: &kept.URL})

		const email = "removal-logout@example.com"
		b := e.browser()
		e.connect(b, e.app, email)
		e.connect(b, other, email)
		u := e.userByEmail(email)
		conns := map[string]string{} // application → connection
		for _, c := range e.srv.db.AppConnection.Query().Where(appconnection.UserID(u.ID)).AllX(ctx) {
			conns[c.ApplicationID] = c.ID
		}
		if len(conns) != 2 {
			t.Fatalf("%d connections, want 2", len(conns))
		}

		if _, errs := b.graphql(`mutation($c: ID!) { disconnectApp(input: {connectionId: $c}) { deletedConnectionId } }`,
			map[string]any{"c": conns[e.app.ID]}); errs != nil {
			t.Fatalf("disconnectApp: %v", errs)
		}
		if _, err := e.srv.webhooks.Worker.DeliverDue(ctx); err != nil {
			t.Fatal(err)
		}

		removed.mu.Lock()
		defer removed.mu.Unlock()
		if len(removed.got) != 1 {
			t.Fatalf("the removed application got %d back-channel logouts, want 1", len(removed.got))
		}
		form, _ := url.ParseQuery(removed.body[0])
		if sub := logoutSubject(t, form.Get("logout_token")); sub != conns[e.app.ID] {
			t.Errorf("logout token sub %q, want the removed connection %s", sub, conns[e.app.ID])
		}
		kept.mu.Lock()
		defer kept.mu.Unlock()
		if len(kept.got) != 0 {
			t.Errorf("the application the person kept got %d back-channel logouts, want none", len(kept.got))
		}
	})
}
