package webhooks_test

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"loginsign/ent/webhookevent"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
	"loginsign/internal/webhooks"
)

// rawReceiver is a receiver that answers every request with the bytes of answer, as they
// are: a status line and headers no httptest server writes (a reason phrase of any length,
// bytes that are not UTF-8). It counts the requests.
func rawReceiver(t *testing.T, answer string) (url string, hits func() int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	count := make(chan int, 1)
	count <- 0
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				req, err := http.ReadRequest(r)
				if err != nil {
					return
				}
				req.Body.Close()
				count <- <-count + 1
				c.Write([]byte(answer))
			}()
		}
	}()
	return "http://" + ln.Addr().String() + "/hook", func() int { n := <-count; count <- n; return n }
}

// TestAReceiversReasonPhraseIsBoundedInTheDeliveryLog: a receiver answers with a status line
// whose reason phrase is 12 KiB long (it fits under the 16 KiB the worker reads of an
// answer's headers). The delivery log quotes at most 256 bytes of an answer's body; the reason
// phrase went in whole, into the event's last error and into the attempt, so each manual send
// (216,000 in the log's 30 days for one account) stored 24 KiB of the receiver's choosing.
func TestAReceiversReasonPhraseIsBoundedInTheDeliveryLog(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		url, _ := rawReceiver(t, "HTTP/1.1 418 "+strings.Repeat("y", 12<<10)+"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		f := newFixture(t, db, url)
		id := f.enqueue(t, f.app, 1)[0]
		drain(t, f.worker(db))
		ev := f.event(t, id)
		if ev.Attempts != 1 || len(ev.Edges.Deliveries) != 1 {
			t.Fatalf("attempts %d with %d recorded, want 1", ev.Attempts, len(ev.Edges.Deliveries))
		}
		for what, text := range map[string]string{"last error": ev.LastError, "attempt's error": ev.Edges.Deliveries[0].Error} {
			if len(text) > webhooks.MaxErrorBytes || !strings.HasPrefix(text, "HTTP 418 yyy") {
				t.Errorf("%s of %d bytes (%.20q…), want at most %d starting with the status", what, len(text), text, webhooks.MaxErrorBytes)
			}
		}
	})
}

// TestAnAnswerThatIsNotTextIsRecordedAndRetriedOnSchedule: a receiver answers 400 with a NUL
// byte in its body, or with a reason phrase that is not UTF-8. PostgreSQL refuses either in a
// text column, so the attempt was never recorded: the event stayed at 0 attempts, came due
// again each time its lease ran out, and was sent once a minute for ever, past the retry
// schedule and its 10 attempts. The error is recorded as text, and the event fails after
// MaxAttempts like any other.
func TestAnAnswerThatIsNotTextIsRecordedAndRetriedOnSchedule(t *testing.T) {
	for name, answer := range map[string]string{
		"nul in body":   "HTTP/1.1 400 Bad Request\r\nContent-Length: 5\r\nConnection: close\r\n\r\nab\x00cd",
		"latin1 reason": "HTTP/1.1 400 Mauvaise requ\xeate\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
		"nul in reason": "HTTP/1.1 400 Bad\x00Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T, db *store.DB) {
				url, hits := rawReceiver(t, answer)
				f := newFixture(t, db, url)
				id := f.enqueue(t, f.app, 1)[0]
				w := f.worker(db)
				for range webhooks.MaxAttempts + 5 {
					drain(t, w)
					f.clock.Advance(25 * time.Hour) // past any wait of the schedule and any lease
				}
				ev := f.event(t, id)
				if ev.Status != webhookevent.StatusFailed || ev.Attempts != webhooks.MaxAttempts || len(ev.Edges.Deliveries) != webhooks.MaxAttempts {
					t.Errorf("status %s, attempts %d, %d recorded, want failed after %d", ev.Status, ev.Attempts, len(ev.Edges.Deliveries), webhooks.MaxAttempts)
				}
				if n := hits(); n != webhooks.MaxAttempts {
					t.Errorf("the receiver got %d requests, want %d", n, webhooks.MaxAttempts)
				}
				if !utf8.ValidString(ev.LastError) || strings.ContainsRune(ev.LastError, 0) || !strings.HasPrefix(ev.LastError, "HTTP 400 ") {
					t.Errorf("last error %q, want text starting with the status", ev.LastError)
				}
			})
		})
	}
}
