package mfa_test

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"loginsign/internal/apperr"
	"loginsign/internal/mail"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// A thief holding a copy of the session cookie of a recent sign-in of a person without
// two-step verification, but not their mailbox, sets up their own authenticator app in that
// session (turning it on asks no mailed code) and then confirms the changes that could take
// the account with the app's codes instead of the code mailed to the person: their own
// address added and made primary, the person's removed. An app set up after the session's
// sign-in proves nothing the session did not: it must not stand in for the person's mailbox
// until a sign-in has gone through it (the person signs in again: their mailbox and the app).
func TestAnAppSetUpByTheSessionDoesNotStandInForTheMailedCode(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		t0 := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
		clk := &movingClock{t: t0.Add(time.Minute)}
		s, smtp := mailedService(t, db, clk)
		bob := person(db, "bob@example.com", "AB0002")
		stolen := session(bob, t0) // the cookie of Bob's sign-in at t0, copied

		secret, _ := enrolSecret(t, s, stolen, clk.Now())
		clk.Set(t0.Add(2 * time.Minute))
		if uid, err := s.ConfirmChange(stolen, codeAt(t, secret, clk.Now())); err == nil {
			t.Errorf("the thief's new app confirmed a change in the session that set it up = %q; want it refused (no mailed code, no sign-in through the app)", uid)
		}
		if n := smtp.Count(); n != 0 {
			t.Errorf("%d mails sent, want none", n)
		}

		// Bob signs in again (his mailbox and the app): the app then confirms his changes.
		clk.Set(t0.Add(3 * time.Minute))
		again := session(bob, clk.Now())
		if uid, err := s.ConfirmChange(again, codeAt(t, secret, clk.Now())); err != nil || uid != bob.ID {
			t.Errorf("the app after a sign-in through it = %q, %v; want Bob's id", uid, err)
		}
	})
}

// downMail is an SMTP server that refuses every connection, keeping what it was asked to send.
type downMail struct{ sent []mail.Message }

func (d *downMail) Send(_ context.Context, m mail.Message) error {
	d.sent = append(d.sent, m)
	return fmt.Errorf("mail: dial tcp 127.0.0.1:25: %w", syscall.ECONNREFUSED)
}

// A code whose mail could not be sent (the SMTP server down) is of no use to the person, who
// never saw it: it must not stay live, adding to what a thief guesses at, and the failure is an
// outage (503), not a 500.
func TestACodeWhoseMailFailedIsNotLeftLive(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		t0 := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
		clk := &movingClock{t: t0}
		s := newClockedService(t, db, clk)
		down := &downMail{}
		s.Mail = down
		bob := person(db, "bob@example.com", "AB0002")
		asBob := session(bob, t0)
		_, _, err := s.SendChangeCode(asBob, "")
		if err == nil || !apperr.DependencyDown(err) {
			t.Errorf("SendChangeCode with the SMTP server down: %v, want an outage (503)", err)
		}
		if len(down.sent) != 1 {
			t.Fatalf("%d mails tried, want 1", len(down.sent))
		}
		got := mailedCode.FindStringSubmatch(down.sent[0].Text)
		if got == nil {
			t.Fatalf("no code in the mail:\n%s", down.sent[0].Text)
		}
		if uid, err := s.ConfirmChange(asBob, got[1]+got[2]); err == nil {
			t.Errorf("the code of the mail that failed confirmed a change = %q; want it refused (nobody was sent it)", uid)
		}
	})
}

// A wrong code spends no live code (another change's stays usable), and a code mailed before
// the person turned two-step verification on is refused once it is on: the app is then the
// stronger factor.
func TestAWrongCodeSpendsNoneAndAMailedCodeEndsWithTwoStepOn(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		t0 := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
		clk := &movingClock{t: t0}
		s, smtp := mailedService(t, db, clk)
		bob := person(db, "bob@example.com", "AB0002")
		asBob := session(bob, t0)
		first := sendCode(t, s, smtp, asBob, "", "bob@example.com")
		second := sendCode(t, s, smtp, asBob, "", "bob@example.com")
		wrong := "00000000"
		if wrong == first || wrong == second {
			wrong = "99999999"
		}
		if _, err := s.ConfirmChange(asBob, wrong); !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("a wrong code: %v, want Invalid", err)
		}
		if uid, err := s.ConfirmChange(asBob, first); err != nil || uid != bob.ID {
			t.Errorf("the first code after a wrong one = %q, %v; want Bob's id", uid, err)
		}
		enrolSecret(t, s, asBob, t0)
		if _, err := s.ConfirmChange(asBob, second); err == nil {
			t.Errorf("a mailed code with two-step verification on confirmed a change; want it refused")
		}
	})
}
