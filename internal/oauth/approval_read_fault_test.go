package oauth_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"loginsign/ent"
	"loginsign/internal/apperr"
	"loginsign/internal/oauth"
)

// TestAnApprovalWhoseAccountCannotBeReadIsFinishedByARetry: the waiting browser's finish of an
// approval from another device, when the account cannot be read (a database lost), spends
// nothing: the retry signs in, once. Before, the approval was spent first, and the retry
// answered that the sign-in had already finished.
func TestAnApprovalWhoseAccountCannotBeReadIsFinishedByARetry(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		var fail, failed atomic.Bool
		e.db.User.Intercept(ent.InterceptFunc(func(next ent.Querier) ent.Querier {
			return ent.QuerierFunc(func(ctx context.Context, q ent.Query) (ent.Value, error) {
				if fail.CompareAndSwap(true, false) {
					failed.Store(true)
					return nil, errors.New("database connection lost (injected)")
				}
				return next.Query(ctx, q)
			})
		}))
		box := &outbox{}
		e.svc.Mail = box
		ctx := e.ctx()
		who := e.person(t).Email
		raw, err := e.svc.StartSignIn(ctx, who, "", "192.0.2.61", "browser-61", "")
		if err != nil {
			t.Fatal(err)
		}
		link, _ := box.last(t, who)
		wt, err := e.svc.WaitingSignIn(ctx, raw, "browser-61")
		if err != nil {
			t.Fatal(err)
		}
		if err := e.svc.ApproveOther(ctx, link, wt.Match, "192.0.2.62"); err != nil {
			t.Fatalf("approving: %v", err)
		}
		fail.Store(true)
		if in, err := e.svc.FinishApproved(ctx, raw, "browser-61"); err == nil || !failed.Load() {
			t.Fatalf("finishing while the account cannot be read: %+v, %v (fault met: %v)", in, err, failed.Load())
		} else if apperr.Is(err, apperr.Gone) {
			t.Fatalf("finishing while the account cannot be read: %v; nothing finished, and a retry would", err)
		}
		if in, err := e.svc.FinishApproved(ctx, raw, "browser-61"); err != nil || in.User.Email != who {
			t.Fatalf("finishing again: %+v, %v, want signed in as %s", in, err, who)
		}
		if _, err := e.svc.FinishApproved(ctx, raw, "browser-61"); !apperr.Is(err, apperr.Gone) {
			t.Fatalf("finishing a third time: %v, want Gone", err)
		}
	})
}
