package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/ent/appinvitation"
	"loginsign/ent/application"
	"loginsign/ent/appmember"
	"loginsign/internal/auth"
)

// signedInAgo moves the sign-in of every session of p d into the past, as if p had signed in
// that long ago: the session itself stays valid, as a cookie taken from a browser does.
func (p *person) signedInAgo(d time.Duration) {
	p.e.t.Helper()
	ctx := context.Background()
	kv := p.e.srv.kv
	hashes, err := kv.SMembers(ctx, "usess:"+p.user.ID).Result()
	if err != nil || len(hashes) == 0 {
		p.e.t.Fatalf("sessions of %s: %v %v", p.user.Email, hashes, err)
	}
	for _, h := range hashes {
		if err := kv.HSet(ctx, "sess:"+h, "created", time.Now().Add(-d).UnixMilli()).Err(); err != nil {
			p.e.t.Fatal(err)
		}
	}
}

// signInAgain gives p a session of a sign-in that happened just now.
func (p *person) signInAgain() {
	p.e.t.Helper()
	var err error
	if p.cookie, err = p.e.srv.identity.Sessions.Create(context.Background(), p.user.ID, "test", "127.0.0.1"); err != nil {
		p.e.t.Fatal(err)
	}
}

// takeoverState is what a stolen developer session would change to take an application
// over: where its people's codes, events and logout tokens go, who may embed it, its
// secrets, its team, its pending invitations and transfer.
func (e *portalEnv) takeoverState(appID string) string {
	e.t.Helper()
	ctx := context.Background()
	a, err := e.srv.db.Application.Query().Where(application.ID(appID)).Only(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	members, err := e.srv.db.AppMember.Query().Where(appmember.ApplicationID(appID)).Order(ent.Asc(appmember.FieldUserID)).All(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	roles := make([]string, len(members))
	for i, m := range members {
		roles[i] = m.UserID + "=" + string(m.Role)
	}
	invs, err := e.srv.db.AppInvitation.Query().Where(appinvitation.ApplicationID(appID)).Count(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	transfer := ""
	if a.TransferTo != nil {
		transfer = *a.TransferTo
	}
	return fmt.Sprintf("redirects %v origins %v webhook %q logout %q secret %s webhook secret %x owner %s members %v invitations %d transfer %q",
		a.RedirectUris, a.AllowedOrigins, a.WebhookURL, a.BackchannelLogoutURI, a.SecretHash, a.WebhookSecret, a.OwnerID, roles, invs, transfer)
}

// TestAStolenDeveloperSessionCannotTakeOverAnApplication: a developer's session cookie lives
// for days. Taken from their browser, it must not be enough to hand the application to the
// thief: inviting anyone (the thief's own address as admin), promoting a member the thief
// controls, proposing them as owner, adding a redirect URI (with a rotated client secret the
// thief exchanges the codes of everyone who signs in to the app), pointing the webhook, the
// back-channel logout or the allowed origins elsewhere, rotating a secret and deleting the
// application all answer 401 reauthentication_required (GraphQL extensions.code) over REST
// and GraphQL when the sign-in is 16 minutes old, and change nothing. Renaming still works,
// also through the portal's settings form, which sends the URLs unchanged. Signed in again,
// every one goes through.
func TestAStolenDeveloperSessionCannotTakeOverAnApplication(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *portalEnv) {
		owner := e.person("owner@example.com", "Owen Owner", true)
		app := owner.createApp("Shop", true)
		// The thief has an account of their own on the team, with the least of the roles.
		thief := e.person("mallory@example.net", "Mallory", true)
		e.join(owner, app, thief, "support")
		mails := e.teamMail()
		sent := func() int {
			mails.mu.Lock()
			defer mails.mu.Unlock()
			return len(mails.msgs)
		}
		base := "/api/developer/applications/" + app
		vars := map[string]any{"app": app, "user": thief.user.ID}

		type restCall struct {
			name, method, path string
			body               any
		}
		rest := []restCall{
			{"invite the thief as admin", "POST", base + "/members/invitations", map[string]any{"email": "mallory.rest@example.net", "role": "admin"}},
			{"make the thief admin", "PATCH", base + "/members/" + thief.user.ID, map[string]any{"role": "admin"}},
			{"propose the thief as owner", "POST", base + "/transfer", map[string]any{"userId": thief.user.ID}},
			{"add a redirect URI", "PATCH", base, map[string]any{"redirectUris": []string{"https://shop.example.com/cb", "https://evil.example/cb"}}},
			{"point the webhook elsewhere", "PATCH", base, map[string]any{"webhookUrl": "https://evil.example/hook"}},
			{"point back-channel logout elsewhere", "PATCH", base, map[string]any{"backchannelLogoutUri": "https://evil.example/logout"}},
			{"allow another origin", "PATCH", base, map[string]any{"allowedOrigins": []string{"https://evil.example"}}},
			{"rotate the client secret", "POST", base + "/secret/rotate", nil},
			{"rotate the webhook secret", "POST", base + "/webhook/secret/rotate", nil},
		}
		type gqlCall struct{ field, query string }
		gql := []gqlCall{
			{"inviteMember", `mutation($app: ID!) { inviteMember(input: {applicationId: $app, email: "mallory.gql@example.net", role: ADMIN}) { invitation { id } } }`},
			{"changeMemberRole", `mutation($app: ID!, $user: ID!) { changeMemberRole(input: {applicationId: $app, userId: $user, role: ADMIN}) { member { role } } }`},
			{"proposeOwnershipTransfer", `mutation($app: ID!, $user: ID!) { proposeOwnershipTransfer(input: {applicationId: $app, userId: $user}) { transfer { toUserId } } }`},
			{"updateApplication", `mutation($app: ID!) { updateApplication(id: $app, input: {redirectUris: ["https://shop.example.com/cb", "https://evil.example/cb"]}) { application { id } } }`},
			{"editApplication", `mutation($app: ID!) { editApplication(input: {applicationId: $app, changes: {webhookUrl: "https://evil.example/hook"}}) { application { id } } }`},
			{"updateApplication", `mutation($app: ID!) { updateApplication(id: $app, input: {backchannelLogoutUri: "https://evil.example/logout"}) { application { id } } }`},
			{"editApplication", `mutation($app: ID!) { editApplication(input: {applicationId: $app, changes: {allowedOrigins: ["https://evil.example"]}}) { application { id } } }`},
			{"rotateClientSecret", `mutation($app: ID!) { rotateClientSecret(id: $app) { secret } }`},
			{"resetClientSecret", `mutation($app: ID!) { resetClientSecret(input: {applicationId: $app}) { clientSecret } }`},
			{"rotateWebhookSecret", `mutation($app: ID!) { rotateWebhookSecret(id: $app) { secret } }`},
			{"resetWebhookSecret", `mutation($app: ID!) { resetWebhookSecret(input: {applicationId: $app}) { webhookSecret } }`},
		}
		deleteGQL := []gqlCall{
			{"deleteApplication", `mutation($app: ID!) { deleteApplication(id: $app) { deletedId } }`},
			{"removeApplication", `mutation($app: ID!) { removeApplication(input: {applicationId: $app}) { deletedApplicationId } }`},
		}

		owner.signedInAgo(auth.RecentSignIn + time.Minute)
		before, mailsBefore := e.takeoverState(app), sent()
		const wantREST = `{"error":"reauthentication_required","message":"for your safety, sign in again to do this: your last sign-in was more than 15 minutes ago"}`
		refusedREST := func(calls []restCall) {
			for _, c := range calls {
				if status, body := owner.do(c.method, c.path, c.body); status != http.StatusUnauthorized || strings.TrimSpace(string(body)) != wantREST {
					t.Errorf("REST %s with a sign-in 16 minutes old: %d %s, want 401 %s", c.name, status, body, wantREST)
				}
			}
		}
		refusedGQL := func(calls []gqlCall) {
			for _, c := range calls {
				got := owner.gql(c.query, vars)
				if got.code() != "reauthentication_required" || len(got.Errors[0].Path) != 1 || got.Errors[0].Path[0] != c.field || got.Data[c.field] != nil {
					j, _ := json.Marshal(got)
					t.Errorf("GraphQL %s with a sign-in 16 minutes old: %s, want reauthentication_required at [%s]", c.field, j, c.field)
				}
			}
		}
		// The deletions go last: what runs after one would find nothing.
		refusedREST(rest)
		refusedGQL(gql)
		refusedREST([]restCall{{"delete the application", "DELETE", base, nil}})
		refusedGQL(deleteGQL)
		// The team's answers come first: signing in again would not help a role that may not
		// rotate secrets, nor someone off the team, who still cannot tell the application exists.
		thief.signedInAgo(auth.RecentSignIn + time.Minute)
		if status, body := thief.do("POST", base+"/secret/rotate", nil); status != http.StatusForbidden || !strings.Contains(string(body), `"error":"forbidden"`) {
			t.Errorf("REST rotate the client secret as support with a sign-in 16 minutes old: %d %s, want 403 forbidden", status, body)
		}
		stranger := e.person("stranger@example.com", "Sam Stranger", true)
		stranger.signedInAgo(auth.RecentSignIn + time.Minute)
		_, missing := stranger.do("POST", "/api/developer/applications/"+missingApp+"/secret/rotate", nil)
		if status, body := stranger.do("POST", base+"/secret/rotate", nil); status != http.StatusNotFound || string(body) != string(missing) {
			t.Errorf("REST rotate the client secret off the team with a sign-in 16 minutes old: %d %s, want the missing application's 404 %s", status, body, missing)
		}
		if after := e.takeoverState(app); after != before {
			t.Errorf("refused requests changed the application:\nbefore %s\nafter  %s", before, after)
		}
		if n := sent() - mailsBefore; n != 0 {
			t.Errorf("%d invitations were mailed", n)
		}

		// Renaming takes no recent sign-in, also when the portal's settings form sends the URLs
		// as they are.
		owner.json("PATCH", base, map[string]any{"name": "Shop Renamed"}, http.StatusOK)
		owner.mustGQL(`mutation($app: ID!) { editApplication(input: {applicationId: $app, changes: {name: "Shop Again",
			webhookUrl: "https://shop.example.com/hook", backchannelLogoutUri: "", redirectUris: ["https://shop.example.com/cb"]}}) { application { name } } }`, vars)
		if a := e.srv.db.Application.GetX(context.Background(), app); a.Name != "Shop Again" {
			t.Errorf("name after renaming: %q", a.Name)
		}
		if after := e.takeoverState(app); after != before {
			t.Errorf("renaming changed more than the name:\nbefore %s\nafter  %s", before, after)
		}

		// Signed in again, the owner does all of it.
		owner.signInAgain()
		spare := []string{owner.createApp("Spare", false), owner.createApp("Extra", false)}
		for _, c := range rest {
			if status, body := owner.do(c.method, c.path, c.body); status != http.StatusOK && status != http.StatusCreated {
				t.Errorf("REST %s signed in again: %d %s", c.name, status, body)
			}
		}
		for _, c := range gql {
			if got := owner.gql(c.query, vars); len(got.Errors) != 0 {
				t.Errorf("GraphQL %s signed in again: %+v", c.field, got.Errors)
			}
		}
		a := e.srv.db.Application.GetX(context.Background(), app)
		if a.TransferTo == nil || *a.TransferTo != thief.user.ID || len(a.AllowedOrigins) != 1 || a.BackchannelLogoutURI != "https://evil.example/logout" {
			t.Errorf("after the changes signed in again: transfer %v, origins %v, logout %q", a.TransferTo, a.AllowedOrigins, a.BackchannelLogoutURI)
		}
		if n := sent() - mailsBefore; n != 2 {
			t.Errorf("%d invitations mailed signed in again, want 2", n)
		}
		owner.json("DELETE", base, nil, http.StatusOK)
		for i, c := range deleteGQL {
			if got := owner.gql(c.query, map[string]any{"app": spare[i]}); len(got.Errors) != 0 {
				t.Errorf("GraphQL %s signed in again: %+v", c.field, got.Errors)
			}
		}
		if n := e.srv.db.Application.Query().Where(application.IDIn(append(spare, app)...)).CountX(context.Background()); n != 0 {
			t.Errorf("%d of the deleted applications are left", n)
		}
	})
}
