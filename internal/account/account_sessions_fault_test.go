package account_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"loginsign/ent/useremail"
	"loginsign/internal/auth"
	"loginsign/internal/identity"
	"loginsign/internal/ids"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// signedIn starts a session of u (its sign-in proved the mailbox addr, "" for none) and returns
// its cookie value and the context of a request it makes.
func (e *env) signedIn(addr string) (string, context.Context) {
	e.t.Helper()
	raw, err := e.identity.Sessions.Start(context.Background(), identity.NewSession{UserID: e.person.ID,
		UserAgent: "agent", IP: "127.0.0.1", Address: addr})
	if err != nil {
		e.t.Fatal(err)
	}
	sess, err := e.identity.Sessions.Lookup(context.Background(), raw)
	if err != nil {
		e.t.Fatal(err)
	}
	sess.SignedInAt = now
	return raw, auth.WithSession(context.Background(), sess)
}

// A removal of an address whose sessions cannot be ended (the session store failing) reports
// it and removes nothing, so that the retry finds the address and ends its sessions: the
// address removed first, the retry answered NotFound and the thief who had added their own
// mailbox stayed signed in through it.
func TestARemovalWhoseSessionsCannotEndIsFinishedByItsRetry(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		f := kvtest.InjectFaults(t, e.kv)
		var told []string
		e.identity.SessionsEnding = func(_ context.Context, _ string, _ time.Time, lines []string) error {
			told = append(told, lines...)
			return nil
		}
		ue := e.addAndVerify(e.person, "mallory@evil.example")
		thief, _ := e.signedIn("mallory@evil.example")
		_, ctx := e.signedIn("person@example.com")

		f.Arm("del", "sess:", 1)
		if err := e.svc.RemoveAlternativeEmail(ctx, ue.ID, ""); !errors.Is(err, kvtest.ErrInjected) {
			t.Fatalf("with the sessions not ended: %v, want the failure reported", err)
		}
		f.Disarm()
		if err := e.svc.RemoveAlternativeEmail(ctx, ue.ID, ""); err != nil {
			t.Fatalf("retry: %v", err)
		}
		if _, err := e.identity.Sessions.Lookup(context.Background(), thief); err == nil {
			t.Error("the session signed in through the removed address still works after the retry")
		}
		if !slices.Contains(told, ids.Hash(thief)) {
			t.Errorf("the applications were told the lines %v, not the thief's", told)
		}
		if n := db.UserEmail.Query().Where(useremail.ID(ue.ID)).CountX(context.Background()); n != 0 {
			t.Error("the address is still linked")
		}
	})
}

// Making an address primary ends the person's other sessions. When their applications cannot
// be told, or the session store fails, the person is told and nothing changes; the retry
// changes the address and ends them. Ended after the change, a failure was only logged, and
// the retry found the address already primary (no longer an alternative to pick: NotFound).
func TestAPrimaryChangeWhoseSessionsCannotEndIsFinishedByItsRetry(t *testing.T) {
	down := errors.New("database unavailable")
	for _, c := range []struct {
		name    string
		realKV  bool
		arm     func(f *kvtest.Fault, fail *bool)
		wantErr error
	}{
		{"the applications not told", false, func(_ *kvtest.Fault, fail *bool) { *fail = true }, down},
		{"the session store failing", true, func(f *kvtest.Fault, _ *bool) { f.Arm("del", "sess:", 1) }, kvtest.ErrInjected},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			storetest.Run(t, func(t *testing.T, db *store.DB) {
				e := newEnv(t, db)
				f := &kvtest.Fault{} // armed only when the store fails
				if c.realKV {
					f = kvtest.InjectFaults(t, e.kv)
				}
				fail := false
				var told []string
				e.identity.SessionsEnding = func(_ context.Context, _ string, _ time.Time, lines []string) error {
					if fail {
						fail = false
						return down
					}
					told = append(told, lines...)
					return nil
				}
				ue := e.addAndVerify(e.person, "person@new.example")
				thief, _ := e.signedIn("")
				_, ctx := e.signedIn("")

				c.arm(f, &fail)
				if _, err := e.svc.MakePrimaryEmail(ctx, ue.ID, ""); !errors.Is(err, c.wantErr) {
					t.Fatalf("with %s: %v, want the failure reported", c.name, err)
				}
				f.Disarm()
				if _, err := e.identity.Sessions.Lookup(context.Background(), thief); err != nil {
					t.Fatalf("the other session ended, and the change was reported failed: %v", err)
				}
				told = nil
				u, err := e.svc.MakePrimaryEmail(ctx, ue.ID, "")
				if err != nil {
					t.Fatalf("retry: %v", err)
				}
				if u.Email != "person@new.example" {
					t.Errorf("primary address %q after the retry", u.Email)
				}
				if _, err := e.identity.Sessions.Lookup(context.Background(), thief); err == nil {
					t.Error("the other session still works after the retry")
				}
				if want := []string{ids.Hash(thief)}; !slices.Equal(told, want) {
					t.Errorf("the retry told the applications the lines %v, want the other session's %v", told, want)
				}
			})
		})
	}
}
