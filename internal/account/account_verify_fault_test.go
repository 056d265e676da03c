package account_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"loginsign/internal/apperr"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// verifyLink adds addr to the person's account and returns the token of the link mailed to it.
func (e *env) verifyLink(addr string) string {
	e.t.Helper()
	before := e.smtp.Count()
	if _, err := e.svc.AddAlternativeEmail(as(e.person), addr, ""); err != nil {
		e.t.Fatal(err)
	}
	msgs := e.smtp.Wait(e.t, before+1)
	tok := linkRE.FindStringSubmatch(msgs[len(msgs)-1].Text)
	if tok == nil {
		e.t.Fatalf("no link in %q", msgs[len(msgs)-1].Text)
	}
	return tok[1]
}

// A verification link followed many times at once verifies the address once: one answer is
// the address, the others that the link is used.
func TestAVerificationLinkFollowedManyTimesAtOnceWorksOnce(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		tok := e.verifyLink("backup@example.org")
		const parallel = 8
		var verified atomic.Int32
		var wg sync.WaitGroup
		for range parallel {
			wg.Go(func() {
				_, err := e.svc.VerifyAlternativeEmail(as(e.person), tok)
				if err == nil {
					verified.Add(1)
				} else if e := apperr.As(err); e == nil || e.Reason != "invalid_token" {
					t.Errorf("a follower of the link: %v, want it verified or invalid_token", err)
				}
			})
		}
		wg.Wait()
		if n := verified.Load(); n != 1 {
			t.Fatalf("the link followed %d times at once verified %d times, want once", parallel, n)
		}
	})
}

// A verification link followed while the store that holds it fails is not answered as used
// or expired (the person would add the address again, spending a mail of their hourly five):
// the failure is reported, and the same link then verifies the address.
func TestAVerificationLinkTheStoreCannotReadIsNotCalledUsed(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		f := kvtest.InjectFaults(t, e.kv)
		tok := e.verifyLink("backup@example.org")
		for _, cmd := range []string{"get", "getdel"} {
			f.Arm(cmd, "emailverify:", 1)
			if _, err := e.svc.VerifyAlternativeEmail(as(e.person), tok); !errors.Is(err, kvtest.ErrInjected) {
				t.Fatalf("with %s failing: %v, want the failure reported", cmd, err)
			}
			f.Disarm()
		}
		v, err := e.svc.VerifyAlternativeEmail(as(e.person), tok)
		if err != nil || v.VerifiedAt == nil {
			t.Fatalf("the link after the store answered again: %+v %v, want the address verified", v, err)
		}
		if still, _ := db.UserEmail.Get(context.Background(), v.ID); still.VerifiedAt == nil {
			t.Fatal("the address is not verified")
		}
	})
}
