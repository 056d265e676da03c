package passkey_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/globalid"
	"loginsign/internal/ids"
	"loginsign/internal/kv"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/passkey"
	"loginsign/internal/passkey/passkeytest"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// A passkey sign-in counts as both steps only when this assertion verified the user (flag UV):
// an assertion with user presence alone is refused, both as BeginLogin asks (user verification
// required) and when the stored challenge asks for less (as a change to BeginLogin, for
// conditional mediation say, or to the library's defaults might make it), since FinishLogin
// checks the assertion's own flag, not the credential's (which the library keeps as stored).
func TestASignInWithoutUserVerificationIsRefused(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		now := time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)
		s, err := passkey.New(db, kvtest.Embedded(t), origin, func() time.Time { return now })
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		u := db.User.Create().SetEmail("ann@example.com").SetGlobalID(globalid.Format(7919)).SaveX(ctx)
		signedIn := auth.WithSession(ctx, auth.Session{UserID: u.ID, SignedInAt: now})
		options, err := s.BeginRegistration(signedIn)
		if err != nil {
			t.Fatal(err)
		}
		device := passkeytest.New(t, false)
		if _, err := s.FinishRegistration(signedIn, "Key", device.Register(t, options, origin, 0)); err != nil {
			t.Fatal(err)
		}

		device.SetUserVerified(false)
		for _, relaxed := range []bool{false, true} {
			options, err := s.BeginLogin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if relaxed {
				relaxChallenge(t, s.KV, options)
			}
			if uid, amr, err := s.FinishLogin(ctx, device.Login(t, options, origin, 1)); !apperr.Is(err, apperr.Unauthorized) {
				t.Errorf("an assertion without user verification (challenge relaxed: %v): %q %v %v, want Unauthorized", relaxed, uid, amr, err)
			}
		}
		device.SetUserVerified(true)
		options, err = s.BeginLogin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if uid, _, err := s.FinishLogin(ctx, device.Login(t, options, origin, 2)); err != nil || uid != u.ID {
			t.Fatalf("an assertion with user verification: %q %v", uid, err)
		}
	})
}

// relaxChallenge rewrites the stored sign-in challenge of options to ask for user verification
// "preferred" instead of "required".
func relaxChallenge(t *testing.T, k *kv.Store, options string) {
	t.Helper()
	var o struct {
		PublicKey struct {
			Challenge string `json:"challenge"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal([]byte(options), &o); err != nil {
		t.Fatal(err)
	}
	key := "pklogin:" + ids.Hash(o.PublicKey.Challenge)
	b, err := k.Get(context.Background(), key).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	relaxed := strings.Replace(string(b), `"userVerification":"required"`, `"userVerification":"preferred"`, 1)
	if relaxed == string(b) {
		t.Fatalf("the stored challenge asks for no user verification: %s", b)
	}
	if err := k.Set(context.Background(), key, relaxed, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
}
