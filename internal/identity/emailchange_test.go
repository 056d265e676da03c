package identity_test

import (
	"context"
	"regexp"
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
		as := auth.WithSession(ctx, auth.Session{UserID: u.ID, ID: "s", SignedInAt: time.Now()})
		request := func(addr string) (confirm, cancel string) {
			t.Helper()
			before := smtp.Count()
			pending, err := s.RequestEmailChange(ctx, u.ID, addr, identity.EmailChangeRequester{ApplicationName: "Demo"})
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
		if _, err := s.ConfirmEmailChange(as, old); !apperr.Is(err, apperr.Gone) {
			t.Fatalf("a superseded request: %v", err)
		}
		now = now.Add(identity.EmailChangeTTL + time.Second)
		if _, err := s.ConfirmEmailChange(as, fresh); !apperr.Is(err, apperr.Gone) {
			t.Fatalf("an expired request: %v", err)
		}
		if got, _ := s.User(ctx, u.ID); got.Email != "pat@example.com" {
			t.Fatalf("primary is %s", got.Email)
		}

		confirm, cancel := request("third@example.com")
		if _, err := s.ConfirmEmailChange(ctx, confirm); !apperr.Is(err, apperr.Unauthorized) {
			t.Fatalf("signed out: %v", err)
		}
		if _, err := s.ConfirmEmailChange(as, confirm); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ConfirmEmailChange(as, confirm); !apperr.Is(err, apperr.Gone) {
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
