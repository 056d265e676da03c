package server

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/ent/appmember"
	"loginsign/ent/webhookevent"
	"loginsign/internal/auth"
	"loginsign/internal/licenses"
	"loginsign/internal/portal"
	"loginsign/internal/store/storetest"
	"loginsign/internal/webhooks"
)

// TestAnEventsAttemptsAreListedWithinAPageLimit: an event's attempts grow with every manual
// redelivery (within ManualSendsPerDeveloper, 300 an hour, for as long as the retention of
// 30 days keeps the event: some 216,000 attempts for one event). The delivery log lists an
// event with its attempts, and that nested list must be bounded like every list: here an
// event with 250 attempts is listed through REST (limit=1) with at most webhooks.MaxPageSize
// (100) of them, as GraphQL already bounds it (deliveries needs first or last).
func TestAnEventsAttemptsAreListedWithinAPageLimit(t *testing.T) {
	t.Parallel()
	for name, dbURL := range storetest.URLs(t) {
		t.Run(name, func(t *testing.T) {
			e := newAPIEnv(t, dbURL, licenses.RedeemLimits{})
			ctx := context.Background()
			ev := e.s.db.WebhookEvent.Create().SetApplicationID(e.app.ID).SetType("ping").
				SetPayload(`{"type":"ping"}`).SetStatus(webhookevent.StatusDelivered).SetAttempts(250).
				SetCreatedAt(e.now).SetNextAttemptAt(e.now).SetDeliveredAt(e.now).SaveX(ctx)
			rows := make([]*ent.WebhookAttemptCreate, 250)
			for i := range rows {
				rows[i] = e.s.db.WebhookAttempt.Create().SetEventID(ev.ID).SetAttempt(i + 1).SetStatusCode(204).
					SetDurationMs(3).SetCreatedAt(e.now.Add(time.Duration(i) * time.Minute))
			}
			e.s.db.WebhookAttempt.CreateBulk(rows...).ExecX(ctx)
			dev := e.cookie(e.dev)

			st, _, body := e.call("GET", "/api/developer/applications/"+e.app.ID+"/webhook/events?limit=1", nil, nil, dev)
			page := decode[struct {
				Events []struct{ Deliveries []json.RawMessage }
			}](t, body)
			if st != 200 || len(page.Events) != 1 {
				t.Fatalf("events = %d %.300s", st, body)
			}
			if n := len(page.Events[0].Deliveries); n > webhooks.MaxPageSize {
				t.Errorf("REST lists %d attempts of one event, want at most %d", n, webhooks.MaxPageSize)
			}

			body = e.gql(dev, fmt.Sprintf(`{ application(id: %q) { webhookEvents(first: 1) { edges { node { deliveries { edges { node { attempt } } } } } } } }`, e.app.ID))
			// GraphQL reads a connection a page at a time: deliveries without first is refused.
			if !strings.Contains(body, `"code":"FIRST_OR_LAST_REQUIRED"`) || strings.Contains(body, `"attempt"`) {
				t.Errorf("GraphQL deliveries without first = %.300s, want FIRST_OR_LAST_REQUIRED", body)
			}
		})
	}
}

// TestTheWebhookSecretIsShownByNoReadToAnyRole: the webhook signing secret is shown once, when
// it is made. No read afterwards shows it, to the owner or to a member of any role: the REST
// application, the application list, the delivery log and the activity log, and every scalar
// field of the GraphQL Application type (found by introspection). A rival developer reads
// nothing of the application at all.
func TestTheWebhookSecretIsShownByNoReadToAnyRole(t *testing.T) {
	t.Parallel()
	for name, dbURL := range storetest.URLs(t) {
		t.Run(name, func(t *testing.T) {
			e := newAPIEnv(t, dbURL, licenses.RedeemLimits{})
			ctx := auth.WithSession(context.Background(), auth.Session{UserID: e.dev.ID, SignedInAt: time.Now()})
			created, err := e.s.portal.CreateApplication(ctx, portal.ApplicationInput{Name: "Hooked",
				RedirectURIs: []string{"https://app.example.com/cb"}, WebhookURL: "https://hooks.example.com/in"})
			if err != nil || !strings.HasPrefix(created.WebhookSecret, "whsec_") {
				t.Fatalf("creating the application: %v (secret %q)", err, created.WebhookSecret)
			}
			app := created.Application
			key := strings.TrimPrefix(created.WebhookSecret, "whsec_")
			members := map[string]*ent.User{"owner": e.dev}
			for _, role := range []appmember.Role{appmember.RoleAdmin, appmember.RoleDeveloper, appmember.RoleSupport} {
				u := e.person(string(role)+"@example.com", string(role))
				e.s.db.AppMember.Create().SetApplicationID(app.ID).SetUserID(u.ID).SetRole(role).SetEmail(u.Email).ExecX(context.Background())
				members[string(role)] = u
			}
			// Every scalar field of Application that takes no required argument.
			intro := e.gql(e.cookie(e.dev), `{ __type(name: "Application") { fields { name args { type { kind } } type { kind ofType { kind ofType { kind ofType { kind } } } } } } }`)
			var schema struct {
				Data struct {
					Type struct {
						Fields []struct {
							Name string
							Args []struct{ Type struct{ Kind string } }
							Type json.RawMessage
						}
					} `json:"__type"`
				}
			}
			if err := json.Unmarshal([]byte(intro), &schema); err != nil || len(schema.Data.Type.Fields) == 0 {
				t.Fatalf("introspection: %v %.300s", err, intro)
			}
			var fields []string
			for _, f := range schema.Data.Type.Fields {
				required := false
				for _, a := range f.Args {
					required = required || a.Type.Kind == "NON_NULL"
				}
				if !required && !strings.Contains(string(f.Type), "OBJECT") && !strings.Contains(string(f.Type), "INTERFACE") {
					fields = append(fields, f.Name)
				}
			}
			query := fmt.Sprintf(`{ application(id: %q) { %s } }`, app.ID, strings.Join(fields, " "))
			base := "/api/developer/applications/" + app.ID
			for role, u := range members {
				c := e.cookie(u)
				answers := []string{e.gql(c, query)}
				if role == "owner" && (!strings.Contains(answers[0], `"webhookUrl":"https://hooks.example.com/in"`) || strings.Contains(answers[0], `"errors"`)) {
					t.Fatalf("the owner's query of every field = %.400s", answers[0])
				}
				for _, path := range []string{base, "/api/developer/applications", base + "/webhook/events", base + "/activity"} {
					_, _, body := e.call("GET", path, nil, nil, c)
					answers = append(answers, body)
				}
				for _, a := range answers {
					if strings.Contains(a, key) || strings.Contains(a, "whsec_") {
						t.Errorf("%s reads the webhook secret: %.300s", role, a)
					}
				}
			}
			rival := e.cookie(e.rival)
			if body := e.gql(rival, query); strings.Contains(body, "hooks.example.com") || strings.Contains(body, key) {
				t.Errorf("a rival developer reads the application: %.300s", body)
			}
		})
	}
}
