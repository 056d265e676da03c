package passkey_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	entpasskey "loginsign/ent/passkey"
	"loginsign/internal/apperr"
	"loginsign/internal/ids"
	"loginsign/internal/passkey"
	"loginsign/internal/passkey/passkeytest"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// A registration refused because another one took the person's last place spends none of the
// person's codes: the second registration finishes while the first one checks its code (a
// Redis hook runs it then), and whichever of the two is refused at MaxPerUser leaves its code
// usable for the person's next change. Before, both passed the count, both spent their code,
// and the one refused in the transaction had spent it for nothing (a recovery code for good).
func TestARegistrationRefusedAtTheLimitSpendsNoCode(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newTwoStepEnv(t, db)
		ctx := context.Background()
		for j := range passkey.MaxPerUser - 1 {
			db.Passkey.Create().SetUserID(e.u.ID).SetName(fmt.Sprintf("Key %d", j)).
				SetCredentialID([]byte(ids.New("seed-"))).SetPublicKey([]byte("key")).
				SetCreatedAt(e.now).SetUpdatedAt(e.now).ExecX(ctx)
		}
		codeA, _, err := e.mfa.IssuePasskeyConfirmation(ctx, e.u.ID)
		if err != nil {
			t.Fatal(err)
		}
		codeB, _, err := e.mfa.IssuePasskeyConfirmation(ctx, e.u.ID)
		if err != nil {
			t.Fatal(err)
		}
		options, err := e.s.BeginRegistration(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		responseA := passkeytest.New(t, false).Register(t, options, origin, 0)
		responseB := passkeytest.New(t, false).Register(t, options, origin, 0)

		var errB error
		doneB := make(chan struct{})
		during := &duringCodeCheck{waiting: make(chan struct{})}
		during.run = func() {
			go func() {
				defer close(doneB)
				_, errB = e.s.FinishRegistrationWithCode(e.ctx, "Phone", responseB, codeB)
			}()
			select {
			case <-doneB:
			case <-during.waiting: // B waits for A's turn to end
			}
		}
		e.kv.AddHook(keepChallenges{prefix: "pkreg:"})
		e.kv.AddHook(during)
		_, errA := e.s.FinishRegistrationWithCode(e.ctx, "Laptop", responseA, codeA)
		<-doneB

		if (errA == nil) == (errB == nil) {
			t.Fatalf("first: %v, second: %v; want exactly one stored", errA, errB)
		}
		if n := db.Passkey.Query().Where(entpasskey.UserID(e.u.ID)).CountX(ctx); n != passkey.MaxPerUser {
			t.Fatalf("%d passkeys, want %d", n, passkey.MaxPerUser)
		}
		refused, code, why := "first", codeA, errA
		if errB != nil {
			refused, code, why = "second", codeB, errB
		}
		if _, err := e.mfa.ConfirmChange(e.ctx, code); err != nil {
			t.Fatalf("the %s registration was refused (%v) and its code no longer works: %v", refused, why, err)
		}
	})
}

// duringCodeCheck runs run once, when the first confirmation code is read (GETDEL of a
// "change-code:" key), before the read; waiting is closed when a registration finds another
// one holding the person's lease of adding a passkey (SETNX, sent as SET … NX with a lifetime).
type duringCodeCheck struct {
	run     func()
	once    atomic.Bool
	waiting chan struct{}
	closed  sync.Once
}

func (*duringCodeCheck) DialHook(next redis.DialHook) redis.DialHook { return next }

func (*duringCodeCheck) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (h *duringCodeCheck) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		args := cmd.Args()
		key := ""
		if len(args) > 1 {
			key = fmt.Sprint(args[1])
		}
		if cmd.Name() == "getdel" && strings.HasPrefix(key, "change-code:") && h.once.CompareAndSwap(false, true) {
			h.run()
		}
		err := next(ctx, cmd)
		if b, ok := cmd.(*redis.BoolCmd); ok && (cmd.Name() == "set" || cmd.Name() == "setnx") && strings.HasPrefix(key, "pkadd:") && err == nil && !b.Val() {
			h.closed.Do(func() { close(h.waiting) })
		}
		return err
	}
}

// A passkey registered again (an authenticator that ignores the options' list of the person's
// passkeys) answers Conflict before the person's code is checked, so the code still works.
// Before, the code was spent and then the store refused the passkey's second row.
func TestAPasskeyRegisteredAgainSpendsNoCode(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newTwoStepEnv(t, db)
		device := passkeytest.New(t, false)
		first, _, err := e.mfa.IssuePasskeyConfirmation(e.ctx, e.u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.add(t, device, first); err != nil {
			t.Fatal(err)
		}
		again, _, err := e.mfa.IssuePasskeyConfirmation(e.ctx, e.u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.add(t, device, again); !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("registered again: %v, want Conflict", err)
		}
		if _, err := e.mfa.ConfirmChange(e.ctx, again); err != nil {
			t.Fatalf("the refused registration spent its code: %v", err)
		}
	})
}
