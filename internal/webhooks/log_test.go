package webhooks_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"entgo.io/ent/dialect"

	"loginsign/ent/webhookattempt"
	"loginsign/ent/webhookevent"
	"loginsign/internal/apperr"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/ratelimit"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
	"loginsign/internal/webhooks"
)

func wantErr(t *testing.T, err error, code apperr.Code, reason string) {
	t.Helper()
	e := apperr.As(err)
	if err == nil || e.Code != code || e.Reason != reason {
		t.Fatalf("error %v, want %s %q", err, code, reason)
	}
}

func TestRedeliveryAndTestEventFollowTheEndpointsState(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		rcv := newReceiver(t)
		f := newFixture(t, db, rcv.URL)
		w := f.worker(db)
		svc := &webhooks.Service{DB: db, Worker: w, Now: f.clock.Now}
		dev := signedIn(f.owner)
		stranger := signedIn(newUser(t, db))

		// A failed event gets one more attempt on redelivery, with the same webhook-id.
		rcv.setAnswer(func(hit, int) (int, http.Header) { return http.StatusInternalServerError, nil })
		id := f.enqueue(t, f.app, 1)[0]
		for range webhooks.MaxAttempts {
			drain(t, w)
			f.clock.Advance(25 * time.Hour)
		}
		if ev := f.event(t, id); ev.Status != webhookevent.StatusFailed {
			t.Fatalf("status %s, want failed", ev.Status)
		}
		_, err := svc.Redeliver(stranger, f.app.ID, id)
		wantErr(t, err, apperr.NotFound, "")
		_, err = svc.Redeliver(dev, f.app.ID, "msg_unknown")
		wantErr(t, err, apperr.NotFound, "")
		rcv.setAnswer(func(hit, int) (int, http.Header) { return http.StatusOK, nil })
		// With a worker, the redelivery is sent at once, as a test event is (its addresses
		// count against the developer's budget of new delivery targets).
		ev, err := svc.Redeliver(dev, f.app.ID, id)
		if err != nil || ev.Status != webhookevent.StatusDelivered {
			t.Fatalf("redeliver: %+v %v", ev, err)
		}
		drain(t, w)
		hits := rcv.Hits()
		if ev := f.event(t, id); ev.Status != webhookevent.StatusDelivered || hits[len(hits)-1].ID != id {
			t.Fatalf("after redelivery: status %s", ev.Status)
		}

		// An event being delivered cannot be redelivered at the same time.
		busy := f.enqueue(t, f.app, 1)[0]
		if evs, err := w.Claim(context.Background(), 1); err != nil || len(evs) != 1 {
			t.Fatal(err)
		}
		_, err = svc.Redeliver(dev, f.app.ID, busy)
		wantErr(t, err, apperr.Conflict, "delivery_in_progress")

		// 410 disables the endpoint: redelivery is refused until a test event succeeds.
		rcv.setAnswer(func(hit, int) (int, http.Header) { return http.StatusGone, nil })
		ev, err = svc.Test(dev, f.app.ID)
		if err != nil || ev.Status != webhookevent.StatusDisabled || len(ev.Edges.Deliveries) != 1 || ev.Edges.Deliveries[0].StatusCode != 410 {
			t.Fatalf("test against a gone endpoint: %+v %v", ev, err)
		}
		_, err = svc.Redeliver(dev, f.app.ID, id)
		wantErr(t, err, apperr.Conflict, "webhook_disabled")
		rcv.setAnswer(func(hit, int) (int, http.Header) { return http.StatusOK, nil })
		ev, err = svc.Test(dev, f.app.ID)
		if err != nil || ev.Status != webhookevent.StatusDelivered || ev.Type != webhooks.TypePing {
			t.Fatalf("test after the endpoint came back: %+v %v", ev, err)
		}
		if _, err := svc.Redeliver(dev, f.app.ID, id); err != nil {
			t.Fatalf("redeliver after re-enabling: %v", err)
		}

		_, err = svc.Test(stranger, f.app.ID)
		wantErr(t, err, apperr.NotFound, "")
		_, err = svc.Test(context.Background(), f.app.ID)
		wantErr(t, err, apperr.Unauthorized, "")
		noHook, _ := f.newApp(t, "")
		_, err = svc.Test(dev, noHook.ID)
		wantErr(t, err, apperr.Conflict, "webhook_not_configured")
	})
}

func TestTestEventsAndRedeliveriesAreLimitedPerApplication(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		rcv := newReceiver(t)
		f := newFixture(t, db, rcv.URL)
		other, _ := f.newApp(t, rcv.URL)
		kv, kvClock := kvtest.EmbeddedClock(t)
		svc := &webhooks.Service{DB: db, Worker: f.worker(db), Limiter: ratelimit.New(kv), Now: f.clock.Now}
		dev := signedIn(f.owner)
		events := func(appID string) int {
			n, err := db.WebhookEvent.Query().Where(webhookevent.ApplicationID(appID)).Count(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			return n
		}

		// Someone off the team spends nothing of the application's budget.
		stranger := signedIn(newUser(t, db))
		for range 40 {
			_, err := svc.Test(stranger, f.app.ID)
			wantErr(t, err, apperr.NotFound, "")
		}
		// Test events and redeliveries share 30 a minute.
		var last string
		for i := range webhooks.DefaultManualSends.N {
			if i%2 == 0 {
				ev, err := svc.Test(dev, f.app.ID)
				if err != nil {
					t.Fatalf("test event %d: %v", i+1, err)
				}
				last = ev.ID
			} else if _, err := svc.Redeliver(dev, f.app.ID, last); err != nil {
				t.Fatalf("redelivery %d: %v", i+1, err)
			}
		}
		queued, sent := events(f.app.ID), len(rcv.Hits())
		for _, send := range []func() error{
			func() error { _, err := svc.Test(dev, f.app.ID); return err },
			func() error { _, err := svc.Redeliver(dev, f.app.ID, last); return err },
		} {
			err := send()
			if e := apperr.As(err); err == nil || e.Code != apperr.RateLimited || e.RetryAfter < 1 || e.RetryAfter > 60 {
				t.Fatalf("31st in a minute: %v, want rate_limited with Retry-After", err)
			}
		}
		if got := events(f.app.ID); got != queued || len(rcv.Hits()) != sent {
			t.Errorf("refused calls queued %d events and sent %d requests, want none", got-queued, len(rcv.Hits())-sent)
		}

		// Another application of the same developer is not affected.
		if ev, err := svc.Test(dev, other.ID); err != nil || ev.Status != webhookevent.StatusDelivered {
			t.Fatalf("another application's test event: %+v %v", ev, err)
		}
		// The next minute has a new budget.
		kvClock.Advance(time.Minute)
		if _, err := svc.Test(dev, f.app.ID); err != nil {
			t.Fatalf("test event a minute later: %v", err)
		}
	})
}

func TestEventsPagesNewestFirstAndFiltersByStatus(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		rcv := newReceiver(t)
		f := newFixture(t, db, rcv.URL)
		svc := &webhooks.Service{DB: db, Now: f.clock.Now}
		var ids []string
		for range 5 {
			ids = append(ids, f.enqueue(t, f.app, 1)...)
			f.clock.Advance(time.Second)
		}
		drain(t, f.worker(db, func(c *webhooks.WorkerConfig) { c.Batch = 2 }))
		f.enqueue(t, f.app, 1)
		two := 2
		page, err := svc.Events(signedIn(f.owner), f.app.ID, webhooks.EventQuery{First: &two, Status: ptr(webhookevent.StatusDelivered)})
		if err != nil || page.TotalCount != 5 || len(page.Edges) != 2 || page.Edges[0].Node.ID != ids[4] || !page.PageInfo.HasNextPage {
			t.Fatalf("first page: %+v %v", page, err)
		}
		next, err := svc.Events(signedIn(f.owner), f.app.ID, webhooks.EventQuery{First: &two, After: page.PageInfo.EndCursor,
			Status: ptr(webhookevent.StatusDelivered), WithAttempts: true})
		if err != nil || len(next.Edges) != 2 || next.Edges[0].Node.ID != ids[2] || len(next.Edges[0].Node.Edges.Deliveries) != 1 {
			t.Fatalf("second page: %+v %v", next, err)
		}
		tooMany := 101
		_, err = svc.Events(signedIn(f.owner), f.app.ID, webhooks.EventQuery{First: &tooMany})
		wantErr(t, err, apperr.Invalid, "")
		_, err = svc.Events(signedIn(f.owner), f.app.ID, webhooks.EventQuery{Status: ptr(webhookevent.Status("lost"))})
		wantErr(t, err, apperr.Invalid, "")
	})
}

func ptr[T any](v T) *T { return &v }

func TestCheckTargetAtSaveTime(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url          string
		allowPrivate bool
		forbidden    bool
	}{
		{"https://93.184.215.14/hook", false, false},
		{"https://127.0.0.1/hook", false, true},
		{"https://[::1]/hook", false, true},
		{"https://[::7f00:1]/hook", false, true},
		{"https://10.0.0.8/hook", false, true},
		{"https://169.254.169.254/", false, true},
		{"https://localhost/hook", false, true},
		{"http://localhost:3000/hook", true, false},
	}
	for _, tt := range tests {
		err := webhooks.CheckTarget(context.Background(), tt.url, tt.allowPrivate)
		if got := errors.Is(err, webhooks.ErrForbiddenTarget); got != tt.forbidden {
			t.Errorf("CheckTarget(%s, dev=%v) = %v, want forbidden=%v", tt.url, tt.allowPrivate, err, tt.forbidden)
		}
	}
	if err := webhooks.CheckTarget(context.Background(), "ftp://example.com/", false); err == nil {
		t.Error("ftp URL accepted")
	}
}

// TestOldFinishedEventsArePurgedWithTheirAttempts: the delivery log keeps a finished event
// (delivered, failed, disabled) for the retention period; the housekeeping then deletes it
// with its attempts. Pending events stay whatever their age: they are still to be delivered.
func TestOldFinishedEventsArePurgedWithTheirAttempts(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		rcv := newReceiver(t)
		f := newFixture(t, db, rcv.URL)
		delivered := f.enqueue(t, f.app, 3)
		drain(t, f.worker(db))
		pending := f.enqueue(t, f.app, 1)
		later := time.Now().Add(webhooks.DefaultRetention + 24*time.Hour)
		recent := delivered[2]
		update := "UPDATE webhook_events SET created_at = ? WHERE id = ?" // created_at is immutable in ent
		if db.Dialect == dialect.Postgres {
			update = "UPDATE webhook_events SET created_at = $1 WHERE id = $2"
		}
		if _, err := db.SQL.ExecContext(ctx, update, later.Add(-time.Hour), recent); err != nil {
			t.Fatal(err)
		}
		svc := &webhooks.Service{DB: db, Now: func() time.Time { return later }}
		n, err := svc.Purge(ctx)
		if err != nil || n != 2 {
			t.Fatalf("purged %d, %v; want the 2 old delivered events", n, err)
		}
		left := db.WebhookEvent.Query().IDsX(ctx)
		if len(left) != 2 || !slices.Contains(left, recent) || !slices.Contains(left, pending[0]) {
			t.Fatalf("events left %v, want the recent one %s and the pending one %s", left, recent, pending[0])
		}
		for _, id := range delivered[:2] {
			if n := db.WebhookAttempt.Query().Where(webhookattempt.EventID(id)).CountX(ctx); n != 0 {
				t.Errorf("%d attempts of purged event %s left", n, id)
			}
		}
		if n := db.WebhookAttempt.Query().Where(webhookattempt.EventID(recent)).CountX(ctx); n != 1 {
			t.Errorf("the recent event kept %d attempts, want 1", n)
		}
		if n, err := svc.Purge(ctx); err != nil || n != 0 {
			t.Errorf("a second purge deleted %d, %v", n, err)
		}
	})
}

// A test event is answered once in the portal: if it fails it is not retried on the day-long
// schedule (the developer sends another), and a redelivery of it is one attempt more.
func TestAFailedTestEventIsNotRetried(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		rcv := newReceiver(t)
		rcv.setAnswer(func(hit, int) (int, http.Header) { return http.StatusInternalServerError, nil })
		f := newFixture(t, db, rcv.URL)
		w := f.worker(db)
		svc := &webhooks.Service{DB: db, Worker: w, Now: f.clock.Now}
		dev := signedIn(f.owner)

		ev, err := svc.Test(dev, f.app.ID)
		if err != nil || ev.Status != webhookevent.StatusFailed || ev.Attempts != 1 {
			t.Fatalf("test event answered 500: %v, status %s after %d attempts; want failed after 1", err, ev.Status, ev.Attempts)
		}
		for range 3 {
			f.clock.Advance(25 * time.Hour)
			drain(t, w)
		}
		if n := len(rcv.Hits()); n != 1 {
			t.Errorf("the receiver got the test event %d times, want once", n)
		}

		if _, err := svc.Redeliver(dev, f.app.ID, ev.ID); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			drain(t, w)
			f.clock.Advance(25 * time.Hour)
		}
		if ev := f.event(t, ev.ID); ev.Status != webhookevent.StatusFailed || ev.Attempts != 2 || len(rcv.Hits()) != 2 {
			t.Errorf("after a redelivery: status %s, %d attempts, %d requests; want failed after 2", ev.Status, ev.Attempts, len(rcv.Hits()))
		}
	})
}
