package server

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"loginsign/ent/appconnection"
	"loginsign/internal/i18n"
	"loginsign/internal/mfa"
	"loginsign/internal/ratelimit"
)

// TestThePauseNoticesSayTheWindowTheOperatorSet: the notices that the second step was paused
// say for how long from the window of the rule that paused it, read when each is written:
// the browsers new to the account from mfa.Service.NewBrowserFailures, one browser from
// KnownBrowserFailures. Before, both said "for the next day" whatever the rules.
func TestThePauseNoticesSayTheWindowTheOperatorSet(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		e.srv.mfa.NewBrowserFailures.Window = 2 * 24 * time.Hour
		e.srv.mfa.KnownBrowserFailures.Window = 6 * time.Hour
		const who = "paused-times@example.com"
		e.browser().signInTo(who)
		u := e.userByEmail(who)
		if u == nil {
			t.Fatalf("no account for %s", who)
		}
		for event, want := range map[mfa.Event]string{
			mfa.SecondStepPaused:   "For up to 2 days your account signs in only in browsers you used before",
			mfa.KnownBrowserPaused: "For up to 6 hours that browser cannot sign in",
		} {
			e.srv.mfa.Notify(context.Background(), u.ID, event, "")
			headline := i18n.English.T("mail.notice." + string(event) + ".headline")
			var text string
			for deadline := time.Now().Add(10 * time.Second); text == "" && time.Now().Before(deadline); {
				time.Sleep(20 * time.Millisecond)
				for _, m := range e.noticesTo(who, headline) {
					text = strings.Join(strings.Fields(m.Text), " ")
				}
			}
			if !strings.Contains(text, want) {
				t.Errorf("the notice of %s does not say %q:\n%s", event, want, text)
			}
		}
	})
}

// TestTheLastAppNoticeSaysTheWindowOfItsBudget: the last security notice of an application the
// budget lets through says for how long no other follows, from the window of the budget it
// spent (appNotices.rule, team.DefaultNotices' hour by default). Before, it said "for the next
// hour" whatever the budget.
func TestTheLastAppNoticeSaysTheWindowOfItsBudget(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		e.srv.appNotices.rule = ratelimit.Rule{N: 1, Window: 2 * time.Hour}
		const olga = "olga-budget@example.com"
		ob := e.browser()
		ob.signInTo(olga)
		a := ob.createApp("Acme Notes")
		if st, out := ob.api(http.MethodPatch, "/api/developer/applications/"+a.ID,
			map[string]any{"allowedOrigins": []string{"http://127.0.0.1:3000"}}); st != 200 {
			t.Fatalf("change: %d %v", st, out)
		}
		var text string
		for deadline := time.Now().Add(10 * time.Second); text == "" && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
			for _, m := range e.appNoticesTo(olga, "app_redirects") {
				text = strings.Join(strings.Fields(m.Text), " ")
			}
		}
		const want = "This is the last security notice about this application for up to 2 hours:"
		if !strings.Contains(text, want) {
			t.Errorf("the last notice of a two-hour budget does not say %q:\n%s", want, text)
		}
	})
}

// TestTheConfirmPageSaysHowLongTheMailedCodeWorks: the confirm page of an address change,
// once it mailed the person a code, says how long the code works from mfa.ChangeCodeTTL, the
// time the code is kept. Before, the catalogs said "10 minutes" themselves.
func TestTheConfirmPageSaysHowLongTheMailedCodeWorks(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		ctx := context.Background()
		person := e.browser()
		e.connect(person, e.app, "pat@example.com")
		conn, _ := e.srv.db.AppConnection.Query().Where(appconnection.ApplicationID(e.app.ID)).Only(ctx)
		dev := e.browser()
		dev.signInTo("dev@example.com")
		if status, body := dev.raw(http.MethodPatch, "/api/developer/applications/"+e.app.ID+"/users/"+conn.ID+"/email",
			map[string]any{"email": "dev.own@example.com"}); status != 200 {
			t.Fatalf("proposal: %d %s", status, body)
		}
		u, _ := url.Parse(e.mailLink("dev.own@example.com", "/account/email-change/confirm"))
		p := person.post(e.base+"/account/email-change/code", url.Values{"token": {u.Query().Get("token")}})
		want := i18n.English.T("linkpage.code_sent", "pat@example.com", i18n.English.Period(mfa.ChangeCodeTTL))
		if p.StatusCode != http.StatusOK || !strings.Contains(p.Body, html.EscapeString(want)) {
			t.Errorf("the confirm page after the code was mailed: %d, want it to say %q:\n%.2000s", p.StatusCode, want, p.Body)
		}
	})
}
