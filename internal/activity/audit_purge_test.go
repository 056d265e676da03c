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

// TestPurgeAuditDeletesTheAuditEventsPastTheRetention: the audit events older than the
// retention period go, in as many batches as it takes, and the ones within it stay; the
// activity log is not touched by it, nor the audit events by the activity log's Purge.
func TestPurgeAuditDeletesTheAuditEventsPastTheRetention(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newLogEnv(t, db)
		e.svc.Retention = 30 * 24 * time.Hour
		old := now.Add(-e.svc.Retention - time.Second)
		creates := make([]*ent.AuditEventCreate, 0, store.PurgeBatch+5)
		for i := range store.PurgeBatch + 5 {
			creates = append(creates, db.AuditEvent.Create().SetActorID(e.ann.ID).SetAction("user.email_changed").
				SetTarget("AB0001").SetData(map[string]any{"old": "ann@example.com", "new": "ann@example.org"}).
				SetCreatedAt(old.Add(-time.Duration(i) * time.Minute)))
		}
		db.AuditEvent.CreateBulk(creates...).ExecX(ctx)
		kept := db.AuditEvent.Create().SetActorID(e.ann.ID).SetAction("user.email_changed").
			SetCreatedAt(now.Add(-e.svc.Retention + time.Second)).SaveX(ctx)
		recordAt(t, db, activity.Event{Type: activity.SignIn, Actor: activity.ByPerson, UserID: e.ann.ID, At: old})

		n, err := e.svc.PurgeAudit(ctx)
		if err != nil || n != store.PurgeBatch+5 {
			t.Fatalf("PurgeAudit = %d, %v; want %d", n, err, store.PurgeBatch+5)
		}
		left := db.AuditEvent.Query().IDsX(ctx)
		if len(left) != 1 || left[0] != kept.ID {
			t.Fatalf("audit events left = %v, want only %s, within the retention", left, kept.ID)
		}
		if c := db.ActivityEvent.Query().CountX(ctx); c != 1 {
			t.Fatalf("PurgeAudit deleted activity events: %d left, want 1", c)
		}
		if n, err := e.svc.Purge(ctx); err != nil || n != 1 {
			t.Fatalf("Purge = %d, %v; want the one expired activity event", n, err)
		}
		if c := db.AuditEvent.Query().CountX(ctx); c != 1 {
			t.Fatalf("the activity log's Purge deleted audit events: %d left, want 1", c)
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
