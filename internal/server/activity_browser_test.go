package server

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"loginsign/ent"
	"loginsign/internal/activity"
	"loginsign/internal/auth"
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
	created, err := ls.portal.CreateApplication(auth.WithSession(ctx, auth.Session{UserID: dev.ID}),
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

	devTab := b.tab("developer")
	ls.signInByCookie(t, devTab, dev.ID)
	devTab.open(t, ls.URL+"/portal/apps/"+appID, "#app-activity tr[data-event]")
	if got := devTab.text(t, "#app-activity"); !strings.Contains(got, "client secret rotated") || strings.Contains(got, "ann.alt@example.com") {
		t.Fatalf("portal activity = %q", got)
	}
	devTab.shot(t, "portal-app-activity")
	devTab.open(t, ls.URL+"/portal/users?app="+appID, "#export-users")
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
	hashes, err := ls.kv.SMembers(ctx, "usess:"+ann.ID).Result()
	if err != nil || len(hashes) != 1 {
		t.Fatalf("sessions: %v %v", hashes, err)
	}
	if err := ls.kv.HSet(ctx, "sess:"+hashes[0], "created", time.Now().Add(-auth.RecentSignIn-time.Minute).UnixMilli()).Err(); err != nil {
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
