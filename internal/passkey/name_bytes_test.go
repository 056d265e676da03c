package passkey_test

import (
	"context"
	"strings"
	"testing"

	"loginsign/ent/activityevent"
	"loginsign/internal/passkey/passkeytest"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestAPasskeyNameOf64EmojiIsKeptAndLogged: a passkey name is at most 64 characters however
// many bytes they take; 64 emoji are 256 bytes, more than the activity log's 200 a detail
// when it counted bytes, so the rename it records failed as an internal error.
func TestAPasskeyNameOf64EmojiIsKeptAndLogged(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newTwoStepEnv(t, db)
		k, err := e.add(t, passkeytest.New(t, false), e.mailed(t))
		if err != nil {
			t.Fatal(err)
		}
		name := strings.Repeat("🔑", 64)
		if got, err := e.s.Rename(e.ctx, k.ID, name); err != nil || got.Name != name {
			t.Fatalf("renaming to 64 emoji (%d bytes): %v, want it renamed", len(name), err)
		}
		ev, err := db.ActivityEvent.Query().Where(activityevent.Type("passkey_renamed")).Only(context.Background())
		if err != nil || ev.Details["name"] != name {
			t.Fatalf("the rename's event: %v, %v; want it to name the passkey", ev, err)
		}
	})
}
