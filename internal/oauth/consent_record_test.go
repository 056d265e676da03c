package oauth_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/ent/appconnection"
	"loginsign/ent/pendinglink"
	"loginsign/internal/oauth"
)

// The consent page names the application's record of the person (an import's pending link,
// "known as"), and the person chooses whether to link it: an answer that links accepts that
// record only, as the page showed it. One an import added, changed or replaced while the page
// was open is not accepted, and the answer goes on without it (the record waits for a later
// page). An app could otherwise import guesses of a person's real address under telling ids
// while the page is open and learn which one was theirs, from the id the connection took or
// from an answer that did not come back.
func TestConsentAcceptsOnlyTheRecordThePageNamed(t *testing.T) {
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		const cb = "https://rp.example/cb"
		ctx, bg := e.ctx(), context.Background()
		app, _ := e.client(t, cb)
		for _, tc := range []struct {
			name string
			// before is the record imported before the page ("" none), after what the import
			// makes of it while the page is open ("" unchanged; "-" a new record added).
			before, after string
			link          bool // the person's answer links the record the page named
			want          string
		}{
			{"a record added after the page", "", "-", true, ""},
			{"a record changed after the page", "crm-1", "crm-2", true, ""},
			{"the record the page named, linked", "crm-1", "", true, "crm-1"},
			{"the record the page named, allowed without linking", "crm-1", "", false, ""},
		} {
			u := e.person(t)
			var link *ent.PendingLink
			if tc.before != "" {
				link = e.db.PendingLink.Create().SetApplicationID(app.ID).SetEmail(u.Email).SetExternalUserID(tc.before).
					SetName("").SetCreatedAt(time.Now()).SetUpdatedAt(time.Now()).SaveX(bg)
			}
			id, err := e.svc.StartFlow(ctx, e.authorize(t, authzQuery(app.ID, cb, "")), "b1")
			if err != nil {
				t.Fatal(err)
			}
			f, err := e.svc.BrowserFlow(ctx, id, "b1")
			if err != nil {
				t.Fatal(err)
			}
			shown, err := e.svc.Continue(ctx, f, u.ID, e.clock.Now())
			if err != nil || shown.Consent == nil || shown.Consent.KnownAs != tc.before {
				t.Fatalf("%s: consent page: %+v %v, want known as %q", tc.name, shown.Consent, err, tc.before)
			}
			switch tc.after {
			case "-":
				e.db.PendingLink.Create().SetApplicationID(app.ID).SetEmail(u.Email).SetExternalUserID("probe:" + u.Email).
					SetName("").SetCreatedAt(time.Now()).SetUpdatedAt(time.Now()).ExecX(bg)
			case "":
			default:
				e.db.PendingLink.UpdateOne(link).SetExternalUserID(tc.after).SetUpdatedAt(time.Now().Add(time.Second)).ExecX(bg)
			}
			known := ""
			if tc.link {
				known = shown.Consent.KnownLink
			}
			if f, err = e.svc.BrowserFlow(ctx, id, "b1"); err != nil {
				t.Fatal(err)
			}
			n, err := e.svc.Decide(ctx, f, u.ID, e.clock.Now(), true, oauth.ShareAlias, known)
			if err != nil || !strings.HasPrefix(redirectTo(n), cb+"?code=") {
				t.Fatalf("%s: the answer %+v %v, want the app's redirect with a code", tc.name, n, err)
			}
			c := e.db.AppConnection.Query().Where(appconnection.UserID(u.ID), appconnection.ApplicationID(app.ID)).OnlyX(bg)
			open := e.db.PendingLink.Query().Where(pendinglink.ApplicationID(app.ID), pendinglink.Email(u.Email)).CountX(bg)
			if c.ExternalUserID != tc.want || open != map[bool]int{true: 0, false: 1}[tc.want != ""] {
				t.Errorf("%s: the connection's record %q with %d record(s) left open, want %q", tc.name, c.ExternalUserID, open, tc.want)
			}
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
		if err != nil || redirectTo(n) == "" {
			t.Fatalf("answer: %+v %v", n, err)
		}
		c := e.db.AppConnection.Query().Where(appconnection.UserID(u.ID), appconnection.ApplicationID(app.ID)).OnlyX(bg)
		if c.ExternalUserID != "" {
			t.Fatalf("a removed record was linked: %q", c.ExternalUserID)
		}
	})
}

// The record the form names is the browser's text: one that is no record id (a NUL, invalid
// UTF-8; PostgreSQL refused such text with an error, a 500) links nothing, and the answer goes on.
func TestConsentNamingNoRecordIDLinksNothing(t *testing.T) {
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		const cb = "https://rp.example/cb"
		ctx := e.ctx()
		app, _ := e.client(t, cb)
		for _, known := range []string{"pln_\x00@1", "pln_\xff@1", "@", "x@y"} {
			u := e.person(t)
			id, err := e.svc.StartFlow(ctx, e.authorize(t, authzQuery(app.ID, cb, "")), "b1")
			if err != nil {
				t.Fatal(err)
			}
			f, _ := e.svc.BrowserFlow(ctx, id, "b1")
			if _, err := e.svc.Continue(ctx, f, u.ID, e.clock.Now()); err != nil {
				t.Fatal(err)
			}
			f, _ = e.svc.BrowserFlow(ctx, id, "b1")
			n, err := e.svc.Decide(ctx, f, u.ID, e.clock.Now(), true, oauth.ShareAlias, known)
			if err != nil || !strings.HasPrefix(redirectTo(n), cb+"?code=") {
				t.Errorf("known %q: %+v %v, want the app's redirect with a code", known, n, err)
			}
		}
	})
}
