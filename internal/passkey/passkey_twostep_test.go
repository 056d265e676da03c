package passkey_test

import (
	"bytes"
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"loginsign/ent"
	entpasskey "loginsign/ent/passkey"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/globalid"
	"loginsign/internal/ids"
	"loginsign/internal/kv"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/mail"
	"loginsign/internal/mail/mailtest"
	"loginsign/internal/mfa"
	"loginsign/internal/passkey"
	"loginsign/internal/passkey/passkeytest"
	"loginsign/internal/seal"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// twoStepEnv is a passkey service with two-step verification, as the server wires them, at a
// fixed time, and a signed-in person with a recent sign-in.
type twoStepEnv struct {
	s    *passkey.Service
	mfa  *mfa.Service
	smtp *mailtest.Server
	kv   *kv.Store
	db   *store.DB
	now  time.Time
	u    *ent.User
	ctx  context.Context
}

func newTwoStepEnv(t *testing.T, db *store.DB) *twoStepEnv {
	t.Helper()
	now := time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	k := kvtest.Embedded(t)
	s, err := passkey.New(db, k, origin, clock)
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := seal.New(bytes.Repeat([]byte("s"), 32), "totp secrets")
	if err != nil {
		t.Fatal(err)
	}
	s.MFA = mfa.New(db, k, sealer, clock)
	smtp := mailtest.Start(t)
	if s.MFA.Mail, err = mail.New(mail.Config{URL: smtp.URL(), From: "LoginSign <no-reply@example.com>"}); err != nil {
		t.Fatal(err)
	}
	s.MFA.ChangeCodeSends.N = 100 // the tests' changes of one person, all in one hour
	u := db.User.Create().SetEmail("ann@example.com").SetGlobalID(globalid.Format(7919)).SaveX(context.Background())
	ctx := auth.WithSession(context.Background(), auth.Session{UserID: u.ID, ID: ids.Hash("ses_ann"), SignedInAt: now})
	return &twoStepEnv{s: s, mfa: s.MFA, smtp: smtp, kv: k, db: db, now: now, u: u, ctx: ctx}
}

var mailedCode = regexp.MustCompile(`\b(\d{4}) (\d{4})\b`)

// mailed is a confirmation code mailed to the person (mfa.Service.SendChangeCode), as the
// dashboard asks for one for a person without two-step verification.
func (e *twoStepEnv) mailed(t *testing.T) string {
	t.Helper()
	n := e.smtp.Count()
	if _, _, err := e.mfa.SendChangeCode(e.ctx, ""); err != nil {
		t.Fatal(err)
	}
	m := mailedCode.FindStringSubmatch(e.smtp.Wait(t, n+1)[n].Text)
	if m == nil {
		t.Fatal("no code in the mail")
	}
	return m[1] + m[2]
}

// add registers a new authenticator's passkey with code, as the dashboard does.
func (e *twoStepEnv) add(t *testing.T, device *passkeytest.Authenticator, code string) (*ent.Passkey, error) {
	t.Helper()
	options, err := e.s.BeginRegistration(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	return e.s.FinishRegistrationWithCode(e.ctx, "Key", device.Register(t, options, origin, 0), code)
}

// turnOnTwoStep enrols a TOTP app for the person and returns its secret and recovery codes.
func (e *twoStepEnv) turnOnTwoStep(t *testing.T) (string, []string) {
	t.Helper()
	en, err := e.mfa.BeginTOTP(e.ctx, e.u.Email)
	if err != nil {
		t.Fatal(err)
	}
	confirmation, _, err := e.mfa.IssuePasskeyConfirmation(e.ctx, e.u.ID)
	if err != nil {
		t.Fatal(err)
	}
	codes, err := e.mfa.ConfirmTOTP(e.ctx, totpAt(t, en.Secret, e.now), confirmation)
	if err != nil {
		t.Fatal(err)
	}
	return en.Secret, codes
}

func totpAt(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A passkey signs in as both steps, so a person who has two-step verification on adds one only
// with their second step, checked as for turning it off: without a code, with a wrong one, or
// with a TOTP code whose time step was used, it answers Invalid and stores nothing; a current
// TOTP code (once) or a recovery code (spent) adds it. With two-step verification off the code
// is one mailed to the person (none: confirmation_code_required, nothing stored); with it on
// and no service to check the code, nothing is stored either.
func TestAddingAPasskeyWithTwoStepOnTakesTheSecondStep(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newTwoStepEnv(t, db)
		stored := func() int { return db.Passkey.Query().Where(entpasskey.UserID(e.u.ID)).CountX(context.Background()) }
		if _, err := e.add(t, passkeytest.New(t, false), ""); apperr.As(err) == nil || apperr.As(err).Name() != "confirmation_code_required" {
			t.Fatalf("a passkey with two-step verification off and no code: %v, want confirmation_code_required", err)
		}
		if n := stored(); n != 0 {
			t.Fatalf("%d passkeys stored without the mailed code, want 0", n)
		}
		if _, err := e.add(t, passkeytest.New(t, false), e.mailed(t)); err != nil {
			t.Fatalf("a passkey with two-step verification off and the mailed code: %v", err)
		}
		secret, recovery := e.turnOnTwoStep(t)

		for _, c := range []struct{ name, code string }{
			{"no code", ""},
			{"a wrong code", "000000"},
			{"the enrolment's code, its time step used", totpAt(t, secret, e.now)},
			{"a code that is neither", "not a code"},
		} {
			if _, err := e.add(t, passkeytest.New(t, false), c.code); !apperr.Is(err, apperr.Invalid) {
				t.Errorf("%s: %v, want Invalid", c.name, err)
			}
		}
		if n := stored(); n != 1 {
			t.Fatalf("%d passkeys stored, want the one added before two-step verification", n)
		}

		next := totpAt(t, secret, e.now.Add(30*time.Second))
		if _, err := e.add(t, passkeytest.New(t, false), next); err != nil {
			t.Fatalf("a current TOTP code: %v", err)
		}
		if _, err := e.add(t, passkeytest.New(t, false), next); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("the same TOTP code again: %v, want Invalid", err)
		}
		if _, err := e.add(t, passkeytest.New(t, true), strings.ToUpper(recovery[0])); err != nil {
			t.Fatalf("a recovery code: %v", err)
		}
		if _, err := e.add(t, passkeytest.New(t, false), recovery[0]); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("a spent recovery code: %v, want Invalid", err)
		}
		if st, err := e.mfa.StatusOf(context.Background(), e.u.ID); err != nil || st.RecoveryCodesLeft != len(recovery)-1 {
			t.Errorf("two-step status %+v (%v), want one recovery code spent", st, err)
		}

		e.s.MFA = nil
		if _, err := e.add(t, passkeytest.New(t, false), recovery[1]); err == nil {
			t.Error("a passkey was added with no service to check the code")
		}
		if n := stored(); n != 3 {
			t.Fatalf("%d passkeys stored, want 3", n)
		}
	})
}

// A session older than auth.RecentSignIn cannot finish adding a passkey, and spends none of the
// person's code tries trying.
func TestAnOldSessionCannotFinishAddingAPasskey(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newTwoStepEnv(t, db)
		_, recovery := e.turnOnTwoStep(t)
		options, err := e.s.BeginRegistration(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		response := passkeytest.New(t, false).Register(t, options, origin, 0)
		old := auth.WithSession(context.Background(), auth.Session{UserID: e.u.ID, SignedInAt: e.now.Add(-auth.RecentSignIn - time.Minute)})
		for range 12 {
			_, err := e.s.FinishRegistrationWithCode(old, "Key", response, "000000")
			if a := apperr.As(err); a == nil || a.Name() != "reauthentication_required" {
				t.Fatalf("finishing from a session signed in 16 minutes ago: %v, want reauthentication_required", err)
			}
		}
		if _, err := e.add(t, passkeytest.New(t, false), recovery[0]); err != nil {
			t.Fatalf("the person's own registration afterwards: %v", err)
		}
	})
}

// Removing a passkey ends the sessions it signed in: Delete hands EndSessions the reference
// that SignInRef reads from the passkey's assertions (the one the sign-in stored with its
// session), before the passkey is removed (so that a failure leaves it for the retry) and
// again after it is gone (for a sign-in with it that finished meanwhile).
func TestDeleteEndsTheSessionsThePasskeySignedIn(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newTwoStepEnv(t, db)
		device := passkeytest.New(t, false)
		k, err := e.add(t, device, e.mailed(t))
		if err != nil {
			t.Fatal(err)
		}
		options, err := e.s.BeginLogin(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		assertion := device.Login(t, options, origin, 1)
		if _, _, err := e.s.FinishLogin(context.Background(), assertion); err != nil {
			t.Fatal(err)
		}
		ref := passkey.SignInRef(assertion)
		if ref == "" || ref != passkey.Ref(k.CredentialID) {
			t.Fatalf("SignInRef = %q, want Ref of the credential %q", ref, passkey.Ref(k.CredentialID))
		}
		var ended []string
		e.s.EndSessions = func(ctx context.Context, userID, passkeyRef string) (int, error) {
			state := "gone"
			if n := db.Passkey.Query().Where(entpasskey.ID(k.ID)).CountX(ctx); n != 0 {
				state = "present"
			}
			ended = append(ended, userID+" "+passkeyRef+" "+state)
			return 1, nil
		}
		if err := e.s.Delete(e.ctx, k.ID, e.mailed(t)); err != nil {
			t.Fatal(err)
		}
		if want := []string{e.u.ID + " " + ref + " present", e.u.ID + " " + ref + " gone"}; !slices.Equal(ended, want) {
			t.Fatalf("EndSessions was called with %q, want %q", ended, want)
		}
		if passkey.SignInRef("{not json") != "" {
			t.Error("SignInRef of a malformed response is not empty")
		}
	})
}
