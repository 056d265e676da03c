package oauth_test

import (
	"fmt"
	"testing"
	"time"

	"loginsign/internal/apperr"
	"loginsign/internal/oauth"
)

// Whoever reads the person's mailbox can start as many sign-ins as the mails allow and reach
// a second step in each, from as many browsers and addresses: the guesses of all of them
// count under the person's one budget (mfa.Service.Attempts, 10 per 15 minutes), so past it
// even the right code on yet another pending sign-in finishes nothing, and the wrong codes
// leave every pending sign-in waiting, none signed in. (A guard: it holds on the old code.)
func TestManyPendingSignInsShareOneSecondStepBudget(t *testing.T) {
	t.Parallel()
	many := oauth.Limit{N: 1000, Window: time.Hour}
	cfg := oauth.Config{Limits: oauth.Limits{LoginPerAddress: many, LoginPerAddressDay: many, LoginPerIP: many, MagicConfirmPerIP: many}}
	forFlowBackends(t, cfg, func(t *testing.T, e *flowEnv) {
		box := &outbox{}
		e.svc.Mail = box
		ctx := e.ctx()
		u, recovery, first := twoStepLink(t, e, box, "192.0.2.140", "browser-140")
		budget := e.svc.MFA.Attempts.N
		for i := range budget {
			ip, browser := fmt.Sprintf("198.51.100.%d", i+1), fmt.Sprintf("browser-141-%d", i)
			if err := e.svc.SendMagicLink(ctx, u.Email, ip); err != nil {
				t.Fatal(err)
			}
			link, _ := box.last(t, u.Email)
			in, err := e.svc.UseMagicLink(ctx, link, ip, browser)
			if err != nil || in.SecondStep == "" {
				t.Fatalf("pending sign-in %d: %+v, %v", i, in, err)
			}
			if in, err := e.svc.CompleteSecondStep(ctx, in.SecondStep, "0000-0000-0000", ip, browser); !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("a wrong code on pending sign-in %d: signs in %s, %v; want Invalid", i, signedInAs(in), err)
			}
		}
		if in, err := e.svc.CompleteSecondStep(ctx, first, recovery[0], "192.0.2.140", "browser-140"); !apperr.Is(err, apperr.RateLimited) {
			t.Fatalf("the right code on another pending sign-in after %d wrong ones on %d others: signs in %s, %v; want RateLimited",
				budget, budget, signedInAs(in), err)
		}
	})
}
