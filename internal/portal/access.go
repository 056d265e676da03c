package portal

import (
	"context"

	"loginsign/ent"
	"loginsign/ent/appconnection"
	"loginsign/ent/application"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
)

// Visible decides whether the signed-in person may read node, fetched by id through GraphQL's
// node(id:). A person sees themself, their addresses and their own connections; a developer
// sees their applications and everything that belongs to them. Anything else answers NotFound,
// exactly like an id that does not exist.
func (s *Service) Visible(ctx context.Context, node ent.Noder) error {
	uid, err := auth.RequireUser(ctx)
	if err != nil {
		return err
	}
	owns := func(appID string) bool {
		ok, err := s.DB.Application.Query().Where(application.ID(appID), application.OwnerID(uid)).Exist(ctx)
		return err == nil && ok
	}
	ownsConnection := func(connID string) bool {
		ok, err := s.DB.AppConnection.Query().Where(appconnection.ID(connID),
			appconnection.Or(appconnection.UserID(uid), appconnection.HasApplicationWith(application.OwnerID(uid)))).Exist(ctx)
		return err == nil && ok
	}
	var ok bool
	switch n := node.(type) {
	case *ent.User:
		ok = n.ID == uid
	case *ent.UserEmail:
		ok = n.UserID == uid
	case *ent.Application:
		ok = n.OwnerID == uid
	case *ent.AppConnection:
		ok = n.UserID == uid || owns(n.ApplicationID)
	case *ent.Consent:
		ok = ownsConnection(n.ConnectionID)
	case *ent.LicenseVariant:
		ok = owns(n.ApplicationID)
	case *ent.LicenseCode:
		ok = owns(n.ApplicationID) || (n.LinkedConnectionID != nil && ownsConnection(*n.LinkedConnectionID))
	case *ent.ImportSource:
		ok = owns(n.ApplicationID)
	case *ent.ImportRow:
		src, err := s.DB.ImportSource.Get(ctx, n.SourceID)
		ok = err == nil && owns(src.ApplicationID)
	case *ent.WebhookEvent:
		ok = owns(n.ApplicationID)
	case *ent.WebhookAttempt:
		ev, err := s.DB.WebhookEvent.Get(ctx, n.EventID)
		ok = err == nil && owns(ev.ApplicationID)
	}
	if !ok {
		return apperr.New(apperr.NotFound, "node not found")
	}
	return nil
}
