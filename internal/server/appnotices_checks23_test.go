package server

import (
	"net/http"
	"strings"
	"testing"

	"loginsign/internal/oauth"
)

// TestAMemberWhoseProposedOwnershipIsProposedToAnotherIsTold: the owner proposing the ownership
// to a second member, while it is pending to a first, withdraws the first proposal: the first
// member, a developer who gets no notice as an admin, is told it is withdrawn (as a cancellation
// tells them: the application, themselves and the owner named, masked; "concerns you"), or
// they would believe it open until it expired. The owner is told of the new proposal, not of a
// cancellation besides.
func TestAMemberWhoseProposedOwnershipIsProposedToAnotherIsTold(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		const olga, dina, dave = "olga@example.com", "dina@example.com", "dave@example.com"
		ob, db, vb := e.browser(), e.browser(), e.browser()
		ob.signInTo(olga)
		db.signInTo(dina)
		vb.signInTo(dave)
		app := ob.createApp("Acme Notes")
		base := "/api/developer/applications/" + app.ID
		e.inviteAndAccept(ob, db, app.ID, dina, "developer")
		e.inviteAndAccept(ob, vb, app.ID, dave, "developer")
		full := []string{olga, dina, dave}

		if st, out := ob.api(http.MethodPost, base+"/transfer", map[string]any{"userId": e.userByEmail(dina).ID}); st != 200 && st != 201 {
			t.Fatalf("proposing to dina: %d %v", st, out)
		}
		e.waitNotice(dina, appNoticeSubject("en", "app_transfer_proposed"))
		if st, out := ob.api(http.MethodPost, base+"/transfer", map[string]any{"userId": e.userByEmail(dave).ID}); st != 200 && st != 201 {
			t.Fatalf("proposing to dave: %d %v", st, out)
		}
		e.waitNotice(dave, appNoticeSubject("en", "app_transfer_proposed"))
		e.waitNotices(olga, appNoticeSubject("en", "app_transfer_proposed"), 2)
		m := e.waitNotice(dina, appNoticeSubject("en", "app_transfer_cancelled"))
		e.checkAppNotice(m, "en", app.ID, "Acme Notes", []string{oauth.MaskEmail(dina), oauth.MaskEmail(olga)}, full)
		e.says(m, "is no longer proposed to "+oauth.MaskEmail(dina), "this change of the team of Acme Notes concerns you")
		e.noneOf([]string{olga, dave}, "app_transfer_cancelled")
	})
}

// TestAJoinNoticeNamesWhoInvitedTheMember: the notice of a member joining names, besides the
// member (who accepted, and is its actor), the member who invited them, masked: an accomplice
// invited from an admin's stolen session shows the owner whose session it was.
func TestAJoinNoticeNamesWhoInvitedTheMember(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		const olga, adam, mal = "olga@example.com", "adam@example.com", "mallory@example.net"
		ob, ab, mb := e.browser(), e.browser(), e.browser()
		ob.signInTo(olga)
		ab.signInTo(adam)
		mb.signInTo(mal)
		app := ob.createApp("Acme Notes")
		e.inviteAndAccept(ob, ab, app.ID, adam, "admin")
		e.inviteAndAccept(ab, mb, app.ID, mal, "developer")
		joins := e.waitNotices(olga, appNoticeSubject("en", "app_member_joined"), 2)
		full := []string{olga, adam, mal}
		for _, m := range joins {
			inviter := oauth.MaskEmail(olga)
			if strings.Contains(m.Text, oauth.MaskEmail(mal)+" joined") {
				inviter = oauth.MaskEmail(adam)
			}
			e.checkAppNotice(m, "en", app.ID, "Acme Notes", []string{inviter}, full)
			e.says(m, "Invited by "+inviter+".")
		}
		if !strings.Contains(joins[0].Text+joins[1].Text, oauth.MaskEmail(mal)+" joined") {
			t.Errorf("no notice of mallory joining:\n%s\n%s", joins[0].Text, joins[1].Text)
		}
	})
}
