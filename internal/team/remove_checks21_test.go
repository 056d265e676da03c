package team_test

import (
	"context"
	"testing"
	"time"

	"loginsign/ent/appinvitation"
	"loginsign/ent/appmember"
	"loginsign/internal/auth"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
	"loginsign/internal/team"
)

// TestAStaleSignInCannotRemoveAMember21: removing someone else from a team, as changing their
// role does, needs a recent sign-in: from a session whose sign-in is older than
// auth.RecentSignIn (a thief's copy of the owner's cookie) it answers
// reauthentication_required, the member stays, and so do the transfer proposed to them and
// the invitations they sent. Leaving, which takes away only the session's own access, needs
// none; a fresh sign-in removes. Before, any session of the owner or an admin emptied the team.
func TestAStaleSignInCannotRemoveAMember21(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newTeamEnv(t, db)
		owner, apps := e.developer(t, "Shop")
		app := apps[0]
		admin, leaver := e.person(t), e.person(t)
		e.join(t, owner, app, admin, team.Admin)
		e.join(t, owner, app, leaver, team.Support)
		if _, err := e.svc.ProposeTransfer(owner, app.ID, admin.ID); err != nil {
			t.Fatal(err)
		}
		sent, err := e.svc.Invite(as(admin), app.ID, "helper@example.com", team.Support)
		if err != nil {
			t.Fatal(err)
		}
		old := time.Now().Add(-auth.RecentSignIn - time.Minute)

		err = e.svc.Remove(signedInAt(owner, old), app.ID, admin.ID)
		wantReason(t, "removing a member with an old sign-in", err, "reauthentication_required")
		if n := db.AppMember.Query().Where(appmember.ApplicationID(app.ID), appmember.UserID(admin.ID)).CountX(ctx); n != 1 {
			t.Fatal("the old sign-in removed the member")
		}
		if a := db.Application.GetX(ctx, app.ID); a.TransferTo == nil || *a.TransferTo != admin.ID {
			t.Fatal("the old sign-in ended the transfer proposed to the member")
		}
		if inv := db.AppInvitation.GetX(ctx, sent.ID); inv.RevokedAt != nil {
			t.Fatal("the old sign-in revoked the member's invitation")
		}
		// The role comes first: someone off the team is told not_found, old sign-in or not.
		err = e.svc.Remove(signedInAt(as(e.person(t)), old), app.ID, admin.ID)
		wantReason(t, "removing a member from off the team", err, "not_found")

		if err := e.svc.Leave(signedInAt(as(leaver), old), app.ID); err != nil {
			t.Fatalf("leaving with an old sign-in: %v", err)
		}
		if err := e.svc.Remove(owner, app.ID, admin.ID); err != nil {
			t.Fatalf("removing a member with a fresh sign-in: %v", err)
		}
		if n := db.AppMember.Query().Where(appmember.ApplicationID(app.ID), appmember.UserIDIn(admin.ID, leaver.ID)).CountX(ctx); n != 0 {
			t.Fatalf("%d of the removed and the leaving member are still on the team", n)
		}
		if n := db.AppInvitation.Query().Where(appinvitation.ID(sent.ID), appinvitation.RevokedAtIsNil()).CountX(ctx); n != 0 {
			t.Fatal("the removed member's invitation is still open")
		}
	})
}
