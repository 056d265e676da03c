package licenses_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/globalid"
	"loginsign/internal/ids"
	"loginsign/internal/licenses"
	"loginsign/internal/portal"
	"loginsign/internal/store"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// world is one database with a developer, their application, a rival developer with an
// application, and people connected to the first application.
type world struct {
	db       *store.DB
	svc      *licenses.Service
	clock    *clock
	dev      *ent.User
	app      *ent.Application
	secret   string
	rival    *ent.User
	rivalApp *ent.Application
	seq      *atomic.Int64
}

func newWorld(t testing.TB, db *store.DB) *world {
	t.Helper()
	ctx := context.Background()
	w := &world{db: db, clock: &clock{t: worldStart}, seq: new(atomic.Int64)}
	p := &portal.Service{DB: db, Now: w.clock.Now}
	w.svc = licenses.New(db, p.Authorize, w.clock.Now)
	w.dev = w.person(t, "dev")
	w.rival = w.person(t, "rival")
	w.app, w.secret = w.application(t, w.dev, "Demo")
	w.rivalApp, _ = w.application(t, w.rival, "Rival")
	_ = ctx
	return w
}

// person creates a LoginSign account with the next Global User ID.
func (w *world) person(t testing.TB, name string) *ent.User {
	t.Helper()
	n := w.seq.Add(1)
	u, err := w.db.User.Create().SetGlobalID(globalid.Format(n * 7919 % globalid.Space)).
		SetEmail(fmt.Sprintf("%s%d@example.com", name, n)).SetName(name).Save(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func (w *world) application(t testing.TB, owner *ent.User, name string) (*ent.Application, string) {
	t.Helper()
	secret := ids.Secret(portal.ClientSecretPrefix)
	app, err := w.db.Application.Create().SetOwnerID(owner.ID).SetName(name).SetSecretHash(ids.Hash(secret)).Save(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return app, secret
}

// connect links u to app.
func (w *world) connect(t testing.TB, u *ent.User, app *ent.Application) *ent.AppConnection {
	t.Helper()
	c, err := w.db.AppConnection.Create().SetUserID(u.ID).SetApplicationID(app.ID).
		SetAliasEmail(ids.RandomLower(10) + "@relay.example.com").SetJoinedAt(w.clock.Now()).Save(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// connectMany creates n people connected to app, in bulk.
func (w *world) connectMany(t testing.TB, app *ent.Application, n int) []*ent.AppConnection {
	t.Helper()
	ctx := context.Background()
	var out []*ent.AppConnection
	for start := 0; start < n; start += 500 {
		m := min(500, n-start)
		users := make([]*ent.UserCreate, m)
		for i := range users {
			k := w.seq.Add(1)
			users[i] = w.db.User.Create().SetGlobalID(globalid.Format(k * 7919 % globalid.Space)).
				SetEmail(fmt.Sprintf("p%d@example.com", k)).SetName(fmt.Sprintf("Person %d", k))
		}
		us, err := w.db.User.CreateBulk(users...).Save(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns := make([]*ent.AppConnectionCreate, m)
		for i, u := range us {
			conns[i] = w.db.AppConnection.Create().SetUserID(u.ID).SetApplicationID(app.ID).
				SetAliasEmail(ids.RandomLower(12) + "@relay.example.com").SetJoinedAt(w.clock.Now())
		}
		cs, err := w.db.AppConnection.CreateBulk(conns...).Save(ctx)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, cs...)
	}
	return out
}

// worldStart is the time on every world's clock when it is made.
var worldStart = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// as returns a context signed in as u, by a sign-in at worldStart: recent for the calls that
// need one (auth.RequireRecentSignIn) until the world's clock moves on more than
// auth.RecentSignIn.
func as(u *ent.User) context.Context {
	return auth.WithSession(context.Background(), auth.Session{UserID: u.ID, ID: "test", SignedInAt: worldStart})
}

// signedIn returns a context signed in as u by a sign-in at the world's time now: as, for a
// test that has moved the clock on.
func (w *world) signedIn(u *ent.User) context.Context {
	return auth.WithSession(context.Background(), auth.Session{UserID: u.ID, ID: "test", SignedInAt: w.clock.Now()})
}

// asToken returns a context carrying a Bearer grant of conn.
func asToken(conn *ent.AppConnection) context.Context {
	return auth.WithToken(context.Background(), auth.Token{ApplicationID: conn.ApplicationID, ConnectionID: conn.ID, UserID: conn.UserID})
}

// asClient returns a context of an application authenticated with its credentials.
func asClient(app *ent.Application) context.Context {
	return auth.WithClient(context.Background(), auth.Client{ApplicationID: app.ID})
}

// variant creates a variant of w.app.
func (w *world) variant(t testing.TB, name, duration string) *ent.LicenseVariant {
	t.Helper()
	v, err := w.svc.CreateVariant(as(w.dev), w.app.ID, licenses.VariantInput{Name: name, Duration: duration})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// codes generates n codes of v.
func (w *world) codes(t testing.TB, v *ent.LicenseVariant, n int) []string {
	t.Helper()
	g, err := w.svc.GenerateCodes(w.signedIn(w.dev), w.app.ID, licenses.GenerateInput{VariantID: v.ID, Count: n})
	if err != nil {
		t.Fatal(err)
	}
	return g.Codes
}

// wantErr fails unless err is an apperr with the shown code name.
func wantErr(t testing.TB, err error, name string) {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want %s", name)
	}
	if got := apperr.As(err).Name(); got != name {
		t.Fatalf("err = %v (%s), want %s", err, got, name)
	}
}

func must[T any](t testing.TB) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}
