package portal

import (
	"context"

	"loginsign/ent"
	"loginsign/ent/appconnection"
	"loginsign/ent/application"
	"loginsign/ent/consent"
	"loginsign/ent/importrow"
	"loginsign/ent/importsource"
	"loginsign/ent/licensecode"
	"loginsign/ent/licensevariant"
	"loginsign/ent/predicate"
	"loginsign/ent/useremail"
	"loginsign/ent/webhookattempt"
	"loginsign/ent/webhookevent"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/team"
)

// Visible decides whether the signed-in person may read node, fetched by id through GraphQL's
// node(id:). A person sees themself, their addresses and their own connections; a developer
// sees the applications whose team they are on and what their role may read there. Anything else answers NotFound,
// exactly like an id that does not exist.
func (s *Service) Visible(ctx context.Context, node ent.Noder) error {
	uid, err := auth.RequireUser(ctx)
	if err != nil {
		return err
	}
	// Decide from the database, not from the loaded node: GraphQL field collection loads only
	// the selected columns, so owner fields may be empty.
	// An application's nodes are visible to the members whose role may read them (team.Can).
	can := func(a team.Action) predicate.Application { return team.Can(uid, a) }
	owns := func(appID string) bool {
		ok, err := s.DB.Application.Query().Where(application.ID(appID), can(team.ReadApp)).Exist(ctx)
		return err == nil && ok
	}
	mine := func(connID string) bool {
		ok, err := s.DB.AppConnection.Query().Where(appconnection.ID(connID),
			appconnection.Or(appconnection.UserID(uid), appconnection.HasApplicationWith(can(team.ReadUsers)))).Exist(ctx)
		return err == nil && ok
	}
	exists := func(q interface {
		Exist(context.Context) (bool, error)
	}) bool {
		ok, err := q.Exist(ctx)
		return err == nil && ok
	}
	var ok bool
	switch n := node.(type) {
	case *ent.User:
		ok = n.ID == uid
	case *ent.UserEmail:
		ok = exists(s.DB.UserEmail.Query().Where(useremail.ID(n.ID), useremail.UserID(uid)))
	case *ent.Application:
		ok = owns(n.ID)
	case *ent.AppConnection:
		ok = mine(n.ID)
	case *ent.Consent:
		ok = exists(s.DB.Consent.Query().Where(consent.ID(n.ID), consent.HasConnectionWith(appconnection.UserID(uid))))
	case *ent.LicenseVariant:
		ok = exists(s.DB.LicenseVariant.Query().Where(licensevariant.ID(n.ID), licensevariant.HasApplicationWith(can(team.ReadLicenses))))
	case *ent.LicenseCode:
		ok = exists(s.DB.LicenseCode.Query().Where(licensecode.ID(n.ID), licensecode.Or(
			licensecode.HasApplicationWith(can(team.ReadLicenses)),
			licensecode.HasLinkedConnectionWith(appconnection.UserID(uid)))))
		// An unused code (it has no person) is read only through its application, and its
		// text is what a person redeems: it needs a recent sign-in, as listing unused codes
		// does (licenses.Service.ListCodes). Otherwise a stale session cookie read, by id, each
		// code the list refuses it.
		if ok && exists(s.DB.LicenseCode.Query().Where(licensecode.ID(n.ID), licensecode.StateEQ(licensecode.StateUNUSED))) {
			if _, err := auth.RequireRecentSignIn(ctx, s.now()); err != nil {
				return err
			}
		}
	case *ent.ImportSource:
		ok = exists(s.DB.ImportSource.Query().Where(importsource.ID(n.ID), importsource.HasApplicationWith(can(team.ReadImports))))
	case *ent.ImportRow:
		ok = exists(s.DB.ImportRow.Query().Where(importrow.ID(n.ID), importrow.HasSourceWith(importsource.HasApplicationWith(can(team.ReadImports)))))
	case *ent.WebhookEvent:
		ok = exists(s.DB.WebhookEvent.Query().Where(webhookevent.ID(n.ID), webhookevent.HasApplicationWith(can(team.ReadWebhooks))))
	case *ent.WebhookAttempt:
		ok = exists(s.DB.WebhookAttempt.Query().Where(webhookattempt.ID(n.ID), webhookattempt.HasEventWith(webhookevent.HasApplicationWith(can(team.ReadWebhooks)))))
	}
	if !ok {
		return apperr.New(apperr.NotFound, "node not found")
	}
	return nil
}
