package store_test

import (
	"context"
	"testing"
	"time"

	"loginsign/ent/addressclaim"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// A database from before address claims is backfilled at migration: every primary address
// and verified alternative is claimed once, an address two accounts held goes to the account
// holding it as primary, pending addresses are not claimed, and migrating again changes
// nothing. The unique index then refuses a second holder.
func TestMigrateBackfillsAddressClaims(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Now()
		// Rows written as the old code wrote them: no claims.
		a := db.User.Create().SetGlobalID("AB1234").SetEmail("a@example.com").SaveX(ctx)
		b := db.User.Create().SetGlobalID("CD5678").SetEmail("b@example.com").SaveX(ctx)
		db.UserEmail.Create().SetUserID(b.ID).SetEmail("a@example.com").SetVerifiedAt(now).ExecX(ctx)
		db.UserEmail.Create().SetUserID(b.ID).SetEmail("b2@example.com").SetVerifiedAt(now).ExecX(ctx)
		db.UserEmail.Create().SetUserID(a.ID).SetEmail("pending@example.com").ExecX(ctx)
		for range 2 {
			if err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			claims := map[string]string{}
			for _, c := range db.AddressClaim.Query().AllX(ctx) {
				claims[c.Address] = c.UserID
			}
			want := map[string]string{"a@example.com": a.ID, "b@example.com": b.ID, "b2@example.com": b.ID}
			if len(claims) != len(want) {
				t.Fatalf("claims %v, want %v", claims, want)
			}
			for addr, uid := range want {
				if claims[addr] != uid {
					t.Errorf("%s claimed by %s, want %s", addr, claims[addr], uid)
				}
			}
		}
		if err := db.AddressClaim.Create().SetAddress("b2@example.com").SetUserID(a.ID).Exec(ctx); err == nil {
			t.Fatal("a second claim on one address was stored")
		}
		if n := db.AddressClaim.Query().Where(addressclaim.Address("b2@example.com")).CountX(ctx); n != 1 {
			t.Fatalf("%d claims on b2", n)
		}
	})
}
