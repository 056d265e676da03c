package store_test

import (
	"context"
	"testing"

	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// A database from before the email-scope rule keeps a real address shared with an app only
// where the person granted that app the email scope: elsewhere migration takes it back (the
// developer's lists then show "-"), and migrating again changes nothing.
func TestMigrateTakesBackAddressesSharedWithoutTheEmailScope(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		dev := db.User.Create().SetGlobalID("AB1234").SetEmail("dev@example.com").SaveX(ctx)
		ann := db.User.Create().SetGlobalID("CD5678").SetEmail("ann@example.com").SaveX(ctx)
		conn := func(name, appEmail string, scopes ...string) string {
			app := db.Application.Create().SetOwnerID(dev.ID).SetName(name).SetSecretHash("h").SaveX(ctx)
			c := db.AppConnection.Create().SetUserID(ann.ID).SetApplicationID(app.ID).
				SetAliasEmail(name + "@relay.example.com").SetAppEmail(appEmail).SaveX(ctx)
			if scopes != nil {
				db.Consent.Create().SetConnectionID(c.ID).SetScopes(scopes).ExecX(ctx)
			}
			return c.ID
		}
		want := map[string]string{
			conn("granted", "ann@example.com", "openid", "email", "profile"):   "ann@example.com",
			conn("emailonly", "ann@example.com", "email"):                      "ann@example.com",
			conn("profile", "ann@example.com", "openid", "profile"):            "",
			conn("emailish", "ann@example.com", "openid", "profile", "emails"): "",
			conn("noconsent", "ann@example.com"):                               "",
			conn("alias", "", "openid", "email"):                               "",
		}
		for range 2 {
			if err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			for _, c := range db.AppConnection.Query().AllX(ctx) {
				if c.AppEmail != want[c.ID] {
					t.Errorf("connection %s (%s) shows %q after migration, want %q", c.ID, c.AliasEmail, c.AppEmail, want[c.ID])
				}
			}
		}
	})
}

// Import rows of runs from before pending links held the Global User ID of the account an
// address belonged to; GraphQL still answered it (ImportRow.globalId). Migration forgets it.
func TestMigrateForgetsTheGlobalIDsOfOldImportRows(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		dev := db.User.Create().SetGlobalID("AB1234").SetEmail("dev@example.com").SaveX(ctx)
		app := db.Application.Create().SetOwnerID(dev.ID).SetName("A").SetSecretHash("h").SaveX(ctx)
		src := db.ImportSource.Create().SetApplicationID(app.ID).SetName("old.csv").SaveX(ctx)
		row := db.ImportRow.Create().SetSourceID(src.ID).SetRow(1).SetEmail("pat@example.com").
			SetStatus("imported").SetGlobalID("CD5678").SaveX(ctx)
		for range 2 {
			if err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			if got := db.ImportRow.GetX(ctx, row.ID); got.GlobalID != "" || got.Email != "pat@example.com" {
				t.Fatalf("after migration the old row holds global id %q, address %q; want none, the address kept", got.GlobalID, got.Email)
			}
		}
	})
}
