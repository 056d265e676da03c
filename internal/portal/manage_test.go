package portal_test

import (
	"context"
	"strings"
	"testing"

	"loginsign/ent/activityevent"
	"loginsign/internal/activity"
	"loginsign/internal/apperr"
	"loginsign/internal/ids"
	"loginsign/internal/portal"
	"loginsign/internal/team"
)

func ptr[T any](v T) *T { return &v }

// TestApplicationLifecycle: a developer creates, changes, rotates the secrets of and deletes
// their application; bad settings are Invalid and change nothing; another developer's
// application answers NotFound to every operation, exactly like a missing one.
func TestApplicationLifecycle(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		ctx := context.Background()
		dev, stranger := e.developer(t), e.developer(t)
		created, err := e.svc.CreateApplication(dev, portal.ApplicationInput{Name: "  Shop  ", RedirectURIs: []string{"https://shop.example/cb"}})
		if err != nil || created.Application.Name != "Shop" || !strings.HasPrefix(created.ClientSecret, portal.ClientSecretPrefix) ||
			created.WebhookSecret != "" || created.Application.SecretHash != ids.Hash(created.ClientSecret) {
			t.Fatalf("CreateApplication = %+v, %v", created, err)
		}
		app := created.Application

		for _, tt := range []struct {
			name string
			in   portal.ApplicationInput
		}{
			{"no name", portal.ApplicationInput{}},
			{"long name", portal.ApplicationInput{Name: strings.Repeat("n", 201)}},
			{"http redirect", portal.ApplicationInput{Name: "X", RedirectURIs: []string{"http://shop.example/cb"}}},
			{"bad website", portal.ApplicationInput{Name: "X", Website: "javascript:alert(1)"}},
			{"bad origin", portal.ApplicationInput{Name: "X", AllowedOrigins: []string{"https://shop.example/path"}}},
			{"bad signing algorithm", portal.ApplicationInput{Name: "X", IDTokenSigningAlg: "HS256"}},
		} {
			if _, err := e.svc.CreateApplication(dev, tt.in); !apperr.Is(err, apperr.Invalid) {
				t.Errorf("create with %s: %v, want invalid_request", tt.name, err)
			}
		}
		if _, err := e.svc.CreateApplication(ctx, portal.ApplicationInput{Name: "X"}); !apperr.Is(err, apperr.Unauthorized) {
			t.Fatalf("create signed out: %v", err)
		}

		up, err := e.svc.UpdateApplication(dev, app.ID, portal.ApplicationPatch{Name: ptr("Shop 2"), WebhookURL: ptr("https://shop.example/hook"),
			RedirectURIs: []string{"https://shop.example/cb", "http://127.0.0.1/native"}, ClientRequestsPerMinute: ptr(100)})
		if err != nil || up.Application.Name != "Shop 2" || !strings.HasPrefix(up.WebhookSecret, portal.WebhookSecretPrefix) ||
			len(up.Application.RedirectUris) != 2 {
			t.Fatalf("UpdateApplication = %+v, %v", up, err)
		}
		if _, err := e.svc.UpdateApplication(dev, app.ID, portal.ApplicationPatch{ClientRequestsPerMinute: ptr(0)}); !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("a zero quota: %v", err)
		}
		if _, err := e.svc.UpdateApplication(dev, app.ID, portal.ApplicationPatch{Name: ptr("")}); !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("an empty name: %v", err)
		}
		if got, _ := e.svc.Authorize(dev, app.ID, team.ReadApp); got.Name != "Shop 2" {
			t.Fatalf("a refused update changed the name to %q", got.Name)
		}
		secret, err := e.svc.RotateClientSecret(dev, app.ID)
		if err != nil || secret == created.ClientSecret {
			t.Fatalf("RotateClientSecret = %q, %v", secret, err)
		}
		if got, _ := e.db.Application.Get(ctx, app.ID); got.SecretHash != ids.Hash(secret) {
			t.Fatal("the rotated secret is not the stored one")
		}
		if ws, err := e.svc.RotateWebhookSecret(dev, app.ID, false); err != nil || ws.Secret == up.WebhookSecret {
			t.Fatalf("RotateWebhookSecret = %q, %v", ws, err)
		}
		if url, err := e.svc.WebhookURL(dev, up.Application); err != nil || url != "https://shop.example/hook" {
			t.Fatalf("WebhookURL = %q, %v", url, err)
		}
		if _, err := e.svc.UpdateApplication(dev, app.ID, portal.ApplicationPatch{WebhookURL: ptr("")}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.RotateWebhookSecret(dev, app.ID, false); !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("rotating the webhook secret without a webhook: %v", err)
		}

		// Another developer: NotFound everywhere, nothing changes.
		for name, op := range map[string]func() error{
			"owned": func() error { _, err := e.svc.Authorize(stranger, app.ID, team.ReadApp); return err },
			"update": func() error {
				_, err := e.svc.UpdateApplication(stranger, app.ID, portal.ApplicationPatch{Name: ptr("Mine")})
				return err
			},
			"rotate":    func() error { _, err := e.svc.RotateClientSecret(stranger, app.ID); return err },
			"webhook":   func() error { _, err := e.svc.WebhookURL(stranger, up.Application); return err },
			"users":     func() error { _, err := e.svc.ConnectedUsers(stranger, app.ID, portal.UserPage{}); return err },
			"logins":    func() error { _, err := e.svc.TestCurrentLoginsSync(stranger, app.ID); return err },
			"emailsync": func() error { _, err := e.svc.TestEmailSync(stranger, app.ID); return err },
			"delete":    func() error { return e.svc.DeleteApplication(stranger, app.ID) },
		} {
			if err := op(); !apperr.Is(err, apperr.NotFound) {
				t.Errorf("another developer's %s: %v, want not_found", name, err)
			}
		}
		if got, _ := e.db.Application.Get(ctx, app.ID); got.Name != "Shop 2" || got.SecretHash != ids.Hash(secret) {
			t.Fatal("another developer changed the application")
		}
		if err := e.svc.DeleteApplication(dev, app.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Authorize(dev, app.ID, team.ReadApp); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("a deleted application: %v", err)
		}
	})
}

// TestConnectedUsers: the developer's list of connected people with its filters and page
// limits, the developer's own switches on a connection, and ending one.
func TestConnectedUsers(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		dev := e.developer(t)
		app := e.app(t, dev)
		shared, hidden := e.person(t), e.person(t)
		c1 := e.connect(t, shared, app, shared.Email)
		c2 := e.connect(t, hidden, app, "")
		other := e.app(t, e.developer(t))
		e.connect(t, e.person(t), other, "")

		page, err := e.svc.ConnectedUsers(dev, app.ID, portal.UserPage{})
		if err != nil || page.TotalCount != 2 {
			t.Fatalf("ConnectedUsers = %v, %v", page, err)
		}
		for _, ed := range page.Edges {
			if ed.Node.ApplicationID != app.ID {
				t.Fatalf("another application's connection listed: %+v", ed.Node)
			}
		}
		if got := portal.SharedEmail(c1); got != shared.Email {
			t.Fatalf("SharedEmail of a shared address = %q", got)
		}
		if got := portal.SharedEmail(c2); got != "-" {
			t.Fatalf("SharedEmail of a hidden address = %q", got)
		}
		search := func(f portal.UserFilter) int {
			t.Helper()
			p, err := e.svc.ConnectedUsers(dev, app.ID, portal.UserPage{Filter: &f})
			if err != nil {
				t.Fatal(err)
			}
			return p.TotalCount
		}
		if n := search(portal.UserFilter{Search: strings.Split(shared.Email, "@")[0]}); n != 1 {
			t.Fatalf("search by the shared address: %d", n)
		}
		if n := search(portal.UserFilter{Search: strings.Split(hidden.Email, "@")[0]}); n != 0 {
			t.Fatal("search found a person by an address they did not share")
		}
		if n := search(portal.UserFilter{Blocked: ptr(false), Active: ptr(true)}); n != 2 {
			t.Fatalf("active, not blocked: %d", n)
		}
		for _, bad := range []portal.UserPage{{First: ptr(portal.MaxUserPage + 1)}, {Last: ptr(-1)},
			{Filter: &portal.UserFilter{Search: strings.Repeat("s", portal.MaxSearchLength+1)}}} {
			if _, err := e.svc.ConnectedUsers(dev, app.ID, bad); !apperr.Is(err, apperr.Invalid) {
				t.Errorf("page %+v: %v, want invalid_request", bad, err)
			}
		}

		up, err := e.svc.UpdateConnection(dev, app.ID, c2.ID, portal.ConnectionPatch{IsForwarding: ptr(false), AppEmail: ptr("crm@shop.example")})
		if err != nil || up.IsForwarding || !portal.EmailMuted(up) || up.AppEmail != "" {
			t.Fatalf("UpdateConnection = %+v, %v (the developer's record never becomes the shared address)", up, err)
		}
		if _, err := e.svc.UpdateConnection(dev, app.ID, c2.ID, portal.ConnectionPatch{AppEmail: ptr("not an address")}); !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("a malformed record: %v", err)
		}
		if _, err := e.svc.UpdateConnection(dev, other.ID, c2.ID, portal.ConnectionPatch{IsForwarding: ptr(true)}); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("through an application not owned: %v", err)
		}
		check, err := e.svc.TestCurrentLoginsSync(dev, app.ID)
		if err != nil || check.Total != 2 {
			t.Fatalf("TestCurrentLoginsSync = %+v, %v", check, err)
		}
		if _, err := e.svc.ExportUsers(dev, app.ID, portal.UsersPage{}); err != nil {
			t.Fatalf("ExportUsers: %v", err)
		}
		if err := e.svc.DeleteConnection(dev, app.ID, c1.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Connection(dev, app.ID, c1.ID); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("a deleted connection: %v", err)
		}
		if err := e.svc.DeleteConnection(dev, app.ID, c1.ID); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("deleting twice: %v", err)
		}
	})
}

// TestUpdateConnectionRecordsOnlyChanges: an update that changes a value writes exactly one
// connection_edited event; one that sets the values the connection already has writes none,
// so an application cannot flood the person's activity log.
func TestUpdateConnectionRecordsOnlyChanges(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		dev := e.developer(t)
		app := e.app(t, dev)
		conn := e.connect(t, e.person(t), app, "")
		events := func() int {
			t.Helper()
			n, err := e.db.ActivityEvent.Query().Where(activityevent.Type(string(activity.ConnectionEdited)),
				activityevent.ConnectionID(conn.ID)).Count(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		for _, tt := range []struct {
			name  string
			patch portal.ConnectionPatch
			want  int // events after the update
		}{
			{"forwarding turned off", portal.ConnectionPatch{IsForwarding: ptr(false)}, 1},
			{"forwarding off again", portal.ConnectionPatch{IsForwarding: ptr(false)}, 1},
			{"record set", portal.ConnectionPatch{AppEmail: ptr("crm@shop.example")}, 2},
			{"the same record, written differently", portal.ConnectionPatch{AppEmail: ptr(" CRM@shop.example ")}, 2},
			{"both as they are", portal.ConnectionPatch{IsForwarding: ptr(false), AppEmail: ptr("crm@shop.example")}, 2},
			{"one of two changed", portal.ConnectionPatch{IsForwarding: ptr(true), AppEmail: ptr("crm@shop.example")}, 3},
			{"record cleared", portal.ConnectionPatch{AppEmail: ptr("")}, 4},
			{"record cleared again", portal.ConnectionPatch{AppEmail: ptr("")}, 4},
		} {
			if _, err := e.svc.UpdateConnection(dev, app.ID, conn.ID, tt.patch); err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			if got := events(); got != tt.want {
				t.Errorf("after %s: %d connection_edited events, want %d", tt.name, got, tt.want)
			}
		}
	})
}
