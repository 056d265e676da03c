package mfa_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"loginsign/ent/totpfactor"
	"loginsign/internal/apperr"
	"loginsign/internal/i18n"
	"loginsign/internal/mail"
	"loginsign/internal/mfa"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// Whoever holds a copy of the person's browser cookie (a thief of the cookie jar) and reads
// their mailbox reaches the second step in a browser that signed in to the account before,
// whose codes count apart from the new browsers' daily pause. Its wrong codes are bounded by
// a day's budget of its own, 20: past it that browser is refused even the right code (the
// code stays unused) for the rest of the day, while the person's other browsers and a new
// browser still sign in. Before, only the 15-minute window bounded them: 960 guesses a day,
// every day, and the person was never told.
func TestWrongCodesInOneKnownBrowserAreCappedADay(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		t0 := time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)
		clk := &movingClock{t: t0}
		s := newClockedService(t, db, clk)
		s.Attempts.N = 1000 // the 15-minute window would stop the guesses first in one test
		ann := person(db, "ann@example.com", "AB0141")
		secret, codes := enrolSecret(t, s, session(ann, t0), t0)
		ctx := context.Background()
		if r := s.KnownBrowserFailures; r.N != 20 || r.Window != 24*time.Hour {
			t.Fatalf("KnownBrowserFailures = %v, want 20 per 24 hours", r)
		}
		wrong := func(at time.Time) string {
			c := codeAt(t, secret, at)
			return string('0'+(c[0]-'0'+1)%10) + c[1:]
		}
		for i := range 20 {
			if _, err := s.VerifyIn(ctx, ann.ID, "copied-cookie", wrong(t0)); !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("wrong code %d in the copied browser: %v, want Invalid", i+1, err)
			}
		}
		clk.Set(t0.Add(time.Minute))
		right := codeAt(t, secret, t0.Add(time.Minute))
		before := db.TOTPFactor.Query().Where(totpfactor.UserID(ann.ID)).OnlyX(ctx).LastCounter
		_, err := s.VerifyIn(ctx, ann.ID, "copied-cookie", right)
		if ae := apperr.As(err); ae == nil || ae.Code != apperr.RateLimited || ae.RetryAfter < 23*3600 || ae.RetryAfter > 24*3600 {
			t.Fatalf("the right code in a known browser after 20 wrong ones: %v, want RateLimited for the rest of the day", err)
		}
		if _, err := s.VerifyIn(ctx, ann.ID, "copied-cookie", codes[0]); !apperr.Is(err, apperr.RateLimited) {
			t.Fatalf("a recovery code in that browser after 20 wrong ones: %v, want RateLimited", err)
		}
		if after := db.TOTPFactor.Query().Where(totpfactor.UserID(ann.ID)).OnlyX(ctx).LastCounter; after != before {
			t.Fatalf("the refused code was used: last counter %d → %d", before, after)
		}
		// Another of Ann's browsers, and a new one, are not paused by it.
		if amr, err := s.VerifyIn(ctx, ann.ID, "anns-phone", right); err != nil || len(amr) != 2 {
			t.Fatalf("the right code in Ann's other browser: %v, %v; want signed in", amr, err)
		}
		clk.Set(t0.Add(2 * time.Minute))
		if amr, err := s.Verify(ctx, ann.ID, codeAt(t, secret, t0.Add(2*time.Minute))); err != nil || len(amr) != 2 {
			t.Fatalf("the right code in a new browser: %v, %v; want signed in", amr, err)
		}
	})
}

// When one known browser spends its day's wrong codes the person is told once, by a notice
// of its own in every language (second_step_paused_browser): whoever typed them reads their
// mail in a browser, or with a copy of its cookies, that signed in to the account. Another
// known browser's wrong codes under the cap tell nothing.
func TestAKnownBrowserPausedTellsThePersonOnce(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		t0 := time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)
		clk := &movingClock{t: t0}
		s := newClockedService(t, db, clk)
		s.Attempts.N = 1000
		ann := person(db, "ann@example.com", "AB0142")
		secret, _ := enrolSecret(t, s, session(ann, t0), t0)
		var mu sync.Mutex
		var sent []mfa.Event
		s.Notify = func(_ context.Context, uid string, e mfa.Event, _ string) {
			mu.Lock()
			defer mu.Unlock()
			sent = append(sent, e)
		}
		ctx := context.Background()
		c := codeAt(t, secret, t0)
		wrong := string('0'+(c[0]-'0'+1)%10) + c[1:]
		for range s.KnownBrowserFailures.N - 1 {
			s.VerifyIn(ctx, ann.ID, "anns-phone", wrong)
		}
		for range s.KnownBrowserFailures.N + 5 {
			s.VerifyIn(ctx, ann.ID, "copied-cookie", wrong)
		}
		mu.Lock()
		got := append([]mfa.Event(nil), sent...)
		mu.Unlock()
		if len(got) != 1 || got[0] != mfa.KnownBrowserPaused {
			t.Fatalf("notices after one known browser spent its day and another nearly: %v, want one %q", got, mfa.KnownBrowserPaused)
		}
		for _, lang := range []string{"en", "fr", "de"} {
			m, ok := mail.SecurityNotice(i18n.Choose(lang, "", ""), "ann@example.com", string(mfa.KnownBrowserPaused), t0, "https://id.example.com/dashboard")
			if !ok || m.Text == "" || strings.Contains(m.Text, "mail.notice.") {
				t.Errorf("the %s notice of a paused browser: %v, %q; want a mail in that language", lang, ok, m.Text)
			}
		}
	})
}
