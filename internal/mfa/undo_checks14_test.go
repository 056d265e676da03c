package mfa_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"loginsign/internal/i18n"
	"loginsign/internal/mail"
	"loginsign/internal/mfa"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// The "this wasn't me" link of a new authenticator app works in any browser that signed in to
// the account before, so a reader of the person's mail who once signed in can use it: it
// signs the person out everywhere, removes their passkeys added since the app at once, and
// turns their app off three days later unless they sign in with it meanwhile. The person is
// told at once (totp_removal_scheduled, a notice in every language), not only three days
// later when the app is gone: before, nothing was mailed when the link was used.
func TestUsingTheUndoLinkTellsThePersonAtOnce(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		t0 := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
		clk := &movingClock{t: t0}
		w := newUndoWorld(t, db, clk)
		ann := person(db, "ann@example.com", "AB0241")
		w.known["mail-reader-laptop"] = ann.ID
		enrolSecret(t, w.s, session(ann, t0), t0)
		token, _, _ := w.read(ann.ID)
		clk.Set(t0.Add(time.Minute))
		if _, err := w.s.UndoTOTP(context.Background(), token, "mail-reader-laptop"); err != nil {
			t.Fatal(err)
		}
		_, sent, _ := w.read(ann.ID)
		if len(sent) != 2 || sent[1] != mfa.TOTPRemovalScheduled {
			t.Fatalf("notices after the undo link was used: %v, want totp_added then %q", sent, mfa.TOTPRemovalScheduled)
		}
		for _, lang := range []string{"en", "fr", "de"} {
			m, ok := mail.SecurityNotice(i18n.Choose(lang, "", ""), "ann@example.com", string(mfa.TOTPRemovalScheduled), t0, "https://id.example.com/dashboard")
			if !ok || m.Text == "" || strings.Contains(m.Text, "mail.notice.") {
				t.Errorf("the %s notice of a scheduled removal: %v, %q; want a mail in that language", lang, ok, m.Text)
			}
		}
	})
}
