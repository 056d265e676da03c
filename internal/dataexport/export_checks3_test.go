package dataexport_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/ent/activityevent"
	"loginsign/internal/account"
	"loginsign/internal/activity"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/dataexport"
	"loginsign/internal/identity"
	"loginsign/internal/ids"
	"loginsign/internal/kv"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/mail"
	"loginsign/internal/mfa"
	"loginsign/internal/passkey"
	"loginsign/internal/ratelimit"
	"loginsign/internal/seal"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
	"loginsign/internal/team"
)

var now = time.Date(2026, 5, 3, 11, 20, 0, 0, time.UTC)

// outbox is a mail.Sender that keeps what it is given.
type outbox struct {
	mu   sync.Mutex
	sent []mail.Message
}

func (o *outbox) Send(_ context.Context, m mail.Message) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.sent = append(o.sent, m)
	return nil
}

func (o *outbox) messages() []mail.Message {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]mail.Message(nil), o.sent...)
}

type exportEnv struct {
	t        *testing.T
	db       *store.DB
	identity *identity.Service
	mail     *outbox
	svc      *dataexport.Service
}

func newExportEnv(t *testing.T, db *store.DB) *exportEnv {
	t.Helper()
	k, err := kv.Open(context.Background(), kvtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	clock := func() time.Time { return now }
	sealer, err := seal.New([]byte(strings.Repeat("s", 32)), "totp secrets")
	if err != nil {
		t.Fatal(err)
	}
	idsvc := identity.New(db, k, clock, identity.SessionConfig{})
	passkeys, err := passkey.New(db, k, "https://login.example.com", clock)
	if err != nil {
		t.Fatal(err)
	}
	box := &outbox{}
	svc := &dataexport.Service{DB: db, Identity: idsvc,
		Account: &account.Service{DB: db, KV: k, Identity: idsvc, Mail: box, BaseURL: "https://login.example.com", Now: clock},
		MFA:     mfa.New(db, k, sealer, clock), Passkeys: passkeys, Activity: &activity.Service{DB: db, Now: clock},
		Team: &team.Service{DB: db, Now: clock}, Mail: box, Limiter: ratelimit.New(k), Now: clock}
	return &exportEnv{t: t, db: db, identity: idsvc, mail: box, svc: svc}
}

func (e *exportEnv) user(email string) *ent.User {
	e.t.Helper()
	u, err := e.identity.CreateUser(context.Background(), email, "")
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

func (e *exportEnv) event(u *ent.User, typ activity.Type, at time.Time) {
	e.t.Helper()
	ctx := context.Background()
	if err := e.db.Tx(ctx, func(tx *ent.Tx) error {
		return activity.Record(ctx, tx, activity.Event{Type: typ, Actor: activity.ByPerson, UserID: u.ID, At: at})
	}); err != nil {
		e.t.Fatal(err)
	}
}

func signedIn(u *ent.User) context.Context {
	return auth.WithSession(context.Background(), auth.Session{UserID: u.ID, ID: "s-" + u.ID, SignedInAt: now})
}

// The document holds the signed-in person's data only: another person's addresses,
// connections, activity and teams stay out of it.
func TestAnExportHoldsOnlyThePersonsOwnData(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newExportEnv(t, db)
		ctx := context.Background()
		ann, bob := e.user("ann@example.com"), e.user("bob@example.com")
		bobsApp := db.Application.Create().SetOwnerID(bob.ID).SetName("bobs-app").SetSecretHash("x").
			SetWebhookURL("https://bobs.example.com/hooks").SetWebhookSecret([]byte("sealed")).SaveX(ctx)
		annsApp := db.Application.Create().SetOwnerID(ann.ID).SetName("anns-app").SetSecretHash("x").
			SetWebhookURL("https://anns.example.com/hooks").SetWebhookSecret([]byte("sealed")).SaveX(ctx)
		db.UserEmail.Create().SetUserID(ann.ID).SetEmail("ann.alt@example.com").SetVerifiedAt(now).ExecX(ctx)
		db.UserEmail.Create().SetUserID(bob.ID).SetEmail("bob.alt@example.com").SetVerifiedAt(now).ExecX(ctx)
		annConn := db.AppConnection.Create().SetUserID(ann.ID).SetApplicationID(bobsApp.ID).
			SetAliasEmail(ids.RandomLower(10) + "@relay.example.com").SaveX(ctx)
		bobConn := db.AppConnection.Create().SetUserID(bob.ID).SetApplicationID(annsApp.ID).
			SetAliasEmail(ids.RandomLower(10) + "@relay.example.com").SaveX(ctx)
		e.event(ann, activity.SignIn, now.Add(-time.Hour))
		e.event(bob, activity.SignIn, now.Add(-2*time.Hour))
		e.event(bob, activity.PasskeyAdded, now.Add(-3*time.Hour))

		doc, err := e.svc.Export(signedIn(ann))
		if err != nil {
			t.Fatalf("Export: %v", err)
		}
		for _, a := range doc.Addresses {
			if strings.HasPrefix(a.Email, "bob") {
				t.Errorf("Ann's export lists Bob's address %s", a.Email)
			}
		}
		if len(doc.Addresses) != 2 {
			t.Errorf("Ann's export has %d addresses (%+v), want 2", len(doc.Addresses), doc.Addresses)
		}
		if len(doc.Connections) != 1 || doc.Connections[0].ID != annConn.ID {
			t.Errorf("Ann's export connections = %+v, want only %s (not Bob's %s)", doc.Connections, annConn.ID, bobConn.ID)
		}
		if len(doc.Activity) != 1 || doc.Activity[0].Type != string(activity.SignIn) {
			t.Errorf("Ann's export activity = %+v, want her one sign-in", doc.Activity)
		}
		if len(doc.Teams) != 1 || doc.Teams[0].ApplicationID != annsApp.ID {
			t.Errorf("Ann's export teams = %+v, want only her own application %s", doc.Teams, annsApp.ID)
		}
		if doc.Account.ID != ann.ID || doc.Account.Email != "ann@example.com" {
			t.Errorf("Ann's export account = %+v, want Ann's", doc.Account)
		}
	})
}

// What the document says an application sees follows the consent: without the profile and
// email scopes, neither the name, the picture nor an address; with them, all three.
func TestAnExportShowsWhatTheAppSeesByItsScopes(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newExportEnv(t, db)
		ctx := context.Background()
		dev := e.user("dev@example.com")
		ann, err := e.identity.CreateUser(ctx, "ann@example.com", "Ann Example")
		if err != nil {
			t.Fatal(err)
		}
		const picture = "https://login.example.com/pictures/ann.png"
		db.User.UpdateOneID(ann.ID).SetImage(picture).ExecX(ctx)
		mk := func(name string) *ent.Application {
			return db.Application.Create().SetOwnerID(dev.ID).SetName(name).SetSecretHash("x").
				SetWebhookURL("https://" + name + ".example.com/hooks").SetWebhookSecret([]byte("sealed")).SaveX(ctx)
		}
		bare := db.AppConnection.Create().SetUserID(ann.ID).SetApplicationID(mk("bare").ID).SetJoinedAt(now.Add(-2 * time.Hour)).
			SetAliasEmail("bare1@relay.example.com").SetAppEmail("ann@example.com").SaveX(ctx)
		db.Consent.Create().SetConnectionID(bare.ID).SetScopes([]string{"openid"}).ExecX(ctx)
		full := db.AppConnection.Create().SetUserID(ann.ID).SetApplicationID(mk("full").ID).SetJoinedAt(now.Add(-time.Hour)).
			SetAliasEmail("full1@relay.example.com").SaveX(ctx)
		db.Consent.Create().SetConnectionID(full.ID).SetScopes([]string{"openid", "profile", "email"}).ExecX(ctx)

		doc, err := e.svc.Export(signedIn(ann))
		if err != nil {
			t.Fatalf("Export: %v", err)
		}
		if len(doc.Connections) != 2 {
			t.Fatalf("%d connections, want 2", len(doc.Connections))
		}
		b, f := doc.Connections[0], doc.Connections[1]
		if b.ID != bare.ID {
			b, f = f, b
		}
		if b.Sees.Name != nil || b.Sees.Email != nil || b.Sees.Picture != nil {
			t.Errorf("an app with the openid scope alone sees name %v, email %v, picture %v; want none", b.Sees.Name, b.Sees.Email, b.Sees.Picture)
		}
		if f.Sees.Picture == nil || *f.Sees.Picture != picture {
			t.Errorf("an app with the profile scope sees picture %v, want %s", f.Sees.Picture, picture)
		}
		if f.Sees.Name == nil || *f.Sees.Name != "Ann Example" {
			t.Errorf("an app with the profile scope sees name %v, want Ann Example", f.Sees.Name)
		}
		if f.Sees.Email == nil || *f.Sees.Email != "full1@relay.example.com" {
			t.Errorf("an app with the email scope sees email %v, want the relay alias", f.Sees.Email)
		}
	})
}

// Three exports a day: the fourth is RateLimited and records and mails nothing. Each export is
// one data_exported event of the person's own, by the person, and one mail to their address.
func TestExportsAreLimitedRecordedAndMailed(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newExportEnv(t, db)
		ctx := context.Background()
		ann, bob := e.user("ann@example.com"), e.user("bob@example.com")
		for i := range dataexport.Rule.N {
			if _, err := e.svc.Export(signedIn(ann)); err != nil {
				t.Fatalf("export %d: %v", i+1, err)
			}
		}
		if dataexport.Rule.N != 3 || dataexport.Rule.Window != 24*time.Hour {
			t.Errorf("Rule = %+v, want 3 a day", dataexport.Rule)
		}
		if _, err := e.svc.Export(signedIn(ann)); !apperr.Is(err, apperr.RateLimited) {
			t.Fatalf("export %d in a day: %v, want RateLimited", dataexport.Rule.N+1, err)
		}
		if _, err := e.svc.Export(signedIn(bob)); err != nil {
			t.Fatalf("Bob's export after Ann's limit: %v, want it allowed", err)
		}
		evs := db.ActivityEvent.Query().Where(activityevent.Type(string(activity.DataExported))).AllX(ctx)
		byAnn := 0
		for _, ev := range evs {
			if ev.UserID == ann.ID {
				byAnn++
				if ev.Actor != activity.ByPerson || ev.Details["format"] != "json" || ev.ApplicationID != "" || !ev.CreatedAt.Equal(now) {
					t.Errorf("the export's event = %+v, want by the person, format json, no application, at %v", ev, now)
				}
			}
		}
		if byAnn != 3 || len(evs) != 4 {
			t.Errorf("%d data_exported events of Ann's (%d in all), want 3 (4)", byAnn, len(evs))
		}
		msgs := e.mail.messages()
		if len(msgs) != 4 {
			t.Fatalf("%d mails, want 4 (one per export)", len(msgs))
		}
		for i, m := range msgs[:3] {
			if !strings.Contains(m.To, "ann@example.com") {
				t.Errorf("mail %d goes to %q, want ann@example.com", i+1, m.To)
			}
		}
		if !strings.Contains(msgs[3].To, "bob@example.com") {
			t.Errorf("Bob's export mail goes to %q", msgs[3].To)
		}
	})
}

// An export needs a signed-in person; without one it is refused and sends nothing.
func TestAnExportNeedsASignedInPerson(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newExportEnv(t, db)
		if doc, err := e.svc.Export(context.Background()); !apperr.Is(err, apperr.Unauthorized) {
			t.Fatalf("Export without a session = %v, %v; want Unauthorized", doc, err)
		}
		if n := len(e.mail.messages()); n != 0 {
			t.Errorf("%d mails sent for a refused export", n)
		}
	})
}

// MaxActivity events fit exactly: a log of exactly MaxActivity events is exported whole and
// complete; one more and the document holds MaxActivity, the newest, incomplete. An unset
// MaxActivity holds far more than a page.
func TestAnExportHoldsMaxActivityEventsExactly(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newExportEnv(t, db)
		ann := e.user("ann@example.com")
		for i := range 4 {
			e.event(ann, activity.SignIn, now.Add(time.Duration(i-10)*time.Minute))
		}
		e.svc.MaxActivity = 4
		doc, err := e.svc.Export(signedIn(ann))
		if err != nil {
			t.Fatal(err)
		}
		if len(doc.Activity) != 4 || !doc.ActivityComplete {
			t.Errorf("a log of 4 events in a document of 4: %d events, complete %v; want 4, true", len(doc.Activity), doc.ActivityComplete)
		}
		// The first export's own event makes 5.
		doc, err = e.svc.Export(signedIn(ann))
		if err != nil {
			t.Fatal(err)
		}
		if len(doc.Activity) != 4 || doc.ActivityComplete {
			t.Errorf("a log of 5 events in a document of 4: %d events, complete %v; want 4, false", len(doc.Activity), doc.ActivityComplete)
		}
		if len(doc.Activity) > 0 && doc.Activity[0].Type != string(activity.DataExported) {
			t.Errorf("the first event exported is %s, want the newest, data_exported", doc.Activity[0].Type)
		}

		bob := e.user("bob@example.com")
		ctx := context.Background()
		if err := db.Tx(ctx, func(tx *ent.Tx) error {
			for i := range activity.MaxPage + 5 {
				if err := activity.Record(ctx, tx, activity.Event{Type: activity.SignIn, Actor: activity.ByPerson,
					UserID: bob.ID, At: now.Add(-time.Duration(i+1) * time.Second)}); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		e.svc.MaxActivity = 0
		doc, err = e.svc.Export(signedIn(bob))
		if err != nil {
			t.Fatal(err)
		}
		if len(doc.Activity) != activity.MaxPage+5 || !doc.ActivityComplete {
			t.Errorf("a log of %d events with the default cap: %d events, complete %v; want all, true", activity.MaxPage+5, len(doc.Activity), doc.ActivityComplete)
		}
	})
}
