// Package dataexport gives a person everything LoginSign holds about them as one JSON
// document (GDPR Articles 15 and 20), read through the same domain functions and edges the
// dashboard reads, so the export shows every field the dashboard shows. Exports are rate
// limited per person, recorded in the activity log and announced by mail.
package dataexport

import (
	"context"
	"errors"
	"fmt"
	"time"

	"loginsign/ent"
	"loginsign/ent/appconnection"
	"loginsign/ent/licensecode"
	"loginsign/ent/useremail"
	"loginsign/internal/account"
	"loginsign/internal/activity"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/connections"
	"loginsign/internal/httpx"
	"loginsign/internal/i18n"
	"loginsign/internal/identity"
	"loginsign/internal/licenses"
	"loginsign/internal/mail"
	"loginsign/internal/mfa"
	"loginsign/internal/passkey"
	"loginsign/internal/portal"
	"loginsign/internal/profile"
	"loginsign/internal/ratelimit"
	"loginsign/internal/store"
	"loginsign/internal/team"
)

// Rule limits exports per person: the document is large and each one sends a mail.
var Rule = ratelimit.Rule{Name: "data-export", N: 3, Window: 24 * time.Hour}

// DefaultMaxActivity bounds the activity events read into one document (the newest): the
// document is built in memory.
const DefaultMaxActivity = 20000

// DefaultMaxPendingLinks bounds the open pending links read into one document (the newest).
// The dashboard lists 100 (account.MaxPendingLinks); before, the export read the dashboard's
// list and silently left out every proposal past it.
const DefaultMaxPendingLinks = 10000

// DefaultMaxTeamInvitations bounds the pending team invitations read into one document (the
// newest). The portal lists 100 (team.MaxViewerInvitations); before, the export read that
// list and silently left out every invitation past it.
const DefaultMaxTeamInvitations = 1000

// DefaultMaxTeams bounds the teams read into one document: the applications the person owns
// (at most team.MaxOwnedApplications), then the teams they joined, oldest first. No rule caps
// how many teams one person joins, so past the bound the document says it is cut (TeamsComplete).
const DefaultMaxTeams = 1000

// DefaultMaxOwnershipTransfers bounds the pending ownership transfers read into one document
// (the newest). Any owner may propose a transfer to any person, so before, the export read up
// to 1,000 and silently left out every proposal past them.
const DefaultMaxOwnershipTransfers = 1000

// Service builds exports.
type Service struct {
	DB       *store.DB
	Identity *identity.Service
	Account  *account.Service
	MFA      *mfa.Service
	Passkeys *passkey.Service
	Activity *activity.Service
	// Team reads the person's teams, invitations and proposed transfers.
	Team    *team.Service
	Mail    mail.Sender
	Limiter *ratelimit.Limiter
	// MaxActivity is how many activity events a document holds at most, the newest (default
	// DefaultMaxActivity).
	MaxActivity int
	// MaxPendingLinks is how many open pending links a document holds at most, the newest
	// (default DefaultMaxPendingLinks).
	MaxPendingLinks int
	// MaxTeams is how many teams a document holds at most (default DefaultMaxTeams).
	MaxTeams int
	// MaxOwnershipTransfers is how many pending ownership transfers a document holds at most,
	// the newest (default DefaultMaxOwnershipTransfers).
	MaxOwnershipTransfers int
	Now                   func() time.Time
}

// Document is the export. Times are RFC 3339 UTC with milliseconds.
type Document struct {
	ExportedAt   string        `json:"exportedAt"`
	Account      Account       `json:"account"`
	Addresses    []Address     `json:"addresses"`
	Connections  []Connection  `json:"connections"`
	PendingLinks []PendingLink `json:"pendingLinks"`
	Sessions     []Session     `json:"sessions"`
	TwoStep      TwoStep       `json:"twoStep"`
	Passkeys     []Passkey     `json:"passkeys"`
	// Teams are the application teams the person is on (owner or member), TeamInvitations the
	// pending invitations addressed to them, OwnershipTransfers the transfers proposed to them.
	// Nothing of the other members.
	Teams              []TeamMembership    `json:"teams"`
	TeamInvitations    []TeamInvitation    `json:"teamInvitations"`
	OwnershipTransfers []OwnershipTransfer `json:"ownershipTransfers"`
	Activity           []Event             `json:"activity"`
	// ActivityComplete is false when Activity holds only the newest events of a longer log
	// (Service.MaxActivity): the export must not pass a part for the whole.
	ActivityComplete bool `json:"activityComplete"`
	// PendingLinksComplete is false when PendingLinks holds only the newest of more open
	// proposals (Service.MaxPendingLinks): any developer may propose the person's address,
	// from any number of applications, so their number has no bound of its own.
	PendingLinksComplete bool `json:"pendingLinksComplete"`
	// TeamInvitationsComplete is false when TeamInvitations holds only the newest
	// DefaultMaxTeamInvitations of more pending invitations: any developer may invite the
	// person's address, from any number of applications.
	TeamInvitationsComplete bool `json:"teamInvitationsComplete"`
	// TeamsComplete is false when Teams holds only the first Service.MaxTeams of more teams
	// (the owned applications, then the teams joined first): no rule caps how many teams one
	// person joins.
	TeamsComplete bool `json:"teamsComplete"`
	// OwnershipTransfersComplete is false when OwnershipTransfers holds only the newest
	// Service.MaxOwnershipTransfers of more pending proposals: any owner may propose a transfer
	// to any person, from any number of applications.
	OwnershipTransfersComplete bool `json:"ownershipTransfersComplete"`
}

// TeamMembership is the person's role on an application's team.
type TeamMembership struct {
	ApplicationID   string `json:"applicationId"`
	ApplicationName string `json:"applicationName"`
	Role            string `json:"role"`  // owner, admin, developer, support
	Email           string `json:"email"` // the address the team sees of them
	Since           string `json:"since"`
}

// TeamInvitation is a pending invitation to a team addressed to the person.
type TeamInvitation struct {
	ID              string `json:"id"`
	ApplicationID   string `json:"applicationId"`
	ApplicationName string `json:"applicationName"`
	Email           string `json:"email"` // the invited address (one of theirs)
	Role            string `json:"role"`
	CreatedAt       string `json:"createdAt"`
	ExpiresAt       string `json:"expiresAt"`
}

// OwnershipTransfer is an application whose owner proposed to hand it over to the person.
type OwnershipTransfer struct {
	ApplicationID   string `json:"applicationId"`
	ApplicationName string `json:"applicationName"`
	ExpiresAt       string `json:"expiresAt"`
}

type Account struct {
	ID          string  `json:"id"`
	GlobalID    string  `json:"globalId"`
	Email       string  `json:"email"`
	Name        string  `json:"name"`
	PictureURL  string  `json:"pictureUrl,omitempty"` // served by LoginSign (internal/profile)
	Region      string  `json:"region,omitempty"`     // ISO 3166-1 alpha-2
	RegionName  string  `json:"regionName,omitempty"`
	Language    *string `json:"language"` // the chosen language (en, fr, de); null: automatic
	CreatedAt   string  `json:"createdAt"`
	LastLoginAt *string `json:"lastLoginAt"`
}

type Address struct {
	ID         string  `json:"id,omitempty"`
	Email      string  `json:"email"`
	Primary    bool    `json:"primary"`
	VerifiedAt *string `json:"verifiedAt"`
}

type Application struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Website string `json:"website"`
	IconURL string `json:"iconUrl"`
}

// Connection is an app the person signed in to, with what it sees of them.
type Connection struct {
	ID            string      `json:"id"`
	Application   Application `json:"application"`
	Scopes        []string    `json:"scopes"`
	Sees          Sees        `json:"sees"`
	AliasEmail    string      `json:"aliasEmail"`
	AppEmail      string      `json:"appEmail"`
	IsForwarding  bool        `json:"isForwarding"`
	EmailMuted    bool        `json:"emailMuted"`
	LoginCount    int         `json:"loginCount"`
	LastSessionAt *string     `json:"lastSessionAt"`
	JoinedAt      string      `json:"joinedAt"`
	Licenses      []License   `json:"licenses"`
}

// Sees is what the application is shown of the person: the Global User ID always (its users
// list), the name and the picture URL with the profile scope (GET /api/user, the id_token),
// with the email scope the address it is given (the one the person shares, else the relay
// alias: connections.AppFacingEmail), and the region written to the connection when they
// signed in (its users list, CSV export and analytics). Null: not shown to it.
type Sees struct {
	GlobalID string  `json:"globalId"`
	Name     *string `json:"name"`
	Email    *string `json:"email"`
	Picture  *string `json:"picture"`
	Region   *string `json:"region"`
}

type License struct {
	ID          string  `json:"id"`
	Code        string  `json:"code"`
	State       string  `json:"state"`
	Variant     string  `json:"variant"`
	ActivatedAt *string `json:"activatedAt"`
	ExpiresAt   *string `json:"expiresAt"`
}

type PendingLink struct {
	ID              string `json:"id"`
	ApplicationID   string `json:"applicationId"`
	ApplicationName string `json:"applicationName"`
	ExternalUserID  string `json:"externalUserId"`
	Email           string `json:"email"`
	ProposedAt      string `json:"proposedAt"`
}

type Session struct {
	ID            string   `json:"id"`
	CreatedAt     string   `json:"createdAt"`
	LastSeen      string   `json:"lastSeen"`
	UserAgent     string   `json:"userAgent"`
	Current       bool     `json:"current"`
	SignInMethods []string `json:"signInMethods"`
}

type TwoStep struct {
	Enabled           bool    `json:"enabled"`
	EnabledAt         *string `json:"enabledAt"`
	RecoveryCodesLeft int     `json:"recoveryCodesLeft"`
}

type Passkey struct {
	ID         string  `json:"id"`
	Name       string  `json:"name"`
	CreatedAt  string  `json:"createdAt"`
	LastUsedAt *string `json:"lastUsedAt"`
}

type Event struct {
	ID              string            `json:"id"`
	Type            string            `json:"type"`
	Actor           string            `json:"actor"`
	ApplicationID   string            `json:"applicationId,omitempty"`
	ApplicationName string            `json:"applicationName,omitempty"`
	ConnectionID    string            `json:"connectionId,omitempty"`
	Details         map[string]string `json:"details,omitempty"`
	At              string            `json:"at"`
}

// Export builds the signed-in person's document, records the export in their activity log
// and mails them that it happened. RateLimited past Rule; NotFound, with nothing recorded or
// mailed, when the account is closed before the export is recorded. It needs a sign-in of the
// last auth.RecentSignIn (Unauthorized, reason reauthentication_required, checked before the
// rate limit: a refusal spends none of the day's exports, records and mails nothing), as a
// developer's users export does: the document hands over at once everything LoginSign holds
// about the person (every address, connection, session with its browser, the whole
// activity log), and a session cookie copied from their browser (malware, a shared computer,
// a leaked HAR file) must not be enough to carry it off; the mail would tell the person only
// once it was gone. The dashboard's button sends a person whose sign-in is older through the
// sign-in-again page and back to the button (/dashboard?download=1).
// An export that fails for a reason of the server's own (apperr.Internal: a database or the
// mail server lost) gives its hit of Rule back: the person has three a day.
func (s *Service) Export(ctx context.Context) (*Document, error) {
	uid, err := auth.RequireRecentSignIn(ctx, s.Now())
	if err != nil {
		return nil, err
	}
	if err := s.Limiter.Take(ctx, Rule, uid); err != nil {
		return nil, err
	}
	doc, err := s.export(ctx, uid)
	if err != nil && apperr.CodeOf(err) == apperr.Internal {
		if rerr := s.Limiter.Return(context.WithoutCancel(ctx), Rule, uid); rerr != nil {
			err = errors.Join(err, rerr)
		}
	}
	return doc, err
}

// export is Export past its rate limit.
func (s *Service) export(ctx context.Context, uid string) (*Document, error) {
	now := s.Now().UTC()
	u, err := s.Identity.User(ctx, uid)
	if err != nil {
		return nil, err
	}
	doc := &Document{ExportedAt: httpx.Time(now),
		Account: Account{ID: u.ID, GlobalID: u.GlobalID, Email: u.Email, Name: u.Name,
			PictureURL: u.Image, Region: u.Region, RegionName: profile.RegionName(u.Region), Language: optional(u.Language),
			CreatedAt: httpx.Time(u.CreatedAt), LastLoginAt: httpx.TimePtr(u.LastLoginAt)},
		Addresses: []Address{{Email: u.Email, Primary: true, VerifiedAt: httpx.TimePtr(&u.CreatedAt)}}}
	if err := s.addresses(ctx, doc, uid); err != nil {
		return nil, err
	}
	if err := s.connections(ctx, doc, uid, now); err != nil {
		return nil, err
	}
	maxLinks := s.MaxPendingLinks
	if maxLinks <= 0 {
		maxLinks = DefaultMaxPendingLinks
	}
	links, complete, err := s.Account.PendingLinksUpTo(ctx, uid, maxLinks)
	if err != nil {
		return nil, err
	}
	doc.PendingLinksComplete = complete
	doc.PendingLinks = []PendingLink{}
	for _, l := range links {
		doc.PendingLinks = append(doc.PendingLinks, PendingLink{ID: l.ID, ApplicationID: l.ApplicationID, ApplicationName: l.ApplicationName,
			ExternalUserID: l.ExternalUserID, Email: l.Email, ProposedAt: httpx.Time(l.ProposedAt)})
	}
	sessions, err := s.Identity.SessionsOf(ctx, uid)
	if err != nil {
		return nil, err
	}
	doc.Sessions = []Session{}
	for _, v := range sessions {
		amr := v.AMR
		if amr == nil {
			amr = []string{}
		}
		doc.Sessions = append(doc.Sessions, Session{ID: v.ID, CreatedAt: httpx.Time(v.CreatedAt), LastSeen: httpx.Time(v.LastSeen),
			UserAgent: v.UserAgent, Current: v.Current, SignInMethods: amr})
	}
	st, err := s.MFA.StatusOf(ctx, uid)
	if err != nil {
		return nil, err
	}
	doc.TwoStep = TwoStep{Enabled: st.TOTP, RecoveryCodesLeft: st.RecoveryCodesLeft}
	if st.TOTP {
		doc.TwoStep.EnabledAt = httpx.TimePtr(&st.TOTPSince)
	}
	keys, err := s.Passkeys.List(ctx, uid)
	if err != nil {
		return nil, err
	}
	doc.Passkeys = []Passkey{}
	for _, k := range keys {
		doc.Passkeys = append(doc.Passkeys, Passkey{ID: k.ID, Name: k.Name, CreatedAt: httpx.Time(k.CreatedAt), LastUsedAt: httpx.TimePtr(k.LastUsedAt)})
	}
	if err := s.teams(ctx, doc); err != nil {
		return nil, err
	}
	if err := s.activity(ctx, doc, uid); err != nil {
		return nil, err
	}
	err = s.DB.Tx(ctx, func(tx *ent.Tx) error {
		// The person first (store.HoldUser): the closing of the account locks them before it
		// deletes their events, so an account closed while the document was read answers
		// NotFound here and keeps no event.
		if _, err := store.HoldUser(ctx, tx, s.DB.Dialect, uid); err != nil {
			return err
		}
		return activity.Record(ctx, tx, activity.Event{Type: activity.DataExported, Actor: activity.ByPerson, UserID: uid,
			Details: map[string]string{"format": "json"}, At: now})
	})
	if err != nil {
		return nil, err
	}
	if err := s.Mail.Send(ctx, mail.DataExport(i18n.ForPerson(ctx, u.Language), u.Email, now)); err != nil {
		return nil, fmt.Errorf("announcing the export: %w", err)
	}
	return doc, nil
}

func (s *Service) addresses(ctx context.Context, doc *Document, uid string) error {
	emails, err := s.DB.UserEmail.Query().Where(useremail.UserID(uid)).Order(ent.Asc(useremail.FieldEmail)).All(ctx)
	if err != nil {
		return err
	}
	for _, e := range emails {
		doc.Addresses = append(doc.Addresses, Address{ID: e.ID, Email: e.Email, VerifiedAt: httpx.TimePtr(e.VerifiedAt)})
	}
	return nil
}

// connections reads the person's connections with their applications, consents and licenses,
// the edges the dashboard's apps card reads.
func (s *Service) connections(ctx context.Context, doc *Document, uid string, now time.Time) error {
	conns, err := s.DB.AppConnection.Query().Where(appconnection.UserID(uid)).
		WithApplication().WithConsent().WithUser().
		WithLicenses(func(q *ent.LicenseCodeQuery) { q.WithVariant().Order(ent.Asc(licensecode.FieldCreatedAt)) }).
		Order(ent.Asc(appconnection.FieldJoinedAt)).All(ctx)
	if err != nil {
		return err
	}
	doc.Connections = []Connection{}
	for _, c := range conns {
		app := c.Edges.Application
		out := Connection{ID: c.ID, Application: Application{ID: app.ID, Name: app.Name, Website: app.Website, IconURL: app.IconURL},
			Scopes: []string{}, AliasEmail: c.AliasEmail, AppEmail: c.AppEmail, IsForwarding: c.IsForwarding,
			EmailMuted: portal.EmailMuted(c), LoginCount: c.LoginCount, LastSessionAt: httpx.TimePtr(c.LastSessionAt),
			JoinedAt: httpx.Time(c.JoinedAt), Licenses: []License{}}
		if c.Edges.Consent != nil {
			out.Scopes = c.Edges.Consent.Scopes
		}
		out.Sees.GlobalID, out.Sees.Region = c.Edges.User.GlobalID, optional(c.Region)
		if connections.SharesProfile(c) {
			out.Sees.Name, out.Sees.Picture = optional(portal.SharedName(c)), optional(c.Edges.User.Image)
		}
		if connections.SharesEmail(c) {
			e := connections.AppFacingEmail(c.AppEmail, c.AliasEmail)
			out.Sees.Email = &e
		}
		for _, l := range c.Edges.Licenses {
			lic := License{ID: l.ID, Code: l.Code, State: string(licenses.EffectiveState(l, now)),
				ActivatedAt: httpx.TimePtr(l.ActivatedAt), ExpiresAt: httpx.TimePtr(l.ExpiresAt)}
			if v := l.Edges.Variant; v != nil {
				lic.Variant = v.Name
			}
			out.Licenses = append(out.Licenses, lic)
		}
		doc.Connections = append(doc.Connections, out)
	}
	return nil
}

// teams reads the person's teams, invitations and proposed transfers through internal/team,
// the functions the Developer Portal reads.
func (s *Service) teams(ctx context.Context, doc *Document) error {
	doc.Teams, doc.TeamInvitations, doc.OwnershipTransfers = []TeamMembership{}, []TeamInvitation{}, []OwnershipTransfer{}
	ts := s.Team
	if ts == nil {
		ts = &team.Service{DB: s.DB, Now: s.Now}
	}
	maxTeams := s.MaxTeams
	if maxTeams <= 0 {
		maxTeams = DefaultMaxTeams
	}
	ms, teamsComplete, err := ts.ViewerMembershipsUpTo(ctx, maxTeams)
	if err != nil {
		return err
	}
	doc.TeamsComplete = teamsComplete
	for _, m := range ms {
		doc.Teams = append(doc.Teams, TeamMembership{ApplicationID: m.ApplicationID, ApplicationName: m.ApplicationName,
			Role: string(m.Role), Email: m.Email, Since: httpx.Time(m.Since)})
	}
	invs, complete, err := ts.ViewerInvitationsUpTo(ctx, DefaultMaxTeamInvitations)
	if err != nil {
		return err
	}
	doc.TeamInvitationsComplete = complete
	for _, i := range invs {
		doc.TeamInvitations = append(doc.TeamInvitations, TeamInvitation{ID: i.ID, ApplicationID: i.ApplicationID,
			ApplicationName: i.ApplicationName, Email: i.Email, Role: string(i.Role), CreatedAt: httpx.Time(i.CreatedAt), ExpiresAt: httpx.Time(i.ExpiresAt)})
	}
	maxTransfers := s.MaxOwnershipTransfers
	if maxTransfers <= 0 {
		maxTransfers = DefaultMaxOwnershipTransfers
	}
	trs, transfersComplete, err := ts.ViewerTransfersUpTo(ctx, maxTransfers)
	if err != nil {
		return err
	}
	doc.OwnershipTransfersComplete = transfersComplete
	for _, t := range trs {
		doc.OwnershipTransfers = append(doc.OwnershipTransfers, OwnershipTransfer{ApplicationID: t.ApplicationID,
			ApplicationName: t.ApplicationName, ExpiresAt: httpx.Time(t.ExpiresAt)})
	}
	return nil
}

func (s *Service) activity(ctx context.Context, doc *Document, uid string) error {
	doc.Activity = []Event{}
	limit := s.MaxActivity
	if limit <= 0 {
		limit = DefaultMaxActivity
	}
	p := activity.Page{First: activity.MaxPage}
	for {
		l, err := s.Activity.ForPerson(ctx, uid, activity.Filter{}, p)
		if err != nil {
			return err
		}
		for _, e := range l.Events {
			if len(doc.Activity) == limit {
				return nil // more than the document holds: ActivityComplete stays false
			}
			doc.Activity = append(doc.Activity, Event{ID: e.ID, Type: string(e.Type), Actor: string(e.Actor), ApplicationID: e.ApplicationID,
				ApplicationName: e.ApplicationName, ConnectionID: e.ConnectionID, Details: e.Details, At: httpx.Time(e.At)})
		}
		if l.NextCursor == "" {
			doc.ActivityComplete = true
			return nil
		}
		p.After = l.NextCursor
	}
}

// optional is s, or nil when s is empty.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
