package portal_test

import (
	"context"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/ent/appmember"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/portal"
)

// member adds a freshly signed-in person to app's team with role and returns their context.
func (e *portalEnv) member(t *testing.T, app *ent.Application, role appmember.Role) context.Context {
	t.Helper()
	u := e.person(t)
	e.db.AppMember.Create().SetApplicationID(app.ID).SetUserID(u.ID).SetRole(role).SetEmail(u.Email).ExecX(context.Background())
	return auth.WithSession(context.Background(), auth.Session{UserID: u.ID, SignedInAt: time.Now()})
}

// TestEachOperationAsksForItsRole: every portal operation on an application is refused
// (Forbidden) to the highest role of the team that the README's table does not give it, and
// changes nothing: support changes no settings and reads no webhook URL or analytics, a
// developer rotates no secret, exports no users, changes no connection and runs or reads no
// import, an admin does not delete the application.
func TestEachOperationAsksForItsRole(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		owner := e.developer(t)
		created, err := e.svc.CreateApplication(owner, portal.ApplicationInput{Name: "Shop", RedirectURIs: []string{"https://shop.example/cb"},
			WebhookURL: "https://shop.example/hook"})
		if err != nil {
			t.Fatal(err)
		}
		app := created.Application
		person := e.person(t)
		conn := e.connect(t, person, app, person.Email)
		run, err := e.svc.Import(owner, app.ID, portal.ImportRequest{Users: []portal.ImportUser{{ExternalUserID: "u1", Email: "someone@example.com"}}})
		if err != nil {
			t.Fatal(err)
		}
		support := e.member(t, app, appmember.RoleSupport)
		developer := e.member(t, app, appmember.RoleDeveloper)
		admin := e.member(t, app, appmember.RoleAdmin)
		day := time.Now().UTC().Truncate(24 * time.Hour)

		for _, tt := range []struct {
			name string
			as   context.Context
			op   func(ctx context.Context) error
		}{
			{"support changes a setting", support, func(ctx context.Context) error {
				_, err := e.svc.UpdateApplication(ctx, app.ID, portal.ApplicationPatch{Name: ptr("Hijacked")})
				return err
			}},
			{"support tests the email sync", support, func(ctx context.Context) error { _, err := e.svc.TestEmailSync(ctx, app.ID); return err }},
			{"support tests the logins sync", support, func(ctx context.Context) error { _, err := e.svc.TestCurrentLoginsSync(ctx, app.ID); return err }},
			{"support reads the webhook URL", support, func(ctx context.Context) error { _, err := e.svc.WebhookURL(ctx, app); return err }},
			{"support reads signups per day", support, func(ctx context.Context) error {
				_, err := e.svc.SignupsPerDay(ctx, app.ID, day, day.Add(24*time.Hour))
				return err
			}},
			{"support reads users per region", support, func(ctx context.Context) error { _, err := e.svc.UsersPerRegion(ctx, app.ID); return err }},
			{"support reads the sessions distribution", support, func(ctx context.Context) error {
				_, err := e.svc.SessionsDistribution(ctx, app.ID)
				return err
			}},
			{"support reads licenses by state", support, func(ctx context.Context) error { _, err := e.svc.LicensesByState(ctx, app.ID); return err }},
			{"a developer rotates the client secret", developer, func(ctx context.Context) error {
				_, err := e.svc.RotateClientSecret(ctx, app.ID)
				return err
			}},
			{"a developer rotates the webhook secret", developer, func(ctx context.Context) error {
				_, err := e.svc.RotateWebhookSecret(ctx, app.ID, false)
				return err
			}},
			{"a developer exports the users", developer, func(ctx context.Context) error {
				_, err := e.svc.ExportUsers(ctx, app.ID, portal.UsersPage{})
				return err
			}},
			{"a developer changes a connection", developer, func(ctx context.Context) error {
				_, err := e.svc.UpdateConnection(ctx, app.ID, conn.ID, portal.ConnectionPatch{IsForwarding: ptr(false)})
				return err
			}},
			{"a developer proposes an address", developer, func(ctx context.Context) error {
				_, err := e.svc.SyncEmail(ctx, app.ID, conn.ID, "new@example.com")
				return err
			}},
			{"a developer deletes a connection", developer, func(ctx context.Context) error { return e.svc.DeleteConnection(ctx, app.ID, conn.ID) }},
			{"a developer runs an import", developer, func(ctx context.Context) error {
				_, err := e.svc.Import(ctx, app.ID, portal.ImportRequest{Users: []portal.ImportUser{{ExternalUserID: "u2", Email: "other@example.com"}}})
				return err
			}},
			{"a developer lists the import runs", developer, func(ctx context.Context) error {
				_, err := e.svc.ImportSources(ctx, app.ID, nil, nil, nil, nil)
				return err
			}},
			{"a developer reads an import run", developer, func(ctx context.Context) error {
				_, err := e.svc.ImportSource(ctx, app.ID, run.Source.ID)
				return err
			}},
			{"a developer rolls an import back", developer, func(ctx context.Context) error {
				_, err := e.svc.RollbackImport(ctx, app.ID, run.Source.ID)
				return err
			}},
			{"an admin deletes the application", admin, func(ctx context.Context) error { return e.svc.DeleteApplication(ctx, app.ID) }},
		} {
			if err := tt.op(tt.as); !apperr.Is(err, apperr.Forbidden) {
				t.Errorf("%s: %v, want forbidden", tt.name, err)
			}
		}

		after := e.db.Application.GetX(context.Background(), app.ID)
		if after.Name != "Shop" || after.SecretHash != app.SecretHash || string(after.WebhookSecret) != string(app.WebhookSecret) {
			t.Errorf("refused members changed the application: name %q, client secret changed %v, webhook secret changed %v",
				after.Name, after.SecretHash != app.SecretHash, string(after.WebhookSecret) != string(app.WebhookSecret))
		}
		if c, err := e.db.AppConnection.Get(context.Background(), conn.ID); err != nil || !c.IsForwarding {
			t.Errorf("refused members changed or deleted the connection: %+v, %v", c, err)
		}
		if src := e.db.ImportSource.GetX(context.Background(), run.Source.ID); src.RolledBackAt != nil {
			t.Error("a refused member rolled the import back")
		}

		// Support sees the application without its webhook URL.
		seen, _, err := e.svc.AsViewer(support, app)
		if err != nil || seen.WebhookURL != "" {
			t.Errorf("support's view of the application: webhook URL %q, %v; want none", seen.WebhookURL, err)
		}
		if seen, _, err := e.svc.AsViewer(developer, app); err != nil || seen.WebhookURL != app.WebhookURL {
			t.Errorf("a developer's view of the application: webhook URL %q, %v; want %q", seen.WebhookURL, err, app.WebhookURL)
		}
	})
}

// TestAnalyticsCountOnlyTheApplicationsOwn: an application's analytics count its own
// connections and codes, none of another developer's application.
func TestAnalyticsCountOnlyTheApplicationsOwn(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		dev := e.developer(t)
		mine := e.app(t, dev)
		other := e.app(t, e.developer(t))
		joined := e.connect(t, e.person(t), mine, "")
		for range 3 {
			e.connect(t, e.person(t), other, "")
		}
		// The day the connection was written on: a day read from the clock again here is the
		// next one when the test runs across midnight UTC.
		day := joined.JoinedAt.UTC().Truncate(24 * time.Hour)

		signups, err := e.svc.SignupsPerDay(dev, mine.ID, day, day.Add(24*time.Hour))
		if err != nil || len(signups) != 1 || signups[0].Count != 1 {
			t.Errorf("signups today: %+v, %v; want 1", signups, err)
		}
		regions, err := e.svc.UsersPerRegion(dev, mine.ID)
		total := 0
		for _, r := range regions {
			total += r.Count
		}
		if err != nil || total != 1 {
			t.Errorf("users per region add up to %d (%+v, %v), want 1", total, regions, err)
		}
		buckets, err := e.svc.SessionsDistribution(dev, mine.ID)
		total = 0
		for _, b := range buckets {
			total += b.Count
		}
		if err != nil || total != 1 {
			t.Errorf("the sessions distribution adds up to %d (%+v, %v), want 1", total, buckets, err)
		}
	})
}

// TestAMemberWhoMayNotRotateSecretsIsNotShownTheFirstWebhookSecret: a developer (who may edit
// settings but not rotate secrets) who sets the application's first webhook URL creates its
// signing secret without seeing it; an owner or admin rotates it to read one.
func TestAMemberWhoMayNotRotateSecretsIsNotShownTheFirstWebhookSecret(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		app := e.app(t, e.developer(t))
		developer := e.member(t, app, appmember.RoleDeveloper)
		up, err := e.svc.UpdateApplication(developer, app.ID, portal.ApplicationPatch{WebhookURL: ptr("https://shop.example/hook")})
		if err != nil {
			t.Fatal(err)
		}
		if up.WebhookSecret != "" || len(up.Application.WebhookSecret) == 0 {
			t.Errorf("a developer setting the first webhook URL was shown secret %q (secret stored: %v), want none shown and one stored",
				up.WebhookSecret, len(up.Application.WebhookSecret) != 0)
		}
	})
}
