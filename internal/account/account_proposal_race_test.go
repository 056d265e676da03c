package account_test

import (
	"context"
	"regexp"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/ent/appconnection"
	"loginsign/ent/emailchange"
	"loginsign/internal/apperr"
	"loginsign/internal/identity"
	"loginsign/internal/ids"
	"loginsign/internal/portal"
	"loginsign/internal/store/storetest"
)

var confirmLinkRE = regexp.MustCompile(`/account/email-change/confirm\?token=(\S+)`)

// proposalEnv is env with the services of a developer's address change proposal: the portal
// that asks (portal.SyncEmail) and an identity service that mails.
type proposalEnv struct {
	*env
	requests  *identity.Service
	developer *portal.Service
}

func newProposalEnv(e *env) *proposalEnv {
	requests := identity.New(e.db, e.kv, func() time.Time { return now }, identity.SessionConfig{})
	requests.Mail, requests.BaseURL = e.svc.Mail, e.svc.BaseURL
	return &proposalEnv{env: e, requests: requests,
		developer: &portal.Service{DB: e.db, Identity: requests, Now: func() time.Time { return now }}}
}

// connected is a new person connected to a new application of e.dev, which is shown their
// address (a confirmed change moves that connection too).
func (e *proposalEnv) connected() (*ent.User, *ent.Application, *ent.AppConnection) {
	person := e.user("proposed-" + ids.RandomLower(6) + "@example.com")
	app := e.app("proposer-" + ids.RandomLower(6))
	return person, app, e.connect(person, app, person.Email)
}

// propose is the developer's proposal of addr to person through conn; it returns the token of
// the confirmation link.
func (e *proposalEnv) propose(t *testing.T, person *ent.User, app *ent.Application, conn *ent.AppConnection, addr string) string {
	t.Helper()
	before := e.smtp.Count()
	if pending, err := e.developer.SyncEmail(as(e.dev), app.ID, conn.ID, addr); err != nil || !pending {
		t.Fatalf("the proposal: %v %v", pending, err)
	}
	for _, m := range e.smtp.Wait(t, before+2)[before:] {
		if l := confirmLinkRE.FindStringSubmatch(m.Text); l != nil && m.To[0] == addr {
			return l[1]
		}
	}
	t.Fatalf("no confirmation link mailed to %s", addr)
	return ""
}

// ending is a way the application's relation to the person ends.
type ending struct {
	name string
	end  func(e *proposalEnv, person *ent.User, app *ent.Application, conn *ent.AppConnection) error
}

var endings = []ending{
	{"the person removes the app", func(e *proposalEnv, person *ent.User, _ *ent.Application, conn *ent.AppConnection) error {
		return e.svc.RemoveConnection(as(person), conn.ID)
	}},
	{"the developer ends the connection", func(e *proposalEnv, _ *ent.User, app *ent.Application, conn *ent.AppConnection) error {
		return e.developer.DeleteConnection(as(e.dev), app.ID, conn.ID)
	}},
	{deletesTheApplication, func(e *proposalEnv, _ *ent.User, app *ent.Application, _ *ent.AppConnection) error {
		return e.developer.DeleteApplication(as(e.dev), app.ID)
	}},
}

// deletesTheApplication names the ending that begins with the application's deletion mark.
const deletesTheApplication = "the developer deletes the application"

// The person confirming a developer's proposal while the application's relation to them ends
// (they remove the app, the developer ends the connection or deletes the application) neither
// deadlocks nor confirms a proposal that ended. Whichever locks first goes through and the
// other waits: an ending first supersedes (or deletes) the request, and the confirmation then
// answers Gone and changes nothing; a confirmation first changes the address, and the ending
// then ends the connection. The confirmation locks the person, then the application and the
// connection (key shares), then the request; every ending holds the application or the
// connection before it writes the request. Before, the confirmation took the request first:
// racing a removal that supersedes it, each waited for the other until PostgreSQL aborted one
// (deadlock detected), and an ending that did not touch the request left it confirmable. The
// test holds a row the first call needs after taking its locks (the connection's consent,
// which every ending but the deletion deletes; the request, which the deletion's first
// transaction supersedes with the application locked; the claim of the proposed address,
// which the confirmation writes) and starts the second once the first waits there.
// PostgreSQL only.
func TestConfirmingAProposalWhileTheRelationEndsDoesNotDeadlock(t *testing.T) {
	t.Parallel()
	e := newProposalEnv(newEnv(t, storetest.PostgresOnly(t)))
	ctx := context.Background()
	for _, end := range endings {
		for _, endingFirst := range []bool{true, false} {
			name := end.name + ", the confirmation first"
			if endingFirst {
				name = end.name + " first"
			}
			t.Run(name, func(t *testing.T) {
				person, app, conn := e.connected()
				addr := "moved-" + ids.RandomLower(6) + "@example.net"
				token := e.propose(t, person, app, conn, addr)
				confirm := func() error { _, err := e.requests.ConfirmEmailChange(as(person), token, ""); return err }
				ends := func() error { return end.end(e, person, app, conn) }
				hold, first, second := holdConsent(e.env, conn), ends, confirm
				if end.name == deletesTheApplication {
					// The deletion supersedes the request in its first transaction, with the
					// application locked, before any connection ends: the confirmation meets it
					// there, not at the consent.
					hold = holdRequest(person)
				}
				if !endingFirst {
					hold, first, second = holdClaim(addr), confirm, ends
				}
				firstErr, secondErr := e.raceHeld(t, hold, first, second)
				endErr, confirmErr := firstErr, secondErr
				if !endingFirst {
					endErr, confirmErr = secondErr, firstErr
				}
				if endErr != nil {
					t.Errorf("the ending: %v", endErr)
				}
				wantEmail := addr
				if endingFirst {
					wantEmail = person.Email
					if !apperr.Is(confirmErr, apperr.Gone) {
						t.Errorf("the confirmation after the ending: %v, want Gone", confirmErr)
					}
				} else if confirmErr != nil {
					t.Errorf("the confirmation before the ending: %v", confirmErr)
				}
				if got := e.db.User.GetX(ctx, person.ID); got.Email != wantEmail {
					t.Errorf("the primary address is %s, want %s", got.Email, wantEmail)
				}
				if n := e.db.AppConnection.Query().Where(appconnection.ID(conn.ID)).CountX(ctx); n != 0 {
					t.Errorf("the connection is still there")
				}
				if n := e.db.EmailChange.Query().Where(emailchange.UserID(person.ID), emailchange.StatusEQ(emailchange.StatusPending)).CountX(ctx); n != 0 {
					t.Errorf("%d requests still pending", n)
				}
			})
		}
	}
}

// A developer's proposal made while the person removes the app, through the connection being
// removed, is refused (NotFound) and leaves no request behind: the request reads the
// connection again once it holds the application, which the removal holds until it commits.
// Before, the proposal read the connection before its transaction, found it, and stored a
// request after the removal had superseded the application's open ones: a proposal of an app
// the person had just removed, pending and confirmable. PostgreSQL only.
func TestAProposalRacingTheRemovalOfTheAppIsRefused(t *testing.T) {
	t.Parallel()
	e := newProposalEnv(newEnv(t, storetest.PostgresOnly(t)))
	ctx := context.Background()
	person, app, conn := e.connected()
	remove := func() error { return e.svc.RemoveConnection(as(person), conn.ID) }
	propose := func() error {
		_, err := e.developer.SyncEmail(as(e.dev), app.ID, conn.ID, "moved-"+ids.RandomLower(6)+"@example.net")
		return err
	}
	removeErr, proposeErr := e.raceHeld(t, holdConsent(e.env, conn), remove, propose)
	if removeErr != nil {
		t.Errorf("the removal: %v", removeErr)
	}
	if !apperr.Is(proposeErr, apperr.NotFound) {
		t.Errorf("the proposal racing the removal: %v, want NotFound", proposeErr)
	}
	if n := e.db.EmailChange.Query().Where(emailchange.UserID(person.ID), emailchange.StatusEQ(emailchange.StatusPending)).CountX(ctx); n != 0 {
		t.Errorf("%d requests pending for an app the person removed", n)
	}
}

// holdRequest holds person's pending address change request, which the application's
// deletion supersedes in its first transaction.
func holdRequest(person *ent.User) func(context.Context, *ent.Tx) {
	return func(ctx context.Context, tx *ent.Tx) {
		tx.EmailChange.Query().Where(emailchange.UserID(person.ID), emailchange.StatusEQ(emailchange.StatusPending)).ForUpdate().OnlyX(ctx)
	}
}

// holdClaim holds addr's claim: a confirmation of a change to addr waits for it to claim the
// address, with the person, the application, the connection and the request locked.
func holdClaim(addr string) func(context.Context, *ent.Tx) {
	return func(ctx context.Context, tx *ent.Tx) {
		tx.AddressClaim.Create().SetAddress(addr).SetUserID("held").SetCreatedAt(now).ExecX(ctx)
	}
}
