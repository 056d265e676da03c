// Package portal is the Developer Portal domain: a developer's applications and the people
// connected to them. Every operation checks that the signed-in developer owns the application;
// another developer's application answers exactly like a missing one.
package portal

import (
	"context"
	"time"

	"loginsign/ent"
	"loginsign/ent/application"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/identity"
	"loginsign/internal/ratelimit"
	"loginsign/internal/seal"
	"loginsign/internal/store"
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
	// Limiter counts users exports per developer under Exports (default DefaultExports); nil
	// turns the limit off.
	Limiter *ratelimit.Limiter
	Exports ratelimit.Rule
	// Redirects answers the portal's redirect-URI healthcheck; nil until the OAuth domain is
	// wired in (the check answers Internal "not available" meanwhile).
	Redirects RedirectChecker
	Now       func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now().UTC()
	}
	return s.Now().UTC()
}

// OwnedApplication returns the application id if the signed-in developer owns it, else
// NotFound (never Forbidden: a developer cannot probe which applications exist).
func (s *Service) OwnedApplication(ctx context.Context, appID string) (*ent.Application, error) {
	uid, err := auth.RequireUser(ctx)
	if err != nil {
		return nil, err
	}
	app, err := s.DB.Application.Query().
		Where(application.ID(appID), application.OwnerID(uid)).
		Only(ctx)
	if ent.IsNotFound(err) {
		return nil, apperr.New(apperr.NotFound, "application not found")
	}
	return app, err
}

// WebhookURL is app's webhook URL, for its owner only: an application reached through a
// person's connection answers NotFound here.
func (s *Service) WebhookURL(ctx context.Context, app *ent.Application) (string, error) {
	uid, err := auth.RequireUser(ctx)
	if err != nil {
		return "", err
	}
	if app.OwnerID != uid {
		return "", apperr.New(apperr.NotFound, "application not found")
	}
	return app.WebhookURL, nil
}

// BackchannelLogoutURI is the back-channel logout URI of app, shown to its owner only.
func (s *Service) BackchannelLogoutURI(ctx context.Context, app *ent.Application) (string, error) {
	if _, err := s.WebhookURL(ctx, app); err != nil {
		return "", err
	}
	return app.BackchannelLogoutURI, nil
}
