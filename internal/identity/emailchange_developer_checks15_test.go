package identity_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"loginsign/internal/apperr"
	"loginsign/internal/identity"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestEmailChangeRequestsPerDeveloper: every proposal mails a confirmation naming the
// application, whose name the developer chooses, to an address the developer chooses. One
// developer account makes at most 100 proposals an hour across all its applications: with
// only the budget of each application, one account with 100 applications (and a few of its
// own accounts connected to each) mailed 10,000 of them an hour to anyone. The refused
// proposal stores and mails nothing, and another developer still proposes.
func TestEmailChangeRequestsPerDeveloper(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newChangeEnv(t, db)
		ctx := context.Background()
		propose := func(userID, addr, appID, actor string) (mails, rows int, err error) {
			t.Helper()
			mailsBefore, rowsBefore := e.smtp.Count(), db.EmailChange.Query().CountX(ctx)
			pending, err := e.s.RequestEmailChange(ctx, userID, addr,
				identity.EmailChangeRequester{ApplicationID: appID, ApplicationName: "Win a prize at prize.example", Actor: actor})
			if err == nil {
				if !pending {
					t.Fatalf("proposal of %s: not pending", addr)
				}
				e.smtp.Wait(t, mailsBefore+2)
			}
			return e.smtp.Count() - mailsBefore, db.EmailChange.Query().CountX(ctx) - rowsBefore, err
		}
		var people []string
		for range 21 {
			people = append(people, e.person(t))
		}
		// 20 proposals from each of five applications: within each application's 100 and each
		// person's 5 an hour.
		for i := range 100 {
			if _, _, err := propose(people[i/5], fmt.Sprintf("target-%d@victims.example", i), fmt.Sprintf("app_%d", i/20), "usr_spammer"); err != nil {
				t.Fatalf("proposal %d: %v", i+1, err)
			}
		}
		mails, rows, err := propose(people[20], "target-100@victims.example", "app_5", "usr_spammer")
		if ae := apperr.As(err); ae == nil || ae.Code != apperr.RateLimited || ae.RetryAfter < 1 ||
			!strings.HasPrefix(ae.Message, "too many address change requests from this developer account") {
			t.Fatalf("proposal 101 from one developer account, from a sixth application: %v, want rate_limited for the developer", err)
		}
		if mails != 0 || rows != 0 {
			t.Fatalf("a refused proposal made %d mails and %d rows", mails, rows)
		}
		if mails, rows, err := propose(people[20], "target-100@victims.example", "app_5", "usr_other"); err != nil || mails != 2 || rows != 1 {
			t.Fatalf("another developer: %v, %d mails, %d rows", err, mails, rows)
		}
	})
}
