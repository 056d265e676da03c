package oauth_test

import (
	"testing"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"loginsign/ent/user"
	"loginsign/internal/auth"
	"loginsign/internal/ids"
	"loginsign/internal/mfa"
	"loginsign/internal/oauth"
)

// TestAnApprovalThatCreatedTheAccountStillAsksForTheSecondStep16: an approval from another
// device (ApproveOther) of a sign-in to an address with no account yet creates the account.
// If two-step verification is turned on for that account before the waiting browser finishes
// (the person, or whoever holds the new account's session, enrols in the minutes between), the
// waiting browser must be asked for the second step like every other sign-in of an account
// with two steps. Before, finishSignIn was given the approval's Created flag and skipped the
// two-step check for a created account, so the waiting browser was signed in with one step.
// A link used on its own device, which creates the account and finishes at once, is signed in
// without a second step, as before.
func TestAnApprovalThatCreatedTheAccountStillAsksForTheSecondStep16(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		box := &outbox{}
		e.svc.Mail = box
		mfas := mfa.New(e.db, e.kv, testSealer(t), e.clock.Now)
		e.svc.MFA = mfas
		ctx := e.ctx()
		who := "approved-new-account@example.com"
		browser := "browser-waiting-16"
		raw, err := e.svc.StartSignIn(ctx, who, "", "192.0.2.160", browser, "")
		if err != nil {
			t.Fatal(err)
		}
		link, _ := box.last(t, who)
		w, err := e.svc.WaitingSignIn(ctx, raw, browser)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.svc.ApproveOther(ctx, link, w.Match, "192.0.2.161"); err != nil {
			t.Fatalf("approving: %v", err)
		}
		u, err := e.db.User.Query().Where(user.Email(who)).Only(ctx)
		if err != nil {
			t.Fatalf("the approval created no account: %v", err)
		}

		// Two-step verification turned on for the new account before the browser finishes.
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
		if _, err := mfas.ConfirmTOTP(sctx, code, confirmation); err != nil {
			t.Fatal(err)
		}

		in, err := e.svc.FinishApproved(ctx, raw, browser)
		if err != nil {
			t.Fatalf("finishing: %v", err)
		}
		if in.SecondStep == "" {
			t.Fatalf("the waiting browser was signed in with one step (%+v) to an account whose two-step verification is on", in)
		}
		if in.FlowID != "" {
			t.Errorf("the sign-in finished a flow (%q) before its second step", in.FlowID)
		}

		// A new account signed in by its own link, with no second factor, needs none.
		fresh := "fresh-link-16@example.com"
		if err := e.svc.SendMagicLink(ctx, fresh, "192.0.2.162"); err != nil {
			t.Fatal(err)
		}
		freshLink, _ := box.last(t, fresh)
		in, err = e.svc.UseMagicLink(ctx, freshLink, "192.0.2.162", "browser-fresh-16")
		if err != nil || !in.Created || in.SecondStep != "" {
			t.Fatalf("a new account's own link: %+v, %v; want created and signed in with no second step", in, err)
		}
	})
}
