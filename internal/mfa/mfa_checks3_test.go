package mfa_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"loginsign/ent"
	"loginsign/ent/activityevent"
	"loginsign/ent/recoverycode"
	"loginsign/ent/totpfactor"
	"loginsign/internal/activity"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/mfa"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// movingClock is a clock the test sets.
type movingClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *movingClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *movingClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func newClockedService(t *testing.T, db *store.DB, clk *movingClock) *mfa.Service {
	t.Helper()
	s := mfa.New(db, kvtest.Embedded(t), sealer(t), clk.Now)
	s.RecoveryCodeKey = []byte("recovery-code key of " + string(serverSecret))
	return s
}

func codeAt(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// enrolSecret turns two-step verification on at now and returns the secret and recovery codes.
func enrolSecret(t *testing.T, s *mfa.Service, ctx context.Context, now time.Time) (string, []string) {
	t.Helper()
	e, err := s.BeginTOTP(ctx, "person@example.com")
	if err != nil {
		t.Fatalf("BeginTOTP: %v", err)
	}
	codes, err := s.ConfirmTOTP(ctx, codeAt(t, e.Secret, now), mailboxConfirmation(t, s, ctx))
	if err != nil {
		t.Fatalf("ConfirmTOTP: %v", err)
	}
	return e.Secret, codes
}

func person(db *store.DB, email, gid string) *ent.User {
	return db.User.Create().SetEmail(email).SetGlobalID(gid).SaveX(context.Background())
}

func session(u *ent.User, at time.Time) context.Context {
	return auth.WithSession(context.Background(), auth.Session{UserID: u.ID, ID: "s-" + u.ID, SignedInAt: at})
}

// A TOTP code is accepted from one time step either side of now, not two; each step once, and
// never a step older than one already used.
func TestATOTPCodeIsAcceptedInItsWindowOnce(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		t0 := time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)
		clk := &movingClock{t: t0}
		s := newClockedService(t, db, clk)
		u := person(db, "ann@example.com", "AB0001")
		secret, _ := enrolSecret(t, s, session(u, t0), t0)
		ctx := context.Background()

		if _, err := s.Verify(ctx, u.ID, codeAt(t, secret, t0)); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("the enrolment's code used again: %v, want Invalid", err)
		}
		clk.Set(t0.Add(10 * time.Minute))
		now := clk.Now()
		for _, d := range []time.Duration{-60 * time.Second, 60 * time.Second} {
			if _, err := s.Verify(ctx, u.ID, codeAt(t, secret, now.Add(d))); !apperr.Is(err, apperr.Invalid) {
				t.Errorf("the code of %v from now: %v, want Invalid (outside the window)", d, err)
			}
		}
		if _, err := s.Verify(ctx, u.ID, codeAt(t, secret, now.Add(-30*time.Second))); err != nil {
			t.Errorf("the code of the step before now: %v, want it accepted", err)
		}
		if _, err := s.Verify(ctx, u.ID, codeAt(t, secret, now.Add(30*time.Second))); err != nil {
			t.Errorf("the code of the step after now: %v, want it accepted", err)
		}
		for _, d := range []time.Duration{30 * time.Second, 0, -30 * time.Second} {
			if _, err := s.Verify(ctx, u.ID, codeAt(t, secret, now.Add(d))); !apperr.Is(err, apperr.Invalid) {
				t.Errorf("the code of %v from now after the step after now was used: %v, want Invalid", d, err)
			}
		}
		clk.Set(now.Add(5 * time.Minute))
		if amr, err := s.Verify(ctx, u.ID, codeAt(t, secret, clk.Now())); err != nil || len(amr) != 2 || amr[0] != mfa.AMROTP || amr[1] != mfa.AMRMFA {
			t.Errorf("a current code later = %v, %v; want [otp mfa]", amr, err)
		}
	})
}

// Turning two-step verification off deletes the person's factor and recovery codes, records
// totp_disabled and tells them; another person's factor and codes stay. The enrolment it was
// turned on with cannot be confirmed again.
func TestTurningTwoStepOffTouchesOnlyThePerson(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		t0 := time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)
		clk := &movingClock{t: t0}
		s := newClockedService(t, db, clk)
		var mu sync.Mutex
		var told []string
		s.Notify = func(_ context.Context, uid string, ev mfa.Event, _ string) {
			mu.Lock()
			defer mu.Unlock()
			told = append(told, uid+":"+string(ev))
		}
		ann, bob := person(db, "ann@example.com", "AB0001"), person(db, "bob@example.com", "AB0002")
		asAnn := session(ann, t0)
		en, err := s.BeginTOTP(asAnn, "ann@example.com")
		if err != nil {
			t.Fatal(err)
		}
		confirm := codeAt(t, en.Secret, t0)
		if _, err := s.ConfirmTOTP(asAnn, confirm, mailboxConfirmation(t, s, asAnn)); err != nil {
			t.Fatal(err)
		}
		_, bobCodes := enrolSecret(t, s, session(bob, t0), t0)
		clk.Set(t0.Add(time.Minute))
		if err := s.DisableTOTP(asAnn, codeAt(t, en.Secret, clk.Now())); err != nil {
			t.Fatalf("DisableTOTP: %v", err)
		}
		ctx := context.Background()
		if n := db.TOTPFactor.Query().Where(totpfactor.UserID(ann.ID)).CountX(ctx); n != 0 {
			t.Errorf("Ann has %d TOTP factors after turning it off, want 0", n)
		}
		if n := db.RecoveryCode.Query().Where(recoverycode.UserID(ann.ID)).CountX(ctx); n != 0 {
			t.Errorf("Ann has %d recovery codes after turning it off, want 0", n)
		}
		if st, err := s.StatusOf(ctx, bob.ID); err != nil || !st.TOTP || st.RecoveryCodesLeft != len(bobCodes) {
			t.Errorf("Bob's two-step status after Ann turned hers off = %+v, %v; want on with %d codes", st, err, len(bobCodes))
		}
		if n := db.ActivityEvent.Query().Where(activityevent.UserID(ann.ID), activityevent.Type(string(activity.TOTPDisabled)),
			activityevent.ActorEQ(activity.ByPerson)).CountX(ctx); n != 1 {
			t.Errorf("%d totp_disabled events of Ann's by the person, want 1", n)
		}
		if n := db.ActivityEvent.Query().Where(activityevent.UserID(ann.ID), activityevent.Type(string(activity.TOTPEnabled))).CountX(ctx); n != 1 {
			t.Errorf("%d totp_enabled events of Ann's, want 1", n)
		}
		mu.Lock()
		got := append([]string(nil), told...)
		mu.Unlock()
		want := []string{ann.ID + ":totp_added", bob.ID + ":totp_added", ann.ID + ":totp_removed"}
		if len(got) != len(want) {
			t.Errorf("notices = %v, want %v", got, want)
		} else {
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("notice %d = %s, want %s", i, got[i], want[i])
				}
			}
		}
		// The old enrolment is spent: confirming it again turns nothing on.
		if _, err := s.ConfirmTOTP(asAnn, confirm, mailboxConfirmation(t, s, asAnn)); !apperr.Is(err, apperr.Gone) {
			t.Errorf("confirming the spent enrolment again: %v, want Gone", err)
		}
		if on, _ := s.Enabled(ctx, ann.ID); on {
			t.Errorf("two-step verification is on again after re-confirming a spent enrolment")
		}
	})
}

// New recovery codes replace only the person's own: their old codes stop working, the new ones
// work, Bob's stay; with two-step verification off there is nothing to renew (Invalid: no
// second step to give).
func TestRenewingRecoveryCodesReplacesOnlyThePersons(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		t0 := time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)
		clk := &movingClock{t: t0}
		s := newClockedService(t, db, clk)
		ann, bob := person(db, "ann@example.com", "AB0001"), person(db, "bob@example.com", "AB0002")
		asAnn := session(ann, t0)
		_, annOld := enrolSecret(t, s, asAnn, t0)
		_, bobCodes := enrolSecret(t, s, session(bob, t0), t0)
		annNew, err := s.RegenerateRecoveryCodes(asAnn, annOld[0])
		if err != nil {
			t.Fatalf("RegenerateRecoveryCodes: %v", err)
		}
		ctx := context.Background()
		if len(annNew) != mfa.RecoveryCodeCount {
			t.Errorf("%d new codes, want %d", len(annNew), mfa.RecoveryCodeCount)
		}
		if n := db.RecoveryCode.Query().Where(recoverycode.UserID(ann.ID)).CountX(ctx); n != mfa.RecoveryCodeCount {
			t.Errorf("Ann has %d stored codes, want %d", n, mfa.RecoveryCodeCount)
		}
		if _, err := s.Verify(ctx, ann.ID, annOld[1]); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("an old code after renewal: %v, want Invalid", err)
		}
		if _, err := s.Verify(ctx, ann.ID, annNew[0]); err != nil {
			t.Errorf("a new code: %v, want it accepted", err)
		}
		if _, err := s.Verify(ctx, bob.ID, bobCodes[0]); err != nil {
			t.Errorf("Bob's code after Ann's renewal: %v, want it accepted", err)
		}
		if n := db.RecoveryCode.Query().Where(recoverycode.UserID(bob.ID)).CountX(ctx); n != len(bobCodes)-1 {
			t.Errorf("Bob has %d codes, want %d", n, len(bobCodes)-1)
		}
		if st, err := s.StatusOf(ctx, ann.ID); err != nil || st.RecoveryCodesLeft != mfa.RecoveryCodeCount-1 {
			t.Errorf("Ann's status = %+v, %v; want %d codes left (hers only)", st, err, mfa.RecoveryCodeCount-1)
		}
		if n := db.ActivityEvent.Query().Where(activityevent.UserID(ann.ID), activityevent.Type(string(activity.RecoveryCodesNew))).CountX(ctx); n != 1 {
			t.Errorf("%d recovery_codes_renewed events of Ann's, want 1", n)
		}
		carl := person(db, "carl@example.com", "AB0003")
		if codes, err := s.RegenerateRecoveryCodes(session(carl, t0), "abcd-efgh-jkmn"); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("renewing without two-step verification = %v, %v; want Invalid", codes, err)
		}
		if n := db.RecoveryCode.Query().Where(recoverycode.UserID(carl.ID)).CountX(ctx); n != 0 {
			t.Errorf("Carl has %d codes, want none", n)
		}
	})
}

// Enrolment: a person who has it on cannot start another (Conflict); a wrong code answers
// Invalid and turns nothing on; the tries are limited (the eleventh, even right, waits); one
// person's enrolment is not another's to confirm.
func TestEnrolmentNeedsItsOwnRightCode(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		t0 := time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)
		clk := &movingClock{t: t0}
		s := newClockedService(t, db, clk)
		ann, bob := person(db, "ann@example.com", "AB0001"), person(db, "bob@example.com", "AB0002")
		asAnn, asBob := session(ann, t0), session(bob, t0)
		en, err := s.BeginTOTP(asAnn, "ann@example.com")
		if err != nil {
			t.Fatal(err)
		}
		right := codeAt(t, en.Secret, t0)
		if _, err := s.ConfirmTOTP(asBob, right, mailboxConfirmation(t, s, asBob)); !apperr.Is(err, apperr.Gone) {
			t.Errorf("Bob confirming Ann's enrolment with its code: %v, want Gone", err)
		}
		if on, _ := s.Enabled(context.Background(), bob.ID); on {
			t.Errorf("Bob has two-step verification on with Ann's secret")
		}
		wrong := "000000"
		if wrong == right {
			wrong = "111111"
		}
		for i := range tries - 1 {
			if _, err := s.ConfirmTOTP(asAnn, wrong, mailboxConfirmation(t, s, asAnn)); !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("wrong code %d: %v, want Invalid", i+1, err)
			}
		}
		if on, _ := s.Enabled(context.Background(), ann.ID); on {
			t.Fatalf("two-step verification is on after wrong codes")
		}
		if _, err := s.ConfirmTOTP(asAnn, wrong, mailboxConfirmation(t, s, asAnn)); !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("wrong code %d: %v, want Invalid", tries, err)
		}
		if _, err := s.ConfirmTOTP(asAnn, right, mailboxConfirmation(t, s, asAnn)); !apperr.Is(err, apperr.RateLimited) {
			t.Fatalf("the right code after %d tries: %v, want RateLimited", tries, err)
		}
		if _, err := s.ConfirmTOTP(asBob, "123456", mailboxConfirmation(t, s, asBob)); !apperr.Is(err, apperr.Gone) {
			t.Errorf("Bob's own confirmation without an enrolment, after Ann's tries: %v, want Gone", err)
		}

		_, _ = enrolSecret(t, s, asBob, t0)
		if e, err := s.BeginTOTP(asBob, "bob@example.com"); !apperr.Is(err, apperr.Conflict) {
			t.Errorf("a new enrolment with two-step verification on = %v, %v; want Conflict", e, err)
		}
	})
}

// The sign-in's second step is limited too: after ten wrong codes even the right one waits;
// a person without two-step verification passes no second step.
func TestTheSignInsSecondStepIsLimited(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		t0 := time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)
		clk := &movingClock{t: t0}
		s := newClockedService(t, db, clk)
		ann, bob := person(db, "ann@example.com", "AB0001"), person(db, "bob@example.com", "AB0002")
		_, codes := enrolSecret(t, s, session(ann, t0), t0)
		ctx := context.Background()
		for i := range tries {
			if _, err := s.Verify(ctx, ann.ID, "zzzz-zzzz-zzzz"); !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("wrong code %d: %v, want Invalid", i+1, err)
			}
		}
		if _, err := s.Verify(ctx, ann.ID, codes[0]); !apperr.Is(err, apperr.RateLimited) {
			t.Fatalf("a right code after %d wrong ones: %v, want RateLimited", tries, err)
		}
		if n := db.RecoveryCode.Query().Where(recoverycode.UserID(ann.ID)).CountX(ctx); n != len(codes) {
			t.Errorf("Ann has %d codes after the limited try, want %d (none spent)", n, len(codes))
		}
		if amr, err := s.Verify(ctx, bob.ID, "123456"); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("Bob without two-step verification: %v, %v; want Invalid", amr, err)
		}
	})
}

// ACR is mfa only with the mfa method.
func TestACRNeedsTheMFAMethod(t *testing.T) {
	t.Parallel()
	if got := mfa.ACR([]string{"otp", "mfa"}); got != mfa.ACRMFA {
		t.Errorf("ACR(otp mfa) = %s, want %s", got, mfa.ACRMFA)
	}
	if got := mfa.ACR([]string{"otp", "hwk"}); got != mfa.ACR1FA {
		t.Errorf("ACR(otp hwk) = %s, want %s", got, mfa.ACR1FA)
	}
}

// Two sign-ins that read the factor at the same moment and send the same code: one is
// accepted, the other finds the time step spent (Invalid). Each read is held until both
// happened, so the race is not left to chance.
func TestOneTOTPCodeReadByTwoSignInsAtOnceIsAcceptedOnce(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		t0 := time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)
		clk := &movingClock{t: t0}
		s := newClockedService(t, db, clk)
		u := person(db, "ann@example.com", "AB0001")
		secret, _ := enrolSecret(t, s, session(u, t0), t0)
		clk.Set(t0.Add(time.Minute))
		code := codeAt(t, secret, clk.Now())

		var arrived sync.WaitGroup
		arrived.Add(2)
		both := make(chan struct{})
		go func() { arrived.Wait(); close(both) }()
		var held sync.Mutex
		left := 2
		db.TOTPFactor.Intercept(ent.InterceptFunc(func(next ent.Querier) ent.Querier {
			return ent.QuerierFunc(func(ctx context.Context, q ent.Query) (ent.Value, error) {
				held.Lock()
				hold := left > 0
				if hold {
					left--
				}
				held.Unlock()
				v, err := next.Query(ctx, q)
				if hold { // both have read the factor before either goes on
					arrived.Done()
					select {
					case <-both:
					case <-time.After(10 * time.Second):
						t.Errorf("the second sign-in never read the factor")
					}
				}
				return v, err
			})
		}))
		errs := make(chan error, 2)
		for range 2 {
			go func() {
				_, err := s.Verify(context.Background(), u.ID, code)
				errs <- err
			}()
		}
		accepted := 0
		for range 2 {
			switch err := <-errs; {
			case err == nil:
				accepted++
			case !apperr.Is(err, apperr.Invalid):
				t.Errorf("Verify: %v", err)
			}
		}
		if accepted != 1 {
			t.Errorf("one code sent by two sign-ins reading the factor at once was accepted %d times, want once", accepted)
		}
	})
}

// A recovery code's stored form is bound to its person: the rows of Ann's codes copied to Bob
// (a database write, a restored backup mixing accounts) do not let Bob's second step pass with
// Ann's code. Using a code is told to its person (a security notice).
func TestAStoredRecoveryCodeIsBoundToItsPerson(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		t0 := time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)
		clk := &movingClock{t: t0}
		s := newClockedService(t, db, clk)
		var mu sync.Mutex
		var told []string
		s.Notify = func(_ context.Context, uid string, ev mfa.Event, _ string) {
			mu.Lock()
			defer mu.Unlock()
			told = append(told, uid+":"+string(ev))
		}
		ann, bob := person(db, "ann@example.com", "AB0001"), person(db, "bob@example.com", "AB0002")
		_, annCodes := enrolSecret(t, s, session(ann, t0), t0)
		enrolSecret(t, s, session(bob, t0), t0)
		ctx := context.Background()
		for _, r := range db.RecoveryCode.Query().Where(recoverycode.UserID(ann.ID)).AllX(ctx) {
			db.RecoveryCode.Create().SetUserID(bob.ID).SetCodeHash(r.CodeHash).SetCreatedAt(t0).ExecX(ctx)
		}
		if _, err := s.Verify(ctx, bob.ID, annCodes[0]); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("Bob's second step with Ann's code, her stored rows copied to him: %v, want Invalid", err)
		}
		if _, err := s.Verify(ctx, ann.ID, annCodes[0]); err != nil {
			t.Fatalf("Ann's own code: %v", err)
		}
		mu.Lock()
		defer mu.Unlock()
		if n := len(told); n == 0 || told[n-1] != ann.ID+":"+string(mfa.RecoveryCodeUsed) {
			t.Errorf("notices = %v, want the last to tell Ann a recovery code was used", told)
		}
	})
}
