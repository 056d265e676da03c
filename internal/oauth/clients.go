package oauth

import (
	"context"
	"encoding/base64"
	"errors"
	"net/url"
	"strings"

	"loginsign/ent"
	"loginsign/internal/apperr"
	"loginsign/internal/clientauth"
	"loginsign/internal/httpx"
)

// ClientCredentials are the credentials a client presented: from an HTTP Basic header
// (client_secret_basic) or from form fields (client_secret_post), never both.
type ClientCredentials struct {
	ID, Secret string
	// Basic is true when they came from the Authorization header; a failure then answers
	// WWW-Authenticate: Basic (RFC 6749 §5.2).
	Basic bool
}

// ParseBasic parses an Authorization header value of the Basic scheme (RFC 7617) carrying
// client credentials, whose two parts are form-urlencoded (RFC 6749 §2.3.1). ok is false when
// the header is not Basic at all; err is set when it is Basic but malformed, including
// decoded parts that are not text (invalid UTF-8 or a NUL, which the form fields refuse too).
// Every err is invalid_client: the client tried to authenticate through the header, so the
// answer is 401 with WWW-Authenticate (RFC 6749 §5.2).
func ParseBasic(header string) (c ClientCredentials, ok bool, err error) {
	scheme, rest, found := strings.Cut(header, " ")
	if !found || !strings.EqualFold(scheme, "Basic") {
		return c, false, nil
	}
	rest = strings.TrimSpace(rest)
	if len(rest) > 1024 {
		return c, true, ErrInvalidClient.WithDescription("the Basic credentials are too long")
	}
	raw, derr := base64.StdEncoding.DecodeString(rest)
	if derr != nil {
		return c, true, ErrInvalidClient.WithDescription("the Basic credentials are not base64")
	}
	id, secret, found := strings.Cut(string(raw), ":")
	if !found {
		return c, true, ErrInvalidClient.WithDescription("the Basic credentials need client_id:client_secret")
	}
	if c.ID, err = url.QueryUnescape(id); err != nil {
		return c, true, ErrInvalidClient.WithDescription("the Basic client_id is not form-encoded")
	}
	if c.Secret, err = url.QueryUnescape(secret); err != nil {
		return c, true, ErrInvalidClient.WithDescription("the Basic client_secret is not form-encoded")
	}
	c.Basic = true
	if c.ID == "" {
		return c, true, ErrInvalidClient.WithDescription("the Basic client_id is empty")
	}
	if e := httpx.CheckText("the Basic client_id", c.ID); e != nil {
		return c, true, ErrInvalidClient.WithDescription("%s", e.Message)
	}
	if e := httpx.CheckText("the Basic client_secret", c.Secret); e != nil {
		return c, true, ErrInvalidClient.WithDescription("%s", e.Message)
	}
	return c, true, nil
}

// ClientFromRequest picks the client credentials of a token-style request from its
// Authorization header values (authorization, every one the request carries) and its form:
// the Basic header when present, else client_id and client_secret form fields. Both at once
// is an invalid_request (RFC 6749 §2.3.1: one method per request); a client_secret sent
// empty is no secret (RFC 6749 §3.2: a parameter without a value is as if omitted). More than
// one Authorization header is invalid_client (401, WWW-Authenticate: Basic): which one
// authenticates would depend on who reads the request (a proxy may take the last), so none
// does.
func ClientFromRequest(authorization []string, form url.Values) (ClientCredentials, error) {
	header, one := OneAuthorization(authorization)
	if !one {
		return ClientCredentials{}, ErrInvalidClient.WithDescription("send one Authorization header")
	}
	c, basic, err := ParseBasic(header)
	if err != nil {
		return c, err
	}
	if basic {
		if vs := form["client_secret"]; len(vs) > 1 || len(vs) == 1 && vs[0] != "" {
			return c, ErrInvalidRequest.WithDescription("send client credentials in the Authorization header or the form, not both")
		}
		if id := form.Get("client_id"); id != "" && id != c.ID {
			return c, ErrInvalidRequest.WithDescription("client_id in the form differs from the Authorization header")
		}
		return c, nil
	}
	if header != "" {
		return c, ErrInvalidClient.WithDescription("the Authorization header must use the Basic scheme")
	}
	c = ClientCredentials{ID: form.Get("client_id"), Secret: form.Get("client_secret")}
	if c.ID == "" {
		return c, ErrInvalidClient.WithDescription("client authentication is required (HTTP Basic or client_id and client_secret)")
	}
	return c, nil
}

// AuthenticateClient checks a client's id and secret through the one client check
// (clientauth.Service.Authenticate, with its failure limits and the application's quota).
// Bad credentials answer invalid_client (401); a spent limit rate_limited (429, Retry-After).
func (s *Service) AuthenticateClient(ctx context.Context, c ClientCredentials) (*ent.Application, error) {
	app, err := s.Clients.Authenticate(ctx, c.ID, c.Secret)
	if err != nil {
		return nil, clientError(err)
	}
	return app, nil
}

// authenticateClientLater is AuthenticateClient that may leave the client's limits pending
// (clientauth.Service.AuthenticateLater), for the token endpoint to count them in the round
// trip of a refresh's own write. Their answers go through clientError.
func (s *Service) authenticateClientLater(ctx context.Context, c ClientCredentials) (*ent.Application, *clientauth.Pending, error) {
	app, limits, err := s.Clients.AuthenticateLater(ctx, c.ID, c.Secret)
	if err != nil {
		return nil, nil, clientError(err)
	}
	return app, limits, nil
}

// clientError is the OAuth answer to a client check's error (nil for nil).
func clientError(err error) error {
	var e *apperr.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &e) && e.Code == apperr.Unauthorized:
		return ErrInvalidClient.WithDescription("unknown client or wrong client secret")
	case errors.As(err, &e) && e.Code == apperr.RateLimited:
		r := *ErrRateLimited
		r.RetryAfter = e.RetryAfter
		return &r
	default:
		return serverError(err)
	}
}
