package oauth

import (
	"context"
	"net/url"
	"strings"

	"loginsign/ent/refreshtoken"
	"loginsign/internal/ids"
	"loginsign/internal/store"
)

// tokenParam reads the token and token_type_hint of a revocation or introspection form.
func tokenParam(form url.Values) (string, error) {
	for k, v := range form {
		if len(v) > 1 {
			return "", ErrInvalidRequest.WithDescription("%s must not be repeated", truncate(k, 40))
		}
	}
	tok := form.Get("token")
	if tok == "" {
		return "", ErrInvalidRequest.WithDescription("token is required")
	}
	return tok, nil
}

// Revoke is RFC 7009: an authenticated client revokes one of its own tokens. Revoking a
// refresh token revokes its whole family, access tokens included. Unknown tokens, and tokens
// of other clients, are answered the same way (success, nothing changes), so nothing leaks.
func (s *Service) Revoke(ctx context.Context, creds ClientCredentials, form url.Values) error {
	app, err := s.AuthenticateClient(ctx, creds)
	if err != nil {
		return err
	}
	tok, err := tokenParam(form)
	if err != nil {
		return err
	}
	switch {
	case strings.HasPrefix(tok, AccessTokenPrefix):
		g, err := s.accessGrant(ctx, tok)
		if err != nil || g == nil || g.ApplicationID != app.ID {
			return err
		}
		if err := s.KV.Del(ctx, accessKey(ids.Hash(tok))).Err(); err != nil {
			return serverError(err)
		}
	case strings.HasPrefix(tok, RefreshTokenPrefix):
		rt, err := s.DB.RefreshToken.Query().Where(refreshtoken.TokenHash(ids.Hash(tok))).Only(ctx)
		if store.NotFound(err) {
			return nil
		}
		if err != nil {
			return serverError(err)
		}
		if rt.ApplicationID == app.ID {
			return s.revokeFamily(ctx, rt.FamilyID)
		}
	}
	return nil
}

// Introspection is the answer of RFC 7662 §2.2.
type Introspection struct {
	Active    bool   `json:"active"`
	Scope     string `json:"scope,omitempty"`
	ClientID  string `json:"client_id,omitempty"`
	Subject   string `json:"sub,omitempty"`
	Audience  string `json:"aud,omitempty"`
	Issuer    string `json:"iss,omitempty"`
	TokenType string `json:"token_type,omitempty"`
	Expiry    int64  `json:"exp,omitempty"`
	IssuedAt  int64  `json:"iat,omitempty"`
}

// Introspect is RFC 7662 for the calling client's own tokens: a token of another client, or
// one that is unknown, expired, revoked or whose connection is gone, is {"active":false}.
func (s *Service) Introspect(ctx context.Context, creds ClientCredentials, form url.Values) (*Introspection, error) {
	app, err := s.AuthenticateClient(ctx, creds)
	if err != nil {
		return nil, err
	}
	tok, err := tokenParam(form)
	if err != nil {
		return nil, err
	}
	inactive := &Introspection{}
	switch {
	case strings.HasPrefix(tok, AccessTokenPrefix):
		g, stamp, err := s.accessGrantStamped(ctx, tok)
		if err != nil {
			return nil, err
		}
		if g == nil || g.ApplicationID != app.ID {
			return inactive, nil
		}
		if g.ConnectionID == "" { // client_credentials: the client is the subject
			return &Introspection{Active: true, Scope: strings.Join(g.Scopes, " "), ClientID: app.ID, Subject: app.ID,
				Audience: app.ID, Issuer: s.Config.Issuer, TokenType: "Bearer", Expiry: g.ExpiresAt, IssuedAt: g.IssuedAt}, nil
		}
		p, found, err := s.connProfile(ctx, g.ConnectionID, stamp)
		if err != nil {
			return nil, serverError(err) // not "inactive": the app would sign the person out
		}
		if !found || p.Blocked {
			return inactive, nil
		}
		return &Introspection{Active: true, Scope: strings.Join(g.Scopes, " "), ClientID: app.ID, Subject: g.ConnectionID,
			Audience: app.ID, Issuer: s.Config.Issuer, TokenType: "Bearer", Expiry: g.ExpiresAt, IssuedAt: g.IssuedAt}, nil
	case strings.HasPrefix(tok, RefreshTokenPrefix):
		rt, err := s.DB.RefreshToken.Query().Where(refreshtoken.TokenHash(ids.Hash(tok))).Only(ctx)
		if store.NotFound(err) {
			return inactive, nil
		}
		if err != nil {
			return nil, serverError(err)
		}
		if rt.ApplicationID != app.ID || rt.RevokedAt != nil || rt.RotatedAt != nil || !s.Now().Before(rt.ExpiresAt) {
			return inactive, nil
		}
		if _, err := s.liveConnection(ctx, rt.ConnectionID); err != nil {
			if AsError(err).Code == ServerError {
				return nil, err // not "inactive": the app would sign the person out
			}
			return inactive, nil // deleted or blocked
		}
		return &Introspection{Active: true, Scope: strings.Join(rt.Scopes, " "), ClientID: app.ID, Subject: rt.ConnectionID,
			Audience: app.ID, Issuer: s.Config.Issuer, TokenType: "refresh_token", Expiry: rt.ExpiresAt.Unix(), IssuedAt: rt.CreatedAt.Unix()}, nil
	}
	return inactive, nil
}
