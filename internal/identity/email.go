package identity

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"loginsign/ent"
	"loginsign/ent/appconnection"
	"loginsign/ent/application"
	"loginsign/ent/predicate"
	"loginsign/ent/user"
	"loginsign/ent/useremail"
	"loginsign/internal/activity"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/i18n"
	"loginsign/internal/mail"
	"loginsign/internal/store"
	"loginsign/internal/webhooks"
)

// ChangePrimaryEmail makes newEmail the primary address of userID. It answers changed=false
// when the address is already the primary (compared case-insensitively after trimming), and
// Conflict ("email_taken") when another account holds it. Only the person reaches it: their
// dashboard (making a verified alternative primary) or their confirmation of a developer's
// request (ConfirmEmailChange). A change bumps the account's
// email_version, which voids every outstanding magic link, and writes an audit record.
//
// Privacy: an application learns of the change only if it was shown the old primary address
// (the person shared it as the connection's app email). Such connections follow the new address
// and get email_changed; applications that see the masked alias or another address see nothing
// change and get no event, so a change never reveals a real address to an app that did not
// have it. The application that asked for the change (exceptAppID) gets no event, to avoid loops.
func (s *Service) ChangePrimaryEmail(ctx context.Context, userID, newEmail, reason, exceptAppID, actor string) (changed bool, err error) {
	return s.changePrimary(ctx, userID, newEmail, "", reason, exceptAppID, actor)
}

// MakeAlternativePrimary is ChangePrimaryEmail (reason user_email_change, by the person) of
// addr, the person's alternative address emailID, read again in the change's transaction
// under the person's lock: one removed since the caller read it (RemoveAlternativeEmail locks
// the person too) answers NotFound, and one not verified (removed and added again meanwhile)
// Conflict email_not_verified, both changing nothing. Changed by its text alone, an address
// removed meanwhile became the primary address, unconfirmed when added again.
func (s *Service) MakeAlternativePrimary(ctx context.Context, userID, emailID, addr string) (changed bool, err error) {
	return s.changePrimary(ctx, userID, addr, emailID, webhooks.ReasonUserEmailChange, "", userID)
}

// changePrimary is ChangePrimaryEmail; with alternativeID, newEmail must be that verified
// alternative address of userID (MakeAlternativePrimary).
func (s *Service) changePrimary(ctx context.Context, userID, newEmail, alternativeID, reason, exceptAppID, actor string) (changed bool, err error) {
	newEmail, err = NormalizeEmail(newEmail)
	if err != nil {
		return false, err
	}
	// The person's other sessions end before the change, and those a sign-in racing it started
	// again after it (afterPrimaryChange). Ended only after the commit, a failure left them
	// signed in while the change stood, and nothing could finish it: the address made primary
	// is no longer an alternative to pick again, and the change again finds nothing to do.
	// Ended first, a failure changes nothing and is the person's to retry; a change that then
	// fails leaves them signed out, never the other way round.
	if sess, ok := auth.SessionFrom(ctx); ok && sess.UserID == userID {
		u, err := s.DB.User.Get(ctx, userID)
		if err != nil {
			return false, store.Err(err, "user")
		}
		if u.Email != newEmail {
			if _, err := s.endOtherSessions(ctx, userID, sess.ID); err != nil {
				return false, err
			}
		}
	}
	var before *ent.User
	err = s.DB.Tx(ctx, func(tx *ent.Tx) error {
		before, err = s.changePrimaryEmail(ctx, tx, userID, newEmail, alternativeID, reason, exceptAppID, actor)
		return err
	})
	if err != nil {
		return false, err
	}
	if before != nil {
		s.afterPrimaryChange(ctx, before, true)
	}
	return before != nil, nil
}

// afterPrimaryChange runs once a change of the primary address of before (the account as it
// was) has committed: with endSessions every other session of the person ends (the one that
// made the change stays), and the old address gets a security notice, so a change the person
// did not make does not go unnoticed (in the background). Both are best effort: the change
// stands, failures are logged. ChangePrimaryEmail ended the other sessions before the change,
// so what ends here is only a session of a sign-in that compared the account's email_version
// before the change committed.
//
// A confirmed application's proposal (ConfirmEmailChange) ends no session: ending them sends
// back-channel logouts to the apps signed in from them, within seconds of the confirmation,
// and an app that sees only the relay alias would learn from its logout that the address it
// proposed is the person's. The person ends sessions from the dashboard.
func (s *Service) afterPrimaryChange(ctx context.Context, before *ent.User, endSessions bool) {
	userID := before.ID
	if sess, ok := auth.SessionFrom(ctx); ok && sess.UserID == userID && endSessions {
		if _, err := s.endOtherSessions(ctx, userID, sess.ID); err != nil {
			slog.WarnContext(ctx, "ending other sessions after a primary address change", "err", err)
		}
	}
	notices := s.Notices
	if notices == nil {
		notices = s.Mail
	}
	if notices == nil {
		return
	}
	m, ok := mail.SecurityNotice(i18n.ForPerson(ctx, before.Language), before.Email, "primary_changed", s.Now(),
		strings.TrimRight(s.BaseURL, "/")+"/dashboard")
	if !ok {
		return
	}
	// In the background, as the other security notices (server.securityNotices): sent with the
	// request's context, the change's answer waited for the mail server, and a request that
	// ended meanwhile took the notice with it.
	go func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if err := notices.Send(ctx, m); err != nil {
			slog.WarnContext(ctx, "primary address notice not sent", "err", err)
		}
	}()
}

// changePrimaryEmail is changePrimary inside tx, with newEmail normalised. It returns the
// account as it was before the change, nil when newEmail already was the primary address.
func (s *Service) changePrimaryEmail(ctx context.Context, tx *ent.Tx, userID, newEmail, alternativeID, reason, exceptAppID, actor string) (*ent.User, error) {
	now := s.Now().UTC()
	// The person first, then (below) the applications of the connections that follow the new
	// address, before those connections: the project's one lock order (store.HoldApplications).
	// Updating a connection first and queueing its event (which key-shares its application)
	// after deadlocked with a developer ending that connection, who locks the application and
	// then the connection.
	u, err := store.LockUser(ctx, tx, s.DB.Dialect, userID)
	if err != nil {
		return nil, err
	}
	if alternativeID != "" {
		ue, err := tx.UserEmail.Query().
			Where(useremail.ID(alternativeID), useremail.UserID(userID), useremail.Email(newEmail)).Only(ctx)
		if err != nil {
			return nil, store.Err(err, "address")
		}
		if ue.VerifiedAt == nil {
			return nil, apperr.WithReason(apperr.Conflict, "email_not_verified", "confirm %s before making it your primary address", ue.Email)
		}
	}
	if u.Email == newEmail {
		return nil, nil
	}
	if taken, err := tx.User.Query().Where(user.Email(newEmail), user.IDNEQ(userID)).Exist(ctx); err != nil {
		return nil, err
	} else if taken {
		return nil, errAddressTaken()
	}
	if err := ClaimAddress(ctx, tx, userID, newEmail, now); err != nil {
		return nil, err
	}
	if _, err := tx.User.UpdateOne(u).SetEmail(newEmail).AddEmailVersion(1).Save(ctx); err != nil {
		return nil, store.Err(err, "user")
	}
	// The old primary stays linked as a verified alternative (and stays claimed); the new one
	// is no longer one.
	if _, err := tx.UserEmail.Delete().Where(useremail.UserID(userID), useremail.Email(newEmail)).Exec(ctx); err != nil {
		return nil, err
	}
	if err := tx.UserEmail.Create().SetUserID(userID).SetEmail(u.Email).SetVerifiedAt(now).
		OnConflictColumns(useremail.FieldUserID, useremail.FieldEmail).UpdateVerifiedAt().Exec(ctx); err != nil {
		return nil, fmt.Errorf("keeping old address: %w", err)
	}
	if err := tx.AuditEvent.Create().SetActorID(actor).SetApplicationID(exceptAppID).
		SetAction("user.email_changed").SetTarget(u.GlobalID).
		SetData(map[string]any{"old": u.Email, "new": newEmail, "reason": reason}).
		SetCreatedAt(now).Exec(ctx); err != nil {
		return nil, fmt.Errorf("auditing: %w", err)
	}
	if err := activity.Record(ctx, tx, activity.Event{Type: activity.AddressMadePrimary, Actor: activity.ByPerson,
		UserID: userID, Details: map[string]string{"address": newEmail}, At: now}); err != nil {
		return nil, err
	}
	following := []predicate.AppConnection{appconnection.UserID(userID), appconnection.AppEmail(u.Email)}
	if err := store.HoldApplications(ctx, tx, s.DB.Dialect, application.HasConnectionsWith(following...)); err != nil {
		return nil, err
	}
	conns, err := tx.AppConnection.Query().Where(following...).WithApplication().All(ctx)
	if err != nil {
		return nil, err
	}
	for _, c := range conns {
		if err := tx.AppConnection.UpdateOne(c).SetAppEmail(newEmail).Exec(ctx); store.NotFound(err) {
			continue // removed since it was read (PostgreSQL): nothing to follow, nobody to tell
		} else if err != nil {
			return nil, fmt.Errorf("following the new address: %w", err)
		}
		if c.ApplicationID == exceptAppID {
			continue
		}
		ev := webhooks.EmailChanged{Type: webhooks.TypeEmailChanged, ApplicationID: c.ApplicationID,
			ConnectionID: c.ID, UserID: u.GlobalID, AliasEmail: c.AliasEmail, OldEmail: u.Email,
			NewEmail: newEmail, ChangedAt: webhooks.Timestamp(now), Reason: reason}
		if _, err := webhooks.Enqueue(ctx, tx, c.Edges.Application, webhooks.TypeEmailChanged, ev, now); err != nil {
			return nil, err
		}
	}
	return u, nil
}
