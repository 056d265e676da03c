package identity

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql"

	"loginsign/ent"
	"loginsign/ent/appconnection"
	"loginsign/ent/application"
	"loginsign/ent/emailchange"
	"loginsign/internal/activity"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/i18n"
	"loginsign/internal/ids"
	"loginsign/internal/mail"
	"loginsign/internal/ratelimit"
	"loginsign/internal/store"
	"loginsign/internal/webhooks"
)

// A developer can propose, only the person can change. A developer's email-sync request
// (PATCH …/users/:connectionId/email) is stored as an EmailChange and changes nothing until
// the person confirms it: the link mailed to the new address proves the mailbox, and the POST
// from its page must come from a browser signed in to the account being changed. The old
// primary address gets a notice whose link cancels the request.

// EmailChangeTTL is how long a requested address change can be confirmed.
const EmailChangeTTL = 24 * time.Hour

// ClosedEmailChangeRetention is how long a request is kept past its expiry. Once expired it
// is read by nothing: confirmed, cancelled, superseded, failed or left to expire, its links
// answer Gone as they do for no request at all (pendingChange), no page lists past requests,
// and the confirmed change went out as email_changed events that carry their own copy of the
// addresses. The 30 days leave support a month to look into what a person reports.
const ClosedEmailChangeRetention = 30 * 24 * time.Hour

// PurgeEmailChanges deletes the address change requests that expired more than
// ClosedEmailChangeRetention ago, store.PurgeBatch per statement (through the index on
// expires_at), and returns how many it deleted: each holds two of a person's addresses, and
// they stayed for as long as the application and the account existed. A request expires 24
// hours after it was made whatever becomes of it, so the purge never takes one whose links
// still work.
func (s *Service) PurgeEmailChanges(ctx context.Context) (int, error) {
	cutoff := s.Now().UTC().Add(-ClosedEmailChangeRetention)
	return store.Purge(ctx, "old address change requests", func(ctx context.Context, limit int) ([]string, error) {
		return s.DB.EmailChange.Query().Where(emailchange.ExpiresAtLT(cutoff)).Limit(limit).IDs(ctx)
	}, func(ctx context.Context, ids []string) (int, error) {
		return s.DB.EmailChange.Delete().Where(emailchange.IDIn(ids...), emailchange.ExpiresAtLT(cutoff)).Exec(ctx)
	})
}

// Paths of the pages behind the two links.
const (
	EmailChangeConfirmPath = "/account/email-change/confirm"
	EmailChangeCancelPath  = "/account/email-change/cancel"
)

// Token prefixes of the two links.
const (
	emailChangeConfirmPrefix = "lsec_"
	emailChangeCancelPrefix  = "lsex_"
)

// emailChanges bounds one application's requests for one account (mail to the person's
// boxes). Counted per application and account: one budget per account, whoever asks, let an
// application spend it to stop another's requests, and tell by its own refusal that other
// applications had asked.
var emailChanges = ratelimit.Rule{Name: "email-change", N: 5, Window: time.Hour,
	Message: "too many address change requests for this person; try again in %d s"}

// emailChangesPerDay bounds, as emailChanges does, one application's requests for one account
// over a day. Every request mails a notice to the person's primary address, which the
// application may not even see: with the hour's limit alone, an application the person once
// signed in to mailed them 120 notices a day, each naming an address of its choosing.
var emailChangesPerDay = ratelimit.Rule{Name: "email-change-day", N: 10, Window: 24 * time.Hour,
	Message: "too many address change requests for this person; try again in %d s"}

// emailChangesPerApplication bounds the requests one application makes, for all its people.
var emailChangesPerApplication = ratelimit.Rule{Name: "email-change-app", N: 100, Window: time.Hour,
	Message: "too many address change requests from this application; try again in %d s"}

// emailChangesPerDeveloper bounds the requests one developer account (EmailChangeRequester.Actor)
// makes across all the applications it may edit. Each request mails a confirmation naming the
// application (whose name the developer chooses) to an address of the developer's choosing:
// with the application's budget alone, one developer account with 100 applications, each with
// a few accounts of its own connected, sent 10,000 such mails an hour to anyone.
var emailChangesPerDeveloper = ratelimit.Rule{Name: "email-change-developer", N: 100, Window: time.Hour,
	Message: "too many address change requests from this developer account; try again in %d s"}

// AddressConfirmMails bounds the verification mails a person's addition of an alternative
// address sends (account.AddAlternativeEmail), per mailbox (mail.MailboxKey), whichever account
// adds it: the per-person limits alone let throwaway accounts mail any address without end.
var AddressConfirmMails = ratelimit.Rule{Name: "confirm-mail-address", N: 5, Window: 24 * time.Hour,
	Message: "too many confirmation mails to this address; try again in %d s"}

// ProposalConfirmMails bounds the confirmations applications' proposals send
// (RequestEmailChange), per mailbox, whichever application asks for whom: throwaway
// applications cannot mail an address without end either.
//
// The two budgets are kept apart, so that neither side can count what the other did: a
// developer knows how many of its own proposals a mailbox was sent, and with one shared budget
// its proposals were refused one sooner for every time a person had added that address to
// their account (the person's addition, that is an account holding or about to hold the
// address, told to a developer by a 429), and a throwaway account adding an address learnt
// how many applications had proposed it. A mailbox gets at most both budgets' confirmations a
// day. Applications still share theirs: a developer can tell that other applications proposed
// the address, which says nothing of the people who hold it.
var ProposalConfirmMails = ratelimit.Rule{Name: "confirm-mail-proposal", N: 5, Window: 24 * time.Hour,
	Message: "too many confirmation mails to this address; try again in %d s"}

// TakeAddressConfirmMail counts one verification mail to addr (normalized) under
// AddressConfirmMails: RateLimited past it. It depends on nothing but the address, so it
// answers alike whether or not an account holds it.
func TakeAddressConfirmMail(ctx context.Context, l *ratelimit.Limiter, addr string) error {
	return l.Take(ctx, AddressConfirmMails, ids.Hash(mail.MailboxKey(addr)))
}

// EmailChangeRequester names who asked for a change; the mails name the application.
type EmailChangeRequester struct {
	ApplicationID, ApplicationName string
	// Actor is the internal id of the signed-in developer, for the audit log.
	Actor string
	// ConnectionID is the connection the request came through, for the activity log.
	ConnectionID string
	// Shown is the address the requesting application already sees for the person (their
	// real address when they share it, else their relay alias; "" when none). Only when
	// newEmail is that address may the answer say "already the primary address": for any
	// other requester that answer would tell which address is the person's.
	Shown string
	// Check, when set, runs in the transaction that stores the request, once the person's row
	// is locked: the requester's right to ask, checked where the request is written (a team
	// member removed meanwhile is refused). It may lock the application (team.AuthorizeTx):
	// the person's row comes first in every transaction that locks both.
	Check func(ctx context.Context, tx *ent.Tx) error
}

// RequestEmailChange asks the person userID to make newEmail their primary address. It answers
// pending=false when newEmail already is the primary address (compared after trimming and
// lower-casing) and the requester already sees it (by.Shown); otherwise, an already-primary
// address the requester does not see included, it stores the request (superseding an older
// pending one), mails the confirmation link to newEmail and the cancel link to the current
// primary, and answers pending=true. Whether newEmail belongs to another account is not looked
// at here: the answer must not tell the requester, and the person learns it when confirming.
// Invalid for a malformed address or one on the relay domain (NotRelayAddress). RateLimited
// past 5 requests per account and hour (10 a day), 100 per application and hour, 100 per
// developer account (by.Actor) and hour across its applications, or
// ProposalConfirmMails to newEmail's mailbox; the last answers exactly as the per-account limit does, and counts
// applications' proposals alone (not the person's own additions of the address), so the
// requester cannot tell that a person added it.
func (s *Service) RequestEmailChange(ctx context.Context, userID, newEmail string, by EmailChangeRequester) (pending bool, err error) {
	newEmail, err = NormalizeEmail(newEmail)
	if err != nil {
		return false, err
	}
	if err := NotRelayAddress(newEmail, s.RelayDomain); err != nil {
		return false, err
	}
	u, err := s.User(ctx, userID)
	if err != nil {
		return false, err
	}
	if u.Email == newEmail && newEmail == by.Shown {
		// The requester already sees this address: the answer tells it nothing.
		return false, nil
	}
	if s.Mail == nil || s.BaseURL == "" {
		return false, fmt.Errorf("identity: Mail and BaseURL are needed to request an address change")
	}
	// The limits come before anything about the address is looked at, so that a requester
	// past them learns nothing either. The application's own budget is counted first, then the
	// person's, then the new mailbox's (the developer account's before them all), so a refused
	// request spends nothing of the next.
	limiter := ratelimit.New(s.KV)
	if by.Actor != "" {
		if err := limiter.Take(ctx, emailChangesPerDeveloper, by.Actor); err != nil {
			return false, err
		}
	}
	if err := limiter.Take(ctx, emailChangesPerApplication, by.ApplicationID); err != nil {
		return false, err
	}
	if err := limiter.Take(ctx, emailChanges, by.ApplicationID+":"+userID); err != nil {
		return false, err
	}
	if err := limiter.Take(ctx, emailChangesPerDay, by.ApplicationID+":"+userID); err != nil {
		return false, err
	}
	if err := limiter.Take(ctx, ProposalConfirmMails, ids.Hash(mail.MailboxKey(newEmail))); err != nil {
		return false, asPersonLimit(err)
	}
	// From here on the primary address itself, when the requester does not see it (a relay
	// alias), is requested like any other: the same rows, the same two mails, so the same
	// time to answer. Answering it without them would tell the requester its guess was right
	// by how fast the answer came. Confirming it changes nothing (changePrimaryEmail).
	now := s.Now().UTC()
	confirm, cancel := ids.Secret(emailChangeConfirmPrefix), ids.Secret(emailChangeCancelPrefix)
	err = s.DB.Tx(ctx, func(tx *ent.Tx) error {
		// The account is read again under a lock, so that the request, which holds the
		// person's addresses, is never stored after the account's deletion: a deletion running
		// at the same time (it locks the row first) either commits before, and the account is
		// gone, or waits for this request and deletes it with the account. The lock is
		// exclusive so that two requests take turns too: each supersedes what the other
		// stored, and one stays pending, not both. It comes before Check, which may lock the
		// application: the deletion, holding the person, locks the applications the person is
		// connected to (their events), so the other order let each wait for the other.
		if _, err := store.LockUser(ctx, tx, s.DB.Dialect, userID); err != nil {
			return err
		}
		if by.Check != nil {
			if err := by.Check(ctx, tx); err != nil {
				return err
			}
		}
		if _, err := tx.EmailChange.Update().Where(emailchange.UserID(userID), emailchange.StatusEQ(emailchange.StatusPending)).
			SetStatus(emailchange.StatusSuperseded).SetClosedAt(now).Save(ctx); err != nil {
			return fmt.Errorf("superseding older requests: %w", err)
		}
		if err := tx.EmailChange.Create().SetUserID(userID).SetApplicationID(by.ApplicationID).
			SetApplicationName(truncateRunes(by.ApplicationName, 200)).SetNewEmail(newEmail).SetOldEmail(u.Email).
			SetConfirmHash(ids.Hash(confirm)).SetCancelHash(ids.Hash(cancel)).
			SetCreatedAt(now).SetExpiresAt(now.Add(EmailChangeTTL)).Exec(ctx); err != nil {
			return err
		}
		return activity.Record(ctx, tx, activity.Event{Type: activity.EmailChangeRequest, Actor: activity.ByDeveloper,
			UserID: userID, ApplicationID: by.ApplicationID, ConnectionID: by.ConnectionID, At: now})
	})
	if err != nil {
		return false, fmt.Errorf("storing address change request: %w", err)
	}
	base := strings.TrimRight(s.BaseURL, "/")
	// The developer's request speaks for the developer: the notice to the person's primary
	// address is in the person's language. The confirmation goes to the proposed address,
	// which may be the developer's own mailbox, so it is in English: the person's language
	// setting is not the developer's to read (as the confirm page does not use it).
	l := i18n.ForPerson(context.Background(), u.Language)
	if err := s.Mail.Send(ctx, mail.EmailChangeConfirm(i18n.FromContext(context.Background()), newEmail,
		base+EmailChangeConfirmPath+"?"+url.Values{"token": {confirm}}.Encode(), by.ApplicationName, EmailChangeTTL)); err != nil {
		return false, fmt.Errorf("sending confirmation mail: %w", err)
	}
	if err := s.Mail.Send(ctx, mail.EmailChangeNotice(l, u.Email, newEmail,
		base+EmailChangeCancelPath+"?"+url.Values{"token": {cancel}}.Encode(), by.ApplicationName)); err != nil {
		return false, fmt.Errorf("sending notice mail: %w", err)
	}
	return true, nil
}

// asPersonLimit is a refusal under ProposalConfirmMails as the per-account limit (emailChanges)
// words it, with a wait of at most that limit's window: whether the new mailbox was mailed by
// others is none of the requester's business. Other errors pass through.
func asPersonLimit(err error) error {
	e := apperr.As(err)
	if e == nil || e.Code != apperr.RateLimited {
		return err
	}
	secs := min(e.RetryAfter, int(emailChanges.Window/time.Second))
	out := apperr.New(apperr.RateLimited, "%s", strings.ReplaceAll(emailChanges.Message, "%d", strconv.Itoa(secs)))
	out.RetryAfter = secs
	return out
}

// EmailChange is what the confirmation and cancel pages show about a request.
type EmailChange struct {
	NewEmail, OldEmail, ApplicationName string
	// SeenBy names the applications shown the current address, which will be shown the new
	// one (changePrimaryEmail): the person confirms knowing which apps follow, not only the
	// one that asked. Like OldEmail, set for the account's own signed-in browser only.
	SeenBy []string
}

func errChangeGone() error {
	return apperr.WithReason(apperr.Gone, "invalid_token", "this link was already used, was cancelled, or has expired")
}

// pendingChange finds the pending, unexpired request whose confirm (or cancel) token is raw,
// of an application still connected to the person: a proposal ends with the application's
// relation to the person (connections.Delete supersedes it, the application's deletion deletes
// it), and one that outlived it answers Gone as a superseded one does.
func (s *Service) pendingChange(ctx context.Context, raw string, cancel bool) (*ent.EmailChange, error) {
	prefix := emailChangeConfirmPrefix
	where := emailchange.ConfirmHash
	if cancel {
		prefix, where = emailChangeCancelPrefix, emailchange.CancelHash
	}
	if !strings.HasPrefix(raw, prefix) || len(raw) > 128 {
		return nil, errChangeGone()
	}
	ec, err := s.DB.EmailChange.Query().Where(where(ids.Hash(raw))).Only(ctx)
	if store.NotFound(err) {
		return nil, errChangeGone()
	}
	if err != nil {
		return nil, err
	}
	if ec.Status != emailchange.StatusPending || !s.Now().Before(ec.ExpiresAt) {
		return nil, errChangeGone()
	}
	if connected, err := requesterConnected(ctx, s.DB.Client, ec, false); err != nil {
		return nil, err
	} else if !connected {
		return nil, errChangeGone()
	}
	return ec, nil
}

// requesterConnected reports whether the application that made request ec is connected to the
// person ec is for, read through c. With lock (PostgreSQL; c in a transaction that locked the
// person first, store.LockUser) it holds the application and then the connection with a key
// share until the transaction ends, the order of team.AuthorizeTx: an ending of the
// connection (connections.Delete, run with the application or the connection locked, which
// supersedes the request) or the application's deletion either committed before, and this
// answers false, or waits for the transaction.
func requesterConnected(ctx context.Context, c *ent.Client, ec *ent.EmailChange, lock bool) (bool, error) {
	hold := func(s *sql.Selector) {
		if lock {
			s.For(sql.LockKeyShare)
		}
	}
	apps, err := c.Application.Query().Where(application.ID(ec.ApplicationID)).
		Select(application.FieldID).Modify(hold).Strings(ctx)
	if err != nil || len(apps) == 0 {
		return false, err
	}
	conns, err := c.AppConnection.Query().Where(appconnection.UserID(ec.UserID), appconnection.ApplicationID(ec.ApplicationID)).
		Select(appconnection.FieldID).Modify(hold).Strings(ctx)
	return len(conns) > 0, err
}

// PendingEmailChange describes the request behind a confirm link (cancel=false) or a cancel
// link (cancel=true) for its page, changing nothing; Gone when the link is used, cancelled or
// expired. OldEmail, the person's current primary address, is given only to a browser signed
// in to that account: the confirm link goes to the address the application proposed, which
// may be the developer's own mailbox, and the application may know the person only by a relay
// alias.
func (s *Service) PendingEmailChange(ctx context.Context, raw string, cancel bool) (*EmailChange, error) {
	ec, err := s.pendingChange(ctx, raw, cancel)
	if err != nil {
		return nil, err
	}
	out := &EmailChange{NewEmail: ec.NewEmail, ApplicationName: ec.ApplicationName}
	if sess, ok := auth.SessionFrom(ctx); ok && sess.UserID == ec.UserID {
		out.OldEmail = ec.OldEmail
		conns, err := s.DB.AppConnection.Query().Where(appconnection.UserID(ec.UserID), appconnection.AppEmail(ec.OldEmail)).
			WithApplication().All(ctx)
		if err != nil {
			return nil, err
		}
		for _, c := range conns {
			out.SeenBy = append(out.SeenBy, c.Edges.Application.Name)
		}
		slices.Sort(out.SeenBy)
	}
	return out, nil
}

// ConfirmEmailChange is the person's confirmation of a requested address change (the POST of
// the confirm link's page). It needs the signed-in account the request is for: signed out
// answers Unauthorized and another account Forbidden, and then nothing changes and the link
// stays usable, and so it does when the recent sign-in or the second step code (ConfirmChange)
// is missing or wrong. A request whose application is no longer connected to the person (removed,
// ended by its developer, deleted) answers Gone, as a superseded one does, also when the
// connection ends while the confirmation runs. Otherwise the link is spent and the change is
// made as ChangePrimaryEmail makes it (old magic links void, email_changed to the apps shown the
// old address). If the address has meanwhile become another account's, or the primary address
// changed since the request, the request fails for good with Conflict, shown to the person only.
func (s *Service) ConfirmEmailChange(ctx context.Context, raw, code string) (*EmailChange, error) {
	ec, err := s.pendingChange(ctx, raw, false)
	if err != nil {
		return nil, err
	}
	sess, ok := auth.SessionFrom(ctx)
	if !ok {
		return nil, apperr.WithReason(apperr.Unauthorized, "sign_in_required",
			"sign in to the LoginSign account this change is for, then confirm again")
	}
	if sess.UserID != ec.UserID {
		return nil, apperr.WithReason(apperr.Forbidden, "other_account",
			"this change was requested for another LoginSign account than the one you are signed in to; nothing was changed")
	}
	// A session cookie alone must not move the account to another mailbox: the person signs
	// in again (through the current address, a passkey and their second step) first, and
	// gives their second step again, as for making an address primary from the dashboard
	// (with a copy of a recent session cookie, a developer's proposal of their own address
	// would otherwise take the account).
	confirm := s.ConfirmChange
	if confirm == nil {
		confirm = func(ctx context.Context, _ string) (string, error) { return auth.RequireRecentSignIn(ctx, s.Now()) }
	}
	if _, err := confirm(ctx, code); err != nil {
		return nil, err
	}
	now := s.Now().UTC()
	var failure error
	var before *ent.User // the account before the change; nil when nothing changed
	err = s.DB.Tx(ctx, func(tx *ent.Tx) error {
		// The person, then the requesting application and its connection, then the request:
		// the order of the request itself (RequestEmailChange) and of team.AuthorizeTx. An
		// ending of the connection holds the application or the connection while it supersedes
		// the request, so the two take turns: the ending committed first and the request is
		// gone, or it waits for this confirmation and then finds the request confirmed. Taking
		// the request before the connection let each wait for the other.
		u, err := store.LockUser(ctx, tx, s.DB.Dialect, ec.UserID)
		if err != nil {
			return err
		}
		if connected, err := requesterConnected(ctx, tx.Client(), ec, s.DB.Dialect == dialect.Postgres); err != nil {
			return err
		} else if !connected {
			return errChangeGone()
		}
		n, err := tx.EmailChange.Update().Where(emailchange.ID(ec.ID), emailchange.StatusEQ(emailchange.StatusPending)).
			SetStatus(emailchange.StatusConfirmed).SetClosedAt(now).Save(ctx)
		if err != nil {
			return err
		}
		if n != 1 {
			return errChangeGone()
		}
		if u.Email != ec.OldEmail {
			failure = apperr.WithReason(apperr.Conflict, "primary_changed",
				"your primary address changed since this request was made; nothing was changed")
			return failure
		}
		before, err = s.changePrimaryEmail(ctx, tx, ec.UserID, ec.NewEmail, "", webhooks.ReasonDeveloperAPI, "", ec.UserID)
		if apperr.Is(err, apperr.Conflict) {
			failure = err
		}
		if err != nil {
			return err
		}
		return activity.Record(ctx, tx, activity.Event{Type: activity.EmailChangeConfirm, Actor: activity.ByPerson,
			UserID: ec.UserID, ApplicationID: ec.ApplicationID, At: now})
	})
	if failure != nil {
		// Rolled back: record that this request failed, so its link does not work again. If
		// that fails too, the link stays usable until it expires and changes nothing while the
		// conflict lasts.
		if err := s.DB.EmailChange.UpdateOneID(ec.ID).SetStatus(emailchange.StatusFailed).SetClosedAt(now).Exec(ctx); err != nil {
			slog.WarnContext(ctx, "closing an address change request that failed", "err", err)
		}
		return nil, failure
	}
	if err != nil {
		return nil, err
	}
	if before != nil { // nil: the request was for the primary address itself
		s.afterPrimaryChange(ctx, before, false)
	}
	return &EmailChange{NewEmail: ec.NewEmail, OldEmail: ec.OldEmail, ApplicationName: ec.ApplicationName}, nil
}

// CancelEmailChange cancels the request behind a cancel link ("this wasn't me", mailed to the
// old primary address). The mailbox is proof enough: it needs no session. Gone when the link
// is used or the request is no longer pending.
func (s *Service) CancelEmailChange(ctx context.Context, raw string) (*EmailChange, error) {
	ec, err := s.pendingChange(ctx, raw, true)
	if err != nil {
		return nil, err
	}
	now := s.Now().UTC()
	err = s.DB.Tx(ctx, func(tx *ent.Tx) error {
		n, err := tx.EmailChange.Update().Where(emailchange.ID(ec.ID), emailchange.StatusEQ(emailchange.StatusPending)).
			SetStatus(emailchange.StatusCancelled).SetClosedAt(now).Save(ctx)
		if err != nil {
			return err
		}
		if n != 1 {
			return errChangeGone()
		}
		return activity.Record(ctx, tx, activity.Event{Type: activity.EmailChangeCancel, Actor: activity.ByPerson,
			UserID: ec.UserID, ApplicationID: ec.ApplicationID, At: now})
	})
	if err != nil {
		return nil, err
	}
	return &EmailChange{NewEmail: ec.NewEmail, OldEmail: ec.OldEmail, ApplicationName: ec.ApplicationName}, nil
}

func truncateRunes(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n])
	}
	return s
}
