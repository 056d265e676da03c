package licenses

import (
	"cmp"
	"context"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql"

	"loginsign/ent"
	"loginsign/ent/appconnection"
	"loginsign/ent/application"
	"loginsign/ent/licensecode"
	"loginsign/ent/licensevariant"
	"loginsign/ent/user"
	"loginsign/internal/activity"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/displaytext"
	"loginsign/internal/globalid"
	"loginsign/internal/ids"
	"loginsign/internal/store"
)

// Status-sync actions (spec §10.5).
const (
	ActionGranted   = "granted"
	ActionRevoked   = "revoked"
	ActionUnchanged = "unchanged"
)

// revokingStatuses are plan labels that mean "no plan".
var revokingStatuses = map[string]bool{"FREE": true, "NONE": true, "INACTIVE": true, "REVOKED": true}

// StatusInput is a status-sync request (spec §4.2). Status is required unless Revoke;
// VariantName defaults to the normalised status; Duration to the duration of the variant the
// plan names (its default duration), and to LIFETIME only for a variant the sync creates (the
// documented default); ExpiresAt, when set,
// overrides the expiry computed from the duration, and must fall in the years 1 to 9999 in
// UTC (CheckTime).
type StatusInput struct {
	Status      string
	VariantName string
	Duration    string
	ExpiresAt   *time.Time
	Revoke      bool
}

// StatusResult is the outcome of SyncStatus. Variant and License are set on grants.
type StatusResult struct {
	Action       string
	ConnectionID string
	Status       string
	Variant      *ent.LicenseVariant
	License      *ent.LicenseCode
	Reused       bool
	Revoked      int
}

// MaxStatusLength bounds a synced status and variantName in characters (Unicode code points,
// as variant names are counted: checkVariantName), and MaxStatusBytes in bytes: 100 code
// points of UTF-8 are at most 400 bytes, so the byte cap never refuses a text the character
// count allows, and bounds what is stored whatever the count.
const (
	MaxStatusLength = 100
	MaxStatusBytes  = 4 * MaxStatusLength
)

// checkStatusLength answers Invalid when s (what names it) is longer than MaxStatusLength
// characters or MaxStatusBytes bytes. Counting bytes refused a 40-letter plan name in Cyrillic
// or with emoji that the variant rule (100 characters) accepts.
func checkStatusLength(what, s string) error {
	if utf8.RuneCountInString(s) > MaxStatusLength || len(s) > MaxStatusBytes {
		return apperr.New(apperr.Invalid, "%s is longer than %d characters (Unicode code points)", what, MaxStatusLength)
	}
	return nil
}

// SyncStatus mirrors the plan the application's backend reports for the person globalID
// (case-insensitive) onto their connection as a "status license". A grant finds the variant
// by name (case-insensitively; created with the given duration, LIFETIME when none, when
// missing, unless the application has MaxVariants already: Invalid, as CreateVariant
// answers); a grant without a duration runs for the variant's. It then reuses
// the connection's status license of that variant that is still in effect, refreshing its
// expiry (unless that moves it forward by less than StatusRefreshGrain: a resent plan), else
// makes the newest one that has ended (revoked or expired) ACTIVE again from now, else creates
// one (ACTIVE, linked, activated now). Either way the result is Reused unless a
// license was created. A created license counts against the total of the owner's codes like
// a generated one (MaxCodes: Invalid past it, nothing stored), and against the connection's
// MaxPerConnection like a redeemed one (409 too_many_licenses past it, nothing stored). A revoke (revoke:true or status
// FREE, NONE, INACTIVE, REVOKED) expires every status license in effect: "revoked", or
// "unchanged" when there was none. Repeating a request gives the same state. The activity log
// gets a license_action only when the request changed something (a license revoked, created,
// made active again, or its expiry moved), and such a request counts against the
// connection's StatusChanges (RateLimited past it, nothing changed); one that changes nothing
// is never refused by it.
//
// The caller is the application authenticated by its client credentials (auth.ClientFrom);
// another application answers Forbidden. An unknown globalId, or one without a connection to
// the application, answers NotFound, also when the connection ends while the request waits.
// A grant whose variant is deleted while the request waits creates it again; only when that
// happens twice in one request does it answer Conflict (variant_changed).
func (s *Service) SyncStatus(ctx context.Context, appID, globalID string, in StatusInput) (*StatusResult, error) {
	if c, ok := auth.ClientFrom(ctx); !ok {
		return nil, apperr.New(apperr.Unauthorized, "client credentials required")
	} else if c.ApplicationID != appID {
		return nil, apperr.New(apperr.Forbidden, "these credentials belong to another application")
	}
	// Any plan label is a status (spec §4.2: "PREMIUM", "PRO"); it names the variant unless
	// variantName does, so both are one line of at most MaxStatusLength here, and the name of
	// a variant the sync creates follows the rule of variant names (ensureVariant).
	status, err := displaytext.Line("status", in.Status)
	if err != nil {
		return nil, err
	}
	status = strings.ToUpper(status)
	revoke := in.Revoke || revokingStatuses[status]
	if !revoke && status == "" {
		return nil, apperr.New(apperr.Invalid, "status is required unless revoke is true")
	}
	if err := checkStatusLength("status", status); err != nil {
		return nil, err
	}
	variantName, err := displaytext.Line("variantName", in.VariantName)
	if err != nil {
		return nil, err
	}
	if variantName == "" {
		variantName = status
	}
	if err := checkStatusLength("variantName", variantName); err != nil {
		return nil, err
	}
	// "": none given, the variant's own (syncStatus).
	duration, err := ParseDuration(in.Duration, "")
	if err != nil {
		return nil, err
	}
	if in.ExpiresAt != nil {
		if err := CheckTime("expiresAt", *in.ExpiresAt); err != nil {
			return nil, err
		}
	}
	now := s.now()
	if in.ExpiresAt != nil && !in.ExpiresAt.After(now) && !revoke {
		return nil, apperr.New(apperr.Invalid, "expiresAt must be in the future")
	}
	gid, ok := globalid.Normalize(globalID)
	if !ok {
		return nil, apperr.New(apperr.NotFound, "no user %q is connected to this application", globalID)
	}
	var out *StatusResult
	lockOwner := false
	for retries := 0; ; {
		out, err = s.syncStatus(ctx, appID, gid, status, variantName, duration, in.ExpiresAt, revoke, now, lockOwner)
		if errors.Is(err, errLockOwner) && !lockOwner {
			// The grant has to store a license: it is made again with the owner's row locked
			// first, so the count of the owner's codes stays exact. This is no retry of a
			// failure, and it does not use up the one retry below.
			lockOwner = true
			continue
		}
		// A key taken meanwhile (a variant's name, a code), or the plan's variant deleted
		// while the sync took its locks: the request is tried once more.
		if err == nil || retries == 1 || !(store.Conflict(err) || errors.Is(err, errVariantGone)) {
			break
		}
		retries++
	}
	if errors.Is(err, errVariantGone) {
		return nil, apperr.WithReason(apperr.Conflict, "variant_changed", "the license variant %q changed meanwhile; try again", variantName)
	}
	return out, err
}

// errVariantGone is syncStatus's answer when the variant of a grant, there when the sync
// chose its lock of the application (lockApplication), is gone once the locks are held.
var errVariantGone = errors.New("the license variant was deleted concurrently")

// errLockOwner is syncStatus's answer on PostgreSQL when a grant has to store a new license
// but was made without the lock of the application's owner (lockOwner false). The owner's row
// is locked before the application (the order of team.AuthorizeForOwnerTx), and the sync
// holds the application by then, so it cannot take the owner's lock late: it starts again.
var errLockOwner = errors.New("the grant stores a license: lock the owner first")

// syncStatus makes one status sync in one transaction. With lockOwner it locks the row of the
// application's owner first (store.LockUser) and the application for update, so that a grant
// that stores a license counts the owner's codes exactly (checkCodeTotal); without it, a grant
// that would store one answers errLockOwner on PostgreSQL. Most grants reuse the license they
// find and take neither lock, so the syncs of one owner's applications do not take turns.
func (s *Service) syncStatus(ctx context.Context, appID, gid, status, variantName string, duration licensevariant.Duration,
	expiresAt *time.Time, revoke bool, now time.Time, lockOwner bool) (*StatusResult, error) {
	out := &StatusResult{Status: status}
	var userID string
	// changed: the request revoked, created or made active again a license, or moved one's
	// expiry. A repeated request changes nothing and writes no activity event, so an
	// application's backend cannot push the person's real events out of their log.
	var changed, took bool
	err := s.DB.Tx(ctx, func(tx *ent.Tx) error {
		if err := func() error {
			var owner string
			if lockOwner {
				var err error
				if owner, err = s.lockOwner(ctx, tx, appID); err != nil {
					return err
				}
			}
			mayCreate, err := s.lockApplication(ctx, tx, appID, variantName, revoke, owner)
			if err != nil {
				return err
			}
			q := tx.AppConnection.Query().
				Where(appconnection.ApplicationID(appID), appconnection.HasUserWith(user.GlobalID(gid)))
			if s.DB.Dialect == dialect.Postgres {
				// Syncs of one connection take turns, so concurrent grants of one plan reuse one
				// license. (SQLite transactions already take turns: BEGIN IMMEDIATE.)
				q.ForUpdate()
			}
			conn, err := q.Only(ctx)
			if store.NotFound(err) {
				return apperr.New(apperr.NotFound, "no user %s is connected to this application", gid)
			}
			if err != nil {
				return err
			}
			out.ConnectionID, userID = conn.ID, conn.UserID
			if revoke {
				n, err := tx.LicenseCode.Update().
					Where(licensecode.LinkedConnectionID(conn.ID), licensecode.SourceEQ(licensecode.SourceStatus), activeAt(now)).
					SetState(licensecode.StateEXPIRED).SetExpiresAt(now).Save(ctx)
				if err != nil {
					return err
				}
				out.Action, out.Revoked = ActionUnchanged, n
				if n > 0 {
					out.Action, changed = ActionRevoked, true
				}
				return nil
			}
			v, err := s.ensureVariant(ctx, tx, appID, variantName, cmp.Or(duration, licensevariant.DurationLIFETIME), mayCreate)
			if err != nil {
				return err
			}
			if duration == "" {
				// A plan sent without a duration runs for its variant's: LIFETIME for every
				// omission made a MONTH plan's license, and the one such a sync refreshed, run
				// for ever, while the answer showed the variant's MONTH.
				duration = v.Duration
			}
			exp := expiresAt
			if exp == nil {
				exp = ExpiryOf(duration, now)
			}
			if exp != nil {
				t := exp.UTC()
				exp = &t
			}
			out.Action, out.Variant = ActionGranted, v
			// The connection's status license of the variant: the one in effect if there is
			// one, else the newest that has ended (revoked, or past its expiry), which is
			// made active again. A grant after a revoke thus stores no new row: a backend
			// alternating grant and revoke would otherwise add a license per pair, without
			// end, to the person's subscriptions list (which is not paged) and data export.
			held, err := tx.LicenseCode.Query().
				Where(licensecode.LinkedConnectionID(conn.ID), licensecode.VariantID(v.ID),
					licensecode.SourceEQ(licensecode.SourceStatus), activeAt(now)).
				Order(ent.Desc(licensecode.FieldActivatedAt)).First(ctx)
			inEffect := err == nil
			if store.NotFound(err) {
				held, err = tx.LicenseCode.Query().
					Where(licensecode.LinkedConnectionID(conn.ID), licensecode.VariantID(v.ID),
						licensecode.SourceEQ(licensecode.SourceStatus)).
					Order(ent.Desc(licensecode.FieldActivatedAt), ent.Desc(licensecode.FieldID)).First(ctx)
			}
			switch {
			case err == nil:
				if inEffect && expiresAt == nil && refreshOnly(held.ExpiresAt, exp) {
					// The plan the license already runs, resent: its expiry stays (see
					// StatusRefreshGrain), and the request changes nothing.
					exp = held.ExpiresAt
				}
				upd := held.Update()
				if exp == nil {
					upd.ClearExpiresAt()
				} else {
					upd.SetExpiresAt(*exp)
				}
				changed = true
				if inEffect {
					changed = !sameExpiry(held.ExpiresAt, exp)
				} else {
					upd.SetState(licensecode.StateACTIVE).SetActivatedAt(now)
				}
				out.License, err = upd.Save(ctx)
				out.Reused = true
				return err
			case !store.NotFound(err):
				return err
			}
			// A new license counts against the connection's MaxPerConnection like a redeemed
			// code (the connection's row is locked above, as lockHolder locks it), and against
			// the owner's total like a generated or uploaded code (MaxCodes); past either the
			// grant is refused and stores nothing.
			if err := checkHeld(ctx, tx, conn.ID); err != nil {
				return err
			}
			if s.DB.Dialect == dialect.Postgres && !lockOwner {
				return errLockOwner
			}
			if owner == "" {
				if owner, err = tx.Application.Query().Where(application.ID(appID)).Select(application.FieldOwnerID).String(ctx); err != nil {
					return err
				}
			}
			if err := s.checkCodeTotal(ctx, tx, owner, 1); err != nil {
				return err
			}
			changed = true
			code := NewCode("")
			key, _ := CodeKey(code)
			out.License, err = tx.LicenseCode.Create().SetID(ids.New(ids.LicenseCode)).
				SetApplicationID(appID).SetVariantID(v.ID).SetCode(code).SetCodeKey(key).
				SetState(licensecode.StateACTIVE).SetSource(licensecode.SourceStatus).
				SetLinkedConnectionID(conn.ID).SetActivatedAt(now).SetNillableExpiresAt(exp).SetCreatedAt(now).
				Save(ctx)
			return err
		}(); err != nil {
			return err
		}
		if !changed {
			return nil
		}
		if err := activity.Record(ctx, tx, activity.Event{Type: activity.LicenseAction, Actor: activity.ByApplication, UserID: userID,
			ApplicationID: appID, ConnectionID: out.ConnectionID, Details: map[string]string{"action": "status_" + string(out.Action)}, At: now}); err != nil {
			return err
		}
		// Counted once the sync is known to change something and its event is allowed (the
		// developer's activity.AppCausedPerDay), last in the transaction: past the budget the
		// change rolls back and the person's log gets no event, and a sync refused for
		// anything else spends none of the connection's budget. Before, the budget was taken
		// first, so syncs refused by the day's cap used up the hour's budget too.
		if s.Limiter != nil {
			if err := s.Limiter.Take(ctx, s.StatusChanges.Or(DefaultStatusChanges), out.ConnectionID); err != nil {
				return err
			}
			took = true
		}
		return nil
	})
	if err != nil {
		if took {
			// Counted, then not committed: the hit is given back.
			s.Limiter.Return(context.WithoutCancel(ctx), s.StatusChanges.Or(DefaultStatusChanges), out.ConnectionID)
		}
		return nil, err
	}
	return out, nil
}

// StatusRefreshGrain is how far a grant must move the expiry of a license in effect, computed
// from the plan's duration (no expiresAt given), before it refreshes it. A backend resends the
// person's plan on every sign-in or every few minutes; the expiry it computes from its own now
// is then a few seconds later than the stored one, and each resend was a change: a
// license_action event in the person's log and one of their StatusChanges, so that the 61st
// resend within an hour answered 429. Within the grain the license keeps its expiry and the
// request changes nothing; an expiry at most this much short of a full period is the price.
const StatusRefreshGrain = time.Hour

// refreshOnly reports whether next, an expiry computed from a plan's duration, only moves the
// expiry held of a license in effect forward by less than StatusRefreshGrain.
func refreshOnly(held, next *time.Time) bool {
	if held == nil || next == nil {
		return false
	}
	d := next.Sub(*held)
	return d >= 0 && d < StatusRefreshGrain
}

// sameExpiry reports whether a license expiring at a would expire at b (nil: never), to the
// microsecond the databases keep.
func sameExpiry(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Truncate(time.Microsecond).Equal(b.Truncate(time.Microsecond))
}

// lockApplication locks application appID on PostgreSQL before the sync locks the
// connection: the order of a developer ending the connection (team.AuthorizeTx, then the
// connection's rows). The other order made the sync wait for the application (to create the
// variant, or for the license's foreign key) while the developer held it and waited for the
// connection, until PostgreSQL aborted one of the two (deadlock detected). The lock is FOR
// UPDATE when a grant's variant variantName does not exist yet (createVariant counts the
// variants under it); otherwise it is a key share, the lock the license's foreign key takes
// anyway, which syncs of one application hold side by side. It reports whether the sync may
// create the variant: always on SQLite, whose transactions take turns.
//
// With owner set (the owner's row locked by lockOwner) the lock is always FOR UPDATE, so an
// ownership transfer cannot commit while the sync counts the owner's codes; an owner other
// than the one locked answers Conflict, as team.AuthorizeForOwnerTx does.
func (s *Service) lockApplication(ctx context.Context, tx *ent.Tx, appID, variantName string, revoke bool, owner string) (mayCreate bool, err error) {
	if s.DB.Dialect != dialect.Postgres {
		return true, nil
	}
	if owner != "" {
		locked, err := tx.Application.Query().Where(application.ID(appID)).Select(application.FieldOwnerID).
			Modify(func(s *sql.Selector) { s.For(sql.LockUpdate) }).Strings(ctx)
		if err != nil {
			return false, err
		}
		if len(locked) == 1 && locked[0] != owner {
			return false, apperr.New(apperr.Conflict, "the application changed owner; try again")
		}
		return true, nil
	}
	if !revoke {
		known, err := tx.LicenseVariant.Query().
			Where(licensevariant.ApplicationID(appID), licensevariant.NameKey(strings.ToLower(variantName))).Exist(ctx)
		if err != nil {
			return false, err
		}
		mayCreate = !known
	}
	lock := sql.LockKeyShare
	if mayCreate {
		lock = sql.LockUpdate
	}
	_, err = tx.Application.Query().Where(application.ID(appID)).Select(application.FieldID).
		Modify(func(s *sql.Selector) { s.For(lock) }).Strings(ctx)
	return mayCreate, err
}

// lockOwner locks, on PostgreSQL, the row of the owner of application appID (store.LockUser)
// and returns the owner's id; lockApplication then checks that the owner did not change
// before it locked the application. On SQLite it only reads the owner.
func (s *Service) lockOwner(ctx context.Context, tx *ent.Tx, appID string) (string, error) {
	owner, err := tx.Application.Query().Where(application.ID(appID)).Select(application.FieldOwnerID).String(ctx)
	if err != nil {
		return "", store.Err(err, "application")
	}
	if _, err := store.LockUser(ctx, tx, s.DB.Dialect, owner); err != nil {
		return "", err
	}
	return owner, nil
}

// ensureVariant returns the application's variant named name (case-insensitively), creating
// it with duration d when there is none, under the rule of variant names (displaytext.Name:
// Invalid otherwise; an existing variant is found whatever rule its name was saved under),
// within the same MaxVariants as CreateVariant
// (Invalid past them: the status sync creates nothing). A variant that is missing although
// lockApplication found it (mayCreate false) answers errVariantGone: creating it would take
// the application for update while holding its key share, and two syncs doing so would wait
// for each other.
func (s *Service) ensureVariant(ctx context.Context, tx *ent.Tx, appID, name string, d licensevariant.Duration, mayCreate bool) (*ent.LicenseVariant, error) {
	v, err := tx.LicenseVariant.Query().Where(licensevariant.ApplicationID(appID), licensevariant.NameKey(strings.ToLower(name))).Only(ctx)
	if err == nil || !store.NotFound(err) {
		return v, err
	}
	if !mayCreate {
		return nil, errVariantGone
	}
	if _, err := displaytext.Name("variantName", name); err != nil {
		return nil, err
	}
	return s.createVariant(ctx, tx, appID, name, "", d)
}
