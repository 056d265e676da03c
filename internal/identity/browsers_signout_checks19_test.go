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

// TestEndingASessionSignsOutItsBrowser19: a session the person ends from elsewhere (one, or
// all the others) is a sign-out in the browser it signed in from: BrowsersSignedOut is told
// that browser (the hash of its cookie, as oauth's records of the browser name it) before the
// session ends, and never the browser of the session the person kept. Before, only a sign-out
// in the browser itself was noted, so a computer left signed in kept its claim to the
// person's sign-in links (oauth.Service.SignedOutElsewhere).
func TestEndingASessionSignsOutItsBrowser19(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clk := newClock()
		s := identity.New(db, kvtest.Embedded(t), clk.Now, identity.SessionConfig{})
		var told [][]string
		s.BrowsersSignedOut = func(_ context.Context, userID string, browsers []string) error {
			told = append(told, slices.Sorted(slices.Values(browsers)))
			return nil
		}
		u, err := s.CreateUser(ctx, "kim@example.com", "")
		if err != nil {
			t.Fatal(err)
		}
		browser := func(c byte) string { return "lsbr_" + strings.Repeat(string(c), 40) }
		mineB, sharedB, laptopB, tabletB := browser('m'), browser('s'), browser('l'), browser('t')
		start := func(b string) auth.Session {
			t.Helper()
			raw, err := s.Sessions.Start(ctx, identity.NewSession{UserID: u.ID, UserAgent: "agent", IP: "192.0.2.1", Browser: b})
			if err != nil {
				t.Fatal(err)
			}
			sess, err := s.Sessions.Lookup(ctx, raw)
			if err != nil {
				t.Fatal(err)
			}
			clk.Add(time.Minute)
			return sess
		}
		mine, shared := start(mineB), start(sharedB)
		start(laptopB)
		start(tabletB)
		start(mineB) // a second session in the person's own browser
		ctx = auth.WithSession(ctx, mine)

		if err := s.SignOutSession(ctx, shared.ID); err != nil {
			t.Fatal(err)
		}
		if want := [][]string{{ids.Hash(sharedB)}}; !slices.EqualFunc(told, want, slices.Equal) {
			t.Fatalf("ending the shared computer's session told %q, want %q", told, want)
		}
		told = nil
		if _, err := s.SignOutOtherSessions(ctx); err != nil {
			t.Fatal(err)
		}
		want := [][]string{slices.Sorted(slices.Values([]string{ids.Hash(laptopB), ids.Hash(tabletB)}))}
		if !slices.EqualFunc(told, want, slices.Equal) {
			t.Fatalf("signing out everywhere else told %q, want %q (never the person's own browser)", told, want)
		}
	})
}
