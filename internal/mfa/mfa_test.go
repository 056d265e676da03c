package mfa_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"loginsign/ent/recoverycode"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/ids"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/mfa"
	"loginsign/internal/seal"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

var serverSecret = bytes.Repeat([]byte("s"), 32)

// newService is the service as the server builds it: TOTP secrets sealed and recovery codes
// keyed under keys derived from serverSecret, on a clock standing at now.
func newService(t *testing.T, db *store.DB, now time.Time) *mfa.Service {
	t.Helper()
	sealer, err := seal.New(serverSecret, "totp secrets")
	if err != nil {
		t.Fatal(err)
	}
	s := mfa.New(db, kvtest.Embedded(t), sealer, func() time.Time { return now })
	s.RecoveryCodeKey = []byte("recovery-code key of " + string(serverSecret))
	return s
}

// enrol turns two-step verification on for userID and returns the recovery codes shown.
func enrol(t *testing.T, s *mfa.Service, ctx context.Context, now time.Time) []string {
	t.Helper()
	e, err := s.BeginTOTP(ctx, "ann@example.com")
	if err != nil {
		t.Fatalf("BeginTOTP: %v", err)
	}
	code, err := totp.GenerateCodeCustom(e.Secret, now, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	codes, err := s.ConfirmTOTP(ctx, code, mailboxConfirmation(t, s, ctx))
	if err != nil {
		t.Fatalf("ConfirmTOTP: %v", err)
	}
	return codes
}

// TestRecoveryCodesAreStoredKeyedPerPerson: recovery codes are not stored as a plain SHA-256,
// which one guess could test against every stored code at once, but keyed and bound to the
// person. A code still works once, a service with another key cannot check it (a copy of the
// database without LOGINSIGN_SECRET tests no guess), and a code stored the old way, before
// codes were keyed, still works once, so nobody is locked out.
func TestRecoveryCodesAreStoredKeyedPerPerson(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		now := time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)
		s := newService(t, db, now)
		u := db.User.Create().SetEmail("ann@example.com").SetGlobalID("AB0001").SaveX(context.Background())
		ctx := auth.WithSession(context.Background(), auth.Session{UserID: u.ID, SignedInAt: now})
		codes := enrol(t, s, ctx, now)

		rows := db.RecoveryCode.Query().Where(recoverycode.UserID(u.ID)).AllX(ctx)
		if len(rows) != mfa.RecoveryCodeCount {
			t.Fatalf("%d stored codes, want %d", len(rows), mfa.RecoveryCodeCount)
		}
		for _, c := range codes {
			plain := ids.Hash(strings.ReplaceAll(c, "-", ""))
			for _, r := range rows {
				if r.CodeHash == plain {
					t.Errorf("recovery code %s is stored as its plain SHA-256 %s", c, plain)
				}
			}
		}

		other := newService(t, db, now)
		other.RecoveryCodeKey = bytes.Repeat([]byte("k"), 32)
		if _, err := other.Verify(ctx, u.ID, codes[1]); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("a service with another key accepted a code: %v, want Invalid", err)
		}
		if amr, err := s.Verify(ctx, u.ID, strings.ToUpper(codes[0])); err != nil || len(amr) != 2 {
			t.Fatalf("Verify(a recovery code) = %v, %v; want otp and mfa", amr, err)
		}
		if _, err := s.Verify(ctx, u.ID, codes[0]); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("a used recovery code was accepted again: %v, want Invalid", err)
		}

		const oldCode = "abcd-efgh-jkmn"
		db.RecoveryCode.Create().SetUserID(u.ID).SetCodeHash(ids.Hash("abcdefghjkmn")).SetCreatedAt(now).ExecX(ctx)
		if _, err := s.Verify(ctx, u.ID, oldCode); err != nil {
			t.Fatalf("Verify(a code stored the old way) = %v, want it accepted", err)
		}
		if _, err := s.Verify(ctx, u.ID, oldCode); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("a used old code was accepted again: %v, want Invalid", err)
		}
		if st, err := s.StatusOf(ctx, u.ID); err != nil || st.RecoveryCodesLeft != mfa.RecoveryCodeCount-1 {
			t.Errorf("StatusOf = %+v, %v; want %d codes left", st, err, mfa.RecoveryCodeCount-1)
		}
	})
}

// TestARecoveryCodeOfDigitsIsARecoveryCode: a recovery code drawn from the digits of its
// alphabet alone and typed without its dashes is a recovery code, not a TOTP code: it was
// refused for good.
func TestARecoveryCodeOfDigitsIsARecoveryCode(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		now := time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)
		s := newService(t, db, now)
		u := db.User.Create().SetEmail("ann@example.com").SetGlobalID("AB0001").SaveX(context.Background())
		ctx := auth.WithSession(context.Background(), auth.Session{UserID: u.ID, SignedInAt: now})
		enrol(t, s, ctx, now)
		// Stored the old way (a plain hash): the test cannot draw a keyed code of digits.
		for _, c := range []string{"234567892345", "9876 5432 9876"} {
			db.RecoveryCode.Create().SetUserID(u.ID).SetCodeHash(ids.Hash(strings.ReplaceAll(c, " ", ""))).SetCreatedAt(now).ExecX(ctx)
			if _, err := s.Verify(ctx, u.ID, c); err != nil {
				t.Errorf("Verify(recovery code %q) = %v, want it accepted", c, err)
			}
		}
	})
}
