package portal_test

import (
	"context"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/ent/importsource"
	"loginsign/ent/pendinglink"
	"loginsign/internal/portal"
)

// TestSpentImportRunsKeptPerOwner: the spent import runs of one developer's applications (no
// report rows left, no connection made through them, rolled back or named by no pending link)
// are bounded (MaxImportRuns): each import deletes the oldest beyond the bound. A run that
// still names an open pending link, or a connection made through it, is kept however old; a
// rolled-back run that a refused link names is spent like any other (kept, the list of runs
// would tell who refused), and the refused link stays; another developer's runs neither count
// nor give way.
func TestSpentImportRunsKeptPerOwner(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		ctx := context.Background()
		e.svc.MaxImportRows = 1 // every run trims the rows of the runs before it
		e.svc.MaxImportRuns = 2
		e.svc.Now = steppingClock()
		dev, rival := e.developer(t), e.developer(t)
		first, second, rivals := e.app(t, dev), e.app(t, dev), e.app(t, rival)
		run := func(ctx context.Context, app *ent.Application, tag string) string {
			t.Helper()
			res, err := e.svc.Import(ctx, app.ID, portal.ImportRequest{Users: importUsers(tag, 1)})
			if err != nil {
				t.Fatalf("run %s: %v", tag, err)
			}
			return res.Source.ID
		}
		rollback := func(ctx context.Context, app *ent.Application, id string) {
			t.Helper()
			if _, err := e.svc.RollbackImport(ctx, app.ID, id); err != nil {
				t.Fatalf("rolling back %s: %v", id, err)
			}
		}
		spend := func(ctx context.Context, app *ent.Application, tag string) string {
			t.Helper()
			id := run(ctx, app, tag)
			rollback(ctx, app, id)
			return id
		}
		exists := func(id string) bool {
			t.Helper()
			ok, err := e.db.ImportSource.Query().Where(importsource.ID(id)).Exist(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}

		// The rival's two spent runs: at the bound, none deleted.
		rival1, rival2 := spend(rival, rivals, "rival-1"), spend(rival, rivals, "rival-2")
		run(rival, rivals, "rival-3")

		// Runs that still name something.
		open := run(dev, first, "open")
		refused := run(dev, first, "refused")
		if _, err := e.db.PendingLink.Update().Where(pendinglink.ImportSourceID(refused)).SetRefusedAt(time.Now()).Save(ctx); err != nil {
			t.Fatal(err)
		}
		rollback(dev, first, refused) // the refused link stays, so that no later run revives it, and the run is spent
		connected := run(dev, second, "connected")
		conn := e.connect(t, e.person(t), second, "")
		if _, err := e.db.AppConnection.UpdateOne(conn).SetImportSourceID(connected).Save(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := e.db.PendingLink.Delete().Where(pendinglink.ImportSourceID(connected)).Exec(ctx); err != nil {
			t.Fatal(err) // as the person's acceptance leaves it: a connection, no link
		}

		// Three spent runs across both applications; the next run spends past the bound.
		a, b, c := spend(dev, first, "a"), spend(dev, second, "b"), spend(dev, first, "c")
		last := run(dev, first, "last")
		if exists(a) || exists(refused) {
			t.Errorf("the oldest two of four spent runs past a bound of two were kept: a %v, the refused one's %v", exists(a), exists(refused))
		}
		if n, err := e.db.PendingLink.Query().Where(pendinglink.ImportSourceID(refused), pendinglink.RefusedAtNotNil()).Count(ctx); err != nil || n != 1 {
			t.Errorf("the refused link of the deleted run: %d kept (%v), want 1, so that no later run revives it", n, err)
		}
		for name, id := range map[string]string{"b": b, "c": c, "open": open, "connected": connected,
			"last": last, "the rival's first": rival1, "the rival's second": rival2} {
			if !exists(id) {
				t.Errorf("run %s (%s) was deleted", name, id)
			}
		}

		// Once the last run is spent too, the next import deletes the oldest spent run again.
		rollback(dev, first, last)
		run(dev, second, "next")
		if exists(b) || !exists(c) || !exists(last) {
			t.Errorf("after the last run was spent: b kept %v, c kept %v, last kept %v; want b deleted, c and last kept",
				exists(b), exists(c), exists(last))
		}
		if _, err := e.svc.ImportSource(dev, first.ID, a); err == nil {
			t.Errorf("the deleted run is still answered")
		}
		if !exists(rival1) || !exists(rival2) {
			t.Errorf("another developer's spent runs gave way")
		}

		// Runs whose report rows are kept are not spent, even rolled back and newer.
		e.svc.MaxImportRows = 1000
		reported := []string{spend(dev, first, "reported-1"), spend(dev, second, "reported-2"), spend(dev, first, "reported-3")}
		run(dev, first, "after")
		for _, id := range append(reported, c, last) {
			if !exists(id) {
				t.Errorf("run %s was deleted, though runs with rows are not spent and two spent runs are kept", id)
			}
		}
	})
}
