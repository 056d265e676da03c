package team_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"loginsign/ent"
	"loginsign/ent/appmember"
	"loginsign/internal/apperr"
	"loginsign/internal/ratelimit"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
	"loginsign/internal/team"
)

// TestAWriteForTheOwnerIsRefusedWhenTheOwnerChangedMeanwhile: AuthorizeForOwnerTx locks the
// owner of the application as it was read before the transaction; when a transfer committed
// in between, the application locked has another owner and the write is refused (Conflict)
// rather than counted against the totals of the old owner, whose lock it holds. With the
// application as it is now, the same write goes through.
func TestAWriteForTheOwnerIsRefusedWhenTheOwnerChangedMeanwhile(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newTeamEnv(t, db)
		_, apps := e.developer(t, "Shop")
		stale := apps[0]
		newOwner := e.person(t)
		db.Application.UpdateOneID(stale.ID).SetOwnerID(newOwner.ID).ExecX(ctx)

		authorize := func(app *ent.Application) error {
			return db.Tx(ctx, func(tx *ent.Tx) error {
				_, err := team.AuthorizeForOwnerTx(as(newOwner), tx, db.Dialect, app, team.ManageLicenses)
				return err
			})
		}
		if err := authorize(stale); !apperr.Is(err, apperr.Conflict) {
			t.Errorf("a write for the owner read before a transfer: %v, want conflict", err)
		}
		if err := authorize(db.Application.GetX(ctx, stale.ID)); err != nil {
			t.Errorf("a write for the owner read after the transfer: %v, want it allowed", err)
		}
	})
}

// TestAnOverlongInvitationTokenCostsNoDatabaseWork: a token longer than any link carries, or
// an invitation id longer than any id, answers not found before the database is asked
// anything (no transaction, no lock of the person, no lookup).
func TestAnOverlongInvitationTokenCostsNoDatabaseWork(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newTeamEnv(t, db)
		person := e.person(t)
		var statements atomic.Int32
		counted := &store.DB{SQL: db.SQL, Dialect: db.Dialect, Client: ent.NewClient(ent.Driver(
			dialect.DebugWithContext(entsql.OpenDB(db.Dialect, db.SQL), func(context.Context, ...any) { statements.Add(1) })))}
		svc := *e.svc
		svc.DB = counted
		for _, tc := range []struct{ what, token, id string }{
			{"a token of 201 characters", strings.Repeat("t", 201), ""},
			{"an invitation id of 101 characters", "", strings.Repeat("i", 101)},
		} {
			statements.Store(0)
			_, _, err := svc.Accept(as(person), tc.token, tc.id)
			if !apperr.Is(err, apperr.NotFound) {
				t.Errorf("accepting %s: %v, want not found", tc.what, err)
			}
			if n := statements.Load(); n != 0 {
				t.Errorf("accepting %s ran %d statements, want none", tc.what, n)
			}
		}
	})
}

// TestRoleChangesSpendTheAccessChangesBudget: a role change counts against AccessChanges; past
// it the next change answers rate_limited and the member keeps their role.
func TestRoleChangesSpendTheAccessChangesBudget(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newTeamEnv(t, db)
		e.svc.AccessChanges = ratelimit.Rule{Name: "test-access-changes", N: 1, Window: time.Hour}
		owner, apps := e.developer(t, "Shop")
		app := apps[0]
		member := e.person(t)
		e.join(t, owner, app, member, team.Developer)

		if _, err := e.svc.ChangeRole(owner, app.ID, member.ID, team.Support); err != nil {
			t.Fatalf("the first role change: %v", err)
		}
		_, err := e.svc.ChangeRole(owner, app.ID, member.ID, team.Admin)
		wantRateLimited(t, err, "a role change past the budget")
		if m := db.AppMember.Query().Where(appmember.UserID(member.ID)).OnlyX(ctx); m.Role != appmember.RoleSupport {
			t.Errorf("after the refused change the member is %s, want support", m.Role)
		}
	})
}

// TestActionsListsEachRowOfTheREADMEsTableOnce: team.Actions, which the table test walks,
// names every action of the README's table exactly once, so no row (export users, say) goes
// unchecked behind a name listed twice.
func TestActionsListsEachRowOfTheREADMEsTableOnce(t *testing.T) {
	seen := map[team.Action]int{}
	for _, a := range team.Actions {
		seen[a]++
	}
	for a := range readme {
		if seen[a] != 1 {
			t.Errorf("team.Actions lists %q %d times, want once", a, seen[a])
		}
	}
	for a, n := range seen {
		if _, ok := readme[a]; !ok {
			t.Errorf("team.Actions lists %q (%d times), which the README's table has not", a, n)
		}
	}
}
