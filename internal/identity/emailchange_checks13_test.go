package identity_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"loginsign/internal/apperr"
	"loginsign/internal/identity"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/mail"
	"loginsign/internal/mail/mailtest"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestEmailChangeNoticesPerDay: every address change an application proposes mails a notice
// to the person's primary address. One application mails one person at most 10 of them a day:
// with only the hourly limit (5), an application the person once signed in to mailed them 120
// a day, each with a new address of the developer's choosing (and the confirmations went to
// as many of the developer's own mailboxes). Another application's requests are not refused.
func TestEmailChangeNoticesPerDay(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		smtp := mailtest.Start(t)
		sender, err := mail.New(mail.Config{URL: smtp.URL(), From: "LoginSign <no-reply@loginsign.test>"})
		if err != nil {
			t.Fatal(err)
		}
		k, clk := kvtest.EmbeddedClock(t)
		s := identity.New(db, k, clk.Now, identity.SessionConfig{})
		s.Mail, s.BaseURL = sender, "https://login.example.com"
		u, err := s.CreateUser(ctx, "bombed@example.com", "")
		if err != nil {
			t.Fatal(err)
		}
		by := identity.EmailChangeRequester{ApplicationID: "app_bomb", ApplicationName: "Demo"}
		accepted, n := 0, 0
		for hour := 0; hour < 24; hour++ {
			for range 5 {
				n++
				if _, err := s.RequestEmailChange(ctx, u.ID, fmt.Sprintf("mb%d@attacker.example", n), by); err == nil {
					accepted++
				} else if !apperr.Is(err, apperr.RateLimited) {
					t.Fatalf("request %d: %v", n, err)
				}
			}
			clk.Advance(time.Hour + time.Second)
		}
		if accepted > 10 {
			t.Fatalf("one application's requests mailed %d notices to one person in a day, want at most 10", accepted)
		}
		other := identity.EmailChangeRequester{ApplicationID: "app_other", ApplicationName: "Other"}
		if _, err := s.RequestEmailChange(ctx, u.ID, "other@elsewhere.example", other); err != nil {
			t.Fatalf("another application: %v", err)
		}
	})
}
