package portal_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/ids"
	"loginsign/internal/portal"
)

// staleSession is the developer of ctx signed in an hour ago, past auth.RecentSignIn.
func staleSession(ctx context.Context) context.Context {
	s, _ := auth.SessionFrom(ctx)
	s.SignedInAt = time.Now().Add(-time.Hour)
	return auth.WithSession(context.Background(), s)
}

// wantReauthentication fails unless err asks for a fresh sign-in.
func wantReauthentication(t *testing.T, what string, err error) {
	t.Helper()
	if e := apperr.As(err); err == nil || e.Code != apperr.Unauthorized || e.Reason != "reauthentication_required" {
		t.Errorf("%s with a sign-in an hour old: %v, want unauthorized reauthentication_required", what, err)
	}
}

// TestAStaleSignInCannotRedirectPeopleRotateSecretsOrDelete: with a session whose sign-in is
// older than auth.RecentSignIn (a stolen cookie), a developer changes none of the places the
// application's people and events go (redirect URIs, allowed origins, webhook URL,
// back-channel logout URI), does not let anyone but the secret's holder start sign-ins again
// (turning off required pushed authorization requests), rotates no secret, exports no users
// and deletes nothing; the other settings, the form sent back with those unchanged, and
// turning the requirement on still save.
func TestAStaleSignInCannotRedirectPeopleRotateSecretsOrDelete(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		dev := e.developer(t)
		created, err := e.svc.CreateApplication(dev, portal.ApplicationInput{Name: "Shop", RedirectURIs: []string{"https://shop.example/cb"},
			AllowedOrigins: []string{"https://shop.example"}, WebhookURL: "https://shop.example/hook",
			BackchannelLogoutURI: "https://shop.example/logout", RequirePushedAuthorizationRequests: true})
		if err != nil {
			t.Fatal(err)
		}
		app := created.Application
		stale := staleSession(dev)

		for _, tt := range []struct {
			name  string
			patch portal.ApplicationPatch
		}{
			{"a redirect URI added", portal.ApplicationPatch{RedirectURIs: []string{"https://shop.example/cb", "https://thief.example/cb"}}},
			{"an allowed origin added", portal.ApplicationPatch{AllowedOrigins: []string{"https://shop.example", "https://thief.example"}}},
			{"the webhook URL changed", portal.ApplicationPatch{WebhookURL: ptr("https://thief.example/hook")}},
			{"the back-channel logout URI changed", portal.ApplicationPatch{BackchannelLogoutURI: ptr("https://thief.example/logout")}},
			{"pushed authorization requests no longer required", portal.ApplicationPatch{RequirePushedAuthorizationRequests: ptr(false)}},
		} {
			_, err := e.svc.UpdateApplication(stale, app.ID, tt.patch)
			wantReauthentication(t, tt.name, err)
		}
		_, err = e.svc.RotateClientSecret(stale, app.ID)
		wantReauthentication(t, "rotating the client secret", err)
		_, err = e.svc.RotateWebhookSecret(stale, app.ID, false)
		wantReauthentication(t, "rotating the webhook secret", err)
		_, err = e.svc.ExportUsers(stale, app.ID, portal.UsersPage{})
		wantReauthentication(t, "exporting the users", err)
		wantReauthentication(t, "deleting the application", e.svc.DeleteApplication(stale, app.ID))

		after, err := e.db.Application.Get(context.Background(), app.ID)
		if err != nil {
			t.Fatalf("the application after the refusals: %v", err)
		}
		if !slices.Equal(after.RedirectUris, app.RedirectUris) || !slices.Equal(after.AllowedOrigins, app.AllowedOrigins) ||
			after.WebhookURL != app.WebhookURL || after.BackchannelLogoutURI != app.BackchannelLogoutURI ||
			!after.RequirePushedAuthorizationRequests ||
			after.SecretHash != ids.Hash(created.ClientSecret) || string(after.WebhookSecret) != string(app.WebhookSecret) {
			t.Errorf("a stale sign-in changed the application:\n got %+v\nwant %+v", after, app)
		}

		// What a stale sign-in may still do: the other settings, with the form's unchanged
		// redirect URIs, origins and delivery URLs sent along.
		up, err := e.svc.UpdateApplication(stale, app.ID, portal.ApplicationPatch{Name: ptr("Shop 2"),
			RedirectURIs: app.RedirectUris, AllowedOrigins: app.AllowedOrigins, WebhookURL: ptr(app.WebhookURL),
			BackchannelLogoutURI: ptr(app.BackchannelLogoutURI), RequirePushedAuthorizationRequests: ptr(true)})
		if err != nil || up.Application.Name != "Shop 2" {
			t.Fatalf("a name change with the rest of the form unchanged: %+v, %v; want saved", up, err)
		}
		other := e.app(t, dev)
		up, err = e.svc.UpdateApplication(stale, other.ID, portal.ApplicationPatch{RequirePushedAuthorizationRequests: ptr(true)})
		if err != nil || !up.Application.RequirePushedAuthorizationRequests {
			t.Fatalf("requiring pushed authorization requests with a stale sign-in: %+v, %v; want saved", up, err)
		}
	})
}

// TestDeliveryURLsMustBeHttpsOutsideDevMode: the webhook URL and the back-channel logout URI
// receive LoginSign's POSTs (signed events, logout tokens), so outside dev mode they are
// https, on creation and on edit; dev mode takes http.
func TestDeliveryURLsMustBeHttpsOutsideDevMode(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		dev := e.developer(t)
		app := e.app(t, dev)
		const plain = "http://hooks.example.com/in"
		for _, tt := range []struct {
			name  string
			in    portal.ApplicationInput
			patch portal.ApplicationPatch
		}{
			{"webhook URL", portal.ApplicationInput{Name: "X", WebhookURL: plain}, portal.ApplicationPatch{WebhookURL: ptr(plain)}},
			{"back-channel logout URI", portal.ApplicationInput{Name: "X", BackchannelLogoutURI: plain},
				portal.ApplicationPatch{BackchannelLogoutURI: ptr(plain)}},
		} {
			if _, err := e.svc.CreateApplication(dev, tt.in); !apperr.Is(err, apperr.Invalid) {
				t.Errorf("an http %s on creation: %v, want invalid_request", tt.name, err)
			}
			if _, err := e.svc.UpdateApplication(dev, app.ID, tt.patch); !apperr.Is(err, apperr.Invalid) {
				t.Errorf("an http %s on edit: %v, want invalid_request", tt.name, err)
			}
		}
		if got := e.db.Application.GetX(context.Background(), app.ID); got.WebhookURL != "" || got.BackchannelLogoutURI != "" {
			t.Errorf("http delivery URLs were stored: webhook %q, logout %q", got.WebhookURL, got.BackchannelLogoutURI)
		}
		devMode := *e.svc
		devMode.Dev = true
		if _, err := devMode.CreateApplication(dev, portal.ApplicationInput{Name: "X", WebhookURL: plain, BackchannelLogoutURI: plain}); err != nil {
			t.Errorf("dev mode refused http delivery URLs: %v", err)
		}
	})
}

// TestAConnectionOfAnotherApplicationIsNotReachedThroughOnesOwn: a developer who names their
// own application and a connection of another developer's application gets NotFound from
// every connection operation, and the connection stays as it was.
func TestAConnectionOfAnotherApplicationIsNotReachedThroughOnesOwn(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		dev := e.developer(t)
		mine := e.app(t, dev)
		victim := e.app(t, e.developer(t))
		person := e.person(t)
		theirs := e.connect(t, person, victim, person.Email)

		for name, op := range map[string]func() error{
			"read": func() error { _, err := e.svc.Connection(dev, mine.ID, theirs.ID); return err },
			"update": func() error {
				_, err := e.svc.UpdateConnection(dev, mine.ID, theirs.ID, portal.ConnectionPatch{IsForwarding: ptr(false), AppEmail: ptr("crm@thief.example")})
				return err
			},
			"email sync": func() error { _, err := e.svc.SyncEmail(dev, mine.ID, theirs.ID, "thief@thief.example"); return err },
			"delete":     func() error { return e.svc.DeleteConnection(dev, mine.ID, theirs.ID) },
		} {
			if err := op(); !apperr.Is(err, apperr.NotFound) {
				t.Errorf("%s of another application's connection through one's own: %v, want not_found", name, err)
			}
		}
		after, err := e.db.AppConnection.Get(context.Background(), theirs.ID)
		if err != nil {
			t.Fatalf("the other application's connection after the refusals: %v", err)
		}
		if !after.IsForwarding || after.DeveloperEmail != "" {
			t.Errorf("the other application's connection changed: forwarding %v, developer's record %q", after.IsForwarding, after.DeveloperEmail)
		}
	})
}

// TestAnImportDoesNotReachAnotherApplicationsConnections: an import into one application
// proposes a pending link for an address another application's connection shares with that
// application: the row is not already_connected (which would tell the importer who uses the
// other application) and the other connection keeps its external user id.
func TestAnImportDoesNotReachAnotherApplicationsConnections(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		dev := e.developer(t)
		mine := e.app(t, dev)
		victim := e.app(t, e.developer(t))
		person := e.person(t)
		theirs := e.connect(t, person, victim, person.Email)

		res, err := e.svc.Import(dev, mine.ID, portal.ImportRequest{Users: []portal.ImportUser{{ExternalUserID: "planted", Email: person.Email}}})
		if err != nil {
			t.Fatal(err)
		}
		if got := statuses(res.Rows); got != portal.ImportImported {
			t.Errorf("the row of an address only another application sees is %s, want %s", got, portal.ImportImported)
		}
		if after := e.db.AppConnection.GetX(context.Background(), theirs.ID); after.ExternalUserID != theirs.ExternalUserID {
			t.Errorf("another application's connection got external user id %q from the import, want %q", after.ExternalUserID, theirs.ExternalUserID)
		}
	})
}

// TestAnImportRunOfAnotherApplicationIsNotReadOrRolledBackThroughOnesOwn: a developer who
// names their own application and another application's import run gets NotFound, and the
// run is not rolled back.
func TestAnImportRunOfAnotherApplicationIsNotReadOrRolledBackThroughOnesOwn(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		dev, other := e.developer(t), e.developer(t)
		mine := e.app(t, dev)
		victim := e.app(t, other)
		run, err := e.svc.Import(other, victim.ID, portal.ImportRequest{Users: []portal.ImportUser{{ExternalUserID: "v1", Email: "someone@example.com"}}})
		if err != nil {
			t.Fatal(err)
		}

		if _, err := e.svc.ImportSource(dev, mine.ID, run.Source.ID); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("reading another application's run through one's own: %v, want not_found", err)
		}
		if _, err := e.svc.RollbackImport(dev, mine.ID, run.Source.ID); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("rolling back another application's run through one's own: %v, want not_found", err)
		}
		if src := e.db.ImportSource.GetX(context.Background(), run.Source.ID); src.RolledBackAt != nil {
			t.Error("another application's run was rolled back through the developer's own application")
		}
	})
}
