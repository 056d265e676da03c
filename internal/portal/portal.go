// Package portal is the Developer Portal domain: a developer's applications and the people
// connected to them. Every operation checks the signed-in developer's role on the application
// through Authorize (internal/team); an application whose team they are not on answers exactly
// like a missing one.
package portal

import (
	"context"
	"time"

	"loginsign/ent"
	"loginsign/internal/auth"
	"loginsign/internal/identity"
	"loginsign/internal/mail"
	"loginsign/internal/ratelimit"
	"loginsign/internal/seal"
	"loginsign/internal/store"
	"loginsign/internal/team"
)

// Service is the portal domain.
type Service struct {
	DB *store.DB
	// WebhookSecrets seals application webhook secrets.
	WebhookSecrets *seal.Sealer
	// Dev allows http redirect URIs and webhook targets on any host (development only).
	Dev bool
	// RelayDomain is the domain of the masked addresses given to imported connections.
	RelayDomain string
	// Identity changes primary addresses for the email-sync route.
	Identity *identity.Service
	// Limiter counts users exports per developer under Exports (default DefaultExports),
	// import runs under Imports and application creations under ApplicationCreations; nil
	// turns the limits off.
	Limiter *ratelimit.Limiter
	Exports ratelimit.Rule
	// Imports bounds import runs per developer (default DefaultImports), counted by Limiter.
	Imports ratelimit.Rule
	// MaxImportRows bounds the import rows kept across the applications of one owner, the
	// oldest runs' rows giving way (trimImportRows); zero is DefaultMaxImportRows.
	MaxImportRows int
	// MaxPendingLinks bounds the pending links of the applications of one owner
	// (checkPendingLinks); zero is DefaultMaxPendingLinks.
	MaxPendingLinks int
	// MaxImportRuns bounds the spent import runs kept across the applications of one owner,
	// the oldest deleted (trimImportRuns); zero is DefaultMaxImportRuns.
	MaxImportRuns int
	// OwnerTotals are the other domains' totals per owner that an ownership transfer must
	// fit, checked with the portal's own (ownerTotals): the server adds the license codes'
	// (licenses.Service.TransferFits).
	OwnerTotals []func(ctx context.Context, tx *ent.Tx, app *ent.Application, newOwner string) error
	// ApplicationCreations bounds application creations per developer (default
	// DefaultApplicationCreations), counted by Limiter.
	ApplicationCreations ratelimit.Rule
	// DeliveryTargets bounds the hosts and ports a developer newly points webhook and
	// back-channel logout URLs at per day (default DefaultDeliveryTargets), counted by Limiter.
	DeliveryTargets ratelimit.Rule
	// Writes bounds the developer's changes to applications, teams included (team.TakeWrite;
	// default team.DefaultWrites), counted by Limiter.
	Writes ratelimit.Rule
	// ConnectionEdits bounds the changes of one connection (UpdateConnection), whoever on the
	// team makes them (default DefaultConnectionEdits), counted by Limiter.
	ConnectionEdits ratelimit.Rule
	// AccessChanges bounds the developer's rotations of secrets and role changes
	// (team.TakeAccessChange; default team.DefaultAccessChanges), counted by Limiter.
	AccessChanges ratelimit.Rule
	// Redirects answers the portal's redirect-URI healthcheck; nil until the OAuth domain is
	// wired in (the check answers Internal "not available" meanwhile).
	Redirects RedirectChecker
	// Mail and BaseURL send team invitations (links point at BaseURL); Invites limits them per
	// application and inviting developer (default team.DefaultInvites).
	Mail    mail.Sender
	BaseURL string
	Invites ratelimit.Rule
	// Notify, when set, is given the security notice of a change to an application's secrets,
	// redirects or team, or of its deletion begun, once it has committed (team.Notice), here and
	// in Team; it must not hold the request up (the server mails in the background).
	Notify func(ctx context.Context, n team.Notice)
	Now    func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now().UTC()
	}
	return s.Now().UTC()
}

// Authorize returns application appID when the signed-in developer's role on it allows a:
// the one team check (team.Authorize) every portal operation and transport goes through.
// Not on the team answers NotFound exactly like a missing id (nobody can probe which
// applications exist); a member whose role lacks a gets Forbidden.
func (s *Service) Authorize(ctx context.Context, appID string, a team.Action) (*ent.Application, error) {
	return team.Authorize(ctx, s.DB.Client, appID, a)
}

// authorizeTx is Authorize inside tx, locking the application row on PostgreSQL so concurrent
// changes of one application queue.
func (s *Service) authorizeTx(ctx context.Context, tx *ent.Tx, appID string, a team.Action) (*ent.Application, error) {
	app, _, err := team.AuthorizeTx(ctx, tx, s.DB.Dialect, appID, a)
	return app, err
}

// notify gives n to Notify, when set, once its change has committed.
func (s *Service) notify(ctx context.Context, n team.Notice) {
	if s.Notify != nil {
		s.Notify(ctx, n)
	}
}

// Team is the team domain (members, invitations, ownership transfers) over the portal's
// database, mailer and limiter.
func (s *Service) Team() *team.Service {
	return &team.Service{DB: s.DB, Mail: s.Mail, BaseURL: s.BaseURL, RelayDomain: s.RelayDomain, Limiter: s.Limiter, Invites: s.Invites, Writes: s.Writes, AccessChanges: s.AccessChanges,
		OwnerTotals: s.ownerTotals, Notify: s.Notify, Now: s.Now}
}

// WebhookURL is app's webhook URL, for the members whose role may read webhooks: anyone else
// (an application reached through a person's connection included) gets NotFound or Forbidden.
func (s *Service) WebhookURL(ctx context.Context, app *ent.Application) (string, error) {
	full, err := s.Authorize(ctx, app.ID, team.ReadWebhooks)
	if err != nil {
		return "", err
	}
	return full.WebhookURL, nil
}

// AsViewer is app as the signed-in member may see it, with their role: the webhook URL and the
// back-channel logout URI are cleared when that role may not read webhooks (the rule WebhookURL
// and BackchannelLogoutURI apply field by field).
func (s *Service) AsViewer(ctx context.Context, app *ent.Application) (*ent.Application, team.Role, error) {
	uid, err := auth.RequireUser(ctx)
	if err != nil {
		return nil, "", err
	}
	role, err := team.RoleOf(ctx, s.DB.Client, app, uid)
	if err != nil {
		return nil, "", err
	}
	if !team.Allows(role, team.ReadWebhooks) {
		c := *app
		c.WebhookURL, c.BackchannelLogoutURI = "", ""
		app = &c
	}
	return app, role, nil
}

// BackchannelLogoutURI is the back-channel logout URI of app, for the members whose role may
// read webhooks: like the webhook URL it is where LoginSign posts to the application's
// backend, and may carry a token (support saw it before stop 61).
func (s *Service) BackchannelLogoutURI(ctx context.Context, app *ent.Application) (string, error) {
	full, err := s.Authorize(ctx, app.ID, team.ReadWebhooks)
	if err != nil {
		return "", err
	}
	return full.BackchannelLogoutURI, nil
}
