package passkey_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	entpasskey "loginsign/ent/passkey"
	"loginsign/internal/identity"
	"loginsign/internal/ids"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/passkey"
	"loginsign/internal/passkey/passkeytest"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// A removal of a passkey whose sessions cannot be ended (the session store failing) reports it
// and removes nothing, so that the retry finds the passkey and ends its sessions: the passkey
// removed first, the retry answered NotFound and whoever had added their own passkey to the
// account stayed signed in through it.
func TestARemovalWhosePasskeySessionsCannotEndIsFinishedByItsRetry(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newTwoStepEnv(t, db)
		k, err := e.add(t, passkeytest.New(t, false), e.mailed(t))
		if err != nil {
			t.Fatal(err)
		}
		sessions := kvtest.Real(t)
		f := kvtest.InjectFaults(t, sessions)
		idsvc := identity.New(db, sessions, func() time.Time { return e.now }, identity.SessionConfig{})
		var told []string
		idsvc.SessionsEnding = func(_ context.Context, _ string, _ time.Time, lines []string) error {
			told = append(told, lines...)
			return nil
		}
		e.s.EndSessions = idsvc.EndPasskeySessions
		thief, err := idsvc.Sessions.Start(ctx, identity.NewSession{UserID: e.u.ID, UserAgent: "thief", IP: "192.0.2.1",
			AMR: []string{"hwk", "user"}, Passkey: passkey.Ref(k.CredentialID)})
		if err != nil {
			t.Fatal(err)
		}

		f.Arm("del", "sess:", 1)
		if err := e.s.Delete(e.ctx, k.ID, e.mailed(t)); !errors.Is(err, kvtest.ErrInjected) {
			t.Fatalf("with the sessions not ended: %v, want the failure reported", err)
		}
		f.Disarm()
		if err := e.s.Delete(e.ctx, k.ID, e.mailed(t)); err != nil {
			t.Fatalf("retry: %v", err)
		}
		if _, err := idsvc.Sessions.Lookup(ctx, thief); err == nil {
			t.Error("the session signed in with the removed passkey still works after the retry")
		}
		if !slices.Contains(told, ids.Hash(thief)) {
			t.Errorf("the applications were told the lines %v, not the thief's", told)
		}
		if n := db.Passkey.Query().Where(entpasskey.ID(k.ID)).CountX(ctx); n != 0 {
			t.Error("the passkey is still there")
		}
	})
}
