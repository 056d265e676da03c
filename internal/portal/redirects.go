package portal

import (
	"context"
	"loginsign/internal/team"

	"loginsign/internal/apperr"
)

// RedirectCheck is the portal's redirect-URI healthcheck answer (spec §2.5).
type RedirectCheck struct {
	OK                    bool
	ClientID              string
	ClientFound           bool
	RedirectURI           string
	RedirectURIRegistered bool
	MatchedRedirectURI    string
	Normalized            bool
	HTTPS                 bool
	Problems              []string
}

// RedirectChecker runs the OAuth domain's redirect-URI check; the portal only adds the
// ownership check. The OAuth domain's (*oauth.Service).CheckRedirect is wired in server.go
// through a small adapter, so the matching rules live in one place.
type RedirectChecker interface {
	CheckRedirect(ctx context.Context, clientID, redirectURI string) (*RedirectCheck, error)
}

// CheckRedirect runs the redirect-URI healthcheck for the signed-in developer's application.
func (s *Service) CheckRedirect(ctx context.Context, appID, redirectURI string) (*RedirectCheck, error) {
	app, err := s.Authorize(ctx, appID, team.ReadApp)
	if err != nil {
		return nil, err
	}
	if s.Redirects == nil {
		return nil, apperr.New(apperr.Internal, "the redirect-URI check is not wired in")
	}
	return s.Redirects.CheckRedirect(ctx, app.ID, redirectURI)
}
