package mfa_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"loginsign/ent"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/kv"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/mfa"
	"loginsign/internal/ratelimit"
	"loginsign/internal/seal"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// clockedService is newService on store k whose clock the test moves (set between calls,
// never while they run), with tries enough for the test's own calls.
func clockedService(t *testing.T, db *store.DB, k *kv.Store, at *time.Time) *mfa.Service {
	t.Helper()
	s := mfa.New(db, k, sealer(t), func() time.Time { return *at })
	s.RecoveryCodeKey = []byte("recovery-code key of " + string(serverSecret))
	s.Attempts = ratelimit.Rule{Name: "mfa-code", N: 1000, Window: 15 * time.Minute}
	s.NewBrowserFailures.N = 1000 // the codes that lose a race count as wrong ones
	return s
}

// One code sent many times at once, a TOTP code or a recovery code, is accepted once: the
// time step is recorded and the recovery code deleted with a condition, so the sign-ins racing
// it find it spent (Invalid). Many rounds, on SQLite and PostgreSQL.
func TestOneCodeSentManyTimesAtOnceIsAcceptedOnce(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		at := time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)
		s := clockedService(t, db, kvtest.Embedded(t), &at)
		u := db.User.Create().SetEmail("ann@example.com").SetGlobalID("AB0001").SaveX(context.Background())
		codes := enrol(t, s, auth.WithSession(context.Background(), auth.Session{UserID: u.ID, SignedInAt: at}), at)
		secret := secretOf(t, db)
		const rounds, parallel = 8, 6
		for i := range rounds {
			at = at.Add(time.Minute) // a time step no code was accepted in
			code, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []string{code, codes[i]} {
				var accepted atomic.Int32
				var wg sync.WaitGroup
				for range parallel {
					wg.Go(func() {
						_, err := s.Verify(context.Background(), u.ID, c)
						switch {
						case err == nil:
							accepted.Add(1)
						case !apperr.Is(err, apperr.Invalid):
							t.Errorf("round %d: %v", i, err)
						}
					})
				}
				wg.Wait()
				if n := accepted.Load(); n != 1 {
					t.Fatalf("round %d: the code %s sent %d times at once was accepted %d times, want once", i, c, parallel, n)
				}
			}
		}
	})
}

func sealer(t *testing.T) *seal.Sealer {
	t.Helper()
	s, err := seal.New(serverSecret, "totp secrets")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// secretOf is the TOTP secret of the one factor in db.
func secretOf(t *testing.T, db *store.DB) string {
	t.Helper()
	f, err := db.TOTPFactor.Query().Only(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b, err := sealer(t).Open(f.SecretSealed)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A code check whose try cannot be counted (Redis failing) refuses the code, spending nothing:
// let through, a person's codes could be guessed without a limit while Redis flaps. A code
// check whose spending cannot be written (the database failing) accepts nothing either, and
// the code still works once afterwards.
func TestACodeWhoseTryOrUseCannotBeWrittenIsRefused(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		at := time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)
		k := kvtest.Real(t)
		f := kvtest.InjectFaults(t, k)
		s := clockedService(t, db, k, &at)
		var dbFault atomic.Bool // the next write of a factor or a recovery code fails
		fail := func(next ent.Mutator) ent.Mutator {
			return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
				if dbFault.CompareAndSwap(true, false) {
					return nil, errors.New("database connection lost (injected)")
				}
				return next.Mutate(ctx, m)
			})
		}
		db.TOTPFactor.Use(fail)
		db.RecoveryCode.Use(fail)
		u := db.User.Create().SetEmail("ann@example.com").SetGlobalID("AB0001").SaveX(context.Background())
		codes := enrol(t, s, auth.WithSession(context.Background(), auth.Session{UserID: u.ID, SignedInAt: at}), at)
		secret := secretOf(t, db)
		at = at.Add(time.Minute)
		code, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct{ name, code string }{{"a TOTP code", code}, {"a recovery code", codes[0]}} {
			f.Arm("", "rl:", 1)
			if amr, err := s.Verify(context.Background(), u.ID, c.code); err == nil || f.Injected() != 1 {
				t.Fatalf("%s whose try could not be counted: %v, %v; want it refused", c.name, amr, err)
			}
			f.Disarm()
			dbFault.Store(true)
			if amr, err := s.Verify(context.Background(), u.ID, c.code); err == nil || dbFault.Load() {
				t.Fatalf("%s whose use could not be recorded: %v, %v; want it refused", c.name, amr, err)
			}
			if _, err := s.Verify(context.Background(), u.ID, c.code); err != nil {
				t.Fatalf("%s refused under the faults, then: %v; want it accepted", c.name, err)
			}
			if _, err := s.Verify(context.Background(), u.ID, c.code); !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("%s used, then again: %v; want Invalid", c.name, err)
			}
		}
	})
}
