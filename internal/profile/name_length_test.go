package profile_test

import (
	"strings"
	"testing"

	"loginsign/internal/kv/kvtest"
	"loginsign/internal/profile"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestANameOfMaxNameCharactersIsKeptWhateverItsBytes: a display name is limited in characters
// (MaxName), and the database keeps any name the check lets through: 200 CJK characters are
// 600 bytes. Before, the schema's validator counted bytes, so such a name passed CleanName
// and then failed as an internal error.
func TestANameOfMaxNameCharactersIsKeptWhateverItsBytes(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		users, _ := people(t, db, "mei@example.com")
		svc := profile.New(db, kvtest.Embedded(t), "https://id.example", nil)
		name := strings.Repeat("梅", profile.MaxName)
		if v, err := svc.UpdateProfile(signedIn(users[0]), profile.Update{Name: &name}); err != nil || v.Name != name {
			t.Fatalf("a name of %d characters (%d bytes): %v, want it kept", profile.MaxName, len(name), err)
		}
		longer := name + "梅"
		if _, err := svc.UpdateProfile(signedIn(users[0]), profile.Update{Name: &longer}); err == nil {
			t.Fatalf("a name of %d characters: accepted, want it refused", profile.MaxName+1)
		}
	})
}
