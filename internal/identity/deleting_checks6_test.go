package identity_test

import (
	"context"
	"testing"
	"time"

	"loginsign/ent/webhookevent"
	"loginsign/internal/identity"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
	"loginsign/internal/webhooks"
)

// TestAPrimaryAddressChangeIsNotQueuedForAnApplicationBeingDeleted: a person connected to an
// application whose deletion has begun (deleting_since; its connections end batch by batch,
// for a quarter of an hour with a million people, or never after a failure half-way) and
// which was shown their primary address changes it: the application, which "authenticates
// nowhere and signs nobody in" from the moment its deletion began, gets no email_changed
// carrying the new address. A connection not yet reached by the deletion's batches must not
// make the application learn new personal data meanwhile; an application not being deleted
// still hears of it.
func TestAPrimaryAddressChangeIsNotQueuedForAnApplicationBeingDeleted(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := identity.New(db, kvtest.Embedded(t), nil, identity.SessionConfig{})
		ann, _ := s.CreateUser(ctx, "ann@example.com", "Ann")
		dev, _ := s.CreateUser(ctx, "dev@example.com", "")
		going := db.Application.Create().SetOwnerID(dev.ID).SetName("going").SetSecretHash("h").
			SetWebhookURL("https://going.example.com/hook").SetDeletingSince(time.Now()).SaveX(ctx)
		staying := db.Application.Create().SetOwnerID(dev.ID).SetName("staying").SetSecretHash("h").
			SetWebhookURL("https://staying.example.com/hook").SaveX(ctx)
		db.AppConnection.Create().SetUserID(ann.ID).SetApplicationID(going.ID).
			SetAliasEmail("going@relay.example.com").SetAppEmail("ann@example.com").ExecX(ctx)
		db.AppConnection.Create().SetUserID(ann.ID).SetApplicationID(staying.ID).
			SetAliasEmail("staying@relay.example.com").SetAppEmail("ann@example.com").ExecX(ctx)

		if changed, err := s.ChangePrimaryEmail(ctx, ann.ID, "ann.new@example.com", webhooks.ReasonUserEmailChange, "", ann.ID); err != nil || !changed {
			t.Fatalf("change: changed=%v err=%v", changed, err)
		}
		if evs := db.WebhookEvent.Query().Where(webhookevent.ApplicationID(going.ID)).AllX(ctx); len(evs) != 0 {
			t.Errorf("events queued for the application being deleted: %d (%s), want none: it would be sent the new address %q",
				len(evs), evs[0].Payload, "ann.new@example.com")
		}
		if n := db.WebhookEvent.Query().Where(webhookevent.ApplicationID(staying.ID), webhookevent.Type(webhooks.TypeEmailChanged)).CountX(ctx); n != 1 {
			t.Errorf("email_changed events for the application not being deleted: %d, want 1", n)
		}
	})
}
