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
	"loginsign/internal/webhooks"
)

// TestANodeIsVisibleOnlyToWhoMayReadIt: GraphQL's node(id:) shows a person themself and
// their own connection, and an application's nodes to the members whose role reads them;
// anyone else (another developer, another person, support for the delivery log and imports)
// gets NotFound, exactly as for an id that does not exist.
func TestANodeIsVisibleOnlyToWhoMayReadIt(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		ctx := context.Background()
		owner := e.developer(t)
		app := e.app(t, owner)
		support := e.member(t, app, appmember.RoleSupport)
		stranger := e.developer(t)
		person, otherPerson := e.person(t), e.person(t)
		asPerson := auth.WithSession(ctx, auth.Session{UserID: person.ID, SignedInAt: time.Now()})
		asOtherPerson := auth.WithSession(ctx, auth.Session{UserID: otherPerson.ID, SignedInAt: time.Now()})
		conn := e.connect(t, person, app, "")
		variant := e.db.LicenseVariant.Create().SetApplicationID(app.ID).SetName("Pro").SetNameKey("pro").SaveX(ctx)
		run, err := e.svc.Import(owner, app.ID, portal.ImportRequest{Users: []portal.ImportUser{{ExternalUserID: "u1", Email: "someone@example.com"}}})
		if err != nil {
			t.Fatal(err)
		}
		app = e.db.Application.UpdateOne(app).SetWebhookURL("https://shop.example/hook").SaveX(ctx) // events go to a webhook
		var event *ent.WebhookEvent
		if err := e.db.Tx(ctx, func(tx *ent.Tx) error {
			event, err = webhooks.Enqueue(ctx, tx, app, webhooks.TypePing, webhooks.Ping{Type: webhooks.TypePing, ApplicationID: app.ID}, time.Now())
			return err
		}); err != nil {
			t.Fatal(err)
		}

		for _, tt := range []struct {
			name       string
			node       ent.Noder
			sees, not  []context.Context
			seesNames  string
			notesNames string
		}{
			{"a person", person, []context.Context{asPerson}, []context.Context{asOtherPerson, owner}, "the person", "another person, the developer"},
			{"an application", app, []context.Context{owner, support}, []context.Context{stranger, asPerson}, "owner, support", "another developer, a connected person"},
			{"a connection", conn, []context.Context{asPerson, owner, support}, []context.Context{asOtherPerson, stranger}, "its person, owner, support", "another person, another developer"},
			{"a license variant", variant, []context.Context{owner, support}, []context.Context{stranger, asPerson}, "owner, support", "another developer, a connected person"},
			{"an import run", run.Source, []context.Context{owner}, []context.Context{support, stranger}, "owner", "support, another developer"},
			{"a webhook event", event, []context.Context{owner}, []context.Context{support, stranger, asPerson}, "owner", "support, another developer, a connected person"},
		} {
			for i, ctx := range tt.sees {
				if err := e.svc.Visible(ctx, tt.node); err != nil {
					t.Errorf("%s is hidden from viewer %d of (%s): %v", tt.name, i+1, tt.seesNames, err)
				}
			}
			for i, ctx := range tt.not {
				if err := e.svc.Visible(ctx, tt.node); !apperr.Is(err, apperr.NotFound) {
					t.Errorf("%s is visible to viewer %d of (%s): %v, want not_found", tt.name, i+1, tt.notesNames, err)
				}
			}
		}
	})
}
