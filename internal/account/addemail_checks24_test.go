package account_test

import (
	"context"
	"fmt"
	"testing"

	"loginsign/internal/account"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// countedSecondStep is a SecondStep that passes every signed-in person and counts the codes it
// was asked to check (each one a code the person spends: a mailed one, a recovery code).
type countedSecondStep struct{ asked int }

func (s *countedSecondStep) ConfirmChange(ctx context.Context, _ string) (string, error) {
	s.asked++
	return auth.RequireUser(ctx)
}

// An address refused for what the account already holds (the address linked and verified, the
// most addresses a person may have, the person's verification mails of the hour) is refused
// before the person's code is checked: the refusal spends no code. Before, the code was spent
// first (a recovery code for good) and the change refused after.
func TestAnAddressRefusedSpendsNoCode(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		before func(e *env) string // returns the address to add
		code   apperr.Code
		reason string
	}{
		{"linked and verified", func(e *env) string {
			e.addAndVerify(e.person, "backup@example.org")
			return "backup@example.org"
		}, apperr.Conflict, "already_linked"},
		{"the most addresses", func(e *env) string {
			for i := range account.MaxAlternativeEmails {
				e.db.UserEmail.Create().SetUserID(e.person.ID).SetEmail(fmt.Sprintf("alt-%d@example.org", i)).ExecX(context.Background())
			}
			return "one-more@example.org"
		}, apperr.Conflict, "too_many_emails"},
		{"the hour's verification mails", func(e *env) string {
			for i := range 5 {
				if _, err := e.svc.AddAlternativeEmail(as(e.person), fmt.Sprintf("new-%d@example.org", i), ""); err != nil {
					e.t.Fatal(err)
				}
			}
			return "one-more@example.org"
		}, apperr.RateLimited, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			storetest.Run(t, func(t *testing.T, db *store.DB) {
				e := newEnv(t, db)
				second := &countedSecondStep{}
				e.svc.SecondStep = second
				addr := tt.before(e)
				second.asked = 0
				_, err := e.svc.AddAlternativeEmail(as(e.person), addr, "code")
				wantCode(t, err, tt.code, tt.reason)
				if second.asked != 0 {
					t.Errorf("the refused address spent %d of the person's codes, want none", second.asked)
				}
			})
		})
	}
}
