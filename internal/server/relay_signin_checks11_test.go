package server

import (
	"context"
	"strings"
	"testing"

	"loginsign/ent/user"
	"loginsign/internal/apperr"
)

// TestASignInToARelayAddressIsRefused: a sign-in link asked for a relay alias went to the alias,
// which the relay forwards to the person behind it; their click made a new account whose
// primary address is the alias, and whose own mail the relay then drops as a loop. The sign-in
// (the login page's form, and the older magic-link request) refuses an address on the relay
// domain, in any case, before anything is counted, stored or mailed (400 relay_address),
// whether or not anyone has it; another address is still mailed.
func TestASignInToARelayAddressIsRefused(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t, withEnv("LOGINSIGN_RELAY_DOMAIN", "relay.example.test"))
	ctx := context.Background()
	for _, addr := range []string{"x9s8d7@relay.example.test", "X9S8D7@Relay.Example.Test", "r-abcdefgh@relay.example.test"} {
		if _, err := e.srv.oauth.StartSignIn(ctx, addr, "", "192.0.2.7", "browser-cookie", "Firefox"); apperr.As(err) == nil || apperr.As(err).Reason != "relay_address" {
			t.Errorf("a sign-in to %s: %v, want 400 relay_address", addr, err)
		}
		if err := e.srv.oauth.SendMagicLink(ctx, addr, "192.0.2.7"); apperr.As(err) == nil || apperr.As(err).Reason != "relay_address" {
			t.Errorf("a magic link to %s: %v, want 400 relay_address", addr, err)
		}
		if n := e.mailsTo(strings.ToLower(addr)); n != 0 {
			t.Errorf("%d mails went to %s", n, addr)
		}
	}
	if n := e.srv.db.User.Query().Where(user.EmailHasSuffix("@relay.example.test")).CountX(ctx); n != 0 {
		t.Errorf("%d accounts on the relay domain", n)
	}
	if _, err := e.srv.oauth.StartSignIn(ctx, "someone@example.com", "", "192.0.2.7", "browser-cookie", "Firefox"); err != nil {
		t.Fatalf("a sign-in to an ordinary address: %v", err)
	}
}
