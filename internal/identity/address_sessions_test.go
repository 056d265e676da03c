package identity_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"loginsign/internal/auth"
	"loginsign/internal/identity"
	"loginsign/internal/ids"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// Removing an address ends the sessions whose sign-in proved that mailbox
// (EndAddressSessions), and only those: the session of this request stays, and so do the
// person's sessions signed in through another address, by a passkey, or before sessions kept
// their address, and another person's session through the same address. The applications are
// told first (SessionsEnding). The session keeps a keyed digest of the address, never the
// address, and the digest does not depend on the address's case.
func TestEndAddressSessionsEndsOnlyThatAddressesSessions(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clk := newClock()
		k := kvtest.Embedded(t)
		s := identity.New(db, k, clk.Now, identity.SessionConfig{AddressKey: []byte("test key")})
		var told []time.Time
		var toldLines []string
		s.SessionsEnding = func(_ context.Context, userID string, since time.Time, lines []string) error {
			told = append(told, since)
			toldLines = append(toldLines, lines...)
			return nil
		}
		u, err := s.CreateUser(ctx, "pat@example.com", "")
		if err != nil {
			t.Fatal(err)
		}
		start := func(n identity.NewSession) string {
			t.Helper()
			n.UserAgent, n.IP = "agent", "127.0.0.1"
			raw, err := s.Sessions.Start(ctx, n)
			if err != nil {
				t.Fatal(err)
			}
			clk.Add(time.Minute)
			return raw
		}
		thiefSince := clk.Now()
		thief := start(identity.NewSession{UserID: u.ID, Address: "Mallory@Evil.example"})
		current := start(identity.NewSession{UserID: u.ID, Address: "mallory@evil.example"})
		primary := start(identity.NewSession{UserID: u.ID, Address: "pat@example.com"})
		byPasskey := start(identity.NewSession{UserID: u.ID, AMR: []string{"hwk", "mfa"}, Passkey: "ref-a"})
		before := start(identity.NewSession{UserID: u.ID}) // as sessions started before addresses were kept
		elsewhere := start(identity.NewSession{UserID: "usr_other", Address: "mallory@evil.example"})

		for _, h := range []string{ids.Hash(thief), ids.Hash(current)} {
			fields, err := k.HGetAll(ctx, "sess:"+h).Result()
			if err != nil {
				t.Fatal(err)
			}
			for name, v := range fields {
				if strings.Contains(strings.ToLower(v), "mallory") {
					t.Fatalf("the session keeps the address in its field %q: %q", name, v)
				}
			}
		}

		sess, err := s.Sessions.Lookup(ctx, current)
		if err != nil {
			t.Fatal(err)
		}
		n, err := s.EndAddressSessions(auth.WithSession(ctx, sess), u.ID, "mallory@evil.example")
		if err != nil || n != 1 {
			t.Fatalf("EndAddressSessions = %d, %v; want the one other session signed in through the address", n, err)
		}
		if _, err := s.Sessions.Lookup(ctx, thief); err == nil {
			t.Fatal("a session signed in through the removed address still works")
		}
		for name, raw := range map[string]string{"the current session": current, "the primary address's": primary,
			"a passkey's": byPasskey, "a session from before addresses were kept": before, "another person's": elsewhere} {
			if _, err := s.Sessions.Lookup(ctx, raw); err != nil {
				t.Errorf("%s ended: %v", name, err)
			}
		}
		if !slices.Equal(told, []time.Time{thiefSince}) {
			t.Errorf("SessionsEnding was told %v, want the start of the ended session %v", told, thiefSince)
		}
		if want := []string{ids.Hash(thief)}; !slices.Equal(toldLines, want) {
			t.Errorf("SessionsEnding was told the lines %v, want the ended session's own %v", toldLines, want)
		}
		if n, err := s.EndAddressSessions(ctx, u.ID, ""); err != nil || n != 0 {
			t.Fatalf("EndAddressSessions of no address = %d, %v; want 0", n, err)
		}

		// Another key, another digest: the digest cannot be tested against a list of
		// addresses without the key.
		other := identity.New(db, k, clk.Now, identity.SessionConfig{AddressKey: []byte("another key")})
		if n, err := other.EndAddressSessions(ctx, u.ID, "pat@example.com"); err != nil || n != 0 {
			t.Fatalf("EndAddressSessions under another key = %d, %v; want 0", n, err)
		}
	})
}
