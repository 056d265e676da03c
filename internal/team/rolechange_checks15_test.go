package team_test

import (
	"context"
	"testing"

	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
	"loginsign/internal/team"
)

// TestGivingAMemberTheRoleTheyHoldKeepsTheOwnersTransfer (review helper team15, checks15): only
// the owner cancels an ownership transfer (CancelTransfer answers an admin forbidden). Giving
// the member it was proposed to the role they already hold is no change of the member, yet it
// ended the transfer: an admin cancelled the owner's transfer while the team stayed as it was.
// Now the transfer stays and the proposed member can still accept; a real change of role still
// ends it (TestARoleChangeEndsTheTransferProposedToTheMember).
func TestGivingAMemberTheRoleTheyHoldKeepsTheOwnersTransfer(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newTeamEnv(t, db)
		owner, apps := e.developer(t, "Shop")
		app := apps[0]
		admin, member := e.person(t), e.person(t)
		e.join(t, owner, app, admin, team.Admin)
		e.join(t, owner, app, member, team.Developer)
		if _, err := e.svc.ProposeTransfer(owner, app.ID, member.ID); err != nil {
			t.Fatal(err)
		}
		wantReason(t, "the admin cancelling the owner's transfer", e.svc.CancelTransfer(as(admin), app.ID), "forbidden")
		m, err := e.svc.ChangeRole(as(admin), app.ID, member.ID, team.Developer)
		if err != nil {
			t.Fatalf("giving the member the role they hold: %v", err)
		}
		if m.Role != team.Developer || m.UserID != member.ID {
			t.Errorf("answered %+v, want the member as a developer", m)
		}
		if got := db.Application.GetX(ctx, app.ID); got.TransferTo == nil || *got.TransferTo != member.ID {
			t.Fatalf("the owner's transfer to the member ended when an admin gave them the role they hold")
		}
		if _, err := e.svc.AcceptTransfer(as(member), app.ID); err != nil {
			t.Fatalf("the member accepting the transfer: %v", err)
		}
	})
}
