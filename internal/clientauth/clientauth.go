// Package clientauth authenticates applications by client_id and client_secret: the one check
// behind the token, revocation and introspection endpoints (package oauth) and the app-backend
// REST API (HTTP Basic, package appapi), with its rate limits.
//
// Failed attempts are limited; successful ones only by the application's own quota
// (clientRequestsPerMinute, set in the portal). Three budgets count failures (Limits):
//
//   - per client_id at one address: the only budget that refuses before the secret is
//     looked at. Past it, that client_id is answered 429 from that address whatever the
//     secret, so one address can try at most N secrets of one client a window, and past the
//     budget the answer says nothing about the guess;
//   - per address, any client_id (unknown ones too), and per client_id, any address: past
//     them a wrong secret answers 429 instead of 401, but the secret is still checked and the
//     right one passes. The budgets of a client_id (at an address and in all) count only a
//     client_id that names an application: an unknown one would keep two counters per guess.
//
// So failures lock out only what they name, where they come from: a backend sharing its
// outgoing address (NAT, serverless, CI) with someone failing, for other client_ids or for
// unknown ones, keeps working, and so does the attacked client from its own addresses
// (issue 16). The price, chosen: the right secret sent from an address where the same
// client_id has just spent its budget is refused until the window ends, as the guesses are;
// a budget that let it through would answer 200 to a right guess and 429 to a wrong one at
// any rate, bounding nothing. The address and client_id budgets cannot refuse before the
// check for the same reason turned around: anyone failing under them would lock out every
// client at the address (this was the address's budget until the shared-address review) or
// the client everywhere (issue 16). Guessing is hopeless in any case: client secrets are 32
// random bytes (ids.Secret), so each guess is right with probability 2^-256, and the budgets
// are defence in depth that bound the work and the answers an address gets. An unknown
// client_id has no secret to guess; its failures meet the address's budget, and each is one
// read of the applications table by primary key, as a wrong secret is.
//
// The limits fail open: while the limit store (Redis) is down, clients are authenticated
// without them. Client secrets are 256 bits, so no rate of guessing finds one, and the
// app-backend API's work is SQL only, so it keeps serving through a Redis outage.
package clientauth

import (
	"cmp"
	"context"
	"fmt"
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
	// FailuresPerClientAddress bounds failed attempts naming one client_id from one address.
	// Once spent, that client_id is refused from that address before its secret is checked
	// (the right one too: see the package comment); other client_ids from the address, and
	// the client_id from other addresses, are not. Default 30 per minute.
	FailuresPerClientAddress ratelimit.Rule
	// FailuresPerAddress bounds failed attempts from one address (any client_id, unknown ones
	// included). Once spent, further wrong credentials from it answer 429 instead of 401; the
	// right secret of any client still passes. Default 30 per minute.
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
	l.FailuresPerClientAddress = l.FailuresPerClientAddress.Or(ratelimit.Rule{Name: "client-fail:id-ip", N: 30, Window: time.Minute})
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
	// CacheTTL bounds how long an application row read for a successful authentication (or
	// by Application) is reused (default DefaultCacheTTL; negative turns the cache off). The
	// cache is used only by a Service made with New, which sees every change to applications
	// made through its database client; CacheTTL bounds the staleness of changes made by
	// other processes.
	CacheTTL time.Duration

	cache *store.RowCache[*ent.Application]
}

// DefaultCacheTTL is the default of Service.CacheTTL.
const DefaultCacheTTL = 2 * time.Second

// New returns a Service whose application rows are cached in-process for CacheTTL after a
// successful authentication. Every change to an application made through db (secret
// rotation, quota, redirect URIs, deletion; in or out of a transaction) empties the cache
// when it is made and again when its transaction commits.
func New(db *store.DB, limiter *ratelimit.Limiter) *Service {
	c := store.NewRowCache[*ent.Application](maxCachedApps)
	store.InvalidateOnChange(db, func(context.Context, bool) { c.Invalidate() }, ent.TypeApplication)
	return &Service{DB: db, Limiter: limiter, cache: c}
}

// maxCachedApps bounds the cache.
const maxCachedApps = 10000

func (s *Service) cacheTTL() time.Duration {
	if s.cache == nil || s.CacheTTL < 0 {
		return 0
	}
	if s.CacheTTL == 0 {
		return DefaultCacheTTL
	}
	return s.CacheTTL
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
//   - apperr RateLimited (with RetryAfter) when clientID has spent its failure budget at the
//     address (Limits.FailuresPerClientAddress), whatever the secret;
//   - apperr Unauthorized, reason invalid_client, for an unknown application or a wrong or
//     empty secret — one answer for all, compared in constant time, so nobody can probe which
//     applications exist; the failure counts against clientID at the address, the address and
//     clientID, and once any of the three budgets is spent the answer is RateLimited instead;
//   - apperr RateLimited when the right secret is presented but the application has used up
//     its quota of successful requests in the current window;
//   - the application otherwise.
func (s *Service) Authenticate(ctx context.Context, clientID, secret string) (*ent.Application, error) {
	app, limits, err := s.AuthenticateLater(ctx, clientID, secret)
	if err != nil {
		return nil, err
	}
	if err := limits.Run(ctx); err != nil {
		return nil, err
	}
	return app, nil
}

// AuthenticateLater is Authenticate that, when the secret matches a cached row (the hot path
// of a backend that authenticates often), leaves the limits to a round trip the caller makes
// anyway: the application is returned with the limits pending, and the caller runs them
// (Pending.Cmds and Decide, or Run) before anything it does for the client is kept. Otherwise
// the limits are counted as Authenticate counts them, and Pending is nil.
func (s *Service) AuthenticateLater(ctx context.Context, clientID, secret string) (*ent.Application, *Pending, error) {
	lim := s.Limits.withDefaults()
	ip := auth.ClientIP(ctx)
	if app := s.cachedMatch(clientID, secret); app != nil {
		// Both limits in one round trip: the one budget that refuses the right secret (so
		// that past it the answer does not depend on the secret, cached row or not), and the
		// quota, which counts this request even when that budget refuses it (a request made
		// with the application's own secret).
		quota := ratelimit.Rule{Name: "client-quota", N: app.ClientRequestsPerMinute, Window: lim.QuotaWindow}
		p := &Pending{limiter: s.Limiter}
		p.cmds, p.result = ratelimit.CheckTakeLater(lim.FailuresPerClientAddress, pairSubject(clientID, ip), quota, app.ID)
		return app, p, nil
	}
	if validCredentials(clientID, secret) {
		// An invalid clientID names no application: there is no secret to guess, and its
		// failure meets the address's budget.
		if err := openOnOutage(s.Limiter.Check(ctx, lim.FailuresPerClientAddress, pairSubject(clientID, ip))); err != nil {
			return nil, nil, err
		}
	}
	app, known, err := s.verify(ctx, clientID, secret)
	if err != nil {
		return nil, nil, err
	}
	if app == nil {
		return nil, nil, s.failed(ctx, lim, clientID, known, ip)
	}
	if err := s.TakeQuota(ctx, app); err != nil {
		return nil, nil, err
	}
	return app, nil, nil
}

// TakeQuota counts one successful request of app against its quota of successful requests
// (clientRequestsPerMinute): apperr RateLimited past it. Authenticate counts it itself; a
// request the client authenticated otherwise (an app-API call with a client_credentials
// Bearer token) counts it here. While the limit store is down it lets the client pass.
func (s *Service) TakeQuota(ctx context.Context, app *ent.Application) error {
	lim := s.Limits.withDefaults()
	quota := ratelimit.Rule{Name: "client-quota", N: app.ClientRequestsPerMinute, Window: lim.QuotaWindow}
	return openOnOutage(s.Limiter.Take(ctx, quota, app.ID))
}

// Pending is the limits of an authentication that AuthenticateLater left pending: the
// client's failure budget at the address (Limits.FailuresPerClientAddress), checked, and the
// application's quota, counted. They are counted once: by Decide on the replies of the
// caller's own round trip, or by Run. A nil *Pending has nothing pending.
type Pending struct {
	limiter *ratelimit.Limiter
	cmds    [][]string
	result  func([]any) (errFailures, errQuota error)
	done    bool
}

// Cmds are the limits' commands, to go first in the caller's kv.Transact; nil once counted.
func (p *Pending) Cmds() [][]string {
	if p == nil || p.done {
		return nil
	}
	return p.cmds
}

// Decide reads the replies of Cmds (the first len(Cmds()) of the caller's Transact) and
// returns Authenticate's answer to a spent limit (apperr RateLimited), nil within them.
func (p *Pending) Decide(replies []any) error {
	if p == nil || p.done {
		return nil
	}
	p.done = true
	errFailures, errQuota := p.result(replies)
	return cmp.Or(errFailures, errQuota) // the failure budget's refusal first, as Authenticate answers
}

// Run counts the limits in a round trip of their own, unless they were counted. While the
// limit store is down they let the client pass (see the package comment).
func (p *Pending) Run(ctx context.Context) error {
	if p.Cmds() == nil {
		return nil
	}
	r, err := p.limiter.KV.Transact(ctx, p.cmds...)
	if err != nil {
		p.done = true
		return openOnOutage(fmt.Errorf("rate limit: %w", err))
	}
	return p.Decide(r)
}

// openOnOutage drops a limiter error that is an outage of the limit store.
func openOnOutage(err error) error {
	if apperr.DependencyDown(err) {
		return nil
	}
	return err
}

func (s *Service) equal(a, b string) bool {
	if s.Equal != nil {
		return s.Equal(a, b)
	}
	return ids.Equal(a, b)
}

// validCredentials reports whether clientID may name an application and secret may be its
// secret. An application's id is ids.New's: "app_" and lower-case base32 (a-z, 2-7). Only
// such an id is looked up or counted per client at an address: anything else names no
// application, and would otherwise reach SQL (PostgreSQL answers a NUL or invalid UTF-8 with
// an error, not a miss) or bring a ':' into pairSubject.
func validCredentials(clientID, secret string) bool {
	return len(clientID) <= MaxIDLength && ids.Valid(ids.Application, clientID) && len(secret) <= MaxSecretLength
}

// pairSubject is the subject of Limits.FailuresPerClientAddress: clientID (valid, so without
// a ':') at ip, which the limiter counts by its address key ("kind:address", an IPv6 address
// by its /64). A ':' in clientID could make it another client's subject at another address
// ("app_x:2001:db8:1:2:0:0" at 192.0.2.1 reads as app_x at 2001:db8:1:2::c000:201).
func pairSubject(clientID, ip string) string { return clientID + ":" + ip }

// Application returns the application clientID as it is now, nil when there is none or it is
// being deleted (portal.DeleteApplication): the row cached by a recent authentication or
// lookup (see New), else read from the database and cached for CacheTTL. It authenticates
// nothing. It serves the checks that need the application's current state on every request
// without a read of their own, such as whether a client_credentials access token was issued
// under the current secret (SecretStamp).
func (s *Service) Application(ctx context.Context, clientID string) (*ent.Application, error) {
	if !validCredentials(clientID, "") {
		return nil, nil
	}
	ttl := s.cacheTTL()
	now := time.Now()
	if ttl > 0 {
		if app, ok := s.cache.Get(clientID, "", now); ok {
			cp := *app
			return &cp, nil
		}
	}
	var gen uint64
	if ttl > 0 {
		gen = s.cache.Generation()
	}
	app, err := s.DB.Application.Get(ctx, clientID)
	if store.NotFound(err) || (err == nil && app.DeletingSince != nil) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if ttl > 0 {
		cp := *app
		s.cache.Put(cp.ID, &cp, gen, "", now.Add(ttl))
	}
	return app, nil
}

// SecretStamp names the client secret app has now without giving anything of it away: a
// short digest of the secret's hash. What is issued under a secret (client_credentials access
// tokens) keeps the stamp and is refused once it no longer matches, so a rotation of the
// secret (portal.RotateClientSecret: the old secret stops working at once) ends it at once
// too, for whoever held the old secret.
func SecretStamp(app *ent.Application) string {
	return ids.Hash("client-secret-stamp:" + app.SecretHash)[:16]
}

// cachedMatch returns a copy of the cached row of clientID (see New) when secret matches it
// (compared in constant time), nil otherwise.
func (s *Service) cachedMatch(clientID, secret string) *ent.Application {
	if secret == "" || s.cacheTTL() <= 0 || !validCredentials(clientID, secret) {
		return nil
	}
	app, ok := s.cache.Get(clientID, "", time.Now())
	if !ok || !s.equal(ids.Hash(secret), app.SecretHash) {
		return nil
	}
	cp := *app
	return &cp
}

// verify reads the application and returns it when the secret matches, nil when it does
// not; known reports whether clientID names an application (one being deleted included). A
// cached row (cachedMatch) answers only a match; anything else (no entry, a different secret,
// a secret rotated elsewhere) comes here and reads the row from the database.
func (s *Service) verify(ctx context.Context, clientID, secret string) (app *ent.Application, known bool, err error) {
	equal := s.equal
	valid := validCredentials(clientID, secret)
	hash := ids.Hash(secret)
	ttl := s.cacheTTL()
	now := time.Now()
	var gen uint64
	if valid {
		if ttl > 0 {
			gen = s.cache.Generation()
		}
		a, err := s.DB.Application.Get(ctx, clientID)
		if err != nil && !store.NotFound(err) {
			return nil, false, err
		}
		known = a != nil
		if a != nil && a.DeletingSince == nil {
			// One being deleted authenticates no more: its secret is compared with the
			// dummy's, as an unknown client's is.
			app = a
		}
	}
	want := dummySecretHash
	if app != nil {
		want = app.SecretHash
	}
	if !equal(hash, want) || app == nil || secret == "" {
		return nil, known, nil
	}
	if ttl > 0 {
		cp := *app
		s.cache.Put(cp.ID, &cp, gen, "", now.Add(ttl))
	}
	return app, true, nil
}

// failed counts a failed attempt against each budget it meets (its client_id at its address
// and its client_id, for a client_id that names an application (known); its address) and
// returns its answer: RateLimited past any of them (the first in that order), invalid_client
// within them. A client_id that names no application has no secret to guess: counted, every
// request with a fresh one kept two counters in the store (which the embedded store never
// evicts), even past its address's budget, so one address could fill the store.
func (s *Service) failed(ctx context.Context, lim Limits, clientID string, known bool, ip string) error {
	type budget struct {
		rule    ratelimit.Rule
		subject string
	}
	budgets := make([]budget, 0, 3)
	if known {
		budgets = append(budgets, budget{lim.FailuresPerClientAddress, pairSubject(clientID, ip)})
	}
	budgets = append(budgets, budget{lim.FailuresPerAddress, ip})
	if known {
		budgets = append(budgets, budget{lim.FailuresPerClient, clientID})
	}
	var spent error
	for _, b := range budgets {
		err := openOnOutage(s.Limiter.Take(ctx, b.rule, b.subject))
		if err != nil && !apperr.Is(err, apperr.RateLimited) {
			return err
		}
		spent = cmp.Or(spent, err)
	}
	if spent != nil {
		return spent
	}
	return ErrInvalidClient()
}

// ErrInvalidClient is the one answer to bad client credentials.
func ErrInvalidClient() *apperr.Error {
	return apperr.WithReason(apperr.Unauthorized, "invalid_client", "client authentication failed")
}
