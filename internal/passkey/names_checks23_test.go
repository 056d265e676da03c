package passkey_test

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"

	entpasskey "loginsign/ent/passkey"
	"loginsign/internal/apperr"
	"loginsign/internal/passkey/passkeytest"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestAPasskeyNameLongerThan64CharactersInNFCIsRefusedNotAnInternalError: a name is counted as
// it is stored, in NFC. Some characters (U+0958 DEVANAGARI LETTER QA, a composition
// exclusion) become two in NFC, so 64 of them are 128 characters stored: counted before the
// normalisation, the name passed the check and the schema's 64 refused it as an internal error,
// after the person's mailed code was spent on adding it.
func TestAPasskeyNameLongerThan64CharactersInNFCIsRefusedNotAnInternalError(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newTwoStepEnv(t, db)
		k, err := e.add(t, passkeytest.New(t, false), e.mailed(t))
		if err != nil {
			t.Fatal(err)
		}
		long := strings.Repeat("\u0958", 64)
		if got, err := e.s.Rename(e.ctx, k.ID, long); !apperr.Is(err, apperr.Invalid) || apperr.As(err).Reason != "invalid_name" {
			t.Errorf("renaming a passkey to 64 × U+0958 (128 characters in NFC): %v, %v; want Invalid, invalid_name", got, err)
		}
		options, err := e.s.BeginRegistration(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		code := e.mailed(t)
		if _, err := e.s.FinishRegistrationWithCode(e.ctx, long, passkeytest.New(t, false).Register(t, options, origin, 0), code); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("adding a passkey named 64 × U+0958: %v, want Invalid", err)
		}
		if n := db.Passkey.Query().Where(entpasskey.UserID(e.u.ID)).CountX(context.Background()); n != 1 {
			t.Errorf("%d passkeys after the refused addition, want 1", n)
		}
		// The refused name spent no code: the same code adds a passkey with a name that fits.
		options, err = e.s.BeginRegistration(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.FinishRegistrationWithCode(e.ctx, "Laptop", passkeytest.New(t, false).Register(t, options, origin, 0), code); err != nil {
			t.Errorf("adding a passkey with the code the refused name left: %v", err)
		}
		// 32 of them are 64 characters in NFC: kept.
		fits := strings.Repeat("\u0958", 32)
		got, err := e.s.Rename(e.ctx, k.ID, fits)
		if err != nil || utf8.RuneCountInString(got.Name) != 64 {
			t.Errorf("renaming to 32 × U+0958: %v, %v; want kept as 64 characters", got, err)
		}
	})
}
