package mfa_test

import (
	"fmt"
	"testing"
	"time"

	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// The first code of an enrolment is read as the sign-in reads codes: apps show it as "123 456",
// and the sign-in and the dashboard's second step (Verify, Reverify) accept it typed with that
// space or with spaces around it. The enrolment refused it as wrong (and spent one of the
// person's tries).
func TestEnrolmentTakesACodeTypedAsTheSignInTakesIt(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		t0 := time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)
		clk := &movingClock{t: t0}
		s := newClockedService(t, db, clk)
		for i, typed := range []func(c string) string{
			func(c string) string { return c[:3] + " " + c[3:] },
			func(c string) string { return " " + c + " " },
		} {
			u := person(db, fmt.Sprintf("p%d@example.com", i), fmt.Sprintf("AB07%02d", 10+i))
			ctx := session(u, t0)
			e, err := s.BeginTOTP(ctx, u.Email)
			if err != nil {
				t.Fatal(err)
			}
			code := typed(codeAt(t, e.Secret, t0))
			if _, err := s.ConfirmTOTP(ctx, code, mailboxConfirmation(t, s, ctx)); err != nil {
				t.Errorf("ConfirmTOTP(%q), the current code as typed: %v; want two-step verification on, as Verify accepts %q", code, err, code)
				continue
			}
			// The sign-in takes the same form of a later code.
			if _, err := s.Verify(ctx, u.ID, typed(codeAt(t, e.Secret, t0.Add(30*time.Second)))); err != nil {
				t.Errorf("Verify of a later code typed the same way: %v", err)
			}
		}
	})
}
