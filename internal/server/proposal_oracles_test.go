package server

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"loginsign/ent/appconnection"
	"loginsign/internal/auth"
	"loginsign/internal/portal"
)

// TestAConfirmedProposalSendsTheAliasAppNoLogout: an application that sees a person
// only by their relay alias proposes an address (PATCH …/users/:connectionId/email). The
// person's answer must not reach the application (README, activity log: "an app that sees the
// relay alias would learn which of its proposed addresses is the person's"). When the guess is
// an address of the person's and they confirm it, the primary changes, their other sessions
// end, and every application signed in to since then got a back-channel logout: the alias
// app among them, within seconds of the confirmation, while a guess that is not theirs (which
// nobody can confirm) or their current primary (confirming changes nothing) sent none. The
// logout answered the guess; a confirmed proposal now ends no session.
func TestAConfirmedProposalSendsTheAliasAppNoLogout(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	rcv := newLogoutReceiver(t)
	e.updateApp(e.app, portal.ApplicationPatch{BackchannelLogoutURI: &rcv.URL})
	phone := e.browser()
	e.signInIDToken(phone, e.app, "n") // ann signs in to LoginSign, then to the app, behind her alias

	ctx := context.Background()
	ann := e.userByEmail(defaultTestEmail)
	conn, err := e.srv.db.AppConnection.Query().
		Where(appconnection.UserID(ann.ID), appconnection.ApplicationID(e.app.ID)).Only(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if conn.AppEmail != "" {
		t.Fatalf("the app sees %q, want only the alias", conn.AppEmail)
	}

	// The developer guesses another mailbox of hers.
	guess := "ann.elsewhere@example.com"
	dev := e.userByEmail("dev@example.com")
	devCtx := auth.WithSession(ctx, auth.Session{UserID: dev.ID, SignedInAt: time.Now()})
	if pending, err := e.srv.portal.SyncEmail(devCtx, e.app.ID, conn.ID, guess); err != nil || !pending {
		t.Fatalf("proposal: pending=%v err=%v", pending, err)
	}
	tok := e.mailToken(guess, "lsec_")

	// Ann reads it in that mailbox and confirms, signed in again just now in another browser.
	as := auth.WithSession(ctx, auth.Session{UserID: ann.ID, ID: "the-confirming-session", SignedInAt: time.Now()})
	if _, err := e.srv.identity.ConfirmEmailChange(as, tok, e.changeCodeAs(as)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.srv.webhooks.Worker.DeliverDue(ctx); err != nil {
		t.Fatal(err)
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if len(rcv.got) != 0 {
		t.Errorf("the alias-only app that proposed %s got %d back-channel logout(s) when ann confirmed it: "+
			"its guess was her address", guess, len(rcv.got))
	}
}

// TestAnImportDuringTheConsentPageDoesNotHoldTheAnswerBack: an application that
// sees a person only by their alias asks for consent again (prompt=consent) and, while the
// page is open, imports a guess of the person's address. A wrong guess matches none of the
// person's addresses and their "allow" comes back to the application with a code at once; a
// right one becomes a pending link the page did not name, and the same "allow" was sent back
// to the consent page instead: the application's redirect did not come, or came late, or
// turned into access_denied. Whether the answer reaches the application must
// not depend on the guess: the record the page did not name is left for a later page, and the
// answer the person gave goes through.
func TestAnImportDuringTheConsentPageDoesNotHoldTheAnswerBack(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	b := e.browser()
	e.connect(b, e.app, defaultTestEmail) // behind her alias
	ctx := context.Background()
	ann := e.userByEmail(defaultTestEmail)
	dev := e.userByEmail("dev@example.com")
	devCtx := auth.WithSession(ctx, auth.Session{UserID: dev.ID, SignedInAt: time.Now()})

	for _, guess := range []string{"not.ann@example.com", defaultTestEmail} {
		conf := e.config(e.app, rpCallback)
		p := b.get(conf.AuthCodeURL("st", oauth2.SetAuthURLParam("prompt", "consent")))
		if p.StatusCode != 200 || !strings.Contains(p.Body, `value="allow"`) {
			t.Fatalf("prompt=consent: %d %s", p.StatusCode, p.Request.URL)
		}
		// The page is open; the developer imports the guess under a telling id.
		if _, err := e.srv.portal.Import(devCtx, e.app.ID, portal.ImportRequest{Kind: "json",
			Users: []portal.ImportUser{{ExternalUserID: "guess:" + guess, Email: guess}}}); err != nil {
			t.Fatal(err)
		}
		p = b.consent(p, "allow", "")
		loc, _ := url.Parse(p.Header.Get("Location"))
		if (p.StatusCode != http.StatusSeeOther && p.StatusCode != http.StatusFound) || loc == nil || loc.Host != rpCallbackHost || loc.Query().Get("code") == "" {
			t.Errorf("guess %s: ann's allow did not come back to the app with a code (%d at %s): the app learns its guess was her address",
				guess, p.StatusCode, p.Request.URL)
		}
		conn, err := e.srv.db.AppConnection.Query().
			Where(appconnection.UserID(ann.ID), appconnection.ApplicationID(e.app.ID)).Only(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if conn.ExternalUserID != "" {
			t.Errorf("guess %s: a record the page did not name was accepted (externalUserId %q)", guess, conn.ExternalUserID)
		}
	}
}
