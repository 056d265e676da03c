// Package passkey is WebAuthn sign-in (go-webauthn): a person adds, names and removes passkeys
// from the dashboard, and signs in with one from the login page. Passkeys are discoverable
// credentials with user verification required, so a passkey sign-in counts as two factors.
// The relying party is LOGINSIGN_BASE_URL (its host is the RP id, its origin the only origin).
// Ceremony challenges live in Redis, single use, for five minutes; credentials, sign counts and
// backup flags in SQL.
package passkey

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/redis/go-redis/v9"
	"golang.org/x/text/unicode/norm"

	"loginsign/ent"
	entpasskey "loginsign/ent/passkey"
	"loginsign/ent/totpfactor"
	"loginsign/internal/activity"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/ids"
	"loginsign/internal/kv"
	"loginsign/internal/mfa"
	"loginsign/internal/profile"
	"loginsign/internal/store"
)

// Limits of the ceremonies.
const (
	challengeTTL = 5 * time.Minute
	// MaxResponse bounds a credential response (JSON) accepted from a browser.
	MaxResponse = 64 << 10
	// MaxPerUser bounds a person's passkeys.
	MaxPerUser = 20
	maxName    = 64
)

// Service is passkeys.
type Service struct {
	DB  *store.DB
	KV  *kv.Store
	WA  *webauthn.WebAuthn
	Now func() time.Time
	// Notify, when set, is told when a person's passkeys change (security notices); undo is
	// always empty (a passkey the person does not know is removed from the dashboard).
	Notify func(ctx context.Context, userID string, event mfa.Event, undo string)
	// MFA checks the second step the person sends with a new passkey or a removal
	// (mfa.Service.ConfirmChange). Nil, a person with two-step verification on cannot add one
	// (internal error) and one without it is asked for nothing more.
	MFA *mfa.Service
	// EndSessions, when set, ends the sessions of userID that signed in with the passkey named
	// by passkeyRef (Ref), except the current one, once that passkey is removed
	// (identity.Service.EndPasskeySessions).
	EndSessions func(ctx context.Context, userID, passkeyRef string) (int, error)
	// Unavailable, when set, says why passkeys are off (the base URL's host is an IP address).
	Unavailable string
	// UserHandleKey keys the WebAuthn user handle of a person (UserHandle). The server sets it,
	// derived from LOGINSIGN_SECRET. A sign-in checks the handle the authenticator returns
	// against the passkey's owner (WebAuthn §7.2 step 6): changing the key leaves the passkeys
	// registered under the old one refused (as a changed secret does authenticator apps), all
	// but those registered before UserHandle, whose handle is the account id.
	UserHandleKey []byte
}

// Events of passkeys, for security notices.
const (
	Added   mfa.Event = "passkey_added"
	Removed mfa.Event = "passkey_removed"
)

// New returns the service for the public origin baseURL. WebAuthn needs a domain name as the
// relying party id: for a base URL whose host is an IP address the service is returned with
// Unavailable set, and its ceremonies answer NotFound (everything else still works).
func New(db *store.DB, k *kv.Store, baseURL string, now func() time.Time) (*Service, error) {
	if now == nil {
		now = func() time.Time { return time.Now().UTC() }
	}
	s := &Service{DB: db, KV: k, Now: now}
	u, err := url.Parse(baseURL)
	if err != nil || u.Hostname() == "" {
		return nil, fmt.Errorf("passkeys: base URL %q has no host", baseURL)
	}
	if net.ParseIP(u.Hostname()) != nil {
		s.Unavailable = fmt.Sprintf("passkeys need a domain name in LOGINSIGN_BASE_URL, not the IP address %s", u.Hostname())
		return s, nil
	}
	if s.WA, err = webauthn.New(&webauthn.Config{
		RPID: u.Hostname(), RPDisplayName: "LoginSign", RPOrigins: []string{u.Scheme + "://" + u.Host},
	}); err != nil {
		return nil, fmt.Errorf("passkeys: %w", err)
	}
	return s, nil
}

// Available reports whether passkeys work with this base URL.
func (s *Service) Available() bool { return s.WA != nil }

// available answers NotFound when passkeys cannot work with this base URL.
func (s *Service) available() error {
	if s.WA == nil {
		return apperr.New(apperr.NotFound, "%s", s.Unavailable)
	}
	return nil
}

// person is a user as go-webauthn sees them.
type person struct {
	u     *ent.User
	creds []webauthn.Credential
	// handle is the WebAuthn user handle (user.id) of the ceremony: UserHandle, or for a
	// passkey registered before it, the account id that passkey holds.
	handle []byte
}

func (p *person) WebAuthnID() []byte                         { return p.handle }
func (p *person) WebAuthnName() string                       { return p.u.Email }
func (p *person) WebAuthnCredentials() []webauthn.Credential { return p.creds }
func (p *person) WebAuthnDisplayName() string {
	if p.u.Name != "" {
		return p.u.Name
	}
	return p.u.Email
}

func (s *Service) person(ctx context.Context, userID string) (*person, []*ent.Passkey, error) {
	u, err := s.DB.User.Get(ctx, userID)
	if err != nil {
		return nil, nil, store.Err(err, "user")
	}
	keys, err := s.DB.Passkey.Query().Where(entpasskey.UserID(userID)).All(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("reading passkeys: %w", err)
	}
	p := &person{u: u, handle: s.UserHandle(userID)}
	for _, k := range keys {
		p.creds = append(p.creds, credential(k))
	}
	return p, keys, nil
}

func credential(k *ent.Passkey) webauthn.Credential {
	c := webauthn.Credential{ID: k.CredentialID, PublicKey: k.PublicKey, AttestationType: k.AttestationType,
		Flags:         webauthn.CredentialFlags{UserPresent: true, UserVerified: true, BackupEligible: k.BackupEligible, BackupState: k.BackupState},
		Authenticator: webauthn.Authenticator{AAGUID: k.Aaguid, SignCount: k.SignCount}}
	for _, t := range definedTransports(k.Transports) {
		c.Transport = append(c.Transport, protocol.AuthenticatorTransport(t))
	}
	return c
}

// definedTransports is transports without the values WebAuthn does not define (§5.8.4:
// usb, nfc, ble, smart-card, hybrid, internal) and without repeats, in the order given. The
// browser names a registration's transports and go-webauthn takes any string, so without it a
// response could store a thousand made-up ones, handed back in every later excludeCredentials,
// or a NUL, which SQLite stores and PostgreSQL refuses. Passkeys stored before it read through
// it too, so none hands back what a registration now drops.
func definedTransports[T ~string](transports []T) []string {
	var out []string
	for _, t := range transports {
		switch protocol.AuthenticatorTransport(t) {
		case protocol.USB, protocol.NFC, protocol.BLE, protocol.SmartCard, protocol.Hybrid, protocol.Internal:
			if !slices.Contains(out, string(t)) {
				out = append(out, string(t))
			}
		}
	}
	return out
}

// UserHandle is the WebAuthn user handle (user.id, WebAuthn §5.4.3) of userID's passkeys: 32
// bytes of HMAC-SHA256 under UserHandleKey, which look random and name nothing outside. The
// handle is written into the authenticator and handed back with every sign-in, where whoever
// holds or inspects the authenticator reads it; the account id it used to be is the id of the
// person's account everywhere in LoginSign (its user row, GraphQL node and data export), so
// the authenticator carried a stable identifier of the account (§14.6.1: the user handle should
// be random and hold nothing that identifies the person).
func (s *Service) UserHandle(userID string) []byte {
	m := hmac.New(sha256.New, s.UserHandleKey)
	m.Write([]byte("loginsign passkey user handle\n" + userID))
	return m.Sum(nil)
}

// legacyHandle reports whether handle is the user handle of a passkey of userID registered
// before UserHandle: the account id itself.
func legacyHandle(handle []byte, userID string) bool { return string(handle) == userID }

// Ref names a passkey in the sessions it signs in (identity.NewSession.Passkey): the
// SHA-256 of its credential id.
func Ref(credentialID []byte) string { return ids.Hash(string(credentialID)) }

// SignInRef is the Ref of the passkey that signed the assertion response (the
// PublicKeyCredential as JSON, as FinishLogin verified it), or "" when response is malformed.
func SignInRef(response string) string {
	if len(response) > MaxResponse {
		return ""
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes([]byte(response))
	if err != nil {
		return ""
	}
	return Ref(parsed.RawID)
}

func regKey(uid string) string { return "pkreg:" + uid }

// loginKey names the challenge of a passkey sign-in started in browser ("" for none).
func loginKey(browser, challenge string) string {
	if browser == "" {
		return "pklogin:" + ids.Hash(challenge)
	}
	return "pklogin:" + ids.Hash(browser+" "+challenge)
}

// BeginRegistration starts adding a passkey for the signed-in person and returns the
// PublicKeyCredentialCreationOptions (JSON) for navigator.credentials.create: a discoverable
// credential, user verification required, none of their passkeys again.
func (s *Service) BeginRegistration(ctx context.Context) (string, error) {
	uid, err := auth.RequireRecentSignIn(ctx, s.Now())
	if err != nil {
		return "", err
	}
	if err := s.available(); err != nil {
		return "", err
	}
	p, keys, err := s.person(ctx, uid)
	if err != nil {
		return "", err
	}
	if len(keys) >= MaxPerUser {
		return "", apperr.New(apperr.Invalid, "you have %d passkeys, the most an account may have; remove one first", MaxPerUser)
	}
	var exclude []protocol.CredentialDescriptor
	for _, c := range p.creds {
		exclude = append(exclude, c.Descriptor())
	}
	opts, sess, err := s.WA.BeginRegistration(p,
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
			ResidentKey: protocol.ResidentKeyRequirementRequired, RequireResidentKey: protocol.ResidentKeyRequired(),
			UserVerification: protocol.VerificationRequired}),
		webauthn.WithExclusions(exclude))
	if err != nil {
		return "", fmt.Errorf("starting passkey registration: %w", err)
	}
	b, _ := json.Marshal(sess)
	if err := s.KV.Set(ctx, regKey(uid), b, challengeTTL).Err(); err != nil {
		return "", fmt.Errorf("storing passkey challenge: %w", err)
	}
	out, _ := json.Marshal(opts)
	return string(out), nil
}

// FinishRegistration is FinishRegistrationWithCode without a code: only for a service built
// without a second-step check (MFA nil, as in tests of the registration itself); with one, the
// person's code is always asked.
func (s *Service) FinishRegistration(ctx context.Context, name, response string) (*ent.Passkey, error) {
	return s.FinishRegistrationWithCode(ctx, name, response, "")
}

// FinishRegistrationWithCode adds the passkey of response (the PublicKeyCredential as JSON) to
// the signed-in person under name. The challenge is spent whatever the outcome; a response that
// does not verify (wrong challenge, origin or RP, no user verification) answers Invalid, and
// so does one past MaxPerUser, counted when the passkey is stored, so registrations finishing
// together cannot pass it; they take turns (holdAdding), so the one refused there spends no
// code. A deleted account answers NotFound.
//
// A passkey signs in as both steps, so the person must also prove their second step with
// code: with two-step verification on, a current TOTP code or a recovery code, as for turning
// it off; with it off, a code mailed to their own address (mfa.Service.ConfirmChange: a TOTP
// time step accepted once, a recovery or mailed code spent, tries counted per person apart
// from the sign-in's). It is checked once the response verified, so a response that fails
// spends no code; a missing or wrong code answers Invalid and stores nothing. Without it, a
// session cookie taken in the first 15 minutes would add its thief's passkey, which then signs
// in with neither the mailbox nor the authenticator app.
func (s *Service) FinishRegistrationWithCode(ctx context.Context, name, response, code string) (*ent.Passkey, error) {
	uid, err := auth.RequireRecentSignIn(ctx, s.Now())
	if err != nil {
		return nil, err
	}
	if err := s.available(); err != nil {
		return nil, err
	}
	if name, err = checkName(name); err != nil {
		return nil, err
	}
	if len(response) > MaxResponse {
		return nil, apperr.New(apperr.Invalid, "the passkey response is too large")
	}
	release, err := s.holdAdding(ctx, uid)
	if err != nil {
		return nil, err
	}
	defer release()
	b, err := s.KV.GetDel(ctx, regKey(uid)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, apperr.New(apperr.Gone, "adding the passkey took too long; start again")
	}
	if err != nil {
		return nil, fmt.Errorf("reading passkey challenge: %w", err)
	}
	var sess webauthn.SessionData
	if err := json.Unmarshal(b, &sess); err != nil {
		return nil, fmt.Errorf("reading passkey challenge: %w", err)
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes([]byte(response))
	if err != nil {
		return nil, apperr.New(apperr.Invalid, "the passkey response is malformed")
	}
	p, keys, err := s.person(ctx, uid)
	if err != nil {
		return nil, err
	}
	if len(keys) >= MaxPerUser {
		return nil, errTooMany()
	}
	cred, err := s.WA.CreateCredential(p, sess, parsed)
	if err != nil {
		return nil, apperr.New(apperr.Invalid, "the passkey could not be verified: %s", protocolDetail(err))
	}
	if !cred.Flags.UserVerified {
		return nil, apperr.New(apperr.Invalid, "the passkey did not verify you (PIN or biometrics); use one that does")
	}
	for _, k := range keys {
		if bytes.Equal(k.CredentialID, cred.ID) {
			return nil, errRegistered()
		}
	}
	if err := s.secondStep(ctx, uid, code); err != nil {
		return nil, err
	}
	transports := definedTransports(cred.Transport)
	now := s.Now()
	var k *ent.Passkey
	err = s.DB.Tx(ctx, func(tx *ent.Tx) error {
		if _, err := store.LockUser(ctx, tx, s.DB.Dialect, uid); err != nil {
			return err
		}
		n, err := tx.Passkey.Query().Where(entpasskey.UserID(uid)).Count(ctx)
		if err != nil {
			return err
		}
		if n >= MaxPerUser {
			return errTooMany()
		}
		k, err = tx.Passkey.Create().SetUserID(uid).SetName(name).SetCredentialID(cred.ID).SetPublicKey(cred.PublicKey).
			SetAttestationType(cred.AttestationType).SetAaguid(cred.Authenticator.AAGUID).SetTransports(transports).
			SetSignCount(cred.Authenticator.SignCount).SetBackupEligible(cred.Flags.BackupEligible).
			SetBackupState(cred.Flags.BackupState).SetCreatedAt(now).SetUpdatedAt(now).Save(ctx)
		if err != nil {
			return err
		}
		return activity.Record(ctx, tx, activity.Event{Type: activity.PasskeyAdded, Actor: activity.ByPerson,
			UserID: uid, Details: map[string]string{"name": name}, At: now})
	})
	if store.Conflict(err) {
		return nil, errRegistered()
	}
	if err != nil {
		return nil, fmt.Errorf("storing passkey: %w", err)
	}
	s.notify(ctx, uid, Added)
	return k.Unwrap(), nil // written in the committed tx: read on through the client
}

// secondStep checks code as the second step of uid, who is adding or removing a passkey
// (mfa.Service.ConfirmChange).
func (s *Service) secondStep(ctx context.Context, uid, code string) error {
	if s.MFA != nil {
		_, err := s.MFA.ConfirmChange(ctx, code)
		return err
	}
	on, err := s.DB.TOTPFactor.Query().Where(totpfactor.UserID(uid)).Exist(ctx)
	if err != nil {
		return fmt.Errorf("reading two-step verification: %w", err)
	}
	if on {
		return errors.New("passkeys: the person has two-step verification on and no service checks their code")
	}
	return nil
}

func errTooMany() error { return apperr.New(apperr.Invalid, "too many passkeys; remove one first") }

func errRegistered() error { return apperr.New(apperr.Conflict, "this passkey is already registered") }

// addingKey names the lease of adding a passkey to a person (holdAdding).
func addingKey(uid string) string { return "pkadd:" + uid }

// Limits of holdAdding: how long a lease lasts at most, and how often and how many times a
// registration asks for it while another holds it (some five seconds in all).
const (
	addingTTL   = 30 * time.Second
	addingPoll  = 50 * time.Millisecond
	addingTries = 100
)

// holdAdding takes uid's lease of adding a passkey, waiting while another registration of
// theirs holds it, and returns its release. Registrations finishing at the same moment take
// turns from reading the challenge to storing the passkey, so the one that finds the last of
// MaxPerUser places taken is refused before the person's code is checked (secondStep): the
// count under the person's lock in the transaction still decides, but refused there the code
// (a mailed one, a passkey's confirmation, a recovery code) was spent for nothing. A lease not
// given back in time (the instance stopped) ends after addingTTL; still held after
// addingTries, Conflict, and nothing is spent.
func (s *Service) holdAdding(ctx context.Context, uid string) (release func(), err error) {
	token := ids.New("")
	for try := 0; ; try++ {
		ok, err := s.KV.SetNX(ctx, addingKey(uid), token, addingTTL).Result()
		if err != nil {
			return nil, fmt.Errorf("holding the passkey registration: %w", err)
		}
		if ok {
			break
		}
		if try == addingTries {
			return nil, apperr.New(apperr.Conflict, "another passkey is being added to your account; try again in a moment")
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(addingPoll):
		}
	}
	return func() {
		ctx := context.WithoutCancel(ctx)
		if held, err := s.KV.Get(ctx, addingKey(uid)).Result(); err == nil && held == token {
			s.KV.Del(ctx, addingKey(uid))
		}
	}, nil
}

// List returns userID's passkeys, newest first; only the person themself may list them
// (anyone else: NotFound).
func (s *Service) List(ctx context.Context, userID string) ([]*ent.Passkey, error) {
	uid, err := auth.RequireUser(ctx)
	if err != nil {
		return nil, err
	}
	if uid != userID {
		return nil, apperr.New(apperr.NotFound, "user not found")
	}
	return s.DB.Passkey.Query().Where(entpasskey.UserID(uid)).Order(ent.Desc(entpasskey.FieldCreatedAt)).All(ctx)
}

// Rename renames one of the signed-in person's passkeys. It needs a recent sign-in
// (auth.RequireRecentSignIn), as adding and removing one do: the name is how the person tells
// their own passkeys from one they do not know, and a copied session cookie, however old,
// renamed them (a thief's passkey after the person's phone, the person's own "not mine"). It
// asks for no second step and mails no notice: a name changes nobody's way to sign in (adding
// and removing, which do, are mailed), and the activity log records it.
func (s *Service) Rename(ctx context.Context, id, name string) (*ent.Passkey, error) {
	uid, err := auth.RequireRecentSignIn(ctx, s.Now())
	if err != nil {
		return nil, err
	}
	if name, err = checkName(name); err != nil {
		return nil, err
	}
	err = s.DB.Tx(ctx, func(tx *ent.Tx) error {
		n, err := tx.Passkey.Update().Where(entpasskey.ID(id), entpasskey.UserID(uid)).SetName(name).SetUpdatedAt(s.Now()).Save(ctx)
		if err != nil {
			return fmt.Errorf("renaming passkey: %w", err)
		}
		if n == 0 {
			return apperr.New(apperr.NotFound, "passkey not found")
		}
		return activity.Record(ctx, tx, activity.Event{Type: activity.PasskeyRenamed, Actor: activity.ByPerson,
			UserID: uid, Details: map[string]string{"name": name}, At: s.Now()})
	})
	if err != nil {
		return nil, err
	}
	return s.DB.Passkey.Get(ctx, id)
}

// Delete removes one of the signed-in person's passkeys, then ends the sessions it signed in
// (EndSessions), all but the current one: a passkey someone else added must not leave them
// signed in. It takes what adding one takes (secondStep with code): a recent sign-in and the
// person's second step, so that a copied session cookie cannot take away the person's own way
// to sign in.
//
// The sessions end before the removal too, and a failure there removes nothing: ended only
// after the commit, a failure left them signed in with the passkey gone, and a retry of the
// removal answered NotFound and ended nothing. What ends after the commit is only a session of
// a sign-in with the passkey that verified it before the commit.
func (s *Service) Delete(ctx context.Context, id, code string) error {
	uid, err := auth.RequireRecentSignIn(ctx, s.Now())
	if err != nil {
		return err
	}
	// The passkey first: another person's or an unknown one answers NotFound and spends no
	// code (a mailed code is single-use).
	k, err := s.DB.Passkey.Query().Where(entpasskey.ID(id), entpasskey.UserID(uid)).Only(ctx)
	if err != nil {
		return store.Err(err, "passkey")
	}
	if err := s.secondStep(ctx, uid, code); err != nil {
		return err
	}
	if s.EndSessions != nil {
		if _, err := s.EndSessions(ctx, uid, Ref(k.CredentialID)); err != nil {
			return fmt.Errorf("ending the passkey's sessions: %w", err)
		}
	}
	var ref string
	err = s.DB.Tx(ctx, func(tx *ent.Tx) error {
		k, err := tx.Passkey.Query().Where(entpasskey.ID(id), entpasskey.UserID(uid)).Only(ctx)
		if err != nil {
			return store.Err(err, "passkey")
		}
		ref = Ref(k.CredentialID)
		if err := tx.Passkey.DeleteOne(k).Exec(ctx); err != nil {
			return fmt.Errorf("deleting passkey: %w", err)
		}
		return activity.Record(ctx, tx, activity.Event{Type: activity.PasskeyRemoved, Actor: activity.ByPerson,
			UserID: uid, Details: map[string]string{"name": k.Name}, At: s.Now()})
	})
	if err != nil {
		return err
	}
	s.notify(ctx, uid, Removed)
	if s.EndSessions != nil {
		if _, err := s.EndSessions(ctx, uid, ref); err != nil {
			return fmt.Errorf("ending the removed passkey's sessions: %w", err)
		}
	}
	return nil
}

// Registered reports whether userID still has the passkey named by ref (Ref). A sign-in
// with a passkey asks it once its session is written: a removal that committed after the
// assertion verified, and ended the passkey's sessions before that one existed, would
// otherwise leave it signed in with nothing in the dashboard left to remove.
func (s *Service) Registered(ctx context.Context, userID, ref string) (bool, error) {
	keys, err := s.DB.Passkey.Query().Where(entpasskey.UserID(userID)).All(ctx)
	if err != nil {
		return false, fmt.Errorf("reading passkeys: %w", err)
	}
	for _, k := range keys {
		if ref != "" && Ref(k.CredentialID) == ref {
			return true, nil
		}
	}
	return false, nil
}

// DeleteUser removes userID's passkeys (account deletion), inside the caller's transaction.
func DeleteUser(ctx context.Context, tx *ent.Tx, userID string) error {
	if _, err := tx.Passkey.Delete().Where(entpasskey.UserID(userID)).Exec(ctx); err != nil {
		return fmt.Errorf("deleting passkeys: %w", err)
	}
	return nil
}

// HasPasskey reports whether userID has a passkey.
func (s *Service) HasPasskey(ctx context.Context, userID string) (bool, error) {
	n, err := s.DB.Passkey.Query().Where(entpasskey.UserID(userID)).Count(ctx)
	return n > 0, err
}

// BeginLogin starts a passkey sign-in (no account named: the passkey says whose it is) and
// returns the PublicKeyCredentialRequestOptions (JSON) for navigator.credentials.get. It is
// BeginLoginIn for no browser in particular.
func (s *Service) BeginLogin(ctx context.Context) (string, error) {
	return s.BeginLoginIn(ctx, "")
}

// BeginLoginIn is BeginLogin in the browser known as browser (its cookie's raw value): only
// FinishLoginIn with the same browser answers the challenge. An assertion taken from the
// person's browser (a log, a relay in the middle, a script of another page) then signs in
// nowhere else, and sending it from elsewhere does not spend the person's challenge.
func (s *Service) BeginLoginIn(ctx context.Context, browser string) (string, error) {
	if err := s.available(); err != nil {
		return "", err
	}
	opts, sess, err := s.WA.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return "", fmt.Errorf("starting passkey sign-in: %w", err)
	}
	b, _ := json.Marshal(sess)
	if err := s.KV.Set(ctx, loginKey(browser, sess.Challenge), b, challengeTTL).Err(); err != nil {
		return "", fmt.Errorf("storing passkey challenge: %w", err)
	}
	out, _ := json.Marshal(opts)
	return string(out), nil
}

// FinishLogin verifies an assertion (the PublicKeyCredential as JSON) against the challenge it
// answers (spent by this call) and the passkey it names, and returns the person and the
// methods it proves: hwk (device-bound) or swk (synced), and mfa (user verification). A
// response that does not verify, an unknown passkey, or a signature counter that went back or
// that another sign-in moved meanwhile (a cloned authenticator) answers Unauthorized. It is
// FinishLoginIn for a challenge of BeginLogin.
func (s *Service) FinishLogin(ctx context.Context, response string) (userID string, amr []string, err error) {
	return s.FinishLoginIn(ctx, response, "")
}

// FinishLoginIn is FinishLogin of a challenge BeginLoginIn gave browser; a challenge given to
// another browser, or none, answers Gone and stays for its own browser.
func (s *Service) FinishLoginIn(ctx context.Context, response, browser string) (userID string, amr []string, err error) {
	if err := s.available(); err != nil {
		return "", nil, err
	}
	refused := apperr.New(apperr.Unauthorized, "this passkey could not sign you in")
	if len(response) > MaxResponse {
		return "", nil, apperr.New(apperr.Invalid, "the passkey response is too large")
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes([]byte(response))
	if err != nil {
		return "", nil, apperr.New(apperr.Invalid, "the passkey response is malformed")
	}
	b, err := s.KV.GetDel(ctx, loginKey(browser, parsed.Response.CollectedClientData.Challenge)).Bytes()
	if errors.Is(err, redis.Nil) {
		return "", nil, apperr.New(apperr.Gone, "this passkey sign-in expired or was used; try again")
	}
	if err != nil {
		return "", nil, fmt.Errorf("reading passkey challenge: %w", err)
	}
	var sess webauthn.SessionData
	if err := json.Unmarshal(b, &sess); err != nil {
		return "", nil, fmt.Errorf("reading passkey challenge: %w", err)
	}
	var stored *ent.Passkey
	handler := func(rawID, userHandle []byte) (webauthn.User, error) {
		k, err := s.DB.Passkey.Query().Where(entpasskey.CredentialID(rawID)).Only(ctx)
		if err != nil {
			return nil, errors.New("unknown passkey")
		}
		legacy := legacyHandle(userHandle, k.UserID)
		if !legacy && !hmac.Equal(userHandle, s.UserHandle(k.UserID)) {
			return nil, errors.New("passkey of another account")
		}
		p, keys, err := s.person(ctx, k.UserID)
		if err != nil {
			return nil, err
		}
		if legacy {
			p.handle = userHandle
		}
		// The row the library checks the counter against, so the compare-and-set below
		// expects the very value the clone check saw.
		for _, key := range keys {
			if bytes.Equal(key.CredentialID, rawID) {
				stored = key
			}
		}
		return p, nil
	}
	_, cred, err := s.WA.ValidatePasskeyLogin(handler, sess, parsed)
	if err != nil || stored == nil {
		return "", nil, refused
	}
	if err := s.recordUse(ctx, stored, cred, parsed, refused); err != nil {
		return "", nil, err
	}
	kind := mfa.AMRHwk
	if stored.BackupEligible {
		kind = mfa.AMRSwk
	}
	return stored.UserID, []string{kind, mfa.AMRMFA}, nil
}

// recordUse finishes checking an assertion the library verified against stored (the row it
// read) and records the passkey's use; a clone or an assertion without user verification
// answers refused.
func (s *Service) recordUse(ctx context.Context, stored *ent.Passkey, cred *webauthn.Credential,
	parsed *protocol.ParsedCredentialAssertionData, refused error) error {
	// User verification of this very assertion: the library checks it only because the stored
	// challenge says "required", and cred.Flags.UserVerified is the stored credential's latched
	// flag (credential sets it), not this ceremony's.
	if cred.Authenticator.CloneWarning || !parsed.Response.AuthenticatorData.Flags.HasUserVerified() {
		return refused
	}
	// The clone check compared against the counter read above; assertions racing with a
	// cloned authenticator all pass it. Only the one whose read is still current stores its
	// counter; the others are refused like a clone. Synced passkeys always report 0 and stay
	// at 0, so theirs all match.
	now := s.Now()
	n, err := s.DB.Passkey.Update().Where(entpasskey.ID(stored.ID), entpasskey.SignCount(stored.SignCount)).
		SetSignCount(cred.Authenticator.SignCount).SetBackupState(cred.Flags.BackupState).
		SetLastUsedAt(now).SetUpdatedAt(now).Save(ctx)
	if err != nil {
		return fmt.Errorf("recording passkey use: %w", err)
	}
	if n == 0 {
		return refused
	}
	return nil
}

func confirmKey(uid string) string { return "pkconfirm:" + uid }

// BeginConfirmation starts confirming a change with one of the signed-in person's passkeys
// (mfa.Service.ConfirmChange asks one of: the app's code, a mailed code, or this) and returns
// the PublicKeyCredentialRequestOptions (JSON) for navigator.credentials.get: their passkeys
// only, user verification required, the challenge single use for 5 minutes (a new one
// replaces it). Needs a recent sign-in; a person without a passkey gets NotFound no_passkey.
func (s *Service) BeginConfirmation(ctx context.Context) (string, error) {
	uid, err := auth.RequireRecentSignIn(ctx, s.Now())
	if err != nil {
		return "", err
	}
	if err := s.available(); err != nil {
		return "", err
	}
	p, _, err := s.person(ctx, uid)
	if err != nil {
		return "", err
	}
	if len(p.creds) == 0 {
		return "", apperr.WithReason(apperr.NotFound, "no_passkey", "you have no passkey: confirm with a code instead")
	}
	opts, sess, err := s.WA.BeginLogin(p, webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return "", fmt.Errorf("starting a passkey confirmation: %w", err)
	}
	b, _ := json.Marshal(sess)
	if err := s.KV.Set(ctx, confirmKey(uid), b, challengeTTL).Err(); err != nil {
		return "", fmt.Errorf("storing passkey challenge: %w", err)
	}
	out, _ := json.Marshal(opts)
	return string(out), nil
}

// FinishConfirmation verifies the assertion (the PublicKeyCredential as JSON) that answers the
// signed-in person's BeginConfirmation (its challenge spent by this call, whatever the
// outcome) with one of their own passkeys and its user verification, and returns a
// confirmation for one change (mfa.Service.IssuePasskeyConfirmation) and when it expires. The
// passkey of another account, one that does not verify, a clone or no user verification
// answers Unauthorized; a spent or expired challenge Gone.
func (s *Service) FinishConfirmation(ctx context.Context, response string) (string, time.Time, error) {
	uid, err := auth.RequireRecentSignIn(ctx, s.Now())
	if err != nil {
		return "", time.Time{}, err
	}
	if err := s.available(); err != nil {
		return "", time.Time{}, err
	}
	if s.MFA == nil {
		return "", time.Time{}, errors.New("passkeys: no second-step service gives confirmations")
	}
	if len(response) > MaxResponse {
		return "", time.Time{}, apperr.New(apperr.Invalid, "the passkey response is too large")
	}
	b, err := s.KV.GetDel(ctx, confirmKey(uid)).Bytes()
	if errors.Is(err, redis.Nil) {
		return "", time.Time{}, apperr.New(apperr.Gone, "confirming with your passkey took too long; try again")
	}
	if err != nil {
		return "", time.Time{}, fmt.Errorf("reading passkey challenge: %w", err)
	}
	var sess webauthn.SessionData
	if err := json.Unmarshal(b, &sess); err != nil {
		return "", time.Time{}, fmt.Errorf("reading passkey challenge: %w", err)
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes([]byte(response))
	if err != nil {
		return "", time.Time{}, apperr.New(apperr.Invalid, "the passkey response is malformed")
	}
	// A reason of its own: the dashboard sends a plain "unauthorized" to the login page, and
	// the person is signed in; they may try another passkey or a code.
	refused := apperr.WithReason(apperr.Unauthorized, "passkey_refused", "this passkey could not confirm it is you")
	p, keys, err := s.person(ctx, uid)
	if err != nil {
		return "", time.Time{}, err
	}
	var stored *ent.Passkey
	for _, k := range keys {
		if bytes.Equal(k.CredentialID, parsed.RawID) {
			stored = k
		}
	}
	if stored == nil {
		return "", time.Time{}, refused
	}
	// A passkey registered before UserHandle holds the account id as its handle: the ceremony
	// (bound to the person by confirmKey) is checked against it.
	if h := parsed.Response.UserHandle; legacyHandle(h, uid) {
		p.handle, sess.UserID = h, h
	}
	cred, err := s.WA.ValidateLogin(p, sess, parsed)
	if err != nil {
		return "", time.Time{}, refused
	}
	if err := s.recordUse(ctx, stored, cred, parsed, refused); err != nil {
		return "", time.Time{}, err
	}
	return s.MFA.IssuePasskeyConfirmation(ctx, uid)
}

// checkName is name as stored: trimmed, in NFC, "Passkey" when empty. It is one line the
// person reads in the dashboard, the activity log and the security notices, under the rule of
// a person's name (profile.CleanName): no control character (NUL, newline), no bidirectional
// override that shows the rest reversed, no invisible name; at most maxName characters,
// counted as stored, in NFC: a few characters become two in NFC (U+0958 and the other
// composition exclusions), so a name counted before it passed with up to twice maxName and
// the schema's bound refused it as an internal error, after a registration had spent the
// person's code.
func checkName(name string) (string, error) {
	if utf8.RuneCountInString(norm.NFC.String(strings.TrimSpace(name))) > maxName {
		return "", apperr.WithReason(apperr.Invalid, "invalid_name", "a passkey name has at most %d characters", maxName)
	}
	name, err := profile.CleanName(name)
	if err != nil {
		return "", err
	}
	if name == "" {
		name = "Passkey"
	}
	return name, nil
}

// protocolDetail is the library's explanation of a refused ceremony.
func protocolDetail(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.Details != "" {
		return pe.Details
	}
	return "it does not match this sign-in"
}

func (s *Service) notify(ctx context.Context, uid string, e mfa.Event) {
	if s.Notify != nil {
		s.Notify(ctx, uid, e, "")
	}
}
