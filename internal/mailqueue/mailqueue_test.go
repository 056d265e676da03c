package mailqueue_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"loginsign/internal/mail"
	"loginsign/internal/mail/mailtest"
	"loginsign/internal/mailqueue"
	"loginsign/internal/seal"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

func queue(t *testing.T, db *store.DB, smtpURL string, retries ...time.Duration) *mailqueue.Queue {
	t.Helper()
	// One try per Send of the mail package, so each failure below is one of the queue's tries.
	sender, err := mail.New(mail.Config{URL: smtpURL, From: "LoginSign <no-reply@loginsign.test>", RetryDelays: []time.Duration{}})
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := seal.New([]byte("a test secret of sixteen bytes or more"), "queued mail")
	if err != nil {
		t.Fatal(err)
	}
	return &mailqueue.Queue{DB: db, Mail: sender, Seal: sealer, Retries: retries}
}

func run(t *testing.T, q *mailqueue.Queue) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); q.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

func notice(to, link string) mail.Message {
	return mail.Message{To: to, Subject: "Your account changed", Text: "Undo: " + link, Kind: "security_notice"}
}

func temporary() *smtp.SMTPError {
	return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
}

// A notice whose mail server refuses it for a while (four tries, where the mail package alone
// gave up after its first) arrives once the server takes mail again, once.
func TestANoticeArrivesAfterTheMailServerRefusedItForAWhile(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		srv := mailtest.Start(t)
		srv.FailNext(temporary(), temporary(), temporary())
		q := queue(t, db, srv.URL(), 10*time.Millisecond, 10*time.Millisecond, 10*time.Millisecond, 10*time.Millisecond)
		if err := q.Send(context.Background(), notice("pat@example.com", "https://login.example.com/undo?token=t1")); err != nil {
			t.Fatal(err)
		}
		run(t, q)
		m := srv.Wait(t, 1)[0]
		if m.To[0] != "pat@example.com" || !bytes.Contains(m.Data, []byte("token=t1")) {
			t.Fatalf("sent %v: %q", m.To, m.Text)
		}
		waitEmpty(t, db)
		if n := srv.Count(); n != 1 {
			t.Fatalf("%d messages sent, want the one", n)
		}
	})
}

// A notice written while the mail server is down, by a server that stopped before sending it,
// is sent by the next one: the queue is in the database, not in the process.
func TestANoticeQueuedBeforeARestartIsSentAfterIt(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		srv := mailtest.Start(t)
		before := queue(t, db, "smtp://127.0.0.1:1", time.Millisecond) // nothing listens: never sent
		if err := before.Send(context.Background(), notice("pat@example.com", "x")); err != nil {
			t.Fatal(err)
		}
		after := queue(t, db, srv.URL())
		run(t, after)
		if m := srv.Wait(t, 1)[0]; m.To[0] != "pat@example.com" {
			t.Fatalf("sent to %v", m.To)
		}
		waitEmpty(t, db)
	})
}

// A permanent refusal (a 5xx) is not tried again, and a mail past its last retry is given up:
// neither stays in the queue.
func TestAMailRefusedForGoodOrPastItsRetriesLeavesTheQueue(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		srv := mailtest.Start(t)
		srv.FailNext(&smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"},
			temporary(), temporary())
		q := queue(t, db, srv.URL(), 10*time.Millisecond) // two tries in all
		for i, to := range []string{"gone@example.com", "busy@example.com"} {
			// Send tells a refusal for good, not a temporary one (the queue owes that mail).
			if err := q.Send(context.Background(), notice(to, "x")); (err != nil) != (i == 0) {
				t.Fatalf("sending to %s: %v", to, err)
			}
			for range 3 {
				if _, err := q.SendDue(context.Background()); err != nil {
					t.Fatal(err)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		if n := db.QueuedMail.Query().CountX(context.Background()); n != 0 {
			t.Fatalf("%d mails left in the queue, want none", n)
		}
		if n := srv.Count(); n != 0 {
			t.Fatalf("%d messages sent, want none", n)
		}
	})
}

// Workers of several instances share the queue: each mail is sent once.
func TestWorkersOfSeveralInstancesSendEachMailOnce(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		srv := mailtest.Start(t)
		const mails, workers = 40, 3
		// Queued while the mail server was down: each waits for a worker.
		q := queue(t, db, "smtp://127.0.0.1:1", time.Millisecond)
		for i := range mails {
			if err := q.Send(context.Background(), notice(fmt.Sprintf("p%d@example.com", i), "x")); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(10 * time.Millisecond)
		var wg sync.WaitGroup
		for range workers {
			w := queue(t, db, srv.URL())
			wg.Go(func() {
				for {
					n, err := w.SendDue(context.Background())
					if err != nil {
						t.Error(err)
					}
					if n == 0 || err != nil {
						return
					}
				}
			})
		}
		wg.Wait()
		seen := map[string]int{}
		for _, m := range srv.Messages() {
			seen[m.To[0]]++
		}
		if len(seen) != mails {
			t.Fatalf("%d addresses got mail, want %d", len(seen), mails)
		}
		for to, n := range seen {
			if n != 1 {
				t.Fatalf("%s got %d copies", to, n)
			}
		}
	})
}

// The stored message is sealed: the database holds neither the address nor a link that acts.
func TestAQueuedMailIsSealedInTheDatabase(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		q := queue(t, db, "smtp://127.0.0.1:1")
		if err := q.Send(context.Background(), notice("pat@example.com", "https://login.example.com/undo?token=secret-undo")); err != nil {
			t.Fatal(err)
		}
		row := db.QueuedMail.Query().OnlyX(context.Background())
		for _, s := range []string{"pat@example.com", "secret-undo", "Your account"} {
			if bytes.Contains(row.Message, []byte(s)) {
				t.Fatalf("the stored message shows %q", s)
			}
		}
		if row.Kind != "security_notice" {
			t.Fatalf("kind %q", row.Kind)
		}
	})
}

// waitEmpty waits for the queue to be empty: a sent mail leaves it after the mail server took it.
func waitEmpty(t *testing.T, db *store.DB) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		n := db.QueuedMail.Query().CountX(context.Background())
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d mails still queued", n)
		}
	}
}
