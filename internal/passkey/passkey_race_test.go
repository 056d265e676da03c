package passkey_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	entpasskey "loginsign/ent/passkey"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/globalid"
	"loginsign/internal/ids"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/passkey"
	"loginsign/internal/passkey/passkeytest"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

const origin = "https://login.example.com"

// Registrations finishing at the same moment never take a person past MaxPerUser passkeys:
// with one place left, exactly one of them is stored and the others answer Invalid. Each
// finish reads the same registration challenge (a Redis hook keeps it for all of them), as
// when the person started a second registration while the first was finishing. Many rounds,
// on SQLite and PostgreSQL (where the transactions overlap).
func TestConcurrentRegistrationsStayWithinTheLimit(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		now := time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)
		k := kvtest.Embedded(t)
		k.AddHook(keepChallenges{prefix: "pkreg:"})
		s, err := passkey.New(db, k, origin, func() time.Time { return now })
		if err != nil {
			t.Fatal(err)
		}
		const rounds, parallel = 8, 6
		for i := range rounds {
			ctx := context.Background()
			u := db.User.Create().SetEmail(fmt.Sprintf("ann-%d@example.com", i)).
				SetGlobalID(globalid.Format(int64(i+1) * 7919)).SaveX(ctx)
			for j := range passkey.MaxPerUser - 1 {
				db.Passkey.Create().SetUserID(u.ID).SetName(fmt.Sprintf("Key %d", j)).
					SetCredentialID([]byte(ids.New("seed-"))).SetPublicKey([]byte("key")).
					SetCreatedAt(now).SetUpdatedAt(now).ExecX(ctx)
			}
			ctx = auth.WithSession(ctx, auth.Session{UserID: u.ID, SignedInAt: now})
			options, err := s.BeginRegistration(ctx)
			if err != nil {
				t.Fatal(err)
			}
			responses := make([]string, parallel)
			for j := range responses {
				responses[j] = passkeytest.New(t, false).Register(t, options, origin, 0)
			}
			errs := make([]error, parallel)
			var wg sync.WaitGroup
			for j := range parallel {
				wg.Go(func() { _, errs[j] = s.FinishRegistration(ctx, "Laptop", responses[j]) })
			}
			wg.Wait()
			stored := 0
			for _, err := range errs {
				switch {
				case err == nil:
					stored++
				case !apperr.Is(err, apperr.Invalid):
					t.Fatalf("round %d: %v, want success or Invalid", i, err)
				}
			}
			n := db.Passkey.Query().Where(entpasskey.UserID(u.ID)).CountX(ctx)
			if stored != 1 || n != passkey.MaxPerUser {
				t.Fatalf("round %d: %d of %d registrations stored, %d passkeys; want 1 and %d", i, stored, parallel, n, passkey.MaxPerUser)
			}
		}
	})
}

// keepChallenges turns the GETDEL of a challenge whose key starts with prefix ("pkreg:" for
// registrations, "pklogin:" for sign-ins) into a GET, so every Finish of a round finds the
// challenge its response answers.
type keepChallenges struct{ prefix string }

func (keepChallenges) DialHook(next redis.DialHook) redis.DialHook { return next }

func (keepChallenges) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (h keepChallenges) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		args := cmd.Args()
		sc, ok := cmd.(*redis.StringCmd)
		if !ok || cmd.Name() != "getdel" || len(args) != 2 || !strings.HasPrefix(fmt.Sprint(args[1]), h.prefix) {
			return next(ctx, cmd)
		}
		get := redis.NewStringCmd(ctx, "get", args[1])
		err := next(ctx, get)
		sc.SetVal(get.Val())
		sc.SetErr(get.Err())
		return err
	}
}
