package webhooks_test

import (
	"context"
	"testing"

	"loginsign/ent"
	"loginsign/ent/appmember"
	"loginsign/ent/webhookevent"
	"loginsign/internal/apperr"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/ratelimit"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
	"loginsign/internal/webhooks"
)

// TestManualSendsAreLimitedPerDeveloper: test events and redeliveries count against the
// signed-in developer across all their applications (300 an hour, README's Limits), so one
// account's 100 applications do not multiply the budget of one. Past it a send answers
// rate_limited with a Retry-After within the hour and queues nothing, on an application whose
// own budget is untouched; it spends nothing of that application's budget either, so a
// teammate sharing the application still has the whole of it, and another developer's
// applications are not affected.
func TestManualSendsAreLimitedPerDeveloper(t *testing.T) {
	t.Parallel()
	const perDeveloper, perApplication = 300, 30 // README: 300 an hour per developer, 30 a minute per application
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, "https://hooks.example/in")
		kv, _ := kvtest.EmbeddedClock(t)
		svc := &webhooks.Service{DB: db, Limiter: ratelimit.New(kv), Now: f.clock.Now} // no worker: sends are only queued
		dev := signedIn(f.owner)

		// f.app is shared with a teammate and has a failed event to redeliver.
		mate := newUser(t, db)
		db.AppMember.Create().SetApplicationID(f.app.ID).SetUserID(mate.ID).SetRole(appmember.RoleDeveloper).
			SetEmail(mate.Email).ExecX(ctx)
		failed := f.enqueue(t, f.app, 1)[0]
		db.WebhookEvent.UpdateOneID(failed).SetStatus(webhookevent.StatusFailed).ExecX(ctx)

		// The developer spends their budget on ten other applications, each within its own.
		var apps []*ent.Application
		for range perDeveloper / perApplication {
			app, _ := f.newApp(t, "https://hooks.example/in")
			apps = append(apps, app)
		}
		sent := 0
		for _, app := range apps {
			var last string
			for i := range perApplication {
				if i%2 == 0 {
					ev, err := svc.Test(dev, app.ID)
					if err != nil {
						t.Fatalf("send %d (test event): %v", sent+1, err)
					}
					last = ev.ID
				} else if _, err := svc.Redeliver(dev, app.ID, last); err != nil {
					t.Fatalf("send %d (redelivery): %v", sent+1, err)
				}
				sent++
			}
		}

		// Past it, on the application they have not sent anything on: refused, nothing queued.
		before := deliveryLog(t, db, f.app)
		for i, send := range []func() error{
			func() error { _, err := svc.Test(dev, f.app.ID); return err },
			func() error { _, err := svc.Redeliver(dev, f.app.ID, failed); return err },
			func() error { _, err := svc.Test(dev, f.app.ID); return err },
		} {
			err := send()
			if e := apperr.As(err); err == nil || e.Code != apperr.RateLimited || e.RetryAfter < 1 || e.RetryAfter > 3600 {
				t.Fatalf("send %d of one developer within the hour, on an application with its budget whole: %v, want rate_limited with a Retry-After within the hour",
					sent+i+1, err)
			}
		}
		if after := deliveryLog(t, db, f.app); after != before {
			t.Errorf("refused sends changed the delivery log:\n got %s\nwant %s", after, before)
		}

		// The teammate still has the shared application's whole budget, then meets it.
		for i := range perApplication {
			if _, err := svc.Redeliver(signedIn(mate), f.app.ID, failed); err != nil {
				t.Fatalf("teammate's redelivery %d on the shared application: %v", i+1, err)
			}
		}
		_, err := svc.Test(signedIn(mate), f.app.ID)
		wantErr(t, err, apperr.RateLimited, "")

		// Another developer's own application is not affected.
		other := newUser(t, db)
		otherApp, _ := f.newAppOf(t, other, "https://hooks.example/in")
		if ev, err := svc.Test(signedIn(other), otherApp.ID); err != nil || ev.Status != webhookevent.StatusPending {
			t.Fatalf("another developer's test event: %+v %v", ev, err)
		}
	})
}
