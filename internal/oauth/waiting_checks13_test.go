package oauth_test

import (
	"testing"

	"loginsign/internal/apperr"
	"loginsign/internal/oauth"
)

// TestResendDrawsANewApprovalNumber: the number a waiting page shows for an approval from
// another device changes with every resend. Each link has ApproveAttempts tries at it, so a
// number kept across resends let the holder of the links (the owner of an address a stranger's
// browser was made to wait for, from an old link's "email me a new link" or an app's
// login_hint) rule out three numbers per resend and sign that browser in to their own account
// (login CSRF) once the 90 were exhausted. After a resend, the old number approves nothing and
// the new one approves.
func TestResendDrawsANewApprovalNumber(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		box := &outbox{}
		e.svc.Mail = box
		ctx := e.ctx()
		who := "resend-number@example.com"
		browser := "browser-rn"
		raw, err := e.svc.StartSignIn(ctx, who, "", "192.0.2.140", browser, "")
		if err != nil {
			t.Fatal(err)
		}
		first, _ := box.last(t, who)
		w, err := e.svc.WaitingSignIn(ctx, raw, browser)
		if err != nil {
			t.Fatal(err)
		}
		old := w.Match
		wrong := "10"
		if old == wrong {
			wrong = "11"
		}
		if err := e.svc.ApproveOther(ctx, first, wrong, "192.0.2.141"); err == nil {
			t.Fatal("a wrong number approved")
		}
		e.clock.Advance(e.svc.Config.ResendAfter + 1)
		if err := e.svc.Resend(ctx, raw, "192.0.2.140", browser); err != nil {
			t.Fatalf("resend: %v", err)
		}
		second, _ := box.last(t, who)
		w, err = e.svc.WaitingSignIn(ctx, raw, browser)
		if err != nil {
			t.Fatal(err)
		}
		if w.Match == old {
			t.Fatalf("the approval number after a resend is still %s: the new link's tries are spent on the same number", old)
		}
		if err := e.svc.ApproveOther(ctx, second, old, "192.0.2.142"); !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("the number from before the resend: %v, want Invalid", err)
		}
		if err := e.svc.ApproveOther(ctx, second, w.Match, "192.0.2.142"); err != nil {
			t.Fatalf("the new number: %v", err)
		}
	})
}

// TestApprovalTriesAreTheWaitingSignInsNotTheLinks: the ApproveAttempts tries at the number
// belong to the waiting sign-in, not to each link it is sent. Counted per link, the holder of
// the links of a browser made to wait for their address got three more guesses with every
// resend: with an address's 20 links a day, 60 of the 90 numbers, and the browser signed in to
// their account. Once the tries are spent, a new link approves nothing, even with the right
// number; it still signs in on the device it is opened on, and a new sign-in in the waiting
// browser has tries of its own.
func TestApprovalTriesAreTheWaitingSignInsNotTheLinks(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		box := &outbox{}
		e.svc.Mail = box
		ctx := e.ctx()
		who := "approve-budget@example.com"
		browser := "browser-ab"
		raw, err := e.svc.StartSignIn(ctx, who, "", "192.0.2.150", browser, "")
		if err != nil {
			t.Fatal(err)
		}
		first, _ := box.last(t, who)
		w, err := e.svc.WaitingSignIn(ctx, raw, browser)
		if err != nil {
			t.Fatal(err)
		}
		wrong := "10"
		if w.Match == wrong {
			wrong = "11"
		}
		for i := 0; i < oauth.ApproveAttempts; i++ {
			if err := e.svc.ApproveOther(ctx, first, wrong, "192.0.2.151"); err == nil {
				t.Fatal("a wrong number approved")
			}
		}
		e.clock.Advance(e.svc.Config.ResendAfter + 1)
		if err := e.svc.Resend(ctx, raw, "192.0.2.150", browser); err != nil {
			t.Fatalf("resend: %v", err)
		}
		second, _ := box.last(t, who)
		if w, err = e.svc.WaitingSignIn(ctx, raw, browser); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.ApproveOther(ctx, second, w.Match, "192.0.2.152"); !apperr.Is(err, apperr.Forbidden) {
			t.Fatalf("the right number on a resent link after %d wrong ones: %v, want Forbidden (the tries are spent)", oauth.ApproveAttempts, err)
		}
		if w, err = e.svc.WaitingSignIn(ctx, raw, browser); err != nil || w.State != "" {
			t.Fatalf("the waiting sign-in after a refused approval: %+v, %v; want still waiting", w, err)
		}

		// A new sign-in in the waiting browser has tries of its own.
		raw2, err := e.svc.StartSignIn(ctx, who, "", "192.0.2.150", browser, "")
		if err != nil {
			t.Fatal(err)
		}
		third, _ := box.last(t, who)
		w2, err := e.svc.WaitingSignIn(ctx, raw2, browser)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.svc.ApproveOther(ctx, third, w2.Match, "192.0.2.153"); err != nil {
			t.Fatalf("a new sign-in's number: %v", err)
		}
		// The spent link of the first sign-in still signs in on the device it is opened on.
		if _, err := e.svc.UseMagicLink(ctx, second, "192.0.2.154", "browser-phone"); err != nil {
			t.Fatalf("the link on its own device: %v", err)
		}
	})
}
