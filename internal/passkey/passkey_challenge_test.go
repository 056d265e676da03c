package passkey_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	entpasskey "loginsign/ent/passkey"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/globalid"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/passkey"
	"loginsign/internal/passkey/passkeytest"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// A challenge answered many times at once is used once: by a synced passkey signing in (its
// counter, always 0, stops no replay) and by different authenticators registering over one
// registration challenge. One succeeds, the others answer Gone.
func TestAChallengeAnsweredManyTimesAtOnceIsUsedOnce(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		now := time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)
		s, err := passkey.New(db, kvtest.Embedded(t), origin, func() time.Time { return now })
		if err != nil {
			t.Fatal(err)
		}
		const rounds, parallel = 5, 6
		for i := range rounds {
			ctx := context.Background()
			u := db.User.Create().SetEmail(fmt.Sprintf("ann-%d@example.com", i)).
				SetGlobalID(globalid.Format(int64(i+1) * 7919)).SaveX(ctx)
			signedIn := auth.WithSession(ctx, auth.Session{UserID: u.ID, SignedInAt: now})
			options, err := s.BeginRegistration(signedIn)
			if err != nil {
				t.Fatal(err)
			}
			registrations := make([]string, parallel)
			for j := range registrations {
				registrations[j] = passkeytest.New(t, true).Register(t, options, origin, 0)
			}
			n := atOnce(t, parallel, func(j int) error {
				_, err := s.FinishRegistration(signedIn, "Phone", registrations[j])
				return err
			})
			if stored := db.Passkey.Query().Where(entpasskey.UserID(u.ID)).CountX(ctx); n != 1 || stored != 1 {
				t.Fatalf("round %d: %d registrations over one challenge succeeded, %d passkeys stored; want 1 and 1", i, n, stored)
			}

			synced := passkeytest.New(t, true)
			options, err = s.BeginRegistration(signedIn)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.FinishRegistration(signedIn, "Laptop", synced.Register(t, options, origin, 0)); err != nil {
				t.Fatal(err)
			}
			if options, err = s.BeginLogin(ctx); err != nil {
				t.Fatal(err)
			}
			response := synced.Login(t, options, origin, 0)
			if n := atOnce(t, parallel, func(int) error {
				_, _, err := s.FinishLogin(ctx, response)
				return err
			}); n != 1 {
				t.Fatalf("round %d: one sign-in response sent %d times at once signed in %d times, want once", i, parallel, n)
			}
		}
	})
}

// atOnce runs f(0) … f(parallel-1) at the same moment and returns how many succeeded; a
// failure other than Gone fails the test.
func atOnce(t *testing.T, parallel int, f func(j int) error) int {
	t.Helper()
	var ok atomic.Int32
	start := make(chan struct{})
	var wg sync.WaitGroup
	for j := range parallel {
		wg.Go(func() {
			<-start
			if err := f(j); err == nil {
				ok.Add(1)
			} else if !apperr.Is(err, apperr.Gone) {
				t.Errorf("%v, want success or Gone", err)
			}
		})
	}
	close(start)
	wg.Wait()
	return int(ok.Load())
}

// A challenge whose spending fails (Redis failing at the GETDEL) adds no passkey and signs in
// nobody: the failure is reported, and the challenge, not spent, then works once.
func TestAChallengeThatCannotBeSpentDoesNothing(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		now := time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)
		k := kvtest.Real(t)
		f := kvtest.InjectFaults(t, k)
		s, err := passkey.New(db, k, origin, func() time.Time { return now })
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		u := db.User.Create().SetEmail("ann@example.com").SetGlobalID("AB0001").SaveX(ctx)
		signedIn := auth.WithSession(ctx, auth.Session{UserID: u.ID, SignedInAt: now})
		device := passkeytest.New(t, true)
		options, err := s.BeginRegistration(signedIn)
		if err != nil {
			t.Fatal(err)
		}
		response := device.Register(t, options, origin, 0)
		f.Arm("getdel", "pkreg:", 1)
		if _, err := s.FinishRegistration(signedIn, "Phone", response); !errors.Is(err, kvtest.ErrInjected) {
			t.Fatalf("a registration whose challenge cannot be spent: %v, want the failure reported", err)
		}
		f.Disarm()
		if n := db.Passkey.Query().CountX(ctx); n != 0 {
			t.Fatal("a registration whose challenge could not be spent stored the passkey")
		}
		if _, err := s.FinishRegistration(signedIn, "Phone", response); err != nil {
			t.Fatalf("the registration again: %v", err)
		}
		if _, err := s.FinishRegistration(signedIn, "Phone", response); !apperr.Is(err, apperr.Gone) {
			t.Fatalf("the registration a third time: %v, want Gone", err)
		}

		if options, err = s.BeginLogin(ctx); err != nil {
			t.Fatal(err)
		}
		login := device.Login(t, options, origin, 0)
		f.Arm("getdel", "pklogin:", 1)
		if uid, _, err := s.FinishLogin(ctx, login); !errors.Is(err, kvtest.ErrInjected) {
			t.Fatalf("a sign-in whose challenge cannot be spent: %q, %v; want the failure reported", uid, err)
		}
		f.Disarm()
		if uid, _, err := s.FinishLogin(ctx, login); err != nil || uid != u.ID {
			t.Fatalf("the sign-in again: %q, %v", uid, err)
		}
		if _, _, err := s.FinishLogin(ctx, login); !apperr.Is(err, apperr.Gone) {
			t.Fatalf("the sign-in a third time: %v, want Gone", err)
		}
	})
}
