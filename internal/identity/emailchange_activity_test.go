package identity_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/ent/emailchange"
	"loginsign/internal/activity"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/identity"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/mail"
	"loginsign/internal/mail/mailtest"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// mailingIdentity is an identity service on db whose clock is now and whose mail goes to a
// test SMTP server, returned with it.
func mailingIdentity(t *testing.T, db *store.DB, now func() time.Time) (*identity.Service, *mailtest.Server) {
	t.Helper()
	smtp := mailtest.Start(t)
	sender, err := mail.New(mail.Config{URL: smtp.URL(), From: "LoginSign <no-reply@loginsign.test>"})
	if err != nil {
		t.Fatal(err)
	}
	s := identity.New(db, kvtest.Embedded(t), now, identity.SessionConfig{})
	s.Mail, s.BaseURL = sender, "https://login.example.com"
	return s, smtp
}

// TestTheAppsActivityLogKeepsThePersonsAnswerToAnEmailChange: an application that sees a
// person only by their relay alias proposes guesses of their real address (PATCH
// …/users/:connectionId/email). The answer is "pending" whatever the guess and the alias app
// gets no email_changed; the person's answer (confirming the guess that is their primary,
// cancelling another) must not reach the application's activity log either, or its developer
// learns which guess was the person's address. The developer still sees their own requests,
// and the person sees everything in their own log.
func TestTheAppsActivityLogKeepsThePersonsAnswerToAnEmailChange(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
		s, smtp := mailingIdentity(t, db, func() time.Time { return now })

		dev, err := s.CreateUser(ctx, "dev@example.com", "")
		if err != nil {
			t.Fatal(err)
		}
		pat, err := s.CreateUser(ctx, "pat.private@example.com", "")
		if err != nil {
			t.Fatal(err)
		}
		app := db.Application.Create().SetOwnerID(dev.ID).SetName("Curious").SetSecretHash("h").SaveX(ctx)
		conn := db.AppConnection.Create().SetUserID(pat.ID).SetApplicationID(app.ID).
			SetAliasEmail("k3j4h5g6@relay.example.com").SaveX(ctx)

		// guess proposes address as portal.SyncEmail does and returns the link of kind
		// ("confirm", mailed to the guess, or "cancel", mailed to the primary).
		guess := func(address, kind string) string {
			t.Helper()
			before := smtp.Count()
			pending, err := s.RequestEmailChange(ctx, pat.ID, address, identity.EmailChangeRequester{
				ApplicationID: app.ID, ApplicationName: app.Name, Actor: dev.ID, ConnectionID: conn.ID, Shown: conn.AppEmail})
			if err != nil || !pending {
				t.Fatalf("request %s: pending=%v err=%v", address, pending, err)
			}
			for _, m := range smtp.Wait(t, before+2)[before:] {
				if l := changeLinkRE.FindStringSubmatch(m.Text); l != nil && l[1] == kind {
					return l[2]
				}
			}
			t.Fatalf("no %s link mailed for %s", kind, address)
			return ""
		}
		as := auth.WithSession(ctx, auth.Session{UserID: pat.ID, ID: "s", SignedInAt: now})
		if _, err := s.ConfirmEmailChange(as, guess("pat.private@example.com", "confirm"), ""); err != nil {
			t.Fatal(err)
		}
		now = now.Add(time.Minute)
		if _, err := s.CancelEmailChange(ctx, guess("pat@elsewhere.example", "cancel")); err != nil {
			t.Fatal(err)
		}

		log := &activity.Service{DB: db, Now: func() time.Time { return now },
			Owned: func(ctx context.Context, appID string) (*ent.Application, error) {
				return db.Application.Get(ctx, appID)
			}}
		types := func(l *activity.List) map[activity.Type]int {
			n := map[activity.Type]int{}
			for _, ev := range l.Events {
				n[ev.Type]++
			}
			return n
		}
		devCtx := auth.WithSession(ctx, auth.Session{UserID: dev.ID, ID: "d", SignedInAt: now})
		seen, err := log.ForApplication(devCtx, app.ID, activity.Filter{}, activity.Page{})
		if err != nil {
			t.Fatal(err)
		}
		if n := types(seen); n[activity.EmailChangeRequest] != 2 || n[activity.EmailChangeConfirm] != 0 || n[activity.EmailChangeCancel] != 0 {
			t.Errorf("the alias-only app's activity log: %v, want its 2 requests and none of the person's answers", n)
		}
		own, err := log.ForPerson(as, pat.ID, activity.Filter{}, activity.Page{})
		if err != nil {
			t.Fatal(err)
		}
		if n := types(own); n[activity.EmailChangeConfirm] != 1 || n[activity.EmailChangeCancel] != 1 {
			t.Errorf("the person's own log: %v, want the confirmation and the cancellation", n)
		}
	})
}

// TestAProposalTellsTheRequesterNothingOfThePerson: what a proposal mails to the proposed
// address (which may be the developer's own mailbox) is in English whatever the person's
// language, so it does not give the developer their setting; the notice to the person's
// primary address speaks their language. And one application's requests for a person do not
// spend another's: a shared budget let an app stop other apps' requests, and tell from its own
// refusal that others had asked.
func TestAProposalTellsTheRequesterNothingOfThePerson(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s, smtp := mailingIdentity(t, db, time.Now)
		pat, err := s.CreateUser(ctx, "pat@example.com", "")
		if err != nil {
			t.Fatal(err)
		}
		db.User.UpdateOne(pat).SetLanguage("fr").ExecX(ctx)

		propose := func(app string, n int) error {
			before := smtp.Count()
			_, err := s.RequestEmailChange(ctx, pat.ID, fmt.Sprintf("guess-%s-%d@dev.example", app, n),
				identity.EmailChangeRequester{ApplicationID: app, ApplicationName: app})
			if err == nil {
				smtp.Wait(t, before+2)
			}
			return err
		}
		if err := propose("app_nosy", 0); err != nil {
			t.Fatal(err)
		}
		for _, m := range smtp.Messages()[:2] {
			want := "fr"
			if m.To[0] != "pat@example.com" {
				want = "en" // the proposed address
			}
			if !strings.Contains(string(m.Header()), "Content-Language: "+want+"\r\n") {
				t.Errorf("the mail to %v is not in %q:\n%s", m.To, want, m.Header())
			}
		}
		for n := 1; ; n++ {
			if err := propose("app_nosy", n); apperr.Is(err, apperr.RateLimited) {
				break
			} else if err != nil || n > 20 {
				t.Fatalf("request %d: %v", n, err)
			}
		}
		if err := propose("app_other", 0); err != nil {
			t.Errorf("another application's first request for pat after app_nosy's were refused: %v", err)
		}
	})
}

// TestConcurrentProposalsLeaveOnePending: requests for one person take turns, so each
// supersedes the one before and one stays pending, as the person's cancel link expects.
func TestConcurrentProposalsLeaveOnePending(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s, _ := mailingIdentity(t, db, time.Now)
		for round := range 5 {
			pat, err := s.CreateUser(ctx, fmt.Sprintf("pat-%d@example.com", round), "")
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			for i := range 8 {
				wg.Go(func() {
					app := fmt.Sprintf("app_%d", i)
					if _, err := s.RequestEmailChange(ctx, pat.ID, fmt.Sprintf("new-%d-%d@example.com", round, i),
						identity.EmailChangeRequester{ApplicationID: app, ApplicationName: app}); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			n := db.EmailChange.Query().Where(emailchange.UserID(pat.ID), emailchange.StatusEQ(emailchange.StatusPending)).CountX(ctx)
			if n != 1 {
				t.Fatalf("round %d: %d requests pending after 8 at once, want 1", round, n)
			}
		}
	})
}

// TestTheConfirmationNamesTheAppsThatFollow: a confirmed change moves every application shown
// the current address to the new one, not only the one that asked; the confirmation page
// names them to the person (and to nobody else holding the link).
func TestTheConfirmationNamesTheAppsThatFollow(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s, smtp := mailingIdentity(t, db, time.Now)
		dev, err := s.CreateUser(ctx, "dev@example.com", "")
		if err != nil {
			t.Fatal(err)
		}
		pat, err := s.CreateUser(ctx, "pat@example.com", "")
		if err != nil {
			t.Fatal(err)
		}
		connect := func(name, shown string) *ent.AppConnection {
			app := db.Application.Create().SetOwnerID(dev.ID).SetName(name).SetSecretHash("h").SaveX(ctx)
			return db.AppConnection.Create().SetUserID(pat.ID).SetApplicationID(app.ID).
				SetAliasEmail(strings.ToLower(name) + "@relay.example.com").SetAppEmail(shown).SaveX(ctx)
		}
		connect("Notes", "pat@example.com")
		connect("Atlas", "pat@example.com")
		asker := connect("Curious", "") // sees the alias only
		before := smtp.Count()
		if _, err := s.RequestEmailChange(ctx, pat.ID, "pat@new.example", identity.EmailChangeRequester{
			ApplicationID: asker.ApplicationID, ApplicationName: "Curious", ConnectionID: asker.ID}); err != nil {
			t.Fatal(err)
		}
		confirm := ""
		for _, m := range smtp.Wait(t, before+2)[before:] {
			if l := changeLinkRE.FindStringSubmatch(m.Text); l != nil && l[1] == "confirm" {
				confirm = l[2]
			}
		}
		as := auth.WithSession(ctx, auth.Session{UserID: pat.ID, ID: "s", SignedInAt: time.Now()})
		ec, err := s.PendingEmailChange(as, confirm, false)
		if err != nil || !slices.Equal(ec.SeenBy, []string{"Atlas", "Notes"}) {
			t.Errorf("the person's confirmation page: %+v %v, want Atlas and Notes named", ec, err)
		}
		other := auth.WithSession(ctx, auth.Session{UserID: dev.ID, ID: "d", SignedInAt: time.Now()})
		for _, c := range []context.Context{ctx, other} {
			if ec, err := s.PendingEmailChange(c, confirm, false); err != nil || ec.SeenBy != nil || ec.OldEmail != "" {
				t.Errorf("the page for someone else holding the link: %+v %v, want no apps and no address", ec, err)
			}
		}
	})
}

// TestAConnectionRemovedDuringAPrimaryChangeIsSkipped: a primary change reads the person's
// connections, then moves those shown the old address to the new one. A connection removed
// in between (the person removing the app at that moment, PostgreSQL) was an internal error
// that failed the whole change; it is skipped. The removal here is held open until the change
// waits for it, so the interleaving is the same in every run.
func TestAConnectionRemovedDuringAPrimaryChangeIsSkipped(t *testing.T) {
	t.Parallel()
	base := storetest.URLs(t)["postgres"]
	if base == "" {
		t.Skip("LOGINSIGN_TEST_DATABASE_URL names no PostgreSQL")
	}
	db := storetest.Postgres(t, base)
	ctx := context.Background()
	s := identity.New(db, kvtest.Embedded(t), nil, identity.SessionConfig{})
	ann, _ := s.CreateUser(ctx, "ann@example.com", "Ann")
	dev, _ := s.CreateUser(ctx, "dev@example.com", "")
	app := db.Application.Create().SetOwnerID(dev.ID).SetName("Notes").SetSecretHash("h").SaveX(ctx)
	conn := db.AppConnection.Create().SetUserID(ann.ID).SetApplicationID(app.ID).
		SetAliasEmail("notes@relay.example.com").SetAppEmail("ann@example.com").SaveX(ctx)

	removal, err := db.Client.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := removal.AppConnection.DeleteOneID(conn.ID).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := s.ChangePrimaryEmail(ctx, ann.ID, "ann.new@example.com", "user_email_change", "", ann.ID)
		done <- err
	}()
	// The change has read the connection (the removal is not committed) and waits on its row.
	if err, ended := storetest.AwaitLockWaiters(t, db, 1, done); ended {
		removal.Rollback()
		t.Fatalf("the change finished before waiting on the removal: %v", err)
	}
	if err := removal.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("a primary change racing the removal of a connection: %v", err)
	}
	if u, _ := s.User(ctx, ann.ID); u.Email != "ann.new@example.com" {
		t.Errorf("the primary address is %q", u.Email)
	}
}

// TestARequestRefusedWhereItIsWrittenStoresNothing: the requester's right is checked again in
// the transaction that stores the request (EmailChangeRequester.Check, the team role of the
// developer asking); refused there, nothing is stored and nothing mailed.
func TestARequestRefusedWhereItIsWrittenStoresNothing(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s, smtp := mailingIdentity(t, db, time.Now)
		pat, err := s.CreateUser(ctx, "pat@example.com", "")
		if err != nil {
			t.Fatal(err)
		}
		removed := apperr.New(apperr.NotFound, "application not found")
		_, err = s.RequestEmailChange(ctx, pat.ID, "pat@new.example", identity.EmailChangeRequester{ApplicationID: "app_x",
			ApplicationName: "X", Check: func(context.Context, *ent.Tx) error { return removed }})
		if !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("refused by its check: %v, want NotFound", err)
		}
		if n := db.EmailChange.Query().CountX(ctx); n != 0 || smtp.Count() != 0 {
			t.Errorf("%d requests stored, %d mails sent; want none", n, smtp.Count())
		}
	})
}
