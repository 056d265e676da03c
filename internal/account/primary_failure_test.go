package account_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/ent/useremail"
	"loginsign/internal/apperr"
	"loginsign/internal/ratelimit"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestAPrimaryChangeTheServerFailsSpendsNoneOfTheDay: a change of the primary address that
// fails for a reason of the server's own (the database lost as it writes the account) gives
// its hit back, so the person's retry is not refused for a change that never happened.
// Before, it spent one of the day's changes: with one left, the retry was rate_limited.
func TestAPrimaryChangeTheServerFailsSpendsNoneOfTheDay(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.svc.PrimaryChanges = ratelimit.Rule{Name: "primary-email", N: 1, Window: 24 * time.Hour}
		e.addAndVerify(e.person, "other@example.org")
		var failing atomic.Bool
		db.User.Use(func(next ent.Mutator) ent.Mutator {
			return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
				if failing.Load() && m.Op().Is(ent.OpUpdateOne|ent.OpUpdate) {
					return nil, errors.New("database connection lost (injected)")
				}
				return next.Mutate(ctx, m)
			})
		})
		ctx := context.Background()
		other := db.UserEmail.Query().Where(useremail.UserID(e.person.ID), useremail.Email("other@example.org")).OnlyX(ctx)

		failing.Store(true)
		if _, err := e.svc.MakePrimaryEmail(as(e.person), other.ID, ""); !apperr.Is(err, apperr.Internal) {
			t.Fatalf("the change while the database is lost: %v, want an internal error", err)
		}
		failing.Store(false)
		u, err := e.svc.MakePrimaryEmail(as(e.person), other.ID, "")
		if err != nil || u.Email != "other@example.org" {
			t.Fatalf("the retry: %v, %v; want other@example.org primary", u, err)
		}
		_, err = e.svc.MakePrimaryEmail(as(e.person), db.UserEmail.Query().
			Where(useremail.UserID(e.person.ID), useremail.Email("person@example.com")).OnlyX(ctx).ID, "")
		wantCode(t, err, apperr.RateLimited, "")
	})
}
