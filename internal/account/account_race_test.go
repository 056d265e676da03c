package account_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"loginsign/ent"
	"loginsign/ent/activityevent"
	"loginsign/ent/addressclaim"
	"loginsign/ent/appinvitation"
	"loginsign/ent/application"
	"loginsign/ent/appmember"
	entpasskey "loginsign/ent/passkey"
	"loginsign/ent/pendinglink"
	"loginsign/ent/recoverycode"
	"loginsign/ent/totpfactor"
	"loginsign/ent/useremail"
	"loginsign/ent/webhookevent"
	"loginsign/internal/activity"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/dataexport"
	"loginsign/internal/identity"
	"loginsign/internal/ids"
	"loginsign/internal/mfa"
	"loginsign/internal/oauth"
	"loginsign/internal/passkey"
	"loginsign/internal/passkey/passkeytest"
	"loginsign/internal/ratelimit"
	"loginsign/internal/seal"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
	"loginsign/internal/team"
)

// A verification and a removal of one alternative address, at the same moment, never leave
// the address claimed by an account that does not hold it: whichever commits first, the claim
// goes with the address (or never comes), and the address can be claimed again. Many rounds,
// with the removal started a little later each time, on SQLite and PostgreSQL (where the two
// transactions overlap).
func TestVerifyRacingRemovalLeavesNoOrphanClaim(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		const rounds = 40
		removed := 0
		for i := range rounds {
			u := e.user(fmt.Sprintf("racer-%d@example.com", i))
			addr := fmt.Sprintf("backup-%d@example.org", i)
			before := e.smtp.Count()
			ue, err := e.svc.AddAlternativeEmail(as(u), addr, "")
			if err != nil {
				t.Fatal(err)
			}
			msgs := e.smtp.Wait(t, before+1)
			tok := linkRE.FindStringSubmatch(msgs[len(msgs)-1].Text)
			if tok == nil {
				t.Fatal("no verification link")
			}
			var wg sync.WaitGroup
			var verifyErr, removeErr error
			wg.Go(func() { _, verifyErr = e.svc.VerifyAlternativeEmail(as(u), tok[1]) })
			wg.Go(func() {
				// Staggered so the rounds cover the removal's read falling before, inside and
				// after the verification's transaction.
				time.Sleep(time.Duration(i%8) * 250 * time.Microsecond)
				removeErr = e.svc.RemoveAlternativeEmail(as(u), ue.ID, "")
			})
			wg.Wait()
			if removeErr != nil {
				t.Fatalf("round %d: removal: %v", i, removeErr)
			}
			if verifyErr != nil && !apperr.Is(verifyErr, apperr.Invalid) {
				t.Errorf("round %d: verification: %v, want success or Invalid (removed first)", i, verifyErr)
			}
			removed++
		}
		for _, c := range db.AddressClaim.Query().AllX(ctx) {
			u, err := db.User.Get(ctx, c.UserID)
			if err != nil {
				t.Errorf("claim on %s by a missing account: %v", c.Address, err)
				continue
			}
			holds := u.Email == c.Address ||
				db.UserEmail.Query().Where(useremail.UserID(u.ID), useremail.Email(c.Address), useremail.VerifiedAtNotNil()).ExistX(ctx)
			if !holds {
				t.Errorf("%s is claimed by %s, who no longer holds it: nobody can sign up with or verify it", c.Address, u.GlobalID)
			}
		}
		other := e.user("someone-else@example.com")
		for i := range removed {
			addr := fmt.Sprintf("backup-%d@example.org", i)
			err := db.Tx(ctx, func(tx *ent.Tx) error { return identity.ClaimAddress(ctx, tx, other.ID, addr, now) })
			if err != nil {
				t.Errorf("%s cannot be claimed again after its removal: %v", addr, err)
			}
		}
		if n := db.AddressClaim.Query().Where(addressclaim.UserID(other.ID)).CountX(ctx); n != removed+1 {
			t.Errorf("the other account holds %d claims, want %d", n, removed+1)
		}
	})
}

// deletionRace is an operation of the person that writes rows keyed by their user id (no
// foreign key ties them to the account): prepare readies it before the account's deletion,
// left counts what it wrote. An operation that succeeds did what the person asked (their
// sessions end) and skips only its record of it; the others are refused with NotFound, or,
// when they finish an enrolment that ended with the account (ended), with Gone.
type deletionRace struct {
	name     string
	prepare  func(t *testing.T, e *env, person *ent.User) func(ctx context.Context) error
	left     func(db *store.DB, person *ent.User) int
	succeeds bool
	ended    bool
}

var deletionRaces = []deletionRace{
	{name: "team invitation accepted",
		prepare: func(t *testing.T, e *env, person *ent.User) func(ctx context.Context) error {
			ctx := context.Background()
			app := e.app("team-" + ids.RandomLower(6))
			tok := ids.Secret("lsinv_")
			e.db.AppInvitation.Create().SetApplicationID(app.ID).SetEmail(person.Email).SetRole("developer").
				SetTokenHash(ids.Hash(tok)).SetInvitedBy(e.dev.ID).SetCreatedAt(now).SetExpiresAt(now.Add(time.Hour)).
				ExecX(ctx)
			svc := &team.Service{DB: e.db, Now: func() time.Time { return now }}
			return func(ctx context.Context) error { _, _, err := svc.Accept(ctx, tok, ""); return err }
		},
		left: func(db *store.DB, person *ent.User) int {
			return db.AppMember.Query().Where(appmember.UserID(person.ID)).CountX(context.Background())
		}},
	{name: "team invitation sent",
		prepare: func(t *testing.T, e *env, person *ent.User) func(ctx context.Context) error {
			ctx := context.Background()
			app := e.app("inviting-" + ids.RandomLower(6))
			e.db.AppMember.Create().SetApplicationID(app.ID).SetUserID(person.ID).SetRole(appmember.RoleAdmin).
				SetEmail(person.Email).SetCreatedAt(now).SetUpdatedAt(now).ExecX(ctx)
			svc := &team.Service{DB: e.db, Now: func() time.Time { return now }}
			return func(ctx context.Context) error {
				_, err := svc.Invite(ctx, app.ID, "friend-of-"+person.Email, team.Developer)
				return err
			}
		},
		left: func(db *store.DB, person *ent.User) int {
			return db.AppInvitation.Query().Where(appinvitation.InvitedBy(person.ID),
				appinvitation.AcceptedAtIsNil(), appinvitation.RevokedAtIsNil()).CountX(context.Background())
		}},
	{name: "TOTP confirmed",
		prepare: func(t *testing.T, e *env, person *ent.User) func(ctx context.Context) error {
			svc := mfa.New(e.db, e.kv, sealer(t, "totp secrets"), func() time.Time { return now })
			enrol, err := svc.BeginTOTP(as(person), person.Email)
			if err != nil {
				t.Fatal(err)
			}
			code, err := totp.GenerateCodeCustom(enrol.Secret, now, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
			if err != nil {
				t.Fatal(err)
			}
			confirmation, _, err := svc.IssuePasskeyConfirmation(context.Background(), person.ID)
			if err != nil {
				t.Fatal(err)
			}
			return func(ctx context.Context) error { _, err := svc.ConfirmTOTP(ctx, code, confirmation); return err }
		},
		left: func(db *store.DB, person *ent.User) int {
			ctx := context.Background()
			return db.TOTPFactor.Query().Where(totpfactor.UserID(person.ID)).CountX(ctx) +
				db.RecoveryCode.Query().Where(recoverycode.UserID(person.ID)).CountX(ctx)
		},
		ended: true},
	{name: "passkey registered",
		prepare: func(t *testing.T, e *env, person *ent.User) func(ctx context.Context) error {
			svc, err := passkey.New(e.db, e.kv, "https://login.example.com", func() time.Time { return now })
			if err != nil {
				t.Fatal(err)
			}
			options, err := svc.BeginRegistration(as(person))
			if err != nil {
				t.Fatal(err)
			}
			response := passkeytest.New(t, false).Register(t, options, "https://login.example.com", 0)
			return func(ctx context.Context) error { _, err := svc.FinishRegistration(ctx, "Laptop", response); return err }
		},
		left: func(db *store.DB, person *ent.User) int {
			return db.Passkey.Query().Where(entpasskey.UserID(person.ID)).CountX(context.Background())
		},
		ended: true},
	{name: "other sessions signed out",
		prepare: func(t *testing.T, e *env, person *ent.User) func(ctx context.Context) error {
			return func(ctx context.Context) error {
				e.session(t, person) // signed in on another device
				_, err := e.identity.SignOutOtherSessions(ctx)
				return err
			}
		},
		left: activityOf, succeeds: true},
	{name: "a session signed out from the list",
		prepare: func(t *testing.T, e *env, person *ent.User) func(ctx context.Context) error {
			return func(ctx context.Context) error {
				return e.identity.SignOutSession(ctx, ids.Hash(e.session(t, person)))
			}
		},
		left: activityOf, succeeds: true},
	{name: "signed out",
		prepare: func(t *testing.T, e *env, person *ent.User) func(ctx context.Context) error {
			cfg := oauth.Config{Issuer: "https://login.example.com", RelayDomain: "relay.example.com"}
			svc := oauth.New(e.db, e.kv, e.identity, nil, sealer(t, "signing keys"), cfg, func() time.Time { return now })
			return func(ctx context.Context) error {
				raw := e.session(t, person)
				return svc.EndSession(ctx, auth.Session{UserID: person.ID, ID: ids.Hash(raw)}, raw)
			}
		},
		left: activityOf, succeeds: true},
	{name: "apps told of sessions ending",
		prepare: func(t *testing.T, e *env, person *ent.User) func(ctx context.Context) error {
			cfg := oauth.Config{Issuer: "https://login.example.com", RelayDomain: "relay.example.com"}
			svc := oauth.New(e.db, e.kv, e.identity, nil, sealer(t, "signing keys"), cfg, func() time.Time { return now })
			app := e.app("told-" + ids.RandomLower(6))
			e.db.Application.UpdateOne(app).SetBackchannelLogoutURI("https://" + app.Name + ".example.com/logout").ExecX(context.Background())
			e.db.AppConnection.UpdateOne(e.connect(person, app, "")).SetLastSessionAt(now).ExecX(context.Background())
			return func(ctx context.Context) error { return svc.LogoutApps(ctx, person.ID, now.Add(-time.Hour), nil) }
		},
		left: func(db *store.DB, person *ent.User) int {
			// A logout queued for a connection the closing deleted.
			return db.WebhookEvent.Query().Where(webhookevent.Type("backchannel_logout"),
				webhookevent.HasApplicationWith(application.NameHasPrefix("told-"))).CountX(context.Background())
		}, succeeds: true},
	{name: "data exported",
		prepare: func(t *testing.T, e *env, person *ent.User) func(ctx context.Context) error {
			clock := func() time.Time { return now }
			mfas := mfa.New(e.db, e.kv, sealer(t, "totp secrets"), clock)
			passkeys, err := passkey.New(e.db, e.kv, "https://login.example.com", clock)
			if err != nil {
				t.Fatal(err)
			}
			svc := &dataexport.Service{DB: e.db, Identity: e.identity, Account: e.svc, MFA: mfas, Passkeys: passkeys,
				Activity: &activity.Service{DB: e.db, Now: clock}, Team: &team.Service{DB: e.db, Now: clock},
				Mail: e.svc.Mail, Limiter: ratelimit.New(e.kv), Now: clock}
			return func(ctx context.Context) error { _, err := svc.Export(ctx); return err }
		},
		left: activityOf},
	{name: "pending link refused",
		prepare: func(t *testing.T, e *env, person *ent.User) func(ctx context.Context) error {
			l := e.proposeLink(e.app("crm-"+ids.RandomLower(6)), person.Email)
			return func(ctx context.Context) error { return e.svc.RefusePendingLink(ctx, l.ID) }
		},
		left: func(db *store.DB, person *ent.User) int {
			return activityOf(db, person) + db.PendingLink.Query().
				Where(pendinglink.Email(person.Email), pendinglink.RefusedAtNotNil()).CountX(context.Background())
		}},
}

// activityOf counts the activity events kept under person's user id.
func activityOf(db *store.DB, person *ent.User) int {
	return db.ActivityEvent.Query().Where(activityevent.UserID(person.ID)).CountX(context.Background())
}

// session signs person in on a device of their own and returns the session's cookie value.
func (e *env) session(t *testing.T, person *ent.User) string {
	t.Helper()
	raw, err := e.identity.Sessions.Create(context.Background(), person.ID, "Mozilla/5.0 (another device)", "192.0.2.8")
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// sealer is a sealer for purpose under a key of zeros.
func sealer(t *testing.T, purpose string) *seal.Sealer {
	t.Helper()
	s, err := seal.New(make([]byte, 32), purpose)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// An operation that writes rows under the person's user id, run with their old session while
// their account is being deleted (PostgreSQL: the deletion holds the account's row and waits
// on another lock before committing) or after it was deleted, is refused with NotFound (Gone
// for an enrolment, which ended with the account) and leaves nothing behind: neither a team
// seat holding the deleted person's address, nor an invitation they sent (it would hold a
// seat and be listed to the invitee), nor a second factor, nor a passkey of an account that no
// longer exists, nor a refusal of a pending link that the next holder of the address would
// inherit. Signing sessions out still ends them, and no activity event is left of it, nor of
// a data export or a refusal: activity events reference no account, and one written after
// the deletion stayed under the deleted user id.
func TestOperationsRacingAccountDeletionLeaveNoRow(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		for i, c := range deletionRaces {
			t.Run(c.name, func(t *testing.T) {
				person := e.user(fmt.Sprintf("leaving-%d@example.com", i))
				op := c.prepare(t, e, person)
				var opErr error
				if db.Dialect == dialect.Postgres {
					opErr = e.runDuringDeletion(t, person, op)
				} else {
					// SQLite transactions take turns: the operation comes after the deletion.
					if _, err := e.svc.DeleteAccount(as(person), person.GlobalID, ""); err != nil {
						t.Fatal(err)
					}
					opErr = op(as(person))
				}
				want, ok := "NotFound", apperr.Is(opErr, apperr.NotFound) || c.ended && apperr.Is(opErr, apperr.Gone)
				if c.succeeds {
					want, ok = "success", opErr == nil
				}
				if !ok {
					t.Errorf("%s with the deleted account's session: %v, want %s", c.name, opErr, want)
				}
				if n := c.left(db, person); n != 0 {
					t.Errorf("%d rows of the deleted account left behind", n)
				}
			})
		}
	})
}

// runDuringDeletion deletes person's account on PostgreSQL and runs op while the deletion's
// transaction, past its deletions of the person's rows (their activity events among them),
// waits to commit: a test transaction holds the person's seat on a team, which the deletion
// deletes last (team.DeleteUser). It returns op's error once the deletion has committed.
func (e *env) runDuringDeletion(t *testing.T, person *ent.User, op func(ctx context.Context) error) error {
	t.Helper()
	ctx := context.Background()
	seat := e.db.AppMember.Create().SetApplicationID(e.app("held-" + ids.RandomLower(6)).ID).SetUserID(person.ID).
		SetRole(appmember.RoleDeveloper).SetEmail(person.Email).SetCreatedAt(now).SetUpdatedAt(now).SaveX(ctx)
	hold, err := e.db.Client.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Rollback()
	hold.AppMember.Query().Where(appmember.ID(seat.ID)).ForUpdate().OnlyX(ctx)

	deleted := make(chan error, 1)
	go func() { _, err := e.svc.DeleteAccount(as(person), person.GlobalID, ""); deleted <- err }()
	if err, done := e.waitForLockWaiters(t, 1, deleted); done {
		t.Fatalf("the deletion did not wait for the held application: %v", err)
	}
	opDone := make(chan error, 1)
	go func() { opDone <- op(as(person)) }()
	opErr, done := e.waitForLockWaiters(t, 2, opDone)
	if err := hold.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := <-deleted; err != nil {
		t.Fatalf("deleting the account: %v", err)
	}
	if !done {
		opErr = <-opDone
	}
	return opErr
}

// waitForLockWaiters waits until n sessions of the test database wait for a lock, or until
// done delivers (then it returns that value and true).
func (e *env) waitForLockWaiters(t *testing.T, n int, done <-chan error) (error, bool) {
	t.Helper()
	return storetest.AwaitLockWaiters(t, e.db, n, done)
}
