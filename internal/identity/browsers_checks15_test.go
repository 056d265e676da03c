package identity_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"loginsign/internal/auth"
	"loginsign/internal/identity"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// Signing out everywhere else forgets every browser that signed in to the account but the
// one of the session kept (the person's own stays known: its undo links still work there);
// ending one session, or the sessions of a removed passkey, forgets the browser they were in
// and no other.
func TestEndingSessionsForgetsTheirBrowsers(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clk := newClock()
		s := identity.New(db, kvtest.Embedded(t), clk.Now, identity.SessionConfig{})
		u, err := s.CreateUser(ctx, "kim@example.com", "")
		if err != nil {
			t.Fatal(err)
		}
		browser := func(c byte) string { return "lsbr_" + strings.Repeat(string(c), 40) }
		mineB, thiefB, laptopB, keyB, formerB := browser('m'), browser('t'), browser('l'), browser('k'), browser('f')
		start := func(b, passkey string) (string, auth.Session) {
			t.Helper()
			if err := s.Sessions.RememberBrowser(ctx, b, u.ID); err != nil {
				t.Fatal(err)
			}
			raw, err := s.Sessions.Start(ctx, identity.NewSession{UserID: u.ID, UserAgent: "agent", IP: "192.0.2.1", Browser: b, Passkey: passkey})
			if err != nil {
				t.Fatal(err)
			}
			sess, err := s.Sessions.Lookup(ctx, raw)
			if err != nil {
				t.Fatal(err)
			}
			clk.Add(time.Minute)
			return raw, sess
		}
		known := func(b string) bool {
			t.Helper()
			ref, err := s.Sessions.KnownBrowser(ctx, b, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			return ref != ""
		}
		if err := s.Sessions.RememberBrowser(ctx, formerB, u.ID); err != nil { // no session left
			t.Fatal(err)
		}
		_, mine := start(mineB, "")
		_, thief := start(thiefB, "")
		start(laptopB, "")
		start(keyB, "ref-key")
		ctx = auth.WithSession(ctx, mine)

		if err := s.SignOutSession(ctx, thief.ID); err != nil {
			t.Fatal(err)
		}
		if known(thiefB) {
			t.Error("the browser of a session the person ended is still known")
		}
		if !known(laptopB) || !known(mineB) || !known(formerB) {
			t.Error("ending one session forgot other browsers")
		}
		if _, err := s.EndPasskeySessions(ctx, u.ID, "ref-key"); err != nil {
			t.Fatal(err)
		}
		if known(keyB) {
			t.Error("the browser of a removed passkey's session is still known")
		}
		if !known(laptopB) || !known(mineB) {
			t.Error("a passkey's removal forgot the browsers of other sessions")
		}
		if _, err := s.SignOutOtherSessions(ctx); err != nil {
			t.Fatal(err)
		}
		if known(laptopB) || known(formerB) {
			t.Error("after signing out everywhere else, browsers of the ended sessions, or with no session, are still known")
		}
		if !known(mineB) {
			t.Error("signing out everywhere else forgot the person's own browser, the one of the session kept")
		}
		if err := s.EndAllSessions(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		if known(mineB) {
			t.Error("after every session ended, the browser of the last one is still known")
		}
	})
}
