package passkey_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	entpasskey "loginsign/ent/passkey"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/ids"
	"loginsign/internal/passkey"
	"loginsign/internal/passkey/passkeytest"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// An assertion made for another ceremony confirms nothing: one answering a sign-in challenge
// (pklogin) or a registration response, sent to FinishConfirmation, is refused, and an
// assertion answering a confirmation challenge signs nobody in.
func TestAPasskeyConfirmationTakesNoOtherCeremonysAnswer(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newTwoStepEnv(t, db)
		device := passkeytest.New(t, false)
		if _, err := e.add(t, device, e.mailed(t)); err != nil {
			t.Fatal(err)
		}
		signIn, err := e.s.BeginLogin(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		signInAnswer := device.Login(t, signIn, origin, 1)
		if _, err := e.s.BeginConfirmation(e.ctx); err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.s.FinishConfirmation(e.ctx, signInAnswer); !apperr.Is(err, apperr.Unauthorized) {
			t.Errorf("the answer to a sign-in challenge: %v, want Unauthorized", err)
		}

		reg, err := e.s.BeginRegistration(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		regAnswer := passkeytest.New(t, false).Register(t, reg, origin, 0)
		if _, err := e.s.BeginConfirmation(e.ctx); err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.s.FinishConfirmation(e.ctx, regAnswer); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("a registration response: %v, want Invalid", err)
		}

		options, err := e.s.BeginConfirmation(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.s.FinishLogin(context.Background(), device.Login(t, options, origin, 2)); !apperr.Is(err, apperr.Gone) {
			t.Errorf("the answer to a confirmation challenge, at sign-in: %v, want Gone", err)
		}
	})
}

// Many changes sent at once with one passkey confirmation: exactly one goes through.
func TestOnePasskeyConfirmationConfirmsOneOfManyAtOnce(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newTwoStepEnv(t, db)
		device := passkeytest.New(t, false)
		if _, err := e.add(t, device, e.mailed(t)); err != nil {
			t.Fatal(err)
		}
		code, err := e.confirmWith(t, e.ctx, device, 1)
		if err != nil {
			t.Fatal(err)
		}
		const n = 8 // under AccountAttempts: every refusal is the spent code's
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() { _, errs[i] = e.mfa.ConfirmChange(e.ctx, code) })
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !apperr.Is(err, apperr.Invalid):
				t.Errorf("a change racing with the same confirmation: %v, want Invalid", err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d of %d changes at once went through with one confirmation, want 1", ok, n)
		}
	})
}

// What a thief sends in place of an assertion gets a 4xx in the error shape, spends nothing of
// the person's and confirms nothing: no challenge, an empty, malformed or huge response, a
// made-up confirmation of any length.
func TestBadPasskeyConfirmationInputIsRefusedPlainly(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newTwoStepEnv(t, db)
		device := passkeytest.New(t, false)
		if _, err := e.add(t, device, e.mailed(t)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.s.FinishConfirmation(e.ctx, device.Login(t, `{"publicKey":{"challenge":"AAAA","rpId":"localhost"}}`, origin, 1)); apperr.As(err) == nil {
			t.Errorf("an assertion without a challenge begun: %v, want a 4xx", err)
		}
		if _, err := e.s.BeginConfirmation(e.ctx); err != nil {
			t.Fatal(err)
		}
		for name, response := range map[string]string{
			"empty": "", "null": "null", "an object": "{}", "not JSON": "<xml/>",
			"huge":                 `{"id":"` + strings.Repeat("A", passkey.MaxResponse) + `"}`,
			"a credential of junk": `{"id":"AAAA","rawId":"AAAA","type":"public-key","response":{"clientDataJSON":"e30","authenticatorData":"AAAA","signature":"AAAA"}}`,
		} {
			if _, _, err := e.s.FinishConfirmation(e.ctx, response); apperr.As(err) == nil {
				t.Errorf("%s: %v, want a 4xx", name, err)
			}
		}
		for _, code := range []string{"lspc_", " lspc_" + ids.Secret("") + " ", "lspc_" + strings.Repeat("x", 100000), "LSPC_" + ids.Secret("")} {
			if _, err := e.mfa.ConfirmChange(e.ctx, code); !apperr.Is(err, apperr.Invalid) {
				t.Errorf("the made-up confirmation %.20q: %v, want Invalid", code, err)
			}
		}
		if n := db.Passkey.Query().Where(entpasskey.UserID(e.u.ID)).CountX(context.Background()); n != 1 {
			t.Errorf("Ann has %d passkeys, want 1", n)
		}
	})
}

// requireSignInWithApp and the passkey path together: a thief with a copy of the cookie of a
// recent sign-in turns two-step verification on with their own app (no mailed code asked);
// the app's codes then confirm nothing in that session, so the thief cannot add their own
// passkey with them, and neither their own passkey (of their own account) nor the person's
// passkey without its user verification confirms anything. The person's passkey with it still
// does: the person is there.
func TestAThiefsAppAndPasskeyDoNotConfirmThroughThePasskeyPath(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newTwoStepEnv(t, db)
		device := passkeytest.New(t, false)
		if _, err := e.add(t, device, e.mailed(t)); err != nil {
			t.Fatal(err)
		}
		// The thief's own account and passkey.
		_, malDevice := e.personWithPasskey(t, "mallory@example.com", 7937, "ses_mal")

		stolen := auth.WithSession(context.Background(), auth.Session{UserID: e.u.ID, ID: ids.Hash("ses_ann_copy"), SignedInAt: e.now.Add(-time.Minute)})
		en, err := e.mfa.BeginTOTP(stolen, e.u.Email)
		if err != nil {
			t.Fatal(err)
		}
		// Set up with a confirmation of Ann's (a copied session alone sets up no app).
		confirmation, _, err := e.mfa.IssuePasskeyConfirmation(stolen, e.u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.mfa.ConfirmTOTP(stolen, totpAt(t, en.Secret, e.now), confirmation); err != nil {
			t.Fatal(err)
		}
		options, err := e.s.BeginRegistration(stolen)
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.s.FinishRegistrationWithCode(stolen, "Mine now", passkeytest.New(t, false).Register(t, options, origin, 0), totpAt(t, en.Secret, e.now.Add(30*time.Second)))
		if apperr.As(err) == nil || apperr.As(err).Name() != "reauthentication_required" {
			t.Errorf("the thief's app set up after the sign-in, adding a passkey: %v, want reauthentication_required", err)
		}
		if _, err := e.confirmWith(t, stolen, malDevice, 1); !apperr.Is(err, apperr.Unauthorized) {
			t.Errorf("the thief's own passkey in the stolen session: %v, want Unauthorized", err)
		}
		device.SetUserVerified(false)
		if _, err := e.confirmWith(t, stolen, device, 1); !apperr.Is(err, apperr.Unauthorized) {
			t.Errorf("the person's passkey without user verification: %v, want Unauthorized", err)
		}
		device.SetUserVerified(true)
		if n := db.Passkey.Query().Where(entpasskey.UserID(e.u.ID)).CountX(context.Background()); n != 1 {
			t.Errorf("Ann has %d passkeys, want 1", n)
		}
		code, err := e.confirmWith(t, stolen, device, 2)
		if err != nil {
			t.Fatalf("the person's passkey with user verification: %v", err)
		}
		if _, err := e.mfa.ConfirmChange(stolen, code); err != nil {
			t.Errorf("the person's confirmation: %v", err)
		}
	})
}
