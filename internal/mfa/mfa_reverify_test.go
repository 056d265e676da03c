package mfa_test

import (
	"context"
	"testing"
	"time"

	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// tries is how many code checks mfa.New allows per person in 15 minutes, under Attempts (the
// sign-in) and AccountAttempts (the dashboard) each.
const tries = 10

// reauthRequired reports whether err asks the person to sign in again.
func reauthRequired(err error) bool {
	e := apperr.As(err)
	return e != nil && e.Name() == "reauthentication_required"
}

// A session whose sign-in is older than auth.RecentSignIn (a cookie taken from the person's
// browser) may not turn two-step verification off or replace the recovery codes, and is
// refused before a code is checked or a try counted, however often it asks: the person's
// sign-in then still takes their right code.
func TestAnOldSessionCannotSendTwoStepCodes(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		now := time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)
		s := newService(t, db, now)
		u := db.User.Create().SetEmail("ann@example.com").SetGlobalID("AB0001").SaveX(context.Background())
		codes := enrol(t, s, auth.WithSession(context.Background(), auth.Session{UserID: u.ID, SignedInAt: now}), now)
		old := auth.WithSession(context.Background(), auth.Session{UserID: u.ID, SignedInAt: now.Add(-auth.RecentSignIn - time.Minute)})
		for i := range 2 * tries {
			if err := s.DisableTOTP(old, "000000"); !reauthRequired(err) {
				t.Fatalf("DisableTOTP %d from a session signed in 16 minutes ago: %v, want reauthentication_required", i+1, err)
			}
			if _, err := s.RegenerateRecoveryCodes(old, codes[0]); !reauthRequired(err) {
				t.Fatalf("RegenerateRecoveryCodes %d from a session signed in 16 minutes ago: %v, want reauthentication_required", i+1, err)
			}
		}
		if st, err := s.StatusOf(context.Background(), u.ID); err != nil || !st.TOTP || st.RecoveryCodesLeft != len(codes) {
			t.Fatalf("two-step verification after the old session's tries: %+v (%v), want on with every code", st, err)
		}
		if _, err := s.Verify(context.Background(), u.ID, codes[1]); err != nil {
			t.Fatalf("the sign-in's second step with a right code, after the old session's tries: %v", err)
		}
	})
}

// Codes sent from the dashboard by a recent session count under AccountAttempts, apart from
// the sign-in's tries: ten of them and even the right code waits (RateLimited), while the
// person's sign-in (Verify) still takes their right code.
func TestDashboardCodesSpendNoSignInTries(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		now := time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)
		s := newService(t, db, now)
		u := db.User.Create().SetEmail("ann@example.com").SetGlobalID("AB0001").SaveX(context.Background())
		ctx := auth.WithSession(context.Background(), auth.Session{UserID: u.ID, SignedInAt: now})
		codes := enrol(t, s, ctx, now)
		for i := range tries - 2 { // the enrolment's code and its confirmation were the first two
			if err := s.DisableTOTP(ctx, "000000"); !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("wrong code %d from the dashboard: %v, want Invalid", i+1, err)
			}
		}
		if err := s.DisableTOTP(ctx, codes[0]); !apperr.Is(err, apperr.RateLimited) {
			t.Fatalf("a right code after %d codes from the dashboard: %v, want RateLimited", tries, err)
		}
		if on, err := s.Enabled(ctx, u.ID); err != nil || !on {
			t.Fatalf("two-step verification on = %v (%v), want still on", on, err)
		}
		if _, err := s.Verify(context.Background(), u.ID, codes[1]); err != nil {
			t.Fatalf("the sign-in's second step with a right code, after the dashboard's tries: %v", err)
		}
	})
}
