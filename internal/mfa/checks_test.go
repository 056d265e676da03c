package mfa_test

import (
	"context"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"loginsign/ent/recoverycode"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/ids"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// A recovery code is one person's: another person with two-step verification on cannot pass
// their second step with it, also when it is stored the old, unkeyed way (a plain hash, the
// same whoever it belongs to). The code is not spent by the try, and its owner still uses it.
func TestARecoveryCodeWorksOnlyForItsOwner(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		now := time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)
		s := newService(t, db, now)
		ann := db.User.Create().SetEmail("ann@example.com").SetGlobalID("AB0001").SaveX(context.Background())
		bob := db.User.Create().SetEmail("bob@example.com").SetGlobalID("AB0002").SaveX(context.Background())
		annCodes := enrol(t, s, auth.WithSession(context.Background(), auth.Session{UserID: ann.ID, SignedInAt: now}), now)
		enrol(t, s, auth.WithSession(context.Background(), auth.Session{UserID: bob.ID, SignedInAt: now}), now)
		ctx := context.Background()
		const oldCode = "abcd-efgh-jkmn"
		db.RecoveryCode.Create().SetUserID(ann.ID).SetCodeHash(ids.Hash("abcdefghjkmn")).SetCreatedAt(now).ExecX(ctx)

		for _, code := range []string{annCodes[0], oldCode} {
			if amr, err := s.Verify(ctx, bob.ID, code); !apperr.Is(err, apperr.Invalid) {
				t.Errorf("Bob's second step with Ann's recovery code %s: %v %v, want Invalid", code, amr, err)
			}
		}
		if n := db.RecoveryCode.Query().Where(recoverycode.UserID(ann.ID)).CountX(ctx); n != 11 {
			t.Fatalf("Ann has %d recovery codes after Bob's tries, want 11", n)
		}
		for _, code := range []string{annCodes[0], oldCode} {
			if _, err := s.Verify(ctx, ann.ID, code); err != nil {
				t.Errorf("Ann's own recovery code %s: %v", code, err)
			}
		}
	})
}

// Turning two-step verification on changes how the person signs in, so it needs a recent
// sign-in: a session older than auth.RecentSignIn can neither start an enrolment nor finish
// one (even one the person's fresh session started): reauthentication_required; two-step
// verification stays off until the fresh session finishes it.
func TestAnOldSessionCannotTurnOnTwoStepVerification(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		now := time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)
		s := newService(t, db, now)
		u := db.User.Create().SetEmail("ann@example.com").SetGlobalID("AB0001").SaveX(context.Background())
		fresh := auth.WithSession(context.Background(), auth.Session{UserID: u.ID, ID: "fresh", SignedInAt: now})
		old := auth.WithSession(context.Background(), auth.Session{UserID: u.ID, ID: "old", SignedInAt: now.Add(-auth.RecentSignIn - time.Minute)})
		if _, err := s.BeginTOTP(old, "ann@example.com"); apperr.As(err) == nil || apperr.As(err).Name() != "reauthentication_required" {
			t.Errorf("starting from a session signed in 16 minutes ago: %v, want reauthentication_required", err)
		}
		en, err := s.BeginTOTP(fresh, "ann@example.com")
		if err != nil {
			t.Fatal(err)
		}
		code, err := totp.GenerateCodeCustom(en.Secret, now, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.ConfirmTOTP(old, code, ""); apperr.As(err) == nil || apperr.As(err).Name() != "reauthentication_required" {
			t.Fatalf("confirming from a session signed in 16 minutes ago: %v, want reauthentication_required", err)
		}
		if on, err := s.Enabled(context.Background(), u.ID); err != nil || on {
			t.Fatalf("two-step verification on after the old session's try: %v %v", on, err)
		}
		if _, err := s.ConfirmTOTP(fresh, code, mailboxConfirmation(t, s, fresh)); err != nil {
			t.Fatalf("the fresh session's confirmation: %v", err)
		}
	})
}

// Whether a person has two-step verification on, and how many recovery codes they have left,
// is theirs to read: another signed-in account asking StatusFor gets NotFound.
func TestAnotherAccountCannotReadAPersonsTwoStepStatus(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		now := time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)
		s := newService(t, db, now)
		ann := db.User.Create().SetEmail("ann@example.com").SetGlobalID("AB0001").SaveX(context.Background())
		bob := db.User.Create().SetEmail("bob@example.com").SetGlobalID("AB0002").SaveX(context.Background())
		asAnn := auth.WithSession(context.Background(), auth.Session{UserID: ann.ID, SignedInAt: now})
		enrol(t, s, asAnn, now)
		asBob := auth.WithSession(context.Background(), auth.Session{UserID: bob.ID, SignedInAt: now})
		if st, err := s.StatusFor(asBob, ann.ID); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("Bob reading Ann's two-step status: %+v %v, want NotFound", st, err)
		}
		if st, err := s.StatusFor(asAnn, ann.ID); err != nil || st.RecoveryCodesLeft != 10 {
			t.Errorf("Ann reading her own: %+v %v", st, err)
		}
	})
}
