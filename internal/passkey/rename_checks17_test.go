package passkey_test

import (
	"context"
	"testing"
	"time"

	entpasskey "loginsign/ent/passkey"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/ids"
	"loginsign/internal/passkey/passkeytest"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// A passkey's name is how the person tells their own passkeys from one they do not know, so a
// session older than auth.RecentSignIn (a copied cookie) cannot rename one
// (reauthentication_required) and the name stays; a recent session still can.
func TestAnOldSessionCannotRenameAPasskey(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newTwoStepEnv(t, db)
		k, err := e.add(t, passkeytest.New(t, false), e.mailed(t))
		if err != nil {
			t.Fatal(err)
		}
		old := auth.WithSession(context.Background(), auth.Session{UserID: e.u.ID, ID: ids.Hash("ses_old"),
			SignedInAt: e.now.Add(-auth.RecentSignIn - time.Minute)})
		if _, err := e.s.Rename(old, k.ID, "Not mine"); apperr.As(err) == nil || apperr.As(err).Name() != "reauthentication_required" {
			t.Errorf("renaming a passkey from a session signed in 16 minutes ago: %v, want reauthentication_required", err)
		}
		if got := db.Passkey.Query().Where(entpasskey.ID(k.ID)).OnlyX(context.Background()); got.Name != "Key" {
			t.Errorf("the passkey is named %q after the old session's rename, want %q", got.Name, "Key")
		}
		if got, err := e.s.Rename(e.ctx, k.ID, "Laptop"); err != nil || got.Name != "Laptop" {
			t.Fatalf("renaming it from a recent session: %v, %v", got, err)
		}
	})
}
