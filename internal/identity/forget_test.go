package identity_test

import (
	"context"
	"encoding/json"
	"testing"

	"loginsign/ent"
	"loginsign/internal/identity"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// ForgetAddresses removes an address from the data of every audit event the person caused or
// that concerns them, wherever in the data it is (a value, a key, a list element, at any depth),
// and keeps the rest of the data; events of the system and of other people stay as they were.
func TestForgetAddressesScrubsEveryAuditEventOfThePerson(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := identity.New(db, kvtest.Embedded(t), nil, identity.SessionConfig{})
		pat, err := s.CreateUser(ctx, "pat@example.com", "")
		if err != nil {
			t.Fatal(err)
		}
		other, err := s.CreateUser(ctx, "other@example.com", "")
		if err != nil {
			t.Fatal(err)
		}
		event := func(actor, target, data string) *ent.AuditEvent {
			t.Helper()
			var m map[string]any
			if err := json.Unmarshal([]byte(data), &m); err != nil {
				t.Fatal(err)
			}
			return db.AuditEvent.Create().SetActorID(actor).SetTarget(target).SetAction("test").SetData(m).SaveX(ctx)
		}
		const nested = `{"reason":"r","n":3,"pat@example.com":true,"to":["pat@example.com","x"],
			"inner":{"old":"Pat <pat@example.com>","ids":[{"id":"usr_1","mail":"b@example.org"}]}}`
		byPat := event(pat.ID, "app_1", nested)
		aboutPat := event(other.ID, pat.GlobalID, nested)
		system := event("", "", `{"to":"pat@example.com"}`)
		theirs := event(other.ID, other.GlobalID, `{"old":"other@example.com"}`)

		if err := db.Tx(ctx, func(tx *ent.Tx) error {
			return identity.ForgetAddresses(ctx, tx, pat.ID, pat.GlobalID)
		}); err != nil {
			t.Fatal(err)
		}

		for _, c := range []struct {
			ev   *ent.AuditEvent
			want string
		}{
			{byPat, `{"reason":"r","n":3,"to":["x"],"inner":{"ids":[{"id":"usr_1"}]}}`},
			{aboutPat, `{"reason":"r","n":3,"to":["x"],"inner":{"ids":[{"id":"usr_1"}]}}`},
			{system, `{"to":"pat@example.com"}`},
			{theirs, `{"old":"other@example.com"}`},
		} {
			got, _ := json.Marshal(db.AuditEvent.GetX(ctx, c.ev.ID).Data)
			var g, w any
			json.Unmarshal(got, &g)
			json.Unmarshal([]byte(c.want), &w)
			gb, _ := json.Marshal(g)
			wb, _ := json.Marshal(w)
			if string(gb) != string(wb) {
				t.Errorf("event by %q about %q: data\n got %s\nwant %s", c.ev.ActorID, c.ev.Target, gb, wb)
			}
		}
	})
}
