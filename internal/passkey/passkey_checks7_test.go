package passkey_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"loginsign/internal/apperr"
	"loginsign/internal/passkey/passkeytest"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// The transports of a registration response are the browser's to name, and LoginSign stores
// them as they come and hands them back in every later registration's excludeCredentials. Only
// the transports WebAuthn defines (§5.8.4) should be kept: a response naming a thousand made-up
// ones, or one holding a NUL (the JSON escape inside the credential, which the GraphQL edge's
// NUL check cannot see), is stored as is on SQLite, while PostgreSQL refuses the NUL (Invalid):
// the two backends answer one response differently.
func TestARegistrationKeepsOnlyTransportsWebAuthnDefines(t *testing.T) {
	t.Parallel()
	known := []string{"usb", "nfc", "ble", "smart-card", "hybrid", "internal"}
	junk := make([]string, 1000)
	for i := range junk {
		junk[i] = fmt.Sprintf("made-up-transport-%04d", i)
	}
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newTwoStepEnv(t, db)
		for name, transports := range map[string][]string{
			"a NUL":                   {"usb\x00", "internal"},
			"1000 made-up transports": append([]string{"usb"}, junk...),
		} {
			options, err := e.s.BeginRegistration(e.ctx)
			if err != nil {
				t.Fatal(err)
			}
			var cred map[string]any
			if err := json.Unmarshal([]byte(passkeytest.New(t, false).Register(t, options, origin, 0)), &cred); err != nil {
				t.Fatal(err)
			}
			cred["response"].(map[string]any)["transports"] = transports
			b, _ := json.Marshal(cred)
			k, err := e.s.FinishRegistrationWithCode(e.ctx, "Key", string(b), "")
			if err != nil {
				if !apperr.Is(err, apperr.Invalid) {
					t.Errorf("%s: %v, want Invalid or the passkey with the known transports only", name, err)
				}
				continue
			}
			var unknown []string
			for _, tr := range k.Transports {
				if !slices.Contains(known, tr) {
					unknown = append(unknown, tr)
				}
			}
			if len(unknown) > 0 {
				t.Errorf("%s: stored %d transports WebAuthn does not define (first %q); want only %v kept", name, len(unknown), unknown[0], known)
			}
		}
	})
}
