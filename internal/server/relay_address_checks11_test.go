package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"loginsign/ent/appconnection"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
)

// TestARelayAddressIsNeverProposedOrAddedAsAPersonsAddress: an application knows the relay
// alias it was given for a person, and proposed it as the person's new primary address (PATCH
// …/users/:connectionId/email). The confirmation went to the alias, which the relay forwards
// to the person: one click and the code the page mails, and the account's primary address was
// the alias. The account's own mail (sign-in links, codes, security notices) then went back
// into the relay and was dropped as a loop, and every application shown the old primary
// address was sent email_changed with this application's alias. A relay address (an alias or
// a reverse alias, any case) is refused as a proposal and as an alternative address
// (400 relay_address), before anything is stored or mailed.
func TestARelayAddressIsNeverProposedOrAddedAsAPersonsAddress(t *testing.T) {
	t.Parallel()
	// The relay domain a deployment has: a DNS name (the tests' default, relay. + 127.0.0.1,
	// is no domain an address can have).
	e := sqliteEnv(t, withEnv("LOGINSIGN_RELAY_DOMAIN", "relay.example.test"))
	phone := e.browser()
	e.signInIDToken(phone, e.app, "n") // ann signs in to the app behind her alias

	ctx := context.Background()
	ann := e.userByEmail(defaultTestEmail)
	conn, err := e.srv.db.AppConnection.Query().
		Where(appconnection.UserID(ann.ID), appconnection.ApplicationID(e.app.ID)).Only(ctx)
	if err != nil {
		t.Fatal(err)
	}
	domain := conn.AliasEmail[strings.LastIndexByte(conn.AliasEmail, '@')+1:]
	relayAddresses := []string{conn.AliasEmail, strings.ToUpper(conn.AliasEmail), "r-abcdefgh@" + domain}

	dev := e.userByEmail("dev@example.com")
	devCtx := auth.WithSession(ctx, auth.Session{UserID: dev.ID, SignedInAt: time.Now()})
	for _, addr := range relayAddresses {
		pending, err := e.srv.portal.SyncEmail(devCtx, e.app.ID, conn.ID, addr)
		if ae := apperr.As(err); err == nil || ae.Code != apperr.Invalid || ae.Reason != "relay_address" {
			t.Errorf("the application proposed %s: pending=%v, err=%v; want 400 relay_address", addr, pending, err)
		}
	}

	as := auth.WithSession(ctx, auth.Session{UserID: ann.ID, ID: "anns-session", SignedInAt: time.Now()})
	for _, addr := range relayAddresses {
		_, err := e.srv.account.AddAlternativeEmail(as, addr, "")
		if ae := apperr.As(err); err == nil || ae.Code != apperr.Invalid || ae.Reason != "relay_address" {
			t.Errorf("ann added %s: err=%v; want 400 relay_address", addr, err)
		}
	}

	if n := e.srv.db.EmailChange.Query().CountX(ctx); n != 0 {
		t.Errorf("%d address change requests stored, want none", n)
	}
	if n := e.srv.db.UserEmail.Query().CountX(ctx); n != 0 {
		t.Errorf("%d alternative addresses stored, want none", n)
	}
	if n := e.mailsTo(conn.AliasEmail); n != 0 {
		t.Errorf("%d mails sent to the alias, want none", n)
	}
}
