package passkey_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"entgo.io/ent/dialect"

	"loginsign/ent"
	entpasskey "loginsign/ent/passkey"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/globalid"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/mfa"
	"loginsign/internal/passkey"
	"loginsign/internal/passkey/passkeytest"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// A cloned authenticator signing in twice at once, both copies presenting the same counter
// (6, after 5 at registration) over the same challenge, signs in once: every sign-in passes
// the library's clone check against the counter it read, but only one may move the stored
// counter from that value; the others answer Unauthorized. Many rounds, on SQLite and
// PostgreSQL; more on SQLite, where the sign-ins overlap less often (and rounds are quick).
func TestAClonedPasskeySigningInTwiceAtOnceSignsInOnce(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		s := newLoginService(t, db)
		const parallel = 6
		rounds := 20
		if db.Dialect != dialect.Postgres {
			rounds = 100
		}
		for i := range rounds {
			device := passkeytest.New(t, false)
			errs, k := signInAtOnce(t, s, i, device, 5, 6, parallel)
			signedIn := 0
			for _, err := range errs {
				switch {
				case err == nil:
					signedIn++
				case !apperr.Is(err, apperr.Unauthorized):
					t.Fatalf("round %d: %v, want success or Unauthorized", i, err)
				}
			}
			if signedIn != 1 || k.SignCount != 6 {
				t.Fatalf("round %d: %d of %d sign-ins succeeded, stored counter %d; want 1 and 6", i, signedIn, parallel, k.SignCount)
			}
		}
	})
}

// A synced passkey reports counter 0 every time, so there is no clone to detect: sign-ins
// with it at the same moment all succeed (swk, mfa) and its counter stays 0.
func TestASyncedPasskeySigningInTwiceAtOnceSignsInEachTime(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		s := newLoginService(t, db)
		const rounds, parallel = 5, 4
		for i := range rounds {
			synced := passkeytest.New(t, true)
			errs, k := signInAtOnce(t, s, i, synced, 0, 0, parallel)
			for j, err := range errs {
				if err != nil {
					t.Fatalf("round %d, sign-in %d: %v", i, j, err)
				}
			}
			if k.SignCount != 0 {
				t.Fatalf("round %d: stored counter %d, want 0", i, k.SignCount)
			}
		}
	})
}

// newLoginService is the service of a test on db, at a fixed time, its login challenges kept
// (keepChallenges).
func newLoginService(t *testing.T, db *store.DB) *passkey.Service {
	t.Helper()
	now := time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)
	k := kvtest.Embedded(t)
	k.AddHook(keepChallenges{prefix: "pklogin:"})
	s, err := passkey.New(db, k, origin, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// signInAtOnce registers device for a new person, reporting counter registered, then finishes
// parallel passkey sign-ins at once, each presenting counter over one login challenge (a Redis
// hook keeps it for all of them). It returns their errors and the passkey as stored afterwards.
func signInAtOnce(t *testing.T, s *passkey.Service, round int, device *passkeytest.Authenticator, registered, counter uint32, parallel int) ([]error, *ent.Passkey) {
	t.Helper()
	db, now, ctx := s.DB, s.Now(), context.Background()
	u := db.User.Create().SetEmail(fmt.Sprintf("ann-%d@example.com", round)).
		SetGlobalID(globalid.Format(int64(round+1) * 7919)).SaveX(ctx)
	signedIn := auth.WithSession(ctx, auth.Session{UserID: u.ID, SignedInAt: now})
	options, err := s.BeginRegistration(signedIn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.FinishRegistration(signedIn, "Phone", device.Register(t, options, origin, registered)); err != nil {
		t.Fatal(err)
	}
	options, err = s.BeginLogin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	responses := make([]string, parallel)
	for j := range responses {
		responses[j] = device.Login(t, options, origin, counter)
	}
	errs := make([]error, parallel)
	start := make(chan struct{}) // all at once, not one by one as they are started
	var wg sync.WaitGroup
	for j := range parallel {
		wg.Go(func() {
			<-start
			uid, amr, err := s.FinishLogin(ctx, responses[j])
			if err == nil && (uid != u.ID || !slices.Contains(amr, mfa.AMRMFA)) {
				err = fmt.Errorf("signed in %s with %v, want %s with mfa", uid, amr, u.ID)
			}
			if err == nil && device.Synced() && !slices.Contains(amr, mfa.AMRSwk) {
				err = fmt.Errorf("a synced passkey proves %v, want swk", amr)
			}
			errs[j] = err
		})
	}
	close(start)
	wg.Wait()
	return errs, db.Passkey.Query().Where(entpasskey.UserID(u.ID)).OnlyX(ctx)
}
