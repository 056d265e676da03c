// Package team is who may do what on an application. The owner (Application.owner_id) and the
// members (AppMember, with a role) form its team; every developer operation of every transport
// (REST, GraphQL, portal pages, and the domains behind them: portal, licenses, activity,
// webhooks) goes through Authorize with the Action it performs. The rules:
//
//   - not signed in: Unauthorized;
//   - the application does not exist, or the caller is not on its team: NotFound, the same
//     answer, so nobody learns which applications exist;
//   - on the team, but the role does not allow the action: Forbidden (reason "forbidden"),
//     naming the role and the action;
//   - allowed, but the operation gives someone power over the application or its people
//     (Invite, ChangeRole, ProposeTransfer here; secrets, redirect and delivery URLs,
//     deletion and the users export in internal/portal) and the session's sign-in is older
//     than auth.RecentSignIn: Unauthorized (reason reauthentication_required). A session
//     cookie lives for days, so one taken from a browser must not be enough to hand the
//     application, or the list of its people, to its thief.
//
// The table (Allows) is the README's "Teams and roles".
package team

import (
	"context"
	"slices"

	"loginsign/ent"
	"loginsign/ent/application"
	"loginsign/ent/appmember"
	"loginsign/ent/predicate"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/store"
)

// Role is a role on an application's team.
type Role string

// The roles, from most to least powerful.
const (
	Owner     Role = "owner"
	Admin     Role = "admin"
	Developer Role = "developer"
	Support   Role = "support"
)

// Roles lists every role.
var Roles = []Role{Owner, Admin, Developer, Support}

// MemberRoles are the roles a member other than the owner may hold (invite, change).
var MemberRoles = []Role{Admin, Developer, Support}

// ParseRole reads a role (any case); "" and unknown values are Invalid.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles {
		if string(r) == s || string(r) == lower(s) {
			return r, nil
		}
	}
	return "", apperr.New(apperr.Invalid, "role must be one of owner, admin, developer, support")
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// Action is one kind of thing a developer does with an application.
type Action string

// The actions. Every developer route and field names one.
const (
	ReadApp         Action = "read the application"     // settings (no secrets), quickstart, redirect check
	EditSettings    Action = "change settings"          // name, URLs, redirect URIs, webhook URL, quotas, sync tests
	RotateSecrets   Action = "rotate secrets"           // client secret and webhook secret
	DeleteApp       Action = "delete the application"   //
	TransferApp     Action = "transfer the application" // propose / cancel ownership transfer
	ReadMembers     Action = "read the team"            // members list, pending transfer
	ManageMembers   Action = "manage the team"          // invite, revoke, change role, remove
	ReadUsers       Action = "read users"               // users list, one user, search
	ExportUsers     Action = "export users"             // users CSV
	EditConnections Action = "change connections"       // forwarding, appEmail, email sync proposals, delete
	ReadLicenses    Action = "read licenses"            // variants, codes, code owners
	ManageLicenses  Action = "manage licenses"          // variants, codes, grants, revocations
	ReadWebhooks    Action = "read webhooks"            // webhook URL, delivery log
	ManageWebhooks  Action = "manage webhooks"          // redeliver, test events
	ReadActivity    Action = "read the activity log"    //
	ReadImports     Action = "read imports"             // import runs and rows
	RunImports      Action = "run imports"              // import, rollback
	ReadAnalytics   Action = "read analytics"           //
)

// allowed maps each action to the roles other than the owner that may perform it; the owner
// may perform every action.
var allowed = map[Action][]Role{
	ReadApp:         {Admin, Developer, Support},
	EditSettings:    {Admin, Developer},
	RotateSecrets:   {Admin},
	DeleteApp:       {},
	TransferApp:     {},
	ReadMembers:     {Admin, Developer, Support},
	ManageMembers:   {Admin},
	ReadUsers:       {Admin, Developer, Support},
	ExportUsers:     {Admin},
	EditConnections: {Admin},
	ReadLicenses:    {Admin, Developer, Support},
	ManageLicenses:  {Admin, Developer},
	ReadWebhooks:    {Admin, Developer},
	ManageWebhooks:  {Admin, Developer},
	ReadActivity:    {Admin, Developer},
	ReadImports:     {Admin},
	RunImports:      {Admin},
	ReadAnalytics:   {Admin, Developer},
}

// Actions lists every action, in the order of the README's table.
var Actions = []Action{ReadApp, EditSettings, RotateSecrets, DeleteApp, TransferApp, ReadMembers, ManageMembers,
	ReadUsers, ExportUsers, EditConnections, ReadLicenses, ManageLicenses, ReadWebhooks, ManageWebhooks,
	ReadActivity, ReadImports, RunImports, ReadAnalytics}

// Allows reports whether role may perform a.
func Allows(role Role, a Action) bool {
	if role == Owner {
		return true
	}
	return slices.Contains(allowed[a], role)
}

// memberRoles are the ent values of the non-owner roles allowed a.
func memberRoles(a Action) []appmember.Role {
	var out []appmember.Role
	for _, r := range allowed[a] {
		out = append(out, appmember.Role(r))
	}
	return out
}

// Can is the predicate "uid may perform a on this application", for queries over several
// applications (node visibility, lists).
func Can(uid string, a Action) predicate.Application {
	ps := []predicate.Application{application.OwnerID(uid)}
	if roles := memberRoles(a); len(roles) > 0 {
		ps = append(ps, application.HasMembersWith(appmember.UserID(uid), appmember.RoleIn(roles...)))
	}
	return application.Or(ps...)
}

// OnTeam is the predicate "uid owns or is a member of this application".
func OnTeam(uid string) predicate.Application {
	return application.Or(application.OwnerID(uid), application.HasMembersWith(appmember.UserID(uid)))
}

// RoleOf is uid's role on app, "" when uid is not on its team.
func RoleOf(ctx context.Context, c *ent.Client, app *ent.Application, uid string) (Role, error) {
	if app.OwnerID == uid {
		return Owner, nil
	}
	m, err := c.AppMember.Query().Where(appmember.ApplicationID(app.ID), appmember.UserID(uid)).Only(ctx)
	if store.NotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return Role(m.Role), nil
}

// Authorize returns application appID when the signed-in person may perform a on it (see the
// package comment for the errors).
func Authorize(ctx context.Context, c *ent.Client, appID string, a Action) (*ent.Application, error) {
	app, _, err := authorize(ctx, c, appID, a, false, false)
	return app, err
}

// AuthorizeRole is Authorize that also returns the caller's role.
func AuthorizeRole(ctx context.Context, c *ent.Client, appID string, a Action) (*ent.Application, Role, error) {
	return authorize(ctx, c, appID, a, false, false)
}

// AuthorizeTx is Authorize inside tx; on PostgreSQL the application row is locked so
// concurrent changes of one application queue.
//
// Lock order: a transaction that also locks a person's row (store.LockUser, store.HoldUser,
// CheckOwnedApplications) locks it before calling this, never after. The closing of an account
// locks the person and then the applications whose rows it writes (its connections' events, its
// seats, a transfer proposed to it); the other order let the two wait for each other until
// PostgreSQL aborted one (deadlock detected, an internal error).
func AuthorizeTx(ctx context.Context, tx *ent.Tx, dialect, appID string, a Action) (*ent.Application, Role, error) {
	return authorize(ctx, tx.Client(), appID, a, dialect == "postgres", false)
}

// AuthorizeTakingAwayTx is AuthorizeTx for a change that only takes access away (a member
// taken off the team, an invitation revoked): it stays allowed while the application is being
// deleted, so that an owner whose deletion stopped half-way need not wait for it to end a
// member's reading and exporting of the application's people.
func AuthorizeTakingAwayTx(ctx context.Context, tx *ent.Tx, dialect, appID string, a Action) (*ent.Application, Role, error) {
	return authorize(ctx, tx.Client(), appID, a, dialect == "postgres", true)
}

// AuthorizeForOwnerTx is AuthorizeTx for a write that counts against the totals of the
// application's owner (license codes, pending links, import rows): app is the application as
// read before tx. It locks the owner's row first (store.LockUser, the order above), then the
// application, so on PostgreSQL the writes into one owner's applications take turns and a
// count of what they hold stays exact (SQLite writes one transaction at a time anyway). An
// ownership transfer committed between the two reads answers Conflict: the lock taken is the
// old owner's.
func AuthorizeForOwnerTx(ctx context.Context, tx *ent.Tx, dialect string, app *ent.Application, a Action) (*ent.Application, error) {
	if _, err := store.LockUser(ctx, tx, dialect, app.OwnerID); err != nil {
		return nil, err
	}
	locked, _, err := AuthorizeTx(ctx, tx, dialect, app.ID, a)
	if err != nil {
		return nil, err
	}
	if locked.OwnerID != app.OwnerID {
		return nil, apperr.New(apperr.Conflict, "the application changed owner; try again")
	}
	return locked, nil
}

func authorize(ctx context.Context, c *ent.Client, appID string, a Action, lock, takesAway bool) (*ent.Application, Role, error) {
	uid, err := auth.RequireUser(ctx)
	if err != nil {
		return nil, "", err
	}
	if _, known := allowed[a]; !known {
		return nil, "", apperr.New(apperr.Internal, "unknown action")
	}
	q := c.Application.Query().Where(application.ID(appID), OnTeam(uid))
	if lock {
		q = q.ForUpdate()
	}
	app, err := q.Only(ctx)
	if err != nil {
		return nil, "", store.Err(err, "application")
	}
	role, err := RoleOf(ctx, c, app, uid)
	if err != nil {
		return nil, "", err
	}
	if role == "" {
		return nil, "", apperr.New(apperr.NotFound, "application not found")
	}
	if !Allows(role, a) {
		return nil, role, Forbidden(role, a)
	}
	if app.DeletingSince != nil && !whileDeleting[a] && !takesAway {
		return nil, role, apperr.WithReason(apperr.Conflict, "application_deleting",
			"this application is being deleted; delete it again to finish")
	}
	return app, role, nil
}

// whileDeleting are the actions an application being deleted (portal.DeleteApplication)
// still allows: reading it, and deleting it again, which finishes a deletion that failed
// half-way. Every change would be undone by the deletion, or outlive it (an invitation, a
// transfer, an import's proposals mailed to people), but taking access away
// (AuthorizeTakingAwayTx).
var whileDeleting = map[Action]bool{ReadApp: true, ReadMembers: true, ReadUsers: true, ExportUsers: true,
	ReadLicenses: true, ReadWebhooks: true, ReadActivity: true, ReadImports: true, ReadAnalytics: true, DeleteApp: true}

// Forbidden is the error of a member whose role does not allow a.
func Forbidden(role Role, a Action) error {
	return apperr.New(apperr.Forbidden, "your role on this application (%s) does not allow you to %s", role, a)
}
