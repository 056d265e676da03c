package portal_test

import (
	"context"
	"testing"

	"loginsign/ent/appmember"
	"loginsign/internal/apperr"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/portal"
	"loginsign/internal/ratelimit"
	"loginsign/internal/team"
)

// TestDevelopersChangesAreBoundedAcrossApplications: every change that records an activity
// event and has no budget of its own (settings, a connection, an ownership transfer) counts against one budget per developer (team.TakeWrite), whichever
// application and service it goes through. Past it the change is refused with a Retry-After
// and writes nothing; a refused input and a change of nothing spend nothing; another developer
// is not held up.
func TestDevelopersChangesAreBoundedAcrossApplications(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		ctx := context.Background()
		e.svc.Limiter = ratelimit.New(kvtest.Embedded(t))
		dev, other := e.developer(t), e.developer(t)
		shop, notes := e.app(t, dev), e.app(t, dev)
		conn := e.connect(t, e.person(t), shop, "")
		member := e.person(t)
		e.db.AppMember.Create().SetApplicationID(notes.ID).SetUserID(member.ID).SetRole(appmember.RoleDeveloper).SaveX(ctx)

		for range 3 {
			if _, err := e.svc.UpdateApplication(dev, shop.ID, portal.ApplicationPatch{Name: ptr("")}); !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("an empty name: %v", err)
			}
		}
		type change struct {
			name string
			do   func() error
		}
		counted := []change{
			{"settings of one application", func() error {
				_, err := e.svc.UpdateApplication(dev, shop.ID, portal.ApplicationPatch{Name: ptr("Shop 2")})
				return err
			}},
			{"settings of another", func() error {
				_, err := e.svc.UpdateApplication(dev, notes.ID, portal.ApplicationPatch{Name: ptr("Notes"), WebhookURL: ptr("https://notes.example/hook")})
				return err
			}},
			{"a connection", func() error {
				_, err := e.svc.UpdateConnection(dev, shop.ID, conn.ID, portal.ConnectionPatch{IsForwarding: ptr(false)})
				return err
			}},
			{"an ownership transfer", func() error { _, err := e.svc.Team().ProposeTransfer(dev, notes.ID, member.ID); return err }},
		}
		const budget = 4
		e.svc.Writes = ratelimit.Rule{N: budget}
		for i, c := range counted {
			if err := c.do(); err != nil {
				t.Fatalf("change %d (%s): %v", i+1, c.name, err)
			}
		}
		// Sent again, the connection's values and the settings change nothing, count nothing
		// and record nothing.
		unchanged := e.db.ActivityEvent.Query().CountX(ctx)
		if _, err := e.svc.UpdateConnection(dev, shop.ID, conn.ID, portal.ConnectionPatch{IsForwarding: ptr(false)}); err != nil {
			t.Fatalf("the same connection values again: %v", err)
		}
		if err := counted[0].do(); err != nil {
			t.Fatalf("the same settings again: %v", err)
		}
		if n := e.db.ActivityEvent.Query().CountX(ctx); n != unchanged {
			t.Errorf("saving unchanged values recorded %d activity events", n-unchanged)
		}

		events := e.db.ActivityEvent.Query().CountX(ctx)
		app, _ := e.svc.Authorize(dev, shop.ID, team.ReadApp)
		held := e.db.AppConnection.GetX(ctx, conn.ID)
		refused := []change{
			{"settings of one application", func() error {
				_, err := e.svc.UpdateApplication(dev, shop.ID, portal.ApplicationPatch{Name: ptr("Shop 3")})
				return err
			}},
			{"settings of another", func() error {
				_, err := e.svc.UpdateApplication(dev, notes.ID, portal.ApplicationPatch{WebhookURL: ptr("https://notes.example/hook2")})
				return err
			}},
			{"a connection", func() error {
				_, err := e.svc.UpdateConnection(dev, shop.ID, conn.ID, portal.ConnectionPatch{IsForwarding: ptr(true)})
				return err
			}},
			counted[3],
			{"a transfer's cancellation", func() error { return e.svc.Team().CancelTransfer(dev, notes.ID) }},
		}
		for _, c := range refused {
			err := c.do()
			if ae := apperr.As(err); ae == nil || ae.Code != apperr.RateLimited || ae.RetryAfter < 1 {
				t.Errorf("%s past the budget: %v, want rate_limited with a Retry-After", c.name, err)
			}
		}
		if n := e.db.ActivityEvent.Query().CountX(ctx); n != events {
			t.Errorf("the refused changes recorded %d activity events", n-events)
		}
		if got, _ := e.svc.Authorize(dev, shop.ID, team.ReadApp); got.Name != app.Name || got.SecretHash != app.SecretHash ||
			!got.UpdatedAt.Equal(app.UpdatedAt) {
			t.Errorf("a refused change wrote the application: %+v, was %+v", got, app)
		}
		if got := e.db.AppConnection.GetX(ctx, conn.ID); got.IsForwarding != held.IsForwarding || !got.UpdatedAt.Equal(held.UpdatedAt) {
			t.Errorf("a refused change wrote the connection")
		}
		if a := e.db.Application.GetX(ctx, notes.ID); a.TransferTo == nil {
			t.Errorf("a refused cancellation ended the transfer")
		}

		mine := e.app(t, other)
		if _, err := e.svc.UpdateApplication(other, mine.ID, portal.ApplicationPatch{Name: ptr("Mine")}); err != nil {
			t.Errorf("another developer: %v", err)
		}
	})
}

// TestSecretsAndRolesHaveABudgetOfTheirOwn: rotating a secret and changing a member's role,
// what a developer does when a secret leaks or someone leaves, still work once the developer's
// other changes are spent (team.DefaultWrites), and count against a budget of their own
// (team.DefaultAccessChanges): past it they are refused with a Retry-After and write nothing,
// and another developer is not held up.
func TestSecretsAndRolesHaveABudgetOfTheirOwn(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		ctx := context.Background()
		e.svc.Limiter = ratelimit.New(kvtest.Embedded(t))
		dev, other := e.developer(t), e.developer(t)
		shop := e.app(t, dev)
		member := e.person(t)
		e.db.AppMember.Create().SetApplicationID(shop.ID).SetUserID(member.ID).SetRole(appmember.RoleAdmin).SaveX(ctx)

		e.svc.Writes = ratelimit.Rule{N: 1}
		if _, err := e.svc.UpdateApplication(dev, shop.ID, portal.ApplicationPatch{WebhookURL: ptr("https://shop.example/hook")}); err != nil {
			t.Fatalf("the one change of the budget: %v", err)
		}
		if _, err := e.svc.UpdateApplication(dev, shop.ID, portal.ApplicationPatch{Name: ptr("Shop 3")}); !apperr.Is(err, apperr.RateLimited) {
			t.Fatalf("a change past the budget: %v, want rate_limited", err)
		}
		changes := []struct {
			name string
			do   func() error
		}{
			{"the client secret", func() error { _, err := e.svc.RotateClientSecret(dev, shop.ID); return err }},
			{"the webhook secret", func() error { _, err := e.svc.RotateWebhookSecret(dev, shop.ID, false); return err }},
			{"a member's role", func() error { _, err := e.svc.Team().ChangeRole(dev, shop.ID, member.ID, team.Support); return err }},
		}
		e.svc.AccessChanges = ratelimit.Rule{N: len(changes)}
		for _, c := range changes {
			if err := c.do(); err != nil {
				t.Errorf("%s with the other changes spent: %v, want it changed", c.name, err)
			}
		}

		events := e.db.ActivityEvent.Query().CountX(ctx)
		app := e.db.Application.GetX(ctx, shop.ID)
		for _, c := range changes {
			err := c.do()
			if ae := apperr.As(err); ae == nil || ae.Code != apperr.RateLimited || ae.RetryAfter < 1 {
				t.Errorf("%s past its own budget: %v, want rate_limited with a Retry-After", c.name, err)
			}
		}
		if n := e.db.ActivityEvent.Query().CountX(ctx); n != events {
			t.Errorf("the refused changes recorded %d activity events", n-events)
		}
		if got := e.db.Application.GetX(ctx, shop.ID); got.SecretHash != app.SecretHash || !got.UpdatedAt.Equal(app.UpdatedAt) {
			t.Errorf("a refused rotation wrote the application")
		}
		if m := e.db.AppMember.Query().Where(appmember.UserID(member.ID)).OnlyX(ctx); m.Role != appmember.RoleSupport {
			t.Errorf("a refused change made the member %s", m.Role)
		}

		mine := e.app(t, other)
		if _, err := e.svc.RotateClientSecret(other, mine.ID); err != nil {
			t.Errorf("another developer: %v", err)
		}
	})
}
