package account_test

import (
	"context"
	"testing"
	"time"

	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// Removing an app from the dashboard (disconnectApp, removeConnection) destroys what is not
// given back: the connection's licenses expire, its alias is retired for good, and a new sign-in
// makes a new connection id, under which the app does not know the person's account there. A
// copy of an old session cookie (a thief's) must not be enough for it: it needs a recent sign-in,
// as a developer's ending of a connection does, and an old session changes nothing.
func TestAnOldSessionCannotRemoveTheAppsOfThePerson(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		conn := e.connect(e.person, e.app("notes"), "")
		old := auth.WithSession(context.Background(), auth.Session{UserID: e.person.ID, ID: "s",
			SignedInAt: now.Add(-auth.RecentSignIn - time.Minute)})

		wantCode(t, e.svc.RemoveConnection(old, conn.ID), apperr.Unauthorized, "reauthentication_required")
		if _, err := db.AppConnection.Get(context.Background(), conn.ID); err != nil {
			t.Fatalf("the connection after an old session's removal: %v, want it kept", err)
		}
		if got := e.events(); len(got) != 0 {
			t.Errorf("an old session's removal queued %v", got)
		}

		recent := auth.WithSession(context.Background(), auth.Session{UserID: e.person.ID, ID: "s", SignedInAt: now})
		if err := e.svc.RemoveConnection(recent, conn.ID); err != nil {
			t.Fatalf("a recent sign-in removing the app: %v", err)
		}
	})
}
