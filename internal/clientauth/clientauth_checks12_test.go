package clientauth_test

import (
	"context"
	"testing"

	"loginsign/internal/apperr"
	"loginsign/internal/clientauth"
	"loginsign/internal/ids"
	"loginsign/internal/kv"
	"loginsign/internal/ratelimit"
	"loginsign/internal/store"
)

// Failures naming client_ids that no application holds keep no counter per client_id: the
// budgets of a client (at an address, and in all) protect an application's secret, and an
// unknown id has none. Counted, every request with a fresh well-formed id kept two counters
// (which the embedded store never evicts), whether or not the address's budget was spent, so
// one address could fill the store with them and push out everyone's sessions and tokens.
func TestUnknownClientIDsKeepNoCounters(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, db *store.DB, k *kv.Store) {
		s := &clientauth.Service{DB: db, Limiter: ratelimit.New(k)}
		ctx := context.Background()
		before, err := k.DBSize(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		for i := range 200 {
			_, err := s.Authenticate(from("192.0.2.9"), ids.New(ids.Application), "lss_guess")
			want := apperr.Unauthorized
			if i >= 30 { // the address's budget (30 a minute) is spent
				want = apperr.RateLimited
			}
			if e := apperr.As(err); e == nil || e.Code != want {
				t.Fatalf("attempt %d with an unknown client_id: %v, want %v", i+1, err, want)
			}
		}
		after, err := k.DBSize(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		if after-before > 1 {
			t.Fatalf("200 failures with unknown client_ids from one address kept %d keys in the store, want 1 (the address's counter)", after-before)
		}
	})
}
