// Package server is the wiring of cmd loginsign (the root server.go): configuration, the CLI
// commands, the stores and domain services, one http.Handler with every route in one place.
// The end-to-end tests beside it drive a whole server over real HTTP, SMTP, SQL and Redis.
package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"loginsign/ent"
	"loginsign/internal/team"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/rs/cors"

	"loginsign/graph"
	"loginsign/internal/account"
	"loginsign/internal/activity"
	"loginsign/internal/appapi"
	"loginsign/internal/apperr"
	"loginsign/internal/dataexport"
	"loginsign/internal/groupcommit"
	"loginsign/internal/httpx"
	"loginsign/internal/i18n"
	"loginsign/internal/identity"
	"loginsign/internal/kv"
	"loginsign/internal/kv/embedded"
	"loginsign/internal/licenses"
	"loginsign/internal/logx"
	"loginsign/internal/mail"
	"loginsign/internal/mailqueue"
	"loginsign/internal/mfa"
	"loginsign/internal/oauth"
	"loginsign/internal/openapi"
	"loginsign/internal/passkey"
	"loginsign/internal/portal"
	"loginsign/internal/profile"
	"loginsign/internal/ratelimit"
	"loginsign/internal/relay"
	"loginsign/internal/seal"
	"loginsign/internal/store"
	authpages "loginsign/internal/web/auth"
	"loginsign/internal/web/playground"
	"loginsign/internal/webhooks"
	"loginsign/rest"
)

// Run dispatches a command line (the arguments after the program name); main prints its error
// and exits 1.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && (len(args[0]) == 0 || args[0][0] != '-') {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		cfg, err := loadConfig(args, getenv)
		if err != nil {
			return err
		}
		ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		defer stop()
		return serve(ctx, cfg, stderr)
	case "migrate":
		cfg, err := loadConfig(args, getenv)
		if err != nil {
			return err
		}
		db, err := store.Open(ctx, cfg.DatabaseURL)
		if err != nil {
			return err
		}
		defer db.Close()
		if err := db.Migrate(ctx); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "schema is up to date")
		return nil
	case "apps", "users", "keys":
		return runAdmin(ctx, cmd, args, getenv, stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		return fmt.Errorf("unknown command %q\n%s", cmd, usage)
	}
}

const usage = `usage:
  loginsign [serve] [flags]      run the server (flags: loginsign serve -h)
  loginsign migrate              apply the schema and exit
  loginsign apps create --owner EMAIL --name NAME --redirect-uri URI [--redirect-uri URI …] [--webhook-url URL] [--json]
  loginsign users create --email EMAIL [--name NAME] [--json]
  loginsign keys rotate          publish new signing keys now (they sign after an hour)
`

// Server is one LoginSign instance: its stores, domain services and HTTP handler.
type Server struct {
	cfg      *Config
	log      *slog.Logger
	db       *store.DB
	kv       *kv.Store
	identity *identity.Service
	portal   *portal.Service
	oauth    *oauth.Service
	appAPI   *appapi.Service
	licenses *licenses.Service
	webhooks *webhooks.Service
	account  *account.Service
	mfa      *mfa.Service
	passkeys *passkey.Service
	profiles *profile.Service
	activity *activity.Service
	mail     mail.Sender
	// notices keeps the notices of changes (security and application notices) until sent.
	notices  *mailqueue.Queue
	metrics  *prometheus.Registry
	requests *prometheus.HistogramVec
	now      func() time.Time

	// webhookAttempts times webhook delivery attempts by result.
	webhookAttempts *prometheus.HistogramVec

	// draining is set when shutdown begins: /readyz answers 503 from then on.
	draining atomic.Bool

	// appNotices mails the security notices of applications (portal.Service.Notify).
	appNotices *appNotices
}

// newServer opens the stores, migrates, and builds the domain services.
func newServer(ctx context.Context, cfg *Config, log *slog.Logger) (_ *Server, err error) {
	if err := cfg.ensureSecret(); err != nil {
		return nil, err
	}
	db, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			db.Close()
		}
	}()
	if err := db.Migrate(ctx); err != nil {
		return nil, err
	}
	cfg.Runtime.sizePool(db)
	k, err := kv.OpenWith(ctx, cfg.RedisURL, cfg.Runtime.kvOptions(cfg.DataDir))
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			k.Close()
		}
	}()
	if k.Embedded {
		log.Warn("REDIS_URL is unset: using the embedded store (persisted in LOGINSIGN_DATA_DIR/kv.aof); it is not shared between instances")
	}
	webhookSecrets, err := seal.New(cfg.Secret, "webhook secrets")
	if err != nil {
		return nil, err
	}
	mailer, err := mail.New(mail.Config{URL: cfg.SMTPURL, From: "LoginSign <" + cfg.MailFrom + ">",
		OutboxDir: filepath.Join(cfg.DataDir, "outbox"), Logger: log, LogKey: deriveKey(cfg.Secret, "loginsign mail log")})
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: log, db: db, kv: k, mail: mailer, now: func() time.Time { return time.Now().UTC() }}
	queuedMail, err := seal.New(cfg.Secret, "queued mail")
	if err != nil {
		return nil, err
	}
	// The notices a change owes someone are kept until the mail server takes them.
	s.notices = &mailqueue.Queue{DB: db, Mail: mailer, Seal: queuedMail, Log: log, Now: s.now}
	s.identity = identity.New(db, k, s.now, identity.SessionConfig{AddressKey: deriveKey(cfg.Secret, "loginsign session addresses")})
	s.identity.Mail, s.identity.BaseURL, s.identity.RelayDomain = mailer, cfg.BaseURL, cfg.RelayDomain
	s.identity.Notices = s.notices
	s.identity.IDs.OnThreshold = func(fraction float64, used, size int64) {
		log.Warn("the Global User ID space is filling up: plan the wider format (docs/operations.md)",
			"used", used, "size", size, "fraction", fraction)
	}
	s.portal = &portal.Service{DB: db, WebhookSecrets: webhookSecrets, Dev: cfg.Dev, Now: s.now,
		RelayDomain: cfg.RelayDomain, Identity: s.identity, Limiter: ratelimit.New(k), Mail: mailer, BaseURL: cfg.BaseURL,
		MaxPendingLinks: cfg.Totals.PendingLinks, MaxImportRows: cfg.Totals.ImportRows,
		MaxImportRuns: cfg.Totals.ImportRuns}
	s.appNotices = &appNotices{db: db, mail: s.notices, log: log, limiter: ratelimit.New(k), baseURL: cfg.BaseURL}
	s.portal.Notify = s.appNotices.send
	if err := s.portal.EnsureSearchIndexes(ctx); err != nil {
		log.Warn("portal user search runs without trigram indexes", "err", err)
	}
	signingKeys, err := seal.New(cfg.Secret, "signing keys")
	if err != nil {
		return nil, err
	}
	s.oauth = oauth.New(db, k, s.identity, mailer, signingKeys,
		oauth.Config{Issuer: cfg.BaseURL, RelayDomain: cfg.RelayDomain,
			RefreshGrace: refreshGrace(cfg.Runtime.RefreshGrace), SyncRotations: cfg.Runtime.SyncRotations,
			RotationKey: deriveKey(cfg.Secret, "loginsign refresh rotation"),
			NetworkKey:  deriveKey(cfg.Secret, "loginsign asker network"),
			Limits: oauth.Limits{ClientCredentialsPerOwner: oauth.Limit{N: cfg.Totals.ClientTokens},
				LoginPerSourceDay: oauth.Limit{N: cfg.Totals.SignInMailsPerSource}}}, s.now)
	totpSecrets, err := seal.New(cfg.Secret, "totp secrets")
	if err != nil {
		return nil, err
	}
	s.mfa = mfa.New(db, k, totpSecrets, s.now)
	s.mfa.RecoveryCodeKey = deriveKey(cfg.Secret, "loginsign recovery codes")
	s.oauth.MFA = s.mfa
	if s.passkeys, err = passkey.New(db, k, cfg.BaseURL, s.now); err != nil {
		return nil, err
	}
	if s.passkeys.Unavailable != "" {
		log.Warn(s.passkeys.Unavailable)
	}
	s.passkeys.UserHandleKey = deriveKey(cfg.Secret, "loginsign passkey user handles")
	s.oauth.Passkeys = s.passkeys
	s.passkeys.MFA = s.mfa
	s.portal.Redirects = s.oauth
	s.appAPI = &appapi.Service{DB: db, Clients: s.oauth.Clients}
	s.licenses = licenses.New(db, s.portal.Authorize, s.now)
	s.licenses.Limiter = ratelimit.New(k)
	s.licenses.MaxCodes = cfg.Totals.LicenseCodes
	s.portal.OwnerTotals = append(s.portal.OwnerTotals, s.licenses.TransferFits)
	s.activity = &activity.Service{DB: db, Owned: func(ctx context.Context, appID string) (*ent.Application, error) {
		return s.portal.Authorize(ctx, appID, team.ReadActivity)
	}, Retention: cfg.ActivityRetention, Now: s.now}
	worker := webhooks.NewWorker(db, webhooks.WorkerConfig{Secrets: webhookSecrets, AllowPrivate: cfg.Dev, Now: s.now, Log: log,
		Housekeeping: func(ctx context.Context) {
			for _, p := range []struct {
				what  string
				purge func(context.Context) (int, error)
			}{{"activity: expired events and audit events", s.activity.Purge},
				{"oauth: expired refresh-token families", s.oauth.PurgeRefreshTokens},
				{"webhooks: old delivery log events", s.webhooks.Purge},
				{"webhooks: previous signing secrets past their overlap", s.webhooks.PurgePreviousSecrets},
				{"team: closed invitations", s.portal.Team().PurgeInvitations},
				{"identity: old address change requests", s.identity.PurgeEmailChanges},
				{"relay: unused reverse aliases", func(ctx context.Context) (int, error) {
					return relay.PurgeContacts(ctx, db, s.now().Add(-relay.ContactRetention))
				}}} {
				if n, err := p.purge(ctx); err != nil && ctx.Err() == nil {
					log.Error("deleting "+p.what, "err", err)
				} else if n > 0 {
					log.Info("deleted "+p.what, "count", n)
				}
			}
		},
		Observe: func(result string, took time.Duration) {
			s.webhookAttempts.WithLabelValues(result).Observe(took.Seconds())
		}, LogoutToken: s.oauth.LogoutToken})
	s.oauth.WakeWebhooks = worker.Wake
	s.identity.SessionsEnding = s.oauth.LogoutApps
	s.identity.BrowsersSignedOut = s.oauth.SignedOutElsewhere
	s.passkeys.EndSessions = s.identity.EndPasskeySessions
	s.webhooks = &webhooks.Service{DB: db, Worker: worker, Limiter: ratelimit.New(k), Now: s.now,
		DeliveryAddresses: s.portal.TakeDeliveryAddress, ProvenAddresses: s.portal.GiveBackDeliveryAddress}
	s.account = &account.Service{DB: db, KV: k, Identity: s.identity, Mail: mailer, BaseURL: cfg.BaseURL, Now: s.now, Wake: worker.Wake,
		SecondStep: s.mfa, ClosingLogouts: s.oauth.QueueClosingLogouts,
		RemovalLogouts: s.oauth.QueueRemovalLogout}
	s.profiles = profile.New(db, k, cfg.BaseURL, s.now)
	notices := &securityNotices{db: db, mail: s.notices, log: log, baseURL: cfg.BaseURL, now: s.now,
		undoTimes: s.noticeTimes}
	s.mfa.Notify, s.passkeys.Notify = notices.send, notices.send
	s.account.Notify = notices.sendAddress
	s.mfa.KnownBrowser, s.mfa.EndSessions = s.oauth.KnownBrowser, s.identity.EndAllSessions
	s.mfa.Mail, s.identity.ConfirmChange = mailer, s.mfa.ConfirmChange
	s.mfa.SignInAddress = s.identity.SignInAddress
	s.initMetrics()
	return s, nil
}

// Close releases the stores.
func (s *Server) Close() {
	s.kv.Close()
	s.db.Close()
}

// routes is every HTTP route of LoginSign, in one place.
func (s *Server) routes() http.Handler {
	cookies := httpx.Cookies{Secure: s.cfg.SecureCookies()}
	api := &rest.API{Log: s.log, Cookies: cookies, Identity: s.identity, Portal: s.portal, OAuth: s.oauth,
		AppAPI: s.appAPI, Licenses: s.licenses, KV: s.kv, Webhooks: s.webhooks, Account: s.account, Profiles: s.profiles, Activity: s.activity,
		Export: &dataexport.Service{DB: s.db, Identity: s.identity, Account: s.account, MFA: s.mfa, Passkeys: s.passkeys,
			Activity: s.activity, Team: s.portal.Team(), Mail: s.mail, Limiter: ratelimit.New(s.kv), Now: s.now}}
	gql := graph.Endpoint(graph.NewHandler(&graph.Resolver{Client: s.db.Client, Identity: s.identity, Portal: s.portal,
		Licenses: s.licenses, Webhooks: s.webhooks, Account: s.account, MFA: s.mfa, WebAuthn: s.passkeys, Profiles: s.profiles, OAuth: s.oauth,
		Activity: s.activity}, s.log),
		graph.Limits{MaxBody: s.cfg.GraphQLMaxBody, Limiter: ratelimit.New(s.kv), Log: s.log})

	mux := http.NewServeMux()

	// Operations.
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)

	// GraphQL and the analysts' playground.
	mux.Handle("/graphql", gql)
	pg := playground.Handler()
	mux.Handle("/playground", pg)
	mux.Handle("/playground/", pg)

	// OAuth 2.0 / OpenID Connect. GET /oauth/authorize and the consent page are pages (below).
	mux.HandleFunc("POST /oauth/token", api.Token)
	mux.HandleFunc("POST /oauth/revoke", api.Revoke)
	mux.HandleFunc("POST /oauth/introspect", api.Introspect)
	mux.HandleFunc("POST /oauth/par", api.PushAuthorizationRequest)
	for _, path := range []string{"/oauth/token", "/oauth/revoke", "/oauth/introspect", "/oauth/par"} {
		mux.HandleFunc(path, api.OAuthMethodNotAllowed)
	}
	mux.HandleFunc("GET /.well-known/openid-configuration", api.Discovery)
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", api.Discovery)
	mux.HandleFunc("GET /.well-known/jwks.json", api.JWKS)
	mux.HandleFunc("GET /api/oauth/healthcheck", api.Healthcheck)
	// The REST description (OpenAPI 3.1) and its reference page.
	mux.HandleFunc("GET /openapi.json", openapi.JSON)
	mux.HandleFunc("GET /docs", openapi.Docs)

	// End-user API (Bearer).
	mux.HandleFunc("GET /api/user", api.User)
	mux.HandleFunc("POST /api/user", api.User) // OpenID Connect Core §5.3.1
	// GET takes HEAD too, so Allow names it.
	mux.HandleFunc("/api/user", api.OAuthMethodNotAllowedFor(http.MethodGet+", "+http.MethodHead+", "+http.MethodPost))
	// Licenses of the person: their session cookie (?client_id= names the app) or an access
	// token of the app.
	mux.Handle("GET /api/user/licenses/subscriptions", api.OptionalBearer(http.HandlerFunc(api.Subscriptions)))
	mux.Handle("POST /api/user/licenses/redeem", api.OptionalBearer(http.HandlerFunc(api.Redeem)))

	// The person's picture: uploaded from the dashboard (session cookie), served publicly.
	mux.HandleFunc("PUT /api/profile/picture", api.UploadPicture)
	mux.HandleFunc("DELETE /api/profile/picture", api.RemovePicture)
	mux.HandleFunc("GET "+profile.PicturePath+"{pictureId}", api.Picture)

	// App backends (HTTP Basic client credentials).
	mux.Handle("GET /api/applications/{appId}/users", api.AppClient(http.HandlerFunc(api.CurrentLogins)))
	mux.Handle("PATCH /api/applications/{appId}/users/{globalId}/status", api.AppClient(http.HandlerFunc(api.StatusSync)))
	mux.HandleFunc("/api/applications/{appId}/users", api.AppMethodNotAllowed(http.MethodGet+", "+http.MethodHead))
	mux.HandleFunc("/api/applications/{appId}/users/{globalId}/status", api.AppMethodNotAllowed(http.MethodPatch))

	// Developer Portal REST (session cookie).
	const devApp = "/api/developer/applications/{appId}"
	mux.HandleFunc("GET /api/developer/applications", api.DeveloperApplications)
	mux.HandleFunc("POST /api/developer/applications", api.CreateDeveloperApplication)
	mux.HandleFunc("GET "+devApp, api.DeveloperApplication)
	mux.HandleFunc("PATCH "+devApp, api.UpdateDeveloperApplication)
	mux.HandleFunc("DELETE "+devApp, api.DeleteDeveloperApplication)
	mux.HandleFunc("POST "+devApp+"/secret/rotate", api.RotateClientSecret)
	mux.HandleFunc("POST "+devApp+"/webhook/secret/rotate", api.RotateWebhookSecret)
	mux.HandleFunc("GET "+devApp+"/users", api.DeveloperUsers)
	// A literal segment beside a {wildcard} one (…/users/export beside …/users/{connectionId},
	// …/codes/upload and …/codes/generate beside …/codes/{codeId}, …/members/invitations and
	// …/members/leave beside …/members/{userId}): both are registered without a method and
	// answer their own methods (httpx.ByMethod), so that DELETE …/users/export is a 405 naming
	// GET, not the deletion of a user "export", and each 405's Allow lists the route's own.
	mux.Handle(devApp+"/users/{connectionId}", httpx.ByMethod{http.MethodPatch: api.UpdateDeveloperUser,
		http.MethodDelete: api.DeleteDeveloperUser})
	mux.HandleFunc("PATCH "+devApp+"/users/{connectionId}/email", api.SyncDeveloperUserEmail)
	mux.HandleFunc("POST "+devApp+"/email-sync-api/test", api.TestEmailSyncAPI)
	mux.HandleFunc("POST "+devApp+"/current-logins-sync-api/test", api.TestCurrentLoginsSyncAPI)
	mux.HandleFunc("POST "+devApp+"/import-existing-users/csv", api.ImportExistingUsers)
	mux.HandleFunc("GET "+devApp+"/import-sources", api.DeveloperImportSources)
	mux.HandleFunc("GET "+devApp+"/import-sources/{sourceId}", api.DeveloperImportSource)
	mux.HandleFunc("POST "+devApp+"/import-sources/{sourceId}/rollback", api.RollbackDeveloperImport)
	mux.HandleFunc("GET "+devApp+"/activity", api.ApplicationActivity)
	// The exports answer GET alone: a HEAD would build the whole export (and spend one of
	// the day's or hour's exports, and mail the person) only to drop it, so it is a 405
	// naming GET (RFC 9110 §9.3.2 and §15.5.6: a resource need not take HEAD).
	mux.Handle(devApp+"/users/export", httpx.ByMethod{http.MethodGet: api.DeveloperUsersExport})
	// Teams: members, invitations, ownership transfer (internal/team).
	mux.HandleFunc("GET "+devApp+"/members", api.Members)
	mux.Handle(devApp+"/members/invitations", httpx.ByMethod{http.MethodGet: api.Invitations, http.MethodHead: api.Invitations,
		http.MethodPost: api.InviteMember})
	mux.HandleFunc("DELETE "+devApp+"/members/invitations/{invitationId}", api.RevokeInvitation)
	mux.Handle(devApp+"/members/leave", httpx.ByMethod{http.MethodPost: api.LeaveApplication})
	mux.Handle(devApp+"/members/{userId}", httpx.ByMethod{http.MethodPatch: api.ChangeMemberRole, http.MethodDelete: api.RemoveMember})
	mux.HandleFunc("POST "+devApp+"/transfer", api.ProposeTransfer)
	mux.HandleFunc("POST "+devApp+"/transfer/accept", api.AcceptTransfer)
	mux.HandleFunc("DELETE "+devApp+"/transfer", api.CancelTransfer)
	mux.HandleFunc("GET /api/developer/invitations", api.MyInvitations)
	mux.HandleFunc("POST /api/developer/invitations/accept", api.AcceptInvitation)
	// The person's data export (session cookie).
	mux.Handle("/api/account/export", httpx.ByMethod{http.MethodGet: api.AccountExport})
	mux.HandleFunc("GET /api/developer/applications/{appId}/licenses/variants", api.ListVariants)
	mux.HandleFunc("POST /api/developer/applications/{appId}/licenses/variants", api.CreateVariant)
	mux.HandleFunc("PATCH /api/developer/applications/{appId}/licenses/variants/{variantId}", api.UpdateVariant)
	mux.HandleFunc("DELETE /api/developer/applications/{appId}/licenses/variants/{variantId}", api.DeleteVariant)
	mux.Handle("/api/developer/applications/{appId}/licenses/codes/generate", httpx.ByMethod{http.MethodPost: api.GenerateCodes})
	mux.Handle("/api/developer/applications/{appId}/licenses/codes/upload", httpx.ByMethod{http.MethodPost: api.UploadCodes})
	mux.HandleFunc("GET /api/developer/applications/{appId}/licenses/codes", api.ListCodes)
	mux.Handle("/api/developer/applications/{appId}/licenses/codes/{codeId}", httpx.ByMethod{http.MethodDelete: api.DeleteCode})

	// Webhooks: delivery log, redelivery, test event.
	mux.HandleFunc("GET /api/developer/applications/{appId}/webhook/events", api.WebhookEvents)
	mux.HandleFunc("POST /api/developer/applications/{appId}/webhook/events/{eventId}/redeliver", api.RedeliverWebhookEvent)
	mux.HandleFunc("POST /api/developer/applications/{appId}/webhook/test", api.TestWebhook)

	// Pages.
	errorPage := s.pageRoutes(mux, cookies)
	if s.cfg.MetricsToken != "" {
		mux.Handle("/metrics", s.metricsBehindToken(errorPage)) // else on LOGINSIGN_METRICS_ADDR only
	}
	pages := &authpages.Pages{OAuth: s.oauth, Identity: s.identity, Cookies: cookies, Log: s.log}
	pages.Register(mux)
	// The pages of the account links LoginSign mails are in pageRoutes (internal/web/account).

	// Cookie-authenticated writes are refused cross-site; CORS answers only listed origins.
	var h http.Handler = httpx.ErrorPages(mux, errorPage)
	h = guardEdge(h)
	h = i18n.RequestLanguage(s.identity.ViewerLanguage)(h) // inside Sessions: it knows the person
	h = api.Sessions(h)
	h = activityLocation(h, s.cfg.ActivityLocationHeader)
	cop := http.NewCrossOriginProtection()
	// Its refusals answer in the shape of the route (JSON for the APIs, the error page for a
	// page's form) rather than its own text/plain line.
	cop.SetDenyHandler(httpx.CrossOriginRefused(errorPage))
	// Relying parties POST to the end-session endpoint from their own origin (RP-Initiated
	// Logout 1.0 §2); its confirmation step guards it instead (authpages.EndSession).
	cop.AddInsecureBypassPattern("POST /oauth/logout")
	// A client's own form may POST an authorization request (OpenID Connect Core §3.1.2.1):
	// it does what the same request by GET does. The userinfo endpoint takes no cookie, only
	// the access token the caller sends.
	cop.AddInsecureBypassPattern("POST /oauth/authorize")
	cop.AddInsecureBypassPattern("POST /api/user")
	// The origins listed for CORS (a separately hosted portal) are trusted to write too: CORS
	// lets them read with the person's cookies, which is as much trust.
	for _, o := range s.cfg.CORSOrigins {
		if err := cop.AddTrustedOrigin(o); err != nil {
			panic(fmt.Sprintf("LOGINSIGN_CORS_ORIGINS %q: %v", o, err)) // loadConfig checked each
		}
	}
	h = cop.Handler(h)
	if len(s.cfg.CORSOrigins) > 0 {
		h = cors.New(cors.Options{
			AllowedOrigins:   s.cfg.CORSOrigins,
			AllowedMethods:   []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete},
			AllowedHeaders:   []string{"Content-Type", "Authorization"},
			AllowCredentials: true,
			MaxAge:           600,
		}).Handler(h)
	}
	h = httpx.SecurityHeaders(httpx.Compress(h), s.cfg.BaseURL, s.cfg.Dev)
	return httpx.ClientAddress(s.cfg.TrustedProxies, s.log, httpx.Observe(s.log, h, s.observe))
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 when SQL and Redis both answer and the server is not shutting down,
// else 503 with Retry-After naming the failing check ("unavailable", "shutting_down"); the
// error behind a failed check goes to the log only (no addresses or user names in public).
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	checks := map[string]string{"database": "ok", "redis": "ok"}
	status := http.StatusOK
	if err := s.db.Ping(ctx); err != nil {
		s.log.WarnContext(ctx, "readyz: database check failed", "err", err)
		checks["database"], status = "unavailable", http.StatusServiceUnavailable
	}
	if err := s.kv.Ping(ctx).Err(); err != nil {
		s.log.WarnContext(ctx, "readyz: redis check failed", "err", err)
		checks["redis"], status = "unavailable", http.StatusServiceUnavailable
	}
	if s.draining.Load() {
		checks["shutdown"], status = "shutting_down", http.StatusServiceUnavailable
	}
	body := map[string]any{"status": "ready", "checks": checks}
	if status != http.StatusOK {
		body["status"] = "unavailable"
		w.Header().Set("Retry-After", strconv.Itoa(apperr.RetryAfterUnavailable))
	}
	w.Header().Set("Cache-Control", "no-store")
	httpx.WriteJSON(w, status, body)
}

func (s *Server) initMetrics() {
	s.metrics = prometheus.NewRegistry()
	s.metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s.requests = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "loginsign_http_request_duration_seconds",
		Help:    "HTTP requests by route pattern, method and status.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"route", "method", "status"})
	s.metrics.MustRegister(s.requests)
	s.webhookAttempts = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "loginsign_webhook_attempt_duration_seconds",
		Help:    "Webhook delivery attempts by result (delivered, retry, failed, gone).",
		Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"result"})
	s.metrics.MustRegister(s.webhookAttempts)
	s.registerBatches("refresh_rotations", s.oauth.RotationStats())
	s.registerBatches("redis", s.kv.BatchStats())
	// How full the Global User ID space is (alert at 0.8; docs/operations.md).
	s.metrics.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "loginsign_global_ids_used_ratio",
		Help: "Assigned Global User IDs over the size of the space.",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		used, size, err := s.identity.IDs.Usage(ctx)
		if err != nil || size == 0 {
			return -1
		}
		return float64(used) / float64(size)
	}))
	if s.kv.Embedded {
		// How full the embedded store is, and its rate-limit counters' half: past 1 the counters
		// refuse new ones and the routes needing one answer 503 (alert at 0.8; docs/operations.md).
		for _, g := range []struct {
			name, help string
			value      func(embedded.Usage) float64
		}{
			{"loginsign_kv_used_ratio", "The embedded store's keys or estimated bytes over their bound, the larger.",
				func(u embedded.Usage) float64 { return u.Store }},
			{"loginsign_kv_counters_used_ratio", "The embedded store's rate-limit counters over their half of its bounds, the larger.",
				func(u embedded.Usage) float64 { return u.Capped }},
		} {
			s.metrics.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: g.name, Help: g.help},
				func() float64 { return g.value(s.kv.Engine.Usage()) }))
		}
	}
}

// registerBatches exposes a group-commit queue's counters (package groupcommit) under the
// label queue=name: refresh_rotations, the refresh grant's database writes; redis, the Redis
// calls sent together in one pipeline (not on the embedded store or a cluster, st nil). Over
// a spell, items over batches is the mean batch, flush seconds over batches the mean write,
// and wait seconds over items the mean time a call waited for its batch to be written,
// the batch ahead of it included.
func (s *Server) registerBatches(name string, st *groupcommit.Stats) {
	if st == nil {
		return
	}
	seconds := func(v *atomic.Int64) func() float64 {
		return func() float64 { return time.Duration(v.Load()).Seconds() }
	}
	count := func(v *atomic.Int64) func() float64 {
		return func() float64 { return float64(v.Load()) }
	}
	for _, c := range []struct {
		name, help string
		value      func() float64
	}{
		{"loginsign_batches_total", "Batches written by a group-commit queue.", count(&st.Batches)},
		{"loginsign_batch_items_total", "Calls written in a group-commit queue's batches.", count(&st.Items)},
		{"loginsign_batch_flush_seconds_total", "Time a group-commit queue spent writing its batches.", seconds(&st.Flush)},
		{"loginsign_batch_wait_seconds_total", "Time the calls of a group-commit queue spent waiting for their batch to be written.", seconds(&st.Wait)},
	} {
		s.metrics.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: c.name, Help: c.help,
			ConstLabels: prometheus.Labels{"queue": name}}, c.value))
	}
}

func (s *Server) observe(r *http.Request, status int, d time.Duration) {
	route := r.Pattern
	if route == "" {
		route = "unmatched"
	}
	s.requests.WithLabelValues(route, metricMethod(r.Method), strconv.Itoa(status)).Observe(d.Seconds())
}

// metricMethod is the method label of a request's metrics: one of the methods of RFC 9110 and
// PATCH, else "other". net/http accepts any token as a method, so a label of the method as sent
// let anyone make a new series (13 of them, with the buckets) per request, each as long as a
// request line may be: without a bound, the server's memory and the scraper's.
func metricMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "other"
}

// serve runs the HTTP server until ctx ends, then drains in-flight requests.
func serve(ctx context.Context, cfg *Config, logOut io.Writer) error {
	log := newLogger(logOut, cfg.LogLevel)
	// The domain packages log through slog's default logger (an internal error, a dependency
	// lost, a refresh rotation the database lost): the same JSON lines at the same level.
	slog.SetDefault(log)
	if len(cfg.secretFlags) > 0 {
		log.Warn("secrets given as flags are readable by every local user in the process list; set them in the environment instead (README, Configuration)",
			"flags", cfg.secretFlags)
	}
	s, err := newServer(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer s.Close()
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	log.Debug("database connections opened before serving", "n", s.db.Warm(wctx, cfg.Runtime.warmConns()))
	cancel()

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", cfg.Addr, err)
	}
	srv := &http.Server{
		Handler:           httpx.BodyIdleTimeout(s.routes(), cfg.Runtime.BodyIdleTimeout, 60*time.Second),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	s.serveMetrics(ctx)
	go s.oauth.RunKeyRotation(ctx, 6*time.Hour, func(err error) { log.Error("rotating signing keys", "err", err) })
	if cfg.RelayAddr != "" {
		rl, err := net.Listen("tcp", cfg.RelayAddr)
		if err != nil {
			return fmt.Errorf("relay: listening on %s: %w", cfg.RelayAddr, err)
		}
		rc := relay.Config{Domain: cfg.RelayDomain, Logger: log, Now: s.now,
			KV: s.kv, RcptLimit: cfg.RelayRcptLimit, ReplyLimit: cfg.RelayReplyLimit, ContactLimit: cfg.Totals.RelayContacts}
		if cfg.RelayTLSCert != "" {
			// STARTTLS: mail from apps and the person's replies cross the internet.
			certs := &certFiles{cert: cfg.RelayTLSCert, key: cfg.RelayTLSKey, log: log}
			rc.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: certs.get}
		}
		rs := relay.NewServer(rc, s.db.Client, s.mail)
		go func() { errc <- rs.Serve(rl) }()
		defer rs.Close()
		log.Info("relay SMTP server is running", "addr", rl.Addr().String(), "domain", cfg.RelayDomain)
	}
	// The webhook worker delivers the outbox; several instances may run one each.
	workerCtx, stopWorker := context.WithCancel(context.WithoutCancel(ctx))
	workerDone := make(chan struct{})
	go func() { defer close(workerDone); s.webhooks.Worker.Run(workerCtx) }()
	defer func() { stopWorker(); <-workerDone }()
	// The notice queue's worker tries again what the mail server did not take; several
	// instances may run one each.
	noticesDone := make(chan struct{})
	go func() { defer close(noticesDone); s.notices.Run(workerCtx) }()
	defer func() { stopWorker(); <-noticesDone }()
	log.Info("LoginSign is running",
		"addr", ln.Addr().String(), "base_url", cfg.BaseURL, "dev", cfg.Dev,
		"home", cfg.BaseURL+"/", "login", cfg.BaseURL+"/login", "dashboard", cfg.BaseURL+"/dashboard",
		"portal", cfg.BaseURL+"/portal", "playground", cfg.BaseURL+"/playground", "graphql", cfg.BaseURL+"/graphql",
		"docs", cfg.BaseURL+"/docs")

	if cfg.Runtime.DebugAddr != "" {
		stopDebug, err := serveDebug(cfg.Runtime.DebugAddr, log)
		if err != nil {
			return err
		}
		defer stopDebug()
	}
	// Starting allocated and touched far more than serving needs (see dropStartupPages):
	// return the garbage to the OS and unmap the startup-only pages of the executable.
	debug.FreeOSMemory()
	dropStartupPages()

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	return s.shutdown(srv, cfg)
}

// newLogger is the server's logger: JSON lines at level, through logx.Handler, so no line of
// any package carries a person's address or a LoginSign token (see package logx).
func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	l.UnmarshalText([]byte(level))
	return slog.New(logx.Handler(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l})))
}

// activityLocation puts the client's country, from the header the edge proxy sets (header;
// "" records none), into the request's context for the sign-in events. Only a two-letter
// code is believed.
func activityLocation(next http.Handler, header string) http.Handler {
	if header == "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c := strings.ToUpper(strings.TrimSpace(r.Header.Get(header))); len(c) == 2 && c[0] >= 'A' && c[0] <= 'Z' && c[1] >= 'A' && c[1] <= 'Z' {
			r = r.WithContext(activity.WithLocation(r.Context(), c))
		}
		next.ServeHTTP(w, r)
	})
}
