package team_test

import (
	"context"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/ent/appinvitation"
	"loginsign/ent/application"
	"loginsign/ent/appmember"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
	"loginsign/internal/team"
)

// readme is the README's "Teams and roles" table, written out: the roles other than the owner
// that may perform each action (the owner may perform all).
var readme = map[team.Action][]team.Role{
	team.ReadApp:         {team.Admin, team.Developer, team.Support},
	team.EditSettings:    {team.Admin, team.Developer},
	team.RotateSecrets:   {team.Admin},
	team.DeleteApp:       {},
	team.TransferApp:     {},
	team.ReadMembers:     {team.Admin, team.Developer, team.Support},
	team.ManageMembers:   {team.Admin},
	team.ReadUsers:       {team.Admin, team.Developer, team.Support},
	team.ExportUsers:     {team.Admin},
	team.EditConnections: {team.Admin},
	team.ReadLicenses:    {team.Admin, team.Developer, team.Support},
	team.ManageLicenses:  {team.Admin, team.Developer},
	team.ReadWebhooks:    {team.Admin, team.Developer},
	team.ManageWebhooks:  {team.Admin, team.Developer},
	team.ReadActivity:    {team.Admin, team.Developer},
	team.ReadImports:     {team.Admin},
	team.RunImports:      {team.Admin},
	team.ReadAnalytics:   {team.Admin, team.Developer},
}

func mayIn(role team.Role, a team.Action) bool {
	if role == team.Owner {
		return true
	}
	for _, r := range readme[a] {
		if r == role {
			return true
		}
	}
	return false
}

// TestEachRoleMayDoWhatTheREADMEsTableSaysAndNothingMore: for every action, Authorize lets
// the owner and the roles of the README's table through, refuses every other member
// (Forbidden), and answers a stranger NotFound, as for an application that does not exist; the
// query predicate Can (node(id:), lists) agrees with it.
func TestEachRoleMayDoWhatTheREADMEsTableSaysAndNothingMore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newTeamEnv(t, db)
		owner, apps := e.developer(t, "Shop")
		app := apps[0]
		users := map[team.Role]context.Context{team.Owner: owner}
		for _, role := range team.MemberRoles {
			m := e.person(t)
			e.join(t, owner, app, m, role)
			users[role] = as(m)
		}
		stranger := as(e.person(t))
		if len(team.Actions) != len(readme) {
			t.Fatalf("%d actions, the README's table has %d", len(team.Actions), len(readme))
		}
		for _, a := range team.Actions {
			for role, who := range users {
				want := mayIn(role, a)
				_, err := team.Authorize(who, db.Client, app.ID, a)
				switch {
				case want && err != nil:
					t.Errorf("%s may %s: %v", role, a, err)
				case !want && !apperr.Is(err, apperr.Forbidden):
					t.Errorf("%s may not %s: %v, want forbidden", role, a, err)
				}
				uid := e.uidOf(t, who)
				n, err := db.Application.Query().Where(application.ID(app.ID), team.Can(uid, a)).Count(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if got := n == 1; got != want {
					t.Errorf("Can(%s, %s) = %v, want %v", role, a, got, want)
				}
			}
			if _, err := team.Authorize(stranger, db.Client, app.ID, a); !apperr.Is(err, apperr.NotFound) {
				t.Errorf("a stranger asking to %s: %v, want not found", a, err)
			}
		}
	})
}

func (e *teamEnv) uidOf(t *testing.T, ctx context.Context) string {
	t.Helper()
	s, ok := auth.SessionFrom(ctx)
	if !ok {
		t.Fatal("not signed in")
	}
	return s.UserID
}

// TestTeamChangesNeedARecentSignIn: inviting, changing a role and proposing a transfer with
// a session whose sign-in is older than auth.RecentSignIn answer reauthentication_required and
// change nothing; the same with a fresh sign-in works.
func TestTeamChangesNeedARecentSignIn(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newTeamEnv(t, db)
		owner, apps := e.developer(t, "Shop")
		app := apps[0]
		member := e.person(t)
		e.join(t, owner, app, member, team.Developer)
		stale := signedInAt(owner, time.Now().Add(-time.Hour))
		wantReauth := func(what string, err error) {
			t.Helper()
			wantReason(t, what+" with an old sign-in", err, "reauthentication_required")
		}

		_, err := e.svc.Invite(stale, app.ID, "new-member@example.com", team.Admin)
		wantReauth("inviting", err)
		if n := db.AppInvitation.Query().Where(appinvitation.Email("new-member@example.com")).CountX(ctx); n != 0 {
			t.Errorf("%d invitations written", n)
		}
		_, err = e.svc.ChangeRole(stale, app.ID, member.ID, team.Admin)
		wantReauth("changing a role", err)
		if m := db.AppMember.Query().Where(appmember.UserID(member.ID)).OnlyX(ctx); m.Role != appmember.RoleDeveloper {
			t.Errorf("the member's role is %s", m.Role)
		}
		_, err = e.svc.ProposeTransfer(stale, app.ID, member.ID)
		wantReauth("proposing a transfer", err)
		if a := db.Application.GetX(ctx, app.ID); a.TransferTo != nil {
			t.Errorf("a transfer to %s is pending", *a.TransferTo)
		}

		if _, err := e.svc.ChangeRole(owner, app.ID, member.ID, team.Admin); err != nil {
			t.Fatalf("changing a role with a fresh sign-in: %v", err)
		}
		if _, err := e.svc.ProposeTransfer(owner, app.ID, member.ID); err != nil {
			t.Fatalf("proposing a transfer with a fresh sign-in: %v", err)
		}
	})
}

// TestAnInvitationJoinsOnlyTheHolderOfTheInvitedAddress: the link followed by another account,
// or by one holding the address as an alternative not verified, is refused
// (invitation_other_address) and the invitation stays usable; by id, another account is told
// nothing but invitation_not_found. The holder of a verified alternative joins.
func TestAnInvitationJoinsOnlyTheHolderOfTheInvitedAddress(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newTeamEnv(t, db)
		owner, apps := e.developer(t, "Shop")
		app := apps[0]
		invited := e.person(t)
		other := e.person(t)
		token := e.invitationToken(t, owner, app, invited, team.Admin)

		_, _, err := e.svc.Accept(as(other), token, "")
		wantReason(t, "another account following the link", err, "invitation_other_address")
		inv := db.AppInvitation.Query().Where(appinvitation.ApplicationID(app.ID)).OnlyX(ctx)
		_, _, err = e.svc.Accept(as(other), "", inv.ID)
		wantReason(t, "another account accepting by id", err, "invitation_not_found")

		// The other account adds the invited address, unverified: still not theirs.
		db.UserEmail.Create().SetUserID(other.ID).SetEmail(invited.Email).SaveX(ctx)
		_, _, err = e.svc.Accept(as(other), token, "")
		wantReason(t, "an account holding the address unverified", err, "invitation_other_address")
		if role, err := e.svc.ViewerRole(as(other), app.ID); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("the other account is on the team (%q, %v)", role, err)
		}

		// A verified alternative address is the person's: they join, once.
		alt := e.person(t)
		token2 := e.invitationToken(t, owner, app, &ent.User{Email: "second-mailbox@example.com"}, team.Support)
		db.UserEmail.Create().SetUserID(alt.ID).SetEmail("second-mailbox@example.com").SetVerifiedAt(time.Now()).SaveX(ctx)
		if _, role, err := e.svc.Accept(as(alt), token2, ""); err != nil || role != team.Support {
			t.Fatalf("the holder of a verified alternative: %q, %v", role, err)
		}
		if _, role, err := e.svc.Accept(as(invited), token, ""); err != nil || role != team.Admin {
			t.Fatalf("the invited address's holder: %q, %v", role, err)
		}
		_, _, err = e.svc.Accept(as(invited), token, "")
		wantReason(t, "the link followed again", err, "invitation_not_found")
	})
}

// TestTheOwnersPlaceChangesOnlyByTransfer: nobody is invited as owner, nobody is given the
// owner role, the owner's role does not change, the owner is not removed and does not leave.
func TestTheOwnersPlaceChangesOnlyByTransfer(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newTeamEnv(t, db)
		owner, apps := e.developer(t, "Shop")
		app := apps[0]
		admin := e.person(t)
		e.join(t, owner, app, admin, team.Admin)

		_, err := e.svc.Invite(owner, app.ID, "someone@example.com", team.Owner)
		wantReason(t, "inviting as owner", err, "owner_not_invitable")
		_, err = e.svc.Invite(owner, app.ID, "someone@example.com", team.Role("root"))
		if !apperr.Is(err, apperr.Invalid) {
			t.Errorf("inviting with an unknown role: %v, want invalid", err)
		}
		_, err = e.svc.ChangeRole(owner, app.ID, admin.ID, team.Owner)
		if !apperr.Is(err, apperr.Invalid) {
			t.Errorf("making a member owner by a role change: %v, want invalid", err)
		}
		_, err = e.svc.ChangeRole(as(admin), app.ID, app.OwnerID, team.Support)
		wantReason(t, "an admin demoting the owner", err, "owner_role")
		wantReason(t, "an admin removing the owner", e.svc.Remove(as(admin), app.ID, app.OwnerID), "owner_not_removable")
		wantReason(t, "the owner leaving", e.svc.Leave(owner, app.ID), "owner_cannot_leave")

		if a := db.Application.GetX(ctx, app.ID); a.OwnerID != app.OwnerID {
			t.Fatalf("the owner changed to %s", a.OwnerID)
		}
		if n := db.AppMember.Query().Where(appmember.ApplicationID(app.ID), appmember.RoleEQ(appmember.RoleAdmin)).CountX(ctx); n != 1 {
			t.Errorf("%d admins, want 1", n)
		}
		if n := db.AppInvitation.Query().Where(appinvitation.Email("someone@example.com")).CountX(ctx); n != 0 {
			t.Errorf("%d invitations written", n)
		}
	})
}

// TestATransferIsTakenOnlyByTheProposedMemberBeforeItExpires: another member can neither
// accept nor cancel the owner's proposal; once TransferTTL has passed, the proposed member can
// no longer accept it and it is no longer listed to them.
func TestATransferIsTakenOnlyByTheProposedMemberBeforeItExpires(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newTeamEnv(t, db)
		owner, apps := e.developer(t, "Shop")
		app := apps[0]
		proposed, admin := e.person(t), e.person(t)
		e.join(t, owner, app, proposed, team.Developer)
		e.join(t, owner, app, admin, team.Admin)
		if _, err := e.svc.ProposeTransfer(owner, app.ID, proposed.ID); err != nil {
			t.Fatal(err)
		}

		_, err := e.svc.AcceptTransfer(as(admin), app.ID)
		wantReason(t, "another member accepting", err, "no_transfer")
		if err := e.svc.CancelTransfer(as(admin), app.ID); !apperr.Is(err, apperr.Forbidden) {
			t.Errorf("an admin cancelling the owner's proposal: %v, want forbidden", err)
		}
		if a := db.Application.GetX(ctx, app.ID); a.OwnerID != app.OwnerID || a.TransferTo == nil || *a.TransferTo != proposed.ID {
			t.Fatalf("owner %s, transfer to %v", a.OwnerID, a.TransferTo)
		}

		later := *e.svc
		later.Now = func() time.Time { return time.Now().Add(team.TransferTTL + time.Minute) }
		if ts, err := later.ViewerTransfers(as(proposed)); err != nil || len(ts) != 0 {
			t.Errorf("transfers listed after expiry: %v, %v", ts, err)
		}
		_, err = later.AcceptTransfer(signedInAt(as(proposed), later.Now()), app.ID)
		wantReason(t, "accepting an expired transfer", err, "no_transfer")
		if a := db.Application.GetX(ctx, app.ID); a.OwnerID != app.OwnerID {
			t.Fatalf("the application went to %s", a.OwnerID)
		}
		if ts, err := e.svc.ViewerTransfers(as(proposed)); err != nil || len(ts) != 1 {
			t.Errorf("transfers listed before expiry: %v, %v", ts, err)
		}
	})
}

// TestAnInvitationIsRevokedOnlyThroughItsOwnApplication: the admin of one application who
// names an invitation of another application is told not found, and that invitation stays
// usable.
func TestAnInvitationIsRevokedOnlyThroughItsOwnApplication(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newTeamEnv(t, db)
		mine, myApps := e.developer(t, "Mine")
		theirs, theirApps := e.developer(t, "Theirs")
		inv, err := e.svc.Invite(theirs, theirApps[0].ID, "invitee@example.com", team.Admin)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.svc.Revoke(mine, myApps[0].ID, inv.ID); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("revoking another application's invitation: %v, want not found", err)
		}
		if got := db.AppInvitation.GetX(ctx, inv.ID); got.RevokedAt != nil {
			t.Fatal("the other application's invitation was revoked")
		}
	})
}

// TestAFullTeamTakesNoOneMore: with MaxTeam members and pending invitations together, one
// more invitation answers team_full; an invitation sent before the team filled up with members
// answers team_full when accepted, and joins nobody.
func TestAFullTeamTakesNoOneMore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newTeamEnv(t, db)
		owner, apps := e.developer(t, "Shop")
		app := apps[0]
		late := e.person(t)
		inv, err := e.svc.Invite(owner, app.ID, late.Email, team.Support)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		// MaxTeam-1 members: with the pending invitation, the team is full.
		for i := 0; i < team.MaxTeam-1; i++ {
			m := e.person(t)
			db.AppMember.Create().SetApplicationID(app.ID).SetUserID(m.ID).SetEmail(m.Email).
				SetRole(appmember.RoleSupport).SetCreatedAt(now).SetUpdatedAt(now).ExecX(ctx)
		}
		_, err = e.svc.Invite(owner, app.ID, "one-more@example.com", team.Support)
		wantReason(t, "inviting into a full team", err, "team_full")
		// One more member, written meanwhile: the pending invitation no longer has a seat.
		m := e.person(t)
		db.AppMember.Create().SetApplicationID(app.ID).SetUserID(m.ID).SetEmail(m.Email).
			SetRole(appmember.RoleSupport).SetCreatedAt(now).SetUpdatedAt(now).ExecX(ctx)
		_, _, err = e.svc.Accept(as(late), "", inv.ID)
		wantReason(t, "accepting into a full team", err, "team_full")
		if role, err := e.svc.ViewerRole(as(late), app.ID); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("the late invitee is on the team (%q, %v)", role, err)
		}
	})
}

// TestAnExpiredInvitationIsNeitherListedNorAccepted: past InvitationTTL the invitation is
// not listed to the invitee and accepting it answers invitation_not_found.
func TestAnExpiredInvitationIsNeitherListedNorAccepted(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newTeamEnv(t, db)
		owner, apps := e.developer(t, "Shop")
		invited := e.person(t)
		inv, err := e.svc.Invite(owner, apps[0].ID, invited.Email, team.Admin)
		if err != nil {
			t.Fatal(err)
		}
		later := *e.svc
		later.Now = func() time.Time { return time.Now().Add(team.InvitationTTL + time.Minute) }
		if invs, err := later.ViewerInvitations(as(invited)); err != nil || len(invs) != 0 {
			t.Errorf("invitations listed after expiry: %v, %v", invs, err)
		}
		_, _, err = later.Accept(signedInAt(as(invited), later.Now()), "", inv.ID)
		wantReason(t, "accepting an expired invitation", err, "invitation_not_found")
		if invs, err := e.svc.ViewerInvitations(as(invited)); err != nil || len(invs) != 1 {
			t.Errorf("invitations listed before expiry: %v, %v", invs, err)
		}
	})
}

// wantReason fails the test unless err is the apperr whose name is reason.
func wantReason(t *testing.T, what string, err error, reason string) {
	t.Helper()
	if got := apperr.As(err); got == nil || got.Name() != reason {
		t.Fatalf("%s: %v, want %s", what, err, reason)
	}
}
