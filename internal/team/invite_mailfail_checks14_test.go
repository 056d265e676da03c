package team_test

import (
	"context"
	"testing"

	"loginsign/ent"
	"loginsign/ent/activityevent"
	"loginsign/internal/activity"
	"loginsign/internal/apperr"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
	"loginsign/internal/team"
)

// TestTheTeamLogRecordsTheRevocationOfAnUnsentInvitation: when the invitation mail fails,
// Invite revokes the invitation it wrote, but its member_invited event stayed alone in the
// team's activity log, which then read as an invitation sent and still open while the team's
// list showed none. The log is appended to, never taken back, and records every revocation:
// invitation_revoked by the system with outcome mail_failed follows the member_invited.
func TestTheTeamLogRecordsTheRevocationOfAnUnsentInvitation(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newTeamEnv(t, db)
		owner, apps := e.developer(t, "Shop")
		app := apps[0]
		failing := *e.svc
		failing.Mail = failingMail{}
		if _, err := failing.Invite(owner, app.ID, e.person(t).Email, team.Admin); !apperr.Is(err, apperr.Internal) {
			t.Fatalf("inviting with the mail server down: %v, want internal", err)
		}
		// Both events have the same time, and ids are random: sorted by type.
		events := db.ActivityEvent.Query().Where(activityevent.ApplicationID(app.ID)).
			Order(ent.Desc(activityevent.FieldType)).AllX(ctx)
		var types []string
		for _, ev := range events {
			types = append(types, ev.Type)
		}
		if len(events) != 2 || events[0].Type != string(activity.MemberInvited) || events[1].Type != string(activity.InvitationRevoked) {
			t.Fatalf("the team's log after the invitation mail failed: %v, want member_invited and invitation_revoked", types)
		}
		if rev := events[1]; rev.Actor != activity.BySystem || rev.Details["outcome"] != "mail_failed" {
			t.Errorf("the revocation event: actor %s, details %v; want system, outcome mail_failed", rev.Actor, rev.Details)
		}
	})
}
