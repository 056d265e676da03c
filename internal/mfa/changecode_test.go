package mfa_test

import (
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/mail"
	"loginsign/internal/mail/mailtest"
	"loginsign/internal/mfa"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// mailedService is newClockedService mailing through a real SMTP server, whose messages it
// returns.
func mailedService(t *testing.T, db *store.DB, clk *movingClock) (*mfa.Service, *mailtest.Server) {
	t.Helper()
	smtp := mailtest.Start(t)
	sender, err := mail.New(mail.Config{URL: smtp.URL(), From: "LoginSign <no-reply@example.com>"})
	if err != nil {
		t.Fatal(err)
	}
	s := newClockedService(t, db, clk)
	s.Mail = sender
	return s, smtp
}

var mailedCode = regexp.MustCompile(`\b(\d{4}) (\d{4})\b`)

// sendCode asks for a code as ctx's person, to the address emailID ("" for the primary one),
// and returns it as read in the mail, which must go to want.
func sendCode(t *testing.T, s *mfa.Service, smtp *mailtest.Server, ctx context.Context, emailID, want string) string {
	t.Helper()
	n := smtp.Count()
	to, expires, err := s.SendChangeCode(ctx, emailID)
	if err != nil {
		t.Fatalf("SendChangeCode: %v", err)
	}
	if to != want || !expires.Equal(s.Now().Add(mfa.ChangeCodeTTL)) {
		t.Errorf("SendChangeCode = %q, %v; want %q, %v", to, expires, want, s.Now().Add(mfa.ChangeCodeTTL))
	}
	m := smtp.Wait(t, n+1)[n]
	if len(m.To) != 1 || m.To[0] != want {
		t.Fatalf("the code went to %v, want %s", m.To, want)
	}
	got := mailedCode.FindStringSubmatch(m.Text)
	if got == nil {
		t.Fatalf("no code in the mail:\n%s", m.Text)
	}
	return got[1] + got[2]
}

// A person without two-step verification confirms a change that could take their account
// with a code mailed to them: never without it, a guessed or spent one, another person's, or
// one past its lifetime; and an old session spends no try.
func TestAChangeWithoutTwoStepNeedsTheCodeMailedToThePerson(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		t0 := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
		clk := &movingClock{t: t0}
		s, smtp := mailedService(t, db, clk)
		bob, carl := person(db, "bob@example.com", "AB0002"), person(db, "carl@example.com", "AB0003")
		asBob := session(bob, t0)

		if _, err := s.ConfirmChange(asBob, ""); apperr.As(err) == nil || apperr.As(err).Name() != "confirmation_code_required" {
			t.Fatalf("no code: %v, want confirmation_code_required", err)
		}
		if _, err := s.ConfirmChange(asBob, "12345678"); !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("a guessed code before any was mailed: %v, want Invalid", err)
		}
		code := sendCode(t, s, smtp, asBob, "", "bob@example.com")
		if _, err := s.ConfirmChange(session(carl, t0), code); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("Bob's code in Carl's session: %v, want Invalid", err)
		}
		if _, err := s.ConfirmChange(session(bob, t0.Add(-auth.RecentSignIn-time.Minute)), code); !reauthRequired(err) {
			t.Errorf("Bob's code in an old session of his: %v, want reauthentication_required", err)
		}
		if uid, err := s.ConfirmChange(asBob, " "+code[:4]+" "+code[4:]+" "); err != nil || uid != bob.ID {
			t.Fatalf("Bob's code as the mail shows it = %q, %v; want Bob's id", uid, err)
		}
		if _, err := s.ConfirmChange(asBob, code); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("the same code again: %v, want Invalid (spent)", err)
		}

		late := sendCode(t, s, smtp, asBob, "", "bob@example.com")
		clk.Set(t0.Add(mfa.ChangeCodeTTL + time.Second))
		if _, err := s.ConfirmChange(session(bob, clk.Now()), late); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("a code past its %v: %v, want Invalid", mfa.ChangeCodeTTL, err)
		}
	})
}

// A person with two-step verification on confirms with their authenticator app (or a
// recovery code), and is mailed no code: a mailbox is the weaker of their two factors.
func TestAChangeWithTwoStepOnNeedsTheAppsCode(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		t0 := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
		clk := &movingClock{t: t0}
		s, smtp := mailedService(t, db, clk)
		ann := person(db, "ann@example.com", "AB0001")
		asAnn := session(ann, t0)
		_, codes := enrolSecret(t, s, asAnn, t0)

		if _, _, err := s.SendChangeCode(asAnn, ""); apperr.As(err) == nil || apperr.As(err).Name() != "second_step_on" {
			t.Errorf("SendChangeCode with two-step on: %v, want second_step_on", err)
		}
		if n := smtp.Count(); n != 0 {
			t.Errorf("%d mails sent, want none", n)
		}
		if _, err := s.ConfirmChange(asAnn, ""); apperr.As(err) == nil || apperr.As(err).Name() != "second_step_required" {
			t.Errorf("no code, two-step on: %v, want second_step_required", err)
		}
		if _, err := s.ConfirmChange(asAnn, "zzzz-zzzz-zzzz"); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("a wrong recovery code: %v, want Invalid", err)
		}
		if uid, err := s.ConfirmChange(asAnn, codes[0]); err != nil || uid != ann.ID {
			t.Errorf("a recovery code = %q, %v; want Ann's id", uid, err)
		}
	})
}

// The code goes to the primary address or to a verified alternative address of the person's,
// never to an unverified one or another person's; past ChangeCodeSends an hour nothing is
// mailed.
func TestAConfirmationCodeGoesOnlyToThePersonsVerifiedAddresses(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		t0 := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
		clk := &movingClock{t: t0}
		s, smtp := mailedService(t, db, clk)
		bob, carl := person(db, "bob@example.com", "AB0002"), person(db, "carl@example.com", "AB0003")
		ctx := context.Background()
		alt := db.UserEmail.Create().SetUserID(bob.ID).SetEmail("bob.alt@example.org").SetVerifiedAt(t0).SaveX(ctx)
		pending := db.UserEmail.Create().SetUserID(bob.ID).SetEmail("bob.new@example.net").SaveX(ctx)
		carls := db.UserEmail.Create().SetUserID(carl.ID).SetEmail("carl.alt@example.org").SetVerifiedAt(t0).SaveX(ctx)
		asBob := session(bob, t0)

		code := sendCode(t, s, smtp, asBob, alt.ID, "bob.alt@example.org")
		for _, id := range []string{pending.ID, carls.ID, "nonsense"} {
			if _, _, err := s.SendChangeCode(asBob, id); !apperr.Is(err, apperr.NotFound) {
				t.Errorf("SendChangeCode to %s: %v, want NotFound", id, err)
			}
		}
		if uid, err := s.ConfirmChange(asBob, code); err != nil || uid != bob.ID {
			t.Errorf("the code mailed to the alternative address = %q, %v", uid, err)
		}
		for range mfa.DefaultChangeCodeSends.N - 1 {
			sendCode(t, s, smtp, asBob, "", "bob@example.com")
		}
		n := smtp.Count()
		if _, _, err := s.SendChangeCode(asBob, ""); !apperr.Is(err, apperr.RateLimited) {
			t.Errorf("code %d within the hour: %v, want RateLimited", mfa.DefaultChangeCodeSends.N+1, err)
		}
		time.Sleep(100 * time.Millisecond)
		if got := smtp.Count(); got != n {
			t.Errorf("%d mails after the refused send, want %d", got, n)
		}
		if _, _, err := s.SendChangeCode(session(bob, t0.Add(-auth.RecentSignIn-time.Minute)), ""); !reauthRequired(err) {
			t.Errorf("SendChangeCode from an old session: %v, want reauthentication_required", err)
		}
	})
}

// One code, sent by many requests at once, confirms one change.
func TestAConfirmationCodeSentAtOnceByManyConfirmsOne(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		t0 := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
		clk := &movingClock{t: t0}
		s, smtp := mailedService(t, db, clk)
		bob := person(db, "bob@example.com", "AB0002")
		asBob := session(bob, t0)
		code := sendCode(t, s, smtp, asBob, "", "bob@example.com")
		const racers = 8
		var wg sync.WaitGroup
		var mu sync.Mutex
		var ok int
		var errs []string
		for range racers {
			wg.Go(func() {
				_, err := s.ConfirmChange(asBob, code)
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					ok++
				} else if !apperr.Is(err, apperr.Invalid) {
					errs = append(errs, err.Error())
				}
			})
		}
		wg.Wait()
		if ok != 1 || len(errs) > 0 {
			t.Errorf("%d of %d confirmed with one code, want 1; other errors: %s", ok, racers, strings.Join(errs, "; "))
		}
	})
}
