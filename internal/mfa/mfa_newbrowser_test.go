package mfa_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"loginsign/ent/totpfactor"
	"loginsign/internal/apperr"
	"loginsign/internal/mfa"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// Whoever gets the magic links of a person's mailbox reaches the second step as often as they
// like. The wrong codes typed in browsers new to the account are counted together, 20 a day:
// past them a new browser is refused even the right code, and the person is told once, while
// a browser that signed in to the account before still signs in with the right code and its
// own wrong codes never count against the others'. Before, only the 15-minute window bounded
// the guesses: 960 a day.
func TestWrongCodesInNewBrowsersPauseOnlyNewBrowsers(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		t0 := time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)
		clk := &movingClock{t: t0}
		s := newClockedService(t, db, clk)
		// The 15-minute window (TestTheSignInsSecondStepIsLimited) would stop the guesses
		// first within one test: this one is about the day's.
		s.Attempts.N = 1000
		// A known browser's own day (TestWrongCodesInOneKnownBrowserAreCappedADay) is not
		// this test's either.
		s.KnownBrowserFailures.N = 1000
		ann, bob := person(db, "ann@example.com", "AB0101"), person(db, "bob@example.com", "AB0102")
		secret, codes := enrolSecret(t, s, session(ann, t0), t0)
		bobSecret, _ := enrolSecret(t, s, session(bob, t0), t0)
		var mu sync.Mutex
		notices := map[string][]mfa.Event{}
		s.Notify = func(_ context.Context, uid string, e mfa.Event, _ string) {
			mu.Lock()
			defer mu.Unlock()
			notices[uid] = append(notices[uid], e)
		}
		noticesOf := func(uid string) []mfa.Event {
			mu.Lock()
			defer mu.Unlock()
			return append([]mfa.Event(nil), notices[uid]...)
		}
		ctx := context.Background()
		day := s.NewBrowserFailures.N
		if day != 20 || s.NewBrowserFailures.Window != 24*time.Hour {
			t.Fatalf("NewBrowserFailures = %v, want the default of 20 per 24 hours", s.NewBrowserFailures)
		}
		wrong := func(at time.Time) string { // a 6-digit code that is not the current one
			c := codeAt(t, secret, at)
			return string('0'+(c[0]-'0'+1)%10) + c[1:]
		}
		for i := range day {
			if _, err := s.Verify(ctx, ann.ID, wrong(t0)); !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("wrong code %d in a new browser: %v, want Invalid", i+1, err)
			}
			if i < day-1 && len(noticesOf(ann.ID)) != 0 {
				t.Fatalf("a notice after %d wrong codes: %v", i+1, noticesOf(ann.ID))
			}
		}
		if got := noticesOf(ann.ID); len(got) != 1 || got[0] != mfa.SecondStepPaused {
			t.Fatalf("notices after %d wrong codes: %v, want one %q", day, got, mfa.SecondStepPaused)
		}

		// Another new browser, with the right code: refused, and the code stays unused.
		clk.Set(t0.Add(time.Minute))
		right := codeAt(t, secret, t0.Add(time.Minute))
		before := db.TOTPFactor.Query().Where(totpfactor.UserID(ann.ID)).OnlyX(ctx).LastCounter
		_, err := s.Verify(ctx, ann.ID, right)
		if ae := apperr.As(err); ae == nil || ae.Code != apperr.RateLimited || ae.RetryAfter < 23*3600 || ae.RetryAfter > 24*3600 ||
			!strings.Contains(ae.Message, "browser you used before") {
			t.Fatalf("the right code in a new browser after %d wrong ones: %#v, want RateLimited for the rest of the day, saying the way out", day, ae)
		}
		if _, err := s.Verify(ctx, ann.ID, codes[0]); !apperr.Is(err, apperr.RateLimited) {
			t.Fatalf("a recovery code in a new browser after %d wrong ones: %v, want RateLimited", day, err)
		}
		if after := db.TOTPFactor.Query().Where(totpfactor.UserID(ann.ID)).OnlyX(ctx).LastCounter; after != before {
			t.Fatalf("the refused code was used: last counter %d → %d", before, after)
		}
		if got := noticesOf(ann.ID); len(got) != 1 {
			t.Fatalf("notices after more tries in the pause: %v, want still one", got)
		}

		// Ann's own browser: its wrong codes count on their own, and the right code signs in.
		for i := range 3 {
			if _, err := s.VerifyIn(ctx, ann.ID, "annsbrowser", wrong(t0.Add(time.Minute))); !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("wrong code %d in Ann's own browser: %v, want Invalid", i+1, err)
			}
		}
		if amr, err := s.VerifyIn(ctx, ann.ID, "annsbrowser", right); err != nil || len(amr) != 2 {
			t.Fatalf("the right code in Ann's own browser during the pause: %v, %v; want signed in", amr, err)
		}

		// The pause is Ann's: Bob signs in from a new browser, and his own browser's wrong
		// codes do not pause his new ones.
		for i := range day + 5 {
			if _, err := s.VerifyIn(ctx, bob.ID, "bobsbrowser", "000000x"); !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("wrong code %d in Bob's own browser: %v, want Invalid", i+1, err)
			}
		}
		if amr, err := s.Verify(ctx, bob.ID, codeAt(t, bobSecret, t0.Add(time.Minute))); err != nil || len(amr) != 2 {
			t.Fatalf("Bob in a new browser: %v, %v; want signed in", amr, err)
		}
		if got := noticesOf(bob.ID); len(got) != 0 {
			t.Fatalf("Bob was told of a pause: %v", got)
		}
	})
}
