package portal_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/ent/importrow"
	"loginsign/ent/importsource"
	"loginsign/ent/pendinglink"
	"loginsign/internal/auth"
	"loginsign/internal/portal"
)

// importUsers is a run of n rows with addresses tag-0@…, tag-1@….
func importUsers(tag string, n int) []portal.ImportUser {
	users := make([]portal.ImportUser, n)
	for i := range users {
		users[i] = portal.ImportUser{ExternalUserID: fmt.Sprintf("%s-%d", tag, i), Email: fmt.Sprintf("%s-%d@example.com", tag, i)}
	}
	return users
}

// keptRows counts the import rows stored for the runs of apps.
func keptRows(t *testing.T, e *portalEnv, apps ...*ent.Application) int {
	t.Helper()
	ids := make([]string, len(apps))
	for i, a := range apps {
		ids[i] = a.ID
	}
	n, err := e.db.ImportRow.Query().Where(importrow.HasSourceWith(importsource.ApplicationIDIn(ids...))).Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// steppingClock returns a clock a second later at each reading, so runs have distinct times.
func steppingClock() func() time.Time {
	var n atomic.Int64
	start := time.Now().UTC()
	return func() time.Time { return start.Add(time.Duration(n.Add(1)) * time.Second) }
}

// TestImportRowsKeptPerOwner: the import rows kept across the applications one developer
// owns are bounded (MaxImportRows). A run that would pass the total still works: the rows of
// the owner's oldest runs are deleted, whole runs, whichever of the owner's applications
// they belong to, while those runs keep their total and counts and still roll back. Another
// developer's runs neither count nor give way, and a run larger than the total keeps its rows.
func TestImportRowsKeptPerOwner(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		ctx := context.Background()
		e.svc.MaxImportRows = 5
		e.svc.Now = steppingClock()
		dev, rival := e.developer(t), e.developer(t)
		first, second, rivals := e.app(t, dev), e.app(t, dev), e.app(t, rival)
		run := func(ctx context.Context, app *ent.Application, tag string, n int) *portal.ImportResult {
			t.Helper()
			res, err := e.svc.Import(ctx, app.ID, portal.ImportRequest{Users: importUsers(tag, n)})
			if err != nil {
				t.Fatalf("run %s: %v", tag, err)
			}
			if len(res.Rows) != n {
				t.Fatalf("run %s answered %d rows, want %d", tag, len(res.Rows), n)
			}
			return res
		}
		rivalRun := run(rival, rivals, "rival", 4)
		oldest := run(dev, first, "oldest", 2)
		older := run(dev, second, "older", 2)
		if n := keptRows(t, e, first, second); n != 4 {
			t.Fatalf("%d rows kept, want 4", n)
		}
		// 4 + 2 > 5: the oldest run, of the first application, gives way.
		run(dev, second, "new", 2)
		if n := keptRows(t, e, first, second); n != 4 {
			t.Errorf("%d rows kept after a run past the total, want 4 (the total is 5)", n)
		}
		got, err := e.svc.ImportSource(dev, first.ID, oldest.Source.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Rows) != 0 || got.Source.Total != 2 || got.Source.Counts[portal.ImportImported] != 2 {
			t.Errorf("the oldest run after trimming: %d rows, total %d, counts %v; want no rows, total 2, 2 imported",
				len(got.Rows), got.Source.Total, got.Source.Counts)
		}
		if got, err := e.svc.ImportSource(dev, second.ID, older.Source.ID); err != nil || len(got.Rows) != 2 {
			t.Errorf("the next run lost rows it did not need to: %v", err)
		}
		if n := keptRows(t, e, rivals); n != 4 {
			t.Errorf("the other developer's run kept %d rows, want 4", n)
		}
		// The trimmed run still rolls back: its pending links are withdrawn.
		rb, err := e.svc.RollbackImport(dev, first.ID, oldest.Source.ID)
		if err != nil || rb.WithdrawnLinks != 2 {
			t.Fatalf("rollback of a trimmed run: %+v, %v", rb, err)
		}
		if n, _ := e.db.PendingLink.Query().Where(pendinglink.ImportSourceID(oldest.Source.ID)).Count(ctx); n != 0 {
			t.Errorf("%d pending links of the rolled-back run left", n)
		}
		// A run larger than the total keeps its own rows; every older one of the owner gives way.
		run(dev, first, "big", 7)
		if n := keptRows(t, e, first, second); n != 7 {
			t.Errorf("%d rows kept after a run of 7, want 7", n)
		}
		if got, err := e.svc.ImportSource(rival, rivals.ID, rivalRun.Source.ID); err != nil || len(got.Rows) != 4 {
			t.Errorf("the other developer's run was trimmed: %v", err)
		}
	})
}

// TestImportRowsKeptUnderConcurrency: concurrent runs into two applications of one owner,
// by the owner and a team member, never leave more rows than the total together, and all
// succeed. The owner's row is locked before either application, so each run counts what the
// others committed.
func TestImportRowsKeptUnderConcurrency(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		e.svc.MaxImportRows = 6
		e.svc.Now = steppingClock()
		dev := e.developer(t)
		first, second := e.app(t, dev), e.app(t, dev)
		member := e.person(t)
		e.db.AppMember.Create().SetApplicationID(second.ID).SetUserID(member.ID).SetRole("admin").
			SetEmail(member.Email).ExecX(context.Background())
		asMember := auth.WithSession(context.Background(), auth.Session{UserID: member.ID, SignedInAt: time.Now()})
		const runs = 10
		errs := make([]error, runs)
		var wg sync.WaitGroup
		for i := range runs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, app := dev, first
				if i%2 == 1 {
					ctx, app = asMember, second
				}
				_, errs[i] = e.svc.Import(ctx, app.ID, portal.ImportRequest{Users: importUsers(fmt.Sprintf("run%d", i), 2)})
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("run %d: %v", i, err)
			}
		}
		if n := keptRows(t, e, first, second); n != 6 {
			t.Fatalf("%d rows kept after %d concurrent runs of 2, want 6 (the total)", n, runs)
		}
	})
}
