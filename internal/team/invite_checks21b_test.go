package team_test

import (
	"fmt"
	"testing"

	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
	"loginsign/internal/team"
)

// TestOneAccountsApplicationsShareItsInvitationsToAnAddress: a free account inviting one
// mailbox from each of its applications sends it DefaultInvitesPerAddress invitations a day in
// all, not that many per application, so it alone cannot spend the mailbox's day of invitation
// mails (DefaultInvitationMailsPerAddress) and leave a real team's invitation unmailed. The
// team's invitation afterwards is mailed.
func TestOneAccountsApplicationsShareItsInvitationsToAnAddress(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newTeamEnv(t, db)
		const victim = "hire@example.org"
		names := make([]string, team.DefaultInvitationMailsPerAddress.N)
		for i := range names {
			names[i] = fmt.Sprintf("Griefer app %d", i)
		}
		griefer, apps := e.developer(t, names...)
		sent := 0
		for _, app := range apps {
			for range team.DefaultInvitesPerAddress.N {
				if _, err := e.svc.Invite(griefer, app.ID, victim, team.Support); err == nil {
					sent++
				} else {
					wantRateLimited(t, err, "an invitation past the account's own for the address")
				}
			}
		}
		if sent != team.DefaultInvitesPerAddress.N || e.mailsTo(victim) != sent {
			t.Fatalf("one account's %d applications sent %d invitations, %d mailed; want %d",
				len(apps), sent, e.mailsTo(victim), team.DefaultInvitesPerAddress.N)
		}
		owner, teamApps := e.developer(t, "The real team")
		if _, err := e.svc.Invite(owner, teamApps[0].ID, victim, team.Developer); err != nil {
			t.Fatal(err)
		}
		if got := e.mailsTo(victim); got != sent+1 {
			t.Fatalf("the team's invitation was not mailed: %d mails", got)
		}
	})
}
