package server

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"loginsign/ent/appconnection"
	"loginsign/ent/consent"
	"loginsign/ent/emailchange"
	"loginsign/ent/pendinglink"
	"loginsign/ent/refreshtoken"
)

// A developer can propose only while the person is connected to the application: a proposal
// must not outlive the application's relation to the person. The developer proposes an address
// of their choosing (PATCH …/users/:connectionId/email) and imports the person's address (a
// pending link); then the relation ends. From then on the confirmation link mailed to the
// proposed address answers as for a superseded request (410, no form), its POST changes
// nothing, and no request stays pending. When the application is deleted its pending links go
// too; while it exists, a pending link stays for the person to answer whoever ended the
// connection: it is addressed to an address, not to a connection, and withdrawing it when the
// person removes the app would tell the developer, by the count a rollback of the import
// answers, which imported address belonged to the person who left.
//
// Before, the request stayed pending in every case, the page answered 200 naming the deleted
// application and the POST moved the person's primary address to the developer's choice; the
// deleted application's pending link stayed stored, hidden from the person's dashboard, so
// they could not even refuse it.
func TestAProposalEndsWithTheAppsRelationToThePerson(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		ctx := context.Background()
		dev := e.browser()
		dev.signInTo("dev@example.com")
		devApp := func(app testApp) string { return "/api/developer/applications/" + app.ID }

		removeApp := func(t *testing.T, person *browser, app testApp, connID string) {
			_, errs := person.graphql(`mutation($c: ID!) { disconnectApp(input: {connectionId: $c}) { deletedConnectionId } }`,
				map[string]any{"c": connID})
			if errs != nil {
				t.Fatalf("disconnectApp: %v", errs)
			}
		}
		endConnection := func(t *testing.T, _ *browser, app testApp, connID string) {
			if status, body := dev.raw(http.MethodDelete, devApp(app)+"/users/"+connID, nil); status != 200 {
				t.Fatalf("the developer ending the connection: %d %s", status, body)
			}
		}
		deleteApp := func(t *testing.T, _ *browser, app testApp, _ string) {
			if status, body := dev.raw(http.MethodDelete, devApp(app), nil); status != 200 {
				t.Fatalf("deleting the application: %d %s", status, body)
			}
		}
		for i, tt := range []struct {
			name     string
			end      []func(t *testing.T, person *browser, app testApp, connID string)
			appGone  bool
			linkLeft int
		}{
			{name: "the person removes the app", end: []func(*testing.T, *browser, testApp, string){removeApp}, linkLeft: 1},
			{name: "the developer ends the connection", end: []func(*testing.T, *browser, testApp, string){endConnection}, linkLeft: 1},
			{name: "the developer deletes the application", end: []func(*testing.T, *browser, testApp, string){deleteApp}, appGone: true},
			{name: "the person removes the app, then the developer deletes it",
				end: []func(*testing.T, *browser, testApp, string){removeApp, deleteApp}, appGone: true},
		} {
			t.Run(tt.name, func(t *testing.T) {
				addr, proposed := fmt.Sprintf("pat%d@example.com", i), fmt.Sprintf("pat%d@dev-chosen.example", i)
				name := fmt.Sprintf("Proposer %d", i)
				app := e.createApp(name, rpCallback)
				person := e.browser()
				e.connect(person, app, addr)
				before := e.userByEmail(addr)
				conn, err := e.srv.db.AppConnection.Query().
					Where(appconnection.UserID(before.ID), appconnection.ApplicationID(app.ID)).Only(ctx)
				if err != nil {
					t.Fatal(err)
				}

				if status, body := dev.raw(http.MethodPatch, devApp(app)+"/users/"+conn.ID+"/email",
					map[string]any{"email": proposed}); status != 200 {
					t.Fatalf("the proposal: %d %s", status, body)
				}
				confirm := e.mailLink(proposed, "/account/email-change/confirm")
				e.mailLink(addr, "/account/email-change/cancel")
				status, imp := dev.api(http.MethodPost, devApp(app)+"/import-existing-users/csv",
					map[string]any{"users": []any{map[string]any{"externalUserId": "u1", "email": addr}}})
				if status != 200 || imp["results"].([]any)[0].(map[string]any)["status"] != "imported" {
					t.Fatalf("the import: %d %v", status, imp)
				}
				if p := person.get(confirm); p.StatusCode != 200 || !strings.Contains(p.Body, name) {
					t.Fatalf("the confirmation page while connected: %d %s", p.StatusCode, p.Body)
				}

				for _, end := range tt.end {
					end(t, person, app, conn.ID)
				}

				get, post := person.confirmForm(confirm)
				if get.StatusCode != http.StatusGone || post.Response != nil || !strings.Contains(get.Body, "already used, was cancelled") {
					t.Errorf("the confirmation page after the end: %d, its form posted: %v; want 410 and no form, as for a superseded request",
						get.StatusCode, post.Response != nil)
				}
				token := strings.TrimPrefix(confirm, e.base+"/account/email-change/confirm?token=")
				// (with a valid confirmation code: the end, not a missing code, is what refuses it)
				if p := person.post(e.base+"/account/email-change/confirm", url.Values{"token": {token}, "code": {person.changeCode()}}); p.StatusCode != http.StatusGone {
					t.Errorf("a POST of the confirmation after the end: %d, want 410", p.StatusCode)
				}
				if got := e.userByEmail(addr); got == nil || got.Version != before.Version {
					t.Errorf("the person's primary address moved to %s's choice after the end", app.ID)
				}
				if n := e.srv.db.EmailChange.Query().Where(emailchange.UserID(before.ID), emailchange.StatusEQ(emailchange.StatusPending)).CountX(ctx); n != 0 {
					t.Errorf("%d address change requests still pending after the end", n)
				}
				if n := e.srv.db.EmailChange.Query().Where(emailchange.ApplicationID(app.ID)).CountX(ctx); tt.appGone && n != 0 {
					t.Errorf("%d address change requests of the deleted application left", n)
				}
				if n := e.srv.db.PendingLink.Query().Where(pendinglink.ApplicationID(app.ID)).CountX(ctx); n != tt.linkLeft {
					t.Errorf("%d pending links of the application left, want %d", n, tt.linkLeft)
				}
				links := person.gql(`{ viewer { pendingLinks { applicationId } } }`, nil)["viewer"].(map[string]any)["pendingLinks"].([]any)
				if len(links) != tt.linkLeft {
					t.Errorf("the person's dashboard lists %d pending links, want %d: %v", len(links), tt.linkLeft, links)
				}
			})
		}
	})
}

// The second line of defence: a request still pending whose application is no longer
// connected to the person (left by a version before connections.Delete superseded it, or by
// any path that ends a connection without it) is not confirmed: its page and its POST answer
// 410 exactly as a superseded request's do, and the person's address stays.
func TestAProposalWhoseConnectionIsGoneCannotBeConfirmed(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		ctx := context.Background()
		person := e.browser()
		e.connect(person, e.app, "pat@example.com")
		before := e.userByEmail("pat@example.com")
		conn, err := e.srv.db.AppConnection.Query().Where(appconnection.UserID(before.ID)).Only(ctx)
		if err != nil {
			t.Fatal(err)
		}
		dev := e.browser()
		dev.signInTo("dev@example.com")
		propose := func(addr string) string {
			t.Helper()
			if status, body := dev.raw(http.MethodPatch, "/api/developer/applications/"+e.app.ID+"/users/"+conn.ID+"/email",
				map[string]any{"email": addr}); status != 200 {
				t.Fatalf("proposing %s: %d %s", addr, status, body)
			}
			confirm := e.mailLink(addr, "/account/email-change/confirm")
			e.mailLink("pat@example.com", "/account/email-change/cancel")
			return confirm
		}
		superseded := propose("pat@first.example")
		orphan := propose("pat@dev-chosen.example")
		// The connection goes without connections.Delete: the request stays pending.
		e.srv.db.RefreshToken.Delete().Where(refreshtoken.ConnectionID(conn.ID)).ExecX(ctx)
		e.srv.db.Consent.Delete().Where(consent.ConnectionID(conn.ID)).ExecX(ctx)
		e.srv.db.AppConnection.DeleteOneID(conn.ID).ExecX(ctx)
		if n := e.srv.db.EmailChange.Query().Where(emailchange.StatusEQ(emailchange.StatusPending)).CountX(ctx); n != 1 {
			t.Fatalf("%d requests pending, want the orphaned one", n)
		}

		post := func(link string) page {
			token := strings.TrimPrefix(link, e.base+"/account/email-change/confirm?token=")
			// with a valid confirmation code: the request's end, not a missing code, refuses it
			return person.post(e.base+"/account/email-change/confirm", url.Values{"token": {token}, "code": {person.changeCode()}})
		}
		wantGet, wantPost := person.get(superseded), post(superseded)
		if wantGet.StatusCode != http.StatusGone || wantPost.StatusCode != http.StatusGone {
			t.Fatalf("a superseded request: GET %d, POST %d, want 410", wantGet.StatusCode, wantPost.StatusCode)
		}
		if got := person.get(orphan); got.StatusCode != wantGet.StatusCode || got.Body != wantGet.Body {
			t.Errorf("the page of a request whose connection is gone: %d (same page: %v), want %d and the page of a superseded one",
				got.StatusCode, got.Body == wantGet.Body, wantGet.StatusCode)
		}
		if got := post(orphan); got.StatusCode != wantPost.StatusCode || got.Body != wantPost.Body {
			t.Errorf("the POST of a request whose connection is gone: %d (same page: %v), want %d and the page of a superseded one",
				got.StatusCode, got.Body == wantPost.Body, wantPost.StatusCode)
		}
		if got := e.userByEmail("pat@example.com"); got == nil || got.Version != before.Version {
			t.Fatal("the primary address moved to the choice of an application no longer connected")
		}
	})
}
