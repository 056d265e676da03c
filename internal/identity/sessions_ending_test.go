package identity_test

import (
	"context"
	"errors"
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

// Ending sessions from the dashboard, or with a passkey or an address removed, tells their
// applications first (SessionsEnding: back-channel logouts, and the revocation of the tokens
// the apps were given from the sessions' lines). When that fails, the person is told, and the
// sessions stay, listed with their lines: ended anyway, a thief's app tokens outlived them and a
// retry found no line left to revoke. The retry ends them and tells the applications.
func TestSessionsWhoseAppsCannotBeToldStayForTheRetry(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		end  func(s *identity.Service, ctx context.Context, userID, thief string) error
	}{
		{"sign out everywhere else", func(s *identity.Service, ctx context.Context, _, _ string) error {
			_, err := s.SignOutOtherSessions(ctx)
			return err
		}},
		{"sign out one session", func(s *identity.Service, ctx context.Context, _, thief string) error {
			return s.SignOutSession(ctx, ids.Hash(thief))
		}},
		{"remove the passkey", func(s *identity.Service, ctx context.Context, userID, _ string) error {
			_, err := s.EndPasskeySessions(ctx, userID, "ref-thief")
			return err
		}},
		{"remove the address", func(s *identity.Service, ctx context.Context, userID, _ string) error {
			_, err := s.EndAddressSessions(ctx, userID, "thief@evil.example")
			return err
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			storetest.Run(t, func(t *testing.T, db *store.DB) {
				ctx := context.Background()
				s := identity.New(db, kvtest.Embedded(t), newClock().Now, identity.SessionConfig{})
				down := errors.New("database unavailable")
				var told []string
				fail := true
				s.SessionsEnding = func(_ context.Context, _ string, _ time.Time, lines []string) error {
					if fail {
						fail = false
						return down
					}
					told = append(told, lines...)
					return nil
				}
				u, err := s.CreateUser(ctx, "ann@example.com", "")
				if err != nil {
					t.Fatal(err)
				}
				thief, err := s.Sessions.Start(ctx, identity.NewSession{UserID: u.ID, UserAgent: "thief", IP: "192.0.2.1",
					Passkey: "ref-thief", Address: "thief@evil.example"})
				if err != nil {
					t.Fatal(err)
				}
				current, err := s.Sessions.Create(ctx, u.ID, "ann", "127.0.0.1")
				if err != nil {
					t.Fatal(err)
				}
				sess, err := s.Sessions.Lookup(ctx, current)
				if err != nil {
					t.Fatal(err)
				}
				ctx = auth.WithSession(ctx, sess)

				if err := c.end(s, ctx, u.ID, thief); !errors.Is(err, down) {
					t.Fatalf("with the applications not told: %v, want the failure reported", err)
				}
				list, err := s.SessionsOf(ctx, u.ID)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.ContainsFunc(list, func(v identity.SessionView) bool { return v.ID == ids.Hash(thief) }) {
					t.Fatal("the session ended with its applications not told: a retry finds no line to revoke")
				}

				if err := c.end(s, ctx, u.ID, thief); err != nil {
					t.Fatalf("retry: %v", err)
				}
				if _, err := s.Sessions.Lookup(ctx, thief); err == nil {
					t.Error("the thief's session still works after the retry")
				}
				if want := []string{ids.Hash(thief)}; !slices.Equal(told, want) {
					t.Errorf("the retry told the lines %v, want the thief's %v", told, want)
				}
				if _, err := s.Sessions.Lookup(ctx, current); err != nil {
					t.Errorf("the session of the request ended: %v", err)
				}
			})
		})
	}
}

// The same when the sessions that end cannot be read to tell their applications (the session
// store failing): signing out ends nothing and says so, where it used to end the sessions
// without telling their applications.
func TestSigningOutWhenTheSessionsCannotBeReadEndsNothing(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		end  func(s *identity.Service, ctx context.Context, thief string) error
	}{
		{"sign out everywhere else", func(s *identity.Service, ctx context.Context, _ string) error {
			_, err := s.SignOutOtherSessions(ctx)
			return err
		}},
		{"sign out one session", func(s *identity.Service, ctx context.Context, thief string) error {
			return s.SignOutSession(ctx, ids.Hash(thief))
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			storetest.Run(t, func(t *testing.T, db *store.DB) {
				ctx := context.Background()
				k := kvtest.Real(t)
				f := kvtest.InjectFaults(t, k)
				s := identity.New(db, k, newClock().Now, identity.SessionConfig{})
				var told []string
				s.SessionsEnding = func(_ context.Context, _ string, _ time.Time, lines []string) error {
					told = append(told, lines...)
					return nil
				}
				u, err := s.CreateUser(ctx, "ann@example.com", "")
				if err != nil {
					t.Fatal(err)
				}
				thief, err := s.Sessions.Create(ctx, u.ID, "thief", "192.0.2.1")
				if err != nil {
					t.Fatal(err)
				}
				current, err := s.Sessions.Create(ctx, u.ID, "ann", "127.0.0.1")
				if err != nil {
					t.Fatal(err)
				}
				sess, err := s.Sessions.Lookup(ctx, current)
				if err != nil {
					t.Fatal(err)
				}
				ctx = auth.WithSession(ctx, sess)

				f.Arm("hgetall", "sess:", 1)
				if err := c.end(s, ctx, thief); !errors.Is(err, kvtest.ErrInjected) {
					t.Fatalf("with the sessions unreadable: %v, want the failure reported", err)
				}
				f.Disarm()
				if _, err := s.Sessions.Lookup(ctx, thief); err != nil {
					t.Fatalf("the session ended with its applications not told: %v", err)
				}
				if err := c.end(s, ctx, thief); err != nil {
					t.Fatalf("retry: %v", err)
				}
				if _, err := s.Sessions.Lookup(ctx, thief); err == nil {
					t.Error("the thief's session still works after the retry")
				}
				if want := []string{ids.Hash(thief)}; !slices.Equal(told, want) {
					t.Errorf("the applications were told the lines %v, want the thief's %v", told, want)
				}
			})
		})
	}
}
