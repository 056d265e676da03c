// Package webhooks tells applications what changed. Events are written to the outbox
// (WebhookEvent rows) in the same transaction as the change that causes them, then delivered
// by a worker, so no committed change is ever left unannounced.
package webhooks

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql"

	"loginsign/ent"
	"loginsign/ent/retiredalias"
	"loginsign/ent/webhookattempt"
	"loginsign/ent/webhookevent"
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

// EmailChanged is sent when the address an application is shown changed: the person's
// primary LoginSign address changed and the application was shown it, or the person removed
// the alternative address the application was shown (NewEmail is then the relay alias).
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

// aboutConnection is a payload about one connection, which it names: Enqueue records the
// connection on the event (connection_id), where WithdrawConnection finds it.
type aboutConnection interface{ connection() string }

func (p ConnectionDeleted) connection() string  { return p.ConnectionID }
func (p UserAccountDeleted) connection() string { return p.ConnectionID }
func (p EmailChanged) connection() string       { return p.ConnectionID }

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
// with the change it announces. Applications without a webhook URL, or being deleted, get no
// event (the worker sends nothing to one marked after its event was queued). An event
// whose payload names a connection (ConnectionDeleted, UserAccountDeleted, EmailChanged)
// records it.
func Enqueue(ctx context.Context, tx *ent.Tx, app *ent.Application, eventType string, payload any, now time.Time) (*ent.WebhookEvent, error) {
	if app.WebhookURL == "" || app.DeletingSince != nil {
		return nil, nil
	}
	body, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("encoding %s event: %w", eventType, err)
	}
	create := tx.WebhookEvent.Create().
		SetApplicationID(app.ID).
		SetType(eventType).
		SetPayload(string(body)).
		SetCreatedAt(now).
		SetNextAttemptAt(now)
	if p, ok := payload.(aboutConnection); ok && p.connection() != "" {
		create.SetConnectionID(p.connection())
	}
	ev, err := create.Save(ctx)
	if err != nil {
		return nil, fmt.Errorf("queueing %s event: %w", eventType, err)
	}
	return ev, nil
}

// EnqueueLogout writes a back-channel logout event for app through tx: claims are the logout
// token's claims apart from iat and exp, which the worker sets at each attempt. Applications
// without a back-channel logout URI, or being deleted, get none.
func EnqueueLogout(ctx context.Context, tx *ent.Tx, app *ent.Application, claims any, now time.Time) (*ent.WebhookEvent, error) {
	if app.BackchannelLogoutURI == "" || app.DeletingSince != nil {
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

// personalTypes are the event types whose payload holds more of the person than what the
// application knows of every connection anyway (connection id, Global User ID, alias):
// email_changed carries their old and new address.
var personalTypes = []string{TypeEmailChanged}

// ConnectionEndedText is what the delivery log and a refused redelivery say of an event that
// carries the person's data once their connection to the application has ended.
const ConnectionEndedText = "the person's connection to the application has ended: an event that carries their data is not sent after it"

// connectionEnded reports whether ev carries the person's data (personalTypes) and the
// connection it is about has ended. connections.Delete retires the alias of every connection
// that ends, whoever ends it, and the alias is never issued again, so the retired alias the
// payload names outlives the connection's row: it also finds an event that records no
// connection (queued by an older instance before the migration filled the column), which
// WithdrawConnection does not see.
func connectionEnded(ctx context.Context, c *ent.Client, ev *ent.WebhookEvent) (bool, error) {
	if !slices.Contains(personalTypes, ev.Type) {
		return false, nil
	}
	var named struct {
		AliasEmail string `json:"aliasEmail"`
	}
	if err := json.Unmarshal([]byte(ev.Payload), &named); err != nil || named.AliasEmail == "" {
		return false, nil
	}
	ended, err := c.RetiredAlias.Query().Where(retiredalias.Address(named.AliasEmail)).Exist(ctx)
	if err != nil {
		return false, fmt.Errorf("checking the event's connection: %w", err)
	}
	return ended, nil
}

// WithdrawConnection deletes through tx, with their delivery attempts, the events of
// application appID about connection connID that carry personal data (personalTypes) and
// were not delivered: pending ones would still go out for days of retries, and failed or
// disabled ones can be redelivered from the portal, where the developer also reads their
// payload. It is called when the connection ends, whoever ends it: an application the person
// is no longer connected to gets none of their data that it did not already receive; and
// when the person changes the address the application is shown on the consent page (the
// relay alias instead, or another address), which takes the one before back.
// Delivered events stay in the delivery log until Purge (the application has them), and so
// do events of other types (connection_deleted, back-channel logouts). An event whose
// delivery is under way may still arrive; its attempt is then not recorded. On PostgreSQL the
// events are locked first, so an attempt recorded meanwhile either committed before (the
// event, delivered, stays) or finds the event gone. The events are found by the connection
// they record (webhookevent_application_id_connection_id), not by reading the application's.
func WithdrawConnection(ctx context.Context, tx *ent.Tx, appID, connID string) error {
	ids, err := tx.WebhookEvent.Query().Where(
		webhookevent.ApplicationID(appID),
		webhookevent.ConnectionID(connID),
		webhookevent.TypeIn(personalTypes...),
		webhookevent.StatusNEQ(webhookevent.StatusDelivered),
	).Modify(func(s *sql.Selector) {
		if s.Dialect() == dialect.Postgres {
			s.ForUpdate()
		}
	}).IDs(ctx)
	if err != nil {
		return fmt.Errorf("finding the connection's events: %w", err)
	}
	if len(ids) == 0 {
		return nil
	}
	if _, err := tx.WebhookAttempt.Delete().Where(webhookattempt.EventIDIn(ids...)).Exec(ctx); err != nil {
		return fmt.Errorf("withdrawing the connection's events: %w", err)
	}
	if _, err := tx.WebhookEvent.Delete().Where(webhookevent.IDIn(ids...)).Exec(ctx); err != nil {
		return fmt.Errorf("withdrawing the connection's events: %w", err)
	}
	return nil
}

// Timestamp formats t as the events do: ISO 8601 UTC with milliseconds.
func Timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
