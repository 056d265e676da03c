package portal_test

import (
	"context"
	"os"
	"testing"
	"time"

	"loginsign/ent/activityevent"
	"loginsign/ent/appconnection"
	"loginsign/ent/application"
	"loginsign/ent/appmember"
	"loginsign/internal/activity"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/portal"
	"loginsign/internal/store/storetest"
)

// TestExportStopsWhenTheExporterIsDemoted: the users export asks for the export role before
// every page and when it is recorded, not only at the start: an admin demoted to support
// (who may read users one page at a time, but not export them) while the export runs gets
// forbidden, not the list, and no export is recorded. Here the demotion commits after the
// export has passed its first check and counted the Exports limit, before it reads a row.
func TestExportStopsWhenTheExporterIsDemoted(t *testing.T) {
	t.Parallel()
	base := os.Getenv(storetest.EnvPostgres)
	if base == "" {
		t.Skip("needs PostgreSQL (" + storetest.EnvPostgres + "): a lock holds the export between its check and its pages")
	}
	ctx := context.Background()
	e := newPortalEnv(t, storetest.Postgres(t, base))
	app := e.app(t, e.developer(t))
	for range 3 {
		e.connect(t, e.person(t), app, "")
	}
	admin := e.person(t)
	e.db.AppMember.Create().SetApplicationID(app.ID).SetUserID(admin.ID).SetRole(appmember.RoleAdmin).SetEmail(admin.Email).ExecX(ctx)
	asAdmin := auth.WithSession(ctx, auth.Session{UserID: admin.ID, SignedInAt: time.Now()})

	demotion, err := e.db.Client.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer demotion.Rollback()
	// As team.ChangeRole: the application row, then the role. The connections are held too,
	// so the export waits at its first read of them.
	demotion.Application.Query().Where(application.ID(app.ID)).ForUpdate().OnlyX(ctx)
	if _, err := demotion.ExecContext(ctx, "LOCK TABLE "+appconnection.Table+" IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	demotion.AppMember.Update().Where(appmember.ApplicationID(app.ID), appmember.UserID(admin.ID)).
		SetRole(appmember.RoleSupport).ExecX(ctx)
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		rows, err := e.svc.ExportUsers(asAdmin, app.ID, portal.UsersPage{})
		done <- result{len(rows), err}
	}()
	if r, ended := storetest.AwaitLockWaiters(t, e.db, 1, done); ended {
		t.Fatalf("the export finished without waiting for the demotion: %d rows, %v", r.n, r.err)
	}
	if err := demotion.Commit(); err != nil {
		t.Fatal(err)
	}

	r := <-done
	if !apperr.Is(r.err, apperr.Forbidden) || r.n != 0 {
		t.Fatalf("export by an admin demoted to support meanwhile: %d rows, %v; want forbidden", r.n, r.err)
	}
	exports, err := e.db.ActivityEvent.Query().Where(activityevent.Type(string(activity.UsersExported)),
		activityevent.ApplicationID(app.ID)).Count(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if exports != 0 {
		t.Errorf("%d exports recorded, want none", exports)
	}
}
