package team_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"loginsign/ent/appinvitation"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/mail"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
	"loginsign/internal/team"
)

// failingMail is a mail server that refuses every message.
type failingMail struct{}

func (failingMail) Send(context.Context, mail.Message) error {
	return errors.New("421 try again later")
}

// TestAnInvitationWhoseMailFailedIsNotLeftOpen (review helper gqlteamrev, checks13): when the
// invitation mail cannot be sent, Invite answers an internal error ("sending the invitation
// failed"), and the invitation it wrote is not left pending: before, it stayed listed to the
// team and to the invitee for a week, held a seat of the team (team_full) and the inviter's
// retry added a second one.
func TestAnInvitationWhoseMailFailedIsNotLeftOpen(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newTeamEnv(t, db)
		owner, apps := e.developer(t, "Shop")
		app := apps[0]
		invitee := e.person(t)
		failing := *e.svc
		failing.Mail = failingMail{}
		if _, err := failing.Invite(owner, app.ID, invitee.Email, team.Admin); !apperr.Is(err, apperr.Internal) {
			t.Fatalf("inviting with the mail server down: %v, want internal", err)
		}
		if got := e.pendingTo(t, owner, app.ID); len(got) != 0 {
			t.Errorf("the team's pending invitations after the mail failed: %v, want none", got)
		}
		if invs, err := e.svc.ViewerInvitations(as(invitee)); err != nil || len(invs) != 0 {
			t.Errorf("the invitee's invitations after the mail failed: %+v, %v; want none", invs, err)
		}
		if n := db.AppInvitation.Query().Where(appinvitation.ApplicationID(app.ID), appinvitation.RevokedAtIsNil()).CountX(context.Background()); n != 0 {
			t.Errorf("%d invitations left open", n)
		}
		// With the mail server back, the invitation goes out and can be taken.
		e.join(t, owner, app, invitee, team.Admin)
	})
}

// TestAStaleSignInCannotAcceptAnOwnershipTransfer: accepting an ownership transfer makes the
// person answer for the application and keeps them from closing their account until they hand
// it on, so an old session cookie (a thief's copy, which could also have accepted the thief's
// invitation to the team) may not do it: 401 reauthentication_required, nothing changed. A
// recent sign-in accepts. Before, any session of the member accepted.
func TestAStaleSignInCannotAcceptAnOwnershipTransfer(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newTeamEnv(t, db)
		owner, apps := e.developer(t, "Shop")
		app := apps[0]
		member := e.person(t)
		e.join(t, owner, app, member, team.Admin)
		if _, err := e.svc.ProposeTransfer(owner, app.ID, member.ID); err != nil {
			t.Fatal(err)
		}
		stale := signedInAt(as(member), time.Now().Add(-auth.RecentSignIn-time.Minute))
		_, err := e.svc.AcceptTransfer(stale, app.ID)
		wantReason(t, "accepting a transfer with an old sign-in", err, "reauthentication_required")
		if got := db.Application.GetX(context.Background(), app.ID); got.OwnerID != app.OwnerID || got.TransferTo == nil {
			t.Fatalf("after the refused accept the owner is %s (want %s), transfer pending %v", got.OwnerID, app.OwnerID, got.TransferTo != nil)
		}
		if _, err := e.svc.AcceptTransfer(as(member), app.ID); err != nil {
			t.Fatalf("accepting after signing in again: %v", err)
		}
	})
}

// TestARoleChangeEndsTheTransferProposedToTheMember: the owner proposed the application to an
// admin; once that member's role changes (here to support) the proposal, made to the member as
// they were, ends as it does when they leave: accepting answers no_transfer and the owner stays.
// Before, the member demoted to support could still take the application over.
func TestARoleChangeEndsTheTransferProposedToTheMember(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newTeamEnv(t, db)
		owner, apps := e.developer(t, "Shop")
		app := apps[0]
		member := e.person(t)
		e.join(t, owner, app, member, team.Admin)
		if _, err := e.svc.ProposeTransfer(owner, app.ID, member.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.ChangeRole(owner, app.ID, member.ID, team.Support); err != nil {
			t.Fatal(err)
		}
		_, err := e.svc.AcceptTransfer(as(member), app.ID)
		wantReason(t, "accepting after being made support", err, "no_transfer")
		if got := db.Application.GetX(context.Background(), app.ID); got.OwnerID != app.OwnerID || got.TransferTo != nil {
			t.Fatalf("owner %s (want %s), transfer pending %v", got.OwnerID, app.OwnerID, got.TransferTo != nil)
		}
	})
}
