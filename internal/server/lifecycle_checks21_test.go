package server

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"loginsign/ent/appconnection"
	"loginsign/internal/auth"
	"loginsign/internal/connections"
	"loginsign/internal/portal"
)

// TestEveryEndOfAConnectionKillsItsTokensForGood21: the three ways a connection ends (the person
// removes the app, the developer deletes the user, the person closes the account) each leave the
// application's tokens dead at once: introspection of the access and the refresh token answers
// {"active":false}, /api/user 401 and the refresh grant invalid_grant. A new account with the
// same address, connecting to the same application, is a stranger to it: another Global User
// ID and another connection id (sub), and none of the old tokens comes back to life through it.
func TestEveryEndOfAConnectionKillsItsTokensForGood21(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		ctx := context.Background()
		const email = "lifecycle21@example.com"
		dead := func(how string, tok *oauth2.Token) {
			t.Helper()
			for name, raw := range map[string]string{"access": tok.AccessToken, "refresh": tok.RefreshToken} {
				if st, in, _ := e.postForm("/oauth/introspect", e.app, url.Values{"token": {raw}}); st != http.StatusOK || in["active"] != false {
					t.Errorf("%s: introspection of the %s token: %d %v, want {\"active\":false}", how, name, st, in)
				}
			}
			if st, body, _ := e.apiUser(tok.AccessToken); st != http.StatusUnauthorized {
				t.Errorf("%s: /api/user: %d %v, want 401", how, st, body)
			}
			if st, body, _ := e.tokenRequest(e.app, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}); st != http.StatusBadRequest || body["error"] != "invalid_grant" {
				t.Errorf("%s: refresh: %d %v, want 400 invalid_grant", how, st, body)
			}
		}
		connOf := func() string {
			t.Helper()
			u := e.userByEmail(email)
			return e.srv.db.AppConnection.Query().Where(appconnection.UserID(u.ID), appconnection.ApplicationID(e.app.ID)).OnlyX(ctx).ID
		}

		b := e.browser()
		removedTok := e.connect(b, e.app, email)
		removed := connOf()
		if _, errs := b.graphql(`mutation($c: ID!) { disconnectApp(input: {connectionId: $c}) { deletedConnectionId } }`,
			map[string]any{"c": removed}); errs != nil {
			t.Fatalf("disconnectApp: %v", errs)
		}
		dead("removed by the person", removedTok)

		deletedTok := e.connect(b, e.app, email)
		deleted := connOf()
		dev, _, err := e.srv.identity.EnsureUser(ctx, "dev@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if err := e.srv.portal.DeleteConnection(auth.WithSession(ctx, auth.Session{UserID: dev.ID, SignedInAt: time.Now()}), e.app.ID, deleted); err != nil {
			t.Fatalf("the developer's deletion: %v", err)
		}
		dead("deleted by the developer", deletedTok)

		closedTok := e.connect(b, e.app, email)
		closed := connOf()
		gid := b.viewer()
		b.gql(`mutation($g: String!, $c: String) { closeAccount(input: {confirmGlobalId: $g, code: $c}) { endedConnections } }`,
			map[string]any{"g": gid, "c": b.changeCode()})
		dead("the account closed", closedTok)

		b2 := e.browser()
		newTok := e.connect(b2, e.app, email)
		fresh := connOf()
		if g := b2.viewer(); g == gid {
			t.Errorf("the new account with the same address got the closed account's Global User ID %s", g)
		}
		for _, old := range []string{removed, deleted, closed} {
			if fresh == old {
				t.Errorf("the new account's connection got an ended connection's id %s", old)
			}
		}
		if st, in, _ := e.postForm("/oauth/introspect", e.app, url.Values{"token": {newTok.AccessToken}}); in["active"] != true || in["sub"] != fresh {
			t.Fatalf("introspection of the new account's token: %d %v, want active with sub %s", st, in, fresh)
		}
		for how, tok := range map[string]*oauth2.Token{"removed, then a new account": removedTok,
			"deleted, then a new account": deletedTok, "closed, then a new account": closedTok} {
			dead(how, tok)
		}
	})
}

// TestAnEndedConnectionComesBackOnlyThroughThePerson21: once a connection ended (the person
// removed the app, or the developer deleted the user), the application cannot bring it back
// without the person, even while the person is signed in to LoginSign and the developer has
// imported their address again: prompt=none answers consent_required with no code, and a
// plain authorization request shows the consent page. No connection exists until the person
// answers it.
func TestAnEndedConnectionComesBackOnlyThroughThePerson21(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		ctx := context.Background()
		const email = "comeback21@example.com"
		dev, _, err := e.srv.identity.EnsureUser(ctx, "dev@example.com")
		if err != nil {
			t.Fatal(err)
		}
		devCtx := auth.WithSession(ctx, auth.Session{UserID: dev.ID, SignedInAt: time.Now()})
		verifier := oauth2.GenerateVerifier()
		pkce := func(q url.Values) url.Values {
			return with(with(q, "code_challenge", oauth2.S256ChallengeFromVerifier(verifier)), "code_challenge_method", "S256")
		}
		b := e.browser()
		connected := func() int {
			t.Helper()
			u := e.userByEmail(email)
			return e.srv.db.AppConnection.Query().Where(appconnection.UserID(u.ID), appconnection.ApplicationID(e.app.ID)).CountX(ctx)
		}
		comesBack := func(how string) {
			t.Helper()
			if _, err := e.srv.portal.Import(devCtx, e.app.ID, portal.ImportRequest{Users: []portal.ImportUser{{Email: email, ExternalUserID: "ext-21"}}}); err != nil {
				t.Fatalf("%s: the developer's import: %v", how, err)
			}
			if got := callback(t, b.get(e.authorizeURL(with(pkce(validQuery(e)), "prompt", "none")))); got.Get("error") != "consent_required" || got.Has("code") {
				t.Errorf("%s: prompt=none: callback %v, want consent_required and no code", how, got)
			}
			if p := b.get(e.authorizeURL(pkce(validQuery(e)))); p.StatusCode != http.StatusOK || !strings.Contains(p.Body, `value="allow"`) {
				t.Errorf("%s: an authorization request: %d at %s, want the consent page", how, p.StatusCode, p.Request.URL)
			}
			if n := connected(); n != 0 {
				t.Errorf("%s: %d connections before the person answered", how, n)
			}
		}

		e.connect(b, e.app, email, "openid", "email")
		conn := e.srv.db.AppConnection.Query().Where(appconnection.ApplicationID(e.app.ID)).OnlyX(ctx).ID
		if _, errs := b.graphql(`mutation($c: ID!) { disconnectApp(input: {connectionId: $c}) { deletedConnectionId } }`,
			map[string]any{"c": conn}); errs != nil {
			t.Fatalf("disconnectApp: %v", errs)
		}
		comesBack("removed by the person")

		e.connect(b, e.app, email, "openid", "email")
		conn = e.srv.db.AppConnection.Query().Where(appconnection.ApplicationID(e.app.ID)).OnlyX(ctx).ID
		if err := e.srv.portal.DeleteConnection(devCtx, e.app.ID, conn); err != nil {
			t.Fatalf("the developer's deletion: %v", err)
		}
		comesBack("deleted by the developer")
	})
}

// TestADeletedApplicationLeavesNothingThatWorks21: once its developer's deletion finished, an
// application's client secret and client token authenticate nowhere, its people's access and
// refresh tokens are dead, its license codes, variants and webhook events are gone, its
// people's aliases stay retired (never issued again), and a new application gets another id.
func TestADeletedApplicationLeavesNothingThatWorks21(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		ctx := context.Background()
		b := e.browser()
		tok := e.connect(b, e.app, "appgone21@example.com")
		conn := e.srv.db.AppConnection.Query().Where(appconnection.ApplicationID(e.app.ID)).OnlyX(ctx)
		clientToken := e.clientToken(e.app)
		v := e.srv.db.LicenseVariant.Create().SetApplicationID(e.app.ID).SetName("Pro").SetNameKey("pro").SaveX(ctx)
		e.srv.db.LicenseCode.Create().SetApplicationID(e.app.ID).SetVariantID(v.ID).SetCode("AAAA-21").SetCodeKey("AAAA21").
			SetLinkedConnectionID(conn.ID).SetState("ACTIVE").SaveX(ctx)
		e.srv.db.WebhookEvent.Create().SetApplicationID(e.app.ID).SetType("ping").SetPayload(`{"type":"ping"}`).SaveX(ctx)

		dev, _, err := e.srv.identity.EnsureUser(ctx, "dev@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if err := e.srv.portal.DeleteApplication(auth.WithSession(ctx, auth.Session{UserID: dev.ID, SignedInAt: time.Now()}), e.app.ID); err != nil {
			t.Fatalf("deleting the application: %v", err)
		}

		if st, body, _ := e.tokenRequest(e.app, url.Values{"grant_type": {"client_credentials"}}); st != http.StatusUnauthorized || body["error"] != "invalid_client" {
			t.Errorf("client_credentials with the deleted application's secret: %d %v, want 401 invalid_client", st, body)
		}
		if st, body, _ := e.tokenRequest(e.app, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}); st != http.StatusUnauthorized {
			t.Errorf("a refresh with the deleted application's secret: %d %v, want 401", st, body)
		}
		if st, body, _ := e.appAPI(http.MethodGet, "/api/applications/"+e.app.ID+"/users", clientToken, ""); st != http.StatusUnauthorized {
			t.Errorf("the app API with the deleted application's client token: %d %s, want 401", st, body)
		}
		if st, body, _ := e.apiUser(tok.AccessToken); st != http.StatusUnauthorized {
			t.Errorf("/api/user with a person's token to the deleted application: %d %v, want 401", st, body)
		}
		if n := e.srv.db.LicenseCode.Query().CountX(ctx) + e.srv.db.LicenseVariant.Query().CountX(ctx) + e.srv.db.WebhookEvent.Query().CountX(ctx); n != 0 {
			t.Errorf("%d license codes, variants or webhook events of the deleted application left", n)
		}
		if free, err := connections.AliasFree(ctx, e.srv.db.Client, conn.AliasEmail); err != nil || free {
			t.Errorf("the alias of a connection of the deleted application is free again (%v, %v)", free, err)
		}
		if again := e.createApp("Again", rpCallback); again.ID == e.app.ID {
			t.Errorf("a new application got the deleted one's id %s", again.ID)
		}
	})
}
