package webhooks_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/ent/webhookevent"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
	"loginsign/internal/webhooks"
)

// verifyStandardWebhook is an independent implementation of the receiver's check in the
// Standard Webhooks specification: the signed content is "msg_id.timestamp.payload", the key
// is the base64 part of the whsec_ secret, the header holds space-separated "v1,<base64>"
// signatures, and timestamps more than five minutes off are refused.
func verifyStandardWebhook(secret string, h http.Header, body []byte, now time.Time) bool {
	msgID, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if msgID == "" || ts == "" || sigs == "" {
		return false
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || now.Sub(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		return false
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msgID + "." + ts + "." + string(body)))
	want := m.Sum(nil)
	for _, s := range strings.Fields(sigs) {
		version, sig, ok := strings.Cut(s, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err == nil && hmac.Equal(got, want) {
			return true
		}
	}
	return false
}

func headerOf(h hit) http.Header {
	return http.Header{"Webhook-Id": {h.ID}, "Webhook-Timestamp": {h.Timestamp}, "Webhook-Signature": {h.Signature}}
}

func TestDeliveryIsSignedPerStandardWebhooksAndKeepsTheBody(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		rcv := newReceiver(t)
		f := newFixture(t, db, rcv.URL+"/hooks/loginsign")
		ids := f.enqueue(t, f.app, 1)
		drain(t, f.worker(db))

		hits := rcv.Hits()
		if len(hits) != 1 {
			t.Fatalf("receiver got %d requests, want 1", len(hits))
		}
		h := hits[0]
		if !verifyStandardWebhook(f.secret, headerOf(h), h.Body, f.clock.Now()) {
			t.Errorf("signature %q does not verify", h.Signature)
		}
		if verifyStandardWebhook("whsec_"+base64.StdEncoding.EncodeToString([]byte("another key")), headerOf(h), h.Body, f.clock.Now()) {
			t.Error("signature verifies with another secret")
		}
		tampered := append([]byte(nil), h.Body...)
		tampered[len(tampered)-2] ^= 1
		if verifyStandardWebhook(f.secret, headerOf(h), tampered, f.clock.Now()) {
			t.Error("signature verifies a changed body")
		}
		ev := f.event(t, ids[0])
		if h.ID != ev.ID || string(h.Body) != ev.Payload || h.ContentType != "application/json" || h.Path != "/hooks/loginsign" {
			t.Errorf("got id %q body %s type %q path %q; want %q %s application/json /hooks/loginsign", h.ID, h.Body, h.ContentType, h.Path, ev.ID, ev.Payload)
		}
		if h.Timestamp != strconv.FormatInt(f.clock.Now().Unix(), 10) {
			t.Errorf("webhook-timestamp %s, want %d", h.Timestamp, f.clock.Now().Unix())
		}
		if ev.Status != webhookevent.StatusDelivered || ev.Attempts != 1 || ev.DeliveredAt == nil || len(ev.Edges.Deliveries) != 1 {
			t.Fatalf("event after delivery: %+v", ev)
		}
		if a := ev.Edges.Deliveries[0]; a.Attempt != 1 || a.StatusCode != http.StatusNoContent || a.Error != "" {
			t.Errorf("attempt: %+v", a)
		}
	})
}

func TestReceiverDownForManyAttemptsThenUpGetsEveryEventWithTheSameID(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		rcv := newReceiver(t)
		const downFor = 7 // attempts answered 503 for every event
		rcv.setAnswer(func(h hit, n int) (int, http.Header) {
			if n <= downFor {
				return http.StatusServiceUnavailable, nil
			}
			return http.StatusOK, nil
		})
		f := newFixture(t, db, rcv.URL)
		ids := f.enqueue(t, f.app, 5)
		w := f.worker(db)
		start := f.clock.Now()
		for round := 0; round <= downFor; round++ {
			drain(t, w)
			if round < downFor {
				ev := f.event(t, ids[0])
				if ev.Status != webhookevent.StatusPending || ev.Attempts != round+1 {
					t.Fatalf("round %d: status %s attempts %d", round, ev.Status, ev.Attempts)
				}
				// The next attempt waits as the schedule says; the clock jumps there.
				if got, want := ev.NextAttemptAt.Sub(f.clock.Now()), webhooks.RetrySchedule[round]; got != want {
					t.Fatalf("round %d: next attempt in %v, want %v", round, got, want)
				}
				drain(t, w) // nothing is due before then
				f.clock.Set(ev.NextAttemptAt)
			}
		}
		if elapsed := f.clock.Now().Sub(start); elapsed < 17*time.Hour {
			t.Errorf("the clock moved %v; the schedule should span over 17 h by the 8th attempt", elapsed)
		}
		perID := map[string]int{}
		for _, h := range rcv.Hits() {
			perID[h.ID]++
			sent, _ := strconv.ParseInt(h.Timestamp, 10, 64)
			if !verifyStandardWebhook(f.secret, headerOf(h), h.Body, time.Unix(sent, 0)) {
				t.Errorf("retry of %s is not signed correctly", h.ID)
			}
		}
		for _, id := range ids {
			ev := f.event(t, id)
			if ev.Status != webhookevent.StatusDelivered || ev.Attempts != downFor+1 || perID[id] != downFor+1 {
				t.Errorf("%s: status %s attempts %d requests %d; want delivered after %d", id, ev.Status, ev.Attempts, perID[id], downFor+1)
			}
			if len(ev.Edges.Deliveries) != downFor+1 || ev.Edges.Deliveries[0].StatusCode != 503 || ev.Edges.Deliveries[0].Error == "" {
				t.Errorf("%s: delivery log %+v", id, ev.Edges.Deliveries)
			}
		}
		if len(perID) != len(ids) {
			t.Errorf("receiver saw %d distinct webhook-ids, want %d", len(perID), len(ids))
		}
	})
}

func TestEventFailsAfterTheLastScheduledAttempt(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		rcv := newReceiver(t)
		rcv.setAnswer(func(hit, int) (int, http.Header) { return http.StatusInternalServerError, nil })
		f := newFixture(t, db, rcv.URL)
		id := f.enqueue(t, f.app, 1)[0]
		w := f.worker(db)
		for range webhooks.MaxAttempts + 2 {
			drain(t, w)
			f.clock.Advance(25 * time.Hour)
		}
		ev := f.event(t, id)
		if ev.Status != webhookevent.StatusFailed || ev.Attempts != webhooks.MaxAttempts || len(rcv.Hits()) != webhooks.MaxAttempts {
			t.Fatalf("status %s attempts %d requests %d; want failed after %d", ev.Status, ev.Attempts, len(rcv.Hits()), webhooks.MaxAttempts)
		}
		if !strings.HasPrefix(ev.LastError, "HTTP 500") || ev.LastStatusCode != 500 {
			t.Errorf("last error %q code %d", ev.LastError, ev.LastStatusCode)
		}
	})
}

func TestCommittedEventIsDeliveredByAWorkerStartedLater(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		rcv := newReceiver(t)
		f := newFixture(t, db, rcv.URL)
		// The server commits the change and its event, then dies before any worker runs.
		id := f.enqueue(t, f.app, 1)[0]
		f.clock.Advance(time.Hour)
		drain(t, f.worker(db))
		if hits := rcv.Hits(); len(hits) != 1 || hits[0].ID != id {
			t.Fatalf("hits %+v, want one for %s", hits, id)
		}
	})
}

func TestWorkerKilledMidDeliveryOnlyDelaysTheEvent(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		rcv := newReceiver(t)
		f := newFixture(t, db, rcv.URL)
		id := f.enqueue(t, f.app, 1)[0]
		lease := time.Minute
		dying := f.worker(db, func(c *webhooks.WorkerConfig) { c.Lease = lease })
		claimed, err := dying.Claim(context.Background(), 10)
		if err != nil || len(claimed) != 1 || claimed[0].ID != id {
			t.Fatalf("claim: %v %v", claimed, err)
		}
		// The claiming worker dies here, before it sends anything. A restarted one waits
		// out the lease, then delivers.
		restarted := f.worker(db)
		drain(t, restarted)
		if n := len(rcv.Hits()); n != 0 {
			t.Fatalf("delivered %d times while the dead worker's lease held", n)
		}
		f.clock.Advance(lease + time.Second)
		drain(t, restarted)
		if hits := rcv.Hits(); len(hits) != 1 || hits[0].ID != id {
			t.Fatalf("hits %+v, want one for %s", hits, id)
		}
		if ev := f.event(t, id); ev.Status != webhookevent.StatusDelivered || ev.Attempts != 1 {
			t.Errorf("status %s attempts %d", ev.Status, ev.Attempts)
		}
	})
}

func TestTwoInstancesNeverDeliverOneAttemptTwice(t *testing.T) {
	t.Parallel()
	for backend, dbURL := range storetest.URLs(t) {
		t.Run(backend, func(t *testing.T) {
			// Two server instances: two connection pools on one database.
			a, b := storetest.Open(t, dbURL), storetest.Open(t, dbURL)
			rcv := newReceiver(t)
			// Every event fails its first attempt and succeeds on its second.
			rcv.setAnswer(func(h hit, n int) (int, http.Header) {
				if n == 1 {
					return http.StatusBadGateway, nil
				}
				return http.StatusOK, nil
			})
			f := newFixture(t, a, rcv.URL)
			const events = 120
			ids := f.enqueue(t, f.app, events)
			workers := []*webhooks.Worker{
				f.worker(a, func(c *webhooks.WorkerConfig) { c.Batch = 7; c.Parallel = 4 }),
				f.worker(b, func(c *webhooks.WorkerConfig) { c.Batch = 5; c.Parallel = 4 }),
			}
			runConcurrently := func() {
				var wg sync.WaitGroup
				for _, w := range workers {
					wg.Go(func() { drain(t, w) })
				}
				wg.Wait()
			}
			runConcurrently()
			f.clock.Advance(webhooks.RetrySchedule[0] + time.Second)
			runConcurrently()

			perID := map[string]int{}
			for _, h := range rcv.Hits() {
				perID[h.ID]++
			}
			for _, id := range ids {
				if perID[id] != 2 {
					t.Errorf("%s was sent %d times, want 2 (one per attempt)", id, perID[id])
				}
				if ev := f.event(t, id); ev.Status != webhookevent.StatusDelivered || len(ev.Edges.Deliveries) != 2 {
					t.Errorf("%s: status %s, %d attempts logged", id, ev.Status, len(ev.Edges.Deliveries))
				}
			}
		})
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		retryAfter func(now time.Time) string
		wantWait   time.Duration
	}{
		{"delay seconds longer than the schedule", func(time.Time) string { return "3600" }, time.Hour},
		{"HTTP date", func(now time.Time) string { return now.Add(2 * time.Hour).Format(http.TimeFormat) }, 2 * time.Hour},
		{"shorter than the schedule keeps the schedule", func(time.Time) string { return "1" }, webhooks.RetrySchedule[0]},
		{"garbage is ignored", func(time.Time) string { return "soon" }, webhooks.RetrySchedule[0]},
		{"capped at 24 h", func(time.Time) string { return "9999999" }, 24 * time.Hour},
	}
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				rcv := newReceiver(t)
				f := newFixture(t, db, rcv.URL)
				rcv.setAnswer(func(hit, int) (int, http.Header) {
					return http.StatusTooManyRequests, http.Header{"Retry-After": {tt.retryAfter(f.clock.Now())}}
				})
				id := f.enqueue(t, f.app, 1)[0]
				drain(t, f.worker(db))
				ev := f.event(t, id)
				if got := ev.NextAttemptAt.Sub(f.clock.Now()); got != tt.wantWait || ev.Status != webhookevent.StatusPending {
					t.Errorf("next attempt in %v (status %s), want %v", got, ev.Status, tt.wantWait)
				}
			})
		}
	})
}

func TestGoneDisablesTheEndpointAndStopsItsEvents(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		rcv := newReceiver(t)
		rcv.setAnswer(func(hit, int) (int, http.Header) { return http.StatusGone, nil })
		f := newFixture(t, db, rcv.URL)
		ids := f.enqueue(t, f.app, 3)
		drain(t, f.worker(db, func(c *webhooks.WorkerConfig) { c.Batch = 1 }))
		if n := len(rcv.Hits()); n != 1 {
			t.Errorf("receiver got %d requests after 410, want 1", n)
		}
		app, _ := db.Application.Get(context.Background(), f.app.ID)
		if app.WebhookDisabledAt == nil {
			t.Error("endpoint not disabled")
		}
		for _, id := range ids {
			if ev := f.event(t, id); ev.Status != webhookevent.StatusDisabled {
				t.Errorf("%s: status %s, want disabled", id, ev.Status)
			}
		}
		// Events queued later are not sent either.
		later := f.enqueue(t, app, 1)[0]
		f.clock.Advance(time.Hour)
		drain(t, f.worker(db))
		if n := len(rcv.Hits()); n != 1 {
			t.Errorf("receiver got %d requests, want still 1", n)
		}
		if ev := f.event(t, later); ev.Status != webhookevent.StatusDisabled || ev.Attempts != 0 {
			t.Errorf("later event: status %s attempts %d", ev.Status, ev.Attempts)
		}
	})
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		target := newReceiver(t)
		rcv := newReceiver(t)
		rcv.setAnswer(func(hit, int) (int, http.Header) {
			return http.StatusFound, http.Header{"Location": {target.URL}}
		})
		f := newFixture(t, db, rcv.URL)
		id := f.enqueue(t, f.app, 1)[0]
		drain(t, f.worker(db))
		if n := len(target.Hits()); n != 0 {
			t.Errorf("redirect target got %d requests", n)
		}
		if ev := f.event(t, id); ev.Status != webhookevent.StatusPending || ev.LastStatusCode != http.StatusFound {
			t.Errorf("status %s code %d; want pending after a 302", ev.Status, ev.LastStatusCode)
		}
	})
}

func TestPrivateTargetsAreRefusedOutsideDevMode(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t)
	port := rcv.Listener.Addr().(interface{ AddrPort() netip.AddrPort }).AddrPort().Port()
	p := strconv.Itoa(int(port))
	tests := []struct{ name, url string }{
		{"IPv4 loopback", "http://127.0.0.1:" + p + "/"},
		{"private 10/8", "http://10.0.0.1/"},
		{"link-local metadata address", "http://169.254.169.254/latest/meta-data/"},
		{"IPv6 loopback", "http://[::1]:" + p + "/"},
		{"hostname resolving to loopback", "http://localhost:" + p + "/"},
		{"CGNAT", "http://100.64.0.1/"},
		{"IPv4-mapped IPv6 loopback", "http://[::ffff:127.0.0.1]:" + p + "/"},
		{"IPv4-compatible IPv6 loopback", "http://[::7f00:1]:" + p + "/"},
		{"unspecified", "http://0.0.0.0:" + p + "/"},
	}
	db := storetest.SQLite(t)
	f := newFixture(t, db, rcv.URL)
	strict := f.worker(db, func(c *webhooks.WorkerConfig) { c.AllowPrivate = false })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app, _ := f.newApp(t, tt.url)
			id := f.enqueue(t, app, 1)[0]
			drain(t, strict)
			ev := f.event(t, id)
			if ev.Attempts != 1 || ev.LastError != webhooks.UnreachableHost {
				t.Errorf("attempts %d, last error %q; want a refused attempt", ev.Attempts, ev.LastError)
			}
		})
	}
	if n := len(rcv.Hits()); n != 0 {
		t.Errorf("receiver on loopback got %d requests outside dev mode", n)
	}
	// Dev mode reaches the same loopback receiver.
	app, _ := f.newApp(t, rcv.URL)
	f.enqueue(t, app, 1)
	drain(t, f.worker(db))
	if n := len(rcv.Hits()); n != 1 {
		t.Errorf("dev mode: receiver got %d requests, want 1", n)
	}
}

func TestPublicAddr(t *testing.T) {
	t.Parallel()
	tests := map[string]bool{
		"93.184.215.14": true, "2606:4700::6810:84e5": true, "8.8.8.8": true,
		"127.0.0.1": false, "127.8.9.10": false, "10.1.2.3": false, "172.16.0.1": false, "192.168.1.1": false,
		"169.254.169.254": false, "100.64.0.1": false, "100.127.255.254": false, "0.0.0.0": false,
		"224.0.0.1": false, "255.255.255.255": false, "::1": false, "::": false, "fe80::1": false,
		"fc00::1": false, "fd12::1": false, "ff02::1": false, "::ffff:10.0.0.1": false,
		"64:ff9b::7f00:1": false, "64:ff9b::808:808": true, "198.18.0.1": false,
		"::ffff:8.8.8.8": true, "::ffff:127.0.0.1": false,
		// IPv4-compatible and IPv4-translated addresses are refused whatever they carry.
		"::7f00:1": false, "::a00:1": false, "::808:808": false, "::ffff:0:7f00:1": false, "::ffff:0:808:808": false,
	}
	for addr, want := range tests {
		if got := webhooks.PublicAddr(netip.MustParseAddr(addr)); got != want {
			t.Errorf("PublicAddr(%s) = %v, want %v", addr, got, want)
		}
	}
}

func TestUnreadableSecretIsALoggedFailedAttempt(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	rcv := newReceiver(t)
	f := newFixture(t, db, rcv.URL)
	db.Application.UpdateOne(f.app).SetWebhookSecret([]byte("not sealed")).ExecX(context.Background())
	id := f.enqueue(t, f.app, 1)[0]
	drain(t, f.worker(db))
	if ev := f.event(t, id); ev.Attempts != 1 || !strings.Contains(ev.LastError, "secret") || len(rcv.Hits()) != 0 {
		t.Errorf("attempts %d error %q hits %d", ev.Attempts, ev.LastError, len(rcv.Hits()))
	}
}

func TestSlowReceiverTimesOutAndIsRetried(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	release := make(chan struct{})
	rcv := newReceiver(t)
	rcv.setAnswer(func(hit, int) (int, http.Header) {
		<-release
		return http.StatusOK, nil
	})
	defer close(release)
	f := newFixture(t, db, rcv.URL)
	id := f.enqueue(t, f.app, 1)[0]
	drain(t, f.worker(db, func(c *webhooks.WorkerConfig) { c.Timeout = 100 * time.Millisecond }))
	ev := f.event(t, id)
	if ev.Status != webhookevent.StatusPending || ev.Attempts != 1 || ev.LastError != "timeout after 100ms" || ev.LastStatusCode != 0 {
		t.Errorf("status %s attempts %d error %q code %d; want a timed-out attempt", ev.Status, ev.Attempts, ev.LastError, ev.LastStatusCode)
	}
}

func TestRetryWaitsGetJitterWithinTenPercent(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	rcv := newReceiver(t)
	rcv.setAnswer(func(hit, int) (int, http.Header) { return http.StatusServiceUnavailable, nil })
	f := newFixture(t, db, rcv.URL)
	ids := f.enqueue(t, f.app, 20)
	drain(t, f.worker(db, func(c *webhooks.WorkerConfig) { c.Jitter = nil }))
	distinct := map[time.Duration]bool{}
	for _, id := range ids {
		wait := f.event(t, id).NextAttemptAt.Sub(f.clock.Now())
		if wait < 4500*time.Millisecond || wait > 5500*time.Millisecond {
			t.Errorf("wait %v outside 5 s ± 10 %%", wait)
		}
		distinct[wait] = true
	}
	if len(distinct) < 2 {
		t.Error("every retry waits exactly as long: no jitter")
	}
}

func TestGoneInTheMiddleOfABatchStopsTheWholeBatch(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		rcv := newReceiver(t)
		rcv.setAnswer(func(hit, int) (int, http.Header) { return http.StatusGone, nil })
		f := newFixture(t, db, rcv.URL)
		other, _ := f.newApp(t, newReceiver(t).URL)
		ids := f.enqueue(t, f.app, 40)
		otherID := f.enqueue(t, other, 1)[0]
		// Both applications are one developer's; PerOwner (by default half of Parallel)
		// would split the batch this test is about.
		drain(t, f.worker(db, func(c *webhooks.WorkerConfig) { c.Parallel = 2; c.PerOwner = 5 }))
		if n := len(rcv.Hits()); n < 1 || n > 40 {
			t.Errorf("%d requests", n)
		}
		logged := 0
		for _, id := range ids {
			ev := f.event(t, id)
			if ev.Status != webhookevent.StatusDisabled {
				t.Errorf("%s: status %s, want disabled", id, ev.Status)
			}
			logged += len(ev.Edges.Deliveries)
		}
		if logged < 1 {
			t.Error("the 410 attempt is not in the delivery log")
		}
		if ev := f.event(t, otherID); ev.Status != webhookevent.StatusDelivered {
			t.Errorf("another application's event: %s, want delivered", ev.Status)
		}
	})
}

// A receiver's answer is read up to 16 KiB of headers: one with more is a failed attempt
// that says why, not 10 MB read and held per delivery.
func TestAnAnswerWithHugeHeadersIsAFailedAttempt(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	rcv := newReceiver(t)
	rcv.setAnswer(func(hit, int) (int, http.Header) {
		h := http.Header{}
		for i := range 100 { // 100 KiB
			h.Set(fmt.Sprintf("X-Padding-%d", i), strings.Repeat("x", 1024))
		}
		return http.StatusOK, h
	})
	f := newFixture(t, db, rcv.URL)
	id := f.enqueue(t, f.app, 1)[0]
	drain(t, f.worker(db))
	ev := f.event(t, id)
	const want = "the answer's headers exceed 16 KiB"
	if ev.Status != webhookevent.StatusPending || ev.Attempts != 1 || ev.LastError != want || ev.LastStatusCode != 0 {
		t.Errorf("status %s, %d attempts, last error %q, code %d; want a failed attempt: %q", ev.Status, ev.Attempts, ev.LastError, ev.LastStatusCode, want)
	}
	if len(ev.Edges.Deliveries) != 1 || ev.Edges.Deliveries[0].Error != want {
		t.Errorf("delivery log %+v, want one attempt with %q", ev.Edges.Deliveries, want)
	}
}

// failingTransport fails every request with err, as the network would.
type failingTransport struct{ err error }

func (t failingTransport) RoundTrip(*http.Request) (*http.Response, error) { return nil, t.err }

// Delivery errors are read by the developer: they name what failed but never an address of
// LoginSign's infrastructure (the DNS resolver, the local socket).
func TestDeliveryErrorsShowNoInfrastructureAddress(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	// A real refused connection: a closed port on loopback (dev mode may dial it).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String() + "/hook"
	ln.Close()
	f := newFixture(t, db, closed)
	id := f.enqueue(t, f.app, 1)[0]
	drain(t, f.worker(db))
	if ev := f.event(t, id); ev.LastError != "connection refused" {
		t.Errorf("refused connection: last error %q, want %q", ev.LastError, "connection refused")
	}
	// What the resolver answers (the outside world, so a transport that fails as net does).
	for _, tt := range []struct {
		name string
		err  error
		want string
	}{
		{"unknown host", &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "hooks.example.test", Server: "10.0.0.53:53", IsNotFound: true}},
			webhooks.UnreachableHost}, // as a name resolving to a private address: no map of internal names
		{"resolver timeout", &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "i/o timeout", Name: "hooks.example.test", Server: "[fd00::53]:53", IsTimeout: true}},
			webhooks.UnreachableHost},
		{"reset", &net.OpError{Op: "read", Net: "tcp", Source: &net.TCPAddr{IP: net.ParseIP("10.1.2.3"), Port: 41000},
			Addr: &net.TCPAddr{IP: net.ParseIP("203.0.113.9"), Port: 443}, Err: os.NewSyscallError("read", syscall.ECONNRESET)},
			"connection reset by the receiver"},
		{"other", errors.New("proxy 10.0.0.8:3128 said no"), "proxy [address] said no"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			app, _ := f.newApp(t, "https://hooks.example.test/hook")
			id := f.enqueue(t, app, 1)[0]
			drain(t, f.worker(db, func(c *webhooks.WorkerConfig) { c.Client = &http.Client{Transport: failingTransport{tt.err}} }))
			if ev := f.event(t, id); ev.LastError != tt.want {
				t.Errorf("last error %q, want %q", ev.LastError, tt.want)
			}
		})
	}
}

// waitFor receives from ch; it fails the test if nothing comes within a minute, which only
// guards against hanging: the tests assert what happened before, not how fast.
func waitFor[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(time.Minute):
		t.Fatalf("%s never happened", what)
		panic("unreachable")
	}
}

func TestABacklogTakesAtMostFourEventsOfAClaim(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, "https://a.example/hook")
		other, _ := f.newApp(t, "https://b.example/hook")
		backlog := f.enqueue(t, f.app, 100) // the older events
		f.clock.Advance(time.Second)
		theirs := f.enqueue(t, other, 1)[0]

		// perApp groups claimed event ids by application.
		perApp := func(evs []*ent.WebhookEvent) map[string][]string {
			m := map[string][]string{}
			for _, ev := range evs {
				m[ev.ApplicationID] = append(m[ev.ApplicationID], ev.ID)
			}
			return m
		}
		first, err := f.worker(db).Claim(context.Background(), 32)
		if err != nil {
			t.Fatal(err)
		}
		got := perApp(first)
		if len(got[other.ID]) != 1 || got[other.ID][0] != theirs {
			t.Errorf("the first claim holds %v of the other application, want its event %s", got[other.ID], theirs)
		}
		mine := got[f.app.ID]
		if len(mine) != 4 || slices.ContainsFunc(mine, func(id string) bool { return !slices.Contains(backlog, id) }) {
			t.Errorf("the first claim holds %d of the backlog's events, want four", len(mine))
		}

		// While four of its events are claimed, no worker (this one or another) claims more
		// of the backlog: the count is the database's.
		second, err := f.worker(db).Claim(context.Background(), 32)
		if err != nil || len(second) != 0 {
			t.Fatalf("second claim: %d events, %v; want none while four are claimed", len(second), err)
		}
		// Once the claims' lease ends (their worker died), the same events are claimable.
		f.clock.Advance(2 * time.Minute)
		third, err := f.worker(db).Claim(context.Background(), 32)
		if err != nil || !slices.Equal(perApp(third)[f.app.ID], mine) || len(third) != 5 {
			t.Fatalf("after the lease: %d events, %v; want the same four and the other application's", len(third), err)
		}
	})
}

func TestOtherApplicationsAreDeliveredInTheFirstBatchNextToABacklog(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		down := newReceiver(t)
		down.setAnswer(func(hit, int) (int, http.Header) { return http.StatusServiceUnavailable, nil })
		up := newReceiver(t)
		f := newFixture(t, db, down.URL)
		other, _ := f.newApp(t, up.URL)
		f.enqueue(t, f.app, 100)
		f.clock.Advance(time.Second)
		theirs := f.enqueue(t, other, 1)[0]

		n, err := f.worker(db).DeliverDue(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if hits := up.Hits(); len(hits) != 1 || hits[0].ID != theirs {
			t.Errorf("the other application got %d requests in the first batch, want its event", len(hits))
		}
		if got := len(down.Hits()); got != 4 || n != 5 {
			t.Errorf("first batch: %d events, %d sent to the backlog's endpoint; want 5 and 4", n, got)
		}
		if ev := f.event(t, theirs); ev.Status != webhookevent.StatusDelivered {
			t.Errorf("the other application's event is %s, want delivered", ev.Status)
		}
	})
}

func TestASlowDeliveryDoesNotHoldTheNextClaim(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		hanging, arrived, release := newReceiver(t), make(chan string, 100), make(chan struct{})
		hanging.setAnswer(func(h hit, _ int) (int, http.Header) {
			arrived <- h.ID
			<-release
			return http.StatusOK, nil
		})
		up, delivered := newReceiver(t), make(chan string, 1)
		up.setAnswer(func(h hit, _ int) (int, http.Header) {
			delivered <- h.ID
			return http.StatusOK, nil
		})
		f := newFixture(t, db, hanging.URL)
		other, _ := f.newApp(t, up.URL)
		slow := f.enqueue(t, f.app, 10)
		w := f.worker(db)
		ctx, cancel := context.WithCancel(context.Background())
		stopped := make(chan struct{})
		go func() { defer close(stopped); w.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-stopped }) // Run waits for its deliveries,
		t.Cleanup(func() { close(release) })      // which the receiver lets go first

		// Four of the slow endpoint's events hang in their deliveries (until the 10 s
		// timeout); then another application's event comes due.
		for range 4 {
			waitFor(t, arrived, "a delivery to the slow endpoint")
		}
		theirs := f.enqueue(t, other, 1)[0]
		w.Wake()
		if got := waitFor(t, delivered, "the other application's delivery"); got != theirs {
			t.Fatalf("delivered %s, want %s", got, theirs)
		}
		attempts := 0
		for _, id := range slow {
			attempts += f.event(t, id).Attempts
		}
		if attempts != 0 || len(hanging.Hits()) != 4 {
			t.Errorf("the other application's event was sent after %d of the slow endpoint's attempts had ended (%d sent); want it sent while all four hang",
				attempts, len(hanging.Hits()))
		}
	})
}

// A developer may own many applications. If their endpoints never answer and only each
// application were capped, a few of them would fill every delivery slot with older events,
// and other developers' events (back-channel logouts among them) would wait behind theirs.
func TestOneDevelopersApplicationsTogetherHoldAtMostPerOwnerClaims(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, "https://hang0.example/hook")
		// Five applications of one developer, four due events each: more than the 16
		// events a claim of one worker takes, and older than anyone else's.
		var theirs []string
		for i := range 5 {
			app := f.app
			if i > 0 {
				app, _ = f.newApp(t, fmt.Sprintf("https://hang%d.example/hook", i))
			}
			theirs = append(theirs, f.enqueue(t, app, 4)...)
		}
		f.clock.Advance(time.Second)
		victim, _ := f.newAppOf(t, newUser(t, db), "https://victim.example/hook")
		first := f.enqueue(t, victim, 1)[0]

		// count tells the claimed events of the one developer from the other's.
		count := func(evs []*ent.WebhookEvent) (developer int, other []string) {
			for _, ev := range evs {
				if slices.Contains(theirs, ev.ID) {
					developer++
				} else {
					other = append(other, ev.ID)
				}
			}
			return developer, other
		}
		claimed, err := f.worker(db).Claim(ctx, 16) // PerOwner is half of Parallel (16): 8
		if err != nil {
			t.Fatal(err)
		}
		if n, other := count(claimed); n != 8 || !slices.Equal(other, []string{first}) {
			t.Errorf("the first claim holds %d of one developer's events and %v of the other's; want 8 and [%s]", n, other, first)
		}

		// While those are claimed (their deliveries hang), another worker claims none of
		// that developer's events, and the other developer's next event at once.
		next := f.enqueue(t, victim, 1)[0]
		claimed, err = f.worker(db).Claim(ctx, 16)
		if err != nil {
			t.Fatal(err)
		}
		if n, other := count(claimed); n != 0 || !slices.Equal(other, []string{next}) {
			t.Errorf("the second claim holds %d of one developer's events and %v of the other's; want 0 and [%s]", n, other, next)
		}
	})
}

// A back-channel logout ends sessions at a relying party: it is claimed before webhooks that
// came due earlier.
func TestABackchannelLogoutIsClaimedBeforeOlderWebhooks(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, "https://a.example/hook")
		f.enqueue(t, f.app, 3)
		other, _ := f.newAppOf(t, newUser(t, db), "https://b.example/hook")
		f.enqueue(t, other, 3)
		f.clock.Advance(time.Minute)
		rp, err := db.Application.Create().SetOwnerID(newUser(t, db).ID).SetName("Relying party").SetSecretHash("x").
			SetBackchannelLogoutURI("https://rp.example/logout").Save(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var logout string
		err = db.Tx(ctx, func(tx *ent.Tx) error {
			ev, err := webhooks.EnqueueLogout(ctx, tx, rp, map[string]any{"sid": "s1"}, f.clock.Now())
			if ev != nil {
				logout = ev.ID
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}

		claimed, err := f.worker(db).Claim(ctx, 1)
		if err != nil || len(claimed) != 1 || claimed[0].ID != logout {
			var got []string
			for _, ev := range claimed {
				got = append(got, ev.Type)
			}
			t.Fatalf("a claim of one took %v (%v); want the back-channel logout %s", got, err, logout)
		}
	})
}

// An application's back-channel logouts and webhooks are claimed together under its cap:
// the logouts first, then the oldest webhooks, PerApplication (4) in all.
func TestAnApplicationsLogoutsAndWebhooksTogetherHoldAtMostPerApplicationClaims(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, "https://a.example/hook")
		var webhooksOf []string
		for range 5 {
			webhooksOf = append(webhooksOf, f.enqueue(t, f.app, 1)...)
			f.clock.Advance(time.Second)
		}
		logouts := queueLogouts(t, f, 2)
		slices.Sort(logouts) // (queued at one instant: in order of id)

		claimed, err := f.worker(db).Claim(ctx, 32)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, ev := range claimed {
			got = append(got, ev.ID)
		}
		if want := append(logouts, webhooksOf[:2]...); !slices.Equal(got, want) {
			t.Errorf("claimed %v, want the two logouts and the two oldest webhooks %v", got, want)
		}
	})
}

// queueLogouts gives f.app a back-channel logout URI and queues n logouts for it.
func queueLogouts(t *testing.T, f *fixture, n int) []string {
	t.Helper()
	ctx := context.Background()
	f.app = f.db.Application.UpdateOne(f.app).SetBackchannelLogoutURI("https://a.example/logout").SaveX(ctx)
	var ids []string
	err := f.db.Tx(ctx, func(tx *ent.Tx) error {
		for i := range n {
			ev, err := webhooks.EnqueueLogout(ctx, tx, f.app, map[string]any{"sid": fmt.Sprint("s", i)}, f.clock.Now())
			if err != nil {
				return err
			}
			ids = append(ids, ev.ID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// One developer's backlog (events queued for an endpoint that never answers, say) must not
// slow the claims, and so the deliveries and back-channel logouts, of every application: what
// a claim reads does not grow with an application's backlog.
func TestAClaimReadsNoMoreRowsBehindALargerBacklog(t *testing.T) {
	t.Parallel()
	for backend, url := range storetest.URLs(t) {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			db, reads := storetest.Measured(t, url, "webhook_events")
			f := newFixture(t, db, "https://backlog.example/hook")
			queueLogouts(t, f, 1)
			for range 3 {
				other, _ := f.newAppOf(t, newUser(t, db), "https://other.example/hook")
				f.enqueue(t, other, 2)
			}
			w := f.worker(db)
			claim := func() int {
				t.Helper()
				before := reads()
				if evs, err := w.Claim(ctx, 16); err != nil || len(evs) != 10 {
					t.Fatalf("claimed %d events (%v), want 10: 4 of the backlog's application, 2 of each other", len(evs), err)
				}
				read := reads().Minus(before).Of("webhook_events")
				f.clock.Advance(2 * time.Minute) // the lease ends: the next claim finds the same events due
				return read
			}
			f.enqueue(t, f.app, 100)
			claim() // prepares its statements
			small := claim()
			f.enqueue(t, f.app, 4900)
			if big, allowed := claim(), storetest.NoMoreThan(db, small); big > allowed {
				t.Errorf("a claim read %d behind an application's backlog of 5,000 events, %d behind 100; want at most %d", big, small, allowed)
			}
		})
	}
}
