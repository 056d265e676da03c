package portal

import (
	"context"

	"loginsign/internal/apperr"
	"loginsign/internal/oauth"
)

// RedirectChecker runs the OAuth domain's redirect-URI check ((*oauth.Service).CheckRedirect);
// the portal only adds the ownership check, so the matching rules live in one place.
type RedirectChecker interface {
	CheckRedirect(ctx context.Context, clientID, redirectURI string) (oauth.HealthcheckResult, error)
}

// CheckRedirect runs the redirect-URI healthcheck (spec §2.5) for the signed-in developer's
// application.
func (s *Service) CheckRedirect(ctx context.Context, appID, redirectURI string) (*oauth.HealthcheckResult, error) {
	app, err := s.OwnedApplication(ctx, appID)
	if err != nil {
		return nil, err
	}
	if s.Redirects == nil {
		return nil, apperr.New(apperr.Internal, "the redirect-URI check is not wired in")
	}
	r, err := s.Redirects.CheckRedirect(ctx, app.ID, redirectURI)
	if err != nil {
		return nil, err
	}
	return &r, nil
}
