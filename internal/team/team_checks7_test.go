package team_test

import (
	"context"
	"strings"
	"testing"

	"loginsign/ent"
	"loginsign/ent/appinvitation"
	"loginsign/internal/apperr"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
	"loginsign/internal/team"
)

// The checks of review helper rev7c: an attacker with the lowest role on someone else's team,
// an ex-member, and a developer off the team.

// TestATakenAwayPlaceIsNotTakenBackThroughAnotherOpenInvitation: the owner invites a person
// twice (the first mail was slow: "invite again"), the person joins through one link and the
// other stays open. When the owner then takes the person off the team, or lowers their role
// and the person leaves, that second link must not bring them back, least of all with the
// role the owner just took away: removal and demotion are the owner's latest word. Today
// Remove, Leave and ChangeRole revoke only the invitations the person SENT
// (revokeInvitationsBy), not those sent TO them, and checkInviter passes because the inviter
// is still the owner.
func TestATakenAwayPlaceIsNotTakenBackThroughAnotherOpenInvitation(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newTeamEnv(t, db)
		cases := []struct {
			name    string
			role    team.Role
			takeOff func(owner context.Context, app *ent.Application, m *ent.User) error
		}{
			{"removed by the owner", team.Developer, func(owner context.Context, app *ent.Application, m *ent.User) error {
				return e.svc.Remove(owner, app.ID, m.ID)
			}},
			{"demoted to support, then left", team.Admin, func(owner context.Context, app *ent.Application, m *ent.User) error {
				if _, err := e.svc.ChangeRole(owner, app.ID, m.ID, team.Support); err != nil {
					return err
				}
				return e.svc.Leave(as(m), app.ID)
			}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				owner, apps := e.developer(t, "Shop")
				app := apps[0]
				m := e.person(t)
				first := e.invitationToken(t, owner, app, m, c.role)
				second := e.invitationToken(t, owner, app, m, c.role)
				if _, _, err := e.svc.Accept(as(m), first, ""); err != nil {
					t.Fatal(err)
				}
				if err := c.takeOff(owner, app, m); err != nil {
					t.Fatal(err)
				}
				_, role, err := e.svc.Accept(as(m), second, "")
				if err == nil {
					t.Errorf("the member taken off the team came back through the second open invitation, as %s", role)
				} else if got := apperr.As(err); got == nil || got.Name() != "invitation_not_found" {
					t.Errorf("accepting the second invitation: %v, want invitation_not_found", err)
				}
				if role, err := e.svc.ViewerRole(as(m), app.ID); err == nil {
					t.Errorf("after the owner took the place away, the person is on the team again as %s", role)
				}
				if n := db.AppInvitation.Query().Where(appinvitation.ApplicationID(app.ID), appinvitation.Email(m.Email),
					appinvitation.AcceptedAtIsNil(), appinvitation.RevokedAtIsNil()).CountX(ctx); n != 0 {
					t.Errorf("%d invitations to the person taken off the team are still open", n)
				}
			})
		}
	})
}

// TestALowRoleCannotRaiseItselfOrTheTeam: a support member (the lowest role) can neither
// change roles (its own or another's), nor invite (any role), nor revoke, list invitations,
// remove a member, propose, cancel or take a transfer not proposed to it; each answer is
// forbidden (or no_transfer), and nothing changes. A developer off the team and an ex-member
// get not_found for all of it.
func TestALowRoleCannotRaiseItselfOrTheTeam(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newTeamEnv(t, db)
		owner, apps := e.developer(t, "Shop")
		app := apps[0]
		low, peer, gone := e.person(t), e.person(t), e.person(t)
		e.join(t, owner, app, low, team.Support)
		e.join(t, owner, app, peer, team.Developer)
		e.join(t, owner, app, gone, team.Admin)
		open, err := e.svc.Invite(owner, app.ID, "open@example.com", team.Developer)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.svc.Remove(owner, app.ID, gone.ID); err != nil {
			t.Fatal(err)
		}
		ownerID := e.uidOf(t, owner)
		stranger := e.person(t)
		ops := map[string]func(who context.Context) error{
			"raise its own role": func(who context.Context) error {
				_, err := e.svc.ChangeRole(who, app.ID, e.uidOf(t, who), team.Admin)
				return err
			},
			"change another's role": func(who context.Context) error {
				_, err := e.svc.ChangeRole(who, app.ID, peer.ID, team.Support)
				return err
			},
			"invite an admin": func(who context.Context) error {
				_, err := e.svc.Invite(who, app.ID, "second-mailbox@example.com", team.Admin)
				return err
			},
			"invite a support": func(who context.Context) error {
				_, err := e.svc.Invite(who, app.ID, "second-mailbox@example.com", team.Support)
				return err
			},
			"revoke an invitation": func(who context.Context) error { return e.svc.Revoke(who, app.ID, open.ID) },
			"list invitations": func(who context.Context) error {
				_, err := e.svc.Invitations(who, app.ID)
				return err
			},
			"remove a member": func(who context.Context) error { return e.svc.Remove(who, app.ID, peer.ID) },
			"remove the owner": func(who context.Context) error {
				return e.svc.Remove(who, app.ID, ownerID)
			},
			"propose a transfer to itself": func(who context.Context) error {
				_, err := e.svc.ProposeTransfer(who, app.ID, e.uidOf(t, who))
				return err
			},
		}
		for name, op := range ops {
			if err := op(as(low)); !apperr.Is(err, apperr.Forbidden) {
				t.Errorf("support asking to %s: %v, want forbidden", name, err)
			}
			for who, ctx := range map[string]context.Context{"an ex-member": as(gone), "a developer off the team": as(stranger)} {
				if err := op(ctx); !apperr.Is(err, apperr.NotFound) {
					t.Errorf("%s asking to %s: %v, want not_found", who, name, err)
				}
			}
		}
		_, err = e.svc.AcceptTransfer(as(low), app.ID)
		wantReason(t, "support taking a transfer nobody proposed", err, "no_transfer")
		if err := e.svc.CancelTransfer(as(low), app.ID); !apperr.Is(err, apperr.Forbidden) {
			t.Errorf("support cancelling a transfer: %v, want forbidden", err)
		}
		for _, who := range []*ent.User{gone, stranger} {
			if _, err := e.svc.Members(as(who), app.ID); !apperr.Is(err, apperr.NotFound) {
				t.Errorf("%s reading the members: %v, want not_found", who.Email, err)
			}
			if _, err := e.svc.PendingTransfer(as(who), app.ID); !apperr.Is(err, apperr.NotFound) {
				t.Errorf("%s reading the transfer: %v, want not_found", who.Email, err)
			}
			if err := e.svc.Leave(as(who), app.ID); !apperr.Is(err, apperr.NotFound) {
				t.Errorf("%s leaving: %v, want not_found", who.Email, err)
			}
		}
		ms, err := e.svc.Members(owner, app.ID)
		if err != nil {
			t.Fatal(err)
		}
		roles := map[string]team.Role{}
		for _, m := range ms {
			roles[m.UserID] = m.Role
		}
		if roles[low.ID] != team.Support || roles[peer.ID] != team.Developer || roles[ownerID] != team.Owner || len(ms) != 3 {
			t.Errorf("the team changed: %v", roles)
		}
		if n := db.AppInvitation.Query().Where(appinvitation.Email("second-mailbox@example.com")).CountX(ctx); n != 0 {
			t.Errorf("%d invitations written by refused callers", n)
		}
		if got := db.AppInvitation.GetX(ctx, open.ID); got.RevokedAt != nil {
			t.Error("a refused caller revoked the owner's invitation")
		}
	})
}

// TestAnInvitationIsSpentRevokedAndBoundToItsExactAddress: a link accepted, then followed
// again (also after leaving); an invitation revoked, by token and by id; an invitation to a
// plus-tag variant or a look-alike of the person's address; and an invitation sent in another
// case (stored lower-cased, accepted by the holder).
func TestAnInvitationIsSpentRevokedAndBoundToItsExactAddress(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newTeamEnv(t, db)
		e.svc.Limiter = nil // more than DefaultInvitesPerAddress invitations to one mailbox
		owner, apps := e.developer(t, "Shop")
		app := apps[0]
		m := e.person(t)

		// Revoked before it is used: neither the link nor the id joins.
		tok := e.invitationToken(t, owner, app, m, team.Admin)
		invs, err := e.svc.Invitations(owner, app.ID)
		if err != nil || len(invs) != 1 {
			t.Fatalf("invitations: %v, %v", invs, err)
		}
		if err := e.svc.Revoke(owner, app.ID, invs[0].ID); err != nil {
			t.Fatal(err)
		}
		_, _, err = e.svc.Accept(as(m), tok, "")
		wantReason(t, "accepting a revoked link", err, "invitation_not_found")
		_, _, err = e.svc.Accept(as(m), "", invs[0].ID)
		wantReason(t, "accepting a revoked invitation by id", err, "invitation_not_found")
		if err := e.svc.Revoke(owner, app.ID, invs[0].ID); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("revoking twice: %v, want not_found", err)
		}

		// Spent: once, then never again, also after leaving.
		tok = e.invitationToken(t, owner, app, m, team.Support)
		if _, _, err := e.svc.Accept(as(m), tok, ""); err != nil {
			t.Fatal(err)
		}
		_, _, err = e.svc.Accept(as(m), tok, "")
		wantReason(t, "the link followed twice", err, "invitation_not_found")
		if err := e.svc.Leave(as(m), app.ID); err != nil {
			t.Fatal(err)
		}
		_, _, err = e.svc.Accept(as(m), tok, "")
		wantReason(t, "the spent link followed after leaving", err, "invitation_not_found")

		// Exact address: a plus-tag variant, another case of the domain's host are not the person's.
		local, domain, _ := strings.Cut(m.Email, "@")
		for _, addr := range []string{local + "+team@" + domain, local + "@sub." + domain, local + "x@" + domain} {
			tok := e.invitationToken(t, owner, app, &ent.User{Email: addr}, team.Admin)
			_, _, err := e.svc.Accept(as(m), tok, "")
			wantReason(t, "the holder of "+m.Email+" following a link for "+addr, err, "invitation_other_address")
		}
		// Another case of the person's own address is theirs (addresses are stored lower-cased).
		tok = e.invitationToken(t, owner, app, &ent.User{Email: strings.ToUpper(m.Email)}, team.Developer)
		if _, role, err := e.svc.Accept(as(m), tok, ""); err != nil || role != team.Developer {
			t.Errorf("the holder following a link for %s: %q, %v", strings.ToUpper(m.Email), role, err)
		}
	})
}

// TestATransferGoesOnlyToAMemberAndEndsWithTheirPlace: the owner cannot propose the
// application to itself, to someone only invited, or to an ex-member; a proposal to a member
// ends when they are removed, and accepting it afterwards (even after joining again) answers
// no_transfer.
func TestATransferGoesOnlyToAMemberAndEndsWithTheirPlace(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newTeamEnv(t, db)
		owner, apps := e.developer(t, "Shop")
		app := apps[0]
		heir, invited := e.person(t), e.person(t)
		e.join(t, owner, app, heir, team.Support)
		if _, err := e.svc.Invite(owner, app.ID, invited.Email, team.Admin); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.ProposeTransfer(owner, app.ID, e.uidOf(t, owner)); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("proposing to oneself: %v, want invalid", err)
		}
		_, err := e.svc.ProposeTransfer(owner, app.ID, invited.ID)
		wantReason(t, "proposing to someone only invited", err, "member_not_found")
		if _, err := e.svc.ProposeTransfer(owner, app.ID, heir.ID); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.Remove(owner, app.ID, heir.ID); err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.AcceptTransfer(as(heir), app.ID)
		if !apperr.Is(err, apperr.NotFound) {
			t.Errorf("the removed member accepting the transfer: %v, want not_found", err)
		}
		e.join(t, owner, app, heir, team.Support)
		_, err = e.svc.AcceptTransfer(as(heir), app.ID)
		wantReason(t, "the member back on the team accepting the old proposal", err, "no_transfer")
		if a := db.Application.GetX(ctx, app.ID); a.OwnerID != e.uidOf(t, owner) || a.TransferTo != nil {
			t.Errorf("owner %s, transfer to %v", a.OwnerID, a.TransferTo)
		}
	})
}
