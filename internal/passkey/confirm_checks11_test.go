package passkey_test

import (
	"context"
	"testing"

	entpasskey "loginsign/ent/passkey"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/globalid"
	"loginsign/internal/ids"
	"loginsign/internal/mfa"
	"loginsign/internal/passkey/passkeytest"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// mailedIn is a confirmation code mailed to the person signed in to ctx.
func (e *twoStepEnv) mailedIn(t *testing.T, ctx context.Context) string {
	t.Helper()
	n := e.smtp.Count()
	if _, _, err := e.mfa.SendChangeCode(ctx, ""); err != nil {
		t.Fatal(err)
	}
	m := mailedCode.FindStringSubmatch(e.smtp.Wait(t, n+1)[n].Text)
	if m == nil {
		t.Fatal("no code in the mail")
	}
	return m[1] + m[2]
}

// personWithPasskey makes another person, signed in recently in a session of their own
// (sessionID), with a passkey on a new authenticator added with their own mailed code.
func (e *twoStepEnv) personWithPasskey(t *testing.T, email string, gid int64, sessionID string) (context.Context, *passkeytest.Authenticator) {
	t.Helper()
	u := e.db.User.Create().SetEmail(email).SetGlobalID(globalid.Format(gid)).SaveX(context.Background())
	ctx := auth.WithSession(context.Background(), auth.Session{UserID: u.ID, ID: ids.Hash(sessionID), SignedInAt: e.now})
	device := passkeytest.New(t, false)
	options, err := e.s.BeginRegistration(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.FinishRegistrationWithCode(ctx, "Key", device.Register(t, options, origin, 0), e.mailedIn(t, ctx)); err != nil {
		t.Fatal(err)
	}
	return ctx, device
}

// confirmWith answers a passkey confirmation of the person of ctx with device.
func (e *twoStepEnv) confirmWith(t *testing.T, ctx context.Context, device *passkeytest.Authenticator, counter uint32) (string, error) {
	t.Helper()
	options, err := e.s.BeginConfirmation(ctx)
	if err != nil {
		t.Fatal(err)
	}
	code, _, err := e.s.FinishConfirmation(ctx, device.Login(t, options, origin, counter))
	return code, err
}

// A person with a passkey confirms a change that could take the account with it, in place of
// the mailed code (two-step verification off) or the app's code (on): the confirmation works
// once, for this person only, expires in 5 minutes, and the passkey's counter moves.
func TestAPasskeyConfirmsAChangeInPlaceOfTheCode(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newTwoStepEnv(t, db)
		device := passkeytest.New(t, false)
		first, err := e.add(t, device, e.mailed(t))
		if err != nil {
			t.Fatal(err)
		}
		code, err := e.confirmWith(t, e.ctx, device, 1)
		if err != nil {
			t.Fatalf("confirming with the person's passkey: %v", err)
		}
		if !mfa.IsPasskeyConfirmation(code) {
			t.Fatalf("the confirmation %q does not read as one", code)
		}
		if _, err := e.add(t, passkeytest.New(t, true), code); err != nil {
			t.Fatalf("adding a passkey with the passkey's confirmation: %v", err)
		}
		if _, err := e.add(t, passkeytest.New(t, true), code); !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("the same confirmation again: %v, want Invalid", err)
		}
		if k := db.Passkey.GetX(context.Background(), first.ID); k.SignCount != 1 || k.LastUsedAt == nil {
			t.Errorf("after the confirmation the passkey's counter is %d, last used %v: want 1 and now", k.SignCount, k.LastUsedAt)
		}

		// With two-step verification on, it stands for the app's code too.
		e.turnOnTwoStep(t)
		code, err = e.confirmWith(t, e.ctx, device, 2)
		if err != nil {
			t.Fatalf("confirming with two-step verification on: %v", err)
		}
		if err := e.s.Delete(e.ctx, first.ID, code); err != nil {
			t.Fatalf("removing a passkey with the passkey's confirmation: %v", err)
		}
		if db.Passkey.Query().Where(entpasskey.ID(first.ID)).ExistX(context.Background()) {
			t.Fatal("the passkey is still there")
		}
	})
}

// What cannot confirm: a challenge answered twice, an assertion without user verification, a
// cloned authenticator, a passkey of another account, a confirmation used in another person's
// session or made up, an old session, and a person with no passkey. None of them changes
// anything.
func TestAPasskeyConfirmationIsThePersonsOwnOnce(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newTwoStepEnv(t, db)
		device := passkeytest.New(t, false)
		if _, err := e.add(t, device, e.mailed(t)); err != nil {
			t.Fatal(err)
		}
		carl := db.User.Create().SetEmail("carl@example.com").SetGlobalID(globalid.Format(7901)).SaveX(context.Background())
		carlCtx := auth.WithSession(context.Background(), auth.Session{UserID: carl.ID, ID: ids.Hash("ses_carl"), SignedInAt: e.now})
		if _, err := e.s.BeginConfirmation(carlCtx); apperr.As(err) == nil || apperr.As(err).Name() != "no_passkey" {
			t.Fatalf("a person without a passkey: %v, want no_passkey", err)
		}
		bobCtx, _ := e.personWithPasskey(t, "bob@example.com", 7907, "ses_bob")

		// Ann's passkey answering Bob's challenge, in Bob's session (a thief with Bob's session
		// and Ann's passkey, or a passkey of the thief's own account).
		options, err := e.s.BeginConfirmation(bobCtx)
		if err != nil {
			t.Fatal(err)
		}
		// Refused with a reason of its own: the dashboard sends a plain "unauthorized" to the
		// login page, and Bob is signed in.
		if _, _, err := e.s.FinishConfirmation(bobCtx, device.Login(t, options, origin, 1)); !apperr.Is(err, apperr.Unauthorized) || apperr.As(err).Name() != "passkey_refused" {
			t.Errorf("another account's passkey: %v, want Unauthorized passkey_refused", err)
		}

		options, err = e.s.BeginConfirmation(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		response := device.Login(t, options, origin, 2)
		code, _, err := e.s.FinishConfirmation(e.ctx, response)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.s.FinishConfirmation(e.ctx, response); !apperr.Is(err, apperr.Gone) {
			t.Errorf("the same assertion again: %v, want Gone", err)
		}
		// Ann's confirmation in Bob's session confirms nothing of Bob's (and stays Ann's).
		if _, err := e.mfa.ConfirmChange(bobCtx, code); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("Ann's confirmation in Bob's session: %v, want Invalid", err)
		}
		if _, err := e.mfa.ConfirmChange(e.ctx, "lspc_"+ids.Secret("")); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("a made-up confirmation: %v, want Invalid", err)
		}

		device.SetUserVerified(false)
		if _, err := e.confirmWith(t, e.ctx, device, 3); !apperr.Is(err, apperr.Unauthorized) {
			t.Errorf("an assertion without user verification: %v, want Unauthorized", err)
		}
		device.SetUserVerified(true)
		if _, err := e.confirmWith(t, e.ctx, device, 2); !apperr.Is(err, apperr.Unauthorized) {
			t.Errorf("a counter that did not move (a cloned authenticator): %v, want Unauthorized", err)
		}

		old := auth.WithSession(context.Background(), auth.Session{UserID: e.u.ID, SignedInAt: e.now.Add(-auth.RecentSignIn - 1)})
		if _, err := e.s.BeginConfirmation(old); apperr.As(err) == nil || apperr.As(err).Name() != "reauthentication_required" {
			t.Errorf("an old session: %v, want reauthentication_required", err)
		}
		if _, err := e.mfa.ConfirmChange(e.ctx, code); err != nil {
			t.Errorf("Ann's confirmation in her own session, after the refusals: %v", err)
		}
		if n := db.Passkey.Query().Where(entpasskey.UserID(e.u.ID)).CountX(context.Background()); n != 1 {
			t.Errorf("Ann has %d passkeys, want 1", n)
		}
	})
}
