package store_test

import (
	"context"
	"fmt"
	"testing"

	"loginsign/ent"
	"loginsign/ent/webhookevent"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// Events queued before events recorded the connection they are about name it only in their
// payload. Migration records it from the decoded payload (more events than one batch), and
// leaves alone what names no connection: a test event, and a payload that has the words only
// deeper inside. Migrating again changes nothing.
func TestMigrateFillsTheConnectionOfOlderWebhookEvents(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		dev := db.User.Create().SetGlobalID("AB1234").SetEmail("dev@example.com").SaveX(ctx)
		app := db.Application.Create().SetOwnerID(dev.ID).SetName("A").SetSecretHash("h").SaveX(ctx)
		var events []*ent.WebhookEventCreate
		var connections []string // of events, in order
		older := func(typ, payload, connection string) {
			events = append(events, db.WebhookEvent.Create().SetApplicationID(app.ID).SetType(typ).SetPayload(payload))
			connections = append(connections, connection)
		}
		for i := range store.PurgeBatch + 5 {
			conn := fmt.Sprintf("con_%d", i)
			older("email_changed", `{"type":"email_changed","connectionId":"`+conn+`","newEmail":"a@example.com"}`, conn)
		}
		older("connection_deleted", `{"type":"connection_deleted","connectionId":"con_removed","userId":"CD5678"}`, "con_removed")
		older("user_account_deleted", `{"type":"user_account_deleted","applicationId":"x","connectionId":"con_gone"}`, "con_gone")
		older("ping", `{"type":"ping","applicationId":"x","sentAt":"2026-05-03T11:20:00.000Z"}`, "")
		older("email_changed", `{"type":"email_changed","reason":{"connectionId":"con_deeper"}}`, "")
		want := map[string]string{} // event id → connection
		for i := 0; i < len(events); i += 500 {
			for j, ev := range db.WebhookEvent.CreateBulk(events[i:min(i+500, len(events))]...).SaveX(ctx) {
				want[ev.ID] = connections[i+j]
			}
		}

		for range 2 {
			if err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			got := db.WebhookEvent.Query().Select(webhookevent.FieldID, webhookevent.FieldConnectionID).AllX(ctx)
			if len(got) != len(want) {
				t.Fatalf("%d events after migration, want %d", len(got), len(want))
			}
			for _, ev := range got {
				if ev.ConnectionID != want[ev.ID] {
					t.Errorf("event %s records connection %q after migration, want %q", ev.ID, ev.ConnectionID, want[ev.ID])
				}
			}
		}
	})
}
