package mfa_test

import (
	"context"
	"testing"
	"time"

	"loginsign/ent/activityevent"
	"loginsign/internal/activity"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/mfa"
	"loginsign/internal/store/storetest"
)

// mailboxConfirmation is a confirmation of the person of ctx, as a passkey of theirs gives
// one (IssuePasskeyConfirmation): what ConfirmTOTP takes besides the app's code.
func mailboxConfirmation(t testing.TB, s *mfa.Service, ctx context.Context) string {
	t.Helper()
	sess, _ := auth.SessionFrom(ctx)
	c, _, err := s.IssuePasskeyConfirmation(ctx, sess.UserID)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestAnAppIsSetUpOnlyWithThePersonsMailboxOrPasskey: turning two-step verification on
// changes how the person signs in, as adding a passkey does, so the copy of a recent
// sign-in's session cookie is not enough. Before, a thief holding one set up their own app
// with its first code alone, and the person, who had neither its codes nor the recovery
// codes, could not sign in until the undo link's three days ran out. The app's code and a
// confirmation (a mailed code, or a passkey's) are both needed; a wrong or missing
// confirmation turns nothing on, and a mistyped app code spends no mailed one.
func TestAnAppIsSetUpOnlyWithThePersonsMailboxOrPasskey(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	t0 := time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)
	clk := &movingClock{t: t0}
	s := newClockedService(t, db, clk)
	ann := person(db, "ann@example.com", "AB0001")
	asAnn := session(ann, t0)
	en, err := s.BeginTOTP(asAnn, "ann@example.com")
	if err != nil {
		t.Fatal(err)
	}
	right := codeAt(t, en.Secret, t0)

	_, err = s.ConfirmTOTP(asAnn, right, "")
	if e := apperr.As(err); e == nil || e.Name() != "confirmation_code_required" {
		t.Fatalf("the app's code alone (a copied session cookie): %v, want confirmation_code_required", err)
	}
	if _, err := s.ConfirmTOTP(asAnn, right, "12345678"); !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("a guessed mailed code: %v, want Invalid", err)
	}
	if on, err := s.Enabled(context.Background(), ann.ID); err != nil || on {
		t.Fatalf("two-step verification on without the person's confirmation: %v, %v", on, err)
	}

	// A wrong app code is refused before the confirmation is looked at: it stays live.
	confirmation := mailboxConfirmation(t, s, asAnn)
	wrong := "000000"
	if wrong == right {
		wrong = "111111"
	}
	if _, err := s.ConfirmTOTP(asAnn, wrong, confirmation); !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("a wrong app code: %v, want Invalid", err)
	}
	codes, err := s.ConfirmTOTP(asAnn, right, confirmation)
	if err != nil || len(codes) != 10 {
		t.Fatalf("the app's code and the person's confirmation: %d codes, %v; want two-step verification on", len(codes), err)
	}
	if n := db.ActivityEvent.Query().Where(activityevent.UserID(ann.ID), activityevent.Type(string(activity.TOTPEnabled))).
		CountX(context.Background()); n != 1 {
		t.Errorf("%d totp_enabled events, want 1", n)
	}
}
