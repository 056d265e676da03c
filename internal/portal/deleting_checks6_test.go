package portal_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/ent/appmember"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/ids"
	"loginsign/internal/portal"
	"loginsign/internal/team"
)

// failDeletionHalfWay makes e's deletions of connections fail (a lost database connection)
// and deletes app as the developer of dev: the deletion begins (the application is marked)
// and stops at its first batch, as one of a million connections may. It fails t unless the
// deletion reported the failure and left the application marked.
func failDeletionHalfWay(t *testing.T, e *portalEnv, dev context.Context, app *ent.Application) {
	t.Helper()
	var failing atomic.Bool
	e.db.AppConnection.Use(func(next ent.Mutator) ent.Mutator {
		return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
			if m.Op().Is(ent.OpDeleteOne) && failing.Load() {
				return nil, errors.New("database connection lost (injected)")
			}
			return next.Mutate(ctx, m)
		})
	})
	failing.Store(true)
	defer failing.Store(false)
	if err := e.svc.DeleteApplication(dev, app.ID); err == nil {
		t.Fatal("the deletion reported success, though its connection could not end")
	}
	if marked := e.db.Application.GetX(context.Background(), app.ID); marked.DeletingSince == nil {
		t.Fatal("the application after a failed deletion is not marked as being deleted")
	}
}

// TestADeletionThatFailsHalfWayLeavesNoInvitationToAccept: an invitation to the team sent
// before the deletion began seats nobody once it has, though the deletion stopped half-way:
// a member joining is a change of the team, one that can read and export the people of an
// application whose owner meant it gone (ReadUsers and ExportUsers stay allowed while
// deleting), and team.Accept locks the application itself and never goes through
// team.authorize. The deletion's first transaction revokes pending invitations, as it
// withdraws a pending ownership transfer: the same kind of offer.
func TestADeletionThatFailsHalfWayLeavesNoInvitationToAccept(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		ctx := context.Background()
		dev := e.developer(t)
		app := e.app(t, dev)
		e.connect(t, e.person(t), app, "")
		invitee := e.person(t)
		inv, err := e.svc.Team().Invite(dev, app.ID, invitee.Email, team.Admin)
		if err != nil {
			t.Fatal(err)
		}
		failDeletionHalfWay(t, e, dev, app)

		as := auth.WithSession(ctx, auth.Session{UserID: invitee.ID, SignedInAt: time.Now()})
		if listed, err := e.svc.Team().ViewerInvitations(as); err != nil || len(listed) != 0 {
			t.Errorf("the invitee's invitations after the deletion began: %+v, %v; want none", listed, err)
		}
		_, role, err := e.svc.Team().Accept(as, "", inv.ID)
		if r := apperr.As(err).Reason; err == nil || r != "application_deleting" && r != "invitation_not_found" {
			t.Errorf("accepting the invitation after the deletion began: role %q, %v; want application_deleting or invitation_not_found", role, err)
		}
		if n := e.db.AppMember.Query().Where(appmember.ApplicationID(app.ID), appmember.UserID(invitee.ID)).CountX(ctx); n != 0 {
			t.Errorf("the invitee joined the team of the application being deleted")
		}
	})
}

// TestADeletionThatFailsHalfWayLeavesNoAddressProposalToConfirm: the application's proposal
// to change a person's primary address (its backend's or its team's email sync), made before
// the deletion began, is not confirmed after it began, though the deletion stopped before the
// person's connection ended: a proposal must not outlive the relation
// (connections.endProposals), and the relation ended, for everything the application does,
// when its deletion began. ConfirmEmailChange checks only that the requester is still
// connected (requesterConnected). The answer is Gone, as for a proposal whose connection
// ended, and the address stays.
func TestADeletionThatFailsHalfWayLeavesNoAddressProposalToConfirm(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		ctx := context.Background()
		dev := e.developer(t)
		app := e.app(t, dev)
		person := e.person(t)
		e.connect(t, person, app, "")
		confirm := "lsec_" + ids.RandomLower(32)
		now := time.Now()
		e.db.EmailChange.Create().SetUserID(person.ID).SetApplicationID(app.ID).SetApplicationName(app.Name).
			SetNewEmail("proposed@example.com").SetOldEmail(person.Email).SetConfirmHash(ids.Hash(confirm)).
			SetCancelHash(ids.Hash("lsex_" + ids.RandomLower(32))).SetCreatedAt(now).SetExpiresAt(now.Add(time.Hour)).ExecX(ctx)
		failDeletionHalfWay(t, e, dev, app)

		as := auth.WithSession(ctx, auth.Session{UserID: person.ID, ID: "s", SignedInAt: time.Now()})
		if _, err := e.id.ConfirmEmailChange(as, confirm, ""); !apperr.Is(err, apperr.Gone) {
			t.Errorf("confirming the proposal of an application being deleted: %v, want gone", err)
		}
		if u := e.db.User.GetX(ctx, person.ID); u.Email != person.Email {
			t.Errorf("the primary address became %s, proposed by an application being deleted", u.Email)
		}
	})
}

// TestTheOwnerMayStillTakeAMemberOffAnApplicationWhoseDeletionStopped: taking access away is
// never a change that outlives the deletion or that it would undo, so it stays possible while
// an application is being deleted: an owner whose deletion stopped half-way (and may keep
// failing) can take a member they no longer trust off the team, and with them the member's
// reading and exporting of the application's people (ReadUsers and ExportUsers stay allowed
// while deleting). team.Remove authorizes with team.AuthorizeTakingAwayTx; with AuthorizeTx it
// answered 409 application_deleting, and only deleting again, if it succeeded, ended the
// member's access.
func TestTheOwnerMayStillTakeAMemberOffAnApplicationWhoseDeletionStopped(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		dev := e.developer(t)
		app := e.app(t, dev)
		e.connect(t, e.person(t), app, "")
		member := e.member(t, app, appmember.RoleAdmin)
		memberID, _ := auth.RequireUser(member)
		failDeletionHalfWay(t, e, dev, app)

		if _, err := e.svc.ExportUsers(member, app.ID, portal.UsersPage{}); err != nil {
			t.Fatalf("the admin exporting the people of the application being deleted: %v (the premise: they can)", err)
		}
		if err := e.svc.Team().Remove(dev, app.ID, memberID); err != nil {
			t.Errorf("the owner taking an admin off the team of the application being deleted: %v, want it done", err)
		}
		if _, err := e.svc.ExportUsers(member, app.ID, portal.UsersPage{}); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("the removed admin exporting the people: %v, want not found", err)
		}
	})
}
