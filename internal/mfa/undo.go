package mfa

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"loginsign/ent"
	"loginsign/ent/passkey"
	"loginsign/ent/recoverycode"
	"loginsign/ent/totpfactor"
	"loginsign/internal/activity"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/ids"
	"loginsign/internal/store"
)

// UndoTOTPPath is the page of the "this wasn't me" link of the notice mailed when two-step
// verification is turned on (?token=…).
const UndoTOTPPath = "/account/two-step/undo"

// UndoTOTPTTL is how long that link works.
const UndoTOTPTTL = 7 * 24 * time.Hour

// DefaultUndoTOTPDelay is Service.UndoTOTPDelay of New.
const DefaultUndoTOTPDelay = 72 * time.Hour

const undoTOTPPrefix = "lstu_"

func undoTOTPKey(token string) string { return "totp-undo:" + ids.Hash(token) }

// newUndoTOTP stores the one-time token of the "this wasn't me" link of factorID, userID's
// authenticator app just set up, and returns it ("" when it could not be stored: the notice
// then goes without the link, and the change stands).
func (s *Service) newUndoTOTP(ctx context.Context, userID, factorID string) string {
	token := ids.Secret(undoTOTPPrefix)
	if err := s.KV.Set(ctx, undoTOTPKey(token), userID+" "+factorID, UndoTOTPTTL).Err(); err != nil {
		slog.WarnContext(ctx, "storing the undo link of a new authenticator app", "err", err)
		return ""
	}
	return token
}

// pendingUndo returns the account and factor the undo link token names.
func (s *Service) pendingUndo(ctx context.Context, token string) (userID, factorID string, err error) {
	gone := apperr.New(apperr.Gone, "this link has expired or was already used")
	if !strings.HasPrefix(token, undoTOTPPrefix) || len(token) > 64 {
		return "", "", gone
	}
	v, err := s.KV.Get(ctx, undoTOTPKey(token)).Result()
	if errors.Is(err, redis.Nil) {
		return "", "", gone
	}
	if err != nil {
		return "", "", fmt.Errorf("reading an undo link: %w", err)
	}
	userID, factorID, ok := strings.Cut(v, " ")
	if !ok {
		return "", "", gone
	}
	exists, err := s.DB.TOTPFactor.Query().Where(totpfactor.ID(factorID), totpfactor.UserID(userID)).Exist(ctx)
	if err != nil {
		return "", "", fmt.Errorf("reading two-step verification: %w", err)
	}
	if !exists {
		return "", "", apperr.New(apperr.Gone, "two-step verification was already turned off or set up again; this link no longer changes anything")
	}
	return userID, factorID, nil
}

// CanUndoTOTP checks the undo link token in browser (its cookie's raw value) as UndoTOTP
// does, changing nothing, for its page to show the button only where it works. It returns the
// account the link is for (for the page's language) whenever the link works somewhere, also
// with Forbidden.
func (s *Service) CanUndoTOTP(ctx context.Context, token, browser string) (string, error) {
	userID, _, err := s.pendingUndo(ctx, token)
	if err != nil {
		return "", err
	}
	return userID, s.inKnownBrowser(ctx, browser, userID)
}

func (s *Service) inKnownBrowser(ctx context.Context, browser, userID string) error {
	known := false
	if s.KnownBrowser != nil && browser != "" {
		var err error
		if known, err = s.KnownBrowser(ctx, browser, userID); err != nil {
			return err
		}
	}
	if !known {
		return apperr.New(apperr.Forbidden, "open this link in a browser you signed in to LoginSign with before")
	}
	return nil
}

// UndoTOTP is the "this wasn't me" link of the notice mailed when an authenticator app was
// set up: whoever holds a copy of a recent session cookie can turn two-step verification on
// with their own app, and the person, who has neither its codes nor the recovery codes shown
// once, could then never sign in again. The link ends every session of the account and every
// sign-in under way (EndSessions), removes the passkeys added from auth.RecentSignIn before the
// app on (the same session could add one and sign in with it again), and schedules the app's
// removal (and its recovery codes') UndoTOTPDelay later (RemovalAt): a sign-in with the app or
// a recovery code before then cancels it (verify).
//
// The mailbox alone is not proof enough, nor is it at once: whoever reads the person's mail
// would turn off, with it, the second step the person added against them. So the link works
// only in a browser that signed in to the account before (browser, its cookie's raw value, as
// KnownBrowser knows it), anywhere else it answers Forbidden and stays usable for seven days;
// and a mail reader who had signed in before still cannot sign in past the person's app, whose
// next use cancels the removal, and the person is told at once (TOTPRemovalScheduled). Once
// used, or once the app it names is gone, Gone.
func (s *Service) UndoTOTP(ctx context.Context, token, browser string) (time.Time, error) {
	userID, factorID, err := s.pendingUndo(ctx, token)
	if err != nil {
		return time.Time{}, err
	}
	if err := s.inKnownBrowser(ctx, browser, userID); err != nil {
		return time.Time{}, err
	}
	// Sessions first: when that fails nothing changed and the link still works.
	if s.EndSessions != nil {
		if err := s.EndSessions(ctx, userID); err != nil {
			return time.Time{}, err
		}
	}
	now := s.Now()
	due := now.Add(s.UndoTOTPDelay)
	passkeys := 0
	err = s.DB.Tx(ctx, func(tx *ent.Tx) error {
		if _, err := store.LockUser(ctx, tx, s.DB.Dialect, userID); err != nil {
			return err
		}
		f, err := tx.TOTPFactor.Query().Where(totpfactor.ID(factorID), totpfactor.UserID(userID)).Only(ctx)
		if store.NotFound(err) {
			return apperr.New(apperr.Gone, "two-step verification was already turned off or set up again; this link no longer changes anything")
		}
		if err != nil {
			return fmt.Errorf("reading TOTP factor: %w", err)
		}
		if passkeys, err = removePasskeysSince(ctx, tx, userID, f.CreatedAt.Add(-auth.RecentSignIn), now); err != nil {
			return err
		}
		// Last, under the person's lock, as the factor was read: one of two uses of the link at
		// once finds it used, and a step that failed above leaves the link usable.
		used, err := s.KV.Del(ctx, undoTOTPKey(token)).Result()
		if err != nil {
			return fmt.Errorf("using the undo link: %w", err)
		}
		if used == 0 {
			return apperr.New(apperr.Gone, "this link has expired or was already used")
		}
		return s.KV.Set(ctx, removalKey(userID), fmt.Sprintf("%s %d", f.ID, due.Unix()), s.UndoTOTPDelay+UndoTOTPTTL).Err()
	})
	if err != nil {
		return time.Time{}, err
	}
	// A passkey just removed may have signed in after the sessions ended above.
	if passkeys > 0 && s.EndSessions != nil {
		if err := s.EndSessions(ctx, userID); err != nil {
			slog.WarnContext(ctx, "ending the sessions of passkeys an undo link removed", "err", err)
		}
	}
	if s.UndoTOTPDelay <= 0 {
		_, err := s.removeIfDue(ctx, userID)
		return due, err
	}
	// The person is told now, not only once the app is gone: whoever used the link may be a
	// reader of their mail with a browser that signed in before, and the person keeps the app
	// only by signing in with it before the removal is due.
	s.notify(ctx, userID, TOTPRemovalScheduled, "")
	return due, nil
}

func removalKey(userID string) string { return "totp-removal:" + userID }

// RemovalAt is when userID's authenticator app will be turned off (UndoTOTP), zero when no
// removal is scheduled.
func (s *Service) RemovalAt(ctx context.Context, userID string) (time.Time, error) {
	_, due, err := s.scheduledRemoval(ctx, userID)
	return due, err
}

func (s *Service) scheduledRemoval(ctx context.Context, userID string) (factorID string, due time.Time, err error) {
	v, err := s.KV.Get(ctx, removalKey(userID)).Result()
	if errors.Is(err, redis.Nil) {
		return "", time.Time{}, nil
	}
	if err != nil {
		return "", time.Time{}, fmt.Errorf("reading a scheduled removal: %w", err)
	}
	var unix int64
	if _, err := fmt.Sscanf(v, "%s %d", &factorID, &unix); err != nil {
		return "", time.Time{}, nil
	}
	return factorID, time.Unix(unix, 0).UTC(), nil
}

// removeIfDue turns off userID's authenticator app when its scheduled removal (UndoTOTP) is
// due, and reports whether it did; it tells the person (TOTPRemoved).
func (s *Service) removeIfDue(ctx context.Context, userID string) (bool, error) {
	factorID, due, err := s.scheduledRemoval(ctx, userID)
	if err != nil || factorID == "" || s.Now().Before(due) {
		return false, err
	}
	removed := false
	err = s.DB.Tx(ctx, func(tx *ent.Tx) error {
		if _, err := store.LockUser(ctx, tx, s.DB.Dialect, userID); err != nil {
			return err
		}
		n, err := tx.TOTPFactor.Delete().Where(totpfactor.ID(factorID), totpfactor.UserID(userID)).Exec(ctx)
		if err != nil || n == 0 {
			return err
		}
		removed = true
		if _, err := tx.RecoveryCode.Delete().Where(recoverycode.UserID(userID)).Exec(ctx); err != nil {
			return fmt.Errorf("deleting recovery codes: %w", err)
		}
		return activity.Record(ctx, tx, activity.Event{Type: activity.TOTPDisabled, Actor: activity.ByPerson, UserID: userID, At: s.Now()})
	})
	if err != nil {
		return false, err
	}
	s.KV.Del(ctx, removalKey(userID))
	if removed {
		s.notify(ctx, userID, TOTPRemoved, "")
	}
	return removed, nil
}

// removePasskeysSince deletes, inside tx, the passkeys of userID added at or after since and
// records each removal; it returns how many. Whoever set up an authenticator app from a copied
// session could add a passkey in the same minutes (its sign-in recent), or later with the
// app's codes: it would sign them in again after the undo.
func removePasskeysSince(ctx context.Context, tx *ent.Tx, userID string, since, now time.Time) (int, error) {
	keys, err := tx.Passkey.Query().Where(passkey.UserID(userID), passkey.CreatedAtGTE(since)).All(ctx)
	if err != nil {
		return 0, fmt.Errorf("reading passkeys: %w", err)
	}
	for _, k := range keys {
		if err := tx.Passkey.DeleteOne(k).Exec(ctx); err != nil {
			return 0, fmt.Errorf("deleting passkey: %w", err)
		}
		if err := activity.Record(ctx, tx, activity.Event{Type: activity.PasskeyRemoved, Actor: activity.ByPerson,
			UserID: userID, Details: map[string]string{"name": k.Name}, At: now}); err != nil {
			return 0, err
		}
	}
	return len(keys), nil
}
