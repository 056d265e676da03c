package mfa_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"loginsign/ent/recoverycode"
	"loginsign/internal/apperr"
	"loginsign/internal/mfa"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// undoWorld is a service whose notices, known browsers and ended sessions a test reads.
type undoWorld struct {
	s     *mfa.Service
	mu    sync.Mutex
	undo  map[string]string      // the last undo token mailed, per account
	sent  map[string][]mfa.Event // notices, per account
	ended map[string]int         // EndSessions calls, per account
	known map[string]string      // browser → the account it signed in to
}

func newUndoWorld(t *testing.T, db *store.DB, clk *movingClock) *undoWorld {
	w := &undoWorld{s: newClockedService(t, db, clk), undo: map[string]string{}, sent: map[string][]mfa.Event{},
		ended: map[string]int{}, known: map[string]string{}}
	w.s.Notify = func(_ context.Context, uid string, e mfa.Event, undo string) {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.sent[uid] = append(w.sent[uid], e)
		if e == mfa.TOTPAdded {
			w.undo[uid] = undo
		} else if undo != "" {
			t.Errorf("notice %q of %s carries an undo link", e, uid)
		}
	}
	w.s.KnownBrowser = func(_ context.Context, browser, uid string) (bool, error) {
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.known[browser] == uid, nil
	}
	w.s.EndSessions = func(_ context.Context, uid string) error {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.ended[uid]++
		return nil
	}
	return w
}

func (w *undoWorld) read(uid string) (undo string, sent []mfa.Event, ended int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.undo[uid], append([]mfa.Event(nil), w.sent[uid]...), w.ended[uid]
}

// Someone holding a copy of a recent session cookie turns two-step verification on with their
// own app: without its codes the person could never sign in again. The notice's "this wasn't
// me" link ends every session, removes at once the passkeys added from the minutes before the
// app on (the thief's session could add one), and turns the app off three days later, telling
// the person; but only in a browser that signed in to the account before: whoever reads the
// mail alone cannot remove, with it, the second step the person added against them. It works
// once, and not for an app set up again since.
func TestTheUndoLinkOfANewAuthenticatorAppWorksOnlyInTheAccountsBrowsers(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		t0 := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
		clk := &movingClock{t: t0}
		w := newUndoWorld(t, db, clk)
		s := w.s
		ann, bob := person(db, "ann@example.com", "AB0201"), person(db, "bob@example.com", "AB0202")
		w.known["ann-laptop"], w.known["bob-laptop"] = ann.ID, bob.ID
		ctx := context.Background()

		// Ann's own passkey, from last month; the thief's, added from the same session minutes
		// before the app.
		addPasskey := func(name string, at time.Time) {
			db.Passkey.Create().SetUserID(ann.ID).SetName(name).SetCredentialID([]byte(name)).SetPublicKey([]byte("k")).
				SetCreatedAt(at).SetUpdatedAt(at).SaveX(context.Background())
		}
		addPasskey("ann-phone", t0.AddDate(0, -1, 0))
		addPasskey("thief-key", t0.Add(-10*time.Minute))
		enrolSecret(t, s, session(ann, t0), t0) // the thief's session
		token, sent, _ := w.read(ann.ID)
		if !strings.HasPrefix(token, "lstu_") || len(sent) != 1 || sent[0] != mfa.TOTPAdded {
			t.Fatalf("after an authenticator app was set up: notices %v, undo token %q; want one totp_added with a token", sent, token)
		}

		// The mailbox alone, another person's browser, or no browser: refused, nothing changed.
		for _, browser := range []string{"", "thief-browser", "bob-laptop"} {
			if _, err := s.UndoTOTP(ctx, token, browser); !apperr.Is(err, apperr.Forbidden) {
				t.Fatalf("undo in browser %q: %v, want Forbidden", browser, err)
			}
			if _, err := s.CanUndoTOTP(ctx, token, browser); !apperr.Is(err, apperr.Forbidden) {
				t.Fatalf("CanUndoTOTP in browser %q: %v, want Forbidden", browser, err)
			}
		}
		if due, _ := s.RemovalAt(ctx, ann.ID); !due.IsZero() || db.Passkey.Query().CountX(ctx) != 2 {
			t.Fatalf("after refused undos: removal scheduled at %v, %d passkeys; want nothing changed", due, db.Passkey.Query().CountX(ctx))
		}
		if _, _, ended := w.read(ann.ID); ended != 0 {
			t.Fatalf("sessions ended %d times by refused undos", ended)
		}
		// Malformed and unknown tokens are Gone, whoever asks.
		for _, bad := range []string{"", "lstu_", "lstu_nope", strings.Repeat("x", 10000), "lstu_" + strings.Repeat("A", 43)} {
			if _, err := s.UndoTOTP(ctx, bad, "ann-laptop"); !apperr.Is(err, apperr.Gone) {
				t.Fatalf("undo with token %.20q: %v, want Gone", bad, err)
			}
		}

		if uid, err := s.CanUndoTOTP(ctx, token, "ann-laptop"); err != nil || uid != ann.ID {
			t.Fatalf("CanUndoTOTP in Ann's browser = %q, %v; want her account", uid, err)
		}
		clk.Set(t0.Add(time.Minute))
		due, err := s.UndoTOTP(ctx, token, "ann-laptop")
		if want := t0.Add(time.Minute + mfa.DefaultUndoTOTPDelay); err != nil || !due.Equal(want) {
			t.Fatalf("undo in Ann's browser = %v, %v; want the removal at %v", due, err, want)
		}
		if at, _ := s.RemovalAt(ctx, ann.ID); !at.Equal(due) {
			t.Fatalf("RemovalAt = %v, want %v", at, due)
		}
		var left []string
		for _, k := range db.Passkey.Query().AllX(ctx) {
			left = append(left, k.Name)
		}
		if len(left) != 1 || left[0] != "ann-phone" {
			t.Fatalf("passkeys after the undo: %v, want only Ann's own, older one", left)
		}
		if _, _, ended := w.read(ann.ID); ended != 2 {
			t.Fatalf("after the undo: sessions ended %d times, want before and after removing the passkey", ended)
		}
		if _, err := s.UndoTOTP(ctx, token, "ann-laptop"); !apperr.Is(err, apperr.Gone) {
			t.Fatalf("the undo link used twice: %v, want Gone", err)
		}

		// The app stays until the removal is due, then goes with its recovery codes.
		clk.Set(due.Add(-time.Minute))
		if on, _ := s.Enabled(ctx, ann.ID); !on {
			t.Fatal("two-step verification off before its removal was due")
		}
		clk.Set(due)
		if on, _ := s.Enabled(ctx, ann.ID); on {
			t.Fatal("two-step verification still on once its removal was due")
		}
		if n := db.RecoveryCode.Query().Where(recoverycode.UserID(ann.ID)).CountX(ctx); n != 0 {
			t.Fatalf("%d recovery codes left after the removal, want none", n)
		}
		if _, sent, _ := w.read(ann.ID); sent[len(sent)-1] != mfa.TOTPRemoved {
			t.Fatalf("notices after the removal: %v, want totp_removed last", sent)
		}

		// An app set up again since is not the one the link named.
		later := due.Add(time.Hour)
		clk.Set(later)
		enrolSecret(t, s, session(ann, later), later)
		first, _, _ := w.read(ann.ID)
		secret := enrolAfterDisable(t, s, db, ann.ID, clk)
		if _, err := s.UndoTOTP(ctx, first, "ann-laptop"); !apperr.Is(err, apperr.Gone) {
			t.Fatalf("the link of an app turned off and set up again: %v, want Gone", err)
		}
		clk.Set(later.Add(100 * time.Hour))
		if on, _ := s.Enabled(ctx, ann.ID); !on || secret == "" {
			t.Fatal("an old undo link turned off the app set up again since")
		}
		if _, _, ended := w.read(ann.ID); ended != 2 {
			t.Fatalf("a stale undo link ended sessions (%d calls, want the 2 of the undo)", ended)
		}
	})
}

// Whoever reads the person's mail, in a browser that signed in to the account before they set
// up their own authenticator app, can use the link too: it only signs the person out, since
// their next sign-in with the app, or a recovery code, cancels the removal.
func TestAnAuthenticatorAppUsedToSignInIsKeptDespiteTheUndoLink(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		t0 := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
		clk := &movingClock{t: t0}
		w := newUndoWorld(t, db, clk)
		s := w.s
		ctx := context.Background()
		for i, use := range []string{"totp", "recovery code"} {
			cy := person(db, "cy"+use[:4]+"@example.com", "AB030"+string(rune('1'+i)))
			w.known["reader-laptop-"+use] = cy.ID // the mail reader signed in before
			start := t0.Add(time.Duration(i) * 200 * time.Hour)
			clk.Set(start)
			secret, codes := enrolSecret(t, s, session(cy, start), start)
			token, _, _ := w.read(cy.ID)
			due, err := s.UndoTOTP(ctx, token, "reader-laptop-"+use)
			if err != nil {
				t.Fatalf("%s: the reader's undo: %v", use, err)
			}
			at := start.Add(time.Hour)
			clk.Set(at)
			code := codes[0]
			if use == "totp" {
				code = codeAt(t, secret, at)
			}
			if _, err := s.Verify(ctx, cy.ID, code); err != nil {
				t.Fatalf("%s: Cy signs in with her %s: %v", use, use, err)
			}
			if at, _ := s.RemovalAt(ctx, cy.ID); !at.IsZero() {
				t.Fatalf("%s: the removal is still scheduled at %v after a sign-in with the %s", use, at, use)
			}
			clk.Set(due.Add(time.Hour))
			if on, _ := s.Enabled(ctx, cy.ID); !on {
				t.Fatalf("%s: two-step verification turned off although Cy signed in with her %s", use, use)
			}
		}
	})
}

// enrolAfterDisable removes uid's authenticator app (as DisableTOTP does) and sets up a new
// one a minute later, returning its secret.
func enrolAfterDisable(t *testing.T, s *mfa.Service, db *store.DB, uid string, clk *movingClock) string {
	t.Helper()
	ctx := context.Background()
	if _, err := db.TOTPFactor.Delete().Exec(ctx); err != nil {
		t.Fatal(err)
	}
	at := clk.Now().Add(time.Minute)
	clk.Set(at)
	u := db.User.GetX(ctx, uid)
	secret, _ := enrolSecret(t, s, session(u, at), at)
	return secret
}

// One undo link opened at once in several of the person's browsers works once.
func TestAnUndoLinkUsedAtOnceWorksOnce(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		t0 := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
		w := newUndoWorld(t, db, &movingClock{t: t0})
		ann := person(db, "ann@example.com", "AB0203")
		w.known["ann-laptop"] = ann.ID
		enrolSecret(t, w.s, session(ann, t0), t0)
		token, _, _ := w.read(ann.ID)
		const n = 8
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = w.s.UndoTOTP(context.Background(), token, "ann-laptop")
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !apperr.Is(err, apperr.Gone):
				t.Errorf("a concurrent undo: %v, want nil or Gone", err)
			}
		}
		if due, _ := w.s.RemovalAt(context.Background(), ann.ID); ok != 1 || due.IsZero() {
			t.Fatalf("%d undos succeeded, removal scheduled at %v; want one and a time", ok, due)
		}
	})
}
