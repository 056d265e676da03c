package mailqueue_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"loginsign/internal/mail"
	"loginsign/internal/mailqueue"
	"loginsign/internal/seal"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// slowMail is a mail server whose first held sends wait for release; it records every send.
type slowMail struct {
	mu      sync.Mutex
	held    int
	sent    []string
	started chan struct{}
	release chan struct{}
	err     error
}

func (s *slowMail) Send(ctx context.Context, m mail.Message) error {
	s.mu.Lock()
	hold := s.held > 0
	if hold {
		s.held--
	}
	s.mu.Unlock()
	if hold {
		s.started <- struct{}{}
		<-s.release
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	s.sent = append(s.sent, m.To)
	return nil
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func queueWith(t *testing.T, db *store.DB, m mail.Sender, c *clock) *mailqueue.Queue {
	t.Helper()
	sealer, err := seal.New([]byte("a test secret of sixteen bytes or more"), "queued mail")
	if err != nil {
		t.Fatal(err)
	}
	return &mailqueue.Queue{DB: db, Mail: m, Seal: sealer, Now: c.now}
}

// A batch's mails wait for a free slot of the worker's; while they wait, a slow mail server
// (up to a minute a send) must not let their lease run out: another instance would take
// them and each would be sent twice.
func TestAMailWaitingForItsTurnInABatchIsNotSentTwice(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := &clock{t: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)}
		down := &slowMail{err: fmt.Errorf("down: %w", context.DeadlineExceeded)}
		const mails = 9
		for i := range mails {
			if err := queueWith(t, db, down, c).Send(ctx, notice(fmt.Sprintf("p%d@example.com", i), "x")); err != nil {
				t.Fatal(err)
			}
			c.add(time.Millisecond) // in order
		}
		c.add(2 * time.Minute) // every retry due

		a := &slowMail{held: 8, started: make(chan struct{}), release: make(chan struct{})}
		b := &slowMail{}
		done := make(chan struct{})
		go func() {
			defer close(done)
			if _, err := queueWith(t, db, a, c).SendDue(ctx); err != nil {
				t.Error(err)
			}
		}()
		// Two rounds of four sends, each within the send timeout; while the second is being
		// sent, another instance looks for due mail.
		for round := range 2 {
			for range 4 {
				<-a.started
			}
			c.add(61 * time.Second)
			if round == 1 {
				if _, err := queueWith(t, db, b, c).SendDue(ctx); err != nil {
					t.Fatal(err)
				}
			}
			for range 4 {
				a.release <- struct{}{}
			}
		}
		<-done
		seen := map[string]int{}
		for _, to := range append(a.sent, b.sent...) {
			seen[to]++
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

// A notice the queue cannot store (the database failing) is still sent, once, as the mail
// package sent it before the queue: the change it tells of has committed.
func TestANoticeTheQueueCannotStoreIsStillSent(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		c := &clock{t: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)}
		m := &slowMail{}
		q := queueWith(t, db, m, c)
		db.Close()
		if err := q.Send(context.Background(), notice("pat@example.com", "x")); err != nil {
			t.Fatal(err)
		}
		if len(m.sent) != 1 || m.sent[0] != "pat@example.com" {
			t.Fatalf("sent %v, want the notice", m.sent)
		}
	})
}
