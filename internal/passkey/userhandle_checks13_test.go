package passkey_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"testing"

	"loginsign/internal/passkey/passkeytest"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// userHandle is the user handle (user.id) of registration options, as the authenticator
// stores it.
func userHandle(t *testing.T, options string) []byte {
	t.Helper()
	var opts struct {
		PublicKey struct {
			User struct {
				ID string `json:"id"`
			} `json:"user"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal([]byte(options), &opts); err != nil {
		t.Fatal(err)
	}
	h, err := base64.RawURLEncoding.DecodeString(opts.PublicKey.User.ID)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// withUserHandle is options with the user handle h, as a registration before random handles
// offered it.
func withUserHandle(t *testing.T, options string, h []byte) string {
	t.Helper()
	var opts map[string]any
	if err := json.Unmarshal([]byte(options), &opts); err != nil {
		t.Fatal(err)
	}
	opts["publicKey"].(map[string]any)["user"].(map[string]any)["id"] = base64.RawURLEncoding.EncodeToString(h)
	b, _ := json.Marshal(opts)
	return string(b)
}

// The WebAuthn user handle is written into the authenticator and handed back with every
// sign-in: it must name nothing (WebAuthn §14.6.1). It was the account's id, the id of the user
// row, of the person's GraphQL node and of their data export, so whoever held or inspected the
// authenticator read a stable identifier of the account. It is now a keyed digest, different
// per person and holding neither the account id, the address nor the Global User ID, and
// passkeys registered with the old handle (the account id) still sign in and confirm.
func TestAPasskeysUserHandleNamesNothing(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newTwoStepEnv(t, db)
		options, err := e.s.BeginRegistration(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		h := userHandle(t, options)
		for what, v := range map[string]string{"account id": e.u.ID, "address": e.u.Email, "Global User ID": e.u.GlobalID} {
			if bytes.Contains(h, []byte(v)) {
				t.Errorf("the user handle %q holds the %s %q", h, what, v)
			}
		}
		if len(h) < 16 || len(h) > 64 {
			t.Errorf("the user handle has %d bytes, want 16 to 64", len(h))
		}
		_, bob := otherPerson(t, e)
		bobOptions, err := e.s.BeginRegistration(bob)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(userHandle(t, bobOptions), h) {
			t.Error("two people have the same user handle")
		}

		device := passkeytest.New(t, false)
		if _, err := e.s.FinishRegistrationWithCode(e.ctx, "Key", device.Register(t, options, origin, 0), e.mailed(t)); err != nil {
			t.Fatal(err)
		}
		// The old handle: the account id.
		old := passkeytest.New(t, false)
		legacy, err := e.s.BeginRegistration(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.FinishRegistrationWithCode(e.ctx, "Old key", old.Register(t, withUserHandle(t, legacy, []byte(e.u.ID)), origin, 0), e.mailed(t)); err != nil {
			t.Fatal(err)
		}
		for name, d := range map[string]*passkeytest.Authenticator{"new handle": device, "old handle": old} {
			login, err := e.s.BeginLogin(e.ctx)
			if err != nil {
				t.Fatal(err)
			}
			if uid, _, err := e.s.FinishLogin(e.ctx, d.Login(t, login, origin, 1)); err != nil || uid != e.u.ID {
				t.Errorf("%s: signed in as %q, %v; want %s", name, uid, err, e.u.ID)
			}
			confirm, err := e.s.BeginConfirmation(e.ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := e.s.FinishConfirmation(e.ctx, d.Login(t, confirm, origin, 2)); err != nil {
				t.Errorf("%s: confirming with the passkey: %v", name, err)
			}
		}
	})
}
