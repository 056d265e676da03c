package passkey_test

import (
	"context"
	"strings"
	"testing"

	entpasskey "loginsign/ent/passkey"
	"loginsign/internal/apperr"
	"loginsign/internal/passkey/passkeytest"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestAPasskeyAnswersOnlyTheBaseURLsOriginAndRelyingParty: the relying party is the base
// URL's host and its only origin the base URL's origin. A sign-in, a confirmation or a
// registration answered from a subdomain, another port, plain http or the parent domain, or
// for the parent domain as relying party id (which a page of any subdomain may ask for), is
// refused and changes nothing; the same passkey then signs in from the base URL.
func TestAPasskeyAnswersOnlyTheBaseURLsOriginAndRelyingParty(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newTwoStepEnv(t, db)
		device := passkeytest.New(t, false)
		k, err := e.add(t, device, e.mailed(t))
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		elsewhere := []string{"https://evil.login.example.com", "https://login.example.com:8443",
			"http://login.example.com", "https://example.com", "https://login.example.com.evil.example"}
		counter := uint32(1)
		for _, o := range elsewhere {
			options, err := e.s.BeginLogin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			counter++
			if uid, _, err := e.s.FinishLogin(ctx, device.Login(t, options, o, counter)); !apperr.Is(err, apperr.Unauthorized) {
				t.Errorf("a sign-in answered at %s: %q %v, want Unauthorized", o, uid, err)
			}
			options, err = e.s.BeginConfirmation(e.ctx)
			if err != nil {
				t.Fatal(err)
			}
			counter++
			if code, _, err := e.s.FinishConfirmation(e.ctx, device.Login(t, options, o, counter)); !apperr.Is(err, apperr.Unauthorized) {
				t.Errorf("a confirmation answered at %s: %q %v, want Unauthorized", o, code, err)
			}
			options, err = e.s.BeginRegistration(e.ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.s.FinishRegistrationWithCode(e.ctx, "Elsewhere", passkeytest.New(t, false).Register(t, options, o, 0), e.mailed(t)); !apperr.Is(err, apperr.Invalid) {
				t.Errorf("a registration answered at %s: %v, want Invalid", o, err)
			}
		}
		// The parent domain as relying party id, from the right origin.
		options, err := e.s.BeginLogin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		counter++
		parent := strings.Replace(options, `"rpId":"login.example.com"`, `"rpId":"example.com"`, 1)
		if parent == options {
			t.Fatalf("no rpId login.example.com in the options %s", options)
		}
		if uid, _, err := e.s.FinishLogin(ctx, device.Login(t, parent, origin, counter)); !apperr.Is(err, apperr.Unauthorized) {
			t.Errorf("a sign-in for relying party example.com: %q %v, want Unauthorized", uid, err)
		}
		if n := db.Passkey.Query().Where(entpasskey.UserID(e.u.ID)).CountX(ctx); n != 1 {
			t.Errorf("%d passkeys after the refused registrations, want 1", n)
		}
		if got := db.Passkey.Query().Where(entpasskey.ID(k.ID)).OnlyX(ctx); got.SignCount != 0 || got.LastUsedAt != nil {
			t.Errorf("after refused sign-ins the passkey's counter is %d, last used %v; want 0, never", got.SignCount, got.LastUsedAt)
		}
		options, err = e.s.BeginLogin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		counter++
		if uid, _, err := e.s.FinishLogin(ctx, device.Login(t, options, origin, counter)); err != nil || uid != e.u.ID {
			t.Errorf("a sign-in at the base URL after them: %q %v, want %s", uid, err, e.u.ID)
		}
	})
}
