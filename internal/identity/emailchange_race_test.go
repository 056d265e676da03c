package identity_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/ent/emailchange"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/identity"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/mail"
	"loginsign/internal/mail/mailtest"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// proposal is an application's address change request for one person, with its two links.
type proposal struct {
	s               *identity.Service
	user            *ent.User
	as              context.Context // the person's browser, signed in just now
	confirm, cancel string
}

// propose makes a person connected to an application, whose request to move them to newAddr
// it returns.
func propose(t *testing.T, db *store.DB, s *identity.Service, smtp *mailtest.Server, addr, newAddr string) proposal {
	t.Helper()
	ctx := context.Background()
	u, err := s.CreateUser(ctx, addr, "")
	if err != nil {
		t.Fatal(err)
	}
	app := db.Application.Create().SetOwnerID(u.ID).SetName("Demo").SetSecretHash("h").SaveX(ctx)
	db.AppConnection.Create().SetUserID(u.ID).SetApplicationID(app.ID).SetAliasEmail(addr + ".relay@relay.example.com").ExecX(ctx)
	before := smtp.Count()
	if pending, err := s.RequestEmailChange(ctx, u.ID, newAddr, identity.EmailChangeRequester{ApplicationID: app.ID, ApplicationName: "Demo"}); err != nil || !pending {
		t.Fatalf("request: %v %v", pending, err)
	}
	p := proposal{s: s, user: u, as: auth.WithSession(ctx, auth.Session{UserID: u.ID, ID: "s", SignedInAt: time.Now()})}
	// The two mails of this request go to addr and newAddr; a notice of an earlier round's
	// change, sent after its answer, may arrive among them and is not one of them.
	for n := before + 1; p.confirm == "" || p.cancel == ""; n++ {
		m := smtp.Wait(t, n)[n-1]
		if to := m.To[0]; to != addr && to != newAddr {
			continue
		}
		l := changeLinkRE.FindStringSubmatch(m.Text)
		if l == nil {
			t.Fatalf("no link in %q", m.Text)
		}
		if l[1] == "confirm" {
			p.confirm = l[2]
		} else {
			p.cancel = l[2]
		}
	}
	return p
}

func changeService(t *testing.T, db *store.DB) (*identity.Service, *mailtest.Server) {
	t.Helper()
	smtp := mailtest.Start(t)
	sender, err := mail.New(mail.Config{URL: smtp.URL(), From: "LoginSign <no-reply@loginsign.test>"})
	if err != nil {
		t.Fatal(err)
	}
	s := identity.New(db, kvtest.Embedded(t), time.Now, identity.SessionConfig{})
	s.Mail, s.BaseURL = sender, "https://login.example.com"
	return s, smtp
}

// A proposal's confirm link followed many times at once, and its cancel link with it, end the
// request once: one answer is a success, the others Gone, and a confirmation that won changed
// the address once (email_version 1). Many rounds, on SQLite and PostgreSQL.
func TestAProposalAnsweredManyTimesAtOnceIsAnsweredOnce(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s, smtp := changeService(t, db)
		const rounds, parallel = 5, 6
		for round := range rounds {
			p := propose(t, db, s, smtp, fmt.Sprintf("pat-%d@example.com", round), fmt.Sprintf("new-%d@example.com", round))
			var confirmed, cancelled atomic.Int32
			var wg sync.WaitGroup
			for i := range parallel {
				wg.Go(func() {
					var err error
					if i%3 == 2 {
						if _, err = s.CancelEmailChange(ctx, p.cancel); err == nil {
							cancelled.Add(1)
						}
					} else if _, err = s.ConfirmEmailChange(p.as, p.confirm, ""); err == nil {
						confirmed.Add(1)
					}
					if err != nil && !apperr.Is(err, apperr.Gone) {
						t.Errorf("round %d: %v", round, err)
					}
				})
			}
			wg.Wait()
			if c, x := confirmed.Load(), cancelled.Load(); c+x != 1 {
				t.Fatalf("round %d: %d confirmations and %d cancellations succeeded at once, want one in all", round, c, x)
			}
			u := db.User.GetX(ctx, p.user.ID)
			if want := int(confirmed.Load()); u.EmailVersion != want {
				t.Fatalf("round %d: email_version %d after %d confirmations", round, u.EmailVersion, want)
			}
		}
	})
}

// A confirmation that fails half way (the database failing at its last write) changes
// nothing and spends nothing: the link was used in the transaction that changes the address,
// so it confirms the change when followed again.
func TestAConfirmationThatFailsHalfWayLeavesItsLinkUsable(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s, smtp := changeService(t, db)
		var fault atomic.Bool
		db.AuditEvent.Use(func(next ent.Mutator) ent.Mutator {
			return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
				if fault.CompareAndSwap(true, false) {
					return nil, errors.New("database connection lost (injected)")
				}
				return next.Mutate(ctx, m)
			})
		})
		p := propose(t, db, s, smtp, "pat@example.com", "new@example.com")
		fault.Store(true)
		if _, err := s.ConfirmEmailChange(p.as, p.confirm, ""); err == nil || fault.Load() {
			t.Fatalf("a confirmation failing half way: %v, want the failure reported", err)
		}
		if u := db.User.GetX(ctx, p.user.ID); u.Email != "pat@example.com" || u.EmailVersion != 0 {
			t.Fatalf("after the failure: %s v%d, want nothing changed", u.Email, u.EmailVersion)
		}
		if n := db.EmailChange.Query().Where(emailchange.StatusEQ(emailchange.StatusPending)).CountX(ctx); n != 1 {
			t.Fatal("the request is no longer pending after a confirmation that failed")
		}
		if _, err := s.ConfirmEmailChange(p.as, p.confirm, ""); err != nil {
			t.Fatalf("the link again: %v", err)
		}
		if u := db.User.GetX(ctx, p.user.ID); u.Email != "new@example.com" || u.EmailVersion != 1 {
			t.Fatalf("after the retry: %s v%d, want new@example.com v1", u.Email, u.EmailVersion)
		}
	})
}
