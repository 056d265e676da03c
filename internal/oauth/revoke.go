package oauth

import (
	"context"
	"net/url"
	"strings"
	"time"

	"loginsign/ent"
	"loginsign/internal/ids"
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
// refresh token revokes its whole family, access tokens included; revoking an access token
// ends that token alone, for good (a retry of the rotation that answered it does not restore
// it). Unknown tokens, and tokens of other clients, are answered the same way (success,
// nothing changes), so nothing leaks.
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
		// A tombstone for the token's remaining life, not a delete: a retry of the rotation
		// that answered it restores its token only where nothing is (retryOrReuse).
		left := max(time.Unix(g.ExpiresAt, 0).Sub(s.Now()), time.Second)
		if err := s.KV.Set(ctx, accessKey(ids.Hash(tok)), revokedAccessToken, left).Err(); err != nil {
			return serverError(err)
		}
	case strings.HasPrefix(tok, RefreshTokenPrefix):
		rt, _, _, err := s.presentedRefresh(ctx, app, tok)
		if err != nil {
			return err
		}
		if rt != nil {
			return s.revokeFamily(ctx, rt.FamilyID) // a spent token of the family too: RFC 7009 §2.1
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
			if !issuedUnderSecret(g, app) {
				return inactive, nil // issued under a secret the client no longer has
			}
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
		rt, conn, st, err := s.presentedRefresh(ctx, app, tok)
		if err != nil {
			return nil, err // not "inactive": the app would sign the person out
		}
		if rt == nil || rt.RevokedAt != nil || st != tokenLive ||
			!s.Now().Before(rt.ExpiresAt) || conn == nil || conn.Blocked {
			return inactive, nil
		}
		issued := rt.CreatedAt
		if rt.Generation > 0 && rt.RotatedAt != nil { // the live token came from the last rotation
			issued = *rt.RotatedAt
		}
		return &Introspection{Active: true, Scope: strings.Join(rt.Scopes, " "), ClientID: app.ID, Subject: rt.ConnectionID,
			Audience: app.ID, Issuer: s.Config.Issuer, TokenType: "refresh_token", Expiry: rt.ExpiresAt.Unix(), IssuedAt: issued.Unix()}, nil
	}
	return inactive, nil
}

// presentedRefresh is the family's row of the refresh token tok, when tok is one of its
// tokens, live or spent, and the family is app's, with what tok is to it and the row's
// connection (nil when gone).
func (s *Service) presentedRefresh(ctx context.Context, app *ent.Application, tok string) (*ent.RefreshToken, *ent.AppConnection, tokenState, error) {
	ref, ok := parseRefreshToken(tok)
	if !ok {
		return nil, nil, tokenUnknown, nil
	}
	rt, conn, _, err := s.refreshSource(ctx, ref)
	if err != nil {
		return nil, nil, tokenUnknown, serverError(err)
	}
	if rt == nil || rt.ApplicationID != app.ID {
		return nil, nil, tokenUnknown, nil
	}
	st := s.tokenState(rt, ref)
	if st == tokenUnknown {
		return nil, nil, st, nil
	}
	return rt, conn, st, nil
}
