package activity_test

import (
	"context"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/internal/activity"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestPurgeDeletesTheAuditEventsPastTheRetention: Purge deletes the audit events older than
// the retention period, in as many batches as it takes, with the expired activity events, and
// keeps the audit events within it.
func TestPurgeDeletesTheAuditEventsPastTheRetention(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newLogEnv(t, db)
		e.svc.Retention = 30 * 24 * time.Hour
		old := now.Add(-e.svc.Retention - time.Second)
		creates := make([]*ent.AuditEventCreate, 0, store.PurgeBatch+5)
		for i := range store.PurgeBatch + 5 {
			creates = append(creates, db.AuditEvent.Create().SetActorID(e.ann.ID).SetAction("user.email_changed").
				SetTarget("AB0001").SetData(map[string]any{"old": "ann@example.com", "new": "ann@example.org"}).
				SetCreatedAt(old.Add(-time.Duration(i)*time.Minute)))
		}
		db.AuditEvent.CreateBulk(creates...).ExecX(ctx)
		kept := db.AuditEvent.Create().SetActorID(e.ann.ID).SetAction("user.email_changed").
			SetCreatedAt(now.Add(-e.svc.Retention + time.Second)).SaveX(ctx)
		recordAt(t, db, activity.Event{Type: activity.SignIn, Actor: activity.ByPerson, UserID: e.ann.ID, At: old})

		n, err := e.svc.Purge(ctx)
		if err != nil || n != store.PurgeBatch+5+1 {
			t.Fatalf("Purge = %d, %v; want %d audit events and 1 activity event", n, err, store.PurgeBatch+5+1)
		}
		left := db.AuditEvent.Query().IDsX(ctx)
		if len(left) != 1 || left[0] != kept.ID {
			t.Fatalf("audit events left = %v, want only %s, within the retention", left, kept.ID)
		}
		if c := db.ActivityEvent.Query().CountX(ctx); c != 0 {
			t.Fatalf("%d expired activity events left, want none", c)
		}
	})
}

// recordAt writes ev in a transaction of its own.
func recordAt(t *testing.T, db *store.DB, ev activity.Event) {
	t.Helper()
	if err := db.Tx(context.Background(), func(tx *ent.Tx) error { return activity.Record(context.Background(), tx, ev) }); err != nil {
		t.Fatal(err)
	}
}
