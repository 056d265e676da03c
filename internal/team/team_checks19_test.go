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

// TestAStaleSignInCannotAcceptAnInvitation19: accepting an invitation joins the person to a
// team, which widens what their session reaches, so an old session cookie (a thief's copy)
// may not do it, by the invitation listed in the portal or by the mailed link's token: 401
// reauthentication_required, nobody joins, the invitation stays open. A recent sign-in
// accepts, as accepting an ownership transfer does
// (TestAStaleSignInCannotAcceptAnOwnershipTransfer). Before, any session of the invitee
// accepted.
func TestAStaleSignInCannotAcceptAnInvitation19(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newTeamEnv(t, db)
		owner, apps := e.developer(t, "Shop", "Bank")
		invitee := e.person(t)
		stale := signedInAt(as(invitee), time.Now().Add(-auth.RecentSignIn-time.Minute))

		listed, err := e.svc.Invite(owner, apps[0].ID, invitee.Email, team.Admin)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = e.svc.Accept(stale, "", listed.ID)
		wantReason(t, "accepting a listed invitation with an old sign-in", err, "reauthentication_required")

		token := e.invitationToken(t, owner, apps[1], invitee, team.Admin)
		_, _, err = e.svc.Accept(stale, token, "")
		wantReason(t, "accepting a mailed invitation with an old sign-in", err, "reauthentication_required")

		if n := db.AppMember.Query().Where(appmember.UserID(invitee.ID)).CountX(ctx); n != 0 {
			t.Fatalf("the old sign-in joined %d teams", n)
		}
		if n := db.AppInvitation.Query().Where(appinvitation.AcceptedAtNotNil()).CountX(ctx); n != 0 {
			t.Fatalf("the old sign-in spent %d invitations", n)
		}

		if _, _, err := e.svc.Accept(as(invitee), "", listed.ID); err != nil {
			t.Fatalf("accepting the listed invitation after signing in again: %v", err)
		}
		if _, _, err := e.svc.Accept(as(invitee), token, ""); err != nil {
			t.Fatalf("accepting the mailed invitation after signing in again: %v", err)
		}
	})
}
