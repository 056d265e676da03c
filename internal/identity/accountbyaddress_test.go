package identity_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"loginsign/ent"
	"loginsign/internal/apperr"
	"loginsign/internal/identity"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// The sign-in form looks up any address a stranger types (AccountByAddress, for the mail's
// language and the link's account), so the lookup costs one statement whatever it finds: a
// primary address answered in one query, an unknown one in two and a verified alternative in
// three, a database round trip apart each, and the form's answer time told them apart
// (medians 2.16, 2.27 and 2.52 ms on loopback with PostgreSQL).
func TestAccountByAddressIsOneStatementWhateverItFinds(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var statements atomic.Int32
		counted := &store.DB{SQL: db.SQL, Dialect: db.Dialect, Client: ent.NewClient(ent.Driver(
			dialect.DebugWithContext(entsql.OpenDB(db.Dialect, db.SQL), func(context.Context, ...any) { statements.Add(1) })))}
		s := identity.New(counted, kvtest.Embedded(t), nil, identity.SessionConfig{})
		owner, _, err := s.EnsureUser(ctx, "owner@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if err := db.UserEmail.Create().SetUserID(owner.ID).SetEmail("owner.alt@example.com").SetVerifiedAt(time.Now()).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if err := db.UserEmail.Create().SetUserID(owner.ID).SetEmail("owner.unverified@example.com").Exec(ctx); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct{ addr, want string }{
			{"Owner@Example.com", owner.ID},
			{"owner.alt@example.com", owner.ID},
			{"owner.unverified@example.com", ""},
			{"nobody@example.com", ""},
		} {
			statements.Store(0)
			u, err := s.AccountByAddress(ctx, tc.addr)
			got := ""
			if u != nil {
				got = u.ID
			}
			if got != tc.want || (tc.want == "") != apperr.Is(err, apperr.NotFound) {
				t.Errorf("AccountByAddress(%q) = %q, %v; want %q", tc.addr, got, err, tc.want)
			}
			if n := statements.Load(); n != 1 {
				t.Errorf("AccountByAddress(%q) ran %d statements, want 1 whatever it finds", tc.addr, n)
			}
		}
	})
}
