package server

import (
	"context"
	"testing"
	"time"
)

// TestHousekeepingDeletesExpiredAuditEvents: the webhook worker's housekeeping, which runs
// when the worker starts and then hourly, deletes the audit events older than the retention
// period (LOGINSIGN_ACTIVITY_RETENTION_DAYS), an address change's with its old and new
// address among them, and keeps the newer ones.
func TestHousekeepingDeletesExpiredAuditEvents(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, e *portalEnv) {
		ctx := context.Background()
		ann := e.person("ann@example.com", "Ann", false)
		now := e.srv.now()
		old := e.srv.db.AuditEvent.Create().SetActorID(ann.user.ID).SetAction("user.email_changed").SetTarget(ann.user.GlobalID).
			SetData(map[string]any{"old": "ann@example.com", "new": "ann@example.org"}).
			SetCreatedAt(now.Add(-e.srv.activity.Retention - time.Hour)).SaveX(ctx)
		recent := e.srv.db.AuditEvent.Create().SetActorID(ann.user.ID).SetAction("user.email_changed").SetTarget(ann.user.GlobalID).
			SetCreatedAt(now.Add(-e.srv.activity.Retention + time.Hour)).SaveX(ctx)

		run, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); e.srv.webhooks.Worker.Run(run) }()
		defer func() { stop(); <-done }()
		deadline := time.Now().Add(30 * time.Second)
		for e.srv.db.AuditEvent.Query().CountX(ctx) != 1 {
			if time.Now().After(deadline) {
				t.Fatalf("the housekeeping left %d audit events after 30 s, want 1", e.srv.db.AuditEvent.Query().CountX(ctx))
			}
			time.Sleep(20 * time.Millisecond)
		}
		left := e.srv.db.AuditEvent.Query().IDsX(ctx)
		if left[0] != recent.ID || left[0] == old.ID {
			t.Fatalf("audit events left = %v, want the recent one %s", left, recent.ID)
		}
	})
}
