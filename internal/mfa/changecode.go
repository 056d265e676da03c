package mfa

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"loginsign/ent/totpfactor"
	"loginsign/ent/useremail"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/i18n"
	"loginsign/internal/ids"
	"loginsign/internal/mail"
	"loginsign/internal/ratelimit"
	"loginsign/internal/store"
)

// A copy of the session cookie of a sign-in of the last auth.RecentSignIn is all a thief
// needs to add their own address or passkey to an account without two-step verification (and
// sign in through it whenever they like), make their address the primary one, remove the
// person's or close the account. What the person has and the thief has not is their mailbox:
// those changes (ConfirmChange) ask such a person for a code mailed to one of their verified
// addresses (SendChangeCode), as they ask a person with two-step verification on for a code of
// their authenticator app.

// ChangeCodeTTL is how long a code of SendChangeCode works.
const ChangeCodeTTL = 10 * time.Minute

// changeCodeDigits is a code's length: ten tries a quarter of an hour (AccountAttempts) against
// at most ChangeCodeSends live codes leave a thief one chance in two million a quarter.
const changeCodeDigits = 8

// DefaultChangeCodeSends is Service.ChangeCodeSends of New: codes mailed per person.
var DefaultChangeCodeSends = ratelimit.Rule{Name: "change-code-send", N: 5, Window: time.Hour,
	Message: "too many confirmation codes mailed; try again in %d s"}

// changeCodeKey names a live code of userID by its hash: a wrong code finds no key and spends
// nothing, and GETDEL spends a right one once, whoever sends it at the same moment.
func changeCodeKey(userID, code string) string {
	return "change-code:" + userID + ":" + ids.Hash(userID+" "+code)
}

// SendChangeCode mails the signed-in person a new confirmation code (8 digits, single use,
// ChangeCodeTTL) for ConfirmChange and returns the address it went to and when the code
// expires. The address is the one the session's sign-in proved (signInAddress; the primary one
// when it proved none), or, when emailID names one, a verified alternative address of the
// person's (one who lost the primary mailbox). It needs a recent sign-in. A person with
// two-step verification on gets Conflict second_step_on: their authenticator app confirms
// their changes. RateLimited past ChangeCodeSends (nothing mailed); an emailID that is not the
// person's verified address is NotFound.
func (s *Service) SendChangeCode(ctx context.Context, emailID string) (sentTo string, expires time.Time, err error) {
	uid, err := auth.RequireRecentSignIn(ctx, s.Now())
	if err != nil {
		return "", time.Time{}, err
	}
	on, err := s.Enabled(ctx, uid)
	if err != nil {
		return "", time.Time{}, err
	}
	if on {
		return "", time.Time{}, apperr.WithReason(apperr.Conflict, "second_step_on",
			"two-step verification is on: confirm with a code from your authenticator app, or a recovery code")
	}
	u, err := s.DB.User.Get(ctx, uid)
	if err != nil {
		return "", time.Time{}, store.Err(err, "user")
	}
	var to string
	if emailID != "" {
		ue, err := s.DB.UserEmail.Query().Where(useremail.ID(emailID), useremail.UserID(uid),
			useremail.VerifiedAtNotNil()).Only(ctx)
		if err != nil {
			return "", time.Time{}, store.Err(err, "address")
		}
		to = ue.Email
	} else if to, err = s.signInAddress(ctx, u.ID, u.Email); err != nil {
		return "", time.Time{}, err
	}
	if s.Mail == nil {
		return "", time.Time{}, errors.New("mfa: no mail sender for confirmation codes")
	}
	if err := s.Limiter.Take(ctx, s.ChangeCodeSends, uid); err != nil {
		return "", time.Time{}, err
	}
	code, err := digitCode(changeCodeDigits)
	if err != nil {
		return "", time.Time{}, err
	}
	expires = s.Now().Add(ChangeCodeTTL)
	// The key's lifetime clears it away; the expiry it holds is what ConfirmChange reads, on
	// the service's clock, as every other lifetime of this package.
	if err := s.KV.Set(ctx, changeCodeKey(uid, code), expires.Unix(), ChangeCodeTTL).Err(); err != nil {
		return "", time.Time{}, fmt.Errorf("storing a confirmation code: %w", err)
	}
	if err := s.Mail.Send(ctx, mail.ChangeCode(i18n.ForPerson(ctx, u.Language), to, code, ChangeCodeTTL)); err != nil {
		// Nobody was sent this code (the mail server down): it must not stay live, one more
		// code a thief's guesses could hit while the person never saw it.
		if derr := s.KV.Del(context.WithoutCancel(ctx), changeCodeKey(uid, code)).Err(); derr != nil {
			return "", time.Time{}, errors.Join(fmt.Errorf("sending a confirmation code: %w", err), derr)
		}
		return "", time.Time{}, fmt.Errorf("sending a confirmation code: %w", err)
	}
	return to, expires, nil
}

// signInAddress is the address SendChangeCode mails without an emailID: the one of the
// person's primary and verified addresses that the session's sign-in proved
// (Service.SignInAddress), so a person who lost the primary mailbox and signed in through
// another gets the code where they just read their link; else the primary address.
func (s *Service) signInAddress(ctx context.Context, userID, primary string) (string, error) {
	if s.SignInAddress == nil {
		return primary, nil
	}
	alts, err := s.DB.UserEmail.Query().Where(useremail.UserID(userID), useremail.VerifiedAtNotNil()).
		Select(useremail.FieldEmail).Strings(ctx)
	if err != nil {
		return "", fmt.Errorf("reading the person's addresses: %w", err)
	}
	a, err := s.SignInAddress(ctx, userID, append([]string{primary}, alts...))
	if err != nil || a == "" {
		return primary, err
	}
	return a, nil
}

// ConfirmChange is the check of a change that could take the account from its person or
// give a thief a way in: adding an address or a passkey, making another address the primary
// one, removing an address, closing the account, confirming an application's proposed
// address. It needs a sign-in of the last auth.RecentSignIn (checked first: an older session
// spends no tries) and then the person's second step: with two-step verification on, a
// current TOTP or recovery code (Reverify); with it off, a code SendChangeCode mailed, spent by
// this check; either way, a confirmation IssuePasskeyConfirmation gave after an assertion of
// one of the person's passkeys, also spent. Tries are counted under AccountAttempts. No code
// at all answers Invalid, reason second_step_required with two-step verification on and
// confirmation_code_required with it off, and spends no try: the dashboard then asks for it.
func (s *Service) ConfirmChange(ctx context.Context, code string) (string, error) {
	uid, err := auth.RequireRecentSignIn(ctx, s.Now())
	if err != nil {
		return "", err
	}
	if IsPasskeyConfirmation(code) {
		// Both steps in one, as at sign-in: it stands for the app's code and the mailed one,
		// whether or not two-step verification is on.
		if err := s.Limiter.Take(ctx, s.AccountAttempts, uid); err != nil {
			return "", err
		}
		if err := s.spendCode(ctx, uid, strings.TrimSpace(code)); err != nil {
			return "", err
		}
		return uid, nil
	}
	on, err := s.Enabled(ctx, uid)
	if err != nil {
		return "", err
	}
	if on {
		if strings.TrimSpace(code) == "" {
			return "", errSecondStepRequired()
		}
		if err := s.requireSignInWithApp(ctx, uid); err != nil {
			return "", err
		}
		return s.Reverify(ctx, code)
	}
	code = typedCode(code)
	if code == "" {
		return "", apperr.WithReason(apperr.Invalid, "confirmation_code_required",
			"enter the confirmation code we mail to your address (ask for one first)")
	}
	if err := s.Limiter.Take(ctx, s.AccountAttempts, uid); err != nil {
		return "", err
	}
	if len(code) != changeCodeDigits || !digitsOnly(code) {
		return "", errWrongCode()
	}
	if err := s.spendCode(ctx, uid, code); err != nil {
		return "", err
	}
	return uid, nil
}

// spendCode takes code, a live code of uid that SendChangeCode mailed or
// IssuePasskeyConfirmation gave, once: a wrong, spent or expired one is the same Invalid.
func (s *Service) spendCode(ctx context.Context, uid, code string) error {
	expires, err := s.KV.GetDel(ctx, changeCodeKey(uid, code)).Int64()
	switch {
	case errors.Is(err, redis.Nil):
		return errWrongCode()
	case err != nil:
		return fmt.Errorf("reading a confirmation code: %w", err)
	case !s.Now().Before(time.Unix(expires, 0)):
		return errWrongCode()
	}
	return nil
}

// PasskeyConfirmationTTL is how long a confirmation of IssuePasskeyConfirmation works: the
// change it is for follows at once.
const PasskeyConfirmationTTL = 5 * time.Minute

// passkeyConfirmationPrefix starts a confirmation of IssuePasskeyConfirmation.
const passkeyConfirmationPrefix = "lspc_"

// IsPasskeyConfirmation reports whether code is a confirmation IssuePasskeyConfirmation gave
// (by its form; ConfirmChange checks that it is live).
func IsPasskeyConfirmation(code string) bool {
	return strings.HasPrefix(strings.TrimSpace(code), passkeyConfirmationPrefix)
}

// IssuePasskeyConfirmation gives userID, who has just proved themselves to
// passkey.Service.FinishConfirmation with one of their passkeys and its user verification
// (PIN or biometrics), a confirmation to send as the code of one change (ConfirmChange):
// single use, PasskeyConfirmationTTL. A passkey signs in as both steps, so it confirms as the
// code of the authenticator app and the mailed code do, with two-step verification on or
// off; a person with a passkey at hand need not wait for a mail. 256 random bits: ConfirmChange
// still counts the tries.
func (s *Service) IssuePasskeyConfirmation(ctx context.Context, userID string) (string, time.Time, error) {
	code := ids.Secret(passkeyConfirmationPrefix)
	expires := s.Now().Add(PasskeyConfirmationTTL)
	if err := s.KV.Set(ctx, changeCodeKey(userID, code), expires.Unix(), PasskeyConfirmationTTL).Err(); err != nil {
		return "", time.Time{}, fmt.Errorf("storing a passkey confirmation: %w", err)
	}
	return code, expires, nil
}

// requireSignInWithApp refuses the codes of an authenticator app set up after the sign-in of
// ctx's session: turning two-step verification on asks no mailed code, so the holder of a
// copy of the session cookie of a recent sign-in could set up their own app and give its codes
// here instead of the code mailed to the person (their own address added, made primary, the
// person's removed: the undo link of the app's notice then ends sessions but gives no address
// back). Only a sign-in after the app was set up (the person's mailbox or passkey, and the app)
// shows that whoever holds the app is the person; until then the session is asked to sign in
// again (reauthentication_required), as an old one is.
func (s *Service) requireSignInWithApp(ctx context.Context, uid string) error {
	sess, _ := auth.SessionFrom(ctx)
	f, err := s.DB.TOTPFactor.Query().Where(totpfactor.UserID(uid)).Only(ctx)
	if store.NotFound(err) {
		return nil // turned off meanwhile: Reverify refuses the code
	}
	if err != nil {
		return fmt.Errorf("reading two-step verification: %w", err)
	}
	if sess.SignedInAt.Before(f.CreatedAt) {
		return apperr.WithReason(apperr.Unauthorized, "reauthentication_required",
			"your authenticator app was set up after this sign-in: sign in again, with the app, to do this")
	}
	return nil
}

func errSecondStepRequired() error {
	return apperr.WithReason(apperr.Invalid, "second_step_required", "enter a current code from your authenticator app, or a recovery code")
}

func errWrongCode() error { return apperr.New(apperr.Invalid, "the code is wrong or was already used") }

// digitCode is n decimal digits from crypto/rand.
func digitCode(n int) (string, error) {
	var b strings.Builder
	for range n {
		d, err := rand.Int(rand.Reader, big.NewInt(10))
		if err != nil {
			return "", fmt.Errorf("drawing a code: %w", err)
		}
		b.WriteByte(byte('0' + d.Int64()))
	}
	return b.String(), nil
}
