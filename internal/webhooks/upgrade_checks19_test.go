package webhooks_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/internal/store/storetest"
	"loginsign/internal/webhooks"
)

// switchingReceiver is an endpoint that answers every request 101 Switching Protocols and then
// holds the connection open, sending nothing, until the test ends. net/http hands a 101's
// connection to the caller as the answer's body, out of reach of the client's Timeout and of
// the request's context: reading it waited for ever.
func switchingReceiver(t *testing.T) string {
	t.Helper()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		buf.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		buf.Flush()
		<-release
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs first: the held connections end, then the server
	return srv.URL + "/hook"
}

// TestAnAnswerThatSwitchesProtocolsEndsAtTheAttemptsTimeout19: a receiver answering 101
// Switching Protocols and then keeping the connection open held the delivery for ever (the
// Timeout bounded connecting and the answer's headers, not the read of what net/http makes
// the body of a 101), and after the lease another worker claimed the event and was held too:
// one free account took every delivery slot of every instance, back-channel logouts
// included, a few a minute. The attempt now ends at its Timeout, as a failed one.
func TestAnAnswerThatSwitchesProtocolsEndsAtTheAttemptsTimeout19(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	f := newFixture(t, db, switchingReceiver(t))
	id := f.enqueue(t, f.app, 1)[0]
	w := f.worker(db, func(c *webhooks.WorkerConfig) { c.Timeout = 200 * time.Millisecond })
	done := make(chan error, 1)
	go func() {
		_, err := w.DeliverDue(context.Background())
		done <- err
	}()
	if err := waitFor(t, done, "the attempt answered 101 to end"); err != nil {
		t.Fatal(err)
	}
	ev := f.event(t, id)
	if ev.Status != "pending" || ev.Attempts != 1 || !strings.HasPrefix(ev.LastError, "HTTP 101") {
		t.Errorf("status %s, %d attempts, last error %q; want a failed attempt (HTTP 101…) to be retried", ev.Status, ev.Attempts, ev.LastError)
	}
}

// TestATestEventAnswered101IsAnsweredToo19: the test button delivers in the developer's
// request; against a receiver that answers 101 and holds the connection, the request never
// got its answer (and kept a server goroutine and a connection each, 30 a minute).
func TestATestEventAnswered101IsAnsweredToo19(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	f := newFixture(t, db, switchingReceiver(t))
	w := f.worker(db, func(c *webhooks.WorkerConfig) { c.Timeout = 200 * time.Millisecond })
	svc := &webhooks.Service{DB: db, Worker: w, Now: f.clock.Now}
	type answer struct {
		ev  *ent.WebhookEvent
		err error
	}
	done := make(chan answer, 1)
	go func() {
		ev, err := svc.Test(signedIn(f.owner), f.app.ID)
		done <- answer{ev, err}
	}()
	a := waitFor(t, done, "the test event's answer")
	if a.err != nil {
		t.Fatal(a.err)
	}
	if a.ev.Status != "failed" || !strings.HasPrefix(a.ev.LastError, "HTTP 101") {
		t.Errorf("test event %s, last error %q; want failed with HTTP 101", a.ev.Status, a.ev.LastError)
	}
}
