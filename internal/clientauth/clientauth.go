// Package clientauth authenticates applications by client_id and client_secret: the one check
// behind the token, revocation and introspection endpoints (package oauth) and the app-backend
// REST API (HTTP Basic, package appapi), with its rate limits.
//
// Failed attempts are limited per client_id and per address; successful ones only by the
// application's own quota (clientRequestsPerMinute, set in the portal). So an attacker who
// sends wrong secrets for a public client_id locks out their own addresses, and the backend
// holding the right secret keeps working.
package clientauth

import (
	"context"
	"time"

	"loginsign/ent"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/ids"
	"loginsign/internal/ratelimit"
	"loginsign/internal/store"
)

// Limits of client authentication. Zero fields take the defaults written next to them.
type Limits struct {
	// FailuresPerAddress bounds failed attempts from one address (any client_id). Once spent,
	// that address is refused before its credentials are checked. Default 30 per minute.
	FailuresPerAddress ratelimit.Rule
	// FailuresPerClient bounds failed attempts naming one client_id (from any address). Once
	// spent, further wrong secrets answer 429 instead of 401; the right secret still passes.
	// Default 60 per minute.
	FailuresPerClient ratelimit.Rule
	// QuotaWindow is the window of an application's quota (clientRequestsPerMinute).
	// Default one minute.
	QuotaWindow time.Duration
}

func (l Limits) withDefaults() Limits {
	l.FailuresPerAddress = l.FailuresPerAddress.Or(ratelimit.Rule{Name: "client-fail:ip", N: 30, Window: time.Minute})
	l.FailuresPerClient = l.FailuresPerClient.Or(ratelimit.Rule{Name: "client-fail:id", N: 60, Window: time.Minute})
	if l.QuotaWindow <= 0 {
		l.QuotaWindow = time.Minute
	}
	return l
}

// Service authenticates clients.
type Service struct {
	DB      *store.DB
	Limiter *ratelimit.Limiter
	Limits  Limits
	// Equal compares secret hashes in constant time (ids.Equal when nil). Tests may wrap it.
	Equal func(a, b string) bool
}

// MaxIDLength and MaxSecretLength bound what is looked up or hashed.
const (
	MaxIDLength     = 64
	MaxSecretLength = 256
)

// dummySecretHash is compared against when the client is unknown, so that an unknown client
// and a wrong secret take the same time.
var dummySecretHash = ids.Hash("lss_unknown-client")

// Authenticate returns the application clientID whose secret is secret. The address of the
// attempt is auth.ClientIP(ctx). It returns:
//   - apperr RateLimited (with RetryAfter) when the address has spent its failure budget,
//     before anything is checked;
//   - apperr Unauthorized, reason invalid_client, for an unknown application or a wrong or
//     empty secret — one answer for all, compared in constant time, so nobody can probe which
//     applications exist; the failure counts against the address and the client_id, and once
//     either budget is spent the answer is RateLimited instead;
//   - apperr RateLimited when the right secret is presented but the application has used up
//     its quota of successful requests in the current window;
//   - the application otherwise.
func (s *Service) Authenticate(ctx context.Context, clientID, secret string) (*ent.Application, error) {
	lim := s.Limits.withDefaults()
	ip := auth.ClientIP(ctx)
	if err := s.Limiter.Check(ctx, lim.FailuresPerAddress, ip); err != nil {
		return nil, err
	}
	app, err := s.verify(ctx, clientID, secret)
	if err != nil {
		return nil, err
	}
	if app == nil {
		return nil, s.failed(ctx, lim, clientID, ip)
	}
	quota := ratelimit.Rule{Name: "client-quota", N: app.ClientRequestsPerMinute, Window: lim.QuotaWindow}
	if err := s.Limiter.Take(ctx, quota, app.ID); err != nil {
		return nil, err
	}
	return app, nil
}

// verify returns the application when the secret matches, nil when it does not.
func (s *Service) verify(ctx context.Context, clientID, secret string) (*ent.Application, error) {
	equal := s.Equal
	if equal == nil {
		equal = ids.Equal
	}
	var app *ent.Application
	if clientID != "" && len(clientID) <= MaxIDLength && ids.Kind(clientID) == ids.Application && len(secret) <= MaxSecretLength {
		a, err := s.DB.Application.Get(ctx, clientID)
		if err != nil && !ent.IsNotFound(err) {
			return nil, err
		}
		app = a
	}
	want := dummySecretHash
	if app != nil {
		want = app.SecretHash
	}
	if !equal(ids.Hash(secret), want) || app == nil || secret == "" {
		return nil, nil
	}
	return app, nil
}

// failed counts a failed attempt and returns its answer.
func (s *Service) failed(ctx context.Context, lim Limits, clientID, ip string) error {
	errIP := s.Limiter.Take(ctx, lim.FailuresPerAddress, ip)
	if errIP != nil && !apperr.Is(errIP, apperr.RateLimited) {
		return errIP
	}
	var errID error
	if clientID != "" && len(clientID) <= MaxIDLength {
		errID = s.Limiter.Take(ctx, lim.FailuresPerClient, clientID)
		if errID != nil && !apperr.Is(errID, apperr.RateLimited) {
			return errID
		}
	}
	switch {
	case errIP != nil:
		return errIP
	case errID != nil:
		return errID
	}
	return ErrInvalidClient()
}

// ErrInvalidClient is the one answer to bad client credentials.
func ErrInvalidClient() *apperr.Error {
	return apperr.WithReason(apperr.Unauthorized, "invalid_client", "client authentication failed")
}
