package webhooks_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/ent/webhookattempt"
	"loginsign/ent/webhookevent"
	"loginsign/internal/auth"
	"loginsign/internal/portal"
	"loginsign/internal/seal"
	"loginsign/internal/store"
	"loginsign/internal/webhooks"
)

// clock is a test clock moved by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 5, 3, 11, 20, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.t) {
		c.t = t
	}
}

func (c *clock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }

// hit is one request the receiver saw.
type hit struct {
	ID, Timestamp, Signature, ContentType string
	Body                                  []byte
	Path                                  string
}

// receiver is an HTTP endpoint standing in for a developer's backend.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	hits   []hit
	answer atomic.Value // func(h hit, n int) (status int, header http.Header)
}

func newReceiver(t testing.TB) *receiver {
	r := &receiver{}
	r.setAnswer(func(hit, int) (int, http.Header) { return http.StatusNoContent, nil })
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		h := hit{ID: req.Header.Get("webhook-id"), Timestamp: req.Header.Get("webhook-timestamp"),
			Signature: req.Header.Get("webhook-signature"), ContentType: req.Header.Get("Content-Type"),
			Body: body, Path: req.URL.Path}
		r.mu.Lock()
		r.hits = append(r.hits, h)
		n := 0
		for _, x := range r.hits {
			if x.ID == h.ID {
				n++
			}
		}
		r.mu.Unlock()
		status, hdr := r.answer.Load().(func(hit, int) (int, http.Header))(h, n)
		for k, v := range hdr {
			w.Header()[k] = v
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(r.Close)
	return r
}

// setAnswer decides the reply to each request; n counts the requests for that webhook-id.
func (r *receiver) setAnswer(f func(h hit, n int) (int, http.Header)) { r.answer.Store(f) }

func (r *receiver) Hits() []hit {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]hit(nil), r.hits...)
}

// fixture is one developer with one application whose webhook goes to url.
type fixture struct {
	db      *store.DB
	clock   *clock
	secrets *seal.Sealer
	owner   *ent.User
	app     *ent.Application
	secret  string // the whsec_ secret
}

var userSeq atomic.Int64

func newUser(t testing.TB, db *store.DB) *ent.User {
	t.Helper()
	n := userSeq.Add(1)
	u, err := db.User.Create().SetGlobalID(fmt.Sprintf("WH%04d", n%10000)).
		SetEmail(fmt.Sprintf("dev%d-%d@example.com", n, time.Now().UnixNano())).Save(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func newFixture(t testing.TB, db *store.DB, url string) *fixture {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	secrets, err := seal.New(key, "webhook secrets")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{db: db, clock: newClock(), secrets: secrets, owner: newUser(t, db)}
	f.app, f.secret = f.newApp(t, url)
	return f
}

func (f *fixture) newApp(t testing.TB, url string) (*ent.Application, string) {
	t.Helper()
	return f.newAppOf(t, f.owner, url)
}

// newAppOf creates an application of owner whose webhook goes to url, with a secret f's
// workers can open.
func (f *fixture) newAppOf(t testing.TB, owner *ent.User, url string) (*ent.Application, string) {
	t.Helper()
	secret := portal.NewWebhookSecret()
	app, err := f.db.Application.Create().SetOwnerID(owner.ID).SetName("Receiver").SetSecretHash("x").
		SetWebhookURL(url).SetWebhookSecret(f.secrets.Seal([]byte(secret))).Save(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return app, secret
}

// worker returns a worker in dev mode (the receiver is on loopback) on f's clock, without
// jitter so that tests can compute the schedule.
func (f *fixture) worker(db *store.DB, mod ...func(*webhooks.WorkerConfig)) *webhooks.Worker {
	cfg := webhooks.WorkerConfig{Secrets: f.secrets, AllowPrivate: true, Now: f.clock.Now,
		Jitter: func(d time.Duration) time.Duration { return d }, Log: slog.New(slog.DiscardHandler)}
	for _, m := range mod {
		m(&cfg)
	}
	return webhooks.NewWorker(db, cfg)
}

// enqueue commits n email_changed events for app: ordinary events, retried on the whole
// schedule (a ping is tried once).
func (f *fixture) enqueue(t testing.TB, app *ent.Application, n int) []string {
	t.Helper()
	var ids []string
	err := f.db.Tx(context.Background(), func(tx *ent.Tx) error {
		for i := range n {
			ev, err := webhooks.Enqueue(context.Background(), tx, app, webhooks.TypeEmailChanged,
				webhooks.EmailChanged{Type: webhooks.TypeEmailChanged, ApplicationID: app.ID, ConnectionID: fmt.Sprintf("con_%d", i),
					UserID: "AB1234", AliasEmail: "x9s8d7k2@relay.example", OldEmail: "old@example.com", NewEmail: "new@example.com",
					ChangedAt: webhooks.Timestamp(f.clock.Now()), Reason: webhooks.ReasonUserEmailChange}, f.clock.Now())
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

func (f *fixture) event(t testing.TB, id string) *ent.WebhookEvent {
	t.Helper()
	ev, err := f.db.WebhookEvent.Query().Where(webhookevent.ID(id)).
		WithDeliveries(func(q *ent.WebhookAttemptQuery) { q.Order(ent.Asc(webhookattempt.FieldAttempt)) }).Only(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// drain delivers until nothing is due at the current time.
func drain(t testing.TB, w *webhooks.Worker) {
	t.Helper()
	for {
		n, err := w.DeliverDue(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}

func signedIn(u *ent.User) context.Context {
	return auth.WithSession(context.Background(), auth.Session{UserID: u.ID, ID: "test"})
}
