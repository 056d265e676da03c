package licenses

import (
	"context"
	"strings"
	"time"

	"entgo.io/ent/dialect"

	"loginsign/ent"
	"loginsign/ent/appconnection"
	"loginsign/ent/application"
	"loginsign/ent/licensecode"
	"loginsign/internal/activity"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/ratelimit"
	"loginsign/internal/store"
)

// Holder is the connection a person acts through for one application: given by the Bearer
// access token of the app, or by their LoginSign session and the application id. A token
// answers Unauthorized (invalid_token) once its connection is deleted or blocked, as GET
// /api/user does: an access token lives on in the token store until it expires, and only this
// check of the connection ends what it does here.
func (s *Service) Holder(ctx context.Context, appID string) (*ent.AppConnection, error) {
	appID = strings.TrimSpace(appID)
	if tok, ok := auth.TokenFrom(ctx); ok {
		if appID != "" && appID != tok.ApplicationID {
			return nil, apperr.New(apperr.Forbidden, "the access token belongs to another application")
		}
		conn, err := s.DB.AppConnection.Query().
			Where(appconnection.ID(tok.ConnectionID), appconnection.ApplicationID(tok.ApplicationID)).Only(ctx)
		if store.NotFound(err) {
			return nil, holderGone(ctx)
		}
		if err == nil && conn.Blocked {
			return nil, apperr.WithReason(apperr.Unauthorized, "invalid_token", "the connection of this token is blocked")
		}
		return conn, err
	}
	uid, err := auth.RequireUser(ctx)
	if err != nil {
		return nil, err
	}
	if appID == "" {
		return nil, apperr.New(apperr.Invalid, "client_id is required: which application's licenses?")
	}
	conn, err := s.DB.AppConnection.Query().
		Where(appconnection.UserID(uid), appconnection.ApplicationID(appID)).Only(ctx)
	if store.NotFound(err) {
		return nil, holderGone(ctx)
	}
	return conn, err
}

// holderGone is Holder's answer when the caller has no connection to the application: for an
// access token Unauthorized (invalid_token), since the connection it was issued for is gone;
// for the person's session NotFound. A request that found the connection and then saw it
// end (the person removed the application, the developer deleted the connection) answers
// the same.
func holderGone(ctx context.Context) error {
	if _, ok := auth.TokenFrom(ctx); ok {
		return apperr.WithReason(apperr.Unauthorized, "invalid_token", "the connection of this token no longer exists")
	}
	return apperr.New(apperr.NotFound, "you are not connected to this application")
}

// Subscriptions returns the caller's connection to appID and every code it holds (redeemed
// or synced), newest first, with variants loaded. Read each one's state with EffectiveState.
func (s *Service) Subscriptions(ctx context.Context, appID string) (*ent.AppConnection, []*ent.LicenseCode, error) {
	conn, err := s.Holder(ctx, appID)
	if err != nil {
		return nil, nil, err
	}
	codes, err := s.DB.LicenseCode.Query().Where(licensecode.LinkedConnectionID(conn.ID)).WithVariant().
		Order(ent.Desc(licensecode.FieldActivatedAt), ent.Desc(licensecode.FieldID)).All(ctx)
	if err != nil {
		return nil, nil, err
	}
	return conn, codes, nil
}

// Redeem ties an UNUSED code of appID to the caller's connection: state ACTIVE,
// linkedConnectionId, activatedAt now, expiresAt by the variant's duration. Codes match
// ignoring case, hyphens and spaces. Errors: 400 invalid_code (malformed), 404
// code_not_found (unknown, or another application's), 409 code_already_used, 410
// code_expired, 403 connection_blocked (the person's connection is blocked), 409
// too_many_licenses (the connection already holds MaxPerConnection licenses: nothing is
// claimed). Redeeming a code the same connection already holds answers it again.
//
// Every attempt, whichever transport made it (REST, GraphQL), counts against Limits: per
// address (auth.ClientIP) and per holder (the session's person or the token's connection);
// over either it answers 429 rate_limited with RetryAfter before anything is looked up. An
// attempt naming no code of the application also counts against the application's
// MissesPerApplication; once those are spent, a holder that missed in the window answers 429
// before the code is looked up (checkMisses).
//
// The claim is one conditional UPDATE (… WHERE id = ? AND state = 'UNUSED'), so of any
// number of concurrent redemptions of a code exactly one wins; the winner's license_redeemed
// event is written in the same transaction, so there is one event per claim. Redemptions into
// one connection take turns (lockHolder), so concurrent ones never take it past
// MaxPerConnection.
func (s *Service) Redeem(ctx context.Context, appID, code string) (*ent.LicenseCode, error) {
	if err := s.redeemLimit(ctx); err != nil {
		return nil, err
	}
	key, ok := CodeKey(code)
	if !ok || len(key) < 4 {
		return nil, apperr.WithReason(apperr.Invalid, "invalid_code", "a license code is 4 to 64 letters, digits, - and _")
	}
	conn, err := s.Holder(ctx, appID)
	if err != nil {
		return nil, err
	}
	if conn.Blocked {
		// Through the person's own session (a token of a blocked connection is refused by
		// Holder): the person may still list what they hold, but not take a code for an
		// application whose sign-ins are blocked for them.
		return nil, apperr.WithReason(apperr.Forbidden, "connection_blocked", "sign-in to this app is blocked for this account, so its license codes cannot be redeemed")
	}
	reserved, err := s.checkMisses(ctx, conn)
	if err != nil {
		return nil, err
	}
	c, err := s.DB.LicenseCode.Query().
		Where(licensecode.ApplicationID(conn.ApplicationID), licensecode.CodeKey(key)).WithVariant().Only(ctx)
	if store.NotFound(err) {
		if err := s.countMiss(ctx, conn, reserved); err != nil {
			return nil, err
		}
		return nil, codeNotFound()
	}
	if reserved != nil {
		// Not a miss (the code was found), or the look-up failed: the miss reserved for it is
		// given back.
		s.Limiter.Return(context.WithoutCancel(ctx), reserved.rule, reserved.subject)
	}
	if err != nil {
		return nil, err
	}
	now := s.now()
	if c.State == licensecode.StateUNUSED {
		exp := ExpiryOf(c.Edges.Variant.Duration, now)
		var n int
		var took bool
		err = s.DB.Tx(ctx, func(tx *ent.Tx) (err error) {
			if err := s.lockHolder(ctx, tx, conn); err != nil {
				return err
			}
			n, err = tx.LicenseCode.Update().
				Where(licensecode.ID(c.ID), licensecode.StateEQ(licensecode.StateUNUSED)).
				SetState(licensecode.StateACTIVE).SetLinkedConnectionID(conn.ID).
				SetActivatedAt(now).SetNillableExpiresAt(exp).
				Save(ctx)
			if isForeignKeyViolation(err) {
				// The connection, found by Holder before the transaction, ended meanwhile:
				// nothing is claimed, and the caller gets what Holder answers a moment later.
				return holderGone(ctx)
			}
			if err != nil || n == 0 {
				return err
			}
			if err := recordRedemption(ctx, tx, conn, c.Edges.Variant.Name, now); err != nil {
				return err
			}
			// Last, once the claim and its event are allowed: a claim refused for anything
			// else (the developer's activity.AppCausedPerDay) spends none of the budget.
			took, err = s.applicationChange(ctx, conn.ID)
			return err
		})
		if err != nil {
			if took {
				// Counted, then not committed: the hit is given back.
				s.Limiter.Return(context.WithoutCancel(ctx), s.StatusChanges.Or(DefaultStatusChanges), conn.ID)
			}
			return nil, err
		}
		if n == 1 {
			c.State, c.LinkedConnectionID, c.ActivatedAt, c.ExpiresAt = licensecode.StateACTIVE, &conn.ID, &now, exp
			return c, nil
		}
		// Another redemption won; report what it left.
		if c, err = s.DB.LicenseCode.Query().Where(licensecode.ID(c.ID)).WithVariant().Only(ctx); store.NotFound(err) {
			return nil, codeNotFound()
		} else if err != nil {
			return nil, err
		}
	}
	switch {
	case EffectiveState(c, now) == licensecode.StateEXPIRED:
		return nil, apperr.WithReason(apperr.Gone, "code_expired", "this license code has expired")
	case c.LinkedConnectionID != nil && *c.LinkedConnectionID == conn.ID:
		return c, nil
	default:
		return nil, apperr.WithReason(apperr.Conflict, "code_already_used", "this license code has already been redeemed")
	}
}

// MaxPerConnection bounds the licenses one connection (a person in one application) holds:
// redeemed codes and status licenses, in effect or ended, since every one of them stays on
// the person's subscriptions list (REST, GraphQL myLicenses), which is not paged, and in
// their data export. Without it, an application's backend could redeem the codes its
// developer generates (DefaultBulk, up to a million) into one person's connection, tens of
// thousands a day, until every dashboard view and export of that person loads them all.
// A hundred is years of monthly licenses bought one code at a time.
const MaxPerConnection = 100

// lockHolder locks conn inside tx for a claim, and refuses the claim once conn holds
// MaxPerConnection licenses. On PostgreSQL it first holds the application (store.HoldApplications:
// the order of a developer ending the connection or deleting the application, and of the
// status sync) and then locks the connection's row FOR UPDATE, so that claims into one
// connection take turns and each counts what the previous ones stored; SQLite transactions
// take turns anyway. A connection gone meanwhile answers holderGone.
func (s *Service) lockHolder(ctx context.Context, tx *ent.Tx, conn *ent.AppConnection) error {
	if err := store.HoldApplications(ctx, tx, s.DB.Dialect, application.ID(conn.ApplicationID)); err != nil {
		return err
	}
	q := tx.AppConnection.Query().Where(appconnection.ID(conn.ID))
	if s.DB.Dialect == dialect.Postgres {
		q.ForUpdate()
	}
	if _, err := q.Only(ctx); store.NotFound(err) {
		return holderGone(ctx)
	} else if err != nil {
		return err
	}
	return checkHeld(ctx, tx, conn.ID)
}

// checkHeld refuses a license more for connection connID once it holds MaxPerConnection
// (redeemed codes and status licenses alike): 409 too_many_licenses. The caller holds the
// connection's row locked.
func checkHeld(ctx context.Context, tx *ent.Tx, connID string) error {
	held, err := tx.LicenseCode.Query().Where(licensecode.LinkedConnectionID(connID)).Count(ctx)
	if err != nil {
		return err
	}
	if held >= MaxPerConnection {
		return apperr.WithReason(apperr.Conflict, "too_many_licenses",
			"this account already holds %d licenses of this application, the most it may hold", MaxPerConnection)
	}
	return nil
}

// recordRedemption writes the license_redeemed event of a code conn just claimed: the person's
// own redemption (their session) or their application's (its access token), naming the
// variant. The application's developer reads it too: the code's linkedConnectionId already
// tells them who holds it.
func recordRedemption(ctx context.Context, tx *ent.Tx, conn *ent.AppConnection, variant string, now time.Time) error {
	actor := activity.ByPerson
	if _, ok := auth.TokenFrom(ctx); ok {
		actor = activity.ByApplication
	}
	return activity.Record(ctx, tx, activity.Event{Type: activity.LicenseRedeemed, Actor: actor, UserID: conn.UserID,
		ApplicationID: conn.ApplicationID, ConnectionID: conn.ID, Details: map[string]string{"name": variant}, At: now})
}

// applicationChange counts, inside the transaction of a claim, a redemption the application
// made with the person's access token against the budget of its changes to that person's
// licenses (StatusChanges, shared with the status syncs that change something): past it the
// claim rolls back and answers RateLimited. Each claim writes license_redeemed into the
// person's own log, and a forced delete of the variant empties MaxPerConnection again, so the
// guessing limit (PerHolder, 20 a minute) alone let a backend write 1,200 events an hour into
// one person's log. The person's own redemptions (their session) are not counted.
//
// It reports whether it counted a hit, which the caller gives back (Limiter.Return) when the
// transaction then fails.
func (s *Service) applicationChange(ctx context.Context, connID string) (took bool, err error) {
	if _, ok := auth.TokenFrom(ctx); !ok || s.Limiter == nil {
		return false, nil
	}
	if err := s.Limiter.Take(ctx, s.StatusChanges.Or(DefaultStatusChanges), connID); err != nil {
		return false, err
	}
	return true, nil
}

// missHolder is the subject of conn's own misses: the caller's connection to the application,
// whether it came with the person's session or the application's token.
func missHolder(conn *ent.AppConnection) string { return conn.ApplicationID + ":" + conn.ID }

// missBudget is one budget of misses and its subject.
type missBudget struct {
	rule    ratelimit.Rule
	subject string
}

// checkMisses refuses (429 rate_limited) a redemption into conn once the application's
// MissesPerApplication are spent and conn itself missed in their window; a holder that has not
// missed is let through, so that other people's wrong guesses never keep one with the right
// code from redeeming it.
//
// The miss is taken before the code is looked up, and the caller gives it back
// (Limiter.Return) when the look-up finds the code: one of the application's misses while they
// last (reserved is then that budget), else the holder's one miss (reserved is the holder's);
// countMiss then does not count it again. Checking a budget here and counting it only after a
// miss let guesses sent at once all pass the check: a holder's were each answered up to its
// PerHolder instead of one per holder in the window, and while the application's misses were
// unspent every guess in flight from all its holders was answered, not MissesPerApplication.
func (s *Service) checkMisses(ctx context.Context, conn *ent.AppConnection) (reserved *missBudget, err error) {
	if s.Limiter == nil {
		return nil, nil
	}
	lim := s.Limits.withDefaults()
	app := &missBudget{lim.MissesPerApplication, conn.ApplicationID}
	spent := s.Limiter.Take(ctx, app.rule, app.subject)
	if spent == nil {
		return app, nil
	}
	if !apperr.Is(spent, apperr.RateLimited) {
		return nil, spent
	}
	holder := &missBudget{lim.holderMisses(), missHolder(conn)}
	if err := s.Limiter.Take(ctx, holder.rule, holder.subject); err != nil {
		if apperr.Is(err, apperr.RateLimited) {
			return nil, spent
		}
		return nil, err
	}
	return holder, nil
}

// countMiss counts a redemption into conn that named no code of the application, against the
// application and against conn, but for the budget checkMisses reserved it under already.
func (s *Service) countMiss(ctx context.Context, conn *ent.AppConnection, reserved *missBudget) error {
	if s.Limiter == nil {
		return nil
	}
	lim := s.Limits.withDefaults()
	for _, c := range []missBudget{{lim.MissesPerApplication, conn.ApplicationID}, {lim.holderMisses(), missHolder(conn)}} {
		if reserved != nil && c == *reserved {
			continue
		}
		// Past its limit the counter still counts; this miss is answered code_not_found.
		if err := s.Limiter.Take(ctx, c.rule, c.subject); err != nil && !apperr.Is(err, apperr.RateLimited) {
			return err
		}
	}
	return nil
}

func codeNotFound() error {
	return apperr.WithReason(apperr.NotFound, "code_not_found", "no such license code for this application")
}

// redeemLimit counts one redemption attempt of ctx's caller.
func (s *Service) redeemLimit(ctx context.Context) error {
	if s.Limiter == nil {
		return nil
	}
	lim := s.Limits.withDefaults()
	if err := s.Limiter.Take(ctx, lim.PerAddress, auth.ClientIP(ctx)); err != nil {
		return err
	}
	holder := ""
	if t, ok := auth.TokenFrom(ctx); ok {
		holder = "con:" + t.ConnectionID
	} else if sess, ok := auth.SessionFrom(ctx); ok {
		holder = "usr:" + sess.UserID
	}
	if holder == "" {
		return nil // Holder answers 401 next
	}
	return s.Limiter.Take(ctx, lim.PerHolder, holder)
}
