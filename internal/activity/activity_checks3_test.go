package activity_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/ent/activityevent"
	"loginsign/internal/activity"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

var now = time.Date(2026, 5, 3, 11, 20, 0, 0, time.UTC)

type logEnv struct {
	t        *testing.T
	db       *store.DB
	svc      *activity.Service
	ann, bob *ent.User
	dev      *ent.User
	app      *ent.Application
	otherApp *ent.Application
}

// newLogEnv: Ann and Bob, the developer Dev owning app, and Bob owning otherApp. Owned lets
// the signed-in owner of an application read it and answers NotFound to anyone else.
func newLogEnv(t *testing.T, db *store.DB) *logEnv {
	t.Helper()
	ctx := context.Background()
	e := &logEnv{t: t, db: db}
	mk := func(email, gid string) *ent.User {
		return db.User.Create().SetEmail(email).SetGlobalID(gid).SaveX(ctx)
	}
	e.ann, e.bob, e.dev = mk("ann@example.com", "AB0001"), mk("bob@example.com", "AB0002"), mk("dev@example.com", "AB0003")
	mkApp := func(owner *ent.User, name string) *ent.Application {
		return db.Application.Create().SetOwnerID(owner.ID).SetName(name).SetSecretHash("x").
			SetWebhookURL("https://" + name + ".example.com/hooks").SetWebhookSecret([]byte("sealed")).SaveX(ctx)
	}
	e.app, e.otherApp = mkApp(e.dev, "crm"), mkApp(e.bob, "shop")
	e.svc = &activity.Service{DB: db, Now: func() time.Time { return now },
		Owned: func(ctx context.Context, appID string) (*ent.Application, error) {
			uid, err := auth.RequireUser(ctx)
			if err != nil {
				return nil, err
			}
			a, err := db.Application.Get(ctx, appID)
			if err != nil || a.OwnerID != uid {
				return nil, apperr.New(apperr.NotFound, "application not found")
			}
			return a, nil
		}}
	return e
}

func (e *logEnv) record(ev activity.Event) {
	e.t.Helper()
	ctx := context.Background()
	if err := e.db.Tx(ctx, func(tx *ent.Tx) error { return activity.Record(ctx, tx, ev) }); err != nil {
		e.t.Fatalf("Record(%+v): %v", ev, err)
	}
}

func as(u *ent.User) context.Context {
	return auth.WithSession(context.Background(), auth.Session{UserID: u.ID, ID: "s-" + u.ID, SignedInAt: now})
}

func types(l *activity.List) []string {
	var out []string
	for _, v := range l.Events {
		out = append(out, string(v.Type))
	}
	return out
}

// A person reads their own events only: asking for another person's answers NotFound, and
// their own list holds none of another person's events. The application filter narrows it.
func TestAPersonReadsOnlyTheirOwnEvents(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newLogEnv(t, db)
		e.record(activity.Event{Type: activity.SignIn, Actor: activity.ByPerson, UserID: e.ann.ID, ApplicationID: e.app.ID, At: now.Add(-3 * time.Minute)})
		e.record(activity.Event{Type: activity.PasskeyAdded, Actor: activity.ByPerson, UserID: e.ann.ID, At: now.Add(-2 * time.Minute)})
		e.record(activity.Event{Type: activity.TOTPEnabled, Actor: activity.ByPerson, UserID: e.bob.ID, At: now.Add(-time.Minute)})

		if l, err := e.svc.ForPerson(as(e.bob), e.ann.ID, activity.Filter{}, activity.Page{}); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("Bob listing Ann's events = %v, %v; want NotFound", l, err)
		}
		if l, err := e.svc.ForPerson(context.Background(), e.ann.ID, activity.Filter{}, activity.Page{}); err == nil {
			t.Errorf("listing Ann's events signed out = %v, want an error", types(l))
		}
		l, err := e.svc.ForPerson(as(e.ann), e.ann.ID, activity.Filter{}, activity.Page{})
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(types(l), " "); got != "passkey_added sign_in" {
			t.Errorf("Ann's events = %q, want %q", got, "passkey_added sign_in")
		}
		if len(l.Events) == 2 && (l.Events[1].ApplicationName != "crm" || l.Events[1].ApplicationID != e.app.ID) {
			t.Errorf("Ann's sign-in names application %q (%s), want crm", l.Events[1].ApplicationName, l.Events[1].ApplicationID)
		}
		l, err = e.svc.ForPerson(as(e.ann), e.ann.ID, activity.Filter{ApplicationID: e.app.ID}, activity.Page{})
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(types(l), " "); got != "sign_in" {
			t.Errorf("Ann's events of crm = %q, want sign_in", got)
		}
	})
}

// A developer reads their application's events except those only its person sees (sign-ins,
// refused pending links, ended licenses, answers to an address change), and nothing of another
// application; another person asking for the application gets NotFound.
func TestADeveloperReadsOnlyTheirApplicationsSharedEvents(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newLogEnv(t, db)
		at := now.Add(-time.Hour)
		for _, typ := range []activity.Type{activity.SignIn, activity.PendingLinkRefused, activity.LicenseEnded,
			activity.EmailChangeConfirm, activity.EmailChangeCancel, activity.ConsentGiven} {
			at = at.Add(time.Minute)
			e.record(activity.Event{Type: typ, Actor: activity.ByPerson, UserID: e.ann.ID, ApplicationID: e.app.ID, At: at})
		}
		e.record(activity.Event{Type: activity.ClientSecretRotated, Actor: activity.ByDeveloper, ApplicationID: e.app.ID, At: at.Add(time.Minute)})
		e.record(activity.Event{Type: activity.ConsentGiven, Actor: activity.ByPerson, UserID: e.ann.ID, ApplicationID: e.otherApp.ID, At: at.Add(2 * time.Minute)})

		l, err := e.svc.ForApplication(as(e.dev), e.app.ID, activity.Filter{}, activity.Page{})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := strings.Join(types(l), " "), "client_secret_rotated consent_given"; got != want {
			t.Errorf("the developer's events of crm = %q, want %q", got, want)
		}
		for _, v := range l.Events {
			if v.ApplicationName != "crm" {
				t.Errorf("event %s names application %q, want crm", v.Type, v.ApplicationName)
			}
		}
		if l, err := e.svc.ForApplication(as(e.ann), e.app.ID, activity.Filter{}, activity.Page{}); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("Ann listing crm's events = %v, %v; want NotFound", l, err)
		}
	})
}

// Page sizes are 1 to MaxPage, DefaultPage when unset; an unknown type or a cursor the list did
// not give is Invalid.
func TestActivityPagesAreBounded(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newLogEnv(t, db)
		ctx := context.Background()
		if err := db.Tx(ctx, func(tx *ent.Tx) error {
			for i := range activity.MaxPage + 1 {
				if err := activity.Record(ctx, tx, activity.Event{Type: activity.SignIn, Actor: activity.ByPerson,
					UserID: e.ann.ID, At: now.Add(-time.Duration(i+1) * time.Second)}); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{-1, activity.MaxPage + 1} {
			if l, err := e.svc.ForPerson(as(e.ann), e.ann.ID, activity.Filter{}, activity.Page{First: n}); !apperr.Is(err, apperr.Invalid) {
				t.Errorf("a page of %d: %v, want Invalid", n, err)
			} else if l != nil {
				t.Errorf("a page of %d gave %d events", n, len(l.Events))
			}
		}
		l, err := e.svc.ForPerson(as(e.ann), e.ann.ID, activity.Filter{}, activity.Page{})
		if err != nil || len(l.Events) != activity.DefaultPage || l.NextCursor == "" {
			t.Errorf("an unset page size: %v events, cursor %v, %v; want %d and a cursor", lenOf(l), l != nil && l.NextCursor != "", err, activity.DefaultPage)
		}
		l, err = e.svc.ForPerson(as(e.ann), e.ann.ID, activity.Filter{}, activity.Page{First: activity.MaxPage})
		if err != nil || len(l.Events) != activity.MaxPage || l.NextCursor == "" {
			t.Errorf("a page of MaxPage: %v events, %v; want %d and a cursor", lenOf(l), err, activity.MaxPage)
		}
		if _, err := e.svc.ForPerson(as(e.ann), e.ann.ID, activity.Filter{Types: []activity.Type{"password_changed"}}, activity.Page{}); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("an unknown type: %v, want Invalid", err)
		}
		// "123", ":abc" (no time), "123:" (no id), "123:act_\x00" and "123:act_\xff" (an id no
		// list gave, which SQLite answered with a page).
		for _, c := range []string{"not a cursor!", "MTIz", "OmFiYw", "MTIzOg", "MTIzOmFjdF8A", "MTIzOmFjdF__"} {
			if _, err := e.svc.ForPerson(as(e.ann), e.ann.ID, activity.Filter{}, activity.Page{After: c}); !apperr.Is(err, apperr.Invalid) {
				t.Errorf("cursor %q: %v, want Invalid", c, err)
			}
		}
		l, err = e.svc.ForPerson(as(e.ann), e.ann.ID, activity.Filter{Types: []activity.Type{activity.PasskeyAdded}}, activity.Page{})
		if err != nil || len(l.Events) != 0 {
			t.Errorf("filtered to a type Ann has none of: %v events, %v; want none", lenOf(l), err)
		}
	})
}

func lenOf(l *activity.List) int {
	if l == nil {
		return -1
	}
	return len(l.Events)
}

// Following the cursors reads every event once, newest first, also events of the same instant,
// and the last page has no cursor.
func TestActivityCursorsReadEveryEventOnce(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newLogEnv(t, db)
		want := 0
		for i := range 3 {
			for range 3 { // three events at each instant
				e.record(activity.Event{Type: activity.SignIn, Actor: activity.ByPerson, UserID: e.ann.ID, At: now.Add(-time.Duration(i) * time.Minute)})
				want++
			}
		}
		e.record(activity.Event{Type: activity.SignIn, Actor: activity.ByPerson, UserID: e.bob.ID, At: now})
		seen := map[string]bool{}
		var last time.Time
		p := activity.Page{First: 2}
		for pages := 0; ; pages++ {
			if pages > want {
				t.Fatalf("more than %d pages", want)
			}
			l, err := e.svc.ForPerson(as(e.ann), e.ann.ID, activity.Filter{}, p)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range l.Events {
				if seen[v.ID] {
					t.Errorf("event %s read twice", v.ID)
				}
				if !last.IsZero() && v.At.After(last) {
					t.Errorf("event at %v after one at %v: not newest first", v.At, last)
				}
				seen[v.ID], last = true, v.At
			}
			if l.NextCursor == "" {
				break
			}
			p.After = l.NextCursor
		}
		if len(seen) != want {
			t.Errorf("read %d events through the cursors, want %d", len(seen), want)
		}
		l, err := e.svc.ForPerson(as(e.ann), e.ann.ID, activity.Filter{}, activity.Page{First: want})
		if err != nil || len(l.Events) != want || l.NextCursor != "" {
			t.Errorf("a page holding the whole log: %d events, cursor %q, %v; want %d and no cursor", lenOf(l), l.NextCursor, err, want)
		}
	})
}

// Check lets in only known types with an actor and someone concerned, and details of the
// allowed keys, at most 200 bytes each, with no address in an application's event.
func TestCheckRefusesWhatAnEventMayNotHold(t *testing.T) {
	t.Parallel()
	ok := activity.Event{Type: activity.AddressAdded, Actor: activity.ByPerson, UserID: "u1",
		Details: map[string]string{"address": "ann@example.com", "name": strings.Repeat("x", 200)}}
	if err := activity.Check(ok); err != nil {
		t.Errorf("Check(a valid event) = %v", err)
	}
	appEvent := activity.Event{Type: activity.ClientSecretRotated, Actor: activity.ByDeveloper, ApplicationID: "a1"}
	if err := activity.Check(appEvent); err != nil {
		t.Errorf("Check(an application's own event) = %v", err)
	}
	bad := map[string]activity.Event{
		"an unknown type":            {Type: "password_changed", Actor: activity.ByPerson, UserID: "u1"},
		"no actor":                   {Type: activity.SignIn, UserID: "u1"},
		"nobody concerned":           {Type: activity.SignIn, Actor: activity.ByPerson},
		"a secret detail":            {Type: activity.ClientSecretRotated, Actor: activity.ByDeveloper, ApplicationID: "a1", Details: map[string]string{"secret": "s3cr3t"}},
		"a code detail":              {Type: activity.SignIn, Actor: activity.ByPerson, UserID: "u1", Details: map[string]string{"code": "123456"}},
		"a 201-byte detail":          {Type: activity.PasskeyAdded, Actor: activity.ByPerson, UserID: "u1", Details: map[string]string{"name": strings.Repeat("x", 201)}},
		"an address in an app event": {Type: activity.ConsentGiven, Actor: activity.ByPerson, UserID: "u1", ApplicationID: "a1", Details: map[string]string{"address": "ann@example.com"}},
	}
	for what, ev := range bad {
		if err := activity.Check(ev); err == nil {
			t.Errorf("Check(%s) = nil, want an error", what)
		}
	}
}

// Record stores what Check lets in (and nothing it refuses), with the request's location only
// on a sign-in.
func TestRecordKeepsTheLocationOfSignInsOnly(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newLogEnv(t, db)
		ctx := activity.WithLocation(context.Background(), "FR")
		for _, typ := range []activity.Type{activity.SignIn, activity.PasskeyAdded} {
			if err := db.Tx(ctx, func(tx *ent.Tx) error {
				return activity.Record(ctx, tx, activity.Event{Type: typ, Actor: activity.ByPerson, UserID: e.ann.ID,
					Details: map[string]string{"method": "passkey"}, At: now})
			}); err != nil {
				t.Fatal(err)
			}
		}
		err := db.Tx(ctx, func(tx *ent.Tx) error {
			return activity.Record(ctx, tx, activity.Event{Type: activity.SignIn, Actor: activity.ByPerson, UserID: e.ann.ID,
				Details: map[string]string{"token": "abc"}, At: now})
		})
		if err == nil {
			t.Errorf("Record(a token detail) = nil, want an error")
		}
		rows := db.ActivityEvent.Query().Where(activityevent.UserID(e.ann.ID)).AllX(context.Background())
		if len(rows) != 2 {
			t.Fatalf("%d events stored, want 2", len(rows))
		}
		for _, r := range rows {
			loc, has := r.Details["location"]
			if r.Type == string(activity.SignIn) && loc != "FR" {
				t.Errorf("the sign-in's location = %q, want FR", loc)
			}
			if r.Type != string(activity.SignIn) && has {
				t.Errorf("a %s event holds a location %q", r.Type, loc)
			}
		}
	})
}

// Purge deletes the events older than the retention period (DefaultRetention when unset) and
// keeps the newer; DeletePerson deletes the person's events only.
func TestPurgeAndDeletePersonDeleteOnlyWhatTheyShould(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newLogEnv(t, db)
		ctx := context.Background()
		e.record(activity.Event{Type: activity.SignIn, Actor: activity.ByPerson, UserID: e.ann.ID, At: now.Add(-activity.DefaultRetention - time.Hour)})
		e.record(activity.Event{Type: activity.SignIn, Actor: activity.ByPerson, UserID: e.ann.ID, At: now.Add(-activity.DefaultRetention + time.Hour)})
		e.record(activity.Event{Type: activity.SignIn, Actor: activity.ByPerson, UserID: e.bob.ID, At: now.Add(-time.Hour)})
		e.record(activity.Event{Type: activity.ClientSecretRotated, Actor: activity.ByDeveloper, ApplicationID: e.app.ID, At: now.Add(-time.Hour)})
		n, err := e.svc.Purge(ctx)
		if err != nil || n != 1 {
			t.Fatalf("Purge = %d, %v; want 1 (the one event older than the retention)", n, err)
		}
		e.svc.Retention = 2 * time.Hour
		if n, err := e.svc.Purge(ctx); err != nil || n != 1 {
			t.Fatalf("Purge with a 2h retention = %d, %v; want 1", n, err)
		}
		if err := db.Tx(ctx, func(tx *ent.Tx) error { return activity.DeletePerson(ctx, tx, e.bob.ID) }); err != nil {
			t.Fatal(err)
		}
		left := db.ActivityEvent.Query().AllX(ctx)
		var got []string
		for _, r := range left {
			got = append(got, fmt.Sprintf("%s/%s", r.Type, r.UserID))
		}
		if len(left) != 1 || left[0].Type != string(activity.ClientSecretRotated) {
			t.Errorf("events left = %v, want only the application's own", got)
		}
	})
}
