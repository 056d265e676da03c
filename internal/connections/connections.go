// Package connections holds what every path that ends a connection must do, whoever asks:
// the developer (DELETE …/users/:connectionId), the person (removing the app in the dashboard)
// or the person deleting their whole account.
package connections

import (
	"context"
	"fmt"
	"time"

	"loginsign/ent"
	"loginsign/ent/consent"
	"loginsign/ent/licensecode"
	"loginsign/ent/refreshtoken"
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

// Delete ends conn inside tx: its refresh tokens and consent go, its active licenses expire
// and are unlinked, its alias is retired so it is never issued again, the event is queued, and
// the row is deleted. Access tokens stop working because every Bearer check loads the
// connection. conn must have its Application and User edges loaded.
func Delete(ctx context.Context, tx *ent.Tx, conn *ent.AppConnection, why Why, now time.Time) error {
	app, u := conn.Edges.Application, conn.Edges.User
	if app == nil || u == nil {
		return fmt.Errorf("connections.Delete: application and user edges must be loaded")
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
	return nil
}
