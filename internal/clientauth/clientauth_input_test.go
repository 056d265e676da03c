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

// TestAClientIDOutsideTheIDAlphabetNamesNoApplication: a client_id is looked up only when it
// could be ids.New's ("app_" and a-z, 2-7). Anything else, whichever transport let it
// through, is the one answer to bad credentials, invalid_client; on PostgreSQL a NUL or
// invalid UTF-8 looked up was an error, a 500.
func TestAClientIDOutsideTheIDAlphabetNamesNoApplication(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, db *store.DB, k *kv.Store) {
		app, secret := newApp(t, db, "A")
		s := &clientauth.Service{DB: db, Limiter: ratelimit.New(k)}
		for _, tt := range []struct{ name, id string }{
			{"a NUL", "app_\x00"},
			{"invalid UTF-8", "app_\xff\xfe"},
			{"an overlong NUL", "app_\xc0\x80"},
			{"a NUL after a real id", app.ID + "\x00"},
			{"upper case", strings.ToUpper(app.ID[:4]) + app.ID[4:]},
			{"a digit base32 has not", "app_" + strings.Repeat("1", 24)},
			{"a letter of another script", "app_аbc"}, // Cyrillic а
			{"only the prefix", "app_"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				_, err := s.Authenticate(from("192.0.2.3"), tt.id, secret)
				if e := apperr.As(err); e.Code != apperr.Unauthorized || e.Name() != "invalid_client" {
					t.Fatalf("Authenticate(%q) = %v, want invalid_client", tt.id, err)
				}
			})
		}
		if got, err := s.Authenticate(from("192.0.2.3"), app.ID, secret); err != nil || got.ID != app.ID {
			t.Fatalf("the real id afterwards: %v, %v", got, err)
		}
	})
}
