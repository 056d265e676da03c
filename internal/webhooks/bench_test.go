package webhooks_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/internal/store/storetest"
	"loginsign/internal/webhooks"
)

// benchBody is a typical event body.
var benchBody = []byte(`{"type":"user_account_deleted","applicationId":"app_abcdefghijklmnopqrstuvwx","connectionId":"con_abcdefghijklmnopqrstuvwx","userId":"AB1234","aliasEmail":"x9s8d7k2@relay.loginsign.com"}`)

func benchReceiver(b *testing.B) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	b.Cleanup(srv.Close)
	return srv
}

func post(b *testing.B, c *http.Client, url string) {
	resp, err := c.Post(url, "application/json", bytes.NewReader(benchBody))
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

// BenchmarkBarePOST is the baseline: plain HTTP POSTs of an event body to the receiver, one
// at a time, with the client deliveries use.
func BenchmarkBarePOST(b *testing.B) {
	srv := benchReceiver(b)
	c := webhooks.NewClient(true)
	b.ResetTimer()
	for b.Loop() {
		post(b, c, srv.URL)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "posts/s")
}

// BenchmarkBarePOSTParallel is the baseline with as many concurrent senders as one worker
// runs deliveries (16).
func BenchmarkBarePOSTParallel(b *testing.B) {
	srv := benchReceiver(b)
	c := webhooks.NewClient(true)
	work := make(chan struct{})
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range work {
				post(b, c, srv.URL)
			}
		})
	}
	b.ResetTimer()
	for b.Loop() {
		work <- struct{}{}
	}
	close(work)
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "posts/s")
}

// BenchmarkWorkerDelivery measures delivered events per second from the outbox to the same
// kind of receiver: claim, open the secret, sign, POST, record the attempt and the event's
// new state. Events are queued before the timer starts.
func BenchmarkWorkerDelivery(b *testing.B) {
	for backend, url := range storetest.URLs(b) {
		b.Run(backend, func(b *testing.B) {
			db := storetest.Open(b, url)
			srv := benchReceiver(b)
			f := newFixture(b, db, srv.URL)
			w := f.worker(db)
			ctx := context.Background()
			queued := 0
			for b.Loop() {
				if queued == 0 {
					b.StopTimer()
					err := db.Tx(ctx, func(tx *ent.Tx) error {
						for range 512 {
							if _, err := webhooks.Enqueue(ctx, tx, f.app, webhooks.TypeUserAccountDeleted, json.RawMessage(benchBody), f.clock.Now()); err != nil {
								return err
							}
						}
						return nil
					})
					if err != nil {
						b.Fatal(err)
					}
					queued = 512
					b.StartTimer()
				}
				// One iteration delivers one event; a claim of a batch serves several.
				evs, err := w.Claim(ctx, 1)
				if err != nil || len(evs) != 1 {
					b.Fatalf("claim: %v %d", err, len(evs))
				}
				if err := w.Deliver(ctx, evs[0]); err != nil {
					b.Fatal(err)
				}
				queued--
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkWorkerDeliveryBatched is the worker as it runs: batches of 32 claimed at once and
// delivered 16 at a time. The events are one application's, so its PerApplication cap is
// raised to the batch (by default one application gets 4 events of a claim).
func BenchmarkWorkerDeliveryBatched(b *testing.B) {
	for backend, url := range storetest.URLs(b) {
		b.Run(backend, func(b *testing.B) {
			db := storetest.Open(b, url)
			srv := benchReceiver(b)
			f := newFixture(b, db, srv.URL)
			w := f.worker(db, func(c *webhooks.WorkerConfig) { c.PerApplication = 32 })
			ctx := context.Background()
			b.StopTimer()
			// b.Loop cannot be used: one DeliverDue call delivers many events.
			err := db.Tx(ctx, func(tx *ent.Tx) error {
				for range b.N {
					if _, err := webhooks.Enqueue(ctx, tx, f.app, webhooks.TypeUserAccountDeleted, json.RawMessage(benchBody), f.clock.Now()); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			delivered := 0
			for delivered < b.N {
				n, err := w.DeliverDue(ctx)
				if err != nil || n == 0 {
					b.Fatalf("deliver: %v (%d of %d)", err, delivered, b.N)
				}
				delivered += n
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkClaimBehindABacklog measures one claim of 16 while one application has a backlog
// of due events (an endpoint that never answers, say) and three other developers'
// applications have five each: what every other application's deliveries wait on. Each
// claim takes the same events (their lease ends before the next). The table is analyzed
// after the backlog is queued, as autovacuum would.
func BenchmarkClaimBehindABacklog(b *testing.B) {
	for _, backlog := range []int{1_000, 10_000, 100_000} {
		for backend, url := range storetest.URLs(b) {
			b.Run(fmt.Sprintf("%s/backlog=%d", backend, backlog), func(b *testing.B) {
				ctx := context.Background()
				db := storetest.Open(b, url)
				f := newFixture(b, db, "https://backlog.example/hook")
				for range 3 {
					other, _ := f.newAppOf(b, newUser(b, db), "https://other.example/hook")
					f.enqueue(b, other, 5)
				}
				for queued := 0; queued < backlog; queued += 500 {
					bulk := make([]*ent.WebhookEventCreate, min(500, backlog-queued))
					for i := range bulk {
						bulk[i] = db.WebhookEvent.Create().SetApplicationID(f.app.ID).SetType(webhooks.TypeUserAccountDeleted).
							SetPayload(string(benchBody)).SetCreatedAt(f.clock.Now()).SetNextAttemptAt(f.clock.Now())
					}
					db.WebhookEvent.CreateBulk(bulk...).ExecX(ctx)
				}
				if _, err := db.SQL.ExecContext(ctx, "ANALYZE webhook_events"); err != nil {
					b.Fatal(err)
				}
				w := f.worker(db)
				for b.Loop() {
					if evs, err := w.Claim(ctx, 16); err != nil || len(evs) != 16 {
						b.Fatalf("claim: %d events, %v", len(evs), err)
					}
					f.clock.Advance(2 * time.Minute)
				}
			})
		}
	}
}
