package licenses

import (
	"context"

	"entgo.io/ent/dialect"
	"strings"
	"time"

	"loginsign/ent"
	"loginsign/ent/appconnection"
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
// VariantName defaults to the normalised status; Duration to LIFETIME; ExpiresAt, when set,
// overrides the expiry computed from the duration.
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

// SyncStatus mirrors the plan the application's backend reports for the person globalID
// (case-insensitive) onto their connection as a "status license". A grant finds the variant
// by name (case-insensitively; created with the given duration when missing, unless the
// application has MaxVariants already: Invalid, as CreateVariant answers), then reuses
// the connection's status license of that variant that is still in effect, refreshing its
// expiry, or creates one (ACTIVE, linked, activated now). A revoke (revoke:true or status
// FREE, NONE, INACTIVE, REVOKED) expires every status license in effect: "revoked", or
// "unchanged" when there was none. Repeating a request gives the same state. The activity log
// gets a license_action only when the request changed something (a license revoked, created,
// or its expiry moved).
//
// The caller is the application authenticated by its client credentials (auth.ClientFrom);
// another application answers Forbidden. An unknown globalId, or one without a connection to
// the application, answers NotFound.
func (s *Service) SyncStatus(ctx context.Context, appID, globalID string, in StatusInput) (*StatusResult, error) {
	if c, ok := auth.ClientFrom(ctx); !ok {
		return nil, apperr.New(apperr.Unauthorized, "client credentials required")
	} else if c.ApplicationID != appID {
		return nil, apperr.New(apperr.Forbidden, "these credentials belong to another application")
	}
	// Any plan label is a status (spec §4.2: "PREMIUM", "PRO"); it names the variant unless
	// variantName does, so both follow the rule of variant names (checkVariantName).
	status, err := displaytext.Line("status", in.Status)
	if err != nil {
		return nil, err
	}
	status = strings.ToUpper(status)
	revoke := in.Revoke || revokingStatuses[status]
	if !revoke && status == "" {
		return nil, apperr.New(apperr.Invalid, "status is required unless revoke is true")
	}
	if len(status) > 100 {
		return nil, apperr.New(apperr.Invalid, "status is longer than 100 characters")
	}
	variantName, err := displaytext.Line("variantName", in.VariantName)
	if err != nil {
		return nil, err
	}
	if variantName == "" {
		variantName = status
	}
	if len(variantName) > 100 {
		return nil, apperr.New(apperr.Invalid, "variantName is longer than 100 characters")
	}
	duration, err := ParseDuration(in.Duration, licensevariant.DurationLIFETIME)
	if err != nil {
		return nil, err
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
	for attempt := 0; ; attempt++ {
		out, err = s.syncStatus(ctx, appID, gid, status, variantName, duration, in.ExpiresAt, revoke, now)
		// Two first grants of a new plan race to create its variant; the loser retries once
		// and finds it.
		if err == nil || attempt == 1 || !store.Conflict(err) {
			return out, err
		}
	}
}

func (s *Service) syncStatus(ctx context.Context, appID, gid, status, variantName string, duration licensevariant.Duration,
	expiresAt *time.Time, revoke bool, now time.Time) (*StatusResult, error) {
	out := &StatusResult{Status: status}
	var userID string
	// changed: the request revoked or created a license, or moved one's expiry. A repeated
	// request changes nothing and writes no activity event, so an application's backend cannot
	// push the person's real events out of their log.
	var changed bool
	err := s.DB.Tx(ctx, func(tx *ent.Tx) error {
		if err := func() error {
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
			v, err := s.ensureVariant(ctx, tx, appID, variantName, duration)
			if err != nil {
				return err
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
			held, err := tx.LicenseCode.Query().
				Where(licensecode.LinkedConnectionID(conn.ID), licensecode.VariantID(v.ID),
					licensecode.SourceEQ(licensecode.SourceStatus), activeAt(now)).
				Order(ent.Desc(licensecode.FieldActivatedAt)).First(ctx)
			switch {
			case err == nil:
				changed = !sameExpiry(held.ExpiresAt, exp)
				upd := held.Update()
				if exp == nil {
					upd.ClearExpiresAt()
				} else {
					upd.SetExpiresAt(*exp)
				}
				out.License, err = upd.Save(ctx)
				out.Reused = true
				return err
			case !store.NotFound(err):
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
		return activity.Record(ctx, tx, activity.Event{Type: activity.LicenseAction, Actor: activity.ByApplication, UserID: userID,
			ApplicationID: appID, ConnectionID: out.ConnectionID, Details: map[string]string{"action": "status_" + string(out.Action)}, At: now})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// sameExpiry reports whether a license expiring at a would expire at b (nil: never), to the
// microsecond the databases keep.
func sameExpiry(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Truncate(time.Microsecond).Equal(b.Truncate(time.Microsecond))
}

// ensureVariant returns the application's variant named name (case-insensitively), creating
// it with duration d when there is none, within the same MaxVariants as CreateVariant
// (Invalid past them: the status sync creates nothing).
func (s *Service) ensureVariant(ctx context.Context, tx *ent.Tx, appID, name string, d licensevariant.Duration) (*ent.LicenseVariant, error) {
	v, err := tx.LicenseVariant.Query().Where(licensevariant.ApplicationID(appID), licensevariant.NameKey(strings.ToLower(name))).Only(ctx)
	if err == nil || !store.NotFound(err) {
		return v, err
	}
	// On a concurrent create the unique index makes one of the two transactions fail; the
	// caller retries the whole request and then finds the variant.
	return s.createVariant(ctx, tx, appID, name, "", d)
}
