package account_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/ent/appconnection"
	"loginsign/ent/appinvitation"
	"loginsign/ent/application"
	"loginsign/ent/appmember"
	"loginsign/ent/auditevent"
	"loginsign/internal/ids"
	"loginsign/internal/store/storetest"
)

// Closing an account reads the person's rows, not everyone's: what it reads of the audit
// events, the team invitations and the applications does not grow with other people's. It runs
// while the person's row is locked (on PostgreSQL with their applications held too), so a
// closing that scanned these tables would take longer, and hold others up longer, the more
// people use LoginSign. For each table, two closings of accounts alike (connected to an
// application, on its team, with an invitation sent, its transfer proposed to them, and an
// audit event with an address) read as much with 100 rows of other people in it as with
// 5,000; the other tables keep 100 each, so that the table is named on SQLite too, which
// counts the pages of every table together. (With 2,000 a scan of audit events read 100
// pages more, within SQLite's allowance for deeper B-trees; with 5,000, 260.)
func TestClosingAnAccountReadsNoMoreBehindOtherPeoplesRows(t *testing.T) {
	t.Parallel()
	const small, large = 100, 5000
	tables := []string{auditevent.Table, appinvitation.Table, application.Table}
	for _, table := range tables {
		t.Run(table, func(t *testing.T) {
			t.Parallel()
			for backend, url := range storetest.URLs(t) {
				t.Run(backend, func(t *testing.T) {
					db, reads := storetest.Measured(t, url, tables...)
					e := newEnv(t, db)
					teamApp, others := e.app("team"), e.user("others@example.com")
					for _, tb := range tables {
						othersRows(t, db.Client, tb, others, 0, small)
					}
					e.closeMeasured(t, teamApp, reads) // prepares its statements
					before := e.closeMeasured(t, teamApp, reads).Of(table)
					othersRows(t, db.Client, table, others, small, large)
					after := e.closeMeasured(t, teamApp, reads).Of(table)
					if allowed := storetest.NoMoreThan(db, before); after > allowed {
						t.Errorf("closing an account read %d %s beside %d rows of other people in %s, %d beside %d; want at most %d",
							after, unit(backend), large, table, before, small, allowed)
					}
					t.Logf("%d %s beside %d rows of other people in %s, %d beside %d", after, unit(backend), large, table, before, small)
				})
			}
		})
	}
}

// closeMeasured closes a new account connected to teamApp and on its team, with an invitation
// to the team it sent, the team's application proposed to it and an audit event with an
// address, and returns what the closing read.
func (e *env) closeMeasured(t *testing.T, teamApp *ent.Application, reads func() storetest.Reads) storetest.Reads {
	t.Helper()
	ctx, db := context.Background(), e.db
	p := e.user(ids.RandomLower(10) + "@example.com")
	e.connect(p, teamApp, "")
	db.AppMember.Create().SetApplicationID(teamApp.ID).SetUserID(p.ID).SetRole(appmember.RoleAdmin).SetEmail(p.Email).ExecX(ctx)
	db.AppInvitation.Create().SetApplicationID(teamApp.ID).SetEmail("invited-" + p.Email).
		SetRole(appinvitation.RoleDeveloper).SetTokenHash(ids.Hash(p.ID)).SetInvitedBy(p.ID).
		SetExpiresAt(now.Add(time.Hour)).ExecX(ctx)
	db.Application.UpdateOne(teamApp).SetTransferTo(p.ID).SetTransferExpiresAt(now.Add(time.Hour)).ExecX(ctx)
	db.AuditEvent.Create().SetActorID(p.ID).SetAction("user.email_changed").SetTarget(p.GlobalID).
		SetData(map[string]any{"old": "before@example.com", "new": p.Email, "reason": "user_email_change"}).ExecX(ctx)
	before := reads()
	if _, err := e.svc.DeleteAccount(as(p), p.GlobalID, ""); err != nil {
		t.Fatal(err)
	}
	read := reads().Minus(before)
	if n := db.AppInvitation.Query().Where(appinvitation.InvitedBy(p.ID), appinvitation.RevokedAtIsNil()).CountX(ctx); n != 0 {
		t.Fatalf("%d invitations of the closed account still open", n)
	}
	if n := db.Application.Query().Where(application.TransferTo(p.ID)).CountX(ctx); n != 0 {
		t.Fatalf("%d transfers to the closed account still proposed", n)
	}
	for _, ev := range db.AuditEvent.Query().Where(auditevent.ActorID(p.ID)).AllX(ctx) {
		if _, ok := ev.Data["old"]; ok {
			t.Fatalf("audit event %s of the closed account keeps an address: %v", ev.Action, ev.Data)
		}
	}
	return read
}

// unit is what storetest.Reads counts on backend.
func unit(backend string) string {
	if backend == "sqlite" {
		return "pages of any table"
	}
	return "rows"
}

// othersRows writes other people's rows from..to-1 of table: audit events of other actors
// about other accounts, invitations other developers sent to other teams, and applications of
// another developer (every tenth with a transfer proposed to someone else).
func othersRows(t *testing.T, c *ent.Client, table string, owner *ent.User, from, to int) {
	t.Helper()
	ctx := context.Background()
	for start := from; start < to; start += 100 {
		end := min(start+100, to)
		var err error
		switch table {
		case auditevent.Table:
			err = c.AuditEvent.MapCreateBulk(make([]int, end-start), func(b *ent.AuditEventCreate, k int) {
				i := start + k
				b.SetActorID(fmt.Sprintf("usr_other%d", i)).SetAction("user.email_changed").SetTarget(fmt.Sprintf("OT%04d", i)).
					SetData(map[string]any{"old": fmt.Sprintf("old-%d@example.com", i), "new": fmt.Sprintf("new-%d@example.com", i),
						"reason": "user_email_change"})
			}).Exec(ctx)
		case appinvitation.Table:
			err = c.AppInvitation.MapCreateBulk(make([]int, end-start), func(b *ent.AppInvitationCreate, k int) {
				i := start + k
				b.SetApplicationID(fmt.Sprintf("app_other%d", i%50)).SetEmail(fmt.Sprintf("invitee-%d@example.com", i)).
					SetRole(appinvitation.RoleDeveloper).SetTokenHash(fmt.Sprintf("other-%d", i)).
					SetInvitedBy(fmt.Sprintf("usr_other%d", i)).SetExpiresAt(now.Add(time.Hour))
			}).Exec(ctx)
		case application.Table:
			err = c.Application.MapCreateBulk(make([]int, end-start), func(b *ent.ApplicationCreate, k int) {
				i := start + k
				b.SetOwnerID(owner.ID).SetName(fmt.Sprintf("Other %d", i)).SetSecretHash("x").
					SetWebhookURL(fmt.Sprintf("https://other-%d.example.com/hooks", i)).SetWebhookSecret([]byte("sealed"))
				if i%10 == 0 {
					b.SetTransferTo(fmt.Sprintf("usr_other%d", i)).SetTransferExpiresAt(now.Add(time.Hour))
				}
			}).Exec(ctx)
		default:
			t.Fatalf("no rows of other people for %s", table)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// Removing a verified alternative address holds the applications it writes rows of (those
// shown the address, those whose links to it the person refused) and reads no others: what it
// reads of the applications is as much beside 5,000 of other people as beside 100.
func TestRemovingAnAddressReadsNoMoreBehindOtherPeoplesApplications(t *testing.T) {
	t.Parallel()
	const small, large = 100, 5000
	for backend, url := range storetest.URLs(t) {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			db, reads := storetest.Measured(t, url, application.Table)
			e := newEnv(t, db)
			shown, refused := e.app("shown"), e.app("refused")
			others := e.user("others@example.com")
			othersRows(t, db.Client, application.Table, others, 0, small)
			removal := func() int {
				t.Helper()
				addr := ids.RandomLower(10) + "@example.org"
				ue := e.addAndVerify(e.person, addr)
				e.connect(e.person, shown, addr)
				db.PendingLink.Create().SetApplicationID(refused.ID).SetEmail(addr).SetExternalUserID(addr).SetRefusedAt(now).ExecX(ctx)
				before := reads()
				if err := e.svc.RemoveAlternativeEmail(as(e.person), ue.ID, ""); err != nil {
					t.Fatal(err)
				}
				read := reads().Minus(before).Of(application.Table)
				db.AppConnection.Delete().Where(appconnection.UserID(e.person.ID)).ExecX(ctx)
				return read
			}
			removal() // prepares its statements
			before := removal()
			othersRows(t, db.Client, application.Table, others, small, large)
			if after, allowed := removal(), storetest.NoMoreThan(db, before); after > allowed {
				t.Errorf("removing an address read %d %s beside %d applications of other people, %d beside %d; want at most %d",
					after, unit(backend), large, before, small, allowed)
			}
		})
	}
}
