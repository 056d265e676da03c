package oauth

import (
	"context"
	"crypto/rand"
	"strings"
	"time"

	"loginsign/ent"
	"loginsign/internal/clientauth"
	"loginsign/internal/identity"
	"loginsign/internal/ids"
	"loginsign/internal/kv"
	"loginsign/internal/mail"
	"loginsign/internal/mfa"
	"loginsign/internal/passkey"
	"loginsign/internal/ratelimit"
	"loginsign/internal/seal"
	"loginsign/internal/store"
)

// Config holds the lifetimes and limits of the authorization server. Zero fields take the
// defaults written next to them.
type Config struct {
	// Issuer is the public origin, LOGINSIGN_BASE_URL: the iss of id_tokens and the
	// discovery document, and the origin of magic links. Required.
	Issuer string
	// RelayDomain is the domain of masked addresses. Required.
	RelayDomain string
	// CodeTTL bounds an authorization code's life. Default 5 minutes; at most 10.
	CodeTTL time.Duration
	// AccessTokenTTL is expires_in. Default 1 hour.
	AccessTokenTTL time.Duration
	// RefreshTokenTTL is the absolute life of a refresh-token family from the sign-in that
	// started it; rotation does not extend it. Default 30 days.
	RefreshTokenTTL time.Duration
	// IDTokenTTL is the life of an id_token. Default 1 hour.
	IDTokenTTL time.Duration
	// MagicLinkTTL bounds a magic link's life. Default 15 minutes.
	MagicLinkTTL time.Duration
	// ResendAfter is how long the "check your email" page waits before it may send a new
	// link (within the login limits). Default 30 seconds.
	ResendAfter time.Duration
	// FlowTTL bounds an authorization in progress (sign-in included). Default 30 minutes.
	FlowTTL time.Duration
	// KeyPublishLead is how long a new signing key is published before it signs (so that
	// cached JWKS documents know it). Default 1 hour.
	KeyPublishLead time.Duration
	// RefreshGrace is how long after a rotation the spent refresh token may be presented again
	// by the same client and answer the same new token pair (a retry whose answer was lost)
	// rather than revoke its family as reuse. Default 5 seconds; negative turns it off.
	RefreshGrace time.Duration
	// SyncRotations makes the refresh rotations commit synchronously on PostgreSQL; by
	// default they commit asynchronously (asyncCommit, in tokens_store.go).
	SyncRotations bool
	// RotationKey derives the tokens a refresh rotation issues from the refresh token it
	// spends (so a retry gets the same pair). Instances sharing a database must share it.
	// Default: 32 random bytes per process (a retry across a restart then counts as reuse).
	RotationKey []byte
	// NetworkKey keys the digest of the asking browser's network a waiting sign-in keeps
	// (networkOf): an IPv4 network is one of 2^32, so a plain hash would give it back to
	// whoever reads the store. Instances sharing a store must share it. Default: 32 random
	// bytes per process.
	NetworkKey []byte
	// Limits are the rate limits.
	Limits Limits
	// ActivityOff stops sign-ins writing their activity event. Only the benchmark that
	// measures the event's cost sets it.
	ActivityOff bool
}

// Limit is n hits per window: a ratelimit.Rule whose name is given where it is counted.
type Limit = ratelimit.Rule

// Limits are the rate limits, counted in Redis so every instance shares them. Client
// authentication (token, revocation, introspection) is limited by Clients: failed attempts
// per client and per address, successful ones by the application's quota.
type Limits struct {
	HealthcheckPerIP Limit // default 30 per minute
	LoginPerAddress  Limit // default 5 per 15 minutes
	// LoginPerAddressDay caps the sign-in mails one address receives in a day (first links
	// and resends alike): LoginPerAddress alone lets anyone, from many IPs, mail a victim 480
	// links a day.
	LoginPerAddressDay Limit // default 20 per 24 hours
	LoginPerIP         Limit // default 30 per 15 minutes
	// LoginPerNetwork caps the sign-in mails asked for from one IPv6 /48
	// (ratelimit.NetworkKey), all its /64s together: LoginPerIP counts a /64, and a /48 (one
	// site's, or a tunnel broker's free one) holds 65,536 of them. Each mail leaves records
	// that outlive every session in the store (the used link's page, the address's day
	// budget), so two million from one /48 in a quarter of an hour would push every session
	// out of the embedded store, and send as many mails.
	LoginPerNetwork Limit // default 120 per 15 minutes
	// LoginPerSourceDay caps the sign-in mails one source (ratelimit.SourceKey: an IPv4
	// address, an IPv6 /48) asks for in a day from browsers that never signed in to the
	// account asked for (resends of a waiting sign-in not counted). Each such mail may be to a
	// new address, and leaves a counter of that address that lives a day (its day budgets of
	// mails, LoginPerAddressDay, and of codes, CodePerAddress, which share it: mailboxDay),
	// which the embedded store never evicts and keeps to half of its keys: with LoginPerIP and
	// LoginPerNetwork alone (and two counters an address, as there were), one IPv4 address
	// could keep some 5,800 such counters live and one /48 some 23,000, so some 175 addresses
	// or 45 /48s filled the half, and from then on every new counter, so every sign-in,
	// answered 503. Browsers that signed in to the account before are not counted, so people
	// behind a shared address (carrier-grade NAT) who have signed in there before keep signing
	// in when strangers spent it.
	LoginPerSourceDay Limit // default DefaultLoginPerSourceDay per 24 hours
	MagicConfirmPerIP Limit // default 60 per 15 minutes
	// CodePerAddress caps the 6-digit codes tried for one address across all its links:
	// each link allows CodeAttempts, but links can be asked for again and again, so without
	// this cap a patient guesser would reach a million codes within months. A browser that
	// signed in to the account before has a cap of its own (mailboxBudget), so a stranger's
	// guesses never lock the person out of the code there.
	CodePerAddress Limit // default 20 per 24 hours
	// FlowsPerAddress caps the authorization requests one client address may start: each
	// valid one is kept FlowTTL in Redis before anyone signs in, so without it anonymous
	// requests could fill the store.
	FlowsPerAddress Limit // default 600 per 15 minutes
	// FlowsPerNetwork caps the authorization requests (and the passkey challenges of the
	// login page, counted apart) started from one IPv6 /48 (ratelimit.NetworkKey), all its
	// /64s together: FlowsPerAddress counts a /64, of which a /48 holds 65,536, enough to
	// fill the store with flows (up to some kilobytes each) in seconds, which then pushes
	// out everyone's sign-ins in progress.
	FlowsPerNetwork Limit // default 6000 per 15 minutes
	// ClientCredentialsPerOwner caps the client_credentials tokens issued to the applications
	// of one developer (their OwnerID), all of them together: each token is kept in the store
	// for AccessTokenTTL, so the applications' request quotas alone (up to a million a minute
	// each, a hundred applications an account) would let one free account fill the store
	// with live tokens, and then every other write (sessions, magic links, codes) fails or,
	// on the embedded store, evicts other people's. Counted in a window as long as a token
	// lives, it bounds the tokens one account keeps live to 2 N: the tokens issued in the last
	// AccessTokenTTL span at most two windows. A backend that keeps its token until expires_in
	// needs one grant per worker per hour, one more per restart.
	ClientCredentialsPerOwner Limit // default 10,000 per AccessTokenTTL (1 hour)
	// PushedBytesPerOwner caps the bytes of the authorization requests the applications of
	// one developer push (RFC 9126), all of them together, for the same reason: each is kept
	// in the store for PushedRequestTTL. It bounds what one account keeps stored to 2 N.
	PushedBytesPerOwner Limit // default 6 MiB per PushedRequestTTL (1 minute)
}

// DefaultClientTokensPerOwner is Limits.ClientCredentialsPerOwner's default N
// (LOGINSIGN_MAX_CLIENT_TOKENS_PER_DEVELOPER). Measured, a
// client_credentials token holds two keys (at:, fat:) and about 600 bytes: 0.58 KB of the
// embedded store's accounting (0.95 KB of its heap), 0.6 to 0.74 KB of Redis's used_memory.
// So one account keeps at most 20,000 live tokens: 40,000 keys and 12 to 19 MB, however
// many applications it has, where without it one application could fill the embedded
// store's 2,000,000 keys (or its 512 MiB) in about a quarter of an hour at its default
// request quota. A backend that keeps its token for its life asks for 10,000 an hour only
// with, say, 1,000 workers each started ten times an hour.
const DefaultClientTokensPerOwner = 10_000

// DefaultLoginPerSourceDay is Limits.LoginPerSourceDay's default N
// (LOGINSIGN_MAX_NEW_SIGNIN_MAILS_PER_SOURCE): 100 sign-in mails a day from one IPv4 address or
// IPv6 /48 to browsers that never signed in to the account asked for. An operator whose people
// share few addresses (a company's or a campus's NAT rolling LoginSign out to thousands at once)
// raises it; each unit lets one source keep about one more day-long counter in the store.
const DefaultLoginPerSourceDay = 100

func (c *Config) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.CodeTTL, 5*time.Minute)
	if c.CodeTTL > 10*time.Minute {
		c.CodeTTL = 10 * time.Minute
	}
	def(&c.AccessTokenTTL, time.Hour)
	def(&c.RefreshTokenTTL, 30*24*time.Hour)
	def(&c.IDTokenTTL, time.Hour)
	def(&c.MagicLinkTTL, 15*time.Minute)
	if c.MagicLinkTTL > 15*time.Minute {
		c.MagicLinkTTL = 15 * time.Minute
	}
	def(&c.ResendAfter, 30*time.Second)
	def(&c.FlowTTL, 30*time.Minute)
	def(&c.KeyPublishLead, time.Hour)
	if c.RefreshGrace == 0 {
		c.RefreshGrace = 5 * time.Second
	}
	for _, k := range []*[]byte{&c.RotationKey, &c.NetworkKey} {
		if len(*k) == 0 {
			*k = make([]byte, 32)
			rand.Read(*k)
		}
	}
	lim := func(l *Limit, n int, w time.Duration) {
		if l.N <= 0 {
			l.N = n
		}
		if l.Window <= 0 {
			l.Window = w
		}
	}
	lim(&c.Limits.HealthcheckPerIP, 30, time.Minute)
	lim(&c.Limits.LoginPerAddress, 5, 15*time.Minute)
	lim(&c.Limits.LoginPerAddressDay, 20, 24*time.Hour)
	lim(&c.Limits.LoginPerIP, 30, 15*time.Minute)
	lim(&c.Limits.LoginPerNetwork, 120, 15*time.Minute)
	lim(&c.Limits.LoginPerSourceDay, DefaultLoginPerSourceDay, 24*time.Hour)
	lim(&c.Limits.MagicConfirmPerIP, 60, 15*time.Minute)
	lim(&c.Limits.CodePerAddress, 20, 24*time.Hour)
	lim(&c.Limits.FlowsPerAddress, 600, 15*time.Minute)
	lim(&c.Limits.FlowsPerNetwork, 6000, 15*time.Minute)
	lim(&c.Limits.ClientCredentialsPerOwner, DefaultClientTokensPerOwner, c.AccessTokenTTL)
	lim(&c.Limits.PushedBytesPerOwner, DefaultPushedBytesPerOwner, PushedRequestTTL)
	c.Issuer = strings.TrimRight(c.Issuer, "/")
	c.RelayDomain = strings.ToLower(c.RelayDomain)
}

// Service is the authorization server.
type Service struct {
	DB       *store.DB
	KV       *kv.Store
	Identity *identity.Service
	Mail     mail.Sender
	Keys     *Keys
	// MFA is two-step verification; nil turns the second step off (tests of other parts).
	MFA *mfa.Service
	// Passkeys is passkey sign-in; nil turns it off.
	Passkeys *passkey.Service
	Config   Config
	Now      func() time.Time
	// Equal compares secrets (client secret hashes); constant-time. Tests may wrap it to see
	// that it is used.
	Equal func(a, b string) bool
	// Clients authenticates clients; New makes one on db and k that compares with Equal.
	Clients *clientauth.Service

	// userStmt is connProfile's query, prepared once.
	userStmt preparedStmt
	// profiles caches connProfile's rows (watchProfiles).
	profiles *store.RowCache[connProfile]
	// refreshByID and refreshByHash are refreshSource's queries, prepared once.
	refreshByID, refreshByHash preparedStmt
	// rotationKeyed is HMAC-SHA256 under Config.RotationKey, keyed at its first use
	// (rotationHMAC).
	rotationKeyed keyedHMAC
	// rotations commits refresh rotations in groups (see writeRotation).
	rotations rotationBatches
	// refreshRows keeps what never changes of the refresh-token families this process issued
	// or rotated (refreshRow, by row id), so that their rotation skips the read.
	refreshRows *store.RowCache[refreshRow]
	// WakeWebhooks, when set, tells the outbox worker that events were queued (back-channel
	// logouts), so they go out at once instead of at the next poll.
	WakeWebhooks func()
	// testHookTokenWritten, set by tests only, runs after a rotation's access-token write,
	// with the family: what a concurrent request does there.
	testHookTokenWritten func(family string)
}

// New returns the authorization server. keySealer seals the private signing keys.
func New(db *store.DB, k *kv.Store, id *identity.Service, sender mail.Sender, keySealer *seal.Sealer, cfg Config, now func() time.Time) *Service {
	cfg.defaults()
	if now == nil {
		now = func() time.Time { return time.Now().UTC() }
	}
	s := &Service{DB: db, KV: k, Identity: id, Mail: sender, Config: cfg, Now: now, Equal: ids.Equal}
	s.Clients = clientauth.New(db, ratelimit.New(k))
	s.Clients.Equal = func(a, b string) bool { return s.Equal(a, b) }
	s.watchProfiles()
	s.refreshRows = store.NewRowCache[refreshRow](maxCachedRefreshRows)
	// Keys read the service's clock, so a test moving Service.Now moves key activation too.
	s.Keys = &Keys{db: db, sealer: keySealer, now: func() time.Time { return s.Now() }, lead: cfg.KeyPublishLead, keep: cfg.IDTokenTTL}
	return s
}

// Client returns the application whose client_id is clientID: unknown (or not an application
// id) → nil, nil. Every lookup of an application by a client_id a browser or app sent (the
// authorize request, the embeddable widgets) goes through it.
func (s *Service) Client(ctx context.Context, clientID string) (*ent.Application, error) {
	return s.application(ctx, clientID)
}

// application loads a client by id; unknown → nil, nil. An application being deleted
// (portal.DeleteApplication) is unknown from the moment its deletion begins: nobody signs in
// to it, and no flow or widget of it goes on.
func (s *Service) application(ctx context.Context, clientID string) (*ent.Application, error) {
	if !ids.Valid(ids.Application, clientID) || len(clientID) > maxIDLength {
		return nil, nil // names no application, and a NUL would reach SQL
	}
	app, err := s.DB.Application.Get(ctx, clientID)
	if store.NotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, serverError(err)
	}
	if app.DeletingSince != nil {
		return nil, nil
	}
	return app, nil
}
