package oauth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"loginsign/ent"
	"loginsign/internal/apperr"
	"loginsign/internal/clientauth"
	"loginsign/internal/ids"
	"loginsign/internal/ratelimit"
)

// Scopes of the client_credentials grant (RFC 6749 §4.4): an application's backend acting for
// itself on its own part of LoginSign's app API (/api/applications/{appId}/…), never for a
// person. They are the only scopes that grant accepts.
const (
	// ScopeAppUsersRead reads the app's users: GET /api/applications/{appId}/users.
	ScopeAppUsersRead = "app:users:read"
	// ScopeAppUsersWrite changes a user's status: PATCH /api/applications/{appId}/users/{globalId}/status.
	ScopeAppUsersWrite = "app:users:write"
)

// AppScopes are the client_credentials scopes, granted all when a request names none.
var AppScopes = []string{ScopeAppUsersRead, ScopeAppUsersWrite}

// ParseAppScopes splits the scope of a client_credentials request; every value must be one of
// AppScopes (person scopes such as openid are invalid_scope: no person is signed in). Empty
// gives all of them.
func ParseAppScopes(scope string) ([]string, *Error) {
	fields := strings.Fields(scope)
	if len(fields) == 0 {
		return slices.Clone(AppScopes), nil
	}
	var out []string
	for _, s := range fields {
		if !slices.Contains(AppScopes, s) {
			return nil, ErrInvalidScope.WithDescription("scope %q is not available to client_credentials (%s)",
				truncate(s, 40), strings.Join(AppScopes, ", "))
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b string) int { return slices.Index(AppScopes, a) - slices.Index(AppScopes, b) })
	return out, nil
}

// clientCredentials is the client_credentials grant (RFC 6749 §4.4.2): an access token for the
// authenticated application's own API, with no refresh token (§4.4.3) and no id_token. The
// token is introspectable and revocable like any other access token of the client, and lives
// only as long as the client secret it was issued under (clientauth.SecretStamp): rotating
// the secret ends it, so whoever held the old secret keeps nothing. Past its owner's token
// budget (clientTokenBudget) the grant answers rate_limited and writes nothing.
func (s *Service) clientCredentials(ctx context.Context, app *ent.Application, req *TokenRequest) (*TokenResponse, error) {
	scopes, serr := ParseAppScopes(req.Scope)
	if serr != nil {
		return nil, serr
	}
	if err := s.clientTokenBudget(ctx, app); err != nil {
		return nil, err
	}
	now := s.Now()
	raw, err := s.storeAccessToken(ctx, accessGrant{ApplicationID: app.ID, Scopes: scopes, Family: ids.New(""),
		IssuedAt: now.Unix(), ExpiresAt: now.Add(s.Config.AccessTokenTTL).Unix(), SecretStamp: clientauth.SecretStamp(app)})
	if err != nil {
		return nil, err
	}
	return &TokenResponse{AccessToken: raw, TokenType: "Bearer", ExpiresIn: int(s.Config.AccessTokenTTL / time.Second),
		Scope: strings.Join(scopes, " ")}, nil
}

// clientTokenBudget counts one client_credentials token against the budget of the developer
// who owns app (Limits.ClientCredentialsPerOwner), before the token is written: past it,
// rate_limited (429) with RetryAfter, the time left in the window, and the caller writes
// nothing. The budget is the owner's, not each application's: what it bounds is the store
// memory one account can hold with live tokens, and an account makes up to a hundred
// applications, so a per-application budget would have to be a hundred times smaller for
// the same bound, small enough for one legitimate, busy backend to meet. One budget lets
// any one of the owner's applications use all of it; a runaway backend of one of them then
// holds up the client_credentials grants of the owner's other applications for the rest of
// the window (and nothing else: the other grants and the app API are not counted here).
func (s *Service) clientTokenBudget(ctx context.Context, app *ent.Application) error {
	// Or: a test or benchmark may replace Config.Limits whole after New, and a zero N
	// would refuse every grant.
	l := s.Config.Limits.ClientCredentialsPerOwner.Or(Limit{N: DefaultClientTokensPerOwner, Window: s.Config.AccessTokenTTL})
	l.Name = "cc-tokens:owner"
	l.Message = "the applications of this developer account have used up their client_credentials tokens (" +
		strconv.Itoa(l.N) + " in " + strconv.Itoa(int(l.Window.Minutes())) + " minutes): keep each token until " +
		"it expires (expires_in) instead of asking for one per request; retry in %d seconds"
	return s.ownerBudget(ctx, l, app, 1, "the client_credentials tokens")
}

// ownerBudget counts n uses of l for the developer who owns app: past it rate_limited (429)
// with RetryAfter, the time left in the window; what names what is counted, in a failure.
func (s *Service) ownerBudget(ctx context.Context, l Limit, app *ent.Application, n int, what string) error {
	err := ratelimit.New(s.KV).TakeN(ctx, l, app.OwnerID, n)
	var e *apperr.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &e) && e.Code == apperr.RateLimited:
		r := ErrRateLimited.WithDescription("%s", e.Message)
		r.RetryAfter = e.RetryAfter
		return r
	default:
		return serverError(fmt.Errorf("counting %s: %w", what, err))
	}
}

// AppAccessToken validates a client_credentials access token (RFC 6750) presented to the app
// API of appID for an operation needing scope. A missing, unknown, expired or revoked token,
// one issued for a person, or one issued under a client secret the application no longer has
// (rotated since, or an application deleted) answers ErrInvalidToken (401); a token of
// another application or without scope answers insufficient_scope (403, RFC 6750 §3.1).
// The application's row comes from the client cache (clientauth.Service.Application), so a
// backend calling often costs no read of it per call. A valid call counts against the
// application's quota (clientauth.Service.TakeQuota), as one with its client credentials
// does: apperr RateLimited past it.
func (s *Service) AppAccessToken(ctx context.Context, raw, appID, scope string) error {
	g, err := s.accessGrant(ctx, raw)
	if err != nil {
		return err
	}
	if g == nil || g.ConnectionID != "" {
		return ErrInvalidToken
	}
	app, err := s.Clients.Application(ctx, g.ApplicationID)
	if err != nil {
		return serverError(err)
	}
	if app == nil || !issuedUnderSecret(g, app) {
		return ErrInvalidToken
	}
	if g.ApplicationID != appID {
		return ErrInsufficientScope.WithDescription("the token was issued to another application")
	}
	if !slices.Contains(g.Scopes, scope) {
		return ErrInsufficientScope.WithDescription("the token lacks scope %s", scope)
	}
	// A call with the token counts against the application's quota like one with its
	// credentials (clientauth.Service.Authenticate): apperr RateLimited past it.
	return s.Clients.TakeQuota(ctx, app)
}

// issuedUnderSecret reports whether the client_credentials grant g was issued under app's
// current client secret. A grant without a stamp (issued before tokens kept one) never was.
func issuedUnderSecret(g *accessGrant, app *ent.Application) bool {
	return g.SecretStamp != "" && g.SecretStamp == clientauth.SecretStamp(app)
}
