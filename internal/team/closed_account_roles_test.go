package team_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"loginsign/internal/account"
	"loginsign/internal/apperr"
	"loginsign/internal/identity"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
	"loginsign/internal/team"
)

// TestClosingAnAccountRevokesItsInvitations: an admin who invited someone and then closes
// their LoginSign account leaves no open invitation behind, as removal, leaving and demotion
// do not: the invitation is revoked, the invitee no longer sees it among their invitations,
// and it stops holding a seat, so a team that was full has room for two again (the admin's
// and the invitation's). Accepting it stays refused.
func TestClosingAnAccountRevokesItsInvitations(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newTeamEnv(t, db)
		e.svc.Limiter = nil // filling a team takes more invitations than an hour's budget
		accounts := &account.Service{DB: db, Identity: identity.New(db, kvtest.Embedded(t), nil, identity.SessionConfig{}), Now: time.Now}
		owner, apps := e.developer(t, "Shop")
		app := apps[0]
		admin, invitee := e.person(t), e.person(t)
		e.join(t, owner, app, admin, team.Admin)
		sent, err := e.svc.Invite(as(admin), app.ID, invitee.Email, team.Developer)
		if err != nil {
			t.Fatal(err)
		}
		// The admin and their invitation hold two seats; the owner's invitations fill the rest.
		for i := range team.MaxTeam - 2 {
			if _, err := e.svc.Invite(owner, app.ID, fmt.Sprintf("seat-%d@example.net", i), team.Support); err != nil {
				t.Fatalf("invitation %d: %v", i+1, err)
			}
		}
		if _, err := e.svc.Invite(owner, app.ID, "one-too-many@example.net", team.Support); apperr.As(err).Name() != "team_full" {
			t.Fatalf("inviting into a full team: %v, want team_full", err)
		}

		if _, err := accounts.DeleteAccount(as(admin), admin.GlobalID, ""); err != nil {
			t.Fatalf("closing the admin's account: %v", err)
		}

		inv, err := db.AppInvitation.Get(ctx, sent.ID)
		if err != nil {
			t.Fatal(err)
		}
		if inv.RevokedAt == nil {
			t.Errorf("the closed account's invitation is still open")
		}
		listed, err := e.svc.ViewerInvitations(as(invitee))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range listed {
			if l.ID == sent.ID {
				t.Errorf("the invitee still sees the closed account's invitation")
			}
		}
		for _, addr := range []string{"first-seat@example.net", "second-seat@example.net"} {
			if _, err := e.svc.Invite(owner, app.ID, addr, team.Support); err != nil {
				t.Fatalf("inviting %s after the admin closed their account: %v", addr, err)
			}
		}
		_, _, err = e.svc.Accept(as(invitee), "", sent.ID)
		if got := apperr.As(err); err == nil || got.Name() != "invitation_not_found" {
			t.Fatalf("accepting the closed account's invitation: %v, want invitation_not_found", err)
		}
	})
}
