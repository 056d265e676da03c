package server

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"loginsign/internal/auth"
	"loginsign/internal/mail/mailtest"
	"loginsign/internal/oauth"
	"loginsign/internal/ratelimit"
)

// checkNoticeLink checks that notice m links link in both parts, and no other page of the
// portal's applications than it.
func (e *oauthEnv) checkNoticeLink(m mailtest.Envelope, link string) {
	e.t.Helper()
	if text := strings.ReplaceAll(m.Text, "\r\n", "\n"); !strings.Contains(text, link+"\n") || !strings.Contains(m.HTML, `href="`+link+`"`) {
		e.t.Errorf("notice %q does not link %s:\n%s", m.Subject, link, m.Text)
	}
}

// says checks that the text part of m says each of sentences.
func (e *oauthEnv) says(m mailtest.Envelope, sentences ...string) {
	e.t.Helper()
	for _, s := range sentences {
		if !strings.Contains(m.Text, s) {
			e.t.Errorf("notice %q to %v does not say %q:\n%s", m.Subject, m.To, s, m.Text)
		}
	}
}

// appNoticeEvents are every security notice of an application.
var appNoticeEvents = []string{"app_client_secret", "app_webhook_secret", "app_redirects", "app_owner", "app_member_joined",
	"app_member_role", "app_member_removed", "app_member_left", "app_transfer_proposed", "app_transfer_cancelled", "app_deleting"}

// countEveryAppNotice is how many application notices, of any event, in English, went to each
// of tos (countAppNotices counts those linking an application's page only).
func (e *oauthEnv) countEveryAppNotice(tos ...string) map[string]int {
	out := map[string]int{}
	for _, to := range tos {
		for _, ev := range appNoticeEvents {
			out[to] += len(e.appNoticesTo(to, ev))
		}
	}
	return out
}

// noneOf fails when any of tos received an application notice of one of events.
func (e *oauthEnv) noneOf(tos []string, events ...string) {
	e.t.Helper()
	for _, to := range tos {
		for _, ev := range events {
			if got := e.appNoticesTo(to, ev); len(got) != 0 {
				e.t.Errorf("%d notices %s to %s", len(got), ev, to)
			}
		}
	}
}

// TestApplicationTeamAndDeletionNotices: over real SMTP, on every backend, through REST and
// GraphQL, the owner and the admins are told when the ownership is proposed and declined, a
// member is removed or leaves, and the deletion of the application begins; the member a change
// concerns is told at their own address with the advice for them: the member proposed the
// ownership (they have 7 days), the admin demoted (who is no longer among those told), the
// member removed (who by, masked; linked to the portal's list, as they no longer open the
// application). The deletion's notice is written from what was read before it: the
// application's name, its owner and admins, the owner's address, though the application and
// its team are gone when it is mailed; it links the list of applications. No mail holds a
// full address; a developer not concerned is not told.
func TestApplicationTeamAndDeletionNotices(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		const olga, adam, dina, rita = "olga@example.com", "adam@example.com", "dina@example.com", "rita@example.com"
		ob, ab, db, rb := e.browser(), e.browser(), e.browser(), e.browser()
		ob.signInTo(olga)
		ab.signInTo(adam)
		db.signInTo(dina)
		rb.signInTo(rita)
		if _, errs := ob.graphql(`mutation { setLanguage(input: {language: "fr"}) { language } }`, nil); errs != nil {
			t.Fatal(errs)
		}
		app := ob.createApp("Acme Notes")
		e.inviteAndAccept(ob, ab, app.ID, adam, "admin")
		e.inviteAndAccept(ob, db, app.ID, dina, "developer")
		e.inviteAndAccept(ob, rb, app.ID, rita, "admin")
		e.waitNotices(adam, appNoticeSubject("en", "app_member_joined"), 3)
		mOlga, mAdam, mDina, mRita := oauth.MaskEmail(olga), oauth.MaskEmail(adam), oauth.MaskEmail(dina), oauth.MaskEmail(rita)
		full := []string{olga, adam, dina, rita}
		base := "/api/developer/applications/" + app.ID
		appLink := e.base + "/portal/apps/" + app.ID
		dinaID, ritaID := e.userByEmail(dina).ID, e.userByEmail(rita).ID

		// The owner proposes the ownership to the developer (REST): the owner and the admins
		// told; the developer too, as the member concerned, with what they may do.
		if st, out := ob.api(http.MethodPost, base+"/transfer", map[string]any{"userId": dinaID}); st != 200 && st != 201 {
			t.Fatalf("proposing the transfer: %d %v", st, out)
		}
		e.checkAppNotice(e.waitNotice(olga, appNoticeSubject("fr", "app_transfer_proposed")), "fr", app.ID, "Acme Notes", []string{mDina, mOlga}, full)
		m := e.waitNotice(adam, appNoticeSubject("en", "app_transfer_proposed"))
		e.checkAppNotice(m, "en", app.ID, "Acme Notes", []string{mDina, mOlga}, full)
		e.says(m, "You receive this as the owner or an admin of Acme Notes.")
		m = e.waitNotice(dina, appNoticeSubject("en", "app_transfer_proposed"))
		e.checkAppNotice(m, "en", app.ID, "Acme Notes", []string{mDina, mOlga}, append([]string{"as the owner or an admin"}, full...))
		e.says(m, "You have 7 days to accept or decline it", "this change of the team of Acme Notes concerns you")

		// The developer declines it (GraphQL): told to the owner, the admins and them.
		db.gql(`mutation($app: ID!) { cancelOwnershipTransfer(input: {applicationId: $app}) { applicationId } }`, map[string]any{"app": app.ID})
		e.checkAppNotice(e.waitNotice(rita, appNoticeSubject("en", "app_transfer_cancelled")), "en", app.ID, "Acme Notes", []string{mDina}, full)
		e.waitNotice(olga, appNoticeSubject("fr", "app_transfer_cancelled"))
		e.waitNotice(dina, appNoticeSubject("en", "app_transfer_cancelled"))

		// The owner demotes an admin (REST): the demoted admin is told too, though no
		// longer an admin.
		if st, out := ob.api(http.MethodPatch, base+"/members/"+ritaID, map[string]any{"role": "developer"}); st != 200 {
			t.Fatalf("demoting: %d %v", st, out)
		}
		m = e.waitNotice(rita, appNoticeSubject("en", "app_member_role"))
		e.checkAppNotice(m, "en", app.ID, "Acme Notes", []string{mRita, mOlga}, full)
		e.says(m, "is now developer", "ask the application's owner", "concerns you")
		e.waitNotice(adam, appNoticeSubject("en", "app_member_role"))

		// The admin removes her (GraphQL): the owner and the admin told, naming her; she is
		// told who removed her, linked to the list she still opens. The developer is not told.
		ab.gql(`mutation($app: ID!, $u: ID!) { removeMember(input: {applicationId: $app, userId: $u}) { removedUserId } }`,
			map[string]any{"app": app.ID, "u": ritaID})
		e.checkAppNotice(e.waitNotice(olga, appNoticeSubject("fr", "app_member_removed")), "fr", app.ID, "Acme Notes", []string{mRita, mAdam}, full)
		e.checkAppNotice(e.waitNotice(adam, appNoticeSubject("en", "app_member_removed")), "en", app.ID, "Acme Notes", []string{mRita, mAdam}, full)
		removed := e.waitNotice(rita, appNoticeSubject("en", "app_member_removed"))
		for _, s := range []string{mRita + " was removed from the team of Acme Notes.", "By " + mAdam + ", on", "You no longer have access", "concerns you"} {
			if !strings.Contains(removed.Text, s) {
				t.Errorf("the removed member's notice lacks %q:\n%s", s, removed.Text)
			}
		}
		e.checkNoticeLink(removed, e.base+"/portal/apps")
		if strings.Contains(removed.Text, appLink) || strings.Contains(removed.Text, adam) || strings.Contains(removed.Text, rita) {
			t.Errorf("the removed member's notice:\n%s", removed.Text)
		}

		// The developer leaves (REST): told to the owner and the admin, naming them.
		if st, out := db.api(http.MethodPost, base+"/members/leave", nil); st != 200 && st != 204 {
			t.Fatalf("leaving: %d %v", st, out)
		}
		left := e.waitNotice(adam, appNoticeSubject("en", "app_member_left"))
		e.checkAppNotice(left, "en", app.ID, "Acme Notes", []string{mDina}, full)
		e.says(left, mDina+" left the team of Acme Notes.", "By "+mDina+",")
		e.waitNotice(olga, appNoticeSubject("fr", "app_member_left"))
		e.noneOf([]string{dina}, "app_member_removed", "app_member_left")

		// The owner deletes the application (REST): once it is gone, the owner (in French)
		// and the admin are told, from what was read before.
		if st, out := ob.api(http.MethodDelete, base, nil); st != 200 && st != 204 {
			t.Fatalf("deleting: %d %v", st, out)
		}
		if st, _ := ob.api(http.MethodGet, base, nil); st != 404 {
			t.Fatalf("the deleted application: %d", st)
		}
		for _, c := range []struct{ to, lang, gone string }{{olga, "fr", "irréversible"}, {adam, "en", "This cannot be undone."}} {
			m := e.waitNotice(c.to, appNoticeSubject(c.lang, "app_deleting"))
			for _, s := range []string{"Acme Notes", mOlga, c.gone} {
				if !strings.Contains(m.Text, s) || !strings.Contains(m.HTML, s) {
					t.Errorf("the deletion notice to %s lacks %q:\n%s", c.to, s, m.Text)
				}
			}
			e.checkNoticeLink(m, e.base+"/portal/apps")
			if strings.Contains(m.Text, appLink) || strings.Contains(m.Text, olga) {
				t.Errorf("the deletion notice to %s:\n%s", c.to, m.Text)
			}
		}
		e.noneOf([]string{dina, rita}, "app_deleting")
	})
}

// TestSpentNoticesStillTellTheDeletionTheOwnerAndTheMemberConcerned: once the application's
// notices of the hour are spent (here by its first join), a thief cannot go on unnoticed where
// it matters most: the member removed is still told (a budget of their own), the ownership
// moving (a budget of its own) and the deletion (none: once per application) still reach the
// owner and the admins, while a change of redirects, the removal and the proposal are not
// mailed to the team.
func TestSpentNoticesStillTellTheDeletionTheOwnerAndTheMemberConcerned(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		e.srv.appNotices.rule = ratelimit.Rule{N: 1}
		const olga, adam, dina = "olga@example.com", "adam@example.com", "dina@example.com"
		ob, ab, db := e.browser(), e.browser(), e.browser()
		ob.signInTo(olga)
		ab.signInTo(adam)
		db.signInTo(dina)
		app := ob.createApp("Acme Notes")
		base := "/api/developer/applications/" + app.ID
		e.inviteAndAccept(ob, ab, app.ID, adam, "admin")
		e.waitNotice(olga, appNoticeSubject("en", "app_member_joined")) // the budget, spent
		e.inviteAndAccept(ob, db, app.ID, dina, "developer")
		if st, out := ab.api(http.MethodPatch, base, map[string]any{"redirectUris": []string{rpLoopback, "http://127.0.0.1/evil/cb"}}); st != 200 {
			t.Fatalf("changing redirect URIs: %d %v", st, out)
		}
		if st, out := ab.api(http.MethodDelete, base+"/members/"+e.userByEmail(dina).ID, nil); st != 200 && st != 204 {
			t.Fatalf("removing: %d %v", st, out)
		}
		e.waitNotice(dina, appNoticeSubject("en", "app_member_removed"))
		if st, out := ob.api(http.MethodPost, base+"/transfer", map[string]any{"userId": e.userByEmail(adam).ID}); st != 200 && st != 201 {
			t.Fatalf("proposing: %d %v", st, out)
		}
		proposed := e.waitNotice(adam, appNoticeSubject("en", "app_transfer_proposed")) // concerned
		if !strings.Contains(proposed.Text, "You have 7 days") {
			t.Errorf("the proposal to the member:\n%s", proposed.Text)
		}
		if st, out := ab.api(http.MethodPost, base+"/transfer/accept", nil); st != 200 {
			t.Fatalf("accepting: %d %v", st, out)
		}
		e.waitNotice(olga, appNoticeSubject("en", "app_owner"))
		e.waitNotice(adam, appNoticeSubject("en", "app_owner"))
		if st, out := ab.api(http.MethodDelete, base, nil); st != 200 && st != 204 {
			t.Fatalf("deleting: %d %v", st, out)
		}
		del := e.waitNotice(olga, appNoticeSubject("en", "app_deleting"))
		if !strings.Contains(del.Text, "By "+oauth.MaskEmail(adam)+",") {
			t.Errorf("the deletion notice does not name the new owner:\n%s", del.Text)
		}
		e.waitNotice(adam, appNoticeSubject("en", "app_deleting"))
		e.noneOf([]string{olga, adam}, "app_redirects", "app_member_removed")
		e.noneOf([]string{olga}, "app_transfer_proposed")
		if got := e.waitAppNoticeCounts(e.countEveryAppNotice, map[string]int{olga: 3, adam: 4, dina: 1}); got[olga] != 3 || got[adam] != 4 || got[dina] != 1 {
			t.Errorf("application notices %v, want olga: joined, owner, deleting; adam: joined, proposed, owner, deleting; dina: removed", got)
		}
	})
}

// TestRefusedTeamChangesAndDeletionsSendNoNotice: a removal, a departure, a proposal, a
// cancellation or a deletion refused (someone not on the team, a role that may not, a sign-in
// too old, the owner removed or leaving, no transfer pending) mails nothing; the departure that
// then goes through mails its notice, so the mail pipeline was running all along.
func TestRefusedTeamChangesAndDeletionsSendNoNotice(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		const olga, adam, dina, mal = "olga@example.com", "adam@example.com", "dina@example.com", "mallory@evil.example"
		ob, ab, db, mb := e.browser(), e.browser(), e.browser(), e.browser()
		ob.signInTo(olga)
		ab.signInTo(adam)
		db.signInTo(dina)
		mb.signInTo(mal)
		app := ob.createApp("Acme Notes")
		base := "/api/developer/applications/" + app.ID
		e.inviteAndAccept(ob, ab, app.ID, adam, "admin")
		e.inviteAndAccept(ob, db, app.ID, dina, "developer")
		olgaID, adamID, dinaID := e.userByEmail(olga).ID, e.userByEmail(adam).ID, e.userByEmail(dina).ID
		for _, c := range []struct {
			b            *browser
			method, path string
			body         any
			status       int
		}{
			{mb, http.MethodDelete, base + "/members/" + dinaID, nil, 404},
			{mb, http.MethodPost, base + "/members/leave", nil, 404},
			{mb, http.MethodDelete, base, nil, 404},
			{db, http.MethodDelete, base + "/members/" + adamID, nil, 403},
			{db, http.MethodPost, base + "/transfer", map[string]any{"userId": dinaID}, 403},
			{db, http.MethodDelete, base + "/transfer", nil, 403},
			{ab, http.MethodDelete, base, nil, 403},
			{ab, http.MethodDelete, base + "/members/" + olgaID, nil, 409},
			{ob, http.MethodPost, base + "/members/leave", nil, 409},
			{ob, http.MethodDelete, base + "/transfer", nil, 404},
		} {
			if st, out := c.b.api(c.method, c.path, c.body); st != c.status {
				t.Errorf("%s %s: %d %v, want %d", c.method, c.path, st, out, c.status)
			}
		}
		e.ageSessions(olgaID, auth.RecentSignIn+time.Minute)
		for _, c := range []struct {
			method, path string
			body         any
		}{{http.MethodDelete, base + "/members/" + dinaID, nil}, {http.MethodPost, base + "/transfer", map[string]any{"userId": dinaID}},
			{http.MethodDelete, base, nil}} {
			if st, out := ob.api(c.method, c.path, c.body); st != 401 || out["error"] != "reauthentication_required" {
				t.Errorf("%s %s with an old sign-in: %d %v", c.method, c.path, st, out)
			}
		}
		if st, out := db.api(http.MethodPost, base+"/members/leave", nil); st != 200 && st != 204 {
			t.Fatalf("leaving: %d %v", st, out)
		}
		e.waitNotice(olga, appNoticeSubject("en", "app_member_left"))
		e.waitNotice(adam, appNoticeSubject("en", "app_member_left"))
		e.noneOf([]string{olga, adam, dina, mal}, "app_member_removed", "app_transfer_proposed", "app_transfer_cancelled", "app_deleting", "app_owner")
		if got := e.waitAppNoticeCounts(e.countEveryAppNotice, map[string]int{olga: 3, adam: 3, dina: 0, mal: 0}); got[olga] != 3 || got[adam] != 3 ||
			got[dina] != 0 || got[mal] != 0 {
			t.Errorf("application notices %v, want the two joins and the departure to %s and %s only", got, olga, adam)
		}
	})
}
