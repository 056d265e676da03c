// Package connections holds what every path that ends a connection must do, whoever asks:
// the developer (DELETE …/users/:connectionId), the person (removing the app in the dashboard)
// or the person deleting their whole account.
package connections

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"loginsign/ent"
	"loginsign/ent/appconnection"
	"loginsign/ent/consent"
	"loginsign/ent/emailchange"
	"loginsign/ent/licensecode"
	"loginsign/ent/refreshtoken"
	"loginsign/ent/retiredalias"
	"loginsign/internal/activity"
	"loginsign/internal/ids"
	"loginsign/internal/store"
	"loginsign/internal/webhooks"
)

// Why a connection ends; it picks the webhook event.
type Why int

const (
	// RemovedByPerson: the person removed the app or revoked its access (connection_deleted).
	RemovedByPerson Why = iota
	// DeletedByDeveloper: the developer closed the account on their platform (user_account_deleted).
	DeletedByDeveloper
	// AccountDeleted: the person deleted their LoginSign account (user_account_deleted).
	AccountDeleted
)

// Delete ends conn inside tx: the application's open proposal to change the person's primary
// address is superseded (endProposals), its refresh tokens and consent go, its active licenses
// expire and are unlinked, its alias is retired so it is never issued again, its undelivered
// events that carry the person's data are withdrawn (webhooks.WithdrawConnection: a queued
// email_changed would otherwise give the app the person's new address after the end), the
// event of the ending is queued, and the row is deleted. Access tokens stop working because
// every Bearer check loads the connection. conn must have its Application and User edges
// loaded.
func Delete(ctx context.Context, tx *ent.Tx, conn *ent.AppConnection, why Why, now time.Time) error {
	app, u := conn.Edges.Application, conn.Edges.User
	if app == nil || u == nil {
		return fmt.Errorf("connections.Delete: application and user edges must be loaded")
	}
	if err := endProposals(ctx, tx, u.ID, app.ID, now); err != nil {
		return err
	}
	if _, err := tx.RefreshToken.Delete().Where(refreshtoken.ConnectionID(conn.ID)).Exec(ctx); err != nil {
		return fmt.Errorf("revoking refresh tokens: %w", err)
	}
	if _, err := tx.Consent.Delete().Where(consent.ConnectionID(conn.ID)).Exec(ctx); err != nil {
		return fmt.Errorf("deleting consent: %w", err)
	}
	if _, err := tx.LicenseCode.Update().
		Where(licensecode.LinkedConnectionID(conn.ID), licensecode.StateEQ(licensecode.StateACTIVE)).
		SetState(licensecode.StateEXPIRED).SetExpiresAt(now).
		Save(ctx); err != nil {
		return fmt.Errorf("ending licenses: %w", err)
	}
	if _, err := tx.LicenseCode.Update().
		Where(licensecode.LinkedConnectionID(conn.ID)).
		ClearLinkedConnectionID().
		Save(ctx); err != nil {
		return fmt.Errorf("unlinking licenses: %w", err)
	}
	if err := tx.RetiredAlias.Create().SetAddress(conn.AliasEmail).SetRetiredAt(now).Exec(ctx); err != nil {
		return fmt.Errorf("retiring alias: %w", err)
	}
	if err := webhooks.WithdrawConnection(ctx, tx, app.ID, conn.ID); err != nil {
		return err
	}
	var payload any
	typ := webhooks.TypeUserAccountDeleted
	if why == RemovedByPerson {
		typ = webhooks.TypeConnectionDeleted
		payload = webhooks.ConnectionDeleted{Type: typ, ConnectionID: conn.ID, UserID: u.GlobalID,
			AliasEmail: conn.AliasEmail, ApplicationID: app.ID, DeletedAt: webhooks.Timestamp(now)}
	} else {
		payload = webhooks.UserAccountDeleted{Type: typ, ApplicationID: app.ID, ConnectionID: conn.ID,
			UserID: u.GlobalID, AliasEmail: conn.AliasEmail}
	}
	if _, err := webhooks.Enqueue(ctx, tx, app, typ, payload, now); err != nil {
		return err
	}
	if err := tx.AppConnection.DeleteOneID(conn.ID).Exec(ctx); err != nil {
		return fmt.Errorf("deleting connection: %w", err)
	}
	ev := activity.Event{Type: activity.ConnectionDeleted, Actor: activity.ByDeveloper, UserID: u.ID,
		ApplicationID: app.ID, ConnectionID: conn.ID, At: now}
	switch why {
	case RemovedByPerson:
		ev.Type, ev.Actor = activity.ConsentWithdrawn, activity.ByPerson
	case AccountDeleted:
		return nil // the person's events go with the account
	}
	return activity.Record(ctx, tx, ev)
}

// endProposals supersedes, inside tx, the open requests of application appID to change the
// primary address of userID (identity.RequestEmailChange): a developer can propose only while
// the person is connected to the application, and a proposal must not outlive that relation.
// Their links then answer as for any superseded request. Callers hold the connection (or the
// application) whose ending this is: a request is stored with the person and then the
// application locked, so one racing the ending either commits first and is superseded here, or
// finds the connection gone.
func endProposals(ctx context.Context, tx *ent.Tx, userID, appID string, now time.Time) error {
	if _, err := tx.EmailChange.Update().
		Where(emailchange.UserID(userID), emailchange.ApplicationID(appID), emailchange.StatusEQ(emailchange.StatusPending)).
		SetStatus(emailchange.StatusSuperseded).SetClosedAt(now).Save(ctx); err != nil {
		return fmt.Errorf("ending address change requests: %w", err)
	}
	return nil
}

// Alias lengths: random [a-z0-9] local parts of 8 characters (36^8 ≈ 2.8·10^12), within the
// 6–10 the product documents.
const aliasLength = 8

// NewAlias returns a relay address on relayDomain that no connection holds and that was never
// retired, retrying on collision. It reads through tx so that it sees the transaction's rows.
func NewAlias(ctx context.Context, tx *ent.Tx, relayDomain string) (string, error) {
	return ProposeAlias(ctx, tx.Client(), relayDomain)
}

// ProposeAlias is NewAlias read through c: an address that is free now, to be shown (the
// consent page names the exact alias an app will get) and later claimed with Create.
func ProposeAlias(ctx context.Context, c *ent.Client, relayDomain string) (string, error) {
	if relayDomain == "" {
		return "", fmt.Errorf("connections.NewAlias: relay domain is not configured")
	}
	for range 10 {
		addr := ids.RandomLower(aliasLength) + "@" + relayDomain
		free, err := AliasFree(ctx, c, addr)
		if err != nil {
			return "", err
		}
		if free {
			return addr, nil
		}
	}
	return "", fmt.Errorf("connections.NewAlias: no free alias after 10 attempts")
}

// AliasFree reports whether no connection holds addr and it was never retired.
func AliasFree(ctx context.Context, c *ent.Client, addr string) (bool, error) {
	held, err := c.AppConnection.Query().Where(appconnection.AliasEmail(addr)).Exist(ctx)
	if err != nil {
		return false, fmt.Errorf("checking alias: %w", err)
	}
	if held {
		return false, nil
	}
	retired, err := c.RetiredAlias.Query().Where(retiredalias.Address(addr)).Exist(ctx)
	if err != nil {
		return false, fmt.Errorf("checking retired aliases: %w", err)
	}
	return !retired, nil
}

// Create links userID to appID inside tx with a fresh alias on relayDomain (see NewAlias):
// the one way a connection begins, whether the person signs in or the developer imports them.
// set, when given, adds fields (joined date, external user id, import source…) before saving.
// A connection that already exists answers a Conflict from the unique (user, application)
// index; callers look it up first.
func Create(ctx context.Context, tx *ent.Tx, userID, appID, relayDomain string, now time.Time, set ...func(*ent.AppConnectionCreate)) (*ent.AppConnection, error) {
	return CreateWithAlias(ctx, tx, userID, appID, relayDomain, "", now, set...)
}

// CreateWithAlias is Create that claims proposed (from ProposeAlias, on relayDomain) when it
// is still free, and a fresh alias otherwise.
func CreateWithAlias(ctx context.Context, tx *ent.Tx, userID, appID, relayDomain, proposed string, now time.Time, set ...func(*ent.AppConnectionCreate)) (*ent.AppConnection, error) {
	alias := ""
	if proposed != "" && relayDomain != "" && strings.HasSuffix(proposed, "@"+relayDomain) {
		free, err := AliasFree(ctx, tx.Client(), proposed)
		if err != nil {
			return nil, err
		}
		if free {
			alias = proposed
		}
	}
	if alias == "" {
		var err error
		if alias, err = NewAlias(ctx, tx, relayDomain); err != nil {
			return nil, err
		}
	}
	c := tx.AppConnection.Create().
		SetUserID(userID).
		SetApplicationID(appID).
		SetAliasEmail(alias).
		SetJoinedAt(now).
		SetCreatedAt(now).
		SetUpdatedAt(now)
	for _, f := range set {
		f(c)
	}
	conn, err := c.Save(ctx)
	if err != nil {
		return nil, store.Err(err, "connection")
	}
	return conn, nil
}

// The OpenID Connect scopes that share something of the person with the application, beyond
// the ids every connection carries.
const (
	// ScopeProfile shares the person's name and picture.
	ScopeProfile = "profile"
	// ScopeEmail shares an address: the relay alias, or a real address the person chose on
	// the consent page.
	ScopeEmail = "email"
)

// SharesProfile reports whether the person granted conn's application the profile scope; the
// application (and its developer, in every list) sees the person's name only then. conn must
// have its Consent edge loaded (a connection without consent shares nothing).
func SharesProfile(conn *ent.AppConnection) bool { return granted(conn, ScopeProfile) }

// SharesEmail reports whether the person granted conn's application the email scope. Only
// then may the connection hold a real address of theirs (app_email): without it the consent
// page offers no choice of address, and the application and its developer see none (the
// id_token and /api/user leave the email out, the developer's lists show "-"). conn must have
// its Consent edge loaded.
func SharesEmail(conn *ent.AppConnection) bool { return granted(conn, ScopeEmail) }

func granted(conn *ent.AppConnection, scope string) bool {
	c := conn.Edges.Consent
	return c != nil && slices.Contains(c.Scopes, scope)
}

// ProfileScopeSQL is an SQL condition on a consents.scopes column (JSON text on SQLite, jsonb
// on PostgreSQL) that holds when the profile scope is among them.
func ProfileScopeSQL(column string) string {
	return "CAST(" + column + " AS TEXT) LIKE '%\"" + ScopeProfile + "\"%'"
}

// AppFacingEmail is the address an application sees for a connection: the address the
// person shares with it (app_email), else the relay alias. Every path that shows an app or
// its developer an address (ID token, userinfo, current logins, code owners) takes it from
// here.
func AppFacingEmail(appEmail, alias string) string {
	if appEmail != "" {
		return appEmail
	}
	return alias
}
