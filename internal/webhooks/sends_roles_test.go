package webhooks_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"loginsign/ent"
	"loginsign/ent/application"
	"loginsign/ent/appmember"
	"loginsign/ent/webhookevent"
	"loginsign/internal/apperr"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
	"loginsign/internal/webhooks"
)

// TestManualSendsCheckTheRoleWhereTheyQueue: a redelivery or test event checks the caller's
// role again in the transaction that queues it, so a developer demoted to support while the
// call runs queues nothing. Here the demotion commits after the call has passed the check it
// makes before counting the application's ManualSends budget, and before it queues: the call
// answers forbidden and the delivery log is as it was.
func TestManualSendsCheckTheRoleWhereTheyQueue(t *testing.T) {
	t.Parallel()
	base := os.Getenv(storetest.EnvPostgres)
	if base == "" {
		t.Skip("needs PostgreSQL (" + storetest.EnvPostgres + "): a lock holds the call between its check and its write")
	}
	ctx := context.Background()
	db := storetest.Postgres(t, base)
	f := newFixture(t, db, "https://hooks.example/in")
	svc := &webhooks.Service{DB: db, Now: f.clock.Now}
	failed := f.enqueue(t, f.app, 1)[0]
	db.WebhookEvent.UpdateOneID(failed).SetStatus(webhookevent.StatusFailed).ExecX(ctx)
	tests := []struct {
		name string
		send func(ctx context.Context) error
	}{
		{"redeliver", func(ctx context.Context) error {
			_, err := svc.Redeliver(ctx, f.app.ID, failed)
			return err
		}},
		{"test event", func(ctx context.Context) error {
			_, err := svc.Test(ctx, f.app.ID)
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			member := newUser(t, db)
			db.AppMember.Create().SetApplicationID(f.app.ID).SetUserID(member.ID).SetRole(appmember.RoleDeveloper).
				SetEmail(member.Email).ExecX(ctx)
			before := deliveryLog(t, db, f.app)
			err := demotedMidway(t, db, f.app, member, webhookevent.Table, func() error { return tt.send(signedIn(member)) })
			wantErr(t, err, apperr.Forbidden, "")
			if after := deliveryLog(t, db, f.app); after != before {
				t.Errorf("a member demoted during the call changed the delivery log:\n got %s\nwant %s", after, before)
			}
		})
	}
}

// deliveryLog describes app's events, to compare before and after a call.
func deliveryLog(t *testing.T, db *store.DB, app *ent.Application) string {
	t.Helper()
	evs := db.WebhookEvent.Query().Where(webhookevent.ApplicationID(app.ID)).Order(ent.Asc(webhookevent.FieldID)).AllX(context.Background())
	out := ""
	for _, ev := range evs {
		out += fmt.Sprintf("%s %s %s; ", ev.ID, ev.Type, ev.Status)
	}
	return out
}

// demotedMidway runs op while member's demotion to support on app is under way, and returns
// op's error. The demotion locks the application row and changes the member's role, as
// team.ChangeRole does, and also holds table (ACCESS EXCLUSIVE, which stops even reads), so op
// passes every check it makes before it touches table, then waits there. Once op waits for a
// lock, the demotion commits. PostgreSQL only.
func demotedMidway(t *testing.T, db *store.DB, app *ent.Application, member *ent.User, table string, op func() error) error {
	t.Helper()
	ctx := context.Background()
	demotion, err := db.Client.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer demotion.Rollback()
	demotion.Application.Query().Where(application.ID(app.ID)).ForUpdate().OnlyX(ctx)
	if _, err := demotion.ExecContext(ctx, "LOCK TABLE "+table+" IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	demotion.AppMember.Update().Where(appmember.ApplicationID(app.ID), appmember.UserID(member.ID)).
		SetRole(appmember.RoleSupport).ExecX(ctx)
	done := make(chan error, 1)
	go func() { done <- op() }()
	if err, ended := storetest.AwaitLockWaiters(t, db, 1, done); ended {
		t.Fatalf("the call finished without waiting for the demotion: %v", err)
	}
	if err := demotion.Commit(); err != nil {
		t.Fatal(err)
	}
	return <-done
}
