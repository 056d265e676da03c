package oauth_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"loginsign/ent"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/ids"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/mfa"
	"loginsign/internal/oauth"
)

// TestAResendThatFailsHalfwayLeavesTheWaitingSignInAsItWas: a resend whose write of the new
// code fails gives no fresh tries at the old code (they were counted afresh before the code
// was replaced: five more guesses for every resend failed so), and a resend that answers
// success has ended the old link, whatever step of it the store failed. On a real Redis,
// where kvtest.Fault sees the commands.
func TestAResendThatFailsHalfwayLeavesTheWaitingSignInAsItWas(t *testing.T) {
	t.Parallel()
	e := postgresOnlyFlowEnv(t, oauth.Config{ResendAfter: 30 * time.Second})
	f := kvtest.InjectFaults(t, e.kv)
	box := &outbox{}
	e.svc.Mail = box
	ctx := e.ctx()

	t.Run("storing the new code", func(t *testing.T) {
		who := "resend-counted@example.com"
		raw, err := e.svc.StartSignIn(ctx, who, "", "192.0.2.31", "browser-31", "")
		if err != nil {
			t.Fatal(err)
		}
		_, code := box.last(t, who)
		wrong := "000000"
		if code == wrong {
			wrong = "111111"
		}
		for i := 0; i < oauth.CodeAttempts; i++ {
			if _, err := e.svc.UseCode(ctx, raw, wrong, "192.0.2.31", "browser-31"); !apperr.Is(err, apperr.Invalid) && !apperr.Is(err, apperr.Gone) {
				t.Fatalf("wrong code %d: %v", i+1, err)
			}
		}
		e.clock.Advance(31 * time.Second)
		f.Arm("set", "wt:", 1)
		if err := e.svc.Resend(ctx, raw, "192.0.2.31", "browser-31"); err == nil || f.Injected() != 1 {
			t.Fatalf("a resend whose new code was not stored: %v (%d faults injected)", err, f.Injected())
		}
		f.Disarm()
		if _, err := e.svc.UseCode(ctx, raw, wrong, "192.0.2.31", "browser-31"); !apperr.Is(err, apperr.Gone) {
			t.Fatalf("another guess at the old code after the failed resend: %v, want Gone (its tries are spent)", err)
		}
	})

	t.Run("ending the old link", func(t *testing.T) {
		who := "resend-voided@example.com"
		raw, err := e.svc.StartSignIn(ctx, who, "", "192.0.2.32", "browser-32", "")
		if err != nil {
			t.Fatal(err)
		}
		first, _ := box.last(t, who)
		e.clock.Advance(31 * time.Second)
		f.Arm("del", "ml:", 1)
		err = e.svc.Resend(ctx, raw, "192.0.2.32", "browser-32")
		if f.Injected() != 1 {
			t.Fatal("the fault was not injected")
		}
		f.Disarm()
		if err == nil {
			if _, err := e.svc.UseMagicLink(ctx, first, "192.0.2.32", "browser-33"); err == nil {
				t.Fatal("the link before a resend that answered success still signs in")
			}
			return
		}
		// Told it failed: the retry finishes it.
		if err := e.svc.Resend(ctx, raw, "192.0.2.32", "browser-32"); err != nil {
			t.Fatalf("the resend again: %v", err)
		}
		if _, err := e.svc.UseMagicLink(ctx, first, "192.0.2.32", "browser-33"); !apperr.Is(err, apperr.Gone) {
			t.Fatalf("the link before the retried resend: %v, want Gone", err)
		}
		last, code := box.last(t, who)
		if in, err := e.svc.UseCode(ctx, raw, code, "192.0.2.32", "browser-32"); err != nil || in.User.Email != who {
			t.Fatalf("the resent code: %+v, %v", in, err)
		}
		if _, err := e.svc.UseMagicLink(ctx, last, "192.0.2.32", "browser-32"); !apperr.Is(err, apperr.Gone) {
			t.Fatalf("the resent link after its code: %v, want Gone", err)
		}
	})
}

// TestAnApprovalWhoseEndFailsIsFinishedByARetry: the waiting browser's finish of an approval
// from another device whose spending of the approval fails is told so (not that the sign-in
// already finished: nothing finished), and its retry signs in, once.
func TestAnApprovalWhoseEndFailsIsFinishedByARetry(t *testing.T) {
	t.Parallel()
	e := postgresOnlyFlowEnv(t, oauth.Config{})
	f := kvtest.InjectFaults(t, e.kv)
	box := &outbox{}
	e.svc.Mail = box
	ctx := e.ctx()
	who := e.person(t).Email
	raw, err := e.svc.StartSignIn(ctx, who, "", "192.0.2.41", "browser-41", "")
	if err != nil {
		t.Fatal(err)
	}
	link, _ := box.last(t, who)
	wt, err := e.svc.WaitingSignIn(ctx, raw, "browser-41")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.ApproveOther(ctx, link, wt.Match, "192.0.2.42"); err != nil {
		t.Fatalf("approving: %v", err)
	}
	f.Arm("del", "wt:", 1)
	in, err := e.svc.FinishApproved(ctx, raw, "browser-41")
	if err == nil || f.Injected() != 1 {
		t.Fatalf("finishing while the approval cannot be spent: %+v, %v (%d faults injected)", in, err, f.Injected())
	}
	f.Disarm()
	if apperr.Is(err, apperr.Gone) {
		t.Fatalf("finishing while the approval cannot be spent: %v; nothing finished, and a retry would", err)
	}
	if in, err = e.svc.FinishApproved(ctx, raw, "browser-41"); err != nil || in.User.Email != who {
		t.Fatalf("finishing again: %+v, %v", in, err)
	}
	if _, err := e.svc.FinishApproved(ctx, raw, "browser-41"); !apperr.Is(err, apperr.Gone) {
		t.Fatalf("finishing a third time: %v, want Gone", err)
	}
}

// TestSignInSecretsUnderFaultsGrantAtMostOnce: a one-time secret of a sign-in (a link, its
// code, an approval from another device, an authorization code) whose use fails at any
// step either stays usable (nothing granted, the retry signs in once) or is spent and grants
// nothing (the person starts again): never a sign-in with the secret left usable. A try at
// a code or a number that cannot be counted is refused before the comparison. On a real
// Redis and PostgreSQL.
func TestSignInSecretsUnderFaultsGrantAtMostOnce(t *testing.T) {
	t.Parallel()
	e := postgresOnlyFlowEnv(t, oauth.Config{})
	f := kvtest.InjectFaults(t, e.kv)
	var dbFault atomic.Bool     // the next update of an account (a sign-in's record) fails
	var dbInjected atomic.Int32 // how many did
	e.db.User.Use(func(next ent.Mutator) ent.Mutator {
		return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
			if m.Op().Is(ent.OpUpdateOne) && dbFault.CompareAndSwap(true, false) {
				dbInjected.Add(1)
				return nil, errors.New("database connection lost (injected)")
			}
			return next.Mutate(ctx, m)
		})
	})
	box := &outbox{}
	e.svc.Mail = box
	mfas := mfa.New(e.db, e.kv, testSealer(t), e.clock.Now)
	e.svc.MFA = mfas
	ctx := e.ctx()
	const ip = "192.0.2.51"
	// waiting starts a waiting sign-in of a new person in browser: its id, link and code.
	waiting := func(t *testing.T, browser string) (raw, who, link, code string) {
		t.Helper()
		who = e.person(t).Email
		raw, err := e.svc.StartSignIn(ctx, who, "", ip, browser, "")
		if err != nil {
			t.Fatal(err)
		}
		link, code = box.last(t, who)
		return raw, who, link, code
	}
	injected := func(t *testing.T, err error) {
		t.Helper()
		if f.Injected()+int(dbInjected.Swap(0)) != 1 {
			t.Fatalf("the fault was not injected once (%v)", err)
		}
		f.Disarm()
		dbFault.Store(false)
		if err == nil {
			t.Fatal("no error under the fault")
		}
		if apperr.Is(err, apperr.Gone) {
			t.Fatalf("%v: a fault told as a used or expired secret", err)
		}
	}

	t.Run("a link whose taking fails stays usable, once", func(t *testing.T) {
		_, who, link, _ := waiting(t, "browser-51")
		f.Arm("getdel", "ml:", 1)
		_, err := e.svc.UseMagicLink(ctx, link, ip, "browser-52")
		injected(t, err)
		if in, err := e.svc.UseMagicLink(ctx, link, ip, "browser-52"); err != nil || in.User.Email != who {
			t.Fatalf("the link again: %+v, %v", in, err)
		}
		if _, err := e.svc.UseMagicLink(ctx, link, ip, "browser-52"); !apperr.Is(err, apperr.Gone) {
			t.Fatalf("the link a third time: %v, want Gone", err)
		}
	})
	t.Run("a link spent whose sign-in is not recorded grants nothing more", func(t *testing.T) {
		_, _, link, _ := waiting(t, "browser-53")
		dbFault.Store(true)
		_, err := e.svc.UseMagicLink(ctx, link, ip, "browser-53")
		injected(t, err)
		if _, err := e.svc.UseMagicLink(ctx, link, ip, "browser-53"); !apperr.Is(err, apperr.Gone) {
			t.Fatalf("the link again: %v, want Gone", err)
		}
		if e.svc.UsedLink(ctx, link, "browser-53") == nil {
			t.Fatal("the spent link's page offers no new link")
		}
	})
	t.Run("a code whose try cannot be counted is not compared", func(t *testing.T) {
		raw, who, link, code := waiting(t, "browser-54")
		f.Arm("incr", "rl:wtn:", 1)
		_, err := e.svc.UseCode(ctx, raw, code, ip, "browser-54")
		injected(t, err)
		if !e.svc.MagicLinkPending(ctx, link) {
			t.Fatal("an uncounted try spent the link")
		}
		if in, err := e.svc.UseCode(ctx, raw, code, ip, "browser-54"); err != nil || in.User.Email != who {
			t.Fatalf("the code again: %+v, %v", in, err)
		}
		if _, err := e.svc.UseCode(ctx, raw, code, ip, "browser-54"); !apperr.Is(err, apperr.Gone) {
			t.Fatalf("the code a third time: %v, want Gone", err)
		}
	})
	t.Run("a code whose link cannot be spent stays usable", func(t *testing.T) {
		raw, who, _, code := waiting(t, "browser-55")
		f.Arm("getdel", "ml:", 1)
		_, err := e.svc.UseCode(ctx, raw, code, ip, "browser-55")
		injected(t, err)
		if in, err := e.svc.UseCode(ctx, raw, code, ip, "browser-55"); err != nil || in.User.Email != who {
			t.Fatalf("the code again: %+v, %v", in, err)
		}
	})
	t.Run("a code spent whose sign-in is not recorded grants nothing more", func(t *testing.T) {
		raw, _, link, code := waiting(t, "browser-56")
		dbFault.Store(true)
		_, err := e.svc.UseCode(ctx, raw, code, ip, "browser-56")
		injected(t, err)
		if _, err := e.svc.UseCode(ctx, raw, code, ip, "browser-56"); !apperr.Is(err, apperr.Gone) {
			t.Fatalf("the code again: %v, want Gone", err)
		}
		if _, err := e.svc.UseMagicLink(ctx, link, ip, "browser-56"); !apperr.Is(err, apperr.Gone) {
			t.Fatalf("the code's link: %v, want Gone", err)
		}
	})
	for _, fault := range []struct {
		name string
		arm  func()
		// spent: the link is spent although the approval was not saved.
		spent bool
	}{
		{"counting the try", func() { f.Arm("incr", "rl:wta:", 1) }, false},
		{"spending the link", func() { f.Arm("del", "ml:", 1) }, false},
		{"saving the approval", func() { f.Arm("set", "wt:", 1) }, true},
	} {
		t.Run("an approval failing at "+fault.name, func(t *testing.T) {
			raw, who, link, code := waiting(t, "browser-57")
			wt, err := e.svc.WaitingSignIn(ctx, raw, "browser-57")
			if err != nil {
				t.Fatal(err)
			}
			fault.arm()
			injected(t, e.svc.ApproveOther(ctx, link, wt.Match, ip))
			if _, err := e.svc.FinishApproved(ctx, raw, "browser-57"); !apperr.Is(err, apperr.Conflict) {
				t.Fatalf("finishing an approval that failed: %v, want Conflict", err)
			}
			if fault.spent {
				if err := e.svc.ApproveOther(ctx, link, wt.Match, ip); !apperr.Is(err, apperr.Gone) {
					t.Fatalf("approving again with the spent link: %v, want Gone", err)
				}
				if _, err := e.svc.UseCode(ctx, raw, code, ip, "browser-57"); !apperr.Is(err, apperr.Gone) {
					t.Fatalf("the code of the spent link: %v, want Gone", err)
				}
				return
			}
			if err := e.svc.ApproveOther(ctx, link, wt.Match, ip); err != nil {
				t.Fatalf("approving again: %v", err)
			}
			if in, err := e.svc.FinishApproved(ctx, raw, "browser-57"); err != nil || in.User.Email != who {
				t.Fatalf("finishing: %+v, %v", in, err)
			}
			if _, err := e.svc.UseCode(ctx, raw, code, ip, "browser-57"); err == nil {
				t.Fatal("the code signed in after the approval")
			}
		})
	}
	// twoStep turns two-step verification on for a new person and signs in with a link in
	// browser: the person's address, recovery codes and waiting second step.
	twoStep := func(t *testing.T, browser string) (who string, recovery []string, step string) {
		t.Helper()
		u := e.person(t)
		sctx := auth.WithSession(ctx, auth.Session{UserID: u.ID, ID: ids.New(""), SignedInAt: e.clock.Now()})
		en, err := mfas.BeginTOTP(sctx, u.Email)
		if err != nil {
			t.Fatal(err)
		}
		code, err := totp.GenerateCodeCustom(en.Secret, e.clock.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			t.Fatal(err)
		}
		confirmation, _, err := mfas.IssuePasskeyConfirmation(sctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if recovery, err = mfas.ConfirmTOTP(sctx, code, confirmation); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.SendMagicLink(ctx, u.Email, ip); err != nil {
			t.Fatal(err)
		}
		link, _ := box.last(t, u.Email)
		in, err := e.svc.UseMagicLink(ctx, link, ip, browser)
		if err != nil || in.SecondStep == "" {
			t.Fatalf("the link of a person with two steps: %+v, %v", in, err)
		}
		return u.Email, recovery, in.SecondStep
	}
	t.Run("a second step whose end fails is not finished by it", func(t *testing.T) {
		who, recovery, step := twoStep(t, "browser-58")
		f.Arm("del", "ss:", 1)
		_, err := e.svc.CompleteSecondStep(ctx, step, recovery[0], ip, "browser-58")
		injected(t, err)
		if _, err := e.svc.CompleteSecondStep(ctx, step, recovery[0], ip, "browser-58"); !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("the recovery code again: %v, want Invalid (spent)", err)
		}
		if in, err := e.svc.CompleteSecondStep(ctx, step, recovery[1], ip, "browser-58"); err != nil || in.User.Email != who {
			t.Fatalf("another recovery code: %+v, %v", in, err)
		}
		if _, err := e.svc.CompleteSecondStep(ctx, step, recovery[2], ip, "browser-58"); !apperr.Is(err, apperr.Gone) {
			t.Fatalf("the second step again: %v, want Gone", err)
		}
	})
	t.Run("a second step whose try cannot be counted is not compared", func(t *testing.T) {
		who, recovery, step := twoStep(t, "browser-59")
		f.Arm("incrby", "rl:mfa-code:", 1)
		_, err := e.svc.CompleteSecondStep(ctx, step, recovery[0], ip, "browser-59")
		injected(t, err)
		if in, err := e.svc.CompleteSecondStep(ctx, step, recovery[0], ip, "browser-59"); err != nil || in.User.Email != who {
			t.Fatalf("the recovery code again: %+v, %v", in, err)
		}
	})
	t.Run("a second step spent whose sign-in is not recorded grants nothing more", func(t *testing.T) {
		_, recovery, step := twoStep(t, "browser-60")
		dbFault.Store(true)
		_, err := e.svc.CompleteSecondStep(ctx, step, recovery[0], ip, "browser-60")
		injected(t, err)
		if _, err := e.svc.CompleteSecondStep(ctx, step, recovery[1], ip, "browser-60"); !apperr.Is(err, apperr.Gone) {
			t.Fatalf("the second step again: %v, want Gone", err)
		}
	})
	t.Run("an authorization code whose redemption fails is redeemed once by the retry", func(t *testing.T) {
		const cb = "https://rp.example/cb"
		app, secret := e.client(t, cb)
		code := e.code(t, e.person(t), authzQuery(app.ID, cb, "", "scope", "openid"))
		f.Arm("getdel", "oc:", 1)
		_, err := e.token(app.ID, secret, codeForm(code, cb, ""))
		wantOAuthError(t, err, oauth.ServerError)
		injected(t, err)
		resp, err := e.token(app.ID, secret, codeForm(code, cb, ""))
		if err != nil {
			t.Fatalf("the code again: %v", err)
		}
		_, err = e.token(app.ID, secret, codeForm(code, cb, ""))
		wantOAuthError(t, err, oauth.InvalidGrant)
		if _, err := e.svc.AccessToken(e.ctx(), resp.AccessToken); !errors.Is(err, oauth.ErrInvalidToken) {
			t.Fatalf("the access token after the code's replay: %v, want it refused", err)
		}
	})
}
