package server

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"loginsign/ent/activityevent"
	"loginsign/internal/activity"
	"loginsign/internal/auth"
)

// TestAStolenOldSessionCannotDownloadThePersonsData17: GET /api/account/export hands over
// every address, connection, session (its browser) and the whole activity log. With a session
// cookie whose sign-in is 16 minutes old (copied by malware, left on a shared computer, in a
// leaked HAR file) it answers 401 reauthentication_required, the documented error shape of the
// other routes that need a recent sign-in, however often it is asked: nothing exported,
// recorded or mailed, none of the day's three exports spent. The dashboard then says nothing
// of a download (/dashboard?download=1 shows no #download-ready to an old session).
//
// The page flow the dashboard's button takes (dashboard.js, LS.download): /login?again=1 with
// return_to=/dashboard?download=1 says why; signing in again (a link to the person's own
// mailbox) lands on /dashboard?download=1, which says the data can be downloaded now and shows
// the button; the export then answers the document, is recorded and mailed.
func TestAStolenOldSessionCannotDownloadThePersonsData17(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		ctx := context.Background()
		stolen := e.browser()
		stolen.signInTo("pat@example.com")
		pat := e.userByEmail("pat@example.com")
		exported := func() int {
			t.Helper()
			return e.srv.db.ActivityEvent.Query().Where(activityevent.Type(string(activity.DataExported)), activityevent.UserID(pat.ID)).CountX(ctx)
		}
		mails := e.smtp.Count()

		e.ageSessions(pat.ID, auth.RecentSignIn+time.Minute)
		const want = `{"error":"reauthentication_required","message":"for your safety, sign in again to do this: your last sign-in was more than 15 minutes ago"}`
		for i := range 4 { // past the day's three, were they counted
			status, body := stolen.raw("GET", "/api/account/export", nil)
			if status != 401 || strings.TrimSpace(body) != want {
				t.Fatalf("export %d with a sign-in 16 minutes old = %d %s, want 401 %s", i+1, status, body, want)
			}
		}
		if n := exported(); n != 0 {
			t.Errorf("%d data_exported events after refused exports, want none", n)
		}
		if n := e.smtp.Count(); n != mails {
			t.Errorf("%d mails after refused exports, want none", n-mails)
		}
		if p := stolen.get(e.base + "/dashboard?download=1"); p.StatusCode != 200 || strings.Contains(p.Body, `id="download-ready"`) ||
			!strings.Contains(p.Body, `id="download-data"`) {
			t.Errorf("the dashboard of an old session with download=1: %d, says the download is ready or has no button:\n%s", p.StatusCode, p.Body)
		}

		// The button's way: sign in again, and back to it.
		login := stolen.get(e.base + "/login?again=1&return_to=" + url.QueryEscape("/dashboard?download=1"))
		if !strings.Contains(login.Body, `id="sign-in-again"`) {
			t.Fatalf("the login page does not say why: %s", login.Body)
		}
		back := stolen.signIn(login, "pat@example.com")
		if back.StatusCode != 200 || back.Request.URL.Path != "/dashboard" || back.Request.URL.RawQuery != "download=1" {
			t.Fatalf("signed in again, the person is at %d %s, want /dashboard?download=1", back.StatusCode, back.Request.URL)
		}
		if !strings.Contains(back.Body, `id="download-ready"`) || !strings.Contains(back.Body, "you can download your data now") ||
			!strings.Contains(back.Body, `id="download-data"`) {
			t.Errorf("the dashboard after signing in again does not offer the download:\n%s", back.Body)
		}
		mails = e.smtp.Count()
		resp, err := stolen.Get(e.base + "/api/account/export")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") {
			t.Fatalf("export after signing in again = %d %v", resp.StatusCode, resp.Header)
		}
		if n := exported(); n != 1 {
			t.Errorf("%d data_exported events, want 1", n)
		}
		if m := e.smtp.Next(t, 10*time.Second); !strings.Contains(m.Text, "copy of everything LoginSign holds") {
			// the sign-in-again mail came first
			if m = e.smtp.Next(t, 10*time.Second); !strings.Contains(m.Text, "copy of everything LoginSign holds") {
				t.Errorf("no announcement mail after the export (%d mails before it)", mails)
			}
		}
		// All three exports of the day were left: the refusals spent none.
		for i := range 2 {
			if status, body := stolen.raw("GET", "/api/account/export", nil); status != 200 {
				t.Errorf("export %d after signing in again = %d %s", i+2, status, body)
			}
		}
	})
}
