package account_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"loginsign/ent/addressclaim"
	"loginsign/ent/useremail"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// secondStepThen is a SecondStep that passes every signed-in person and, the first time it is
// asked, runs then: what the person's other tab does while this request waits for its code.
type secondStepThen struct{ then func() }

func (s *secondStepThen) ConfirmChange(ctx context.Context, _ string) (string, error) {
	if f := s.then; f != nil {
		s.then = nil
		f()
	}
	return auth.RequireUser(ctx)
}

// TestAnAddressRemovedWhileMadePrimaryDoesNotBecomePrimary: MakePrimaryEmail read the address
// (and that it was verified) before the second step and changed the primary address after it,
// by the address's text, without reading the row again. An address removed in between
// became the primary address all the same; removed and added again in between, it became the
// primary address unconfirmed: an unverified address made primary. Now the change reads the
// address again under the person's lock: NotFound, and nothing changes.
func TestAnAddressRemovedWhileMadePrimaryDoesNotBecomePrimary(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		addAgn bool
	}{{"removed", false}, {"removed and added again, unconfirmed", true}} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			storetest.Run(t, func(t *testing.T, db *store.DB) {
				e := newEnv(t, db)
				ctx := context.Background()
				ue := e.addAndVerify(e.person, "backup@example.org")
				e.svc.SecondStep = &secondStepThen{then: func() {
					if err := e.svc.RemoveAlternativeEmail(as(e.person), ue.ID, ""); err != nil {
						t.Errorf("removing the address meanwhile: %v", err)
					}
					if tt.addAgn {
						if _, err := e.svc.AddAlternativeEmail(as(e.person), "backup@example.org", ""); err != nil {
							t.Errorf("adding it again meanwhile: %v", err)
						}
					}
				}}
				_, err := e.svc.MakePrimaryEmail(as(e.person), ue.ID, "")
				if !apperr.Is(err, apperr.NotFound) {
					t.Errorf("making a removed address primary: %v, want not_found", err)
				}
				u := db.User.GetX(ctx, e.person.ID)
				if u.Email != "person@example.com" {
					t.Errorf("primary address %q, want person@example.com kept", u.Email)
				}
				if n := db.UserEmail.Query().Where(useremail.UserID(e.person.ID), useremail.VerifiedAtNotNil()).CountX(ctx); n != 0 {
					t.Errorf("%d verified alternative addresses, want none", n)
				}
				if n := db.AddressClaim.Query().Where(addressclaim.UserID(e.person.ID)).CountX(ctx); n != 1 {
					t.Errorf("%d addresses claimed by the person, want their primary only", n)
				}
			})
		})
	}
}

// TestRemovalsAndPrimaryChangesAtOnceKeepOneVerifiedPrimary: a person with two verified
// alternative addresses removes both and makes each primary, all four requests at once. The
// primary address is never removed, so the account keeps a verified primary it holds the claim
// of; an address whose removal succeeded is not the primary afterwards; every address left is
// claimed, and nothing else is. Many rounds, on SQLite and PostgreSQL.
func TestRemovalsAndPrimaryChangesAtOnceKeepOneVerifiedPrimary(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		for i := range 15 {
			u := e.user(fmt.Sprintf("both-%d@example.com", i))
			a := e.addAndVerify(u, fmt.Sprintf("a-%d@example.org", i))
			b := e.addAndVerify(u, fmt.Sprintf("b-%d@example.org", i))
			var wg sync.WaitGroup
			removed := make([]error, 2)
			for j, ue := range []string{a.ID, b.ID} {
				wg.Add(2)
				go func() {
					defer wg.Done()
					removed[j] = e.svc.RemoveAlternativeEmail(as(u), ue, "")
				}()
				go func() {
					defer wg.Done()
					if _, err := e.svc.MakePrimaryEmail(as(u), ue, ""); err != nil && apperr.As(err) == nil {
						t.Errorf("round %d: making an address primary: %v", i, err)
					}
				}()
			}
			wg.Wait()
			for j, err := range removed {
				if err != nil && apperr.As(err) == nil {
					t.Errorf("round %d: removal %d: %v", i, j, err)
				}
			}
			got := db.User.GetX(ctx, u.ID)
			for j, addr := range []string{a.Email, b.Email} {
				if removed[j] == nil && got.Email == addr {
					t.Errorf("round %d: %s was removed (no error) and is the primary address", i, addr)
				}
			}
			held := map[string]bool{got.Email: true}
			for _, r := range db.UserEmail.Query().Where(useremail.UserID(u.ID)).AllX(ctx) {
				if r.VerifiedAt == nil || r.Email == got.Email {
					t.Errorf("round %d: alternative %s (verified %v) beside primary %s", i, r.Email, r.VerifiedAt, got.Email)
				}
				held[r.Email] = true
			}
			for _, c := range db.AddressClaim.Query().Where(addressclaim.UserID(u.ID)).AllX(ctx) {
				if !held[c.Address] {
					t.Errorf("round %d: %s claimed, not held", i, c.Address)
				}
				delete(held, c.Address)
			}
			if len(held) != 0 {
				t.Errorf("round %d: held without a claim: %v", i, held)
			}
		}
	})
}
