package oauth_test

import (
	"context"
	"testing"
	"time"

	"loginsign/ent/appconnection"
	"loginsign/internal/oauth"
)

// The consent page names the application's record of the person (an import's pending link,
// "known as"), and the answer accepts that record only: one an import added or changed while
// the page was open sends the person back to the page, which now names it, and nothing is
// linked or created meanwhile. An app could otherwise import guesses of a person's real
// address under telling ids while the page is open, and learn which one was theirs from the
// id the connection took.
func TestConsentAcceptsOnlyTheRecordThePageNamed(t *testing.T) {
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		const cb = "https://rp.example/cb"
		ctx, bg := e.ctx(), context.Background()
		app, _ := e.client(t, cb)
		u := e.person(t)
		id, err := e.svc.StartFlow(ctx, e.authorize(t, authzQuery(app.ID, cb, "")), "b1")
		if err != nil {
			t.Fatal(err)
		}
		// page shows the consent page as the browser gets it and returns the record version its
		// form carries; answer posts a page's form; each with the flow as stored in between.
		page := func(want string) string {
			t.Helper()
			f, err := e.svc.BrowserFlow(ctx, id, "b1")
			if err != nil {
				t.Fatal(err)
			}
			n, err := e.svc.Continue(ctx, f, u.ID, e.clock.Now())
			if err != nil || n.Consent == nil || n.Consent.KnownAs != want {
				t.Fatalf("consent page: %+v %v, want known as %q", n.Consent, err, want)
			}
			return n.Consent.KnownLink
		}
		answer := func(known string) oauth.Next {
			t.Helper()
			f, err := e.svc.BrowserFlow(ctx, id, "b1")
			if err != nil {
				t.Fatal(err)
			}
			n, err := e.svc.Decide(ctx, f, u.ID, e.clock.Now(), true, oauth.ShareAlias, known)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		connections := func() int {
			return e.db.AppConnection.Query().Where(appconnection.UserID(u.ID), appconnection.ApplicationID(app.ID)).CountX(bg)
		}

		tabA := page("")
		link := e.db.PendingLink.Create().SetApplicationID(app.ID).SetEmail(u.Email).SetExternalUserID("probe:" + u.Email).
			SetName("").SetCreatedAt(time.Now()).SetUpdatedAt(time.Now()).SaveX(bg)
		if n := answer(tabA); !n.AskAgain || n.Redirect != "" || connections() != 0 {
			t.Fatalf("a record added after the page: %+v, %d connections; want the page again and nothing made", n, connections())
		}
		// Another tab (or a reload) draws the page with the record; the first tab's answer
		// still names none, and is asked again.
		shown := page("probe:" + u.Email)
		if n := answer(tabA); !n.AskAgain || connections() != 0 {
			t.Fatalf("the first tab's answer after another tab showed the record: %+v, %d connections", n, connections())
		}
		e.db.PendingLink.UpdateOne(link).SetExternalUserID("other:" + u.Email).SetUpdatedAt(time.Now().Add(time.Second)).ExecX(bg)
		if n := answer(shown); !n.AskAgain || connections() != 0 {
			t.Fatalf("a record changed after the page: %+v, %d connections", n, connections())
		}
		shown = page("other:" + u.Email)
		if n := answer(shown); n.AskAgain || n.Redirect == "" {
			t.Fatalf("the record the page named: %+v", n)
		}
		c := e.db.AppConnection.Query().Where(appconnection.UserID(u.ID), appconnection.ApplicationID(app.ID)).OnlyX(bg)
		if c.ExternalUserID != "other:"+u.Email {
			t.Fatalf("the connection's record: %q, want the one the page named", c.ExternalUserID)
		}
	})
}

// A record the page named and the import then removed (a rollback) is simply not linked.
func TestConsentGoesOnWhenTheNamedRecordIsGone(t *testing.T) {
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		const cb = "https://rp.example/cb"
		ctx, bg := e.ctx(), context.Background()
		app, _ := e.client(t, cb)
		u := e.person(t)
		link := e.db.PendingLink.Create().SetApplicationID(app.ID).SetEmail(u.Email).SetExternalUserID("crm-1").
			SetName("").SetCreatedAt(time.Now()).SetUpdatedAt(time.Now()).SaveX(bg)
		id, err := e.svc.StartFlow(ctx, e.authorize(t, authzQuery(app.ID, cb, "")), "b1")
		if err != nil {
			t.Fatal(err)
		}
		f, _ := e.svc.BrowserFlow(ctx, id, "b1")
		shown, err := e.svc.Continue(ctx, f, u.ID, e.clock.Now())
		if err != nil || shown.Consent == nil || shown.Consent.KnownAs != "crm-1" {
			t.Fatalf("consent page: %+v %v", shown, err)
		}
		e.db.PendingLink.DeleteOne(link).ExecX(bg)
		f, _ = e.svc.BrowserFlow(ctx, id, "b1")
		n, err := e.svc.Decide(ctx, f, u.ID, e.clock.Now(), true, oauth.ShareAlias, shown.Consent.KnownLink)
		if err != nil || n.Redirect == "" {
			t.Fatalf("answer: %+v %v", n, err)
		}
		c := e.db.AppConnection.Query().Where(appconnection.UserID(u.ID), appconnection.ApplicationID(app.ID)).OnlyX(bg)
		if c.ExternalUserID != "" {
			t.Fatalf("a removed record was linked: %q", c.ExternalUserID)
		}
	})
}
