package identity_test

import (
	"context"
	"testing"
	"time"

	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/identity"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestAPersonListsAndEndsOnlyTheirOwnSessions: another signed-in person asking for the list of
// someone's sessions is told not found, as for an account that does not exist, and naming one
// of those sessions to end it is told not found and ends nothing; signed out, neither works.
// The person lists their own sessions (this one marked current) and ends one of them.
func TestAPersonListsAndEndsOnlyTheirOwnSessions(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := identity.New(db, kvtest.Embedded(t), nil, identity.SessionConfig{})
		pat, err := s.CreateUser(ctx, "pat@example.com", "")
		if err != nil {
			t.Fatal(err)
		}
		other, err := s.CreateUser(ctx, "other@example.com", "")
		if err != nil {
			t.Fatal(err)
		}
		signIn := func(uid, agent string) auth.Session {
			t.Helper()
			raw, err := s.Sessions.Create(ctx, uid, agent, "127.0.0.1")
			if err != nil {
				t.Fatal(err)
			}
			sess, err := s.Sessions.Lookup(ctx, raw)
			if err != nil {
				t.Fatal(err)
			}
			return sess
		}
		patLaptop, patPhone := signIn(pat.ID, "laptop"), signIn(pat.ID, "phone")
		asPat := auth.WithSession(ctx, patLaptop)
		asOther := auth.WithSession(ctx, signIn(other.ID, "other"))

		if list, err := s.SessionsOf(asOther, pat.ID); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("another person listing the sessions: %d sessions, %v; want not found", len(list), err)
		}
		if _, err := s.SessionsOf(ctx, pat.ID); !apperr.Is(err, apperr.Unauthorized) {
			t.Errorf("listing the sessions signed out: %v, want unauthorized", err)
		}
		if err := s.SignOutSession(asOther, patPhone.ID); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("another person ending the person's session: %v, want not found", err)
		}
		list, err := s.SessionsOf(asPat, pat.ID)
		if err != nil || len(list) != 2 {
			t.Fatalf("the person's own list after the refusals: %d sessions, %v; want 2", len(list), err)
		}
		for _, v := range list {
			if v.Current != (v.ID == patLaptop.ID) {
				t.Errorf("session %s (%s) listed with current=%v", v.ID, v.UserAgent, v.Current)
			}
		}
		if err := s.SignOutSession(asPat, patPhone.ID); err != nil {
			t.Fatalf("the person ending their own session: %v", err)
		}
		if list, err := s.SessionsOf(asPat, pat.ID); err != nil || len(list) != 1 || list[0].ID != patLaptop.ID {
			t.Errorf("after ending the phone's session the list is %+v, %v; want the laptop's alone", list, err)
		}
	})
}

// TestASignInReplacingAnotherPersonsSessionStartsALineOfItsOwn: a sign-in in a browser whose
// cookie is another person's session ends that session, and the new session does not continue
// its line (what the other person's applications were given from it), while a
// re-authentication of the same person does continue their line.
func TestASignInReplacingAnotherPersonsSessionStartsALineOfItsOwn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := identity.NewSessions(kvtest.Embedded(t), time.Now, identity.SessionConfig{})
	start := func(n identity.NewSession) (string, auth.Session) {
		t.Helper()
		raw, err := s.Start(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		sess, err := s.Lookup(ctx, raw)
		if err != nil {
			t.Fatal(err)
		}
		return raw, sess
	}
	annRaw, ann := start(identity.NewSession{UserID: "usr_ann"})
	_, bob := start(identity.NewSession{UserID: "usr_bob", Replacing: annRaw})
	if bob.Line == ann.Line {
		t.Errorf("bob's sign-in over ann's cookie continues ann's line %s", ann.Line)
	}
	if _, err := s.Lookup(ctx, annRaw); !apperr.Is(err, apperr.Unauthorized) {
		t.Errorf("ann's replaced session: %v, want ended", err)
	}

	annRaw, ann = start(identity.NewSession{UserID: "usr_ann"})
	_, again := start(identity.NewSession{UserID: "usr_ann", Replacing: annRaw})
	if again.Line != ann.Line {
		t.Errorf("ann's re-authentication starts line %s, want hers %s", again.Line, ann.Line)
	}
}

// TestAnEndedSessionIsNotListed: a session that ended by its idle timeout is not in its
// person's list, though it is still in their index of sessions.
func TestAnEndedSessionIsNotListed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	k, clk := kvtest.EmbeddedClock(t)
	s := identity.NewSessions(k, clk.Now, identity.SessionConfig{Idle: time.Minute, Absolute: time.Hour})
	if _, err := s.Create(ctx, "usr_d", "old", ""); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Minute)
	if _, err := s.Create(ctx, "usr_d", "new", ""); err != nil {
		t.Fatal(err)
	}
	list, err := s.List(ctx, "usr_d")
	if err != nil || len(list) != 1 || list[0].UserAgent != "new" {
		t.Fatalf("listed %+v (%v), want the live session alone", list, err)
	}
}

// TestSigningOutEverywhereElseVoidsTheSignInsNotFinished: "sign out everywhere else" moves
// the account's email_version, which every unused link, approval and second step was issued
// under, so none of them finishes afterwards; the current session stays.
func TestSigningOutEverywhereElseVoidsTheSignInsNotFinished(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := identity.New(db, kvtest.Embedded(t), nil, identity.SessionConfig{})
		pat, err := s.CreateUser(ctx, "pat@example.com", "")
		if err != nil {
			t.Fatal(err)
		}
		raw, err := s.Sessions.Create(ctx, pat.ID, "laptop", "")
		if err != nil {
			t.Fatal(err)
		}
		current, err := s.Sessions.Lookup(ctx, raw)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.SignOutOtherSessions(auth.WithSession(ctx, current)); err != nil {
			t.Fatal(err)
		}
		if u, _ := s.User(ctx, pat.ID); u.EmailVersion != pat.EmailVersion+1 {
			t.Errorf("email_version %d after signing out everywhere else, want %d", u.EmailVersion, pat.EmailVersion+1)
		}
		if _, err := s.Sessions.Lookup(ctx, raw); err != nil {
			t.Errorf("the current session ended: %v", err)
		}
	})
}
