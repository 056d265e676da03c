package identity_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"loginsign/internal/auth"
	"loginsign/internal/identity"
	"loginsign/internal/ids"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// Removing a passkey ends the sessions it signed in (EndPasskeySessions), and only those: the
// person's session of this request stays, and so do their sessions signed in by another
// passkey, by a magic link, or another person's with the same passkey reference. The
// applications are told first (SessionsEnding), from the start of the earliest session that
// ends.
func TestEndPasskeySessionsEndsOnlyThatPasskeysSessions(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clk := newClock()
		s := identity.New(db, kvtest.Embedded(t), clk.Now, identity.SessionConfig{})
		var told []time.Time
		var toldLines []string
		s.SessionsEnding = func(_ context.Context, userID string, since time.Time, lines []string) error {
			told = append(told, since)
			toldLines = append(toldLines, lines...)
			return nil
		}
		u, err := s.CreateUser(ctx, "ann@example.com", "")
		if err != nil {
			t.Fatal(err)
		}
		start := func(userID, passkeyRef string) string {
			t.Helper()
			raw, err := s.Sessions.Start(ctx, identity.NewSession{UserID: userID, UserAgent: "agent", IP: "127.0.0.1",
				AMR: []string{"hwk", "mfa"}, Passkey: passkeyRef})
			if err != nil {
				t.Fatal(err)
			}
			clk.Add(time.Minute)
			return raw
		}
		stolenSince := clk.Now()
		stolen := start(u.ID, "ref-a")
		current := start(u.ID, "ref-a")
		other := start(u.ID, "ref-b")
		link, err := s.Sessions.Create(ctx, u.ID, "agent", "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		elsewhere := start("usr_other", "ref-a")

		sess, err := s.Sessions.Lookup(ctx, current)
		if err != nil {
			t.Fatal(err)
		}
		n, err := s.EndPasskeySessions(auth.WithSession(ctx, sess), u.ID, "ref-a")
		if err != nil || n != 1 {
			t.Fatalf("EndPasskeySessions = %d, %v; want the one other session of ref-a", n, err)
		}
		for name, raw := range map[string]string{"the current session": current, "another passkey's": other,
			"a magic link's": link, "another person's": elsewhere} {
			if _, err := s.Sessions.Lookup(ctx, raw); err != nil {
				t.Errorf("%s ended: %v", name, err)
			}
		}
		if _, err := s.Sessions.Lookup(ctx, stolen); err == nil {
			t.Fatal("the removed passkey's other session still works")
		}
		if !slices.Equal(told, []time.Time{stolenSince}) {
			t.Errorf("SessionsEnding was told %v, want the start of the ended session %v", told, stolenSince)
		}
		if want := []string{ids.Hash(stolen)}; !slices.Equal(toldLines, want) {
			t.Errorf("SessionsEnding was told the lines %v, want the ended session's own %v", toldLines, want)
		}
		list, err := s.Sessions.List(ctx, u.ID)
		if err != nil || len(list) != 3 {
			t.Fatalf("List = %d sessions, %v; want 3", len(list), err)
		}
		if n, err := s.EndPasskeySessions(ctx, u.ID, ""); err != nil || n != 0 {
			t.Fatalf("EndPasskeySessions of no passkey = %d, %v; want 0", n, err)
		}
	})
}
