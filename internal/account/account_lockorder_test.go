package account_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/ent/appconnection"
	"loginsign/ent/appinvitation"
	"loginsign/ent/application"
	"loginsign/ent/appmember"
	"loginsign/ent/consent"
	"loginsign/ent/emailchange"
	"loginsign/ent/profilepicture"
	"loginsign/ent/useremail"
	"loginsign/internal/apperr"
	"loginsign/internal/connections"
	"loginsign/internal/identity"
	"loginsign/internal/ids"
	"loginsign/internal/profile"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
	"loginsign/internal/team"
)

// lockOrderRace is an operation that locks rows the closing of the person's account locks too,
// in another order before: an application and the person, or an application and the person's
// connection, or the connection alone. prepare readies it and returns it with hold, which locks,
// in the test's own transaction, a row of the person's that the closing deletes once it holds
// the person, and before the old code reached the application; left counts what the
// operation wrote, or the closing left.
type lockOrderRace struct {
	name    string
	prepare func(t *testing.T, e *env, person *ent.User) (op func() error, hold func(ctx context.Context, tx *ent.Tx))
	left    func(db *store.DB, person *ent.User) int
}

var lockOrderRaces = []lockOrderRace{
	{name: "ownership transfer accepted",
		prepare: func(t *testing.T, e *env, person *ent.User) (func() error, func(context.Context, *ent.Tx)) {
			ctx := context.Background()
			app := e.app("moving-" + ids.RandomLower(6))
			e.db.AppMember.Create().SetApplicationID(app.ID).SetUserID(person.ID).SetRole(appmember.RoleAdmin).
				SetEmail(person.Email).SetCreatedAt(now).SetUpdatedAt(now).ExecX(ctx)
			e.db.Application.UpdateOne(app).SetTransferTo(person.ID).SetTransferExpiresAt(now.Add(time.Hour)).ExecX(ctx)
			addr := e.db.UserEmail.Create().SetUserID(person.ID).SetEmail("spare-" + person.Email).SaveX(ctx)
			svc := &team.Service{DB: e.db, Now: func() time.Time { return now }}
			op := func() error { _, err := svc.AcceptTransfer(as(person), app.ID); return err }
			return op, func(ctx context.Context, tx *ent.Tx) {
				tx.UserEmail.Query().Where(useremail.ID(addr.ID)).ForUpdate().OnlyX(ctx)
			}
		},
		left: func(db *store.DB, person *ent.User) int {
			return db.Application.Query().Where(application.OwnerID(person.ID)).CountX(context.Background())
		}},
	{name: "address change requested by a connected application",
		prepare: func(t *testing.T, e *env, person *ent.User) (func() error, func(context.Context, *ent.Tx)) {
			app := e.app("sync-" + ids.RandomLower(6))
			conn := e.connect(person, app, person.Email)
			return requestChange(e, person, app, conn), holdConsent(e, conn)
		},
		left: func(db *store.DB, person *ent.User) int {
			return db.EmailChange.Query().Where(emailchange.UserID(person.ID)).CountX(context.Background())
		}},
	{name: "team invitation of a connected application accepted",
		prepare: func(t *testing.T, e *env, person *ent.User) (func() error, func(context.Context, *ent.Tx)) {
			app := e.app("joining-" + ids.RandomLower(6))
			hold := holdConsent(e, e.connect(person, app, ""))
			tok := ids.Secret("lsinv_")
			e.db.AppInvitation.Create().SetApplicationID(app.ID).SetEmail(person.Email).SetRole("developer").
				SetTokenHash(ids.Hash(tok)).SetInvitedBy(e.dev.ID).SetCreatedAt(now).SetExpiresAt(now.Add(time.Hour)).
				ExecX(context.Background())
			svc := &team.Service{DB: e.db, Now: func() time.Time { return now }}
			return func() error { _, _, err := svc.Accept(as(person), tok, ""); return err }, hold
		},
		left: func(db *store.DB, person *ent.User) int {
			return db.AppMember.Query().Where(appmember.UserID(person.ID)).CountX(context.Background())
		}},
	{name: "connection ended by the developer",
		prepare: func(t *testing.T, e *env, person *ent.User) (func() error, func(context.Context, *ent.Tx)) {
			app := e.app("ending-" + ids.RandomLower(6))
			conn := e.connect(person, app, "")
			// As portal.DeleteConnection ends it: the application locked first, then the
			// connection's rows.
			op := func() error {
				ctx := as(e.dev)
				return e.db.Tx(ctx, func(tx *ent.Tx) error {
					app, _, err := team.AuthorizeTx(ctx, tx, e.db.Dialect, app.ID, team.EditConnections)
					if err != nil {
						return err
					}
					c, err := tx.AppConnection.Query().Where(appconnection.ID(conn.ID), appconnection.ApplicationID(app.ID)).
						WithApplication().WithUser().Only(ctx)
					if err != nil {
						return store.Err(err, "connection")
					}
					return connections.Delete(ctx, tx, c, connections.DeletedByDeveloper, now)
				})
			}
			return op, holdConsent(e, conn)
		},
		left: connectionsOf},
	{name: "connection removed by the person in another tab",
		prepare: func(t *testing.T, e *env, person *ent.User) (func() error, func(context.Context, *ent.Tx)) {
			conn := e.connect(person, e.app("removing-"+ids.RandomLower(6)), "")
			return func() error { return e.svc.RemoveConnection(as(person), conn.ID) }, holdConsent(e, conn)
		},
		left: connectionsOf},
	// The profile's changes wrote the picture or the connections, then the person; the closing
	// locks the person, then the connections, and deletes the picture after the addresses.
	{name: "picture replaced",
		prepare: func(t *testing.T, e *env, person *ent.User) (func() error, func(context.Context, *ent.Tx)) {
			profiles, hold := pictured(e, person)
			return func() error { _, err := profiles.SetPicture(as(person), onePixelPNG(t)); return err }, hold
		},
		left: picturesOf},
	{name: "picture removed",
		prepare: func(t *testing.T, e *env, person *ent.User) (func() error, func(context.Context, *ent.Tx)) {
			profiles, hold := pictured(e, person)
			return func() error { _, err := profiles.RemovePicture(as(person)); return err }, hold
		},
		left: picturesOf},
	{name: "region changed",
		prepare: func(t *testing.T, e *env, person *ent.User) (func() error, func(context.Context, *ent.Tx)) {
			app := e.app("regional-" + ids.RandomLower(6))
			e.connect(person, app, "")
			profiles := profile.New(e.db, e.kv, "https://login.example.com", func() time.Time { return now })
			region := "DE"
			op := func() error {
				_, err := profiles.UpdateProfile(as(person), profile.Update{Region: &region})
				return err
			}
			// The application, which the closing takes (a key share) after the person and
			// before the connections.
			return op, func(ctx context.Context, tx *ent.Tx) {
				tx.Application.Query().Where(application.ID(app.ID)).ForUpdate().OnlyX(ctx)
			}
		},
		left: connectionsOf},
}

// pictured gives person a picture and returns the profile service with a hold of an address of
// theirs, which the closing deletes before the picture.
func pictured(e *env, person *ent.User) (*profile.Service, func(context.Context, *ent.Tx)) {
	ctx := context.Background()
	e.db.ProfilePicture.Create().SetUserID(person.ID).SetContentType("image/jpeg").SetData([]byte{1}).SetSha256("s").
		SetWidth(1).SetHeight(1).SetCreatedAt(now).ExecX(ctx)
	addr := e.db.UserEmail.Create().SetUserID(person.ID).SetEmail("spare-" + person.Email).SaveX(ctx)
	return profile.New(e.db, e.kv, "https://login.example.com", func() time.Time { return now }),
		func(ctx context.Context, tx *ent.Tx) {
			tx.UserEmail.Query().Where(useremail.ID(addr.ID)).ForUpdate().OnlyX(ctx)
		}
}

func picturesOf(db *store.DB, person *ent.User) int {
	return db.ProfilePicture.Query().Where(profilepicture.UserID(person.ID)).CountX(context.Background())
}

// onePixelPNG is a 1×1 PNG file.
func onePixelPNG(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, 1, 1))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func connectionsOf(db *store.DB, person *ent.User) int {
	return db.AppConnection.Query().Where(appconnection.UserID(person.ID)).CountX(context.Background())
}

// requestChange is the developer's email-sync request for person through conn to app, as
// the portal makes it: the developer's role is checked again, with the application locked, in
// the transaction that stores the request.
func requestChange(e *env, person *ent.User, app *ent.Application, conn *ent.AppConnection) func() error {
	requests := identity.New(e.db, e.kv, func() time.Time { return now }, identity.SessionConfig{})
	requests.Mail, requests.BaseURL = e.svc.Mail, e.svc.BaseURL
	return func() error {
		_, err := requests.RequestEmailChange(as(e.dev), person.ID, "moved-"+person.Email, identity.EmailChangeRequester{
			ApplicationID: app.ID, ApplicationName: app.Name, Actor: e.dev.ID, ConnectionID: conn.ID,
			Check: func(ctx context.Context, tx *ent.Tx) error {
				_, _, err := team.AuthorizeTx(ctx, tx, e.db.Dialect, app.ID, team.EditConnections)
				return err
			}})
		return err
	}
}

// holdConsent gives conn a consent and returns a hold of its row: the closing of the account
// deletes it before it queues the connection's user_account_deleted, which locks the
// application (the event's foreign key).
func holdConsent(e *env, conn *ent.AppConnection) func(context.Context, *ent.Tx) {
	e.db.Consent.Create().SetConnectionID(conn.ID).SetScopes([]string{"openid"}).ExecX(context.Background())
	return func(ctx context.Context, tx *ent.Tx) {
		tx.Consent.Query().Where(consent.ConnectionID(conn.ID)).ForUpdate().OnlyX(ctx)
	}
}

// An operation that locks an application and the person, or one of the person's connections,
// run while that person's account is being closed, neither deadlocks with the closing nor fails
// with an internal error: it waits for the closing (or the closing for it) and then finds the
// account or the connection gone (NotFound), and nothing is left behind. The closing locks the
// person, then the applications it writes rows of (the events queued for the connections, a
// team seat, a transfer proposed to the person), then the connections; the team's and the
// email-change request's operations lock the person before the application, and a developer
// ending a connection locks the application before the connection. Before, each of these
// locked in another order than the closing, PostgreSQL found the deadlock and aborted one of
// the two (SQLSTATE 40P01, an internal error). PostgreSQL only: SQLite transactions take turns.
func TestOperationsRacingAccountDeletionDoNotDeadlock(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.PostgresOnly(t))
	for i, c := range lockOrderRaces {
		t.Run(c.name, func(t *testing.T) {
			person := e.user(fmt.Sprintf("closing-%d@example.com", i))
			op, hold := c.prepare(t, e, person)
			deleteErr, opErr := e.raceHeldDeletion(t, person, hold, op)
			if deleteErr != nil {
				t.Errorf("closing the account: %v", deleteErr)
			}
			if !apperr.Is(opErr, apperr.NotFound) {
				t.Errorf("%s while the account closed: %v, want NotFound", c.name, opErr)
			}
			if n := c.left(e.db, person); n != 0 {
				t.Errorf("%d rows of the closed account left behind", n)
			}
		})
	}
}

// raceHeldDeletion closes person's account while hold, in a transaction of the test, keeps it
// waiting past the lock of the person's row; it runs op once the closing waits, lets the closing
// go once op waits too, and returns both errors (raceHeld).
func (e *env) raceHeldDeletion(t *testing.T, person *ent.User, hold func(context.Context, *ent.Tx), op func() error) (deleteErr, opErr error) {
	t.Helper()
	closing := func() error { _, err := e.svc.DeleteAccount(as(person), person.GlobalID, ""); return err }
	return e.raceHeld(t, hold, closing, op)
}

// personFirstRace is an operation that locks the person and then an application. prepare
// readies it and returns it with that application; after the closing, left counts what the
// operation wrote that the closing did not take away, and wantLeft is how much should stay.
type personFirstRace struct {
	name        string
	prepare     func(t *testing.T, e *env, person *ent.User) (op func() error, app *ent.Application)
	wantClosing string // the closing's error (apperr name), "" for none
	left        func(db *store.DB, person *ent.User) int
	wantLeft    int
}

var personFirstRaces = []personFirstRace{
	{name: "ownership transfer accepted",
		prepare: func(t *testing.T, e *env, person *ent.User) (func() error, *ent.Application) {
			ctx := context.Background()
			app := e.app("moving-" + ids.RandomLower(6))
			e.db.AppMember.Create().SetApplicationID(app.ID).SetUserID(person.ID).SetRole(appmember.RoleAdmin).
				SetEmail(person.Email).SetCreatedAt(now).SetUpdatedAt(now).ExecX(ctx)
			e.db.Application.UpdateOne(app).SetTransferTo(person.ID).SetTransferExpiresAt(now.Add(time.Hour)).ExecX(ctx)
			svc := &team.Service{DB: e.db, Now: func() time.Time { return now }}
			return func() error { _, err := svc.AcceptTransfer(as(person), app.ID); return err }, app
		},
		// The transfer went through past the closing's first check: the closing is refused
		// as it would have been a moment later, and the account keeps its application.
		wantClosing: "owns_applications",
		left: func(db *store.DB, person *ent.User) int {
			return db.Application.Query().Where(application.OwnerID(person.ID)).CountX(context.Background())
		},
		wantLeft: 1},
	{name: "team invitation accepted",
		prepare: func(t *testing.T, e *env, person *ent.User) (func() error, *ent.Application) {
			app := e.app("joining-" + ids.RandomLower(6))
			tok := ids.Secret("lsinv_")
			e.db.AppInvitation.Create().SetApplicationID(app.ID).SetEmail(person.Email).SetRole("developer").
				SetTokenHash(ids.Hash(tok)).SetInvitedBy(e.dev.ID).SetCreatedAt(now).SetExpiresAt(now.Add(time.Hour)).
				ExecX(context.Background())
			svc := &team.Service{DB: e.db, Now: func() time.Time { return now }}
			return func() error { _, _, err := svc.Accept(as(person), tok, ""); return err }, app
		},
		left: func(db *store.DB, person *ent.User) int {
			return db.AppMember.Query().Where(appmember.UserID(person.ID)).CountX(context.Background())
		}},
	{name: "team invitation sent",
		prepare: func(t *testing.T, e *env, person *ent.User) (func() error, *ent.Application) {
			app := e.app("inviting-" + ids.RandomLower(6))
			e.db.AppMember.Create().SetApplicationID(app.ID).SetUserID(person.ID).SetRole(appmember.RoleAdmin).
				SetEmail(person.Email).SetCreatedAt(now).SetUpdatedAt(now).ExecX(context.Background())
			svc := &team.Service{DB: e.db, Now: func() time.Time { return now }}
			return func() error {
				_, err := svc.Invite(as(person), app.ID, "friend-of-"+person.Email, team.Developer)
				return err
			}, app
		},
		left: func(db *store.DB, person *ent.User) int {
			return db.AppInvitation.Query().Where(appinvitation.InvitedBy(person.ID),
				appinvitation.AcceptedAtIsNil(), appinvitation.RevokedAtIsNil()).CountX(context.Background())
		}},
	{name: "address change requested by a connected application",
		prepare: func(t *testing.T, e *env, person *ent.User) (func() error, *ent.Application) {
			app := e.app("sync-" + ids.RandomLower(6))
			return requestChange(e, person, app, e.connect(person, app, person.Email)), app
		},
		left: func(db *store.DB, person *ent.User) int {
			return db.EmailChange.Query().Where(emailchange.UserID(person.ID)).CountX(context.Background())
		}},
}

// An operation that locks the person and then an application, and waits for the application
// (held by the test, as by a developer's change), makes the closing of the person's account
// wait for it: the operation goes through, and the closing then takes away what it wrote (a
// seat, an invitation, an address change request), or is refused if it made the person an
// owner (Conflict, owns_applications; before, the closing failed on the application's foreign
// key to the account, an internal error). Before, these operations locked the application
// first: the closing took the person meanwhile and waited for the application, and PostgreSQL
// aborted one of the two (deadlock detected, an internal error). PostgreSQL only.
func TestOperationsLockingThePersonFirstMakeAClosingWait(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.PostgresOnly(t))
	ctx := context.Background()
	for i, c := range personFirstRaces {
		t.Run(c.name, func(t *testing.T) {
			person := e.user(fmt.Sprintf("staying-%d@example.com", i))
			op, app := c.prepare(t, e, person)
			hold, err := e.db.Client.Tx(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer hold.Rollback()
			hold.Application.Query().Where(application.ID(app.ID)).ForUpdate().OnlyX(ctx)

			opDone := make(chan error, 1)
			go func() { opDone <- op() }()
			if err, ended := e.waitForLockWaiters(t, 1, opDone); ended {
				t.Fatalf("%s did not wait for the held application: %v", c.name, err)
			}
			deleted := make(chan error, 1)
			go func() { _, err := e.svc.DeleteAccount(as(person), person.GlobalID, ""); deleted <- err }()
			if err, ended := e.waitForLockWaiters(t, 2, deleted); ended {
				t.Fatalf("the closing did not wait (closed: %v)", err)
			}
			if err := hold.Rollback(); err != nil {
				t.Fatal(err)
			}
			if err := <-opDone; err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			if err := <-deleted; errName(err) != c.wantClosing {
				t.Errorf("closing the account: %v, want %q", err, c.wantClosing)
			}
			if n := c.left(e.db, person); n != c.wantLeft {
				t.Errorf("%d rows of %s left, want %d", n, c.name, c.wantLeft)
			}
		})
	}
}

// errName is err's apperr name, "" for nil.
func errName(err error) string {
	if err == nil {
		return ""
	}
	return apperr.As(err).Name()
}
