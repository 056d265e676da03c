package account_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/ent/activityevent"
	"loginsign/ent/addressclaim"
	"loginsign/ent/appconnection"
	"loginsign/ent/auditevent"
	"loginsign/ent/emailchange"
	"loginsign/ent/retiredalias"
	"loginsign/ent/useremail"
	"loginsign/ent/webhookevent"
	"loginsign/internal/account"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/identity"
	"loginsign/internal/ids"
	"loginsign/internal/kv"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/mail"
	"loginsign/internal/mail/mailtest"
	"loginsign/internal/mfa"
	"loginsign/internal/passkey"
	"loginsign/internal/ratelimit"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

var now = time.Date(2026, 5, 3, 11, 20, 0, 0, time.UTC)

type env struct {
	t        *testing.T
	db       *store.DB
	kv       *kv.Store
	smtp     *mailtest.Server
	identity *identity.Service
	svc      *account.Service
	person   *ent.User
	dev      *ent.User
}

func newEnv(t *testing.T, db *store.DB) *env {
	k, err := kv.Open(context.Background(), kvtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	smtp := mailtest.Start(t)
	sender, err := mail.New(mail.Config{URL: smtp.URL(), From: "LoginSign <no-reply@loginsign.test>",
		Logger: slog.New(slog.DiscardHandler), RetryDelays: []time.Duration{}})
	if err != nil {
		t.Fatal(err)
	}
	clock := func() time.Time { return now }
	idsvc := identity.New(db, k, clock, identity.SessionConfig{})
	e := &env{t: t, db: db, kv: k, smtp: smtp, identity: idsvc,
		svc: &account.Service{DB: db, KV: k, Identity: idsvc, Mail: sender, BaseURL: "https://login.example.com", Now: clock}}
	e.person = e.user("person@example.com")
	e.dev = e.user("dev@example.com")
	return e
}

func (e *env) user(email string) *ent.User {
	e.t.Helper()
	u, err := e.identity.CreateUser(context.Background(), email, "")
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

func (e *env) app(name string) *ent.Application {
	e.t.Helper()
	return e.db.Application.Create().SetOwnerID(e.dev.ID).SetName(name).SetSecretHash("x").
		SetWebhookURL("https://" + name + ".example.com/hooks").SetWebhookSecret([]byte("sealed")).
		SaveX(context.Background())
}

func (e *env) connect(u *ent.User, app *ent.Application, appEmail string) *ent.AppConnection {
	e.t.Helper()
	return e.db.AppConnection.Create().SetUserID(u.ID).SetApplicationID(app.ID).
		SetAliasEmail(ids.RandomLower(10) + "@relay.example.com").SetAppEmail(appEmail).
		SaveX(context.Background())
}

func as(u *ent.User) context.Context {
	return auth.WithSession(context.Background(), auth.Session{UserID: u.ID, ID: "s", SignedInAt: time.Now()})
}

// events returns the queued webhook bodies per application, in a stable order.
func (e *env) events() map[string][]string {
	e.t.Helper()
	out := map[string][]string{}
	for _, ev := range e.db.WebhookEvent.Query().AllX(context.Background()) {
		if ev.Status != webhookevent.StatusPending {
			e.t.Errorf("event %s is %s, want pending", ev.ID, ev.Status)
		}
		out[ev.ApplicationID] = append(out[ev.ApplicationID], ev.Payload)
	}
	for _, v := range out {
		sort.Strings(v)
	}
	return out
}

// sameJSON compares two JSON documents by value.
func sameJSON(t *testing.T, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("body %s: %v", got, err)
	}
	json.Unmarshal([]byte(want), &w)
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if string(gb) != string(wb) {
		t.Errorf("body\n got %s\nwant %s", gb, wb)
	}
}

func wantCode(t *testing.T, err error, code apperr.Code, reason string) {
	t.Helper()
	e := apperr.As(err)
	if e == nil || e.Code != code || (reason != "" && e.Reason != reason) {
		t.Fatalf("error %v, want %s %s", err, code, reason)
	}
}

func TestRemoveConnectionEmitsConnectionDeleted(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		app := e.app("notes")
		conn := e.connect(e.person, app, "")
		other := e.connect(e.dev, app, "")

		wantCode(t, e.svc.RemoveConnection(context.Background(), conn.ID), apperr.Unauthorized, "")
		wantCode(t, e.svc.RemoveConnection(as(e.person), other.ID), apperr.NotFound, "")
		if len(e.events()) != 0 {
			t.Fatal("a refused removal queued an event")
		}
		if err := e.svc.RemoveConnection(as(e.person), conn.ID); err != nil {
			t.Fatal(err)
		}
		got := e.events()[app.ID]
		if len(got) != 1 {
			t.Fatalf("%d events, want 1", len(got))
		}
		sameJSON(t, got[0], fmt.Sprintf(`{"type":"connection_deleted","connectionId":%q,"userId":%q,"aliasEmail":%q,
			"applicationId":%q,"reason":null,"deletedAt":"2026-05-03T11:20:00.000Z"}`,
			conn.ID, e.person.GlobalID, conn.AliasEmail, app.ID))
		if ok, _ := db.AppConnection.Query().Where().Exist(context.Background()); !ok {
			t.Error("the other person's connection went too")
		}
		if _, err := db.AppConnection.Get(context.Background(), conn.ID); !store.NotFound(err) {
			t.Errorf("connection still there: %v", err)
		}
		if !db.RetiredAlias.Query().Where(retiredalias.Address(conn.AliasEmail)).ExistX(context.Background()) {
			t.Error("alias not retired")
		}
		wantCode(t, e.svc.RemoveConnection(as(e.person), conn.ID), apperr.NotFound, "")
	})
}

func TestConcurrentRemovalsEndTheConnectionOnce(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		app := e.app("notes")
		conn := e.connect(e.person, app, "")
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Go(func() { errs[i] = e.svc.RemoveConnection(as(e.person), conn.ID) })
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			} else if !apperr.Is(err, apperr.NotFound) {
				t.Errorf("unexpected error %v", err)
			}
		}
		if ok != 1 || len(e.events()[app.ID]) != 1 {
			t.Errorf("%d removals succeeded, %d events; want 1 and 1", ok, len(e.events()[app.ID]))
		}
	})
}

func TestMuteAndUnmuteAnAppsMail(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		app := e.app("news")
		conn := e.connect(e.person, app, "")
		c, err := e.svc.SetConnectionMuted(as(e.person), conn.ID, true)
		if err != nil || !c.EmailMuted {
			t.Fatalf("mute: %v %v", c, err)
		}
		c, err = e.svc.SetConnectionMuted(as(e.person), conn.ID, false)
		if err != nil || c.EmailMuted {
			t.Fatalf("unmute: %v %v", c, err)
		}
		_, err = e.svc.SetConnectionMuted(as(e.dev), conn.ID, true)
		wantCode(t, err, apperr.NotFound, "")
		if db.AppConnection.GetX(context.Background(), conn.ID).EmailMuted {
			t.Error("another person muted the connection")
		}
		if len(e.events()) != 0 {
			t.Error("muting queued a webhook event")
		}
	})
}

var linkRE = regexp.MustCompile(`https://login\.example\.com/dashboard/emails/verify\?token=(\S+)`)

func (e *env) addAndVerify(u *ent.User, addr string) *ent.UserEmail {
	e.t.Helper()
	before := e.smtp.Count()
	ue, err := e.svc.AddAlternativeEmail(as(u), addr, "")
	if err != nil {
		e.t.Fatal(err)
	}
	msgs := e.smtp.Wait(e.t, before+1)
	m := msgs[len(msgs)-1]
	if len(m.To) != 1 || m.To[0] != addr {
		e.t.Fatalf("verification mail went to %v", m.To)
	}
	tok := linkRE.FindStringSubmatch(m.Text)
	if tok == nil {
		e.t.Fatalf("no link in %q", m.Text)
	}
	v, err := e.svc.VerifyAlternativeEmail(as(u), tok[1])
	if err != nil || v.ID != ue.ID || v.VerifiedAt == nil {
		e.t.Fatalf("verify: %+v %v", v, err)
	}
	return v
}

func TestAlternativeAddressIsPendingUntilItsSingleUseLinkIsFollowed(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ue, err := e.svc.AddAlternativeEmail(as(e.person), "  Backup@Example.org ", "")
		if err != nil || ue.Email != "backup@example.org" || ue.VerifiedAt != nil {
			t.Fatalf("add: %+v %v", ue, err)
		}
		m := e.smtp.Wait(t, 1)[0]
		tok := linkRE.FindStringSubmatch(m.Text)
		if tok == nil || m.To[0] != "backup@example.org" {
			t.Fatalf("mail to %v text %q", m.To, m.Text)
		}
		// The mailbox alone is not enough: signed out, or signed in to another account, the link
		// explains and changes nothing, and stays usable for the account that asked.
		_, err = e.svc.VerifyAlternativeEmail(context.Background(), tok[1])
		wantCode(t, err, apperr.Unauthorized, "sign_in_required")
		_, err = e.svc.VerifyAlternativeEmail(as(e.dev), tok[1])
		wantCode(t, err, apperr.Forbidden, "other_account")
		if still, _ := db.UserEmail.Get(context.Background(), ue.ID); still.VerifiedAt != nil {
			t.Fatal("a refused confirmation verified the address")
		}
		v, err := e.svc.VerifyAlternativeEmail(as(e.person), tok[1])
		if err != nil || v.VerifiedAt == nil {
			t.Fatalf("verify: %+v %v", v, err)
		}
		_, err = e.svc.VerifyAlternativeEmail(as(e.person), tok[1])
		wantCode(t, err, apperr.Invalid, "invalid_token")
		_, err = e.svc.VerifyAlternativeEmail(as(e.person), "ver_forged")
		wantCode(t, err, apperr.Invalid, "invalid_token")

		_, err = e.svc.AddAlternativeEmail(as(e.person), "backup@example.org", "")
		wantCode(t, err, apperr.Conflict, "already_linked")
		_, err = e.svc.AddAlternativeEmail(as(e.person), "person@example.com", "")
		wantCode(t, err, apperr.Conflict, "already_primary")
		_, err = e.svc.AddAlternativeEmail(as(e.person), "not an address", "")
		wantCode(t, err, apperr.Invalid, "")
		_, err = e.svc.AddAlternativeEmail(context.Background(), "x@example.org", "")
		wantCode(t, err, apperr.Unauthorized, "")
		if len(e.events()) != 0 {
			t.Error("address changes queued webhook events")
		}
	})
}

func TestVerifyingAnAddressAnotherAccountUsesIsRefused(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		// Adding does not reveal that dev@example.com has an account; verifying does, to its owner.
		if _, err := e.svc.AddAlternativeEmail(as(e.person), "dev@example.com", ""); err != nil {
			t.Fatal(err)
		}
		tok := linkRE.FindStringSubmatch(e.smtp.Wait(t, 1)[0].Text)
		_, err := e.svc.VerifyAlternativeEmail(as(e.person), tok[1])
		wantCode(t, err, apperr.Conflict, "email_taken")
	})
}

func TestRemoveAlternativeAddress(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ue := e.addAndVerify(e.person, "backup@example.org")
		wantCode(t, e.svc.RemoveAlternativeEmail(as(e.dev), ue.ID, ""), apperr.NotFound, "")
		if err := e.svc.RemoveAlternativeEmail(as(e.person), ue.ID, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := db.UserEmail.Get(context.Background(), ue.ID); !store.NotFound(err) {
			t.Errorf("address still linked: %v", err)
		}
		wantCode(t, e.svc.RemoveAlternativeEmail(as(e.person), ue.ID, ""), apperr.NotFound, "")
	})
}

// Removing a verified address the person shared with applications shows them the
// connection's relay alias from then on (never another real address the person did not
// choose), and each gets email_changed in the removal's transaction. Applications shown the
// primary address or the alias see nothing change; a pending address was shown to none.
func TestRemovingASharedAddressShowsTheAppsTheAlias(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		old := e.addAndVerify(e.person, "old@example.org")
		shownOld, shownPrimary, masked := e.app("old"), e.app("primary"), e.app("masked")
		oc := e.connect(e.person, shownOld, "old@example.org")
		pc := e.connect(e.person, shownPrimary, "person@example.com")
		mc := e.connect(e.person, masked, "")
		pending, err := e.svc.AddAlternativeEmail(as(e.person), "pending@example.org", "")
		if err != nil {
			t.Fatal(err)
		}
		if err := e.svc.RemoveAlternativeEmail(as(e.person), pending.ID, ""); err != nil {
			t.Fatal(err)
		}
		if evs := e.events(); len(evs) != 0 {
			t.Fatalf("removing a pending address queued %v", evs)
		}

		if err := e.svc.RemoveAlternativeEmail(as(e.person), old.ID, ""); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			conn *ent.AppConnection
			want string
		}{{oc, ""}, {pc, "person@example.com"}, {mc, ""}} {
			if got := db.AppConnection.GetX(ctx, c.conn.ID).AppEmail; got != c.want {
				t.Errorf("connection %s shows %q, want %q", c.conn.ID, got, c.want)
			}
		}
		evs := e.events()
		if len(evs) != 1 || len(evs[shownOld.ID]) != 1 {
			t.Fatalf("events %v; want one, for the app shown the removed address", evs)
		}
		sameJSON(t, evs[shownOld.ID][0], fmt.Sprintf(`{"type":"email_changed","applicationId":%q,"connectionId":%q,
			"userId":%q,"aliasEmail":%q,"oldEmail":"old@example.org","newEmail":%q,
			"changedAt":"2026-05-03T11:20:00.000Z","reason":"user_email_change"}`,
			shownOld.ID, oc.ID, e.person.GlobalID, oc.AliasEmail, oc.AliasEmail))
	})
}

// Removing a verified address ends the person's sessions that signed in through it, all but
// the one removing it; sessions signed in through another address stay.
func TestRemovingAnAddressEndsTheSessionsItSignedIn(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		ue := e.addAndVerify(e.person, "mallory@evil.example")
		start := func(addr string) string {
			t.Helper()
			raw, err := e.identity.Sessions.Start(ctx, identity.NewSession{UserID: e.person.ID, UserAgent: "agent",
				IP: "127.0.0.1", Address: addr})
			if err != nil {
				t.Fatal(err)
			}
			return raw
		}
		thief, own, current := start("mallory@evil.example"), start("person@example.com"), start("mallory@evil.example")
		sess, err := e.identity.Sessions.Lookup(ctx, current)
		if err != nil {
			t.Fatal(err)
		}
		sess.SignedInAt = now
		if err := e.svc.RemoveAlternativeEmail(auth.WithSession(ctx, sess), ue.ID, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := e.identity.Sessions.Lookup(ctx, thief); err == nil {
			t.Error("the session signed in through the removed address still works")
		}
		for name, raw := range map[string]string{"the session removing it": current, "the primary address's session": own} {
			if _, err := e.identity.Sessions.Lookup(ctx, raw); err != nil {
				t.Errorf("%s ended: %v", name, err)
			}
		}
	})
}

// A person flipping their primary address between two of their own tells every application
// following it each time and records an audit and an activity event: past
// DefaultPrimaryChanges a day the change is refused and nothing is written; refusals that
// change nothing (an unconfirmed address) spend nothing, and other people keep their own budget.
func TestPrimaryAddressChangesAreBoundedPerPerson(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		app := e.app("shared")
		e.connect(e.person, app, "person@example.com")
		e.addAndVerify(e.person, "other@example.org")
		pending, err := e.svc.AddAlternativeEmail(as(e.person), "pending@example.org", "")
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			_, err := e.svc.MakePrimaryEmail(as(e.person), pending.ID, "")
			wantCode(t, err, apperr.Conflict, "email_not_verified")
		}
		ctx := context.Background()
		alternative := func(u *ent.User) *ent.UserEmail {
			t.Helper()
			cur := db.User.GetX(ctx, u.ID)
			return db.UserEmail.Query().Where(useremail.UserID(u.ID), useremail.EmailNEQ(cur.Email),
				useremail.EmailNEQ("pending@example.org")).OnlyX(ctx)
		}
		tables := func() (audits, activities, events int) {
			return db.AuditEvent.Query().CountX(ctx), db.ActivityEvent.Query().CountX(ctx), db.WebhookEvent.Query().CountX(ctx)
		}
		for i := range account.DefaultPrimaryChanges.N {
			if _, err := e.svc.MakePrimaryEmail(as(e.person), alternative(e.person).ID, ""); err != nil {
				t.Fatalf("change %d of %d: %v", i+1, account.DefaultPrimaryChanges.N, err)
			}
		}
		if got := len(e.events()[app.ID]); got != account.DefaultPrimaryChanges.N {
			t.Fatalf("the application was told %d changes, want %d", got, account.DefaultPrimaryChanges.N)
		}
		primary := db.User.GetX(ctx, e.person.ID).Email
		a, ac, ev := tables()
		_, err = e.svc.MakePrimaryEmail(as(e.person), alternative(e.person).ID, "")
		wantCode(t, err, apperr.RateLimited, "")
		if got := db.User.GetX(ctx, e.person.ID).Email; got != primary {
			t.Errorf("the refused change made %s the primary address, want %s kept", got, primary)
		}
		if a2, ac2, ev2 := tables(); a2 != a || ac2 != ac || ev2 != ev {
			t.Errorf("the refused change wrote audit %d→%d, activity %d→%d, webhook events %d→%d", a, a2, ac, ac2, ev, ev2)
		}

		e.addAndVerify(e.dev, "dev.other@example.org")
		if _, err := e.svc.MakePrimaryEmail(as(e.dev), alternative(e.dev).ID, ""); err != nil {
			t.Errorf("another person's change: %v", err)
		}
	})
}

func TestMakePrimaryEmitsEmailChangedToAppsShownTheOldAddress(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		shared, masked := e.app("shared"), e.app("masked")
		sc := e.connect(e.person, shared, "person@example.com")
		e.connect(e.person, masked, "")
		pending, err := e.svc.AddAlternativeEmail(as(e.person), "pending@example.org", "")
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.MakePrimaryEmail(as(e.person), pending.ID, "")
		wantCode(t, err, apperr.Conflict, "email_not_verified")

		ue := e.addAndVerify(e.person, "new@example.org")
		_, err = e.svc.MakePrimaryEmail(as(e.dev), ue.ID, "")
		wantCode(t, err, apperr.NotFound, "")
		u, err := e.svc.MakePrimaryEmail(as(e.person), ue.ID, "")
		if err != nil || u.Email != "new@example.org" {
			t.Fatalf("make primary: %v %v", u, err)
		}
		evs := e.events()
		if len(evs[masked.ID]) != 0 || len(evs[shared.ID]) != 1 {
			t.Fatalf("events %v; want one for the app shown the old address", evs)
		}
		sameJSON(t, evs[shared.ID][0], fmt.Sprintf(`{"type":"email_changed","applicationId":%q,"connectionId":%q,
			"userId":%q,"aliasEmail":%q,"oldEmail":"person@example.com","newEmail":"new@example.org",
			"changedAt":"2026-05-03T11:20:00.000Z","reason":"user_email_change"}`,
			shared.ID, sc.ID, e.person.GlobalID, sc.AliasEmail))
	})
}

func TestDeleteAccountEndsEveryConnectionAndSession(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		a, b := e.app("alpha"), e.app("beta")
		ca, cb := e.connect(e.person, a, ""), e.connect(e.person, b, "person@example.com")
		e.addAndVerify(e.person, "backup@example.org")
		raw, err := e.identity.Sessions.Create(context.Background(), e.person.ID, "test", "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}

		_, err = e.svc.DeleteAccount(as(e.person), "ZZ9999", "")
		wantCode(t, err, apperr.Invalid, "confirmation_mismatch")
		_, err = e.svc.DeleteAccount(as(e.dev), e.dev.GlobalID, "")
		wantCode(t, err, apperr.Conflict, "owns_applications")
		if len(e.events()) != 0 {
			t.Fatal("a refused deletion queued events")
		}

		n, err := e.svc.DeleteAccount(as(e.person), e.person.GlobalID, "")
		if err != nil || n != 2 {
			t.Fatalf("delete: %d %v", n, err)
		}
		evs := e.events()
		if len(evs[a.ID]) != 1 || len(evs[b.ID]) != 1 {
			t.Fatalf("events %v, want one per connection", evs)
		}
		for _, c := range []struct {
			app  *ent.Application
			conn *ent.AppConnection
		}{{a, ca}, {b, cb}} {
			sameJSON(t, evs[c.app.ID][0], fmt.Sprintf(`{"type":"user_account_deleted","applicationId":%q,
				"connectionId":%q,"userId":%q,"aliasEmail":%q}`, c.app.ID, c.conn.ID, e.person.GlobalID, c.conn.AliasEmail))
		}
		if _, err := e.identity.Sessions.Lookup(context.Background(), raw); !apperr.Is(err, apperr.Unauthorized) {
			t.Errorf("session still works: %v", err)
		}
		if _, err := db.User.Get(context.Background(), e.person.ID); !store.NotFound(err) {
			t.Errorf("user still there: %v", err)
		}
		if n := db.UserEmail.Query().CountX(context.Background()); n != 0 {
			t.Errorf("%d addresses left", n)
		}
		// The same address can sign up again; it gets a new Global User ID.
		again := e.user("person@example.com")
		if again.GlobalID == e.person.GlobalID {
			t.Errorf("Global User ID %s was issued again", again.GlobalID)
		}
		_, err = e.svc.DeleteAccount(as(e.person), e.person.GlobalID, "")
		wantCode(t, err, apperr.NotFound, "")
	})
}

// TestDeleteAccountLeavesNoCopyOfTheAddresses: closing an account deletes the person's address
// change requests and removes their addresses from the account's audit events: the address
// change made in the dashboard, the change a developer requested (which holds the real primary
// address although the application knew the person only by a relay alias) and the deletion
// itself. The events stay, without addresses; another person's are untouched; and everything
// the deletion removes besides is still removed.
func TestDeleteAccountLeavesNoCopyOfTheAddresses(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		e.identity.Mail, e.identity.BaseURL = e.svc.Mail, e.svc.BaseURL
		shared, masked := e.app("shared"), e.app("masked")
		e.connect(e.person, shared, "person@example.com")
		mc := e.connect(e.person, masked, "")
		ue := e.addAndVerify(e.person, "backup@example.org")
		if _, err := e.svc.MakePrimaryEmail(as(e.person), ue.ID, ""); err != nil {
			t.Fatal(err)
		}
		// The masked application proposes an address: the request keeps the real primary one.
		if _, err := e.identity.RequestEmailChange(ctx, e.person.ID, "proposed@example.net", identity.EmailChangeRequester{
			ApplicationID: masked.ID, ApplicationName: "masked", Actor: e.dev.ID, ConnectionID: mc.ID, Shown: mc.AliasEmail,
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.identity.RequestEmailChange(ctx, e.dev.ID, "dev-next@example.net", identity.EmailChangeRequester{
			ApplicationID: masked.ID, ApplicationName: "masked"}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.identity.ChangePrimaryEmail(ctx, e.dev.ID, "dev-new@example.com", "user_email_change", "", e.dev.ID); err != nil {
			t.Fatal(err)
		}
		if n := db.EmailChange.Query().Where(emailchange.UserID(e.person.ID)).CountX(ctx); n != 1 {
			t.Fatalf("%d address change requests before the deletion, want 1", n)
		}

		if n, err := e.svc.DeleteAccount(as(e.person), e.person.GlobalID, ""); err != nil || n != 2 {
			t.Fatalf("delete: %d %v", n, err)
		}

		if n := db.EmailChange.Query().Where(emailchange.UserID(e.person.ID)).CountX(ctx); n != 0 {
			t.Errorf("%d address change requests of the deleted person left", n)
		}
		if n := db.EmailChange.Query().Where(emailchange.UserID(e.dev.ID)).CountX(ctx); n != 1 {
			t.Errorf("%d address change requests of another person, want 1", n)
		}
		for _, ev := range db.AuditEvent.Query().AllX(ctx) {
			data, _ := json.Marshal(ev.Data)
			for _, addr := range []string{"person@example.com", "backup@example.org", "proposed@example.net"} {
				if strings.Contains(string(data), addr) {
					t.Errorf("audit event %s %s keeps %s: %s", ev.Action, ev.Target, addr, data)
				}
			}
		}
		// The account's events stay, under its Global User ID, without addresses.
		mine := db.AuditEvent.Query().Where(auditevent.Target(e.person.GlobalID)).
			Order(ent.Asc(auditevent.FieldCreatedAt), ent.Asc(auditevent.FieldAction)).AllX(ctx)
		if len(mine) != 2 || mine[0].Action != "user.deleted" || mine[1].Action != "user.email_changed" {
			t.Fatalf("audit events of the account: %+v", mine)
		}
		for i, want := range []string{`{"connections":2}`, `{"reason":"user_email_change"}`} {
			got, _ := json.Marshal(mine[i].Data)
			sameJSON(t, string(got), want)
		}
		theirs := db.AuditEvent.Query().Where(auditevent.Target(e.dev.GlobalID)).OnlyX(ctx)
		got, _ := json.Marshal(theirs.Data)
		sameJSON(t, string(got), `{"old":"dev@example.com","new":"dev-new@example.com","reason":"user_email_change"}`)

		if _, err := db.User.Get(ctx, e.person.ID); !store.NotFound(err) {
			t.Errorf("user still there: %v", err)
		}
		for what, n := range map[string]int{
			"addresses":   db.UserEmail.Query().Where(useremail.UserID(e.person.ID)).CountX(ctx),
			"claims":      db.AddressClaim.Query().Where(addressclaim.UserID(e.person.ID)).CountX(ctx),
			"connections": db.AppConnection.Query().Where(appconnection.UserID(e.person.ID)).CountX(ctx),
			"activity":    db.ActivityEvent.Query().Where(activityevent.UserID(e.person.ID)).CountX(ctx),
		} {
			if n != 0 {
				t.Errorf("%d %s of the deleted person left", n, what)
			}
		}
	})
}

// TestDeleteAccountEndsEnrolmentsInProgress: closing an account ends what the person began and
// did not finish, so nothing of it stays in the key-value store under the account's id: a TOTP
// enrolment (the sealed secret offered, kept 15 minutes under mfa's enrolKey) and a passkey
// registration (its challenge, 5 minutes under passkey's regKey). Another person's stay.
func TestDeleteAccountEndsEnrolmentsInProgress(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		clock := func() time.Time { return now }
		mfas := mfa.New(db, e.kv, sealer(t, "totp secrets"), clock)
		passkeys, err := passkey.New(db, e.kv, "https://login.example.com", clock)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range []*ent.User{e.person, e.dev} {
			if _, err := mfas.BeginTOTP(as(u), u.Email); err != nil {
				t.Fatal(err)
			}
			if _, err := passkeys.BeginRegistration(as(u)); err != nil {
				t.Fatal(err)
			}
		}
		enrolments := func(u *ent.User) int64 {
			return e.kv.Exists(ctx, "totp-enrol:"+u.ID, "pkreg:"+u.ID).Val()
		}
		if n := enrolments(e.person); n != 2 {
			t.Fatalf("%d enrolments in progress before the closing, want 2", n)
		}

		if _, err := e.svc.DeleteAccount(as(e.person), e.person.GlobalID, ""); err != nil {
			t.Fatal(err)
		}
		if n := enrolments(e.person); n != 0 {
			t.Errorf("%d enrolments of the closed account left", n)
		}
		if n := enrolments(e.dev); n != 2 {
			t.Errorf("%d enrolments of another person left, want 2", n)
		}
	})
}

// TestConfirmationMailsPerAddressKeepPeopleAndApplicationsApart: a mailbox gets at most
// identity.AddressConfirmMails verifications a day from people adding it to their accounts and
// identity.ProposalConfirmMails confirmations from applications' proposals, whoever asks:
// throwaway accounts and apps cannot mail an address without end. Neither side counts the
// other's: after a person added the address, applications still get their whole budget (with
// one shared budget a developer was refused one proposal sooner, and so learnt that someone
// had added the address), and after applications spent theirs, people still add it. Past a
// budget the path answers 429 and stores and mails nothing (the email sync with the
// per-person limit's words); the mailbox written differently is the same mailbox.
func TestConfirmationMailsPerAddressKeepPeopleAndApplicationsApart(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.identity.Mail, e.identity.BaseURL = e.svc.Mail, e.svc.BaseURL
		ctx := context.Background()
		n := 0
		fresh := func() *ent.User { n++; return e.user(fmt.Sprintf("throwaway-%d@example.com", n)) }
		type outcome struct{ mails, alternatives, requests, events int }
		counts := func() outcome {
			return outcome{e.smtp.Count(), db.UserEmail.Query().CountX(ctx), db.EmailChange.Query().CountX(ctx),
				db.ActivityEvent.Query().CountX(ctx)}
		}
		// add is a person adding addr as an alternative address.
		add := func(addr string) error {
			_, err := e.svc.AddAlternativeEmail(as(fresh()), addr, "")
			return err
		}
		// propose is an application of its own proposing addr for a person connected to it.
		propose := func(addr string) error {
			u := fresh()
			app := e.app(fmt.Sprintf("app%d", n))
			_, err := e.identity.RequestEmailChange(ctx, u.ID, addr, identity.EmailChangeRequester{
				ApplicationID: app.ID, ApplicationName: app.Name, ConnectionID: e.connect(u, app, "").ID})
			return err
		}
		type path struct {
			name string
			do   func(string) error
			rule ratelimit.Rule
		}
		adding := path{"addAlternativeEmail", add, identity.AddressConfirmMails}
		proposing := path{"email sync", propose, identity.ProposalConfirmMails}
		for _, p := range []path{adding, proposing} {
			if p.rule.N != 5 || p.rule.Window != 24*time.Hour {
				t.Fatalf("%s's rule is %s, want 5 per 24h", p.name, p.rule)
			}
		}
		// accepted runs p to the mailbox of domain, written differently each time, until its
		// budget is spent (from already), each time mailing.
		accepted := func(p path, domain string, already int) {
			t.Helper()
			for i := already; i < p.rule.N; i++ {
				addr := fmt.Sprintf("Victim+%s%d@%s", strings.Fields(p.name)[0], i, domain)
				before := e.smtp.Count()
				if err := p.do(addr); err != nil {
					t.Fatalf("%s of %s (mail %d of its %d): %v", p.name, addr, i+1, p.rule.N, err)
				}
				e.smtp.Wait(t, before+1)
			}
		}
		refused := func(p path, addr string) {
			t.Helper()
			before := counts()
			err := p.do(addr)
			if !apperr.Is(err, apperr.RateLimited) {
				t.Fatalf("%s of %s past its budget: %v, want rate_limited", p.name, addr, err)
			} else if p.name == "email sync" && !strings.HasPrefix(apperr.As(err).Message, "too many address change requests for this person;") {
				t.Errorf("email sync past the address's budget says %q, want the per-person limit's words", apperr.As(err).Message)
			}
			// The person and the application exist; nothing else was stored or mailed.
			if after := counts(); after != before {
				t.Errorf("%s of %s past its budget: %+v → %+v", p.name, addr, before, after)
			}
		}

		// A person adds the address once, as stop 45's review did; applications then propose it
		// as often as to a mailbox nobody added.
		if err := add("victim@example.net"); err != nil {
			t.Fatal(err)
		}
		accepted(proposing, "Example.net", 0)
		refused(proposing, "VICTIM+again@example.net")
		accepted(adding, "example.NET", 1)
		refused(adding, "victim@example.net")

		// Applications spend their budget first; people still add the address.
		accepted(proposing, "example.org", 0)
		refused(proposing, "victim@example.org")
		accepted(adding, "example.org", 0)
		refused(adding, "victim+more@example.org")
	})
}

// TestVerificationMailsPerPersonStoreNothingPastTheLimit: a person adds at most 5 addresses an
// hour; past it the answer is 429 and no pending address, activity event or mail is left.
func TestVerificationMailsPerPersonStoreNothingPastTheLimit(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		for i := range 5 {
			if _, err := e.svc.AddAlternativeEmail(as(e.person), fmt.Sprintf("backup-%d@example.org", i), ""); err != nil {
				t.Fatal(err)
			}
		}
		e.smtp.Wait(t, 5)
		stored, logged := db.UserEmail.Query().CountX(ctx), db.ActivityEvent.Query().CountX(ctx)
		_, err := e.svc.AddAlternativeEmail(as(e.person), "backup-5@example.org", "")
		wantCode(t, err, apperr.RateLimited, "")
		if got := db.UserEmail.Query().CountX(ctx); got != stored {
			t.Errorf("%d addresses after a refused add, want %d", got, stored)
		}
		if got := db.ActivityEvent.Query().CountX(ctx); got != logged {
			t.Errorf("%d activity events after a refused add, want %d", got, logged)
		}
		if got := e.smtp.Count(); got != 5 {
			t.Errorf("%d mails after a refused add, want 5", got)
		}
	})
}
