// Package identity holds LoginSign accounts: people, their addresses and their browser
// sessions.
package identity

import (
	"context"
	"errors"
	"fmt"
	"time"

	"loginsign/ent"
	"loginsign/ent/user"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/globalid"
	"loginsign/internal/kv"
	"loginsign/internal/mail"
	"loginsign/internal/profile"
	"loginsign/internal/store"
)

// Service is the accounts domain.
type Service struct {
	DB       *store.DB
	KV       *kv.Store
	IDs      *globalid.Allocator
	Sessions *Sessions
	Now      func() time.Time
	// Mail and BaseURL send the confirmation and notice mails of a requested address change
	// (links point at BaseURL, LOGINSIGN_BASE_URL).
	Mail    mail.Sender
	BaseURL string
	// Notices sends the security notice of a primary address changed, which the change owes
	// the old address (the server's mailqueue.Queue: kept until the mail server takes it). Nil:
	// Mail.
	Notices mail.Sender
	// RelayDomain is the domain of the relay's masked addresses (LOGINSIGN_RELAY_DOMAIN):
	// none of them is proposed to a person as their address (NotRelayAddress). "" checks
	// nothing.
	RelayDomain string
	// SessionsEnding, when set, is told before sessions of userID that the person ends from
	// the dashboard (or that a change of the primary address or a passkey's removal ends) are
	// deleted, with the start of the earliest and their lines (auth.Session.Line): the
	// applications signed in to since get a back-channel logout, and what the lines were
	// given ends (oauth.Service.LogoutApps, which this package cannot call itself).
	SessionsEnding func(ctx context.Context, userID string, since time.Time, lines []string) error
	// BrowsersSignedOut, when set, is told before sessions of userID that end from elsewhere
	// (the dashboard's revokeSession and "Sign out everywhere else", a change of the primary
	// address, a passkey's or an address's removal, the undo link of a new authenticator app)
	// are deleted, with the hashes of the cookies of the browsers they signed in from
	// (SessionInfo.BrowserHash), but the one of this request: ending a session is signing out
	// in its browser (oauth.Service.SignedOutElsewhere), so the sign-in links asked for there
	// no longer name the person's address to whoever uses that browser next.
	BrowsersSignedOut func(ctx context.Context, userID string, browsers []string) error
	// ConfirmChange, when set, checks the signed-in person's recent sign-in and second step
	// (code) before ConfirmEmailChange moves the account to another address
	// (mfa.Service.ConfirmChange); unset, the recent sign-in alone.
	ConfirmChange func(ctx context.Context, code string) (string, error)
}

// New returns the accounts domain over db and kv.
func New(db *store.DB, k *kv.Store, now func() time.Time, cfg SessionConfig) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{
		DB:       db,
		KV:       k,
		IDs:      globalid.NewAllocator(db.Client, db.Dialect),
		Sessions: NewSessions(k, now, cfg),
		Now:      now,
	}
}

// NormalizeEmail trims and lower-cases an address and checks that it is a bare addr-spec
// (no display name) of at most 254 characters: mail.NormalizeAddress.
func NormalizeEmail(s string) (string, error) { return mail.NormalizeAddress(s) }

// CreateUser creates an account with a fresh Global User ID. An address already taken answers
// Conflict. The name follows the profile's rule (profile.CleanName: at most 200 characters,
// one line, no control or invisible format characters), as a name set on the dashboard does:
// apps and developers read it in the same claims and lists.
func (s *Service) CreateUser(ctx context.Context, email, name string) (*ent.User, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return nil, err
	}
	if name, err = profile.CleanName(name); err != nil {
		return nil, err
	}
	if _, err := s.IDs.Prepare(ctx); err != nil {
		return nil, err
	}
	var u *ent.User
	err = s.DB.Tx(ctx, func(tx *ent.Tx) error {
		if taken, err := tx.User.Query().Where(user.Email(email)).Exist(ctx); err != nil {
			return err
		} else if taken {
			return apperr.WithReason(apperr.Conflict, "email_taken", "an account with this email already exists")
		}
		gid, err := s.IDs.Next(ctx, tx.Client())
		if err != nil {
			return err
		}
		if u, err = tx.User.Create().SetGlobalID(gid).SetEmail(email).SetName(name).Save(ctx); err != nil {
			return store.Err(err, "user")
		}
		// The address may be another account's verified alternative: then it is theirs.
		return ClaimAddress(ctx, tx, u.ID, email, s.Now().UTC())
	})
	if err != nil {
		return nil, err
	}
	// Written in the committed tx: its edges (emails, connections) are read through the client.
	return u.Unwrap(), nil
}

// UserByEmail returns the account whose primary address is email.
func (s *Service) UserByEmail(ctx context.Context, email string) (*ent.User, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return nil, err
	}
	u, err := s.DB.User.Query().Where(user.Email(email)).Only(ctx)
	return u, store.Err(err, "user")
}

// User returns the account with internal id.
func (s *Service) User(ctx context.Context, id string) (*ent.User, error) {
	u, err := s.DB.User.Get(ctx, id)
	return u, store.Err(err, "user")
}

// EnsureUser returns the account that holds email (as primary or verified alternative
// address), creating one on first sign-in.
func (s *Service) EnsureUser(ctx context.Context, email string) (u *ent.User, created bool, err error) {
	u, err = s.AccountByAddress(ctx, email)
	if err == nil {
		return u, false, nil
	}
	if !apperr.Is(err, apperr.NotFound) {
		return nil, false, err
	}
	u, err = s.CreateUser(ctx, email, "")
	if errors.Is(err, globalid.ErrExhausted) {
		return nil, false, err
	}
	if apperr.Is(err, apperr.Conflict) {
		// Another request created it first, or another account verified it meanwhile.
		u, err = s.AccountByAddress(ctx, email)
		return u, false, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("creating account: %w", err)
	}
	return u, true, nil
}

// ViewerLanguage is the language the signed-in person chose (a BCP 47 tag), or "" when
// nobody is signed in, the person chose none, or the account cannot be read: the first source
// of i18n.Choose on every page.
func (s *Service) ViewerLanguage(ctx context.Context) string {
	u, err := s.Viewer(ctx)
	if err != nil || u == nil {
		return ""
	}
	return u.Language
}

// Viewer returns the signed-in person's account, or nil when the request has no session.
func (s *Service) Viewer(ctx context.Context) (*ent.User, error) {
	sess, ok := auth.SessionFrom(ctx)
	if !ok {
		return nil, nil
	}
	return s.User(ctx, sess.UserID)
}
