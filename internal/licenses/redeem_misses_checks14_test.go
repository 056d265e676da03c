package licenses_test

import (
	"fmt"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/internal/apperr"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/licenses"
	"loginsign/internal/ratelimit"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestGuessingAnApplicationsCodesFromManyAccountsMeetsOneBudget: redemption was limited per
// address and per person only, so accounts connected to an application, each under its own
// limits and from addresses of their own, guessed the application's codes in parallel without
// end (a developer's uploaded codes may be 4 characters). Misses (code_not_found) now count
// against the application, whoever made them: past licenses.DefaultMissesPerApplication
// (200 an hour) a person who already missed answers rate_limited before anything is looked
// up, even with a right code. A person who has not missed is still answered, so the flood
// never keeps a buyer with the right code out; another application's budget is its own.
func TestGuessingAnApplicationsCodesFromManyAccountsMeetsOneBudget(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		w.svc.Limiter = ratelimit.New(kvtest.Embedded(t))
		// The per-address and per-person limits as if each guesser had addresses and
		// minutes to spare.
		w.svc.Limits = licenses.RedeemLimits{PerAddress: ratelimit.Rule{Name: "redeem:ip", N: 100000, Window: time.Minute},
			PerHolder: ratelimit.Rule{Name: "redeem:holder", N: 100000, Window: time.Minute}}
		person := func(c *ent.AppConnection) *ent.User { return &ent.User{ID: c.UserID} }
		code := w.codes(t, w.variant(t, "Premium", ""), 2)
		const budget = 200 // licenses.DefaultMissesPerApplication
		guessers := w.connectMany(t, w.app, 25)
		answered, refused := 0, 0
		for _, g := range guessers {
			for i := range 10 {
				_, err := w.svc.Redeem(as(person(g)), w.app.ID, fmt.Sprintf("GUESS-%s-%d", g.ID[len(g.ID)-6:], i))
				switch apperr.As(err).Name() {
				case "code_not_found":
					answered++
				case "rate_limited":
					refused++
				default:
					t.Fatalf("guess: %v", err)
				}
			}
		}
		// 20 accounts spend the budget; each of the 5 others, not having missed, gets one.
		if want := budget + 5; answered != want || refused != 250-want {
			t.Fatalf("250 guesses at one application's codes from 25 accounts: %d answered code_not_found, %d refused; want %d answered, the rest rate_limited",
				answered, refused, want)
		}
		// A guesser past the budget learns nothing, even of a right code.
		_, err := w.svc.Redeem(as(person(guessers[0])), w.app.ID, code[0])
		wantErr(t, err, "rate_limited")
		// A buyer who has not missed redeems; a newcomer's first miss is answered, the next not.
		buyer := w.connect(t, w.person(t, "buyer"), w.app)
		if _, err := w.svc.Redeem(as(person(buyer)), w.app.ID, code[0]); err != nil {
			t.Fatalf("the buyer's right code during the flood: %v", err)
		}
		newcomer := w.connect(t, w.person(t, "newcomer"), w.app)
		_, err = w.svc.Redeem(asToken(newcomer), "", "WRONG-CODE-1")
		wantErr(t, err, "code_not_found")
		_, err = w.svc.Redeem(asToken(newcomer), "", code[1])
		wantErr(t, err, "rate_limited")
		// Another application's misses are its own.
		rivalPerson := w.connect(t, w.person(t, "rivals"), w.rivalApp)
		_, err = w.svc.Redeem(as(person(rivalPerson)), w.rivalApp.ID, "WRONG-CODE-2")
		wantErr(t, err, "code_not_found")
	})
}
