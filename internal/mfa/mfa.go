// Package mfa is two-step verification: a TOTP authenticator app (RFC 6238) with ten
// single-use recovery codes. Enrolment, turning it off and regenerating recovery codes are the
// signed-in person's and need a recent sign-in (auth.RequireRecentSignIn); Verify is the second
// step of a sign-in, Reverify the fresh second step those changes (and adding a passkey) ask
// for. Every code check is rate limited per person, a sign-in's apart from the dashboard's, and
// a wrong code changes nothing.
package mfa

import (
	"bytes"
	"context"
	"crypto/hmac"
	"errors"
	"fmt"
	"image/png"
	"log/slog"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"
	"github.com/redis/go-redis/v9"

	"loginsign/ent"
	"loginsign/ent/recoverycode"
	"loginsign/ent/totpfactor"
	"loginsign/internal/activity"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/ids"
	"loginsign/internal/kv"
	"loginsign/internal/mail"
	"loginsign/internal/ratelimit"
	"loginsign/internal/seal"
	"loginsign/internal/store"
)

// Authentication Method Reference values (RFC 8176 §2) and Authentication Context Class
// References that LoginSign puts in id_tokens.
const (
	AMROTP = "otp" // a one-time code: TOTP or a recovery code
	AMRHwk = "hwk" // a passkey bound to one device
	AMRSwk = "swk" // a synced passkey (backup eligible)
	AMRMFA = "mfa" // two independent factors
	// ACR1FA is one factor: a magic link alone (or a passkey without user verification).
	ACR1FA = "urn:loginsign:acr:1fa"
	// ACRMFA is two factors: a magic link with a TOTP or recovery code, or a passkey with
	// user verification.
	ACRMFA = "urn:loginsign:acr:mfa"
)

// ACR is the authentication context class of a sign-in with the methods amr.
func ACR(amr []string) string {
	for _, m := range amr {
		if m == AMRMFA {
			return ACRMFA
		}
	}
	return ACR1FA
}

// RecoveryCodeCount is how many recovery codes a person gets at a time.
const RecoveryCodeCount = 10

const (
	period     = 30 // seconds per TOTP time step
	digits     = otp.DigitsSix
	skew       = 1 // steps accepted either side of now (RFC 6238 §5.2)
	enrolTTL   = 15 * time.Minute
	issuerName = "LoginSign"
)

// Service is two-step verification.
type Service struct {
	DB *store.DB
	KV *kv.Store
	// Secrets seals TOTP secrets at rest.
	Secrets *seal.Sealer
	Now     func() time.Time
	// RecoveryCodeKey keys the stored form of recovery codes (recoveryCodeHash). A code has
	// 59 bits: stored as a plain SHA-256, one guess on a GPU would be checked against every
	// stored code at once, and a copy of the database would yield someone's second factor
	// quickly. Keyed and bound to the person, a guess needs the key and tests one person's
	// codes. Empty, codes are still bound to the person, but a copy of the database alone is
	// enough to test guesses, so the server sets it, derived from LOGINSIGN_SECRET: every
	// instance stores and checks codes alike, and changing the secret makes stored codes
	// unusable, as it does sealed TOTP secrets.
	RecoveryCodeKey []byte
	// Limiter counts code checks per person. Attempts is the rule of the sign-in's second step
	// (Verify), AccountAttempts that of the codes the signed-in person sends from the dashboard
	// (enrolment, Reverify): apart, so that a session, even a stolen one, can never spend the
	// tries the person needs to sign in. Default 10 per 15 minutes each.
	Limiter         *ratelimit.Limiter
	Attempts        ratelimit.Rule
	AccountAttempts ratelimit.Rule
	// NewBrowserFailures counts the wrong codes typed at the second step of the person's
	// sign-ins in browsers that never signed in to the account (Verify), all of them together.
	// Whoever gets the magic links of the person's mailbox reaches the second step as often as
	// they like; under Attempts alone they would have 960 guesses a day at a 6-digit code (one
	// in 350 to get in each day). Past it those browsers are refused until the window moves on
	// and the person is told by mail (SecondStepPaused), while a browser that signed in to the
	// account before counts its tries apart (VerifyIn): a stranger's guesses never lock the
	// person out of the browsers they use. Default 20 per 24 hours.
	NewBrowserFailures ratelimit.Rule
	// KnownBrowserFailures counts the wrong codes typed at the second step in one browser that
	// signed in to the account before (VerifyIn), each browser apart: whoever reads the
	// person's mailbox from a browser that signed in once (before the app was set up, or with a
	// copy of the person's cookies) had Attempts alone, 960 guesses a day without end and
	// without the person being told. Past it that browser waits and the person is told by mail
	// (KnownBrowserPaused); only that browser spends it, so a stranger's guesses never lock the
	// person out of the others. Default DefaultKnownBrowserFailures.
	KnownBrowserFailures ratelimit.Rule
	// Notify, when set, is told of a change to a person's factors (security notices); undo,
	// when not empty, is the one-time token of the change's "this wasn't me" link
	// (UndoTOTPPath), for the notice of an authenticator app set up (TOTPAdded).
	Notify func(ctx context.Context, userID string, event Event, undo string)
	// KnownBrowser reports whether browser (its cookie's raw value) signed in to userID's
	// account before (oauth.Service.KnownBrowser): the undo link works only there (UndoTOTP).
	KnownBrowser func(ctx context.Context, browser, userID string) (bool, error)
	// EndSessions ends every session of userID and every sign-in under way
	// (identity.Service.EndAllSessions), for UndoTOTP.
	EndSessions func(ctx context.Context, userID string) error
	// Mail sends the confirmation codes of SendChangeCode.
	Mail mail.Sender
	// ChangeCodeSends bounds the codes SendChangeCode mails a person; default
	// DefaultChangeCodeSends.
	ChangeCodeSends ratelimit.Rule
	// SignInAddress, when set, tells which of userID's addresses addrs the mailbox sign-in of
	// the session of ctx proved ("" for none; identity.Service.SignInAddress): SendChangeCode
	// mails it there.
	SignInAddress func(ctx context.Context, userID string, addrs []string) (string, error)
	// UndoTOTPDelay is how long after the undo link was used the authenticator app it names is
	// turned off, unless it is used meanwhile (UndoTOTP). Default DefaultUndoTOTPDelay.
	UndoTOTPDelay time.Duration
}

// Event is a change to a person's second factors, for security notices.
type Event string

// Events.
const (
	TOTPAdded            Event = "totp_added"
	TOTPRemoved          Event = "totp_removed"
	RecoveryCodeUsed     Event = "recovery_code_used"
	RecoveryCodesRenewed Event = "recovery_codes_renewed"
	// SecondStepPaused: NewBrowserFailures ran out, browsers new to the account wait.
	SecondStepPaused Event = "second_step_paused"
	// TOTPRemovalScheduled: the undo link of a new authenticator app was used (UndoTOTP):
	// sessions ended, passkeys added since removed, the app turned off UndoTOTPDelay later.
	TOTPRemovalScheduled Event = "totp_removal_scheduled"
	// KnownBrowserPaused: KnownBrowserFailures ran out for one browser that signed in to the
	// account before; it waits, the others do not.
	KnownBrowserPaused Event = "second_step_paused_browser"
)

// New returns the service.
func New(db *store.DB, k *kv.Store, secrets *seal.Sealer, now func() time.Time) *Service {
	if now == nil {
		now = func() time.Time { return time.Now().UTC() }
	}
	return &Service{DB: db, KV: k, Secrets: secrets, Now: now, Limiter: ratelimit.New(k),
		Attempts:             ratelimit.Rule{Name: "mfa-code", N: 10, Window: 15 * time.Minute},
		AccountAttempts:      ratelimit.Rule{Name: "mfa-code-account", N: 10, Window: 15 * time.Minute},
		NewBrowserFailures:   ratelimit.Rule{Name: "mfa-code-new-browser", N: 20, Window: 24 * time.Hour},
		KnownBrowserFailures: DefaultKnownBrowserFailures,
		ChangeCodeSends:      DefaultChangeCodeSends,
		UndoTOTPDelay:        DefaultUndoTOTPDelay}
}

// DefaultKnownBrowserFailures is Service.KnownBrowserFailures of New: 20 wrong codes a day in
// one browser that signed in to the account before.
var DefaultKnownBrowserFailures = ratelimit.Rule{Name: "mfa-code-known-browser", N: 20, Window: 24 * time.Hour,
	Message: "too many wrong codes were typed in this browser; try again in %d s"}

// Status is a person's two-step verification state.
type Status struct {
	TOTP              bool
	TOTPSince         time.Time
	RecoveryCodesLeft int
}

// StatusOf returns userID's two-step verification state.
func (s *Service) StatusOf(ctx context.Context, userID string) (Status, error) {
	f, err := s.DB.TOTPFactor.Query().Where(totpfactor.UserID(userID)).Only(ctx)
	if store.NotFound(err) {
		return Status{}, nil
	}
	if err != nil {
		return Status{}, fmt.Errorf("reading two-step verification: %w", err)
	}
	n, err := s.DB.RecoveryCode.Query().Where(recoverycode.UserID(userID)).Count(ctx)
	if err != nil {
		return Status{}, fmt.Errorf("counting recovery codes: %w", err)
	}
	return Status{TOTP: true, TOTPSince: f.CreatedAt, RecoveryCodesLeft: n}, nil
}

// Enabled reports whether userID has two-step verification on. An authenticator app whose
// removal the undo link scheduled (UndoTOTP) is turned off here once it is due.
func (s *Service) Enabled(ctx context.Context, userID string) (bool, error) {
	n, err := s.DB.TOTPFactor.Query().Where(totpfactor.UserID(userID)).Count(ctx)
	if err != nil {
		return false, fmt.Errorf("reading two-step verification: %w", err)
	}
	if n == 0 {
		return false, nil // the store is read only for a person with an app
	}
	removed, err := s.removeIfDue(ctx, userID)
	return err == nil && !removed, err
}

// Enrolment is a TOTP secret offered to the person, not yet confirmed.
type Enrolment struct {
	// Secret is the base32 shared secret, for typing into an app.
	Secret string
	// URI is the otpauth:// URI the QR code holds.
	URI string
	// QRCodePNG is the QR code of URI.
	QRCodePNG []byte
	ExpiresAt time.Time
}

func enrolKey(uid string) string { return "totp-enrol:" + uid }

// BeginTOTP offers the signed-in person a new TOTP secret (account name: their address). It
// is kept for 15 minutes until ConfirmTOTP proves the app holds it; asking again replaces it.
// A person who already has two-step verification gets Conflict.
func (s *Service) BeginTOTP(ctx context.Context, accountName string) (*Enrolment, error) {
	uid, err := auth.RequireRecentSignIn(ctx, s.Now())
	if err != nil {
		return nil, err
	}
	if on, err := s.Enabled(ctx, uid); err != nil {
		return nil, err
	} else if on {
		return nil, apperr.New(apperr.Conflict, "two-step verification is already on; turn it off first to change the app")
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: issuerName, AccountName: accountName, Period: period, Digits: digits})
	if err != nil {
		return nil, fmt.Errorf("generating TOTP secret: %w", err)
	}
	img, err := key.Image(256, 256)
	if err != nil {
		return nil, fmt.Errorf("rendering QR code: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("rendering QR code: %w", err)
	}
	if err := s.KV.Set(ctx, enrolKey(uid), s.Secrets.Seal([]byte(key.Secret())), enrolTTL).Err(); err != nil {
		return nil, fmt.Errorf("storing TOTP enrolment: %w", err)
	}
	return &Enrolment{Secret: key.Secret(), URI: key.URL(), QRCodePNG: buf.Bytes(), ExpiresAt: s.Now().Add(enrolTTL)}, nil
}

// ConfirmTOTP turns two-step verification on for the signed-in person with the first code of
// the secret from BeginTOTP, and returns their ten recovery codes (shown once; only hashes are
// kept). A wrong code answers Invalid and changes nothing; no enrolment in progress, Gone.
// Tries count under AccountAttempts.
//
// It also takes confirmation, the person's mailbox or passkey (ConfirmChange: a code
// SendChangeCode mailed, or IssuePasskeyConfirmation's), checked after the app's code, so a
// mistyped app code spends no mailed one. An app set up changes how the person signs in, as a
// passkey added does: before, the copy of a recent sign-in's session cookie was enough to set
// up the thief's own app, and the person, who has neither its codes nor the recovery codes,
// was locked out until the undo link's three days ran out. Without confirmation it answers
// Invalid, reason confirmation_code_required, and the dashboard asks for one.
func (s *Service) ConfirmTOTP(ctx context.Context, code, confirmation string) ([]string, error) {
	uid, err := auth.RequireRecentSignIn(ctx, s.Now())
	if err != nil {
		return nil, err
	}
	if err := s.Limiter.Take(ctx, s.AccountAttempts, uid); err != nil {
		return nil, err
	}
	sealed, err := s.KV.Get(ctx, enrolKey(uid)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, apperr.New(apperr.Gone, "the set-up has expired; start again")
	}
	if err != nil {
		return nil, fmt.Errorf("reading TOTP enrolment: %w", err)
	}
	secret, err := s.Secrets.Open(sealed)
	if err != nil {
		return nil, fmt.Errorf("opening TOTP enrolment: %w", err)
	}
	counter, ok := s.match(string(secret), typedCode(code), 0)
	if !ok {
		return nil, apperr.New(apperr.Invalid, "the code is wrong or expired; enter the current code from your app")
	}
	if _, err := s.ConfirmChange(ctx, confirmation); err != nil {
		return nil, err
	}
	codes := newRecoveryCodes()
	now := s.Now()
	var factorID string
	err = s.DB.Tx(ctx, func(tx *ent.Tx) error {
		if _, err := store.LockUser(ctx, tx, s.DB.Dialect, uid); err != nil {
			return err
		}
		f, err := tx.TOTPFactor.Create().SetUserID(uid).SetSecretSealed(s.Secrets.Seal(secret)).
			SetLastCounter(counter).SetCreatedAt(now).SetUpdatedAt(now).Save(ctx)
		if store.Conflict(err) {
			return apperr.New(apperr.Conflict, "two-step verification is already on")
		}
		if err != nil {
			return fmt.Errorf("storing TOTP factor: %w", err)
		}
		factorID = f.ID
		if err := s.replaceRecoveryCodes(ctx, tx, uid, codes, now); err != nil {
			return err
		}
		return activity.Record(ctx, tx, activity.Event{Type: activity.TOTPEnabled, Actor: activity.ByPerson, UserID: uid, At: now})
	})
	if err != nil {
		return nil, err
	}
	s.KV.Del(ctx, enrolKey(uid))
	s.notify(ctx, uid, TOTPAdded, s.newUndoTOTP(ctx, uid, factorID))
	return codes, nil
}

// DisableTOTP turns two-step verification off for the signed-in person and deletes their
// recovery codes. It needs a recent sign-in and a fresh second step (Reverify).
func (s *Service) DisableTOTP(ctx context.Context, code string) error {
	uid, err := s.Reverify(ctx, code)
	if err != nil {
		return err
	}
	err = s.DB.Tx(ctx, func(tx *ent.Tx) error {
		if _, err := store.LockUser(ctx, tx, s.DB.Dialect, uid); err != nil {
			return err
		}
		if _, err := tx.TOTPFactor.Delete().Where(totpfactor.UserID(uid)).Exec(ctx); err != nil {
			return fmt.Errorf("deleting TOTP factor: %w", err)
		}
		if _, err := tx.RecoveryCode.Delete().Where(recoverycode.UserID(uid)).Exec(ctx); err != nil {
			return fmt.Errorf("deleting recovery codes: %w", err)
		}
		return activity.Record(ctx, tx, activity.Event{Type: activity.TOTPDisabled, Actor: activity.ByPerson, UserID: uid, At: s.Now()})
	})
	if err != nil {
		return err
	}
	s.notify(ctx, uid, TOTPRemoved, "")
	return nil
}

// RegenerateRecoveryCodes replaces the signed-in person's recovery codes with ten new ones.
// It needs a recent sign-in and a fresh second step (Reverify). Regenerations at the same
// moment take turns, so the person is left with the last one's ten codes, never more; once
// two-step verification was turned off meanwhile, it answers Conflict and stores none.
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, code string) ([]string, error) {
	uid, err := s.Reverify(ctx, code)
	if err != nil {
		return nil, err
	}
	codes := newRecoveryCodes()
	if err := s.DB.Tx(ctx, func(tx *ent.Tx) error {
		if _, err := store.LockUser(ctx, tx, s.DB.Dialect, uid); err != nil {
			return err
		}
		if on, err := tx.TOTPFactor.Query().Where(totpfactor.UserID(uid)).Exist(ctx); err != nil {
			return fmt.Errorf("reading two-step verification: %w", err)
		} else if !on {
			return apperr.New(apperr.Conflict, "two-step verification is off")
		}
		if err := s.replaceRecoveryCodes(ctx, tx, uid, codes, s.Now()); err != nil {
			return err
		}
		return activity.Record(ctx, tx, activity.Event{Type: activity.RecoveryCodesNew, Actor: activity.ByPerson, UserID: uid, At: s.Now()})
	}); err != nil {
		return nil, err
	}
	s.notify(ctx, uid, RecoveryCodesRenewed, "")
	return codes, nil
}

// DeleteUser removes userID's factors (account deletion), inside the caller's transaction.
func DeleteUser(ctx context.Context, tx *ent.Tx, userID string) error {
	if _, err := tx.TOTPFactor.Delete().Where(totpfactor.UserID(userID)).Exec(ctx); err != nil {
		return fmt.Errorf("deleting TOTP factor: %w", err)
	}
	if _, err := tx.RecoveryCode.Delete().Where(recoverycode.UserID(userID)).Exec(ctx); err != nil {
		return fmt.Errorf("deleting recovery codes: %w", err)
	}
	return nil
}

// Verify checks the code of the second step of userID's sign-in in a browser that never
// signed in to the account: a current TOTP code (each accepted once) or one of their recovery
// codes (spent by this call). It returns the methods it proves (AMR values). Checks are rate
// limited per person under Attempts, and the wrong ones of all such browsers together under
// NewBrowserFailures (RateLimited with RetryAfter); a wrong code answers Invalid and changes
// nothing else; a person without two-step verification, Invalid too.
func (s *Service) Verify(ctx context.Context, userID, code string) ([]string, error) {
	return s.VerifyIn(ctx, userID, "", code)
}

// VerifyIn is Verify in the browser known as browser: an opaque, stable key of a browser that
// signed in to userID's account before, whose checks count under Attempts and whose wrong
// codes under KnownBrowserFailures for it alone, never under NewBrowserFailures; "" is any
// other browser (Verify).
//
// The wrong code is counted before the code is checked and given back when the code is not
// wrong (right, or refused before it was checked): checked before and counted after, every
// code sent at once passed the check before any was counted, so the day's budget allowed as
// many more guesses as Attempts let through at once.
func (s *Service) VerifyIn(ctx context.Context, userID, browser, code string) ([]string, error) {
	rule, subject, paused, event := s.NewBrowserFailures, userID, "mfa-paused:"+userID, SecondStepPaused
	if browser != "" {
		subject = userID + "/" + browser
		rule, paused, event = s.KnownBrowserFailures, "mfa-paused-browser:"+subject, KnownBrowserPaused
	}
	if err := s.Limiter.Take(ctx, rule, subject); err != nil {
		if ae := apperr.As(err); browser == "" && ae != nil && ae.Code == apperr.RateLimited {
			paused := apperr.New(apperr.RateLimited, "too many wrong codes were typed for this account in browsers it never signed in with; sign in from a browser you used before, or try again later")
			paused.RetryAfter = ae.RetryAfter
			return nil, paused
		}
		return nil, err
	}
	amr, err := s.verify(ctx, s.Attempts, subject, userID, code)
	if !apperr.Is(err, apperr.Invalid) {
		// Not a wrong code: its count is given back. A failure to give it back (the limit
		// store down) leaves it to the end of its window.
		s.Limiter.Return(context.WithoutCancel(ctx), rule, subject)
		return amr, err
	}
	if err := s.tellPaused(ctx, rule, subject, userID, paused, event); err != nil {
		return nil, err
	}
	return amr, err
}

// tellPaused tells the person of event, once a window (paused names the window's mark), when
// the wrong codes of userID's second step counted under rule for subject have spent it.
func (s *Service) tellPaused(ctx context.Context, rule ratelimit.Rule, subject, userID, paused string, event Event) error {
	if err := s.Limiter.Check(ctx, rule, subject); !apperr.Is(err, apperr.RateLimited) {
		return err
	}
	first, err := s.KV.SetNX(ctx, paused, "1", rule.Window).Result()
	if err != nil {
		return err
	}
	if first {
		s.notify(ctx, userID, event, "")
	}
	return nil
}

// Reverify checks a fresh second step of the signed-in person before a change to how they sign
// in (turning two-step verification off, new recovery codes, a passkey added while it is on) and
// returns their id. The session's sign-in must be recent (auth.RequireRecentSignIn), which is
// checked before any try is counted, so an old session cookie spends no tries; then code is
// checked as Verify checks it (a TOTP code accepted once per time step, a recovery code spent),
// but counted under AccountAttempts, never the tries of the person's sign-in. A wrong or
// missing code, or a person without two-step verification, answers Invalid.
func (s *Service) Reverify(ctx context.Context, code string) (string, error) {
	uid, err := auth.RequireRecentSignIn(ctx, s.Now())
	if err != nil {
		return "", err
	}
	if _, err := s.verify(ctx, s.AccountAttempts, uid, uid, code); err != nil {
		return "", err
	}
	return uid, nil
}

// verify checks userID's code counting the try of subject under rule.
func (s *Service) verify(ctx context.Context, rule ratelimit.Rule, subject, userID, code string) ([]string, error) {
	if err := s.Limiter.Take(ctx, rule, subject); err != nil {
		return nil, err
	}
	wrong := errWrongCode()
	code = typedCode(code)
	if code == "" {
		return nil, wrong
	}
	f, err := s.DB.TOTPFactor.Query().Where(totpfactor.UserID(userID)).Only(ctx)
	if store.NotFound(err) {
		return nil, wrong
	}
	if err != nil {
		return nil, fmt.Errorf("reading TOTP factor: %w", err)
	}
	// Digits are a TOTP code, unless there are as many as a recovery code has: one drawn from
	// the digits alone (about one in ten million) and typed without its dashes was taken for
	// a TOTP code and refused for good.
	if digitsOnly(code) && len(code) < recoveryCodeLen {
		secret, err := s.Secrets.Open(f.SecretSealed)
		if err != nil {
			return nil, fmt.Errorf("opening TOTP secret: %w", err)
		}
		counter, ok := s.match(string(secret), code, f.LastCounter)
		if !ok {
			return nil, wrong
		}
		// Accept each time step once, even under concurrent sign-ins (RFC 6238 §5.2).
		n, err := s.DB.TOTPFactor.Update().Where(totpfactor.ID(f.ID), totpfactor.LastCounterLT(counter)).
			SetLastCounter(counter).SetUpdatedAt(s.Now()).Save(ctx)
		if err != nil {
			return nil, fmt.Errorf("recording TOTP use: %w", err)
		}
		if n == 0 {
			return nil, wrong
		}
		s.keepFactor(ctx, userID)
		return []string{AMROTP, AMRMFA}, nil
	}
	norm, ok := normalizeRecoveryCode(code)
	if !ok {
		return nil, wrong
	}
	// Codes stored before they were keyed (a plain ids.Hash) are accepted too, so nobody is
	// locked out. Using a code deletes its row, so there is nothing to rewrite; the person's
	// other old codes cannot be rewritten either, since only their hashes are known, and stay
	// in the old form until used or regenerated.
	n, err := s.DB.RecoveryCode.Delete().Where(recoverycode.UserID(userID),
		recoverycode.CodeHashIn(s.recoveryCodeHash(userID, norm), ids.Hash(norm))).Exec(ctx)
	if err != nil {
		return nil, fmt.Errorf("using recovery code: %w", err)
	}
	if n == 0 {
		return nil, wrong
	}
	s.notify(ctx, userID, RecoveryCodeUsed, "")
	s.keepFactor(ctx, userID)
	return []string{AMROTP, AMRMFA}, nil
}

// keepFactor cancels the scheduled removal of userID's authenticator app (UndoTOTP): whoever
// just used it or a recovery code holds it.
func (s *Service) keepFactor(ctx context.Context, userID string) {
	if err := s.KV.Del(ctx, removalKey(userID)).Err(); err != nil {
		slog.WarnContext(ctx, "cancelling a scheduled removal of an authenticator app", "err", err)
	}
}

// typedCode is a code as the person typed it, without the spaces: apps show a TOTP code as
// "123 456", and a code pasted or typed often has spaces around it. The enrolment, the sign-in
// and the dashboard's second step all read a code through it, so that none refuses a code
// another takes. It is "" for an empty code or one over 64 bytes, which no code is.
func typedCode(code string) string {
	code = strings.TrimSpace(code)
	if len(code) > 64 {
		return ""
	}
	return strings.ReplaceAll(code, " ", "")
}

// match finds the time step within skew of now whose code is code and that is later than
// after; constant-time per comparison.
func (s *Service) match(secret, code string, after int64) (int64, bool) {
	if len(code) != digits.Length() || !digitsOnly(code) {
		return 0, false
	}
	now := s.Now().Unix() / period
	found, ok := int64(0), false
	for c := now - skew; c <= now+skew; c++ {
		want, err := hotp.GenerateCodeCustom(secret, uint64(c), hotp.ValidateOpts{Digits: digits, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			return 0, false
		}
		if hmac.Equal([]byte(want), []byte(code)) && c > after {
			found, ok = c, true
		}
	}
	return found, ok
}

func digitsOnly(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// Recovery codes are 12 characters of a 31-letter alphabet without look-alikes (59 bits),
// shown as xxxx-xxxx-xxxx.
const recoveryAlphabet = "abcdefghjkmnpqrstuvwxyz23456789"

// recoveryCodeLen is how many characters of recoveryAlphabet a recovery code has (shown in
// three groups of four).
const recoveryCodeLen = 12

func newRecoveryCodes() []string {
	out := make([]string, RecoveryCodeCount)
	for i := range out {
		c := ids.RandomFrom(recoveryAlphabet, recoveryCodeLen)
		out[i] = c[:4] + "-" + c[4:8] + "-" + c[8:]
	}
	return out
}

// normalizeRecoveryCode lower-cases code and drops dashes and spaces.
func normalizeRecoveryCode(code string) (string, bool) {
	var b strings.Builder
	for _, r := range strings.ToLower(code) {
		switch {
		case r == '-' || r == ' ':
		case strings.ContainsRune(recoveryAlphabet, r):
			b.WriteRune(r)
		default:
			return "", false
		}
	}
	if b.Len() != 12 {
		return "", false
	}
	return b.String(), true
}

// recoveryCodeHash is the stored form of the normalized recovery code norm of userID:
// HMAC-SHA256 under RecoveryCodeKey of "<userID>:<norm>".
func (s *Service) recoveryCodeHash(userID, norm string) string {
	return ids.MAC(s.RecoveryCodeKey, userID+":"+norm)
}

// replaceRecoveryCodes replaces uid's recovery codes with codes, stored as recoveryCodeHash,
// inside tx, which must hold uid's lock (store.LockUser: under READ COMMITTED a delete skips
// rows committed after it began, and two regenerations left twenty codes).
func (s *Service) replaceRecoveryCodes(ctx context.Context, tx *ent.Tx, uid string, codes []string, now time.Time) error {
	if _, err := tx.RecoveryCode.Delete().Where(recoverycode.UserID(uid)).Exec(ctx); err != nil {
		return fmt.Errorf("deleting recovery codes: %w", err)
	}
	creates := make([]*ent.RecoveryCodeCreate, len(codes))
	for i, c := range codes {
		norm, _ := normalizeRecoveryCode(c)
		creates[i] = tx.RecoveryCode.Create().SetUserID(uid).SetCodeHash(s.recoveryCodeHash(uid, norm)).SetCreatedAt(now)
	}
	if err := tx.RecoveryCode.CreateBulk(creates...).Exec(ctx); err != nil {
		return fmt.Errorf("storing recovery codes: %w", err)
	}
	return nil
}

func (s *Service) notify(ctx context.Context, uid string, e Event, undo string) {
	if s.Notify != nil {
		s.Notify(ctx, uid, e, undo)
	}
}

// HasSecondFactor reports whether userID can sign in with two factors (TOTP).
func (s *Service) HasSecondFactor(ctx context.Context, userID string) (bool, error) {
	return s.Enabled(ctx, userID)
}

// StatusFor is StatusOf for the signed-in person's own account: anyone else reading userID's
// state gets NotFound.
func (s *Service) StatusFor(ctx context.Context, userID string) (Status, error) {
	uid, err := auth.RequireUser(ctx)
	if err != nil {
		return Status{}, err
	}
	if uid != userID {
		return Status{}, apperr.New(apperr.NotFound, "user not found")
	}
	return s.StatusOf(ctx, userID)
}
