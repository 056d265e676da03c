package account_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/ent/pendinglink"
	"loginsign/internal/ids"
	"loginsign/internal/portal"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// proposeLink stores app's pending link to addr, as an import run proposes one.
func (e *env) proposeLink(app *ent.Application, addr string) *ent.PendingLink {
	e.t.Helper()
	return e.db.PendingLink.Create().SetApplicationID(app.ID).SetEmail(addr).SetExternalUserID("ext-" + ids.RandomLower(6)).
		SetCreatedAt(now).SetUpdatedAt(now).SaveX(context.Background())
}

// wantPendingLinks fails unless u's dashboard lists exactly the pending links want.
func (e *env) wantPendingLinks(t *testing.T, u *ent.User, want ...*ent.PendingLink) {
	t.Helper()
	links, err := e.svc.PendingLinks(as(u), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	var got, wantIDs []string
	for _, l := range links {
		got = append(got, l.ID)
	}
	for _, l := range want {
		wantIDs = append(wantIDs, l.ID)
	}
	slices.Sort(got)
	slices.Sort(wantIDs)
	if !slices.Equal(got, wantIDs) {
		t.Errorf("%s sees pending links %v, want %v", u.Email, got, wantIDs)
	}
}

// A person's refusal of a pending link is theirs, not their address's: once they remove the
// alternative address it was proposed to, or close their account, whoever holds the address
// next is shown the proposal and may accept it. While the person holds the address it stays
// refused, and another person's refusal is untouched. A proposal the developer withdrew
// since (its run rolled back; it stayed only as a refusal) goes with the refusal, also once
// the rolled-back run itself is gone (trimmed as a spent run). Before, the refusal stayed
// with the address, and the next holder never saw the proposal.
func TestRefusalsDoNotPassToTheNextHolderOfTheAddress(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		crm, shop, market := e.app("crm"), e.app("shop"), e.app("market")
		backup := e.addAndVerify(e.person, "backup@example.org")
		toPrimary, toBackup, toDev := e.proposeLink(crm, "person@example.com"), e.proposeLink(crm, "backup@example.org"),
			e.proposeLink(crm, "dev@example.com")
		run := e.db.ImportSource.Create().SetApplicationID(shop.ID).SetName("shop").SetCreatedAt(now).SaveX(ctx)
		withdrawn := e.db.PendingLink.Create().SetApplicationID(shop.ID).SetEmail("person@example.com").
			SetExternalUserID("s-1").SetImportSourceID(run.ID).SetCreatedAt(now).SetUpdatedAt(now).SaveX(ctx)
		trimmedRun := e.db.ImportSource.Create().SetApplicationID(market.ID).SetName("market").SetCreatedAt(now).SaveX(ctx)
		trimmed := e.db.PendingLink.Create().SetApplicationID(market.ID).SetEmail("person@example.com").
			SetExternalUserID("m-1").SetImportSourceID(trimmedRun.ID).SetCreatedAt(now).SetUpdatedAt(now).SaveX(ctx)
		e.wantPendingLinks(t, e.person, toPrimary, toBackup, withdrawn, trimmed)
		for _, refusal := range []struct {
			by   *ent.User
			link *ent.PendingLink
		}{{e.person, toPrimary}, {e.person, toBackup}, {e.dev, toDev}, {e.person, withdrawn}, {e.person, trimmed}} {
			if err := e.svc.RefusePendingLink(as(refusal.by), refusal.link.ID); err != nil {
				t.Fatal(err)
			}
		}
		developer := &portal.Service{DB: e.db, Now: func() time.Time { return now }}
		if r, err := developer.RollbackImport(as(e.dev), shop.ID, run.ID); err != nil || r.WithdrawnLinks != 1 {
			t.Fatalf("rolling back the shop's run: %+v %v", r, err)
		}
		if r, err := developer.RollbackImport(as(e.dev), market.ID, trimmedRun.ID); err != nil || r.WithdrawnLinks != 1 {
			t.Fatalf("rolling back the market's run: %+v %v", r, err)
		}
		e.db.ImportSource.DeleteOne(trimmedRun).ExecX(ctx) // as trimImportRuns deletes a spent run

		if err := e.svc.RemoveAlternativeEmail(as(e.person), backup.ID, ""); err != nil {
			t.Fatal(err)
		}
		e.wantPendingLinks(t, e.person)
		e.wantPendingLinks(t, e.user("backup@example.org"), toBackup)

		if _, err := e.svc.DeleteAccount(as(e.person), e.person.GlobalID, ""); err != nil {
			t.Fatal(err)
		}
		e.wantPendingLinks(t, e.user("person@example.com"), toPrimary)
		e.wantPendingLinks(t, e.dev)
		if n := db.PendingLink.Query().Where(pendinglink.ImportSourceIDIn(run.ID, trimmedRun.ID)).CountX(ctx); n != 0 {
			t.Errorf("%d links of the rolled-back runs left", n)
		}
	})
}

// The closing of an account, or the removal of an address, forgetting a refusal while the
// developer rolls back the import run that proposed the link: the rollback counts the link
// once among its withdrawn links and leaves no proposal of the run open. The closing and the
// removal take the link's application (a key share) before they clear the refusal, and the
// rollback locks the application first, so it either finishes before or waits and then
// withdraws the link it finds open. Were the application not taken, the rollback counted the
// link refused while it was being cleared, and the cleared link stayed open: a run rolled
// back would still propose it to the next holder of the address. The test holds the link
// itself, so the closing (or the removal) waits there with its locks taken. PostgreSQL only:
// SQLite transactions take turns.
func TestRollbackRacingAForgottenRefusalWithdrawsTheLinkOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.PostgresOnly(t))
	ctx := context.Background()
	developer := &portal.Service{DB: e.db, Now: func() time.Time { return now }}
	for _, c := range []struct {
		name string
		// forget readies the person with an address a link can be proposed to, and returns
		// that address with the operation that forgets the person's refusals of it.
		forget func(person *ent.User) (addr string, op func() error)
	}{
		{name: "the account closed",
			forget: func(person *ent.User) (string, func() error) {
				return person.Email, func() error { _, err := e.svc.DeleteAccount(as(person), person.GlobalID, ""); return err }
			}},
		{name: "the address removed",
			forget: func(person *ent.User) (string, func() error) {
				ue := e.addAndVerify(person, "spare-"+person.Email)
				return ue.Email, func() error { return e.svc.RemoveAlternativeEmail(as(person), ue.ID, "") }
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			person := e.user("refusing-" + ids.RandomLower(6) + "@example.com")
			addr, forget := c.forget(person)
			app := e.app("imports-" + ids.RandomLower(6))
			src := e.db.ImportSource.Create().SetApplicationID(app.ID).SetName("crm").SetCreatedAt(now).SaveX(ctx)
			link := e.db.PendingLink.Create().SetApplicationID(app.ID).SetEmail(addr).SetExternalUserID("u-1").
				SetImportSourceID(src.ID).SetCreatedAt(now).SetUpdatedAt(now).SaveX(ctx)
			if err := e.svc.RefusePendingLink(as(person), link.ID); err != nil {
				t.Fatal(err)
			}
			var withdrawn int
			rollback := func() error {
				r, err := developer.RollbackImport(as(e.dev), app.ID, src.ID)
				if err == nil {
					withdrawn = r.WithdrawnLinks
				}
				return err
			}
			holdLink := func(ctx context.Context, tx *ent.Tx) {
				tx.PendingLink.Query().Where(pendinglink.ID(link.ID)).ForUpdate().OnlyX(ctx)
			}
			forgetErr, rollbackErr := e.raceHeld(t, holdLink, forget, rollback)
			if forgetErr != nil {
				t.Errorf("%s: %v", c.name, forgetErr)
			}
			if rollbackErr != nil {
				t.Errorf("rolling back the import: %v", rollbackErr)
			}
			if withdrawn != 1 {
				t.Errorf("the rollback withdrew %d links, want 1", withdrawn)
			}
			if n := e.db.PendingLink.Query().Where(pendinglink.ImportSourceID(src.ID)).CountX(ctx); n != 0 {
				t.Errorf("%d links of the rolled-back run left open", n)
			}
		})
	}
}
