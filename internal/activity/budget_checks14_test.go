package activity_test

import (
	"context"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/ent/activityevent"
	"loginsign/internal/activity"
	"loginsign/internal/apperr"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestOneDeveloperAddsAtMostAppCausedPerDayEventsToAPersonsLog: each kind of event an
// application causes in a person's log had its own budget (60 license changes and 60
// connection edits an hour per connection, 10 address change requests a day…), and nothing
// bounded them together: one developer's applications added thousands of events a day to one
// person's log, pushing the person's own sign-ins out of their data export. Now a developer's
// applications together add at most activity.AppCausedPerDay a day to one person's log; past
// it the change is refused (RateLimited with Retry-After) and nothing is recorded, while the
// person's own events, another developer's, and events that end a hold (a connection deleted,
// a license ended) are still recorded, and the budget comes back as its events age past a day.
func TestOneDeveloperAddsAtMostAppCausedPerDayEventsToAPersonsLog(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newLogEnv(t, db)
		ctx := context.Background()
		second := db.Application.Create().SetOwnerID(e.dev.ID).SetName("crm2").SetSecretHash("x").SaveX(ctx)
		record := func(ev activity.Event) error {
			if ev.UserID == "" {
				ev.UserID = e.ann.ID
			}
			return db.Tx(ctx, func(tx *ent.Tx) error { return activity.Record(ctx, tx, ev) })
		}
		start := now.Add(-23 * time.Hour)
		for i := range activity.AppCausedPerDay {
			app, typ, actor := e.app.ID, activity.LicenseAction, activity.ByApplication
			if i%2 == 1 { // the developer's two applications, two kinds of event, together
				app, typ, actor = second.ID, activity.ConnectionEdited, activity.ByDeveloper
			}
			if err := record(activity.Event{Type: typ, Actor: actor, ApplicationID: app, ConnectionID: "con_x",
				At: start.Add(time.Duration(i) * time.Minute)}); err != nil {
				t.Fatalf("app-caused event %d of %d: %v", i+1, activity.AppCausedPerDay, err)
			}
		}
		err := record(activity.Event{Type: activity.LicenseRedeemed, Actor: activity.ByApplication, ApplicationID: e.app.ID,
			ConnectionID: "con_x", Details: map[string]string{"name": "Pro"}, At: now})
		if ae := apperr.As(err); ae == nil || ae.Code != apperr.RateLimited || ae.RetryAfter != int(time.Hour.Seconds()) {
			t.Fatalf("event %d of one developer's applications in a day: %v, want rate_limited, retry after 3600 s (the oldest is 23 h old)",
				activity.AppCausedPerDay+1, err)
		}
		for _, ev := range []activity.Event{
			{Type: activity.SignIn, Actor: activity.ByPerson, At: now},
			{Type: activity.AddressAdded, Actor: activity.ByPerson, Details: map[string]string{"address": "ann2@example.com"}, At: now},
			{Type: activity.LicenseAction, Actor: activity.ByApplication, ApplicationID: e.otherApp.ID, ConnectionID: "con_y", At: now},
			{Type: activity.ConnectionDeleted, Actor: activity.ByDeveloper, ApplicationID: e.app.ID, ConnectionID: "con_x", At: now},
			{Type: activity.LicenseEnded, Actor: activity.ByDeveloper, ApplicationID: second.ID, ConnectionID: "con_x", At: now},
			{Type: activity.LicenseAction, Actor: activity.ByApplication, ApplicationID: e.app.ID, ConnectionID: "con_b", UserID: e.bob.ID, At: now},
		} {
			if err := record(ev); err != nil {
				t.Errorf("%s by %s (application %q) past the developer's budget for Ann: %v, want recorded", ev.Type, ev.Actor, ev.ApplicationID, err)
			}
		}
		// The connection deleted and the license ended were counted: the budget comes back
		// when three of the oldest events are a day old, not when two are.
		if err := record(activity.Event{Type: activity.LicenseAction, Actor: activity.ByApplication, ApplicationID: e.app.ID,
			ConnectionID: "con_x", At: now.Add(time.Hour + time.Minute)}); !apperr.Is(err, apperr.RateLimited) {
			t.Errorf("two of the oldest events a day old, two counted since: %v, want rate_limited", err)
		}
		if err := record(activity.Event{Type: activity.LicenseAction, Actor: activity.ByApplication, ApplicationID: e.app.ID,
			ConnectionID: "con_x", At: now.Add(time.Hour + 2*time.Minute)}); err != nil {
			t.Errorf("three of the oldest events a day old: %v, want recorded", err)
		}
		if n := db.ActivityEvent.Query().Where(activityevent.UserID(e.ann.ID), activityevent.TypeEQ(string(activity.LicenseRedeemed))).CountX(ctx); n != 0 {
			t.Errorf("the refused redemption left %d events", n)
		}
	})
}
