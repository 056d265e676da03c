// Package graph is the GraphQL transport: gqlgen resolvers, each one call into a domain
// package. Authorization lives in the domain; this package only maps.
package graph

import (
	"context"
	"fmt"

	"loginsign/ent"
	"loginsign/ent/appconnection"
	"loginsign/ent/application"
	"loginsign/ent/auditevent"
	"loginsign/ent/consent"
	"loginsign/ent/importrow"
	"loginsign/ent/importsource"
	"loginsign/ent/licensecode"
	"loginsign/ent/licensevariant"
	"loginsign/ent/user"
	"loginsign/ent/useremail"
	"loginsign/ent/webhookattempt"
	"loginsign/ent/webhookevent"
	"loginsign/internal/account"
	"loginsign/internal/activity"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/identity"
	"loginsign/internal/ids"
	"loginsign/internal/licenses"
	"loginsign/internal/mfa"
	"loginsign/internal/oauth"
	"loginsign/internal/passkey"
	"loginsign/internal/portal"
	"loginsign/internal/profile"
	"loginsign/internal/store"
	"loginsign/internal/webhooks"
)

// Resolver holds the domain services the resolvers call.
type Resolver struct {
	Client   *ent.Client
	Identity *identity.Service
	Portal   *portal.Service
	Licenses *licenses.Service
	Webhooks *webhooks.Service
	Account  *account.Service
	MFA      *mfa.Service
	WebAuthn *passkey.Service
	Profiles *profile.Service
	// OAuth answers Application.quickstart (its provider metadata); nil in tests without it.
	OAuth    *oauth.Service
	Activity *activity.Service
}

// nodeTables maps an id prefix to its ent table, so node(id:) needs no lookup table.
var nodeTables = map[string]string{
	ids.User:           user.Table,
	ids.UserEmail:      useremail.Table,
	ids.Application:    application.Table,
	ids.Connection:     appconnection.Table,
	ids.Consent:        consent.Table,
	ids.LicenseVariant: licensevariant.Table,
	ids.LicenseCode:    licensecode.Table,
	ids.ImportSource:   importsource.Table,
	ids.ImportRow:      importrow.Table,
	ids.WebhookEvent:   webhookevent.Table,
	ids.WebhookAttempt: webhookattempt.Table,
	ids.AuditEvent:     auditevent.Table,
}

func nodeType(_ context.Context, id string) (string, error) {
	if t, ok := nodeTables[ids.Kind(id)]; ok {
		return t, nil
	}
	return "", apperr.New(apperr.NotFound, "node not found")
}

// node loads id and lets the domain decide whether the viewer may see it. A signed-out caller
// is refused before anything is loaded: refused after, an id that exists answered
// unauthorized and one that does not not_found.
func (r *Resolver) node(ctx context.Context, id string) (ent.Noder, error) {
	if _, err := auth.RequireUser(ctx); err != nil {
		return nil, err
	}
	n, err := r.Client.Noder(ctx, id, ent.WithNodeType(nodeType))
	if err != nil {
		if store.NotFound(err) || apperr.Is(err, apperr.NotFound) {
			return nil, apperr.New(apperr.NotFound, "node not found")
		}
		return nil, fmt.Errorf("loading node: %w", err)
	}
	if err := r.Portal.Visible(ctx, n); err != nil {
		return nil, err
	}
	return n, nil
}
