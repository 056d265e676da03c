// Package activity is the activity log: an append-only record of what happened to a person's
// account and to an application. Record is called by the domain function that makes a change,
// inside the same transaction, so an event exists exactly when its change was committed.
//
// Who reads what: a person reads the events whose user is them (ForPerson); a developer reads
// the events of an application they own (ForApplication). An event names the person only by
// the internal user id, which no reader is shown; the developer's view names the connection.
// Details hold only the keys in detailKeys, checked by Record: no secret (tokens, client or
// webhook secrets, codes) and nothing of another person ever enters an event. An address
// appears only in events that concern no application, so a developer never reads one.
package activity

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"entgo.io/ent/dialect/sql"

	"loginsign/ent"
	"loginsign/ent/activityevent"
	"loginsign/ent/application"
	"loginsign/ent/predicate"
	"loginsign/internal/apperr"
)

// Type names what happened. The README lists each with the function that writes it.
type Type string

// Events of a person's account.
const (
	SignIn              Type = "sign_in"
	ConsentGiven        Type = "consent_given"
	ConsentWithdrawn    Type = "consent_withdrawn"
	AddressAdded        Type = "address_added"
	AddressVerified     Type = "address_verified"
	AddressRemoved      Type = "address_removed"
	AddressMadePrimary  Type = "address_made_primary"
	PendingLinkAccepted Type = "pending_link_accepted"
	PendingLinkRefused  Type = "pending_link_refused"
	EmailChangeRequest  Type = "email_change_requested"
	EmailChangeConfirm  Type = "email_change_confirmed"
	EmailChangeCancel   Type = "email_change_cancelled"
	SessionsEnded       Type = "sessions_ended"
	PasskeyAdded        Type = "passkey_added"
	PasskeyRenamed      Type = "passkey_renamed"
	PasskeyRemoved      Type = "passkey_removed"
	TOTPEnabled         Type = "totp_enabled"
	TOTPDisabled        Type = "totp_disabled"
	RecoveryCodesNew    Type = "recovery_codes_renewed"
	DataExported        Type = "data_exported"
)

// Events of an application (the developer's side).
const (
	AppSettingsChanged   Type = "application_settings_changed"
	ClientSecretRotated  Type = "client_secret_rotated"
	WebhookSecretRotated Type = "webhook_secret_rotated"
	WebhookChanged       Type = "webhook_endpoint_changed"
	ConnectionEdited     Type = "connection_edited"
	ConnectionDeleted    Type = "connection_deleted"
	ImportRun            Type = "import_run"
	ImportRolledBack     Type = "import_rolled_back"
	LicenseAction        Type = "license_action"
	UsersExported        Type = "users_exported"
)

// Events of an application's team (internal/team). They never hold an invitee's address: the
// team sees addresses only in its members and invitations lists.
const (
	MemberInvited              Type = "member_invited"
	MemberJoined               Type = "member_joined"
	MemberRoleChanged          Type = "member_role_changed"
	MemberRemoved              Type = "member_removed"
	MemberLeft                 Type = "member_left"
	InvitationRevoked          Type = "invitation_revoked"
	OwnershipTransferProposed  Type = "ownership_transfer_proposed"
	OwnershipTransferCancelled Type = "ownership_transfer_cancelled"
	OwnershipTransferred       Type = "ownership_transferred"
)

// Events of a person's licenses: a developer's forced delete of a license variant ended the
// person's license (only the person sees it); the person, or their application with their
// access token, redeemed a license code.
const (
	LicenseEnded    Type = "license_ended"
	LicenseRedeemed Type = "license_redeemed"
)

// Types lists every type, in the order of the README.
var Types = []Type{
	SignIn, ConsentGiven, ConsentWithdrawn, AddressAdded, AddressVerified, AddressRemoved,
	AddressMadePrimary, PendingLinkAccepted, PendingLinkRefused, EmailChangeRequest,
	EmailChangeConfirm, EmailChangeCancel, SessionsEnded, PasskeyAdded, PasskeyRenamed,
	PasskeyRemoved, TOTPEnabled, TOTPDisabled, RecoveryCodesNew, DataExported,
	AppSettingsChanged, ClientSecretRotated, WebhookSecretRotated, WebhookChanged,
	ConnectionEdited, ConnectionDeleted, ImportRun, ImportRolledBack, LicenseAction, UsersExported,
	MemberInvited, MemberJoined, MemberRoleChanged, MemberRemoved, MemberLeft, InvitationRevoked,
	OwnershipTransferProposed, OwnershipTransferCancelled, OwnershipTransferred, LicenseEnded,
	LicenseRedeemed,
}

// Known reports whether t is one of Types.
func Known(t Type) bool { return slices.Contains(Types, t) }

// Actor is who caused an event.
type Actor = activityevent.Actor

// The actors.
const (
	ByPerson      = activityevent.ActorPerson
	ByDeveloper   = activityevent.ActorDeveloper
	ByApplication = activityevent.ActorApplication
	BySystem      = activityevent.ActorSystem
)

// Event is one entry to record. UserID is the person it concerns ("" for an application's own
// settings); ApplicationID the application (its developer sees the event); ConnectionID the
// connection, shown to both.
type Event struct {
	Type          Type
	Actor         Actor
	UserID        string
	ApplicationID string
	ConnectionID  string
	Details       map[string]string
	// At is when it happened (the caller's clock); zero means now.
	At time.Time
}

// detailKeys are the only keys an event's details may hold, each a fact that is neither a
// secret nor another person's: how a sign-in happened, which fields changed (names, never
// values), counts, a passkey's name, an address of the person's own (person-only events).
var detailKeys = map[string]bool{
	"method":   true, // sign-in method: magic_link, passkey, totp, recovery_code
	"location": true, // coarse location of a sign-in (a country), only where configured
	"scopes":   true, // scopes granted (space-separated)
	"address":  true, // the person's own address; only in events without an application
	"fields":   true, // names of the changed fields (comma-separated)
	"count":    true, // how many (sessions ended, codes generated…)
	"action":   true, // license action: codes_generated, codes_uploaded, code_deleted, variant_*, status_synced
	"name":     true, // a passkey's or license variant's name
	"outcome":  true, // an outcome: refused, superseded…
	"source":   true, // an import run's id
	"format":   true, // an export's format
	"role":     true, // a team role: admin, developer, support
}

// maxDetail bounds a detail in characters: details hold names the person or the developer typed,
// which are limited in characters (a passkey's 64 may be 256 bytes).
const maxDetail = 200

// Check validates e: a known type, an actor, allow-listed detail keys of bounded length, and
// no address in an event an application's developer reads.
func Check(e Event) error {
	if !Known(e.Type) {
		return fmt.Errorf("activity: unknown event type %q", e.Type)
	}
	if e.Actor == "" {
		return fmt.Errorf("activity: %s without an actor", e.Type)
	}
	if e.UserID == "" && e.ApplicationID == "" {
		return fmt.Errorf("activity: %s concerns nobody", e.Type)
	}
	for k, v := range e.Details {
		if !detailKeys[k] {
			return fmt.Errorf("activity: %s: detail %q is not allowed", e.Type, k)
		}
		if utf8.RuneCountInString(v) > maxDetail {
			return fmt.Errorf("activity: %s: detail %q is too long", e.Type, k)
		}
		if k == "address" && e.ApplicationID != "" {
			return fmt.Errorf("activity: %s: an address in an application's event", e.Type)
		}
	}
	return nil
}

// Record appends e inside tx; the event is committed with the change it records or not at
// all. The location of a sign-in from ctx
// (WithLocation) when the server is configured to record it.
func Record(ctx context.Context, tx *ent.Tx, e Event) error {
	if err := Check(e); err != nil {
		return err
	}
	details := maps.Clone(e.Details)
	if e.Type == SignIn {
		if loc := LocationFrom(ctx); loc != "" {
			if details == nil {
				details = map[string]string{}
			}
			details["location"] = loc
		}
	}
	at := e.At
	if at.IsZero() {
		at = time.Now()
	}
	at = at.UTC()
	if err := takeAppCaused(ctx, tx, e, at); err != nil {
		return err
	}
	c := tx.ActivityEvent.Create().SetType(string(e.Type)).SetActor(e.Actor).
		SetUserID(e.UserID).SetApplicationID(e.ApplicationID).SetConnectionID(e.ConnectionID).
		SetCreatedAt(at)
	if len(details) > 0 {
		c.SetDetails(details)
	}
	if err := c.Exec(ctx); err != nil {
		return fmt.Errorf("recording %s: %w", e.Type, err)
	}
	return nil
}

// AppCausedPerDay is how many events the applications of one developer (its owner's, all
// together) may add to one person's log in 24 hours: license status syncs and redemptions
// with the person's token, connection edits, address change requests. Each kind has its own
// hourly budget (licenses.DefaultStatusChanges and portal.DefaultConnectionEdits, 60 an hour
// per connection; identity's 10 address change requests a day), which together let one
// application add about 2,900 events a day to one person's log (4,300 with forced variant
// deletes), and a developer as many again per application the person uses: far past the
// newest 20,000 events a data export holds (dataexport.DefaultMaxActivity), so the person's
// own sign-ins and address changes left their export within a week. 100 a day is several
// times what an honest application writes (a license sync every hour is 24), and a developer
// writing at the cap needs 200 days to fill an export. Counted per developer, never per person alone, so that one developer's writes
// neither block another's nor tell it how much the person's other applications do.
const AppCausedPerDay = 100

// endsSomething are the application-caused events that are counted against AppCausedPerDay
// but always recorded: each ends a hold on the person that needed a counted event (a
// license granted or redeemed) or the person's own consent (a connection) first, and
// refusing them would keep an application's access or a person's license alive.
var endsSomething = map[Type]bool{ConnectionDeleted: true, LicenseEnded: true}

// takeAppCaused refuses (RateLimited, with the seconds until the oldest counted event is a
// day old) an event an application or developer causes in a person's log past
// AppCausedPerDay of its developer's applications in the 24 hours before at. The person's
// own events, and the system's, are never counted nor refused.
func takeAppCaused(ctx context.Context, tx *ent.Tx, e Event, at time.Time) error {
	if e.UserID == "" || e.ApplicationID == "" || (e.Actor != ByDeveloper && e.Actor != ByApplication) || endsSomething[e.Type] {
		return nil
	}
	since := at.Add(-24 * time.Hour)
	counted := tx.ActivityEvent.Query().Where(activityevent.UserID(e.UserID), activityevent.CreatedAtGT(since),
		activityevent.ActorIn(ByDeveloper, ByApplication), ofItsDeveloper(e.ApplicationID))
	n, err := counted.Clone().Count(ctx)
	if err != nil {
		return fmt.Errorf("recording %s: %w", e.Type, err)
	}
	if n < AppCausedPerDay {
		return nil
	}
	secs := int((24 * time.Hour).Seconds())
	if oldest, err := counted.Order(ent.Asc(activityevent.FieldCreatedAt)).First(ctx); err == nil {
		secs = max(1, int(math.Ceil(oldest.CreatedAt.Add(24*time.Hour).Sub(at).Seconds())))
	}
	ae := apperr.New(apperr.RateLimited, "too many changes to this person's account by your applications today; try again in %d s", secs)
	ae.RetryAfter = secs
	return ae
}

// ofItsDeveloper keeps the events of appID and of every other application its owner has, in
// the one statement that counts them (a lookup of the owner and of their applications before
// it were two more round trips on every status sync).
func ofItsDeveloper(appID string) predicate.ActivityEvent {
	return func(s *sql.Selector) {
		d := sql.Dialect(s.Dialect())
		apps, app := d.Table(application.Table).As("owned"), d.Table(application.Table).As("named")
		owner := d.Select(app.C(application.FieldOwnerID)).From(app).Where(sql.EQ(app.C(application.FieldID), appID))
		owned := d.Select(apps.C(application.FieldID)).From(apps).Where(sql.In(apps.C(application.FieldOwnerID), owner))
		col := s.C(activityevent.FieldApplicationID)
		s.Where(sql.Or(sql.EQ(col, appID), sql.In(col, owned)))
	}
}

// Fields joins the names of changed fields for the "fields" detail.
func Fields(names ...string) string {
	slices.Sort(names)
	return strings.Join(slices.Compact(names), ",")
}

type locationKey struct{}

// WithLocation returns ctx carrying the coarse location (a country code) of the request, put
// there by the transport only when LOGINSIGN_ACTIVITY_LOCATION_HEADER names a header to read
// it from (off by default). Sign-in events record it.
func WithLocation(ctx context.Context, loc string) context.Context {
	return context.WithValue(ctx, locationKey{}, loc)
}

// LocationFrom returns the location WithLocation put into ctx, "" when none.
func LocationFrom(ctx context.Context) string {
	s, _ := ctx.Value(locationKey{}).(string)
	return s
}
