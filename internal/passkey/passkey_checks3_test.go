package passkey_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	entpasskey "loginsign/ent/passkey"
	"loginsign/internal/apperr"
	"loginsign/internal/ids"
	"loginsign/internal/mfa"
	"loginsign/internal/passkey"
	"loginsign/internal/passkey/passkeytest"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// seedPasskeys stores n placeholder passkeys of userID.
func seedPasskeys(t *testing.T, e *twoStepEnv, userID string, n int) {
	t.Helper()
	for j := range n {
		e.db.Passkey.Create().SetUserID(userID).SetName(fmt.Sprintf("Key %d", j)).
			SetCredentialID([]byte(ids.New("seed-"))).SetPublicKey([]byte("key")).
			SetCreatedAt(e.now).SetUpdatedAt(e.now).ExecX(context.Background())
	}
}

// A person who has MaxPerUser passkeys cannot even start adding another (Invalid); one fewer,
// they can.
func TestStartingToAddAPasskeyPastTheLimitIsRefused(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newTwoStepEnv(t, db)
		seedPasskeys(t, e, e.u.ID, passkey.MaxPerUser-1)
		if _, err := e.s.BeginRegistration(e.ctx); err != nil {
			t.Fatalf("starting to add passkey %d of %d: %v, want options", passkey.MaxPerUser, passkey.MaxPerUser, err)
		}
		seedPasskeys(t, e, e.u.ID, 1)
		if _, err := e.s.BeginRegistration(e.ctx); !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("starting to add a passkey with %d already: %v, want Invalid", passkey.MaxPerUser, err)
		}
	})
}

// A registration response larger than MaxResponse is refused (Invalid) and stores nothing,
// however valid the credential inside it.
func TestAnOversizedRegistrationResponseIsRefused(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newTwoStepEnv(t, db)
		options, err := e.s.BeginRegistration(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		response := passkeytest.New(t, false).Register(t, options, origin, 0)
		padded := strings.TrimSuffix(response, "}") + `,"padding":"` + strings.Repeat("a", passkey.MaxResponse) + `"}`
		if k, err := e.s.FinishRegistrationWithCode(e.ctx, "Key", padded, e.mailed(t)); !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("a valid registration padded past MaxResponse: %v %v, want Invalid", k, err)
		}
		if n := db.Passkey.Query().CountX(context.Background()); n != 0 {
			t.Fatalf("%d passkeys stored after an oversized response, want 0", n)
		}
	})
}

// A registration challenge is used once: a second credential answering the same options is
// refused (Gone) and only the first is stored; finishing without starting is Gone too.
func TestARegistrationChallengeIsUsedOnce(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newTwoStepEnv(t, db)
		if k, err := e.s.FinishRegistrationWithCode(e.ctx, "Key", passkeytest.New(t, false).Register(t,
			`{"publicKey":{"challenge":"AAAA","rp":{"id":"login.example.com"},"user":{"id":"AAAA"}}}`, origin, 0), e.mailed(t)); !apperr.Is(err, apperr.Gone) {
			t.Errorf("finishing a registration never started: %v %v, want Gone", k, err)
		}
		options, err := e.s.BeginRegistration(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		first := passkeytest.New(t, false).Register(t, options, origin, 0)
		second := passkeytest.New(t, false).Register(t, options, origin, 0)
		if _, err := e.s.FinishRegistrationWithCode(e.ctx, "First", first, e.mailed(t)); err != nil {
			t.Fatal(err)
		}
		if k, err := e.s.FinishRegistration(e.ctx, "Second", second); !apperr.Is(err, apperr.Gone) {
			t.Errorf("a second credential over one registration challenge: %v %v, want Gone", k, err)
		}
		if n := db.Passkey.Query().CountX(context.Background()); n != 1 {
			t.Errorf("%d passkeys stored from one challenge, want 1", n)
		}
	})
}

// Names: empty is "Passkey"; 64 characters are fine; one more is Invalid, on adding and on
// renaming.
func TestPasskeyNamesAreLimitedInCharacters(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newTwoStepEnv(t, db)
		options, err := e.s.BeginRegistration(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		k, err := e.s.FinishRegistrationWithCode(e.ctx, "", passkeytest.New(t, false).Register(t, options, origin, 0), e.mailed(t))
		if err != nil {
			t.Fatal(err)
		}
		if k.Name != "Passkey" {
			t.Errorf("a passkey added without a name is named %q, want %q", k.Name, "Passkey")
		}
		long := strings.Repeat("e", 64)
		if got, err := e.s.Rename(e.ctx, k.ID, long); err != nil || got.Name != long {
			t.Errorf("renaming to 64 characters: %v, %v; want it renamed", got, err)
		}
		if _, err := e.s.Rename(e.ctx, k.ID, long+"e"); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("renaming to 65 characters: %v, want Invalid", err)
		}
		if got, err := e.s.Rename(e.ctx, k.ID, ""); err != nil || got.Name != "Passkey" {
			t.Errorf("renaming to an empty name: %v, %v; want %q", got, err, "Passkey")
		}
		options, err = e.s.BeginRegistration(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.FinishRegistrationWithCode(e.ctx, long+"e", passkeytest.New(t, false).Register(t, options, origin, 0), e.mailed(t)); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("adding a passkey named with 65 characters: %v, want Invalid", err)
		}
	})
}

// A sign-in stores the counter the authenticator reported; presenting the same counter again
// (a cloned authenticator) is refused. A device-bound passkey proves hwk, not swk.
func TestASignInStoresItsCounterAndAReplayedCounterIsRefused(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newTwoStepEnv(t, db)
		device := passkeytest.New(t, false)
		k, err := e.add(t, device, e.mailed(t))
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		options, err := e.s.BeginLogin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		uid, amr, err := e.s.FinishLogin(ctx, device.Login(t, options, origin, 5))
		if err != nil || uid != e.u.ID {
			t.Fatalf("sign-in with counter 5: %q %v, want %s", uid, err, e.u.ID)
		}
		if !slices.Contains(amr, mfa.AMRHwk) || slices.Contains(amr, mfa.AMRSwk) || !slices.Contains(amr, mfa.AMRMFA) {
			t.Errorf("a device-bound passkey proves %v, want hwk and mfa", amr)
		}
		got := db.Passkey.Query().Where(entpasskey.ID(k.ID)).OnlyX(ctx)
		if got.SignCount != 5 || got.LastUsedAt == nil {
			t.Errorf("after a sign-in with counter 5: stored counter %d, last used %v; want 5 and set", got.SignCount, got.LastUsedAt)
		}
		options, err = e.s.BeginLogin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if uid, _, err := e.s.FinishLogin(ctx, device.Login(t, options, origin, 5)); !apperr.Is(err, apperr.Unauthorized) {
			t.Errorf("a second sign-in presenting counter 5 again: %q %v, want Unauthorized", uid, err)
		}
	})
}

// Adding and removing a passkey each tell Notify; a stranger's removal of someone's passkey
// ends no sessions and tells nobody.
func TestPasskeyChangesAreNotifiedAndAStrangerEndsNoSessions(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newTwoStepEnv(t, db)
		var mu sync.Mutex
		var events, ended []string
		e.s.Notify = func(_ context.Context, uid string, ev mfa.Event, _ string) {
			mu.Lock()
			defer mu.Unlock()
			events = append(events, uid+":"+string(ev))
		}
		e.s.EndSessions = func(_ context.Context, uid, ref string) (int, error) {
			mu.Lock()
			defer mu.Unlock()
			ended = append(ended, uid+":"+ref)
			return 0, nil
		}
		k, err := e.add(t, passkeytest.New(t, false), e.mailed(t))
		if err != nil {
			t.Fatal(err)
		}
		_, bob := otherPerson(t, e)
		if err := e.s.Delete(bob, k.ID, ""); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("another account removing the person's passkey: %v, want NotFound", err)
		}
		if len(ended) != 0 {
			t.Errorf("another account's refused removal ended sessions %v, want none", ended)
		}
		if err := e.s.Delete(e.ctx, k.ID, e.mailed(t)); err != nil {
			t.Fatal(err)
		}
		want := []string{e.u.ID + ":" + string(passkey.Added), e.u.ID + ":" + string(passkey.Removed)}
		if !slices.Equal(events, want) {
			t.Errorf("notices = %v, want %v", events, want)
		}
		ref := passkey.Ref(k.CredentialID)
		if len(ended) == 0 || ended[len(ended)-1] != e.u.ID+":"+ref {
			t.Errorf("sessions ended on removal: %v, want the person's with the passkey's ref", ended)
		}
	})
}

// SignInRef names the passkey of an assertion, and nothing for an oversized or malformed one.
func TestSignInRefNamesThePasskeyOfAnAssertion(t *testing.T) {
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
		if got, want := passkey.SignInRef(assertion), passkey.Ref(k.CredentialID); got != want {
			t.Errorf("SignInRef(assertion) = %q, want %q", got, want)
		}
		padded := strings.TrimSuffix(assertion, "}") + `,"padding":"` + strings.Repeat("a", passkey.MaxResponse) + `"}`
		if got := passkey.SignInRef(padded); got != "" {
			t.Errorf("SignInRef(oversized assertion) = %q, want empty", got)
		}
		if got := passkey.SignInRef("{"); got != "" {
			t.Errorf("SignInRef(malformed) = %q, want empty", got)
		}
	})
}

// BUG (fails on the real code): the limit is 64 characters (checkName counts runes, and its
// message says "characters"), but the column is ent MaxLen(64), which counts bytes. A name of
// 64 non-ASCII characters passes checkName and then fails the ent validator: Rename answers an
// internal error instead of renaming (or Invalid), and FinishRegistration does so after the
// challenge (and a second-step code) was spent.
func TestAPasskeyNameOf64NonASCIICharactersIsAccepted(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newTwoStepEnv(t, db)
		k, err := e.add(t, passkeytest.New(t, false), e.mailed(t))
		if err != nil {
			t.Fatal(err)
		}
		long := strings.Repeat("é", 64) // 64 characters, 128 bytes
		if got, err := e.s.Rename(e.ctx, k.ID, long); err != nil || got.Name != long {
			t.Errorf("renaming to 64 characters (128 bytes): %v, %v; want it renamed (64 characters are allowed)", got, err)
		}
	})
}

// Starting to add a passkey asks the browser to exclude the person's passkeys (an
// authenticator that already holds one does not make a second), and asks for a discoverable
// credential with user verification required.
func TestRegistrationOptionsExcludeThePersonsPasskeys(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newTwoStepEnv(t, db)
		k, err := e.add(t, passkeytest.New(t, false), e.mailed(t))
		if err != nil {
			t.Fatal(err)
		}
		options, err := e.s.BeginRegistration(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		var opts struct {
			PublicKey struct {
				Exclude []struct {
					ID string `json:"id"`
				} `json:"excludeCredentials"`
				Selection struct {
					ResidentKey      string `json:"residentKey"`
					UserVerification string `json:"userVerification"`
				} `json:"authenticatorSelection"`
			} `json:"publicKey"`
		}
		if err := json.Unmarshal([]byte(options), &opts); err != nil {
			t.Fatal(err)
		}
		want := base64.RawURLEncoding.EncodeToString(k.CredentialID)
		if len(opts.PublicKey.Exclude) != 1 || opts.PublicKey.Exclude[0].ID != want {
			t.Errorf("excludeCredentials = %+v, want the person's one passkey %s", opts.PublicKey.Exclude, want)
		}
		if s := opts.PublicKey.Selection; s.ResidentKey != "required" || s.UserVerification != "required" {
			t.Errorf("authenticatorSelection = %+v, want residentKey and userVerification required", s)
		}
	})
}

// A person at MaxPerUser passkeys whose registration finishes is refused before their second
// step is checked: the recovery code they sent is not spent, and works once they have room.
func TestARegistrationPastTheLimitSpendsNoSecondStepCode(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newTwoStepEnv(t, db)
		_, codes := e.turnOnTwoStep(t)
		seedPasskeys(t, e, e.u.ID, passkey.MaxPerUser-1)
		options, err := e.s.BeginRegistration(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		seedPasskeys(t, e, e.u.ID, 1) // the limit reached meanwhile
		if k, err := e.s.FinishRegistrationWithCode(e.ctx, "Key", passkeytest.New(t, false).Register(t, options, origin, 0), codes[0]); !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("finishing a registration past the limit: %v %v, want Invalid", k, err)
		}
		ctx := context.Background()
		last := db.Passkey.Query().Where(entpasskey.UserID(e.u.ID)).FirstX(ctx)
		db.Passkey.DeleteOne(last).ExecX(ctx)
		options, err = e.s.BeginRegistration(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.FinishRegistrationWithCode(e.ctx, "Key", passkeytest.New(t, false).Register(t, options, origin, 0), codes[0]); err != nil {
			t.Fatalf("the recovery code sent with the refused registration, used again with room: %v, want it unspent and the passkey added", err)
		}
	})
}
