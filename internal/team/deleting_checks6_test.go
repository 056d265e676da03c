package team_test

import (
	"context"
	"testing"
	"time"

	"loginsign/ent/appmember"
	"loginsign/internal/apperr"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestAMemberMayLeaveAnApplicationBeingDeleted: leaving takes a member's access away, so it
// stays possible while the application is being deleted (Leave authorizes ReadApp, allowed
// then); the owner still cannot leave.
func TestAMemberMayLeaveAnApplicationBeingDeleted(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newTeamEnv(t, db)
		owner, apps := e.developer(t, "Going")
		app := apps[0]
		member := e.person(t)
		db.AppMember.Create().SetApplicationID(app.ID).SetUserID(member.ID).SetRole(appmember.RoleSupport).SetEmail(member.Email).ExecX(ctx)
		db.Application.UpdateOne(app).SetDeletingSince(time.Now()).ExecX(ctx)

		if err := e.svc.Leave(as(member), app.ID); err != nil {
			t.Errorf("a member leaving the application being deleted: %v", err)
		}
		if err := e.svc.Leave(owner, app.ID); !apperr.Is(err, apperr.Conflict) || apperr.As(err).Reason != "owner_cannot_leave" {
			t.Errorf("the owner leaving the application being deleted: %v, want conflict owner_cannot_leave", err)
		}
	})
}
