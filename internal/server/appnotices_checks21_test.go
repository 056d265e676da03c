package server

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"loginsign/internal/auth"
	"loginsign/internal/i18n"
	"loginsign/internal/mail/mailtest"
	"loginsign/internal/oauth"
	"loginsign/internal/ratelimit"
)

// appNoticeSubject is the subject of the application notice event in lang.
func appNoticeSubject(lang, event string) string {
	l := i18n.Choose(lang, "", "")
	return l.T("mail.notice.subject", l.T("mail.app_notice."+event+".headline"))
}

// appNoticesTo are the application notices of event, in English, to to.
func (e *oauthEnv) appNoticesTo(to, event string) []mailtest.Envelope {
	return e.mailsWithSubject(to, appNoticeSubject("en", event))
}

// checkAppNotice checks an application notice: its language, the application's portal page
// linked in both parts, the application, the actor and what it is about named (masked), and
// the full addresses and secrets not.
func (e *oauthEnv) checkAppNotice(m mailtest.Envelope, lang, appID, appName string, named, notNamed []string) {
	e.t.Helper()
	if !strings.Contains(string(m.Header()), "Content-Language: "+lang) {
		e.t.Errorf("notice %q is not in %s:\n%s", m.Subject, lang, m.Header())
	}
	link := e.base + "/portal/apps/" + appID
	if !strings.Contains(m.Text, link) || !strings.Contains(m.HTML, link) {
		e.t.Errorf("notice %q does not link %s:\n%s", m.Subject, link, m.Text)
	}
	for _, s := range append([]string{appName}, named...) {
		if !strings.Contains(m.Text, s) || !strings.Contains(m.HTML, s) {
			e.t.Errorf("notice %q does not name %q:\n%s", m.Subject, s, m.Text)
		}
	}
	for _, s := range notNamed {
		if strings.Contains(strings.ToLower(m.Subject+m.Text+m.HTML), strings.ToLower(s)) {
			e.t.Errorf("notice %q holds %q:\n%s", m.Subject, s, m.Text)
		}
	}
}

// waitNotices waits for n mails to to whose subject is subject and returns them, in order.
func (e *oauthEnv) waitNotices(to, subject string, n int) []mailtest.Envelope {
	e.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if got := e.mailsWithSubject(to, subject); len(got) >= n {
			return got
		}
	}
	e.t.Fatalf("fewer than %d mails %q to %s; mails: %v", n, subject, to, e.subjects())
	return nil
}

// countAppNotices is how many application notices went to each of tos.
func (e *oauthEnv) countAppNotices(tos ...string) map[string]int {
	out := map[string]int{}
	for _, m := range e.smtp.Messages() {
		if !isSecurityNotice(m.Subject) || !strings.Contains(m.Text, "/portal/apps/") || len(m.To) != 1 {
			continue
		}
		out[strings.ToLower(strings.Trim(m.To[0], "<>"))]++
	}
	for _, to := range tos {
		out[to] += 0
	}
	return out
}

// waitAppNoticeCounts waits (10 s at most) until count, of the addresses of want, reaches
// want's count for each, and returns the counts then. Each notice is mailed in a goroutine of
// its own, so one of an earlier change that the test did not wait for may still be on its way
// when the last one it waited for has arrived.
func (e *oauthEnv) waitAppNoticeCounts(count func(tos ...string) map[string]int, want map[string]int) map[string]int {
	var tos []string
	for to := range want {
		tos = append(tos, to)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		got, short := count(tos...), false
		for to, n := range want {
			short = short || got[to] < n
		}
		if !short || time.Now().After(deadline) {
			return got
		}
	}
}

// inviteAndAccept invites member to app as role (by inviter) and accepts the mailed link in
// member's browser.
func (e *oauthEnv) inviteAndAccept(inviter, member *browser, appID, email, role string) {
	e.t.Helper()
	if st, out := inviter.api(http.MethodPost, "/api/developer/applications/"+appID+"/members/invitations",
		map[string]any{"email": email, "role": role}); st != 201 {
		e.t.Fatalf("inviting %s: %d %v", email, st, out)
	}
	link := e.mailLink(email, "/portal/invitation")
	u, _ := url.Parse(link)
	if st, out := member.api(http.MethodPost, "/api/developer/invitations/accept", map[string]any{"token": u.Query().Get("token")}); st != 200 {
		e.t.Fatalf("accepting as %s: %d %v", email, st, out)
	}
}

// TestApplicationSecurityNotices: the owner and the admins of an application are mailed, over
// real SMTP and on every backend, when a member joins, a setting that needs a recent sign-in
// changes, its client or webhook secret is replaced, a role changes and the ownership moves,
// through REST and GraphQL alike: each naming the application, what changed (the member and
// role; the settings by name, never their values; never a secret), who did it (the address the
// team sees, masked), linking the application's portal page, in each recipient's language
// (the owner's setting, French). The actor is told as the others are; a developer or support
// member is not told.
func TestApplicationSecurityNotices(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		const olga, adam, dina = "olga@example.com", "adam@example.com", "dina@example.com"
		ob, ab, db := e.browser(), e.browser(), e.browser()
		ob.signInTo(olga)
		ab.signInTo(adam)
		db.signInTo(dina)
		if _, errs := ob.graphql(`mutation { setLanguage(input: {language: "fr"}) { language } }`, nil); errs != nil {
			t.Fatal(errs)
		}
		app := ob.createApp("Acme Notes")
		mOlga, mAdam, mDina := oauth.MaskEmail(olga), oauth.MaskEmail(adam), oauth.MaskEmail(dina)
		full := []string{olga, adam, dina}

		// A member joins: the owner (in French) and the admins, the one who joined included.
		e.inviteAndAccept(ob, ab, app.ID, adam, "admin")
		joined := e.waitNotice(olga, appNoticeSubject("fr", "app_member_joined"))
		e.checkAppNotice(joined, "fr", app.ID, "Acme Notes", []string{mAdam, "administrateur"}, full)
		e.checkAppNotice(e.waitNotice(adam, appNoticeSubject("en", "app_member_joined")), "en", app.ID, "Acme Notes", []string{mAdam, "admin"}, full)
		e.inviteAndAccept(ob, db, app.ID, dina, "developer")
		dj := e.waitNotices(adam, appNoticeSubject("en", "app_member_joined"), 2)
		e.checkAppNotice(dj[1], "en", app.ID, "Acme Notes", []string{mDina, "developer"}, full)

		// The developer changes the redirect URIs and the allowed origins (REST): named, not
		// their values; told to the owner and the admin, not to the developer.
		if st, out := db.api(http.MethodPatch, "/api/developer/applications/"+app.ID, map[string]any{
			"redirectUris": []string{rpLoopback, "http://127.0.0.1/evil/cb"}, "allowedOrigins": []string{"http://127.0.0.1:7777"}}); st != 200 {
			t.Fatalf("changing redirect URIs: %d %v", st, out)
		}
		redirects := e.waitNotice(adam, appNoticeSubject("en", "app_redirects"))
		e.checkAppNotice(redirects, "en", app.ID, "Acme Notes", []string{mDina, "redirect URIs, allowed origins"},
			append([]string{"/evil/cb", "127.0.0.1:7777"}, full...))
		e.checkAppNotice(e.waitNotice(olga, appNoticeSubject("fr", "app_redirects")), "fr", app.ID, "Acme Notes",
			[]string{mDina, "URI de redirection, origines autorisées"}, full)

		// The admin replaces the client secret (REST) and, once the webhook is set, its
		// signing secret (GraphQL): both told, the actor included; neither secret in a mail.
		st, out := ab.api(http.MethodPost, "/api/developer/applications/"+app.ID+"/secret/rotate", nil)
		if st != 200 {
			t.Fatalf("rotating the client secret: %d %v", st, out)
		}
		secret := out["clientSecret"].(string)
		e.checkAppNotice(e.waitNotice(adam, appNoticeSubject("en", "app_client_secret")), "en", app.ID, "Acme Notes", []string{mAdam},
			append([]string{secret, app.Secret}, full...))
		e.checkAppNotice(e.waitNotice(olga, appNoticeSubject("fr", "app_client_secret")), "fr", app.ID, "Acme Notes", []string{mAdam}, []string{secret})
		st, out = ab.api(http.MethodPatch, "/api/developer/applications/"+app.ID, map[string]any{"webhookUrl": "http://127.0.0.1:9/hook"})
		if st != 200 {
			t.Fatalf("setting the webhook: %d %v", st, out)
		}
		first, _ := out["webhookSecret"].(string)
		e.checkAppNotice(e.waitNotices(olga, appNoticeSubject("fr", "app_redirects"), 2)[1], "fr", app.ID, "Acme Notes", []string{"URL de webhook"}, []string{"127.0.0.1:9/hook"})
		reset := ab.gql(`mutation($app: ID!) { resetWebhookSecret(input: {applicationId: $app}) { webhookSecret } }`, map[string]any{"app": app.ID})
		whsec := reset["resetWebhookSecret"].(map[string]any)["webhookSecret"].(string)
		e.checkAppNotice(e.waitNotice(olga, appNoticeSubject("fr", "app_webhook_secret")), "fr", app.ID, "Acme Notes", []string{mAdam},
			[]string{whsec, first, strings.TrimPrefix(whsec, "whsec_")})
		e.waitNotice(adam, appNoticeSubject("en", "app_webhook_secret"))

		// The owner makes the developer support (GraphQL): the member and the new role named.
		dinaID := e.userByEmail(dina).ID
		ob.gql(`mutation($app: ID!, $u: ID!) { changeMemberRole(input: {applicationId: $app, userId: $u, role: SUPPORT}) { member { role } } }`,
			map[string]any{"app": app.ID, "u": dinaID})
		e.checkAppNotice(e.waitNotice(adam, appNoticeSubject("en", "app_member_role")), "en", app.ID, "Acme Notes", []string{mDina, "support", mOlga}, full)
		e.waitNotice(olga, appNoticeSubject("fr", "app_member_role"))

		// The ownership moves to the admin: the new owner and the old one (an admin now) told.
		if st, out := ob.api(http.MethodPost, "/api/developer/applications/"+app.ID+"/transfer", map[string]any{"userId": e.userByEmail(adam).ID}); st != 200 && st != 201 {
			t.Fatalf("proposing the transfer: %d %v", st, out)
		}
		if st, out := ab.api(http.MethodPost, "/api/developer/applications/"+app.ID+"/transfer/accept", nil); st != 200 {
			t.Fatalf("accepting the transfer: %d %v", st, out)
		}
		e.checkAppNotice(e.waitNotice(olga, appNoticeSubject("fr", "app_owner")), "fr", app.ID, "Acme Notes", []string{mAdam}, full)
		e.checkAppNotice(e.waitNotice(adam, appNoticeSubject("en", "app_owner")), "en", app.ID, "Acme Notes", []string{mAdam}, full)

		// Nine changes (the transfer's proposal is told too), each told once to
		// the owner and the admin; none to the developer.
		got := e.waitAppNoticeCounts(e.countAppNotices, map[string]int{olga: 9, adam: 9, dina: 0})
		if got[olga] != 9 || got[adam] != 9 || got[dina] != 0 {
			t.Errorf("application notices %v, want 9 to %s and %s, none to %s: %v", got, olga, adam, dina, e.subjects())
		}
	})
}

// TestRefusedOrUnchangedApplicationChangesSendNoNotice: a change refused (a sign-in too old, a
// role that may not make it, someone not on the team) or that changes nothing (the settings
// saved as they are, only the name changed, a member given the role they hold) mails no notice;
// the change that then goes through mails one to each recipient, so the counts after it are
// its notices, not the refusals'.
func TestRefusedOrUnchangedApplicationChangesSendNoNotice(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		const olga, dina, mal = "olga@example.com", "dina@example.com", "mallory@evil.example"
		ob, db, mb := e.browser(), e.browser(), e.browser()
		ob.signInTo(olga)
		db.signInTo(dina)
		mb.signInTo(mal)
		app := ob.createApp("Acme Notes")
		e.inviteAndAccept(ob, db, app.ID, dina, "developer")
		e.waitNotice(olga, appNoticeSubject("en", "app_member_joined"))
		base := "/api/developer/applications/" + app.ID

		// Someone not on the team, and a developer, may not rotate; the developer may not
		// raise themselves.
		for _, c := range []struct {
			b          *browser
			path, want string
		}{{mb, base + "/secret/rotate", "not_found"}, {db, base + "/secret/rotate", "forbidden"}, {db, base + "/webhook/secret/rotate", "forbidden"}} {
			if st, out := c.b.api(http.MethodPost, c.path, nil); st < 400 || out["error"] != c.want {
				t.Errorf("%s: %d %v, want %s", c.path, st, out, c.want)
			}
		}
		if st, out := mb.api(http.MethodPatch, base, map[string]any{"redirectUris": []string{"http://127.0.0.1/evil/cb"}}); st != 404 {
			t.Errorf("an outsider's change: %d %v", st, out)
		}
		if st, out := db.api(http.MethodPatch, base+"/members/"+e.userByEmail(dina).ID, map[string]any{"role": "admin"}); st != 403 {
			t.Errorf("a developer raising themselves: %d %v", st, out)
		}
		// Unchanged: the settings saved as they are, a name, the role the member holds.
		if st, out := db.api(http.MethodPatch, base, map[string]any{"redirectUris": []string{rpLoopback}, "allowedOrigins": []string{}, "name": "Acme Notes 2"}); st != 200 {
			t.Fatalf("saving unchanged redirects: %d %v", st, out)
		}
		if st, out := ob.api(http.MethodPatch, base+"/members/"+e.userByEmail(dina).ID, map[string]any{"role": "developer"}); st != 200 {
			t.Fatalf("the role the member holds: %d %v", st, out)
		}
		// A sign-in too old: refused, reauthentication_required.
		e.ageSessions(e.userByEmail(olga).ID, auth.RecentSignIn+time.Minute)
		for _, c := range []struct {
			method, path string
			body         any
		}{{http.MethodPost, base + "/secret/rotate", nil}, {http.MethodPatch, base, map[string]any{"redirectUris": []string{"http://127.0.0.1/evil/cb"}}},
			{http.MethodPatch, base + "/members/" + e.userByEmail(dina).ID, map[string]any{"role": "admin"}}} {
			if st, out := ob.api(c.method, c.path, c.body); st != 401 || out["error"] != "reauthentication_required" {
				t.Errorf("%s %s with an old sign-in: %d %v", c.method, c.path, st, out)
			}
		}
		// The change that goes through: the developer's new redirect URI.
		if st, out := db.api(http.MethodPatch, base, map[string]any{"redirectUris": []string{rpLoopback, "http://127.0.0.1/new/cb"}}); st != 200 {
			t.Fatalf("changing redirect URIs: %d %v", st, out)
		}
		e.waitNotice(olga, appNoticeSubject("en", "app_redirects"))
		if got := e.countAppNotices(olga, dina, mal); got[olga] != 2 || got[dina] != 0 || got[mal] != 0 || len(got) != 3 {
			t.Errorf("application notices %v, want the join and the redirects to %s only: %v", got, olga, e.subjects())
		}
		for _, event := range []string{"app_client_secret", "app_webhook_secret", "app_member_role"} {
			if n := len(e.appNoticesTo(olga, event)); n != 0 {
				t.Errorf("%d notices %s after refusals", n, event)
			}
		}
		if m := e.appNoticesTo(olga, "app_redirects"); len(m) == 1 && !strings.Contains(m[0].Text, "were changed: redirect URIs.") {
			t.Errorf("the notice names other settings than the redirect URIs:\n%s", m[0].Text)
		}
	})
}

// TestApplicationNoticesAreLimitedPerApplication: a team member changing settings in a loop
// mails the owner at most the application's budget of notices an hour (here 3), the last one
// saying later changes are only in the activity log; another application of the same owner
// still has its own.
func TestApplicationNoticesAreLimitedPerApplication(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		e.srv.appNotices.rule = ratelimit.Rule{N: 3}
		const olga = "olga@example.com"
		ob := e.browser()
		ob.signInTo(olga)
		a, b := ob.createApp("Acme Notes"), ob.createApp("Acme Tasks")
		for i := range 6 {
			if st, out := ob.api(http.MethodPatch, "/api/developer/applications/"+a.ID,
				map[string]any{"allowedOrigins": []string{"http://127.0.0.1:" + string(rune('1'+i)) + "000"}}); st != 200 {
				t.Fatalf("change %d: %d %v", i, st, out)
			}
		}
		subject := appNoticeSubject("en", "app_redirects")
		for deadline := time.Now().Add(10 * time.Second); len(e.mailsWithSubject(olga, subject)) < 3 && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
		if st, out := ob.api(http.MethodPatch, "/api/developer/applications/"+b.ID, map[string]any{"allowedOrigins": []string{"http://127.0.0.1:9000"}}); st != 200 {
			t.Fatalf("the other application: %d %v", st, out)
		}
		for deadline := time.Now().Add(10 * time.Second); len(e.mailsWithSubject(olga, subject)) < 4 && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
		var ofA, ofB, last int
		for _, m := range e.mailsWithSubject(olga, subject) {
			switch {
			case strings.Contains(m.Text, "/portal/apps/"+a.ID):
				ofA++
				if strings.Contains(m.Text, i18n.English.T("mail.app_notice.last", i18n.English.Period(time.Hour))) {
					last++
				}
			case strings.Contains(m.Text, "/portal/apps/"+b.ID):
				ofB++
			}
		}
		if ofA != 3 || last != 1 || ofB != 1 {
			t.Errorf("%d notices of the first application (%d saying it is the last), %d of the other; want 3 (1), 1", ofA, last, ofB)
		}
	})
}
