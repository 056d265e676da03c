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

// Muting an app's relay mail from a session whose sign-in is older than auth.RecentSignIn
// answers reauthentication_required and leaves the mail flowing: a thief with a copy of an old
// session cookie must not silence the person's bank or shop before acting there. Unmuting,
// which only brings the mail back, works from such a session, and a recent one mutes.
func TestMutingAnAppsMailNeedsARecentSignIn(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		conn := e.connect(e.person, e.app("bank"), "")
		stale := auth.WithSession(ctx, auth.Session{UserID: e.person.ID, ID: "s", SignedInAt: now.Add(-auth.RecentSignIn - time.Minute)})
		fresh := auth.WithSession(ctx, auth.Session{UserID: e.person.ID, ID: "s", SignedInAt: now.Add(-time.Minute)})

		_, err := e.svc.SetConnectionMuted(stale, conn.ID, true)
		wantCode(t, err, apperr.Unauthorized, "reauthentication_required")
		if c := db.AppConnection.GetX(ctx, conn.ID); c.EmailMuted {
			t.Fatal("an old session muted the app's mail")
		}
		if c, err := e.svc.SetConnectionMuted(fresh, conn.ID, true); err != nil || !c.EmailMuted {
			t.Fatalf("muting from a recent sign-in: %v, %v", c, err)
		}
		if c, err := e.svc.SetConnectionMuted(stale, conn.ID, false); err != nil || c.EmailMuted {
			t.Fatalf("unmuting from an old session: %v, %v; want the mail back", c, err)
		}
	})
}
