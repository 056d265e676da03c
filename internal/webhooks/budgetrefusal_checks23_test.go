package webhooks_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"loginsign/ent/webhookevent"
	"loginsign/internal/webhooks"
)

// TestARedeliveryTheAddressBudgetRefusedIsNotSentByTheWorkersLater (review23): a test event
// or redelivery counts each receiver address it connects to against the developer's budget of
// new delivery hosts, so that a name whose DNS the developer answers with a new address at
// each lookup cannot probe one port of any number of hosts. But a refused redelivery was
// recorded as an ordinary failed attempt: its event, delivered or failed before, was pending
// again with its next attempt due in minutes, and a worker, which counts nothing, then sent
// it to whatever address the name had: the budget refused the send only to make it a little
// later. A refused redelivery now fails its event; one that was pending before (the workers
// were going to send it anyway) keeps its schedule and is delivered.
func TestARedeliveryTheAddressBudgetRefusedIsNotSentByTheWorkersLater(t *testing.T) {
	t.Parallel()
	// The event's first delivery (a worker's) reaches 127.0.0.1; the test event then spends
	// the budget of one on 127.0.0.2, where nothing listens; every later lookup answers
	// 127.0.0.1, new to the budget (a worker's delivery counts nothing).
	r := &rebinder{answers: [][]string{{"127.0.0.1"}, {"127.0.0.2"}, {"127.0.0.1"}}}
	f, rcv, svc := addressBudgetSetup(t, r, 1)
	w := svc.Worker
	dev := signedIn(f.owner)
	// Each answer closes its connection, so that each send dials (and counts) again.
	rcv.setAnswer(func(hit, int) (int, http.Header) {
		return http.StatusNoContent, http.Header{"Connection": {"close"}}
	})

	delivered := f.enqueue(t, f.app, 1)[0]
	drain(t, w)
	if ev := f.event(t, delivered); ev.Status != webhookevent.StatusDelivered || len(rcv.Hits()) != 1 {
		t.Fatalf("the event's first delivery: %s, %d requests", ev.Status, len(rcv.Hits()))
	}
	if ev, err := svc.Test(dev, f.app.ID); err != nil || ev.Status != webhookevent.StatusFailed {
		t.Fatalf("the test event to 127.0.0.2: %v %v", ev, err)
	}
	ev, err := svc.Redeliver(dev, f.app.ID, delivered)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ev.LastError, "too many new receiver addresses") {
		t.Fatalf("the redelivery past the budget: %s %q, want it refused by the budget", ev.Status, ev.LastError)
	}
	f.clock.Advance(time.Hour)
	drain(t, w)
	if ev := f.event(t, delivered); ev.Status != webhookevent.StatusFailed || len(rcv.Hits()) != 1 {
		t.Errorf("an hour after the refused redelivery: %s, the receiver got %d requests; want it failed, not sent again", ev.Status, len(rcv.Hits())-1)
	}

	// An event on its way (pending, not yet delivered) that the developer redelivers past the
	// budget stays on its way: the workers deliver it as they would have.
	pending := f.enqueue(t, f.app, 1)[0]
	ev, err = svc.Redeliver(dev, f.app.ID, pending)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Status != webhookevent.StatusPending || !strings.Contains(ev.LastError, "too many new receiver addresses") {
		t.Fatalf("a pending event's redelivery past the budget: %s %q, want it pending, refused by the budget", ev.Status, ev.LastError)
	}
	f.clock.Advance(webhooks.RetrySchedule[0] + time.Minute)
	drain(t, w)
	if ev := f.event(t, pending); ev.Status != webhookevent.StatusDelivered {
		t.Errorf("the pending event after its next attempt: %s %q, want it delivered", ev.Status, ev.LastError)
	}
}
