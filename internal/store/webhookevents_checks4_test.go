package store_test

import (
	"context"
	"testing"

	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// Migration leaves the connection of an older event that names none unrecorded (NULL), as it
// was, rather than recording an empty one.
func TestMigrateLeavesEventsThatNameNoConnectionAlone(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		dev := db.User.Create().SetGlobalID("AB1234").SetEmail("dev@example.com").SaveX(ctx)
		app := db.Application.Create().SetOwnerID(dev.ID).SetName("A").SetSecretHash("h").SaveX(ctx)
		db.WebhookEvent.Create().SetApplicationID(app.ID).SetType("email_changed").
			SetPayload(`{"type":"email_changed","reason":{"connectionId":"con_deeper"}}`).ExecX(ctx)
		db.WebhookEvent.Create().SetApplicationID(app.ID).SetType("connection_deleted").
			SetPayload(`not json`).ExecX(ctx)
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		var unrecorded int
		if err := db.SQL.QueryRowContext(ctx, `SELECT count(*) FROM webhook_events WHERE connection_id IS NULL`).Scan(&unrecorded); err != nil {
			t.Fatal(err)
		}
		if unrecorded != 2 {
			t.Fatalf("%d of the 2 events that name no connection are left unrecorded", unrecorded)
		}
	})
}
