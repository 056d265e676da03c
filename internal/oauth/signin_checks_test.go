package oauth_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"github.com/redis/go-redis/v9"

	"loginsign/ent"
	"loginsign/ent/useremail"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/ids"
	"loginsign/internal/mfa"
	"loginsign/internal/oauth"
)

// twoStepLink turns two-step verification on for a new person of e and uses a link mailed to
// them in browser: the person, their recovery codes and the sign-in waiting for its second
// step.
func twoStepLink(t *testing.T, e *flowEnv, box *outbox, ip, browser string) (u *ent.User, recovery []string, step string) {
	t.Helper()
	if e.svc.MFA == nil {
		e.svc.MFA = mfa.New(e.db, e.kv, testSealer(t), e.clock.Now)
	}
	ctx := e.ctx()
	u = e.person(t)
	sctx := auth.WithSession(ctx, auth.Session{UserID: u.ID, ID: ids.New(""), SignedInAt: e.clock.Now()})
	en, err := e.svc.MFA.BeginTOTP(sctx, u.Email)
	if err != nil {
		t.Fatal(err)
	}
	code, err := totp.GenerateCodeCustom(en.Secret, e.clock.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	confirmation, _, err := e.svc.MFA.IssuePasskeyConfirmation(sctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if recovery, err = e.svc.MFA.ConfirmTOTP(sctx, code, confirmation); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.SendMagicLink(ctx, u.Email, ip); err != nil {
		t.Fatal(err)
	}
	link, _ := box.last(t, u.Email)
	in, err := e.svc.UseMagicLink(ctx, link, ip, browser)
	if err != nil || in.SecondStep == "" {
		t.Fatalf("the link of a person with two steps: %+v, %v; want a second step", in, err)
	}
	return u, recovery, in.SecondStep
}

// startSignIn starts the sign-in of who in browser from ip and returns its waiting id and
// the link and code mailed to who (box takes e's mail).
func startSignIn(t *testing.T, e *flowEnv, box *outbox, who, ip, browser string) (raw, link, code string) {
	t.Helper()
	raw, err := e.svc.StartSignIn(e.ctx(), who, "", ip, browser, "")
	if err != nil {
		t.Fatal(err)
	}
	link, code = box.last(t, who)
	return raw, link, code
}

// The second step of a sign-in belongs to the browser that used the link: its token alone,
// learnt elsewhere (a shared screen, a proxy's log), finishes nothing in another browser or
// in one without a cookie, even with a right code; the browser that used the link still
// finishes.
func TestASecondStepFinishesOnlyInTheBrowserThatUsedTheLink(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		box := &outbox{}
		e.svc.Mail = box
		ctx := e.ctx()
		const ip = "192.0.2.81"
		u, recovery, step := twoStepLink(t, e, box, ip, "browser-81")
		for i, other := range []string{"browser-82", ""} {
			if _, err := e.svc.SecondStepPending(ctx, step, other); !apperr.Is(err, apperr.Forbidden) {
				t.Errorf("the second step is pending in browser %q: %v; want Forbidden", other, err)
			}
			if in, err := e.svc.CompleteSecondStep(ctx, step, recovery[i], ip, other); !apperr.Is(err, apperr.Forbidden) {
				t.Fatalf("a right code in browser %q: signs in %s, %v; want Forbidden", other, signedInAs(in), err)
			}
		}
		if in, err := e.svc.CompleteSecondStep(ctx, step, recovery[2], ip, "browser-81"); err != nil || in.User.ID != u.ID {
			t.Fatalf("a right code in the browser that used the link: signs in %s, %v; want %s signed in", signedInAs(in), err, u.Email)
		}
	})
}

// Of two right codes sent at once for one second step, one finishes the sign-in: the other,
// whose code was checked while the first finished, finds the second step ended and answers
// Gone.
func TestASecondStepEndedWhileItsCodeWasCheckedSignsNobodyIn(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		box := &outbox{}
		e.svc.Mail = box
		ctx := e.ctx()
		const ip = "192.0.2.83"
		_, recovery, step := twoStepLink(t, e, box, ip, "browser-83")
		// The other request finishes as this one's recovery code is spent.
		var finishing atomic.Bool
		e.db.RecoveryCode.Use(func(next ent.Mutator) ent.Mutator {
			return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
				v, err := next.Mutate(ctx, m)
				if m.Op().Is(ent.OpDelete) && finishing.CompareAndSwap(true, false) {
					if err := e.kv.Del(ctx, "ss:"+ids.Hash(step)).Err(); err != nil {
						t.Errorf("ending the second step: %v", err)
					}
				}
				return v, err
			})
		})
		finishing.Store(true)
		if in, err := e.svc.CompleteSecondStep(ctx, step, recovery[0], ip, "browser-83"); !apperr.Is(err, apperr.Gone) {
			t.Fatalf("a right code for a second step ended meanwhile: signs in %s, %v; want Gone", signedInAs(in), err)
		}
	})
}

// A person with two-step verification is not signed in by a link, its code, or an approval
// from another device alone: each leaves a second step waiting, and the flow in progress is
// not marked signed in.
func TestAMailboxSignInOfAPersonWithTwoStepsWaitsForTheSecondStep(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		box := &outbox{}
		e.svc.Mail = box
		ctx := e.ctx()
		const ip = "192.0.2.84"
		u, _, _ := twoStepLink(t, e, box, ip, "browser-84")
		app, _ := e.client(t, "https://rp.example/cb")
		flowID, err := e.svc.StartFlow(ctx, e.authorize(t, authzQuery(app.ID, "https://rp.example/cb", "")), "browser-84")
		if err != nil {
			t.Fatal(err)
		}
		raw, err := e.svc.StartSignIn(ctx, u.Email, flowID, ip, "browser-84", "")
		if err != nil {
			t.Fatal(err)
		}
		_, code := box.last(t, u.Email)
		in, err := e.svc.UseCode(ctx, raw, code, ip, "browser-84")
		if err != nil || in.SecondStep == "" || in.FlowID != "" {
			t.Fatalf("the code of a person with two steps: %+v, %v; want a second step and no flow signed in", in, err)
		}
		if f, err := e.svc.Flow(ctx, flowID); err != nil || f.LoginUserID != "" {
			t.Fatalf("the flow after the code alone: %+v, %v; want it not signed in", f, err)
		}
		raw, err = e.svc.StartSignIn(ctx, u.Email, flowID, ip, "browser-84", "")
		if err != nil {
			t.Fatal(err)
		}
		link, _ := box.last(t, u.Email)
		w, err := e.svc.WaitingSignIn(ctx, raw, "browser-84")
		if err != nil {
			t.Fatal(err)
		}
		if err := e.svc.ApproveOther(ctx, link, w.Match, "192.0.2.85"); err != nil {
			t.Fatal(err)
		}
		if in, err := e.svc.FinishApproved(ctx, raw, "browser-84"); err != nil || in.SecondStep == "" || in.FlowID != "" {
			t.Fatalf("an approval of a person with two steps: %+v, %v; want a second step and no flow signed in", in, err)
		}
	})
}

// An authorization in progress is its browser's: another browser, or one without a cookie,
// that learnt its id gets Forbidden, and a waiting sign-in started there does not take it
// over (it would end signed in as whoever asked there, and give the app a code for them).
func TestAFlowIsOnlyItsOwnBrowsers(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		box := &outbox{}
		e.svc.Mail = box
		ctx := e.ctx()
		app, _ := e.client(t, "https://rp.example/cb")
		flowID, err := e.svc.StartFlow(ctx, e.authorize(t, authzQuery(app.ID, "https://rp.example/cb", "")), "browser-86")
		if err != nil {
			t.Fatal(err)
		}
		for _, other := range []string{"browser-87", ""} {
			if f, err := e.svc.BrowserFlow(ctx, flowID, other); !apperr.Is(err, apperr.Forbidden) {
				t.Errorf("the flow of browser-86 in browser %q: %+v, %v; want Forbidden", other, f, err)
			}
		}
		if _, err := e.svc.BrowserFlow(ctx, flowID, "browser-86"); err != nil {
			t.Fatalf("the flow in its own browser: %v", err)
		}
		who := e.person(t).Email
		raw, err := e.svc.StartSignIn(ctx, who, flowID, "192.0.2.87", "browser-87", "")
		if err != nil {
			t.Fatal(err)
		}
		if w, err := e.svc.WaitingSignIn(ctx, raw, "browser-87"); err != nil || w.FlowID != "" {
			t.Fatalf("a waiting sign-in given another browser's flow: %+v, %v; want no flow", w, err)
		}
		_, code := box.last(t, who)
		if in, err := e.svc.UseCode(ctx, raw, code, "192.0.2.87", "browser-87"); err != nil || in.FlowID != "" {
			t.Fatalf("its code: %+v, %v; want a sign-in without the flow", in, err)
		}
		if f, err := e.svc.Flow(ctx, flowID); err != nil || f.LoginUserID != "" {
			t.Fatalf("the flow of browser-86: %+v, %v; want it not signed in by browser-87", f, err)
		}
	})
}

// A waiting sign-in is its browser's: another browser, or one without a cookie, that learnt
// its id can neither read it, resend its mail, use its code nor finish its approval.
func TestAWaitingSignInIsOnlyItsOwnBrowsers(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		box := &outbox{}
		e.svc.Mail = box
		ctx := e.ctx()
		const ip = "192.0.2.88"
		who := e.person(t).Email
		raw, link, code := startSignIn(t, e, box, who, ip, "browser-88")
		w, err := e.svc.WaitingSignIn(ctx, raw, "browser-88")
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(e.svc.Config.ResendAfter + 1)
		for _, other := range []string{"browser-89", ""} {
			if got, err := e.svc.WaitingSignIn(ctx, raw, other); !apperr.Is(err, apperr.Forbidden) {
				t.Errorf("reading it in browser %q: %+v, %v; want Forbidden", other, got, err)
			}
			sent := box.count()
			if err := e.svc.Resend(ctx, raw, ip, other); !apperr.Is(err, apperr.Forbidden) || box.count() != sent {
				t.Errorf("resending it in browser %q: %v, %d mails; want Forbidden and none", other, err, box.count()-sent)
			}
			if in, err := e.svc.UseCode(ctx, raw, code, ip, other); !apperr.Is(err, apperr.Forbidden) {
				t.Fatalf("its code in browser %q: signs in %s, %v; want Forbidden", other, signedInAs(in), err)
			}
		}
		if err := e.svc.ApproveOther(ctx, link, w.Match, "192.0.2.89"); err != nil {
			t.Fatal(err)
		}
		for _, other := range []string{"browser-89", ""} {
			if in, err := e.svc.FinishApproved(ctx, raw, other); !apperr.Is(err, apperr.Forbidden) {
				t.Fatalf("finishing the approval in browser %q: signs in %s, %v; want Forbidden", other, signedInAs(in), err)
			}
		}
		if in, err := e.svc.FinishApproved(ctx, raw, "browser-88"); err != nil || in.User.Email != who {
			t.Fatalf("finishing in its own browser: signs in %s, %v; want %s", signedInAs(in), err, who)
		}
	})
}

// A waiting sign-in finishes (FinishApproved) only after another device approved it with its
// number, and only once; a sign-in that ended (its code used) takes no more codes and sends no
// more mail.
func TestAWaitingSignInFinishesOnlyOnceApprovedAndOnlyOnce(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		box := &outbox{}
		e.svc.Mail = box
		ctx := e.ctx()
		const ip = "192.0.2.90"
		who := e.person(t).Email
		raw, link, _ := startSignIn(t, e, box, who, ip, "browser-90")
		if in, err := e.svc.FinishApproved(ctx, raw, "browser-90"); !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("finishing before any approval: signs in %s, %v; want Conflict", signedInAs(in), err)
		}
		w, err := e.svc.WaitingSignIn(ctx, raw, "browser-90")
		if err != nil {
			t.Fatal(err)
		}
		if err := e.svc.ApproveOther(ctx, link, w.Match, "192.0.2.91"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.FinishApproved(ctx, raw, "browser-90"); err != nil {
			t.Fatalf("finishing the approval: %v", err)
		}
		if in, err := e.svc.FinishApproved(ctx, raw, "browser-90"); err == nil {
			t.Fatalf("the approval finished twice: %+v", in)
		}

		// A code used ends the waiting sign-in: no resend after it.
		raw, _, code := startSignIn(t, e, box, who, ip, "browser-92")
		if _, err := e.svc.UseCode(ctx, raw, code, ip, "browser-92"); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(e.svc.Config.ResendAfter + 1)
		sent := box.count()
		if err := e.svc.Resend(ctx, raw, ip, "browser-92"); !apperr.Is(err, apperr.Conflict) || box.count() != sent {
			t.Fatalf("a resend after the code signed in: %v, %d mails; want Conflict and none", err, box.count()-sent)
		}
	})
}

// An approval from another device whose link was used meanwhile (its own button, in the
// moments between reading the link and spending it) approves nothing: the waiting browser
// stays signed out.
func TestAnApprovalWhoseLinkWasUsedMeanwhileApprovesNothing(t *testing.T) {
	t.Parallel()
	e := postgresOnlyFlowEnv(t, oauth.Config{})
	box := &outbox{}
	e.svc.Mail = box
	ctx := e.ctx()
	const ip = "192.0.2.93"
	who := e.person(t).Email
	raw, link, _ := startSignIn(t, e, box, who, ip, "browser-93")
	w, err := e.svc.WaitingSignIn(ctx, raw, "browser-93")
	if err != nil {
		t.Fatal(err)
	}
	// The link is spent elsewhere just after the approval read the waiting sign-in (and so
	// after it read the link).
	hook := &spendAfterRead{kv: e.kv, read: "wt:" + ids.Hash(raw), spend: "ml:" + ids.Hash(link)}
	e.kv.AddHook(hook)
	hook.armed.Store(true)
	if err := e.svc.ApproveOther(ctx, link, w.Match, "192.0.2.94"); !apperr.Is(err, apperr.Gone) {
		t.Fatalf("an approval with a link used meanwhile: %v; want Gone", err)
	}
	if hook.armed.Load() {
		t.Fatal("the link was not spent during the approval")
	}
	if in, err := e.svc.FinishApproved(ctx, raw, "browser-93"); err == nil {
		t.Fatalf("the waiting browser signed in as %s", in.User.Email)
	}
}

// spendAfterRead is a go-redis hook that, once armed, deletes spend just after the first GET
// of read: another request spending a secret in the moments after this one read it.
type spendAfterRead struct {
	kv          redis.Cmdable
	read, spend string
	armed       atomic.Bool
}

func (*spendAfterRead) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *spendAfterRead) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if args := cmd.Args(); strings.EqualFold(cmd.Name(), "get") && len(args) == 2 && args[1] == h.read &&
			h.armed.CompareAndSwap(true, false) {
			h.kv.Del(ctx, h.spend)
		}
		return err
	}
}

func (*spendAfterRead) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// The page of a used link shows its whole address only in the browser that asked for it:
// the link travels in forwarded mail, mail scanners and shared computers' histories, and
// elsewhere, or without a cookie, the address is masked; a new link by the old one is only
// for the browser that asked for it.
func TestOnlyTheAskingBrowserSeesTheWholeAddressOfAnOldLink(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		box := &outbox{}
		e.svc.Mail = box
		ctx := e.ctx()
		const ip = "192.0.2.95"
		who := e.person(t).Email
		if _, err := e.svc.StartSignIn(ctx, who, "", ip, "browser-95", ""); err != nil {
			t.Fatal(err)
		}
		link, _ := box.last(t, who)
		if _, err := e.svc.UseMagicLink(ctx, link, ip, "browser-96"); err != nil {
			t.Fatal(err)
		}
		for _, other := range []string{"browser-96", ""} {
			if old := e.svc.UsedLink(ctx, link, other); old == nil || old.Email != "" || old.Masked != oauth.MaskEmail(who) {
				t.Errorf("the used link's page in browser %q: %+v; want only %s", other, old, oauth.MaskEmail(who))
			}
		}
		if old := e.svc.UsedLink(ctx, link, "browser-95"); old == nil || old.Email != who {
			t.Errorf("the used link's page in the asking browser: %+v; want %s", old, who)
		}
		// Since stop 64 a new link by the old one is only for the browser that asked for it.
		if _, err := e.svc.StartSignInFromLink(ctx, link, "", ip, "browser-96", ""); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("a new link by the old one from another browser: %v; want Invalid", err)
		}
		raw, err := e.svc.StartSignInFromLink(ctx, link, "", ip, "browser-95", "")
		if err != nil {
			t.Fatal(err)
		}
		if w, err := e.svc.WaitingSignIn(ctx, raw, "browser-95"); err != nil || w.Email != who {
			t.Errorf("the waiting page of a new link asked for from the asking browser: %+v, %v; want %s", w, err, who)
		}
	})
}

// The codes tried for one address are capped across all its links (CodePerAddress): past the
// cap even the right code is refused, RateLimited, however many tries its own link has left.
func TestCodesForOneAddressAreCappedAcrossItsLinks(t *testing.T) {
	t.Parallel()
	const codes = 3
	cfg := oauth.Config{Limits: oauth.Limits{CodePerAddress: oauth.Limit{N: codes, Window: time.Hour}}}
	forFlowBackends(t, cfg, func(t *testing.T, e *flowEnv) {
		box := &outbox{}
		e.svc.Mail = box
		ctx := e.ctx()
		const ip = "192.0.2.97"
		who := e.person(t).Email
		raw, _, code := startSignIn(t, e, box, who, ip, "browser-97")
		wrong := "000000"
		if code == wrong {
			wrong = "111111"
		}
		for i := range codes {
			if _, err := e.svc.UseCode(ctx, raw, wrong, ip, "browser-97"); !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("wrong code %d: %v; want Invalid", i+1, err)
			}
		}
		if in, err := e.svc.UseCode(ctx, raw, code, ip, "browser-97"); !apperr.Is(err, apperr.RateLimited) {
			t.Fatalf("the right code after %d codes for the address: signs in %s, %v; want RateLimited", codes, signedInAs(in), err)
		}
	})
}

// A resend is a sign-in mail like the first: it counts against the address's limits, and past
// them mails nothing.
func TestAResendCountsAgainstTheAddresssLimits(t *testing.T) {
	t.Parallel()
	cfg := oauth.Config{Limits: oauth.Limits{LoginPerAddress: oauth.Limit{N: 1, Window: time.Hour}}}
	forFlowBackends(t, cfg, func(t *testing.T, e *flowEnv) {
		box := &outbox{}
		e.svc.Mail = box
		ctx := e.ctx()
		const ip = "192.0.2.98"
		who := e.person(t).Email
		raw, _, _ := startSignIn(t, e, box, who, ip, "browser-98")
		e.clock.Advance(e.svc.Config.ResendAfter + time.Second)
		sent := box.count()
		if err := e.svc.Resend(ctx, raw, ip, "browser-98"); !apperr.Is(err, apperr.RateLimited) || box.count() != sent {
			t.Fatalf("a resend past the address's limit: %v, %d mails; want RateLimited and none", err, box.count()-sent)
		}
	})
}

// The codes of second steps are rate limited per client address: past the limit even a right
// code finishes nothing.
func TestSecondStepCodesAreLimitedPerAddress(t *testing.T) {
	t.Parallel()
	cfg := oauth.Config{Limits: oauth.Limits{MagicConfirmPerIP: oauth.Limit{N: 1, Window: time.Hour}}}
	forFlowBackends(t, cfg, func(t *testing.T, e *flowEnv) {
		box := &outbox{}
		e.svc.Mail = box
		ctx := e.ctx()
		// The link is used from an address of its own: its use counts under another name
		// anyway, but the case is about the second step's address alone.
		_, recovery, step := twoStepLink(t, e, box, "192.0.2.99", "browser-99")
		const ip = "192.0.2.100"
		if _, err := e.svc.CompleteSecondStep(ctx, step, "0000-0000-0000", ip, "browser-99"); !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("a wrong code: %v; want Invalid", err)
		}
		if in, err := e.svc.CompleteSecondStep(ctx, step, recovery[0], ip, "browser-99"); !apperr.Is(err, apperr.RateLimited) {
			t.Fatalf("a right code past the address's limit: signs in %s, %v; want RateLimited", signedInAs(in), err)
		}
	})
}

// What a used link leaves waiting (an approval from another device, a second step) ends when
// the account's primary address changes before it finishes, as the link itself would have:
// it answers Gone and signs nobody in.
func TestWhatALinkLeftWaitingEndsWhenThePrimaryAddressChanges(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		box := &outbox{}
		e.svc.Mail = box
		ctx := e.ctx()
		const ip = "192.0.2.101"
		move := func(u *ent.User) {
			t.Helper()
			moved := "moved-" + strings.ToLower(ids.New("")) + "@example.com"
			if err := e.db.User.UpdateOneID(u.ID).SetEmail(moved).SetEmailVersion(u.EmailVersion + 1).Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}
		u := e.person(t)
		raw, link, _ := startSignIn(t, e, box, u.Email, ip, "browser-101")
		w, err := e.svc.WaitingSignIn(ctx, raw, "browser-101")
		if err != nil {
			t.Fatal(err)
		}
		if err := e.svc.ApproveOther(ctx, link, w.Match, "192.0.2.102"); err != nil {
			t.Fatal(err)
		}
		move(u)
		if in, err := e.svc.FinishApproved(ctx, raw, "browser-101"); !apperr.Is(err, apperr.Gone) {
			t.Fatalf("an approval finished after the primary address changed: signs in %s, %v; want Gone", signedInAs(in), err)
		}

		u, recovery, step := twoStepLink(t, e, box, ip, "browser-103")
		move(u)
		if in, err := e.svc.CompleteSecondStep(ctx, step, recovery[0], ip, "browser-103"); !apperr.Is(err, apperr.Gone) {
			t.Fatalf("a second step finished after the primary address changed: signs in %s, %v; want Gone", signedInAs(in), err)
		}
	})
}

// A link to a verified alternative address signs in to its account only while the account
// holds that address: once the address is removed, the link answers Gone.
func TestALinkToAnAlternativeAddressTheAccountNoLongerHoldsSignsNobodyIn(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		box := &outbox{}
		e.svc.Mail = box
		ctx := e.ctx()
		const ip = "192.0.2.104"
		u := e.person(t)
		alt := "alt-" + strings.ToLower(ids.New("")) + "@example.com"
		if err := e.db.UserEmail.Create().SetUserID(u.ID).SetEmail(alt).SetVerifiedAt(e.clock.Now()).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.SendMagicLink(ctx, alt, ip); err != nil {
			t.Fatal(err)
		}
		link, _ := box.last(t, alt)
		if n, err := e.db.UserEmail.Delete().Where(useremail.UserID(u.ID), useremail.Email(alt)).Exec(ctx); err != nil || n != 1 {
			t.Fatalf("removing the alternative address: %d, %v", n, err)
		}
		if in, err := e.svc.UseMagicLink(ctx, link, ip, "browser-104"); !apperr.Is(err, apperr.Gone) {
			t.Fatalf("a link to an alternative address removed since: signs in %s, %v; want Gone", signedInAs(in), err)
		}
	})
}

// Of two requests finishing one approved sign-in at once, one signs in: the other, which read
// the approval as the first ended it, answers Gone.
func TestAnApprovalFinishedTwiceAtOnceSignsInOnce(t *testing.T) {
	t.Parallel()
	e := postgresOnlyFlowEnv(t, oauth.Config{})
	box := &outbox{}
	e.svc.Mail = box
	ctx := e.ctx()
	const ip = "192.0.2.105"
	who := e.person(t).Email
	raw, link, _ := startSignIn(t, e, box, who, ip, "browser-105")
	w, err := e.svc.WaitingSignIn(ctx, raw, "browser-105")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.ApproveOther(ctx, link, w.Match, "192.0.2.106"); err != nil {
		t.Fatal(err)
	}
	// The other request ends the approval just after this one read it.
	hook := &spendAfterRead{kv: e.kv, read: "wt:" + ids.Hash(raw), spend: "wt:" + ids.Hash(raw)}
	e.kv.AddHook(hook)
	hook.armed.Store(true)
	if in, err := e.svc.FinishApproved(ctx, raw, "browser-105"); !apperr.Is(err, apperr.Gone) {
		t.Fatalf("an approval ended by another request meanwhile: signs in %s, %v; want Gone", signedInAs(in), err)
	}
	if hook.armed.Load() {
		t.Fatal("the approval was not ended during the finish")
	}
}

// signedInAs names who a sign-in's outcome signs in, for failure messages.
func signedInAs(in *oauth.SignIn) string {
	switch {
	case in == nil || in.User == nil:
		return "nobody"
	case in.SecondStep != "":
		return in.User.Email + " after a second step"
	}
	return in.User.Email
}
