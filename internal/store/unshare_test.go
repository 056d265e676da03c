package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"loginsign/ent/emailchange"
	"loginsign/ent/pendinglink"

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

// A database from before proposals ended with the application's relation to the person keeps
// the address change requests a connection's ending left pending, and the requests and pending
// links of deleted applications. Migration supersedes the first and deletes the others, as
// connections.Delete and the application's deletion now do; the requests of connected
// applications, and what was closed already, stay as they were. Migrating again changes
// nothing.
func TestMigrateEndsProposalsThatOutlivedTheApplicationsRelation(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
		dev := db.User.Create().SetGlobalID("AB1234").SetEmail("dev@example.com").SaveX(ctx)
		pat := db.User.Create().SetGlobalID("CD5678").SetEmail("pat@example.com").SaveX(ctx)
		connected := db.Application.Create().SetOwnerID(dev.ID).SetName("Connected").SetSecretHash("h").SaveX(ctx)
		removed := db.Application.Create().SetOwnerID(dev.ID).SetName("Removed").SetSecretHash("h").SaveX(ctx)
		db.AppConnection.Create().SetUserID(pat.ID).SetApplicationID(connected.ID).SetAliasEmail("c@relay.example.com").ExecX(ctx)
		n := 0
		request := func(appID string, status emailchange.Status) string {
			n++
			return db.EmailChange.Create().SetUserID(pat.ID).SetApplicationID(appID).SetApplicationName("A").
				SetNewEmail(fmt.Sprintf("new%d@example.com", n)).SetOldEmail(pat.Email).
				SetConfirmHash(fmt.Sprintf("c%d", n)).SetCancelHash(fmt.Sprintf("x%d", n)).SetStatus(status).
				SetCreatedAt(now).SetExpiresAt(now.Add(24 * time.Hour)).SaveX(ctx).ID
		}
		link := func(appID string) string {
			return db.PendingLink.Create().SetApplicationID(appID).SetEmail(pat.Email).SetExternalUserID("u1").SaveX(ctx).ID
		}
		want := map[string]emailchange.Status{
			request(connected.ID, emailchange.StatusPending):   emailchange.StatusPending,
			request(connected.ID, emailchange.StatusConfirmed): emailchange.StatusConfirmed,
			request(removed.ID, emailchange.StatusPending):     emailchange.StatusSuperseded,
			request(removed.ID, emailchange.StatusCancelled):   emailchange.StatusCancelled,
		}
		deletedPending, deletedClosed := request("app_deleted", emailchange.StatusPending), request("app_deleted", emailchange.StatusConfirmed)
		keptLinks := []string{link(connected.ID), link(removed.ID)}
		deletedLink := link("app_deleted")
		for range 2 {
			if err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			for id, status := range want {
				got := db.EmailChange.GetX(ctx, id)
				if got.Status != status || status == emailchange.StatusSuperseded && got.ClosedAt == nil {
					t.Errorf("request %s (application %s) is %s (closed %v) after migration, want %s", id, got.ApplicationID, got.Status, got.ClosedAt, status)
				}
			}
			for _, id := range []string{deletedPending, deletedClosed} {
				if _, err := db.EmailChange.Get(ctx, id); !store.NotFound(err) {
					t.Errorf("request %s of a deleted application still stored: %v", id, err)
				}
			}
			if got := db.PendingLink.Query().Where(pendinglink.IDIn(keptLinks...)).CountX(ctx); got != 2 {
				t.Errorf("%d pending links of existing applications left, want 2", got)
			}
			if _, err := db.PendingLink.Get(ctx, deletedLink); !store.NotFound(err) {
				t.Errorf("the pending link of a deleted application still stored: %v", err)
			}
		}
	})
}
