package clientauth_test

import (
	"strings"
	"testing"

	"loginsign/internal/apperr"
	"loginsign/internal/clientauth"
	"loginsign/internal/kv"
	"loginsign/internal/ratelimit"
	"loginsign/internal/store"
)

// A client_id longer than MaxIDLength names no application, even in the id alphabet: it is
// not looked up, and its failures count against its address alone, never as a budget of a
// client at that address (which would keep a key of any length in the store per guess).
func TestAnOverlongClientIDIsCountedOnlyAgainstItsAddress(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, db *store.DB, k *kv.Store) {
		s := &clientauth.Service{DB: db, Limiter: ratelimit.New(k), Limits: clientauth.Limits{
			FailuresPerClientAddress: ratelimit.Rule{N: 1}, FailuresPerAddress: ratelimit.Rule{N: 10}, FailuresPerClient: ratelimit.Rule{N: 10}}}
		overlong := "app_" + strings.Repeat("a", clientauth.MaxIDLength)
		for i := range 3 {
			_, err := s.Authenticate(from("192.0.2.7"), overlong, "lss_guess")
			if e := apperr.As(err); e == nil || e.Code != apperr.Unauthorized || e.Name() != "invalid_client" {
				t.Fatalf("attempt %d with a client_id of %d characters: %v; want invalid_client within the address's budget", i+1, len(overlong), err)
			}
		}
	})
}
