package server

import (
	"context"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"loginsign/ent"
	"loginsign/ent/activityevent"
	"loginsign/internal/activity"
	"loginsign/internal/auth"
	"loginsign/internal/connections"
	"loginsign/internal/portal"
)

// In Chromium: the person reads their activity on the dashboard, filters it and downloads
// their data (mailed); the developer reads the application's activity in the portal and
// finds the users export.
func TestActivityInBrowser(t *testing.T) {
	ls := startLiveServer(t, "sqlite://"+filepath.Join(t.TempDir(), "db.sqlite"))
	b := newChrome(t)
	defer b.report()
	ctx := context.Background()
	dev, err := ls.identity.CreateUser(ctx, "dev@example.com", "Dana Developer")
	if err != nil {
		t.Fatal(err)
	}
	ann, err := ls.identity.CreateUser(ctx, "ann@example.com", "Ann Example")
	if err != nil {
		t.Fatal(err)
	}
	created, err := ls.portal.CreateApplication(auth.WithSession(ctx, auth.Session{UserID: dev.ID, SignedInAt: time.Now()}),
		portal.ApplicationInput{Name: "Notes", RedirectURIs: []string{"https://notes.example.com/cb"}})
	if err != nil {
		t.Fatal(err)
	}
	appID := created.Application.ID
	err = ls.db.Tx(ctx, func(tx *ent.Tx) error {
		for _, ev := range []activity.Event{
			{Type: activity.SignIn, Actor: activity.ByPerson, UserID: ann.ID, ApplicationID: appID, Details: map[string]string{"method": "passkey"}, At: time.Now().Add(-time.Hour)},
			{Type: activity.AddressAdded, Actor: activity.ByPerson, UserID: ann.ID, Details: map[string]string{"address": "ann.alt@example.com"}},
			{Type: activity.ClientSecretRotated, Actor: activity.ByDeveloper, ApplicationID: appID},
		} {
			if err := activity.Record(ctx, tx, ev); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	person := b.tab("person")
	ls.signInByCookie(t, person, ann.ID)
	person.open(t, ls.URL+"/dashboard", "#activity li[data-event]")
	if got := person.text(t, "#activity"); !strings.Contains(got, "Signed in to Notes with a passkey") || !strings.Contains(got, "Added an address · ann.alt@example.com") {
		t.Fatalf("activity card = %q", got)
	}
	evalIn[bool](t, person, `(() => { const s = document.getElementById("activity-type"); s.value = "SIGN_IN"; return s.dispatchEvent(new Event("change")); })()`)
	person.waitFor(t, `document.querySelectorAll("#activity li[data-event]").length === 1`)
	person.shot(t, "dashboard-activity")
	person.do(t, chromedp.Click("#download-data"))
	// The result shows next to its button (LS.busy) or in the page's status box.
	person.waitFor(t, `[...document.querySelectorAll(".form-status, #status")].some(b => b.textContent.includes("Your data was downloaded"))`)
	if m := ls.Mail.Next(t, 10*time.Second); len(m.To) != 1 || m.To[0] != "ann@example.com" || !strings.Contains(m.Subject, "copy of your LoginSign data") {
		t.Fatalf("announcement = %v %q", m.To, m.Subject)
	}
	// Once the session has ended (from another device, say), the button sends the person to
	// sign in and back (to the button, /dashboard?download=1, which says they can download
	// now), as every other action of the page does (LS.download), and saves nothing.
	if err := ls.kv.Del(context.Background(), "sess:"+sessionHash(t, ls, ann.ID)).Err(); err != nil {
		t.Fatal(err)
	}
	person.allow("status of 401")
	person.do(t, chromedp.Click("#download-data"))
	person.waitFor(t, `location.pathname === "/login"`)
	if got := evalIn[string](t, person, `location.search`); got != "?return_to=%2Fdashboard%3Fdownload%3D1" {
		t.Errorf("an ended session's download sent to /login%s, want ?return_to=%%2Fdashboard%%3Fdownload%%3D1", got)
	}

	devTab := b.tab("developer")
	ls.signInByCookie(t, devTab, dev.ID)
	devTab.open(t, ls.URL+"/portal/apps/"+appID, "#app-activity tr[data-event]")
	if got := devTab.text(t, "#app-activity"); !strings.Contains(got, "client secret rotated") || strings.Contains(got, "ann.alt@example.com") {
		t.Fatalf("portal activity = %q", got)
	}
	devTab.shot(t, "portal-app-activity")
	devTab.open(t, ls.URL+"/portal/users?app="+appID, "#export-users")
}

// sessionHash is the id (hash) of userID's one session on ls.
func sessionHash(t *testing.T, ls *liveServer, userID string) string {
	t.Helper()
	hashes, err := ls.kv.SMembers(context.Background(), "usess:"+userID).Result()
	if err != nil || len(hashes) != 1 {
		t.Fatalf("sessions of %s: %v %v", userID, hashes, err)
	}
	return hashes[0]
}

// In Chromium: a dashboard whose sign-in is older than auth.RecentSignIn sends the person to
// sign in again when they change how they sign in (ls.js on reauthentication_required), and
// the login page says why; nothing was added.
func TestSignInAgainInBrowser(t *testing.T) {
	ls := startLiveServer(t, "sqlite://"+filepath.Join(t.TempDir(), "db.sqlite"))
	b := newChrome(t)
	defer b.report()
	ctx := context.Background()
	ann, err := ls.identity.CreateUser(ctx, "ann@example.com", "Ann Example")
	if err != nil {
		t.Fatal(err)
	}
	person := b.tab("person")
	ls.signInByCookie(t, person, ann.ID)
	if err := ls.kv.HSet(ctx, "sess:"+sessionHash(t, ls, ann.ID), "created", time.Now().Add(-auth.RecentSignIn-time.Minute).UnixMilli()).Err(); err != nil {
		t.Fatal(err)
	}

	person.open(t, ls.URL+"/dashboard", "#add-email")
	person.do(t, chromedp.SendKeys(`#add-email`, "ann.work@example.com"), chromedp.Click(`#add-email-form button`))
	person.waitFor(t, `location.pathname === "/login" && !!document.getElementById("sign-in-again")`)
	if got := evalIn[string](t, person, `location.search`); got != "?again=1&return_to=%2Fdashboard" {
		t.Errorf("sent to /login%s, want ?again=1&return_to=%%2Fdashboard", got)
	}
	person.shot(t, "sign-in-again")
	if n := ls.db.UserEmail.Query().CountX(ctx); n != 0 {
		t.Errorf("%d addresses were added", n)
	}
}

// In Chromium: the users export needs a recent sign-in (portal.Service.ExportUsers). From a
// portal whose sign-in is older than auth.RecentSignIn, the export button sends the developer
// to sign in again and back to the users page, as every other such action does (ls.js on
// reauthentication_required), and nothing is exported; signed in again, the same button
// exports, with no error shown.
func TestUsersExportSignInAgainInBrowser(t *testing.T) {
	ls := startLiveServer(t, "sqlite://"+filepath.Join(t.TempDir(), "db.sqlite"))
	b := newChrome(t)
	defer b.report()
	ctx := context.Background()
	dev, err := ls.identity.CreateUser(ctx, "dev@example.com", "Dana Developer")
	if err != nil {
		t.Fatal(err)
	}
	ann, err := ls.identity.CreateUser(ctx, "ann@example.com", "Ann Example")
	if err != nil {
		t.Fatal(err)
	}
	created, err := ls.portal.CreateApplication(auth.WithSession(ctx, auth.Session{UserID: dev.ID, SignedInAt: time.Now()}),
		portal.ApplicationInput{Name: "Notes", RedirectURIs: []string{"https://notes.example.com/cb"}})
	if err != nil {
		t.Fatal(err)
	}
	bob, err := ls.identity.CreateUser(ctx, "bob@example.com", "Bob Example")
	if err != nil {
		t.Fatal(err)
	}
	appID := created.Application.ID
	for _, u := range []*ent.User{ann, bob} {
		if err := ls.db.Tx(ctx, func(tx *ent.Tx) error {
			_, err := connections.Create(ctx, tx, u.ID, appID, ls.cfg.RelayDomain, time.Now())
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	exported := func() int {
		t.Helper()
		n, err := ls.db.ActivityEvent.Query().Where(activityevent.Type(string(activity.UsersExported)), activityevent.ApplicationID(appID)).Count(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	devTab := b.tab("developer")
	devTab.allow("status of 401") // the refused export, which the page answers by sending to sign in
	ls.signInByCookie(t, devTab, dev.ID)
	if err := ls.kv.HSet(ctx, "sess:"+sessionHash(t, ls, dev.ID), "created", time.Now().Add(-auth.RecentSignIn-time.Minute).UnixMilli()).Err(); err != nil {
		t.Fatal(err)
	}
	users := "/portal/users?app=" + appID
	devTab.open(t, ls.URL+users, "#export-users")
	devTab.waitFor(t, `document.querySelector("[data-user]")`)
	devTab.do(t, chromedp.Click("#export-users"))
	devTab.waitFor(t, `location.pathname === "/login" && !!document.getElementById("sign-in-again")`)
	if got, want := evalIn[string](t, devTab, `location.search`), "?again=1&return_to="+url.QueryEscape(users); got != want {
		t.Errorf("sent to /login%s, want %s", got, want)
	}
	if n := exported(); n != 0 {
		t.Errorf("%d users_exported events from a sign-in 16 minutes old, want none", n)
	}

	// Signed in again (a new session, as the login page would make), the button exports the
	// users the list's filters choose: the search for Ann's Global User ID leaves Bob out.
	ls.signInByCookie(t, devTab, dev.ID)
	devTab.open(t, ls.URL+users, "#export-users")
	devTab.waitFor(t, `document.querySelectorAll("[data-user]").length === 2`)
	devTab.do(t, chromedp.SendKeys("#user-search", ann.GlobalID), chromedp.Click(`#user-filters button[type="submit"]`))
	devTab.waitFor(t, `document.querySelectorAll("[data-user]").length === 1`)
	devTab.do(t, chromedp.Click("#export-users"))
	deadline := time.Now().Add(browserWait)
	for exported() == 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if n := exported(); n != 1 {
		t.Fatalf("%d users_exported events after signing in again, want 1", n)
	}
	ev := ls.db.ActivityEvent.Query().Where(activityevent.Type(string(activity.UsersExported)), activityevent.ApplicationID(appID)).OnlyX(ctx)
	if got := ev.Details["count"]; got != "1" {
		t.Errorf("the export of the list searched for Ann's Global User ID held %s users, want 1", got)
	}
	devTab.waitFor(t, `!document.getElementById("export-users").disabled`)
	if got := evalIn[string](t, devTab, `location.pathname + " " + [...document.querySelectorAll(".form-status .alert.error, #status .alert.error")].map(e => e.textContent).join("; ")`); got != "/portal/users " {
		t.Errorf("after exporting signed in again: %q, want the users page and no error", got)
	}
}
