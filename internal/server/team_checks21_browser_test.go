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
	"loginsign/internal/team"
)

// TestWaitingInvitationsInBrowser: an invitation waits in the invitee's portal whether or not
// its mail arrived (past an address's daily cap of invitation mails it is withheld): the
// overview lists it with an Accept button, so does /portal/invitation opened without a link,
// and accepting it there joins the team with its role. On SQLite.
func TestWaitingInvitationsInBrowser(t *testing.T) {
	ls := startLiveServer(t, storetest.URLs(t)["sqlite"])
	b := newChrome(t)
	b.shots = t.TempDir()
	defer b.report()
	ctx := context.Background()
	owner, err := ls.identity.CreateUser(ctx, "owner@example.com", "Olivia Owner")
	if err != nil {
		t.Fatal(err)
	}
	pat, err := ls.identity.CreateUser(ctx, "pat@example.com", "Pat Colleague")
	if err != nil {
		t.Fatal(err)
	}
	ownerCtx := auth.WithSession(ctx, auth.Session{UserID: owner.ID, SignedInAt: time.Now()})
	created, err := ls.portal.CreateApplication(ownerCtx, portal.ApplicationInput{
		Name: "Waiting App", RedirectURIs: []string{"https://waiting.example/cb"}})
	if err != nil {
		t.Fatal(err)
	}
	inv, err := ls.portal.Team().Invite(ownerCtx, created.Application.ID, "pat@example.com", team.Developer)
	if err != nil {
		t.Fatal(err)
	}

	tb := b.tab("invitee")
	ls.signInByCookie(t, tb, pat.ID)
	row := func(card string) string {
		return `document.querySelector("#` + card + ` tr[data-my-invitation='` + inv.ID + `']")`
	}
	tb.open(t, ls.URL+"/portal", "#my-invitations")
	tb.waitFor(t, `!!`+row("my-invitations")+` && `+row("my-invitations")+`.textContent.includes("Waiting App")`)

	tb.open(t, ls.URL+"/portal/invitation", "#invitation")
	tb.waitFor(t, `!!`+row("invitation"))
	tb.do(t, chromedp.Click(`#invitation tr[data-my-invitation='`+inv.ID+`'] button`))
	tb.waitFor(t, `document.querySelector("#invitation .form-status").textContent.includes("Waiting App")`)
	if got := tb.text(t, "#invitation .form-status"); !strings.Contains(strings.ToLower(got), "developer") {
		t.Errorf("after accepting: %q", got)
	}
	role, err := ls.portal.Team().ViewerRole(auth.WithSession(ctx, auth.Session{UserID: pat.ID, SignedInAt: time.Now()}), created.Application.ID)
	if err != nil || role != team.Developer {
		t.Fatalf("pat's role: %v, %v", role, err)
	}
	tb.checkProblems()
}
