// Package account holds what a person does to their own LoginSign account in the dashboard:
// remove a connected app, mute its mail, manage alternative addresses, change the primary
// address, delete the account. Every operation acts on the signed-in person only; another
// person's connection or address answers NotFound, like one that does not exist. Operations
// that change several rows run in one transaction, and the webhook events they cause are
// written in it (the outbox).
package account

import (
	"context"
	"errors"
	"fmt"
	"loginsign/internal/team"
	"strings"
	"time"

	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql"
	"github.com/redis/go-redis/v9"

	"loginsign/ent"
	"loginsign/ent/appconnection"
	"loginsign/ent/application"
	"loginsign/ent/appmember"
	"loginsign/ent/predicate"
	"loginsign/ent/user"
	"loginsign/ent/useremail"
	"loginsign/internal/activity"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/connections"
	"loginsign/internal/i18n"
	"loginsign/internal/identity"
	"loginsign/internal/ids"
	"loginsign/internal/kv"
	"loginsign/internal/mail"
	"loginsign/internal/mfa"
	"loginsign/internal/passkey"
	"loginsign/internal/profile"
	"loginsign/internal/ratelimit"
	"loginsign/internal/store"
	"loginsign/internal/webhooks"
)

// Service is the person's account domain.
type Service struct {
	DB       *store.DB
	KV       *kv.Store
	Identity *identity.Service
	Mail     mail.Sender
	// BaseURL is LOGINSIGN_BASE_URL; verification links point at it.
	BaseURL string
	Now     func() time.Time
	// Wake, when set, is called after a commit that queued webhook events (the worker's Wake).
	Wake func()
	// PrimaryChanges bounds a person's changes of their primary address (MakePrimaryEmail);
	// default DefaultPrimaryChanges.
	PrimaryChanges ratelimit.Rule
	// SecondStep asks the person for their second step (a code of their authenticator app, or
	// one mailed to them) before a change that could take the account from them
	// (mfa.Service); nil asks none, for services built without it.
	SecondStep SecondStep
	// ClosingLogouts, when set, queues through tx, as the closing of userID's account
	// begins ending their connections, a back-channel logout for every application with a
	// back-channel logout URI that the person signed in to (oauth.Service.QueueClosingLogouts,
	// which this package cannot call itself).
	ClosingLogouts func(ctx context.Context, tx *ent.Tx, userID string, now time.Time) error
	// RemovalLogouts, when set, queues through tx, as the person's removal of one application
	// (RemoveConnection) begins ending their connection connectionID, a back-channel logout to
	// its application when it has a back-channel logout URI and the person signed in to it
	// (oauth.Service.QueueRemovalLogout).
	RemovalLogouts func(ctx context.Context, tx *ent.Tx, userID, connectionID string, now time.Time) error
	// Notify, when set, is told of a change to the person's sign-in addresses once it has
	// committed (security notices, as mfa.Service.Notify): event names it, about is the address
	// added or removed, which the notice to the primary address names masked; to, when not
	// empty, is where the notice goes instead of the primary address (AddressUnlinked).
	Notify func(ctx context.Context, userID string, event mfa.Event, about, to string)
}

// Security notice events of a person's addresses (Notify). A verified alternative address
// signs in to the account, as a passkey does: the person is told when one is added or
// removed, as they are of their passkeys.
const (
	// AddressVerified: an alternative address was verified (VerifyAlternativeEmail); it signs
	// in to the account from now on. The primary address is told.
	AddressVerified mfa.Event = "address_verified"
	// AddressRemoved: a verified alternative address was removed (RemoveAlternativeEmail). The
	// primary address is told; so is the removed address itself (AddressUnlinked).
	AddressRemoved mfa.Event = "address_removed"
	// AddressUnlinked: the notice of AddressRemoved to the removed address, as a change of
	// the primary address tells the old one: whoever took the session and the primary
	// mailbox does not remove the person's other mailbox from their account unnoticed. It
	// names no other address of the account.
	AddressUnlinked mfa.Event = "address_unlinked"
)

func (s *Service) notify(ctx context.Context, uid string, e mfa.Event, about, to string) {
	if s.Notify != nil {
		s.Notify(ctx, uid, e, about, to)
	}
}

// SecondStep is the check of mfa.Service.ConfirmChange: a sign-in of the last
// auth.RecentSignIn and the person's second step, a current TOTP or recovery code with
// two-step verification on, else a code mailed to their own address: what the holder of a
// copied session cookie does not have.
type SecondStep interface {
	ConfirmChange(ctx context.Context, code string) (string, error)
}

// reverify is the check of a change that could take the account from its person or let a
// thief in: adding an address (a verified one signs in to the account), making another address
// the primary one (it receives the security notices and is what applications are shown),
// removing an address (the person's own magic link would then open a new, empty account) and
// closing the account. A recent sign-in alone is what a session cookie copied in its first 15
// minutes has; the person's second step is asked again, as for adding a passkey.
func (s *Service) reverify(ctx context.Context, code string) (string, error) {
	if s.SecondStep == nil {
		return auth.RequireRecentSignIn(ctx, s.now())
	}
	return s.SecondStep.ConfirmChange(ctx, code)
}

// DefaultPrimaryChanges is how often a person may make another of their addresses the primary
// one. Each change sends email_changed to every application that follows the address and
// records an audit event (kept until the account closes) and an activity event: unbounded,
// one account flipping between two addresses would flood the applications it is connected to
// and grow those tables without end. A person changes their primary address rarely.
var DefaultPrimaryChanges = ratelimit.Rule{Name: "primary-email", N: 10, Window: 24 * time.Hour,
	Message: "too many changes of your primary address; try again in %d s"}

func (s *Service) now() time.Time { return s.Now().UTC() }

func (s *Service) wake() {
	if s.Wake != nil {
		s.Wake()
	}
}

// forUpdate locks the rows a query reads until the transaction ends. SQLite needs no row
// locks: its transactions take the write lock when they begin.
func (s *Service) forUpdate(q *ent.AppConnectionQuery) *ent.AppConnectionQuery {
	if s.DB.Dialect == dialect.Postgres {
		return q.ForUpdate()
	}
	return q
}

// lockAddress is forUpdate for an address row: its verification and its removal take turns.
func (s *Service) lockAddress(q *ent.UserEmailQuery) *ent.UserEmailQuery {
	if s.DB.Dialect == dialect.Postgres {
		return q.ForUpdate()
	}
	return q
}

// RemoveConnection ends the signed-in person's connection to an app (removing it in the
// dashboard, or revoking its access): tokens, consent and licenses go, the alias is retired,
// and the app gets connection_deleted. It needs a recent sign-in (auth.RequireRecentSignIn), as a
// developer's ending of a connection does: what it destroys is not given back (the licenses
// expire, the alias is never issued again, a new sign-in makes a new connection id, under which
// the app does not know the person's account there), and an old session cookie (a thief's copy)
// must not be enough for it.
func (s *Service) RemoveConnection(ctx context.Context, connectionID string) error {
	uid, err := auth.RequireRecentSignIn(ctx, s.now())
	if err != nil {
		return err
	}
	now := s.now()
	err = s.DB.Tx(ctx, func(tx *ent.Tx) error {
		// The application (a key share), then the connection: the order of a developer ending
		// the connection (team.AuthorizeTx). Of the two, the later waits for the earlier and
		// then finds nothing. Locking the connection first made each wait for the other (the
		// connection_deleted event's foreign key needs the application) until PostgreSQL
		// aborted one.
		target := []predicate.AppConnection{appconnection.ID(connectionID), appconnection.UserID(uid)}
		if err := s.holdApplications(ctx, tx, application.HasConnectionsWith(target...)); err != nil {
			return err
		}
		// Two removals at once: the second waits for the first, then finds nothing.
		conn, err := s.forUpdate(tx.AppConnection.Query().Where(target...)).
			WithApplication().WithUser().Only(ctx)
		if err != nil {
			return store.Err(err, "connection")
		}
		// Removing the application signs the person out of it, as closing the account does:
		// its own session of the person ends with the connection (OpenID Connect Back-Channel
		// Logout 1.0), queued in the outbox with the removal.
		if s.RemovalLogouts != nil {
			if err := s.RemovalLogouts(ctx, tx, uid, conn.ID, now); err != nil {
				return err
			}
		}
		return connections.Delete(ctx, tx, conn, connections.RemovedByPerson, now)
	})
	if err != nil {
		return err
	}
	s.wake()
	return nil
}

// SetConnectionMuted mutes (or unmutes) relay mail from one of the signed-in person's apps.
// Muting needs a recent sign-in (auth.RequireRecentSignIn), as a connection's removal does: it
// stops the relay forwarding the app's mail to the person's mailbox, and the app is shown the
// person muted it. From an old session cookie (a copy taken from a browser) a thief muted the
// person's bank or shop, and its notices of what the thief then did there (a new sign-in, a
// changed delivery address, the app's own sign-in codes) never reached the person, who had no
// reason to look at the setting. Unmuting, which only brings the mail back, needs none.
func (s *Service) SetConnectionMuted(ctx context.Context, connectionID string, muted bool) (*ent.AppConnection, error) {
	signedIn := auth.RequireUser
	if muted {
		signedIn = func(ctx context.Context) (string, error) { return auth.RequireRecentSignIn(ctx, s.now()) }
	}
	uid, err := signedIn(ctx)
	if err != nil {
		return nil, err
	}
	c, err := s.DB.AppConnection.Query().Where(appconnection.ID(connectionID), appconnection.UserID(uid)).Only(ctx)
	if err != nil {
		return nil, store.Err(err, "connection")
	}
	// updatedAt stays: the application reads it, and a mute it cannot see (its forwarding off
	// shows every connection muted) must not show as a change.
	c, err = s.DB.AppConnection.UpdateOne(c).SetEmailMuted(muted).SetUpdatedAt(c.UpdatedAt).Save(ctx)
	return c, store.Err(err, "connection")
}

// DeleteAccount deletes the signed-in person's account. confirm must be their Global User ID (the
// dashboard asks them to type it), and the person passes reverify with code. Every connection ends
// as RemoveConnection would, but each app gets user_account_deleted, and each app the person signed
// in to that has a back-channel logout URI a logout token (ClosingLogouts); every browser session ends, so
// do a TOTP enrolment and a passkey registration in progress; the addresses and the user row are
// deleted, so are the person's address change requests, and the audit events of the account keep no
// address (identity.ForgetAddresses). The person's refusals of pending links are forgotten
// (forgetRefusals): whoever holds one of the addresses next decides. The Global User ID is never
// issued again (the allocator's counter only moves forward). A person who still owns applications
// must delete or hand them over first (Conflict "owns_applications"): deleting them would end other
// people's connections.
func (s *Service) DeleteAccount(ctx context.Context, confirm, code string) (endedConnections int, err error) {
	uid, err := auth.RequireRecentSignIn(ctx, s.now())
	if err != nil {
		return 0, err
	}
	u, err := s.DB.User.Get(ctx, uid)
	if err != nil {
		return 0, store.Err(err, "user")
	}
	if strings.TrimSpace(strings.ToUpper(confirm)) != u.GlobalID {
		return 0, apperr.WithReason(apperr.Invalid, "confirmation_mismatch", "type your Global User ID to confirm")
	}
	if err := refuseOwner(ctx, s.DB.Client, uid); err != nil {
		return 0, err
	}
	// The code last: a mistyped Global User ID spends no recovery code.
	if _, err := s.reverify(ctx, code); err != nil {
		return 0, err
	}
	// Sessions end first: if anything below fails, the person is signed out and the account
	// is intact, never the other way round.
	if _, err := s.Identity.Sessions.DeleteAll(ctx, uid, ""); err != nil {
		return 0, err
	}
	now := s.now()
	err = s.DB.Tx(ctx, func(tx *ent.Tx) error {
		// The user row is locked first, as a change of the primary address locks it before the
		// connections: an address change or change request running at the same time either
		// commits before this transaction reads the rows that copy the addresses, or finds the
		// account gone, so no copy is written after the deletion. It is also locked before any
		// application (holdApplications): every transaction that locks a person and an
		// application locks the person first (team.AuthorizeTx), so none holds an application
		// this one waits for while waiting for the person. SQLite transactions take turns.
		held, err := store.LockUser(ctx, tx, s.DB.Dialect, uid)
		if err != nil {
			return err
		}
		// Asked again under the lock: a transfer the person accepted since the question above
		// (team.AcceptTransfer locks the person too) has committed by now.
		if err := refuseOwner(ctx, tx.Client(), uid); err != nil {
			return err
		}
		// The addresses as they are under the lock (held): a change of the primary address
		// locks the person too, and a refusal holds them (RefusePendingLink). The applications
		// whose links to them the person refused are held with the others: forgetRefusals
		// writes those links, and a rollback of their import locks the application first.
		addrs, err := identity.VerifiedAddressesOf(ctx, tx.Client(), held)
		if err != nil {
			return err
		}
		refusedTo, err := refusedApplications(ctx, tx, addrs)
		if err != nil {
			return err
		}
		if err := s.holdApplications(ctx, tx, writtenByClosing(uid, refusedTo)); err != nil {
			return err
		}
		// Locked, as RemoveConnection locks one: a removal running at the same time either
		// committed before, and the connection is not listed, or waits for this transaction and
		// then finds it gone. None is added meanwhile: a new connection waits for the person.
		conns, err := s.forUpdate(tx.AppConnection.Query().Where(appconnection.UserID(uid))).
			WithApplication().WithUser().All(ctx)
		if err != nil {
			return err
		}
		// The applications the person signed in to are told, as when they sign out: their
		// own sessions of the person end with the account (OpenID Connect Back-Channel Logout
		// 1.0), also at applications that get no webhook. Queued in the outbox with the
		// closing, so they go out once it commits, with the outbox's retries, and an
		// application that does not answer never holds the closing up.
		if s.ClosingLogouts != nil {
			if err := s.ClosingLogouts(ctx, tx, uid, now); err != nil {
				return err
			}
		}
		for _, c := range conns {
			if err := connections.Delete(ctx, tx, c, connections.AccountDeleted, now); err != nil {
				return err
			}
		}
		endedConnections = len(conns)
		if err := forgetRefusals(ctx, tx, addrs...); err != nil {
			return err
		}
		if _, err := tx.UserEmail.Delete().Where(useremail.UserID(uid)).Exec(ctx); err != nil {
			return fmt.Errorf("deleting addresses: %w", err)
		}
		if err := mfa.DeleteUser(ctx, tx, uid); err != nil {
			return err
		}
		if err := passkey.DeleteUser(ctx, tx, uid); err != nil {
			return err
		}
		if err := profile.DeleteUser(ctx, tx, uid); err != nil {
			return err
		}
		if err := identity.ReleaseAllAddresses(ctx, tx, uid); err != nil {
			return err
		}
		if err := identity.ForgetAddresses(ctx, tx, uid, u.GlobalID); err != nil {
			return err
		}
		if err := activity.DeletePerson(ctx, tx, uid); err != nil {
			return err
		}
		if err := team.DeleteUser(ctx, tx, uid); err != nil {
			return err
		}
		// The deletion itself is recorded, under the Global User ID and without any address.
		if err := tx.AuditEvent.Create().SetActorID(uid).SetAction("user.deleted").SetTarget(u.GlobalID).
			SetData(map[string]any{"connections": len(conns)}).SetCreatedAt(now).Exec(ctx); err != nil {
			return fmt.Errorf("auditing: %w", err)
		}
		n, err := tx.User.Delete().Where(user.ID(uid)).Exec(ctx)
		if err != nil {
			return fmt.Errorf("deleting user: %w", err)
		}
		if n == 0 {
			return apperr.New(apperr.NotFound, "user not found")
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	// A session created while the transaction ran ends too.
	if _, err := s.Identity.Sessions.DeleteAll(ctx, uid, ""); err != nil {
		return endedConnections, err
	}
	// So do the enrolments begun and not finished, kept in the store the sessions live in: the
	// sealed TOTP secret offered to the person (15 min) and the challenge of a passkey being
	// registered (5 min). Their keys are built by mfa's enrolKey and passkey's regKey, which
	// neither package exports.
	if err := s.Identity.KV.Del(ctx, "totp-enrol:"+uid, "pkreg:"+uid).Err(); err != nil {
		return endedConnections, fmt.Errorf("ending enrolments: %w", err)
	}
	// Every browser that signed in to the account is forgotten, as signing out everywhere
	// forgets them: a browser that signed in once (a thief's, or one holding a copy of the
	// person's cookies) otherwise kept, for 90 days, its own budget of sign-in mails and 6-digit
	// codes for the account's address (oauth's mailboxBudget), also against whoever signs up
	// with it next. After the commit, so a sign-in finishing while the transaction ran, which
	// remembers its browser under the generation it reads, is forgotten too.
	if err := s.Identity.Sessions.ForgetBrowsers(ctx, uid); err != nil {
		return endedConnections, err
	}
	s.wake()
	return endedConnections, nil
}

// holdApplications is store.HoldApplications on the service's database.
func (s *Service) holdApplications(ctx context.Context, tx *ent.Tx, which predicate.Application) error {
	return store.HoldApplications(ctx, tx, s.DB.Dialect, which)
}

// writtenByClosing selects the applications the closing of uid's account writes rows of: those
// uid is connected to (the connections and their events), on the team of (the seat) or
// proposed to take over, and refusedTo (forgetRefusals).
func writtenByClosing(uid string, refusedTo []string) predicate.Application {
	return applicationsIn(
		idsOf(appconnection.Table, appconnection.FieldApplicationID, appconnection.UserID(uid)),
		idsOf(appmember.Table, appmember.FieldApplicationID, appmember.UserID(uid)),
		idsOf(application.Table, application.FieldID, application.TransferTo(uid)),
		idsOf(application.Table, application.FieldID, application.IDIn(refusedTo...)))
}

// applicationsIn selects the applications whose id one of queries returns, as one IN over their
// UNION ALL: PostgreSQL answers each query from an index and looks the applications up by
// their key. An OR of the same conditions (ent's HasConnectionsWith is an EXISTS subquery, and
// an empty IDIn a FALSE) is served by no index: PostgreSQL filtered every application of the
// system through it, while the person's row was locked.
func applicationsIn(queries ...func() *sql.Selector) predicate.Application {
	return func(s *sql.Selector) {
		union := queries[0]()
		for _, q := range queries[1:] {
			union.UnionAll(q())
		}
		s.Where(sql.In(s.C(application.FieldID), union))
	}
}

// idsOf is the query of column (an application id) of the rows of table where selects.
func idsOf[P ~func(*sql.Selector)](table, column string, where ...P) func() *sql.Selector {
	return func() *sql.Selector {
		t := sql.Table(table)
		q := sql.Select(t.C(column)).From(t)
		for _, p := range where {
			p(q)
		}
		return q
	}
}

// refuseOwner answers Conflict (owns_applications) when uid owns an application.
func refuseOwner(ctx context.Context, c *ent.Client, uid string) error {
	owns, err := c.Application.Query().Where(application.OwnerID(uid)).Exist(ctx)
	if err != nil {
		return err
	}
	if owns {
		return apperr.WithReason(apperr.Conflict, "owns_applications", "delete your applications in the Developer Portal first")
	}
	return nil
}

// verifyTTL is how long an address-verification link works.
const verifyTTL = 24 * time.Hour

// MaxAlternativeEmails bounds a person's alternative addresses.
const MaxAlternativeEmails = 10

// verifySends bounds verification mails per person.
var verifySends = ratelimit.Rule{Name: "verify-email", N: 5, Window: time.Hour,
	Message: "too many verification mails; try again in %d s"}

func verifyKey(token string) string { return "emailverify:" + ids.Hash(token) }

// AddAlternativeEmail links addr to the signed-in person as a pending alternative address and
// mails it a single-use verification link (valid 24 h); an address on the relay domain is
// Invalid (identity.NotRelayAddress). Adding a pending address again sends a new link. Whether
// another account uses the address is checked when it is verified, so this call does not
// reveal who has an account. RateLimited past 5 mails per person and hour or
// identity.AddressConfirmMails to addr's mailbox (additions only: applications' proposals to it
// have their own budget); then nothing is stored and nothing mailed. A verified address signs
// in to the account, so the person passes reverify with code first: after the checks of addr
// and of what would refuse it (already linked, MaxAlternativeEmails, the person's budget of
// mails), so a mistyped address or a refusal spends no code.
func (s *Service) AddAlternativeEmail(ctx context.Context, addr, code string) (*ent.UserEmail, error) {
	uid, err := auth.RequireRecentSignIn(ctx, s.now())
	if err != nil {
		return nil, err
	}
	addr, err = identity.NormalizeEmail(addr)
	if err != nil {
		return nil, err
	}
	if err := identity.NotRelayAddress(addr, s.Identity.RelayDomain); err != nil {
		return nil, err
	}
	u, err := s.DB.User.Get(ctx, uid)
	if err != nil {
		return nil, store.Err(err, "user")
	}
	if u.Email == addr {
		return nil, apperr.WithReason(apperr.Conflict, "already_primary", "%s is already your primary address", addr)
	}
	// What would refuse the address is asked before the code too, so a refusal spends none
	// (a recovery code is gone for good); the transaction asks again.
	if _, err := addable(ctx, s.DB.Client, uid, addr); err != nil {
		return nil, err
	}
	if err := ratelimit.New(s.KV).Check(ctx, verifySends, uid); err != nil {
		return nil, err
	}
	if _, err := s.reverify(ctx, code); err != nil {
		return nil, err
	}
	var ue *ent.UserEmail
	err = s.DB.Tx(ctx, func(tx *ent.Tx) error {
		existing, err := addable(ctx, tx.Client(), uid, addr)
		if err != nil {
			return err
		}
		if existing != nil {
			ue = existing
			return s.takeVerifySend(ctx, uid, addr)
		}
		if err := s.takeVerifySend(ctx, uid, addr); err != nil {
			return err
		}
		if ue, err = tx.UserEmail.Create().SetUserID(uid).SetEmail(addr).Save(ctx); err != nil {
			return store.Err(err, "address")
		}
		return activity.Record(ctx, tx, activity.Event{Type: activity.AddressAdded, Actor: activity.ByPerson,
			UserID: uid, Details: map[string]string{"address": addr}, At: s.now()})
	})
	if err != nil {
		return nil, err
	}
	token := ids.Secret("ver_")
	if err := s.KV.Set(ctx, verifyKey(token), ue.ID, verifyTTL).Err(); err != nil {
		return nil, fmt.Errorf("storing verification token: %w", err)
	}
	link := strings.TrimRight(s.BaseURL, "/") + "/dashboard/emails/verify?token=" + token
	if err := s.Mail.Send(ctx, mail.VerifyEmail(i18n.ForPerson(ctx, u.Language), addr, link)); err != nil {
		return nil, fmt.Errorf("sending verification mail: %w", err)
	}
	// ue was read or written in the committed transaction: its edges (GraphQL's addEmail {
	// email { user } }) are read through the client, not through tx.
	return ue.Unwrap(), nil
}

// VerifyAlternativeEmail confirms the address whose verification link carried token. The
// token proves the mailbox; the request must also come from the signed-in account that added
// the address. Signed out answers Unauthorized and another account Forbidden; then nothing
// changes and the link stays usable. The token works once and for 24 h. An address another
// account holds (primary or verified) answers Conflict ("email_taken"): the claim's unique
// index decides, so two accounts never both verify one address, even at the same moment.
// Once the verification has committed, the primary address is told (AddressVerified, in the
// background): the address signs in to the account from then on.
func (s *Service) VerifyAlternativeEmail(ctx context.Context, token string) (*ent.UserEmail, error) {
	invalid := errInvalidVerification()
	ue, err := s.CheckVerification(ctx, token)
	if err != nil {
		return nil, err
	}
	id := ue.ID
	if got, err := s.KV.GetDel(ctx, verifyKey(token)).Result(); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("spending verification token: %w", err)
	} else if got != id {
		return nil, invalid // used concurrently
	}
	verified := false // by this call, not before: the notice is sent once
	err = s.DB.Tx(ctx, func(tx *ent.Tx) error {
		verified = false
		// Locked, as RemoveAlternativeEmail locks it: a removal running at the same time
		// either commits first, and the address is gone, or waits and then sees it verified
		// and releases the claim with it.
		ue, err = s.lockAddress(tx.UserEmail.Query().Where(useremail.ID(id))).Only(ctx)
		if store.NotFound(err) {
			return invalid
		} else if err != nil {
			return err
		}
		if ue.VerifiedAt != nil {
			return nil
		}
		verified = true
		now := s.now()
		if err := identity.ClaimAddress(ctx, tx, ue.UserID, ue.Email, now); err != nil {
			return err
		}
		if ue, err = tx.UserEmail.UpdateOne(ue).SetVerifiedAt(now).Save(ctx); err != nil {
			return err
		}
		return activity.Record(ctx, tx, activity.Event{Type: activity.AddressVerified, Actor: activity.ByPerson,
			UserID: ue.UserID, Details: map[string]string{"address": ue.Email}, At: now})
	})
	if err != nil {
		return nil, err
	}
	if verified {
		s.notify(ctx, ue.UserID, AddressVerified, ue.Email, "")
	}
	return ue.Unwrap(), nil // read in the committed tx: its edges are read through the client
}

// addable is what AddAlternativeEmail finds of uid's address addr in c: nil when it is not
// linked, the address when it is pending (a new link is sent); Conflict already_linked when
// it is verified, and too_many_emails when a new one would pass MaxAlternativeEmails.
func addable(ctx context.Context, c *ent.Client, uid, addr string) (*ent.UserEmail, error) {
	existing, err := c.UserEmail.Query().Where(useremail.UserID(uid), useremail.Email(addr)).Only(ctx)
	switch {
	case err == nil && existing.VerifiedAt != nil:
		return nil, apperr.WithReason(apperr.Conflict, "already_linked", "%s is already linked to your account", addr)
	case err == nil:
		return existing, nil
	case !store.NotFound(err):
		return nil, err
	}
	n, err := c.UserEmail.Query().Where(useremail.UserID(uid)).Count(ctx)
	if err != nil {
		return nil, err
	}
	if n >= MaxAlternativeEmails {
		return nil, apperr.WithReason(apperr.Conflict, "too_many_emails", "at most %d alternative addresses", MaxAlternativeEmails)
	}
	return nil, nil
}

// CheckVerification answers as VerifyAlternativeEmail would for token, changing nothing and
// spending nothing: the pending address the link confirms, or Invalid (invalid_token: unknown,
// used or expired), Unauthorized (signed out) or Forbidden (other_account: another account
// added the address). The link's page asks it before it offers a confirm button, so a person
// signed in to another account is told at once, not after pressing it.
func (s *Service) CheckVerification(ctx context.Context, token string) (*ent.UserEmail, error) {
	invalid := errInvalidVerification()
	if token == "" || len(token) > 128 {
		return nil, invalid
	}
	// A store that fails is not a link that is used or expired: the person is told of a
	// failure, and the same link works again unless the store had spent it before failing.
	id, err := s.KV.Get(ctx, verifyKey(token)).Result()
	if errors.Is(err, redis.Nil) || (err == nil && id == "") {
		return nil, invalid
	} else if err != nil {
		return nil, fmt.Errorf("reading verification token: %w", err)
	}
	ue, err := s.DB.UserEmail.Get(ctx, id)
	if store.NotFound(err) {
		return nil, invalid // removed since the link was sent
	} else if err != nil {
		return nil, err
	}
	sess, ok := auth.SessionFrom(ctx)
	if !ok {
		return nil, apperr.WithReason(apperr.Unauthorized, "sign_in_required",
			"sign in to the LoginSign account that added this address, then confirm again")
	}
	if sess.UserID != ue.UserID {
		return nil, apperr.WithReason(apperr.Forbidden, "other_account",
			"this address was added by another LoginSign account than the one you are signed in to; nothing was changed")
	}
	return ue, nil
}

func errInvalidVerification() error {
	return apperr.WithReason(apperr.Invalid, "invalid_token", "the verification link is invalid, used or expired")
}

// takeVerifySend counts one verification mail from uid to addr, once it is known that one will
// be sent and before anything is stored: the person's budget first, so a person past it spends
// nothing of the address's.
func (s *Service) takeVerifySend(ctx context.Context, uid, addr string) error {
	limiter := ratelimit.New(s.KV)
	if err := limiter.Take(ctx, verifySends, uid); err != nil {
		return err
	}
	return identity.TakeAddressConfirmMail(ctx, limiter, addr)
}

// RemoveAlternativeEmail unlinks one of the signed-in person's alternative addresses, verified or
// pending, once the person passes reverify with code. The person's refusals of pending links to a
// verified one are forgotten with it (forgetRefusals): they are this person's, not the next
// holder's. Applications that were shown a verified one (the person shared it on the consent page)
// are shown the connection's relay alias from then on, and get email_changed: the person stopped
// using the address, and no other real address is shown to an application without their choice.
// Once the removal has committed, the sessions that signed in through the address end, all but this
// one (identity.Service.EndAddressSessions): someone who added their own mailbox to the account
// must not stay signed in through it.
//
// They end before the removal too, and a failure there removes nothing: ended only after the
// commit, a failure left them signed in with the address gone, and a retry of the removal found no
// address and ended nothing. What ends after the commit is only a session of a sign-in through the
// address that checked it (the sign-in page's stillHeld) before the commit.
//
// The removal of a verified address, once committed, is told to the primary address
// (AddressRemoved) and to the removed one (AddressUnlinked), in the background; a pending one
// never signed in, and its removal tells no one.
func (s *Service) RemoveAlternativeEmail(ctx context.Context, emailID, code string) error {
	uid, err := auth.RequireRecentSignIn(ctx, s.now())
	if err != nil {
		return err
	}
	ue, err := s.DB.UserEmail.Query().Where(useremail.ID(emailID), useremail.UserID(uid)).Only(ctx)
	if err != nil {
		return store.Err(err, "address")
	}
	if _, err := s.reverify(ctx, code); err != nil {
		return err
	}
	if _, err := s.Identity.EndAddressSessions(ctx, uid, ue.Email); err != nil {
		return fmt.Errorf("ending the address's sessions: %w", err)
	}
	var released string // the verified address removed, "" for a pending one
	var told bool       // whether email_changed events were queued
	err = s.DB.Tx(ctx, func(tx *ent.Tx) error {
		// The person first, as the closing of the account locks them before their pending links
		// and addresses: the two take turns. A refusal holds the person too, so no refusal of
		// the address lands after this transaction forgot its refusals; so does an approval on
		// the consent page, so none shares the address after this transaction read the
		// connections shown it.
		u, err := store.LockUser(ctx, tx, s.DB.Dialect, uid)
		if err != nil {
			return err
		}
		// Locked, so that whether to release the claim is decided on the committed row: read
		// unlocked, a verification committing meanwhile left its claim behind, with no
		// address, and nobody could sign up with or verify the address again.
		ue, err := s.lockAddress(tx.UserEmail.Query().Where(useremail.ID(emailID), useremail.UserID(uid))).Only(ctx)
		if err != nil {
			return store.Err(err, "address")
		}
		now := s.now()
		if err := tx.UserEmail.DeleteOne(ue).Exec(ctx); err != nil {
			return err
		}
		if err := activity.Record(ctx, tx, activity.Event{Type: activity.AddressRemoved, Actor: activity.ByPerson,
			UserID: uid, Details: map[string]string{"address": ue.Email}, At: now}); err != nil {
			return err
		}
		if ue.VerifiedAt == nil {
			return nil
		}
		released = ue.Email
		// Held before the links and connections are written, as the closing holds them (a
		// rollback of their import, or a developer ending a connection, locks the application
		// first): the applications whose links to the address the person refused, and those
		// shown the address.
		refusedTo, err := refusedApplications(ctx, tx, []string{ue.Email})
		if err != nil {
			return err
		}
		shown := []predicate.AppConnection{appconnection.UserID(uid), appconnection.AppEmail(ue.Email)}
		if err := s.holdApplications(ctx, tx, applicationsIn(
			idsOf(application.Table, application.FieldID, application.IDIn(refusedTo...)),
			idsOf(appconnection.Table, appconnection.FieldApplicationID, shown...))); err != nil {
			return err
		}
		if err := forgetRefusals(ctx, tx, ue.Email); err != nil {
			return err
		}
		if told, err = s.showAliasInstead(ctx, tx, u, ue.Email, shown, now); err != nil {
			return err
		}
		return identity.ReleaseAddress(ctx, tx, uid, ue.Email)
	})
	if err != nil {
		return err
	}
	if told {
		s.wake()
	}
	if released == "" {
		return nil // a pending address never signed in: nothing to tell
	}
	s.notify(ctx, uid, AddressRemoved, released, "")
	s.notify(ctx, uid, AddressUnlinked, "", released)
	if _, err := s.Identity.EndAddressSessions(ctx, uid, released); err != nil {
		return fmt.Errorf("ending the removed address's sessions: %w", err)
	}
	return nil
}

// showAliasInstead shows the connections of u that shown selects (those shown the address
// addr) their relay alias instead, inside tx, and queues email_changed (reason
// user_email_change, newEmail the alias) for each application. It reports whether it queued
// any event. The connections are locked, as a developer ending one locks it: an ending running
// now either committed before, and the connection is not listed, or waits for this
// transaction.
func (s *Service) showAliasInstead(ctx context.Context, tx *ent.Tx, u *ent.User, addr string, shown []predicate.AppConnection, now time.Time) (bool, error) {
	conns, err := s.forUpdate(tx.AppConnection.Query().Where(shown...)).WithApplication().All(ctx)
	if err != nil {
		return false, err
	}
	queued := false
	for _, c := range conns {
		if err := tx.AppConnection.UpdateOne(c).SetAppEmail("").SetUpdatedAt(now).Exec(ctx); err != nil {
			return false, fmt.Errorf("showing the alias instead: %w", err)
		}
		ev := webhooks.EmailChanged{Type: webhooks.TypeEmailChanged, ApplicationID: c.ApplicationID,
			ConnectionID: c.ID, UserID: u.GlobalID, AliasEmail: c.AliasEmail, OldEmail: addr,
			NewEmail: c.AliasEmail, ChangedAt: webhooks.Timestamp(now), Reason: webhooks.ReasonUserEmailChange}
		queuedOne, err := webhooks.Enqueue(ctx, tx, c.Edges.Application, webhooks.TypeEmailChanged, ev, now)
		if err != nil {
			return false, err
		}
		queued = queued || queuedOne != nil
	}
	return queued, nil
}

// MakePrimaryEmail makes one of the signed-in person's verified alternative addresses the primary
// one, once the person passes reverify with code (identity.ChangePrimaryEmail with reason
// user_email_change: apps that were shown the old primary address get email_changed). The old
// primary stays as a verified alternative. Past PrimaryChanges a day RateLimited, before any code
// is checked, and counted after the checks that refuse without changing anything; a change
// that fails for a reason of the server's own (apperr Internal, a dependency down) gives its
// hit back.
func (s *Service) MakePrimaryEmail(ctx context.Context, emailID, code string) (*ent.User, error) {
	uid, err := auth.RequireRecentSignIn(ctx, s.now())
	if err != nil {
		return nil, err
	}
	ue, err := s.DB.UserEmail.Query().Where(useremail.ID(emailID), useremail.UserID(uid)).Only(ctx)
	if err != nil {
		return nil, store.Err(err, "address")
	}
	if ue.VerifiedAt == nil {
		return nil, apperr.WithReason(apperr.Conflict, "email_not_verified", "confirm %s before making it your primary address", ue.Email)
	}
	// The day's budget is looked at before the second step and counted after it: a change
	// refused by the budget spends none of the person's codes (a recovery code is single-use).
	limiter, rule := ratelimit.New(s.KV), s.PrimaryChanges.Or(DefaultPrimaryChanges)
	if err := limiter.Check(ctx, rule, uid); err != nil {
		return nil, err
	}
	if _, err := s.reverify(ctx, code); err != nil {
		return nil, err
	}
	if err := limiter.Take(ctx, rule, uid); err != nil {
		return nil, err
	}
	if _, err := s.Identity.MakeAlternativePrimary(ctx, uid, ue.ID, ue.Email); err != nil {
		if apperr.Is(err, apperr.Internal) || apperr.DependencyDown(err) {
			if rerr := limiter.Return(context.WithoutCancel(ctx), rule, uid); rerr != nil {
				err = errors.Join(err, rerr)
			}
		}
		return nil, err
	}
	s.wake()
	return s.Identity.User(ctx, uid)
}
