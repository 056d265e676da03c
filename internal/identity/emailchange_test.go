package identity_test

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

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

var changeLinkRE = regexp.MustCompile(`https://login\.example\.com/account/email-change/(confirm|cancel)\?token=(\S+)`)

// A requested address change lives 24 hours, works once, and a newer request replaces an older
// one; nothing changes before the person confirms.
func TestEmailChangeRequestLifetime(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		smtp := mailtest.Start(t)
		sender, err := mail.New(mail.Config{URL: smtp.URL(), From: "LoginSign <no-reply@loginsign.test>"})
		if err != nil {
			t.Fatal(err)
		}
		now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
		s := identity.New(db, kvtest.Embedded(t), func() time.Time { return now }, identity.SessionConfig{})
		s.Mail, s.BaseURL = sender, "https://login.example.com"
		u, err := s.CreateUser(ctx, "pat@example.com", "")
		if err != nil {
			t.Fatal(err)
		}
		app := db.Application.Create().SetOwnerID(u.ID).SetName("Demo").SetSecretHash("h").SaveX(ctx)
		db.AppConnection.Create().SetUserID(u.ID).SetApplicationID(app.ID).SetAliasEmail("demo@relay.example.com").ExecX(ctx)
		as := auth.WithSession(ctx, auth.Session{UserID: u.ID, ID: "s", SignedInAt: time.Now()})
		request := func(addr string) (confirm, cancel string) {
			t.Helper()
			before := smtp.Count()
			pending, err := s.RequestEmailChange(ctx, u.ID, addr, identity.EmailChangeRequester{ApplicationID: app.ID, ApplicationName: "Demo"})
			if err != nil || !pending {
				t.Fatalf("request %s: %v %v", addr, pending, err)
			}
			for _, m := range smtp.Wait(t, before+2)[before:] {
				l := changeLinkRE.FindStringSubmatch(m.Text)
				if l == nil {
					t.Fatalf("no link in %q", m.Text)
				}
				if l[1] == "confirm" {
					confirm = l[2]
				} else {
					cancel = l[2]
				}
			}
			return confirm, cancel
		}
		if pending, err := s.RequestEmailChange(ctx, u.ID, " PAT@example.com", identity.EmailChangeRequester{Shown: "pat@example.com"}); err != nil || pending {
			t.Fatalf("same address: %v %v", pending, err)
		}
		if _, err := s.RequestEmailChange(ctx, u.ID, "not an address", identity.EmailChangeRequester{}); !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("malformed: %v", err)
		}

		old, _ := request("first@example.com")
		fresh, _ := request("second@example.com")
		if _, err := s.ConfirmEmailChange(as, old, ""); !apperr.Is(err, apperr.Gone) {
			t.Fatalf("a superseded request: %v", err)
		}
		now = now.Add(identity.EmailChangeTTL + time.Second)
		if _, err := s.ConfirmEmailChange(as, fresh, ""); !apperr.Is(err, apperr.Gone) {
			t.Fatalf("an expired request: %v", err)
		}
		if got, _ := s.User(ctx, u.ID); got.Email != "pat@example.com" {
			t.Fatalf("primary is %s", got.Email)
		}

		confirm, cancel := request("third@example.com")
		if _, err := s.ConfirmEmailChange(ctx, confirm, ""); !apperr.Is(err, apperr.Unauthorized) {
			t.Fatalf("signed out: %v", err)
		}
		if _, err := s.ConfirmEmailChange(as, confirm, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ConfirmEmailChange(as, confirm, ""); !apperr.Is(err, apperr.Gone) {
			t.Fatalf("second use: %v", err)
		}
		if _, err := s.CancelEmailChange(ctx, cancel); !apperr.Is(err, apperr.Gone) {
			t.Fatalf("cancelling a confirmed request: %v", err)
		}
		if got, _ := s.User(ctx, u.ID); got.Email != "third@example.com" || got.EmailVersion != 1 {
			t.Fatalf("after confirming: %s v%d", got.Email, got.EmailVersion)
		}
		if n, _ := db.EmailChange.Query().Where(emailchange.StatusEQ(emailchange.StatusConfirmed)).Count(ctx); n != 1 {
			t.Fatalf("%d confirmed requests", n)
		}
		// Tokens are stored hashed only.
		for _, ec := range db.EmailChange.Query().AllX(ctx) {
			if ec.ConfirmHash == confirm || ec.CancelHash == cancel {
				t.Fatal("a raw token is stored")
			}
		}
	})
}

// changeEnv is an identity service that mails through a test SMTP server, with people to ask.
type changeEnv struct {
	s    *identity.Service
	db   *store.DB
	smtp *mailtest.Server
	n    int
}

func newChangeEnv(t *testing.T, db *store.DB) *changeEnv {
	t.Helper()
	smtp := mailtest.Start(t)
	sender, err := mail.New(mail.Config{URL: smtp.URL(), From: "LoginSign <no-reply@loginsign.test>"})
	if err != nil {
		t.Fatal(err)
	}
	s := identity.New(db, kvtest.Embedded(t), func() time.Time { return time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC) }, identity.SessionConfig{})
	s.Mail, s.BaseURL = sender, "https://login.example.com"
	return &changeEnv{s: s, db: db, smtp: smtp}
}

// person creates an account with a fresh address.
func (e *changeEnv) person(t *testing.T) string {
	t.Helper()
	e.n++
	u, err := e.s.CreateUser(context.Background(), fmt.Sprintf("person-%d@example.com", e.n), "")
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// request asks userID's account to move to addr on behalf of application appID; it returns
// how many mails and request rows it made, and the error.
func (e *changeEnv) request(t *testing.T, userID, addr, appID string) (mails, rows int, err error) {
	t.Helper()
	ctx := context.Background()
	mailsBefore, rowsBefore := e.smtp.Count(), e.db.EmailChange.Query().CountX(ctx)
	pending, err := e.s.RequestEmailChange(ctx, userID, addr, identity.EmailChangeRequester{ApplicationID: appID, ApplicationName: "Demo"})
	if err == nil {
		if !pending {
			t.Fatalf("request of %s: not pending", addr)
		}
		e.smtp.Wait(t, mailsBefore+2)
	}
	return e.smtp.Count() - mailsBefore, e.db.EmailChange.Query().CountX(ctx) - rowsBefore, err
}

var personLimitRE = regexp.MustCompile(`^too many address change requests for this person; try again in (\d+) s$`)

// wantPersonLimit checks that err is the per-person limit's answer: 429 with its wording and a
// wait of at most its hour.
func wantPersonLimit(t *testing.T, what string, err error) {
	t.Helper()
	e := apperr.As(err)
	if e == nil || e.Code != apperr.RateLimited {
		t.Fatalf("%s: %v, want rate_limited", what, err)
	}
	m := personLimitRE.FindStringSubmatch(e.Message)
	if m == nil || m[1] != strconv.Itoa(e.RetryAfter) || e.RetryAfter < 1 || e.RetryAfter > 3600 || e.Reason != "" {
		t.Fatalf("%s: %q (Retry-After %d, reason %q), want the per-person limit's answer", what, e.Message, e.RetryAfter, e.Reason)
	}
}

// TestEmailChangeConfirmationsPerAddress: one mailbox gets at most
// identity.ProposalConfirmMails confirmations a day, whoever asks for whom: past it the request
// is refused with exactly the per-person limit's answer (it must not tell the developer that
// someone else mailed the address), and nothing is stored or mailed. "+tag" variants are one
// mailbox; another address still works.
func TestEmailChangeConfirmationsPerAddress(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newChangeEnv(t, db)
		n := identity.ProposalConfirmMails.N
		for i := range n {
			// Different people, different applications, the mailbox written differently.
			addr := fmt.Sprintf("Victim+%d@Example.com", i)
			if mails, rows, err := e.request(t, e.person(t), addr, fmt.Sprintf("app_%d", i)); err != nil || mails != 2 || rows != 1 {
				t.Fatalf("request %d to %s: %v, %d mails, %d rows", i+1, addr, err, mails, rows)
			}
		}
		for _, addr := range []string{"victim@example.com", "victim+other@example.com"} {
			mails, rows, err := e.request(t, e.person(t), addr, "app_new")
			wantPersonLimit(t, fmt.Sprintf("request %d to %s", n+1, addr), err)
			if mails != 0 || rows != 0 {
				t.Fatalf("a refused request to %s made %d mails and %d rows", addr, mails, rows)
			}
		}
		if mails, rows, err := e.request(t, e.person(t), "someone.else@example.com", "app_new"); err != nil || mails != 2 || rows != 1 {
			t.Fatalf("another address: %v, %d mails, %d rows", err, mails, rows)
		}

		// The per-person limit answers the same.
		p := e.person(t)
		for i := range 5 {
			if _, _, err := e.request(t, p, fmt.Sprintf("p%d@example.com", i), "app_p"); err != nil {
				t.Fatal(err)
			}
		}
		_, _, err := e.request(t, p, "p5@example.com", "app_p")
		wantPersonLimit(t, "the 6th request for one person", err)
	})
}

// TestEmailChangeRequestsPerApplication: one application makes at most 100 requests an hour,
// for all its people together; the 101st is refused and stores and mails nothing, while
// another application still asks.
func TestEmailChangeRequestsPerApplication(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newChangeEnv(t, db)
		var people []string
		for range 21 {
			people = append(people, e.person(t))
		}
		for i := range 100 {
			if _, _, err := e.request(t, people[i/5], fmt.Sprintf("new-%d@example.com", i), "app_busy"); err != nil {
				t.Fatalf("request %d: %v", i+1, err)
			}
		}
		mails, rows, err := e.request(t, people[20], "new-100@example.com", "app_busy")
		if ae := apperr.As(err); ae == nil || ae.Code != apperr.RateLimited || ae.RetryAfter < 1 ||
			!strings.HasPrefix(ae.Message, "too many address change requests from this application") {
			t.Fatalf("request 101: %v, want rate_limited for the application", err)
		}
		if mails != 0 || rows != 0 {
			t.Fatalf("a refused request made %d mails and %d rows", mails, rows)
		}
		if mails, rows, err := e.request(t, people[20], "new-100@example.com", "app_other"); err != nil || mails != 2 || rows != 1 {
			t.Fatalf("another application: %v, %d mails, %d rows", err, mails, rows)
		}
	})
}
