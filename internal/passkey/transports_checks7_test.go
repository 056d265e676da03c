package passkey

import (
	"slices"
	"testing"

	"github.com/go-webauthn/webauthn/protocol"
)

// A registration keeps the transports WebAuthn defines, once each and in the browser's order,
// and drops every other value: made-up names, other cases, a NUL, and the empty string.
func TestDefinedTransportsKeepsWhatWebAuthnDefinesOnce(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		in   []protocol.AuthenticatorTransport
		want []string
	}{
		{"none", nil, nil},
		{"every defined one", []protocol.AuthenticatorTransport{"internal", "hybrid", "usb", "nfc", "ble", "smart-card"},
			[]string{"internal", "hybrid", "usb", "nfc", "ble", "smart-card"}},
		{"repeats", []protocol.AuthenticatorTransport{"usb", "internal", "usb", "internal"}, []string{"usb", "internal"}},
		{"made-up, other cases, a NUL, empty", []protocol.AuthenticatorTransport{"made-up", "USB", "usb\x00", "", "cable", "nfc"}, []string{"nfc"}},
	} {
		if got := definedTransports(c.in); !slices.Equal(got, c.want) {
			t.Errorf("%s: definedTransports(%q) = %q, want %q", c.name, c.in, got, c.want)
		}
	}
}
