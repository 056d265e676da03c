package identity_test

import (
	"context"
	"testing"
	"time"

	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/identity"
	"loginsign/internal/ids"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// A copy of an old session cookie (a thief's) cannot end the person's sessions: "sign out
// everywhere else", repeated every few seconds, ended each session the person started and bumped
// email_version, voiding each link mailed to them before they could use it; ending the person's
// sessions one by one kept them out as surely. Both need a recent sign-in, as the changes to how
// the person signs in do, and an old session changes nothing; the person's new session ends the
// thief's.
func TestAnOldSessionCannotSignThePersonOut(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clk := newClock()
		s := identity.New(db, kvtest.Embedded(t), clk.Now, identity.SessionConfig{})
		u, err := s.CreateUser(ctx, "ann@example.com", "")
		if err != nil {
			t.Fatal(err)
		}
		thief, err := s.Sessions.Create(ctx, u.ID, "thief", "192.0.2.1")
		if err != nil {
			t.Fatal(err)
		}
		clk.Add(auth.RecentSignIn + time.Minute)
		person, err := s.Sessions.Create(ctx, u.ID, "ann", "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		asThief, err := s.Sessions.Lookup(ctx, thief)
		if err != nil {
			t.Fatal(err)
		}
		thiefCtx := auth.WithSession(ctx, asThief)

		if n, err := s.SignOutOtherSessions(thiefCtx); apperr.As(err).Reason != "reauthentication_required" {
			t.Errorf("sign out everywhere else from an old session: %d, %v; want 401 reauthentication_required", n, err)
		}
		if err := s.SignOutSession(thiefCtx, ids.Hash(person)); apperr.As(err).Reason != "reauthentication_required" {
			t.Errorf("ending one session from an old session: %v; want 401 reauthentication_required", err)
		}
		if _, err := s.Sessions.Lookup(ctx, person); err != nil {
			t.Errorf("the person's session ended by an old session: %v", err)
		}
		if after, _ := s.User(ctx, u.ID); after.EmailVersion != u.EmailVersion {
			t.Errorf("email_version %d after the refusals, want %d (the person's links voided)", after.EmailVersion, u.EmailVersion)
		}

		asPerson, err := s.Sessions.Lookup(ctx, person)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SignOutSession(auth.WithSession(ctx, asPerson), ids.Hash(thief)); err != nil {
			t.Fatalf("the person's recent session ending the thief's: %v", err)
		}
		if _, err := s.Sessions.Lookup(ctx, thief); err == nil {
			t.Error("the thief's session still works after the person ended it")
		}
	})
}
