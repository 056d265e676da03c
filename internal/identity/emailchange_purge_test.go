package identity_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/ent/emailchange"
	"loginsign/internal/apperr"
	"loginsign/internal/identity"
	"loginsign/internal/ids"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestOldAddressChangeRequestsArePurged: the housekeeping's PurgeEmailChanges deletes the
// requests that expired more than ClosedEmailChangeRetention ago, whatever became of them
// (confirmed, cancelled, superseded, failed, left pending), and keeps the open ones and those
// that expired or closed more recently. An old link answers Gone before and after, as for no
// request at all.
func TestOldAddressChangeRequestsArePurged(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
		s := identity.New(db, kvtest.Embedded(t), func() time.Time { return now }, identity.SessionConfig{})
		u, err := s.CreateUser(ctx, "pat@example.com", "")
		if err != nil {
			t.Fatal(err)
		}
		app := db.Application.Create().SetOwnerID(u.ID).SetName("Demo").SetSecretHash("h").SaveX(ctx)
		n := 0
		// request stores a request made at created, closed at closed (zero: still pending), and
		// returns it with the raw token of its confirm link.
		request := func(created time.Time, status emailchange.Status, closed time.Time) (*ent.EmailChange, string) {
			t.Helper()
			n++
			confirm := ids.Secret("lsec_")
			c := db.EmailChange.Create().SetUserID(u.ID).SetApplicationID(app.ID).SetApplicationName("Demo").
				SetNewEmail("new@example.com").SetOldEmail("pat@example.com").
				SetConfirmHash(ids.Hash(confirm)).SetCancelHash(ids.Hash(ids.Secret("lsex_"))).
				SetStatus(status).SetCreatedAt(created).SetExpiresAt(created.Add(identity.EmailChangeTTL))
			if !closed.IsZero() {
				c.SetClosedAt(closed)
			}
			return c.SaveX(ctx), confirm
		}
		day := 24 * time.Hour
		old := now.Add(-identity.ClosedEmailChangeRetention - 2*day) // expired 31 days ago
		var gone []string
		for _, st := range []emailchange.Status{emailchange.StatusConfirmed, emailchange.StatusCancelled,
			emailchange.StatusSuperseded, emailchange.StatusFailed} {
			ec, _ := request(old, st, old.Add(time.Hour))
			gone = append(gone, ec.ID)
		}
		expired, oldLink := request(old, emailchange.StatusPending, time.Time{}) // left to expire
		gone = append(gone, expired.ID)
		var kept []string
		for _, r := range []struct {
			created time.Time
			status  emailchange.Status
			closed  time.Time
		}{
			{now.Add(-time.Hour), emailchange.StatusPending, time.Time{}},                                     // open
			{now.Add(-10 * day), emailchange.StatusPending, time.Time{}},                                      // expired 9 days ago
			{now.Add(-10 * day), emailchange.StatusConfirmed, now.Add(-10*day + time.Hour)},                   // confirmed 10 days ago
			{now.Add(-identity.ClosedEmailChangeRetention), emailchange.StatusSuperseded, now.Add(-29 * day)}, // expired 29 days ago
		} {
			ec, _ := request(r.created, r.status, r.closed)
			kept = append(kept, ec.ID)
		}

		if _, err := s.PendingEmailChange(ctx, oldLink, false); !apperr.Is(err, apperr.Gone) {
			t.Fatalf("the link of a request expired a month ago, before the purge: %v, want gone", err)
		}
		purged, err := s.PurgeEmailChanges(ctx)
		if err != nil || purged != len(gone) {
			t.Fatalf("purged %d requests, %v; want the %d that expired more than 30 days ago", purged, err, len(gone))
		}
		left := db.EmailChange.Query().Order(ent.Asc(emailchange.FieldID)).IDsX(ctx)
		slices.Sort(kept)
		if !slices.Equal(left, kept) {
			t.Errorf("requests left %v, want the open and recent ones %v", left, kept)
		}
		if _, err := s.PendingEmailChange(ctx, oldLink, false); !apperr.Is(err, apperr.Gone) {
			t.Fatalf("the link of a purged request: %v, want gone as before", err)
		}
		if purged, err := s.PurgeEmailChanges(ctx); err != nil || purged != 0 {
			t.Fatalf("a second purge deleted %d, %v", purged, err)
		}
	})
}
