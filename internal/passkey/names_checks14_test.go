package passkey_test

import (
	"context"
	"testing"

	entpasskey "loginsign/ent/passkey"
	"loginsign/internal/apperr"
	"loginsign/internal/passkey/passkeytest"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// A passkey's name is one line the person reads in the dashboard, the activity log and the
// security notices: a name that is not UTF-8, holds a NUL or another control character, or a
// bidirectional override is refused as Invalid on adding and on renaming (PostgreSQL refuses a
// NUL and bytes that are not UTF-8, which answered 500), and the stored name stays.
func TestPasskeyNamesAreOneLineOfText(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newTwoStepEnv(t, db)
		k, err := e.add(t, passkeytest.New(t, false), e.mailed(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"a\x00b", "a\xffb", "line\nbreak", "\u202eyek kcab", "tab\there"} {
			if got, err := e.s.Rename(e.ctx, k.ID, name); !apperr.Is(err, apperr.Invalid) {
				t.Errorf("renaming a passkey to %q: %v, %v; want Invalid", name, got, err)
			}
			options, err := e.s.BeginRegistration(e.ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.s.FinishRegistrationWithCode(e.ctx, name, passkeytest.New(t, false).Register(t, options, origin, 0), e.mailed(t)); !apperr.Is(err, apperr.Invalid) {
				t.Errorf("adding a passkey named %q: %v, want Invalid", name, err)
			}
		}
		if got := db.Passkey.Query().Where(entpasskey.ID(k.ID)).OnlyX(context.Background()); got.Name != "Key" {
			t.Errorf("the passkey is named %q after the refused renames, want %q", got.Name, "Key")
		}
		if n := db.Passkey.Query().Where(entpasskey.UserID(e.u.ID)).CountX(context.Background()); n != 1 {
			t.Errorf("%d passkeys after the refused additions, want 1", n)
		}
		// Spaces around a name are trimmed, and a name is kept in NFC.
		if got, err := e.s.Rename(e.ctx, k.ID, "  Cle\u0301  "); err != nil || got.Name != "Cl\u00e9" {
			t.Errorf("renaming to a name with spaces around and a combining accent: %v, %v; want %q", got, err, "Cl\u00e9")
		}
	})
}
