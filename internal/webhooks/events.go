// Package webhooks tells applications what changed. Events are written to the outbox
// (WebhookEvent rows) in the same transaction as the change that causes them, then delivered
// by a worker, so no committed change is ever left unannounced.
package webhooks

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"loginsign/ent"
)

// Event types, with exactly the documented payloads.
const (
	TypeConnectionDeleted  = "connection_deleted"
	TypeUserAccountDeleted = "user_account_deleted"
	TypeEmailChanged       = "email_changed"
	TypePing               = "ping"
	// TypeBackchannelLogout is not a webhook: its payload holds the claims of a logout token
	// that the worker signs and POSTs to the application's back-channel logout URI (OpenID
	// Connect Back-Channel Logout 1.0), with the outbox's retries and crash safety.
	TypeBackchannelLogout = "backchannel_logout"
)

// ConnectionDeleted is sent when the person removed the app in their dashboard or revoked its access.
type ConnectionDeleted struct {
	Type          string  `json:"type"`
	ConnectionID  string  `json:"connectionId"`
	UserID        string  `json:"userId"` // the Global User ID
	AliasEmail    string  `json:"aliasEmail"`
	ApplicationID string  `json:"applicationId"`
	Reason        *string `json:"reason"`
	DeletedAt     string  `json:"deletedAt"`
}

// UserAccountDeleted is sent when the developer deleted the connection, or the person deleted their whole
// LoginSign account (one event per connection).
type UserAccountDeleted struct {
	Type          string `json:"type"`
	ApplicationID string `json:"applicationId"`
	ConnectionID  string `json:"connectionId"`
	UserID        string `json:"userId"`
	AliasEmail    string `json:"aliasEmail"`
}

// EmailChanged is sent when the person's primary LoginSign address changed.
type EmailChanged struct {
	Type          string `json:"type"`
	ApplicationID string `json:"applicationId"`
	ConnectionID  string `json:"connectionId"`
	UserID        string `json:"userId"`
	AliasEmail    string `json:"aliasEmail"`
	OldEmail      string `json:"oldEmail"`
	NewEmail      string `json:"newEmail"`
	ChangedAt     string `json:"changedAt"`
	Reason        string `json:"reason"`
}

// Ping is sent by the portal's test button.
type Ping struct {
	Type          string `json:"type"`
	ApplicationID string `json:"applicationId"`
	SentAt        string `json:"sentAt"`
}

// Reasons of email_changed.
const (
	ReasonUserEmailChange = "user_email_change"
	ReasonDeveloperAPI    = "developer_api"
	ReasonAdmin           = "admin"
)

// Enqueue writes an event for appID into the outbox through tx, so it commits or rolls back
// with the change it announces. Applications without a webhook URL get no event.
func Enqueue(ctx context.Context, tx *ent.Tx, app *ent.Application, eventType string, payload any, now time.Time) (*ent.WebhookEvent, error) {
	if app.WebhookURL == "" {
		return nil, nil
	}
	body, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("encoding %s event: %w", eventType, err)
	}
	ev, err := tx.WebhookEvent.Create().
		SetApplicationID(app.ID).
		SetType(eventType).
		SetPayload(string(body)).
		SetCreatedAt(now).
		SetNextAttemptAt(now).
		Save(ctx)
	if err != nil {
		return nil, fmt.Errorf("queueing %s event: %w", eventType, err)
	}
	return ev, nil
}

// EnqueueLogout writes a back-channel logout event for app through tx: claims are the logout
// token's claims apart from iat and exp, which the worker sets at each attempt. Applications
// without a back-channel logout URI get none.
func EnqueueLogout(ctx context.Context, tx *ent.Tx, app *ent.Application, claims any, now time.Time) (*ent.WebhookEvent, error) {
	if app.BackchannelLogoutURI == "" {
		return nil, nil
	}
	body, err := json.Marshal(claims)
	if err != nil {
		return nil, fmt.Errorf("encoding logout token claims: %w", err)
	}
	ev, err := tx.WebhookEvent.Create().SetApplicationID(app.ID).SetType(TypeBackchannelLogout).
		SetPayload(string(body)).SetCreatedAt(now).SetNextAttemptAt(now).Save(ctx)
	if err != nil {
		return nil, fmt.Errorf("queueing a back-channel logout: %w", err)
	}
	return ev, nil
}

// Timestamp formats t as the events do: ISO 8601 UTC with milliseconds.
func Timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
