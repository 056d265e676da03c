package team_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/internal/apperr"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
	"loginsign/internal/team"
)

// The checks of review helper teamrev (checks10): a developer, or an admin on someone else's
// team, who sends invitations to guessed addresses must not learn from the team's own lists
// which of them belong to a person on the team; a person taken off a team does not come back
// through an invitation that had done its work; a transfer ends with the place it was proposed
// to.

// withAlternative gives u a verified alternative address (a second mailbox the team was never
// told about) and returns it.
func (e *teamEnv) withAlternative(t *testing.T, u *ent.User) string {
	t.Helper()
	addr := fmt.Sprintf("second-%d@example.net", e.n.Add(1))
	e.db.UserEmail.Create().SetUserID(u.ID).SetEmail(addr).SetVerifiedAt(time.Now()).SaveX(context.Background())
	return addr
}

// pendingTo lists the addresses of appID's pending invitations, as the inviter sees them.
func (e *teamEnv) pendingTo(t *testing.T, as context.Context, appID string) []string {
	t.Helper()
	invs, err := e.svc.Invitations(as, appID)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, i := range invs {
		out = append(out, i.Email)
	}
	return out
}

// TestJoiningDoesNotTellTheTeamWhichOtherInvitedAddressesAreThePersons: a developer invites a
// person's known address and, "for luck", other addresses they guess the person has (and a
// stranger's, to compare). The person joins through the known one. The invitation to the
// person's second address must stay listed exactly as the stranger's does: before, joining
// revoked the invitations to all of the person's addresses (revokeInvitationsTo over the
// account's verified alternatives), so the team saw which guess was theirs, which is an address
// linked to an account the person never showed the team. Once the person is taken off the
// team, that invitation, sent before they joined, has done its work and does not bring them
// back.
func TestJoiningDoesNotTellTheTeamWhichOtherInvitedAddressesAreThePersons(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newTeamEnv(t, db)
		owner, apps := e.developer(t, "Shop")
		app := apps[0]
		p := e.person(t)
		second := e.withAlternative(t, p)
		stranger := fmt.Sprintf("stranger-%d@example.net", e.n.Add(1))

		token := e.invitationToken(t, owner, app, p, team.Developer)
		secondToken := e.invitationToken(t, owner, app, &ent.User{Email: second}, team.Admin)
		if _, err := e.svc.Invite(owner, app.ID, stranger, team.Admin); err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.svc.Accept(as(p), token, ""); err != nil {
			t.Fatal(err)
		}
		got := e.pendingTo(t, owner, app.ID)
		if slices.Contains(got, stranger) != slices.Contains(got, second) {
			t.Errorf("after the person joined, the team's pending invitations are %v: the guess that is the person's second address (%s) is told apart from a stranger's (%s)", got, second, stranger)
		}

		if err := e.svc.Remove(owner, app.ID, p.ID); err != nil {
			t.Fatal(err)
		}
		_, role, err := e.svc.Accept(as(p), secondToken, "")
		if err == nil {
			t.Fatalf("the person taken off the team came back as %s through an invitation sent before they joined", role)
		}
		wantReason(t, "accepting, after the removal, an invitation sent before the person joined", err, "invitation_not_found")
		if role, err := e.svc.ViewerRole(as(p), app.ID); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("the removed person is on the team again (%q, %v)", role, err)
		}
	})
}

// TestTakingAPlaceAwayDoesNotTellTheTeamTheMembersOtherAddresses: an admin (on a team that is
// not theirs) wants to know whether an address is a member's. They invite it, with a
// stranger's for comparison, then change the member's role to the one it already has (or the
// member is removed, or leaves). Before, each of these revoked the pending invitations to every
// address of the member's account (revokeInvitationsTo), so the guess vanished from the list
// and the stranger's did not. Only the invitation to the address the member joined with, which
// the team knows, goes.
func TestTakingAPlaceAwayDoesNotTellTheTeamTheMembersOtherAddresses(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newTeamEnv(t, db)
		cases := []struct {
			name    string
			takeOff func(admin context.Context, app *ent.Application, m *ent.User) error
		}{
			{"the same role given again", func(admin context.Context, app *ent.Application, m *ent.User) error {
				_, err := e.svc.ChangeRole(admin, app.ID, m.ID, team.Developer)
				return err
			}},
			{"removed", func(admin context.Context, app *ent.Application, m *ent.User) error {
				return e.svc.Remove(admin, app.ID, m.ID)
			}},
			{"left", func(_ context.Context, app *ent.Application, m *ent.User) error {
				return e.svc.Leave(as(m), app.ID)
			}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				owner, apps := e.developer(t, "Shop")
				app := apps[0]
				admin := e.person(t)
				e.join(t, owner, app, admin, team.Admin)
				m := e.person(t)
				e.join(t, owner, app, m, team.Developer)
				second := e.withAlternative(t, m)
				stranger := fmt.Sprintf("stranger-%d@example.net", e.n.Add(1))
				for _, addr := range []string{second, stranger, m.Email} {
					if _, err := e.svc.Invite(as(admin), app.ID, addr, team.Admin); err != nil {
						t.Fatal(err)
					}
				}
				if err := c.takeOff(as(admin), app, m); err != nil {
					t.Fatal(err)
				}
				got := e.pendingTo(t, as(admin), app.ID)
				if slices.Contains(got, stranger) != slices.Contains(got, second) {
					t.Errorf("pending invitations %v: the member's second address (%s) is told apart from a stranger's (%s)", got, second, stranger)
				}
				if slices.Contains(got, m.Email) {
					t.Errorf("pending invitations %v: the invitation to the address the member joined with (%s) is still open", got, m.Email)
				}
			})
		}
	})
}

// TestATransferEndsWithThePlaceItWasProposedTo: a transfer proposed to a member who is then
// removed (or leaves) is not taken by them once invited back; only a new proposal is. The old
// owner, taken off the team by the new one, cannot take the application back.
func TestATransferEndsWithThePlaceItWasProposedTo(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newTeamEnv(t, db)
		owner, apps := e.developer(t, "Shop")
		app := apps[0]
		oldOwner := db.Application.GetX(context.Background(), app.ID).OwnerID
		m := e.person(t)
		e.join(t, owner, app, m, team.Admin)
		if _, err := e.svc.ProposeTransfer(owner, app.ID, m.ID); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.Leave(as(m), app.ID); err != nil {
			t.Fatal(err)
		}
		e.join(t, owner, app, m, team.Admin)
		_, err := e.svc.AcceptTransfer(as(m), app.ID)
		wantReason(t, "accepting, back on the team, a transfer proposed before leaving", err, "no_transfer")

		if _, err := e.svc.ProposeTransfer(owner, app.ID, m.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.AcceptTransfer(as(m), app.ID); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.Remove(as(m), app.ID, oldOwner); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.ProposeTransfer(owner, app.ID, oldOwner); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("the removed old owner proposing a transfer: %v, want not_found", err)
		}
		if _, err := e.svc.AcceptTransfer(owner, app.ID); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("the removed old owner accepting a transfer: %v, want not_found", err)
		}
		if got := db.Application.GetX(context.Background(), app.ID).OwnerID; got != m.ID {
			t.Errorf("owner %s, want the member %s", got, m.ID)
		}
	})
}

// TestAnAddressSpelledWithItsASCIIDomainSharesItsInvitationBudget: "victim@bücher.example"
// and "victim@xn--bcher-kva.example" are one mailbox (the second is how DNS and mail servers
// write the first's domain), so once an application sent it DefaultInvitesPerAddress
// invitations the other spelling is refused, and once free developer accounts mailed it
// DefaultInvitationMailsPerAddress invitations the other spelling gets no mail either: before,
// each spelling of an internationalised domain had a budget of its own, and a mail-bomber
// doubled it.
func TestAnAddressSpelledWithItsASCIIDomainSharesItsInvitationBudget(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newTeamEnv(t, db)
		dev, apps := e.developer(t, "Insistent")
		for i := range team.DefaultInvitesPerAddress.N {
			if _, err := e.svc.Invite(dev, apps[0].ID, "victim@bücher.example", team.Support); err != nil {
				t.Fatalf("invitation %d: %v", i+1, err)
			}
		}
		_, err := e.svc.Invite(dev, apps[0].ID, "victim@xn--bcher-kva.example", team.Support)
		wantRateLimited(t, err, "the same mailbox with its domain in ASCII, from the same application")

		for i := range team.DefaultInvitationMailsPerAddress.N - team.DefaultInvitesPerAddress.N {
			dev, apps := e.developer(t, fmt.Sprintf("App %d", i))
			if _, err := e.svc.Invite(dev, apps[0].ID, "victim@bücher.example", team.Support); err != nil {
				t.Fatalf("invitation %d: %v", i+1, err)
			}
		}
		dev, apps = e.developer(t, "Attacker")
		if _, err := e.svc.Invite(dev, apps[0].ID, "victim@xn--bcher-kva.example", team.Support); err != nil {
			t.Fatalf("an invitation past the mails of the mailbox: %v, want it answered as any other", err)
		}
		if got := e.mailsTo("victim@bücher.example"); got != team.DefaultInvitationMailsPerAddress.N {
			t.Fatalf("the mailbox got %d mails, want %d: %v", got, team.DefaultInvitationMailsPerAddress.N, e.mail.sent())
		}
	})
}

// TestThePersonIsNotOfferedAnInvitationThatHasDoneItsWork: the invitation to a member's second
// address, sent before they joined, stays on the team's list (the team must not learn it is
// theirs) but is not offered to the person, on the team or after leaving it, since Accept
// refuses it. An invitation sent after they left is offered, and works.
func TestThePersonIsNotOfferedAnInvitationThatHasDoneItsWork(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newTeamEnv(t, db)
		owner, apps := e.developer(t, "Shop")
		app := apps[0]
		p := e.person(t)
		second := e.withAlternative(t, p)
		if _, err := e.svc.Invite(owner, app.ID, second, team.Admin); err != nil {
			t.Fatal(err)
		}
		e.join(t, owner, app, p, team.Support)
		offered := func() []team.Invitation {
			invs, err := e.svc.ViewerInvitations(as(p))
			if err != nil {
				t.Fatal(err)
			}
			return invs
		}
		if invs := offered(); len(invs) != 0 {
			t.Errorf("on the team, the person is offered %+v", invs)
		}
		if err := e.svc.Leave(as(p), app.ID); err != nil {
			t.Fatal(err)
		}
		if invs := offered(); len(invs) != 0 {
			t.Errorf("after leaving, the person is offered %+v, which Accept refuses", invs)
		}
		again, err := e.svc.Invite(owner, app.ID, second, team.Developer)
		if err != nil {
			t.Fatal(err)
		}
		if invs := offered(); len(invs) != 1 || invs[0].ID != again.ID {
			t.Fatalf("after a new invitation the person is offered %+v, want it alone", invs)
		}
		if _, role, err := e.svc.Accept(as(p), "", again.ID); err != nil || role != team.Developer {
			t.Fatalf("accepting the new invitation: %q, %v", role, err)
		}
	})
}
