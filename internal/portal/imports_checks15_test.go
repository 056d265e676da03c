package portal_test

import (
	"context"
	"os"
	"testing"
	"time"

	"loginsign/ent/pendinglink"
	"loginsign/internal/portal"
	"loginsign/internal/store/storetest"
)

// TestARefusalRacingARollbackStillCountsAsWithdrawn (review imp15): a developer imports one
// address and rolls the run back while the person who holds it refuses the link. The rollback
// counted the refused links first and the open ones it deleted after; a refusal committing
// between the two statements (here: while the deletion waits for the link's row, which the
// refusal holds) was in neither count, so withdrawnLinks answered 0 instead of 1, and the
// developer learnt that the address has an account whose person had just refused. The run
// named one link, and withdrawnLinks must say 1 whatever the person did meanwhile.
func TestARefusalRacingARollbackStillCountsAsWithdrawn(t *testing.T) {
	t.Parallel()
	base := os.Getenv(storetest.EnvPostgres)
	if base == "" {
		t.Skip("the race needs PostgreSQL's row locks: set " + storetest.EnvPostgres)
	}
	e := newPortalEnv(t, storetest.Postgres(t, base))
	ctx := context.Background()
	dev := e.developer(t)
	app := e.app(t, dev)
	p := e.person(t)
	res, err := e.svc.Import(dev, app.ID, portal.ImportRequest{Users: []portal.ImportUser{{ExternalUserID: "u1", Email: p.Email}}})
	if err != nil {
		t.Fatal(err)
	}
	link := e.db.PendingLink.Query().Where(pendinglink.ApplicationID(app.ID)).OnlyX(ctx)

	// The person's refusal, in flight: its row is written and locked, not yet committed
	// (RefusePendingLink's update).
	refusal, err := e.db.SQL.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer refusal.Rollback()
	if _, err := refusal.ExecContext(ctx, `UPDATE pending_links SET refused_at = $1 WHERE id = $2 AND refused_at IS NULL`,
		time.Now().UTC(), link.ID); err != nil {
		t.Fatal(err)
	}
	type result struct {
		rb  *portal.Rollback
		err error
	}
	done := make(chan result, 1)
	go func() {
		rb, err := e.svc.RollbackImport(dev, app.ID, res.Source.ID)
		done <- result{rb, err}
	}()
	// Wait until the rollback waits for the link's row: it has read what it counts before it.
	waiting := func() bool {
		var n int
		if err := e.db.SQL.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
			AND wait_event_type = 'Lock' AND query LIKE 'DELETE FROM "pending_links"%'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n > 0
	}
	for deadline := time.Now().Add(20 * time.Second); !waiting(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the rollback never waited for the refused link's row")
		}
	}
	if err := refusal.Commit(); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.rb.WithdrawnLinks != 1 {
		t.Errorf("withdrawnLinks = %d for a run of one link refused during its rollback, want 1: the missing link "+
			"tells the developer the address has an account", r.rb.WithdrawnLinks)
	}
	if l, err := e.db.PendingLink.Get(ctx, link.ID); err != nil || l.RefusedAt == nil {
		t.Errorf("the refused link after the rollback: %+v, %v; want it kept, refused", l, err)
	}
}
