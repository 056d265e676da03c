package identity_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"

	"loginsign/ent"
	"loginsign/ent/webhookevent"
	"loginsign/internal/apperr"
	"loginsign/internal/globalid"
	"loginsign/internal/identity"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
	"loginsign/internal/webhooks"
)

func TestNormalizeEmail(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		" Ann@Example.COM ": "ann@example.com",
		"a@localhost":       "a@localhost",
	} {
		if got, err := identity.NormalizeEmail(in); err != nil || got != want {
			t.Errorf("NormalizeEmail(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "no-at", "Ann <ann@example.com>", "a@b", "a@@example.com", "a b@example.com"} {
		if _, err := identity.NormalizeEmail(bad); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("NormalizeEmail(%q) = %v, want Invalid", bad, err)
		}
	}
}

func TestEnsureUserConcurrentFirstSignIn(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		s := identity.New(db, kvtest.Embedded(t), nil, identity.SessionConfig{})
		var wg sync.WaitGroup
		ids := make([]string, 8)
		for i := range ids {
			wg.Go(func() {
				u, _, err := s.EnsureUser(context.Background(), "new@example.com")
				if err != nil {
					t.Error(err)
					return
				}
				ids[i] = u.ID
			})
		}
		wg.Wait()
		for _, id := range ids {
			if id != ids[0] {
				t.Fatalf("concurrent first sign-ins made different accounts: %v", ids)
			}
		}
		u, _ := s.User(context.Background(), ids[0])
		if !globalid.Valid(u.GlobalID) {
			t.Fatalf("global id %q", u.GlobalID)
		}
	})
}

// TestChangePrimaryEmail: the version bump that voids magic links, conflicts, and the privacy
// rule that only apps shown the old address hear of the change.
func TestChangePrimaryEmail(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := identity.New(db, kvtest.Embedded(t), nil, identity.SessionConfig{})
		ann, _ := s.CreateUser(ctx, "ann@example.com", "Ann")
		s.CreateUser(ctx, "taken@example.com", "")
		dev, _ := s.CreateUser(ctx, "dev@example.com", "")
		mk := func(name, appEmail string) (*ent.Application, *ent.AppConnection) {
			app := db.Application.Create().SetOwnerID(dev.ID).SetName(name).SetSecretHash("h").
				SetWebhookURL("https://" + name + ".example.com/hook").SaveX(ctx)
			c := db.AppConnection.Create().SetUserID(ann.ID).SetApplicationID(app.ID).
				SetAliasEmail(name + "@relay.example.com").SetAppEmail(appEmail).SaveX(ctx)
			return app, c
		}
		caller, _ := mk("caller", "ann@example.com")
		sharing, sharingConn := mk("sharing", "ann@example.com")
		masked, _ := mk("masked", "")

		if _, err := s.ChangePrimaryEmail(ctx, ann.ID, "Taken@Example.com", webhooks.ReasonDeveloperAPI, caller.ID, caller.ID); !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("taken address: %v, want Conflict", err)
		}
		if changed, err := s.ChangePrimaryEmail(ctx, ann.ID, " ANN@example.com", webhooks.ReasonDeveloperAPI, caller.ID, caller.ID); err != nil || changed {
			t.Fatalf("same address: changed=%v err=%v", changed, err)
		}
		changed, err := s.ChangePrimaryEmail(ctx, ann.ID, "ann.new@example.com", webhooks.ReasonDeveloperAPI, caller.ID, caller.ID)
		if err != nil || !changed {
			t.Fatalf("change: changed=%v err=%v", changed, err)
		}
		u, _ := s.User(ctx, ann.ID)
		if u.Email != "ann.new@example.com" || u.EmailVersion != ann.EmailVersion+1 {
			t.Fatalf("after change: email %q version %d", u.Email, u.EmailVersion)
		}
		events := db.WebhookEvent.Query().AllX(ctx)
		if len(events) != 1 || events[0].ApplicationID != sharing.ID || events[0].Type != webhooks.TypeEmailChanged {
			t.Fatalf("events = %+v; want one email_changed for the sharing app only (not %s, not %s)", events, caller.ID, masked.ID)
		}
		var got map[string]any
		json.Unmarshal([]byte(events[0].Payload), &got)
		want := map[string]any{"type": "email_changed", "applicationId": sharing.ID, "connectionId": sharingConn.ID,
			"userId": ann.GlobalID, "aliasEmail": "sharing@relay.example.com", "oldEmail": "ann@example.com",
			"newEmail": "ann.new@example.com", "reason": "developer_api", "changedAt": got["changedAt"]}
		if len(got) != len(want) {
			t.Fatalf("payload keys = %v", got)
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("payload %s = %v, want %v", k, got[k], v)
			}
		}
		if c := db.AppConnection.GetX(ctx, sharingConn.ID); c.AppEmail != "ann.new@example.com" {
			t.Errorf("the sharing connection shows %q, want the new address", c.AppEmail)
		}
		if n := db.WebhookEvent.Query().Where(webhookevent.ApplicationID(masked.ID)).CountX(ctx); n != 0 {
			t.Errorf("the masked app got %d events", n)
		}
	})
}
