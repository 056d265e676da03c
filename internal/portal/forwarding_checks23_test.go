package portal_test

import (
	"context"
	"testing"

	"loginsign/ent/activityevent"
	"loginsign/internal/activity"
	"loginsign/internal/portal"
)

// TestAStaleSignInCannotTurnForwardingOffForAPerson: with a developer session whose sign-in is
// older than auth.RecentSignIn (a stolen cookie), PATCH …/users/:connectionId {"isForwarding":
// false} (GraphQL editAppConnection) answers reauthentication_required and the relay keeps
// handing the application's mail to the person, with no connection_edited in their log: the
// thief could otherwise silence the application's notices to each of its people before using
// the rest of what they held. The same session still turns forwarding back on, sends the value
// the connection already has, and keeps its own record of the address (appEmail); signed in
// again, the developer turns forwarding off.
func TestAStaleSignInCannotTurnForwardingOffForAPerson(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		ctx := context.Background()
		dev := e.developer(t)
		app := e.app(t, dev)
		conn := e.connect(t, e.person(t), app, "")
		stale := staleSession(dev)
		edits := func() int {
			return e.db.ActivityEvent.Query().Where(activityevent.ConnectionID(conn.ID),
				activityevent.TypeEQ(string(activity.ConnectionEdited))).CountX(ctx)
		}

		_, err := e.svc.UpdateConnection(stale, app.ID, conn.ID, portal.ConnectionPatch{IsForwarding: ptr(false)})
		wantReauthentication(t, "turning forwarding off", err)
		if got := e.db.AppConnection.GetX(ctx, conn.ID); !got.IsForwarding {
			t.Fatalf("forwarding after a stale sign-in turned it off: off, want still on")
		}
		if n := edits(); n != 0 {
			t.Fatalf("%d connection_edited events after the refused change, want none", n)
		}

		if _, err := e.svc.UpdateConnection(stale, app.ID, conn.ID, portal.ConnectionPatch{IsForwarding: ptr(true), AppEmail: ptr("crm@example.com")}); err != nil {
			t.Fatalf("sending forwarding on and the developer's record with a stale sign-in: %v", err)
		}
		if got := e.db.AppConnection.GetX(ctx, conn.ID); got.DeveloperEmail != "crm@example.com" || !got.IsForwarding {
			t.Fatalf("after the stale sign-in's allowed edit: forwarding %v, developer email %q", got.IsForwarding, got.DeveloperEmail)
		}

		if _, err := e.svc.UpdateConnection(dev, app.ID, conn.ID, portal.ConnectionPatch{IsForwarding: ptr(false)}); err != nil {
			t.Fatalf("turning forwarding off with a recent sign-in: %v", err)
		}
		if got := e.db.AppConnection.GetX(ctx, conn.ID); got.IsForwarding {
			t.Fatalf("forwarding after a recent sign-in turned it off: still on")
		}
		if _, err := e.svc.UpdateConnection(stale, app.ID, conn.ID, portal.ConnectionPatch{IsForwarding: ptr(true)}); err != nil {
			t.Fatalf("turning forwarding back on with a stale sign-in: %v", err)
		}
		if got := e.db.AppConnection.GetX(ctx, conn.ID); !got.IsForwarding {
			t.Fatalf("forwarding after the stale sign-in turned it back on: still off")
		}
	})
}
