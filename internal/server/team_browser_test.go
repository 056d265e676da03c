package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"loginsign/internal/auth"
	"loginsign/internal/portal"
	"loginsign/internal/store/storetest"
)

// TestTeamInBrowser: the owner invites a colleague as support from the Members card; the
// colleague opens the mailed link signed in to their own account and accepts; their view of
// the application offers only what support may do (no secret buttons, no deletion, no invite
// form, settings read-only), and the owner's Members card lists them. Another account opening
// the same kind of link is refused on the page. On every backend.
func TestTeamInBrowser(t *testing.T) {
	for name, dbURL := range storetest.URLs(t) {
		t.Run(name, func(t *testing.T) { teamStory(t, dbURL) })
	}
}

func teamStory(t *testing.T, dbURL string) {
	ls := startLiveServer(t, dbURL)
	b := newChrome(t)
	b.shots = t.TempDir()
	defer b.report()
	ctx := context.Background()
	owner, err := ls.identity.CreateUser(ctx, "owner@example.com", "Olivia Owner")
	if err != nil {
		t.Fatal(err)
	}
	sam, err := ls.identity.CreateUser(ctx, "sam@example.com", "Sam Support")
	if err != nil {
		t.Fatal(err)
	}
	other, err := ls.identity.CreateUser(ctx, "other@example.com", "Oscar Other")
	if err != nil {
		t.Fatal(err)
	}
	created, err := ls.portal.CreateApplication(auth.WithSession(ctx, auth.Session{UserID: owner.ID, SignedInAt: time.Now()}), portal.ApplicationInput{
		Name: "Team App", RedirectURIs: []string{"https://team.example/cb"}, WebhookURL: "https://team.example/hook"})
	if err != nil {
		t.Fatal(err)
	}
	appURL := ls.URL + "/portal/apps/" + created.Application.ID

	ownerTab := b.tab("owner")
	ls.signInByCookie(t, ownerTab, owner.ID)
	ownerTab.open(t, appURL, "#invite")
	invite := func(email string) string {
		ownerTab.do(t, chromedp.SetValue(`#invite-email`, email), chromedp.SetValue(`#invite-role`, "SUPPORT"),
			chromedp.Click(`#invite button[type=submit]`))
		ownerTab.waitFor(t, `(document.querySelector('#invite .form-status, #members .form-status') || {}).textContent && [...document.querySelectorAll('.form-status')].some(s => s.textContent.includes('Invitation sent to `+email+`'))`)
		return ls.nextLink(t, email)
	}
	link := invite("sam@example.com")
	if !strings.Contains(link, "/portal/invitation?token=") {
		t.Fatalf("invitation link %q", link)
	}

	// Another account holding the link is refused, on the page.
	otherTab := b.tab("other account")
	otherTab.allow("invitation_other_address")
	otherTab.allow("another address")
	ls.signInByCookie(t, otherTab, other.ID)
	otherTab.open(t, link, "#accept-invitation")
	otherTab.do(t, chromedp.Click(`#accept-invitation`))
	otherTab.waitFor(t, `document.querySelector('#invitation-status').textContent.includes('another address')`)

	samTab := b.tab("support member")
	ls.signInByCookie(t, samTab, sam.ID)
	samTab.open(t, link, "#accept-invitation")
	samTab.do(t, chromedp.Click(`#accept-invitation`))
	samTab.waitFor(t, `!!document.querySelector('#open-app')`)
	samTab.open(t, appURL, "#members table")
	samTab.waitFor(t, `!!document.querySelector('#your-role')`)
	if got := samTab.text(t, "#your-role"); !strings.Contains(got, "support") {
		t.Errorf("role line %q", got)
	}
	for sel, want := range map[string]bool{
		"#credentials .stack": false, "#delete-app": false, "#invite": false, "#app-activity": false,
		"#members tr[data-member='sam@example.com']": true,
	} {
		if got := evalIn[bool](t, samTab, `!!document.querySelector("`+sel+`")`); got != want {
			t.Errorf("support's page: %s present = %v, want %v", sel, got, want)
		}
	}
	if !evalIn[bool](t, samTab, `document.querySelector('#settings button[type=submit]').disabled`) {
		t.Error("support can submit the settings form")
	}

	// The owner's card lists the new member with their role.
	ownerTab.open(t, appURL, "#members table")
	ownerTab.waitFor(t, `!!document.querySelector("#members tr[data-member='sam@example.com'][data-member-role='support']")`)
	ownerTab.checkProblems()
	samTab.checkProblems()
}
