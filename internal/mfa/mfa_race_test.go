package mfa_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"loginsign/ent/recoverycode"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/globalid"
	"loginsign/internal/mfa"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// Regenerations of the recovery codes at the same moment, each with another valid code, leave
// the person with ten codes, the set one of them showed, never twenty (a regeneration whose
// code another one replaced before it was checked is refused). Many rounds on SQLite
// and PostgreSQL (where the transactions overlap).
func TestConcurrentRegenerationsLeaveTenCodes(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		now := time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)
		s := newService(t, db, now)
		const rounds, parallel = 15, 4
		for i := range rounds {
			ctx := context.Background()
			u := db.User.Create().SetEmail(fmt.Sprintf("ann-%d@example.com", i)).
				SetGlobalID(globalid.Format(int64(i+1) * 7919)).SaveX(ctx)
			ctx = auth.WithSession(ctx, auth.Session{UserID: u.ID, SignedInAt: now})
			codes := enrol(t, s, ctx, now)
			shown := make([][]string, parallel)
			var wg sync.WaitGroup
			for j := range parallel {
				wg.Go(func() {
					// Invalid: another regeneration replaced the code before it was checked.
					var err error
					if shown[j], err = s.RegenerateRecoveryCodes(ctx, codes[j]); err != nil && !apperr.Is(err, apperr.Invalid) {
						t.Errorf("round %d: regeneration %d: %v", i, j, err)
					}
				})
			}
			wg.Wait()
			if n := db.RecoveryCode.Query().Where(recoverycode.UserID(u.ID)).CountX(ctx); n != mfa.RecoveryCodeCount {
				t.Fatalf("round %d: %d recovery codes are valid after %d regenerations, want %d", i, n, parallel, mfa.RecoveryCodeCount)
			}
			// The stored ten are one whole set that was shown: its first code works.
			works := 0
			for _, set := range shown {
				if set == nil {
					continue
				}
				if _, err := s.Verify(ctx, u.ID, set[0]); err == nil {
					works++
				} else if !apperr.Is(err, apperr.Invalid) {
					t.Fatal(err)
				}
			}
			if works != 1 {
				t.Errorf("round %d: codes of %d shown sets work, want exactly 1", i, works)
			}
		}
	})
}

// A regeneration racing the turning off of two-step verification never leaves recovery codes
// without it: the person would hold codes of nothing, which the next enrolment silently
// replaces. Many rounds, on SQLite and PostgreSQL.
func TestRegenerationRacingTurningOffLeavesNoCodes(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		now := time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)
		s := newService(t, db, now)
		for i := range 12 {
			ctx := context.Background()
			u := db.User.Create().SetEmail(fmt.Sprintf("ann-%d@example.com", i)).
				SetGlobalID(globalid.Format(int64(i+1) * 7919)).SaveX(ctx)
			ctx = auth.WithSession(ctx, auth.Session{UserID: u.ID, SignedInAt: now})
			codes := enrol(t, s, ctx, now)
			var wg sync.WaitGroup
			var offErr, regenErr error
			wg.Go(func() { offErr = s.DisableTOTP(ctx, codes[0]) })
			wg.Go(func() { _, regenErr = s.RegenerateRecoveryCodes(ctx, codes[1]) })
			wg.Wait()
			// Invalid: the other one's change came first and replaced (or deleted) the code.
			for _, err := range []error{offErr, regenErr} {
				if err != nil && !apperr.Is(err, apperr.Conflict) && !apperr.Is(err, apperr.Invalid) {
					t.Fatalf("round %d: %v, want success, Conflict or Invalid", i, err)
				}
			}
			on, err := s.Enabled(ctx, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			n := db.RecoveryCode.Query().Where(recoverycode.UserID(u.ID)).CountX(ctx)
			if !on && n != 0 {
				t.Errorf("round %d: %d recovery codes left with two-step verification off", i, n)
			}
		}
	})
}
