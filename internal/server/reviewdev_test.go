package server

import (
	"context"
	"net/http"
	"testing"

	"loginsign/ent/appconnection"
	"loginsign/ent/pendinglink"
	"loginsign/internal/activity"
	"loginsign/internal/portal"
)

// A developer whose user shares only a relay alias cannot learn the person's real address by
// proposing guesses through the email-sync API: the real address answers exactly like any
// other (pending, on REST and GraphQL), sends the same mails (so the answer takes as long),
// is logged like any other, and past the per-person limit it is refused like any other.
func TestEmailSyncDoesNotConfirmAGuessedAddress(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		ctx := context.Background()
		person := e.browser()
		p := person.signIn(person.get(e.config(e.app, rpCallback).AuthCodeURL("s")), "pat@example.com")
		callback(t, person.consent(p, "allow", "alias"))
		conn, err := e.srv.db.AppConnection.Query().Where(appconnection.ApplicationID(e.app.ID)).Only(ctx)
		if err != nil || conn.AppEmail == "pat@example.com" {
			t.Fatalf("the app should see an alias: %v %v", conn, err)
		}
		dev := e.browser()
		dev.signInTo("dev@example.com")
		mailsBefore := e.smtp.Count()
		path := "/api/developer/applications/" + e.app.ID + "/users/" + conn.ID + "/email"
		sync := func(addr string) (int, string) {
			t.Helper()
			return dev.raw(http.MethodPatch, path, map[string]any{"email": addr})
		}
		const pending = `{"ok":true,"changed":false,"pending":true}` + "\n"
		if status, body := sync("PAT@example.com"); status != 200 || body != pending {
			t.Fatalf("the real address (a guess) answered %d %s, want the same as any address", status, body)
		}
		const m = `mutation($in: ProposeConnectionEmailInput!) { proposeConnectionEmail(input: $in) { ok changed pending } }`
		status, out := dev.api(http.MethodPost, "/graphql", map[string]any{"query": m, "variables": map[string]any{
			"in": map[string]any{"applicationId": e.app.ID, "connectionId": conn.ID, "email": "pat@example.com"}}})
		if status != 200 || out["errors"] != nil {
			t.Fatalf("graphql: %d %v", status, out)
		}
		if got := out["data"].(map[string]any)["proposeConnectionEmail"].(map[string]any); got["pending"] != true || got["changed"] != false {
			t.Fatalf("graphql: the real address answered %v", got)
		}
		// The same work and the same mails as for any other address (a confirmation and a
		// notice), so the answer does not come sooner for a right guess: two requests, four
		// mails, all in the person's own box.
		realMails := e.smtp.Count() - mailsBefore
		before := e.userByEmail("pat@example.com")
		e.mailLink("pat@example.com", "/account/email-change/confirm")
		e.mailLink("pat@example.com", "/account/email-change/cancel")
		confirm := e.mailLink("pat@example.com", "/account/email-change/confirm")
		e.mailLink("pat@example.com", "/account/email-change/cancel")
		// Confirming it, the person changes nothing.
		if _, post := person.confirmChange(confirm); post.StatusCode != 200 {
			t.Fatalf("confirming the request for the address the person has: %d %s", post.StatusCode, post.Body)
		}
		if after := e.userByEmail("pat@example.com"); after == nil || after.Version != before.Version {
			t.Fatalf("after confirming: %+v, before %+v", after, before)
		}
		if status, body := sync("other@example.com"); status != 200 || body != pending {
			t.Fatalf("another address answered %d %s", status, body)
		}
		if otherMails := e.smtp.Count() - mailsBefore - realMails; realMails != 4 || otherMails != 2 {
			t.Fatalf("the real address sent %d mails in two requests, another address %d in one; want 2 a request", realMails, otherMails)
		}
		// The activity log shows the guess like any other request.
		status, log := dev.api(http.MethodGet, "/api/developer/applications/"+e.app.ID+"/activity?type=email_change_requested", nil)
		if status != 200 || len(log["events"].([]any)) != 3 {
			t.Fatalf("activity: %d %v", status, log)
		}
		// Past the per-person limit (5 an hour) every address is refused the same way.
		for _, addr := range []string{"a@example.com", "b@example.com"} {
			if status, body := sync(addr); status != 200 || body != pending {
				t.Fatalf("%s: %d %s", addr, status, body)
			}
		}
		for _, addr := range []string{"d@example.com", "pat@example.com"} {
			if status, body := sync(addr); status != http.StatusTooManyRequests {
				t.Fatalf("past the limit %s answered %d %s, want 429 like any address", addr, status, body)
			}
		}
		if u := e.userByEmail("pat@example.com"); u == nil {
			t.Fatal("the person's address changed")
		}
	})
}

// A person who refuses an imported application's pending link tells its developer nothing:
// the refusal is not in the application's activity log, and the rollback counts the refused
// link as withdrawn like an unanswered one (only a signed-in person can refuse, so either
// would tell the developer that the imported address has an account).
func TestRefusedImportLinkIsNotShownToTheDeveloper(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		ctx := context.Background()
		dev, err := e.srv.identity.UserByEmail(ctx, "dev@example.com")
		if err != nil {
			t.Fatal(err)
		}
		ann, err := e.srv.identity.CreateUser(ctx, "ann@example.com", "")
		if err != nil {
			t.Fatal(err)
		}
		run, err := e.srv.portal.Import(as(dev.ID), e.app.ID, portal.ImportRequest{Kind: "json", Users: []portal.ImportUser{
			{ExternalUserID: "ext-ann", Email: "ann@example.com"}, {ExternalUserID: "ext-nobody", Email: "nobody@example.com"}}})
		if err != nil {
			t.Fatal(err)
		}
		l, err := e.srv.db.PendingLink.Query().Where(pendinglink.ApplicationID(e.app.ID), pendinglink.Email("ann@example.com")).Only(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.srv.account.RefusePendingLink(as(ann.ID), l.ID); err != nil {
			t.Fatal(err)
		}
		if n := e.countEvents(activity.PendingLinkRefused, ann.ID, e.app.ID); n != 1 {
			t.Fatalf("%d refusal events in the person's log", n)
		}
		for _, f := range []activity.Filter{{}, {Types: []activity.Type{activity.PendingLinkRefused}}} {
			l, err := e.srv.activity.ForApplication(as(dev.ID), e.app.ID, f, activity.Page{})
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range l.Events {
				if ev.Type == activity.PendingLinkRefused {
					t.Fatalf("the developer's log shows the refusal: %+v", ev)
				}
			}
		}
		rb, err := e.srv.portal.RollbackImport(as(dev.ID), e.app.ID, run.Source.ID)
		if err != nil {
			t.Fatal(err)
		}
		if rb.WithdrawnLinks != 2 || rb.DeletedConnections != 0 {
			t.Fatalf("rollback withdrew %d links (want 2: the refused one counts like the open one)", rb.WithdrawnLinks)
		}
		// The refusal stays: a later run cannot revive the link.
		if _, err := e.srv.db.PendingLink.Get(ctx, l.ID); err != nil {
			t.Fatalf("the refused link is gone: %v", err)
		}
	})
}
