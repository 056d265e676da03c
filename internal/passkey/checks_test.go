package passkey_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"loginsign/ent"
	entpasskey "loginsign/ent/passkey"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/globalid"
	"loginsign/internal/ids"
	"loginsign/internal/passkey"
	"loginsign/internal/passkey/passkeytest"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// otherPerson is a second account with a recent sign-in, next to e's person.
func otherPerson(t *testing.T, e *twoStepEnv) (*ent.User, context.Context) {
	t.Helper()
	u := e.db.User.Create().SetEmail("bob@example.com").SetGlobalID(globalid.Format(7920)).SaveX(context.Background())
	return u, auth.WithSession(context.Background(), auth.Session{UserID: u.ID, ID: ids.Hash("ses_bob"), SignedInAt: e.now})
}

// A person's passkeys are theirs alone: another signed-in account can neither list, rename
// nor remove them (NotFound), and the passkey stays as it was.
func TestAnotherAccountCannotListRenameOrRemoveAPersonsPasskey(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newTwoStepEnv(t, db)
		k, err := e.add(t, passkeytest.New(t, false), e.mailed(t))
		if err != nil {
			t.Fatal(err)
		}
		_, bob := otherPerson(t, e)
		if got, err := e.s.List(bob, e.u.ID); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("another account listing the person's passkeys: %d passkeys, %v; want NotFound", len(got), err)
		}
		if _, err := e.s.Rename(bob, k.ID, "Stolen"); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("another account renaming the person's passkey: %v, want NotFound", err)
		}
		if err := e.s.Delete(bob, k.ID, ""); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("another account removing the person's passkey: %v, want NotFound", err)
		}
		got, err := db.Passkey.Query().Where(entpasskey.ID(k.ID)).Only(context.Background())
		if err != nil {
			t.Fatalf("the person's passkey after another account's tries: %v", err)
		}
		if got.Name != "Key" {
			t.Errorf("the person's passkey is named %q, want %q", got.Name, "Key")
		}
		if list, err := e.s.List(e.ctx, e.u.ID); err != nil || len(list) != 1 {
			t.Errorf("the person's own list: %d passkeys, %v", len(list), err)
		}
	})
}

// Adding or removing a passkey changes how the person signs in, so a session older than
// auth.RecentSignIn can neither start adding one nor remove one (reauthentication_required),
// and the passkey stays.
func TestAnOldSessionCannotStartAddingOrRemoveAPasskey(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newTwoStepEnv(t, db)
		k, err := e.add(t, passkeytest.New(t, false), e.mailed(t))
		if err != nil {
			t.Fatal(err)
		}
		old := auth.WithSession(context.Background(), auth.Session{UserID: e.u.ID, ID: ids.Hash("ses_old"),
			SignedInAt: e.now.Add(-auth.RecentSignIn - time.Minute)})
		if _, err := e.s.BeginRegistration(old); apperr.As(err) == nil || apperr.As(err).Name() != "reauthentication_required" {
			t.Errorf("starting to add a passkey from a session signed in 16 minutes ago: %v, want reauthentication_required", err)
		}
		if err := e.s.Delete(old, k.ID, ""); apperr.As(err) == nil || apperr.As(err).Name() != "reauthentication_required" {
			t.Fatalf("removing a passkey from a session signed in 16 minutes ago: %v, want reauthentication_required", err)
		}
		if n := db.Passkey.Query().Where(entpasskey.ID(k.ID)).CountX(context.Background()); n != 1 {
			t.Fatal("the passkey was removed")
		}
		if err := e.s.Delete(e.ctx, k.ID, e.mailed(t)); err != nil {
			t.Fatalf("removing it from a recent session: %v", err)
		}
	})
}

// A passkey signs in as both steps, so one is added only when its registration verified the
// user (flag UV), also when the stored challenge asks for less (as a change to
// BeginRegistration or to the library's defaults might make it): FinishRegistration checks the
// new credential's own flag. Nothing is stored.
func TestAPasskeyThatDidNotVerifyThePersonIsNotAdded(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newTwoStepEnv(t, db)
		options, err := e.s.BeginRegistration(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		key := "pkreg:" + e.u.ID
		b, err := e.kv.Get(context.Background(), key).Bytes()
		if err != nil {
			t.Fatal(err)
		}
		relaxed := strings.Replace(string(b), `"userVerification":"required"`, `"userVerification":"preferred"`, 1)
		if relaxed == string(b) {
			t.Fatalf("the stored registration challenge asks for no user verification: %s", b)
		}
		if err := e.kv.Set(context.Background(), key, relaxed, time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		device := passkeytest.New(t, false)
		device.SetUserVerified(false)
		if k, err := e.s.FinishRegistrationWithCode(e.ctx, "Key", device.Register(t, options, origin, 0), e.mailed(t)); !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("a registration without user verification: %v %v, want Invalid", k, err)
		}
		if n := db.Passkey.Query().CountX(context.Background()); n != 0 {
			t.Fatalf("%d passkeys stored", n)
		}
	})
}

// A sign-in response larger than passkey.MaxResponse is refused before it is read: however
// valid the assertion inside it, it answers Invalid and signs nobody in.
func TestAnOversizedSignInResponseIsRefusedUnread(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newTwoStepEnv(t, db)
		device := passkeytest.New(t, false)
		if _, err := e.add(t, device, e.mailed(t)); err != nil {
			t.Fatal(err)
		}
		options, err := e.s.BeginLogin(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		assertion := device.Login(t, options, origin, 1)
		padded := strings.TrimSuffix(assertion, "}") + `,"padding":"` + strings.Repeat("a", passkey.MaxResponse) + `"}`
		if uid, _, err := e.s.FinishLogin(context.Background(), padded); !apperr.Is(err, apperr.Invalid) || uid != "" {
			t.Fatalf("a valid assertion padded past MaxResponse: %q %v, want Invalid and nobody signed in", uid, err)
		}
	})
}
