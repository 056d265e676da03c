package server

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"loginsign/internal/httpx"
	"loginsign/internal/licenses"
	"loginsign/internal/oauth"
	"loginsign/internal/portal"
	"loginsign/internal/relay"
)

// Config is the server's configuration. Every field has an environment variable (the
// contract of DESIGN.md) and a flag of `loginsign serve` that overrides it.
type Config struct {
	// Addr is the HTTP listen address (LOGINSIGN_ADDR, default ":8080").
	Addr string
	// BaseURL is the public origin used in links, the issuer and cookies
	// (LOGINSIGN_BASE_URL, default "http://localhost:8080").
	BaseURL string
	// DatabaseURL is sqlite://PATH or postgres://… (DATABASE_URL, default sqlite://data/loginsign.db).
	DatabaseURL string
	// RedisURL is redis://…; empty starts an embedded in-process server (REDIS_URL).
	RedisURL string
	// SMTPURL is the outbound mail server; empty writes mail to the log and DataDir/outbox
	// (LOGINSIGN_SMTP_URL).
	SMTPURL string
	// MailFrom is the sender of LoginSign's mail (LOGINSIGN_MAIL_FROM, default no-reply@ + host).
	MailFrom string
	// RelayDomain is the domain of masked addresses (LOGINSIGN_RELAY_DOMAIN, default relay. + host).
	RelayDomain string
	// RelayAddr is the listen address of the inbound relay SMTP server; empty turns the relay
	// off (LOGINSIGN_RELAY_ADDR).
	RelayAddr string
	// RelayTLSCert and RelayTLSKey are PEM files of the certificate (with its chain) and key
	// the relay offers STARTTLS with; both or neither (LOGINSIGN_RELAY_TLS_CERT,
	// LOGINSIGN_RELAY_TLS_KEY). Replaced files are read again at the next connection.
	RelayTLSCert, RelayTLSKey string
	// RelayRcptLimit is how many RCPT TO commands one peer may send the relay per minute
	// (LOGINSIGN_RELAY_RCPT_LIMIT, default relay.DefaultRcptLimit).
	RelayRcptLimit int
	// RelayReplyLimit is how many recipients one person may reply to through the relay per day
	// (LOGINSIGN_RELAY_REPLY_LIMIT, default relay.DefaultReplyLimit).
	RelayReplyLimit int
	// Totals bound what one developer account, or one masked address, may make LoginSign
	// store (parseTotals).
	Totals Totals
	// Secret keys HMACs, cookie keys and sealed secrets (LOGINSIGN_SECRET, hex or text of at
	// least 32 bytes; default generated once into DataDir/secret).
	Secret []byte
	// Dev turns on non-Secure cookies (for an http BaseURL only: SecureCookies) and webhooks to
	// loopback (LOGINSIGN_DEV; default on when BaseURL is http on localhost or 127.0.0.1).
	Dev bool
	// DataDir holds the generated secret and the mail outbox (LOGINSIGN_DATA_DIR, default "data").
	DataDir string
	// CORSOrigins are extra browser origins allowed to call the APIs with credentials, such as a
	// separately hosted portal front-end (LOGINSIGN_CORS_ORIGINS, comma-separated).
	CORSOrigins []string
	// ShutdownTimeout bounds the graceful shutdown (LOGINSIGN_SHUTDOWN_TIMEOUT, default 20s).
	ShutdownTimeout time.Duration
	// LogLevel is debug, info, warn or error (LOGINSIGN_LOG_LEVEL, default info).
	LogLevel string
	// TrustedProxies are the peers whose forwarding header is believed for rate limits, logs
	// and sessions (LOGINSIGN_TRUSTED_PROXIES, comma-separated CIDR prefixes or addresses;
	// default none: the TCP peer is the client), and the header they write
	// (LOGINSIGN_FORWARDED_HEADER, x-forwarded-for or forwarded; default x-forwarded-for).
	TrustedProxies httpx.Proxies
	// GraphQLMaxBody is the largest /graphql request body in bytes (LOGINSIGN_GRAPHQL_MAX_BODY,
	// default 1 MiB).
	GraphQLMaxBody int64
	// MetricsAddr is the listen address of /metrics (LOGINSIGN_METRICS_ADDR, default
	// 127.0.0.1:9090; "off" serves no metrics listener).
	MetricsAddr string
	// MetricsToken, when set, also serves /metrics on the main listener to requests bearing
	// "Authorization: Bearer <token>" (LOGINSIGN_METRICS_TOKEN; default unset: not there at all).
	MetricsToken string
	// ActivityRetention is how long activity-log events and audit events are kept
	// (LOGINSIGN_ACTIVITY_RETENTION_DAYS, whole days, default 400).
	ActivityRetention time.Duration
	// ActivityLocationHeader names a request header set by the edge proxy with the client's
	// country (such as CF-IPCountry); sign-in events record it as their coarse location
	// (LOGINSIGN_ACTIVITY_LOCATION_HEADER; default unset: no location is recorded).
	ActivityLocationHeader string
	// Runtime holds the settings of the token path, the embedded store, shutdown and the
	// debug listener (config_runtime.go).
	Runtime RuntimeConfig

	baseURL *url.URL
	// secretFlags names the flags given on the command line that carry a secret (secretFlag):
	// serve warns about them.
	secretFlags []string
}

// loadConfig reads the environment, then args as flags (a flag overrides its variable), and
// checks the values in a fixed order, answering the first problem found.
func loadConfig(args []string, getenv func(string) string) (*Config, error) {
	env := func(k, def string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return def
	}
	c := &Config{}
	var raw configText
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	c.defineFlags(fs, &raw, env)
	checkRuntime := c.Runtime.flags(fs, env)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	fs.Visit(func(f *flag.Flag) {
		if secretFlag(f.Name, f.Value.String()) {
			c.secretFlags = append(c.secretFlags, f.Name)
		}
	})
	for _, check := range []func(*Config, configText) error{
		(*Config).parseBaseURL, (*Config).parseRelay, (*Config).parseTotals, (*Config).parseRetention, (*Config).parseDev,
		(*Config).parseShutdown, func(c *Config, _ configText) error { return checkRuntime(c.Dev) },
		(*Config).parseHTTP, (*Config).checkMetrics, (*Config).requireSMTP, (*Config).parseSecret,
	} {
		if err := check(c, raw); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// configText holds the settings read as text and parsed into Config's fields of other types.
type configText struct {
	secret, dev, origins, shutdown, proxies, forwardedHeader, gqlBody, rcptLimit, replyLimit, retention string

	// totals are Totals' settings as read, by variable.
	totals map[string]*string
}

// Totals are the bounds on what free accounts make LoginSign store (README, Limits), for an
// operator to raise or lower: each is a whole number of at least 1.
type Totals struct {
	// LicenseCodes across the applications one developer owns
	// (LOGINSIGN_MAX_LICENSE_CODES_PER_DEVELOPER, default licenses.DefaultMaxCodes).
	LicenseCodes int
	// PendingLinks, the people imports propose to link, across one developer's applications
	// (LOGINSIGN_MAX_PENDING_LINKS_PER_DEVELOPER, default portal.DefaultMaxPendingLinks).
	PendingLinks int
	// ImportRows, the reports of import runs kept across one developer's applications
	// (LOGINSIGN_MAX_IMPORT_ROWS_PER_DEVELOPER, default portal.DefaultMaxImportRows).
	ImportRows int
	// ImportRuns, the spent import runs kept across one developer's applications
	// (LOGINSIGN_MAX_IMPORT_RUNS_PER_DEVELOPER, default portal.DefaultMaxImportRuns).
	ImportRuns int
	// ClientTokens, client_credentials tokens per hour for all of one developer's applications
	// (LOGINSIGN_MAX_CLIENT_TOKENS_PER_DEVELOPER, default oauth's 10,000).
	ClientTokens int
	// RelayContacts, reverse aliases per masked address (LOGINSIGN_RELAY_CONTACT_LIMIT,
	// default relay.DefaultContactLimit).
	RelayContacts int
	// SignInMailsPerSource, sign-in mails a day from one IPv4 address or IPv6 /48 to browsers
	// new to the account asked for (LOGINSIGN_MAX_NEW_SIGNIN_MAILS_PER_SOURCE, default
	// oauth.DefaultLoginPerSourceDay).
	SignInMailsPerSource int
}

// totalSetting is one of Totals' settings: its variable, flag, default and field.
type totalSetting struct {
	env, flag string
	def       int
	dst       *int
}

// settings lists t's settings.
func (t *Totals) settings() []totalSetting {
	return []totalSetting{
		{"LOGINSIGN_MAX_LICENSE_CODES_PER_DEVELOPER", "max-license-codes-per-developer", licenses.DefaultMaxCodes, &t.LicenseCodes},
		{"LOGINSIGN_MAX_PENDING_LINKS_PER_DEVELOPER", "max-pending-links-per-developer", portal.DefaultMaxPendingLinks, &t.PendingLinks},
		{"LOGINSIGN_MAX_IMPORT_ROWS_PER_DEVELOPER", "max-import-rows-per-developer", portal.DefaultMaxImportRows, &t.ImportRows},
		{"LOGINSIGN_MAX_IMPORT_RUNS_PER_DEVELOPER", "max-import-runs-per-developer", portal.DefaultMaxImportRuns, &t.ImportRuns},
		{"LOGINSIGN_MAX_CLIENT_TOKENS_PER_DEVELOPER", "max-client-tokens-per-developer", oauth.DefaultClientTokensPerOwner, &t.ClientTokens},
		{"LOGINSIGN_RELAY_CONTACT_LIMIT", "relay-contact-limit", relay.DefaultContactLimit, &t.RelayContacts},
		{"LOGINSIGN_MAX_NEW_SIGNIN_MAILS_PER_SOURCE", "max-new-signin-mails-per-source", oauth.DefaultLoginPerSourceDay, &t.SignInMailsPerSource},
	}
}

// parseTotals reads Totals, each a whole number of at least 1.
func (c *Config) parseTotals(raw configText) error {
	for _, s := range c.Totals.settings() {
		v := *raw.totals[s.env]
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return fmt.Errorf("%s %q: want a whole number of at least 1", s.env, v)
		}
		*s.dst = n
	}
	return nil
}

// secretFlag reports whether the flag name, set to value on the command line, carries a
// secret: the server key, the metrics token, or a database, Redis or SMTP URL with a password.
// A command line is readable by every local user (/proc/PID/cmdline, ps), and by anyone who
// reaches the pprof debug listener (/debug/pprof/cmdline); the environment is not.
func secretFlag(name, value string) bool {
	switch name {
	case "secret", "metrics-token":
		return value != ""
	case "database-url", "redis-url", "smtp-url":
		u, err := url.Parse(value)
		if err != nil {
			return strings.Contains(value, "@") // unreadable: assume the worst
		}
		_, has := u.User.Password()
		return has
	}
	return false
}

// defineFlags declares the flags of `loginsign serve`, each defaulting to its environment
// variable, else to the documented default.
func (c *Config) defineFlags(fs *flag.FlagSet, raw *configText, env func(k, def string) string) {
	fs.StringVar(&c.Addr, "addr", env("LOGINSIGN_ADDR", ":8080"), "listen address (LOGINSIGN_ADDR)")
	fs.StringVar(&c.BaseURL, "base-url", env("LOGINSIGN_BASE_URL", "http://localhost:8080"), "public origin (LOGINSIGN_BASE_URL)")
	fs.StringVar(&c.DatabaseURL, "database-url", env("DATABASE_URL", "sqlite://data/loginsign.db"), "sqlite://PATH or postgres://… (DATABASE_URL)")
	fs.StringVar(&c.RedisURL, "redis-url", env("REDIS_URL", ""), "redis://…; empty: embedded (REDIS_URL)")
	fs.StringVar(&c.SMTPURL, "smtp-url", env("LOGINSIGN_SMTP_URL", ""), "smtp://[user:pass@]host:port or smtps://… (LOGINSIGN_SMTP_URL)")
	fs.StringVar(&c.MailFrom, "mail-from", env("LOGINSIGN_MAIL_FROM", ""), "sender address (LOGINSIGN_MAIL_FROM)")
	fs.StringVar(&c.RelayDomain, "relay-domain", env("LOGINSIGN_RELAY_DOMAIN", ""), "masked address domain (LOGINSIGN_RELAY_DOMAIN)")
	fs.StringVar(&c.RelayAddr, "relay-addr", env("LOGINSIGN_RELAY_ADDR", ""), "relay SMTP listen address; empty: off (LOGINSIGN_RELAY_ADDR)")
	fs.StringVar(&c.RelayTLSCert, "relay-tls-cert", env("LOGINSIGN_RELAY_TLS_CERT", ""), "PEM certificate chain the relay offers STARTTLS with (LOGINSIGN_RELAY_TLS_CERT)")
	fs.StringVar(&c.RelayTLSKey, "relay-tls-key", env("LOGINSIGN_RELAY_TLS_KEY", ""), "PEM key of the relay's certificate (LOGINSIGN_RELAY_TLS_KEY)")
	raw.totals = map[string]*string{}
	for _, s := range c.Totals.settings() {
		raw.totals[s.env] = fs.String(s.flag, env(s.env, strconv.Itoa(s.def)), s.env)
	}
	fs.StringVar(&raw.rcptLimit, "relay-rcpt-limit", env("LOGINSIGN_RELAY_RCPT_LIMIT", strconv.Itoa(relay.DefaultRcptLimit)), "RCPT TO per peer per minute at the relay (LOGINSIGN_RELAY_RCPT_LIMIT)")
	fs.StringVar(&raw.replyLimit, "relay-reply-limit", env("LOGINSIGN_RELAY_REPLY_LIMIT", strconv.Itoa(relay.DefaultReplyLimit)), "reply recipients per person per day at the relay (LOGINSIGN_RELAY_REPLY_LIMIT)")
	fs.StringVar(&raw.secret, "secret", env("LOGINSIGN_SECRET", ""), "server key (LOGINSIGN_SECRET)")
	fs.StringVar(&raw.dev, "dev", env("LOGINSIGN_DEV", ""), "dev mode: true|false (LOGINSIGN_DEV)")
	fs.StringVar(&c.DataDir, "data-dir", env("LOGINSIGN_DATA_DIR", "data"), "data directory (LOGINSIGN_DATA_DIR)")
	fs.StringVar(&raw.origins, "cors-origins", env("LOGINSIGN_CORS_ORIGINS", ""), "extra CORS origins, comma-separated (LOGINSIGN_CORS_ORIGINS)")
	fs.StringVar(&raw.shutdown, "shutdown-timeout", env("LOGINSIGN_SHUTDOWN_TIMEOUT", "20s"), "graceful shutdown bound (LOGINSIGN_SHUTDOWN_TIMEOUT)")
	fs.StringVar(&c.LogLevel, "log-level", env("LOGINSIGN_LOG_LEVEL", "info"), "debug|info|warn|error (LOGINSIGN_LOG_LEVEL)")
	fs.StringVar(&raw.proxies, "trusted-proxies", env("LOGINSIGN_TRUSTED_PROXIES", ""), "proxies whose forwarding header is believed, CIDR list (LOGINSIGN_TRUSTED_PROXIES)")
	fs.StringVar(&raw.forwardedHeader, "forwarded-header", env("LOGINSIGN_FORWARDED_HEADER", "x-forwarded-for"), "the header the trusted proxies write: x-forwarded-for|forwarded (LOGINSIGN_FORWARDED_HEADER)")
	fs.StringVar(&raw.gqlBody, "graphql-max-body", env("LOGINSIGN_GRAPHQL_MAX_BODY", "1048576"), "largest /graphql body in bytes (LOGINSIGN_GRAPHQL_MAX_BODY)")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", env("LOGINSIGN_METRICS_ADDR", "127.0.0.1:9090"), "listen address of /metrics; off: none (LOGINSIGN_METRICS_ADDR)")
	fs.StringVar(&c.MetricsToken, "metrics-token", env("LOGINSIGN_METRICS_TOKEN", ""), "Bearer token for /metrics on the main listener (LOGINSIGN_METRICS_TOKEN)")
	fs.StringVar(&raw.retention, "activity-retention-days", env("LOGINSIGN_ACTIVITY_RETENTION_DAYS", "400"), "days activity and audit events are kept (LOGINSIGN_ACTIVITY_RETENTION_DAYS)")
	fs.StringVar(&c.ActivityLocationHeader, "activity-location-header", env("LOGINSIGN_ACTIVITY_LOCATION_HEADER", ""), "header with the client's country, recorded with sign-ins; empty: none (LOGINSIGN_ACTIVITY_LOCATION_HEADER)")
}

// parseBaseURL checks BaseURL is an http(s) origin and the main listen address is host:port.
// The origin is kept as browsers serialise it, the host in lower case: it is the passkeys'
// relying party id, which browsers refuse in upper case, and the issuer clients compare.
func (c *Config) parseBaseURL(configText) error {
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return fmt.Errorf("LOGINSIGN_BASE_URL %q: want an origin such as https://login.example.com", c.BaseURL)
	}
	c.baseURL = &url.URL{Scheme: u.Scheme, Host: strings.ToLower(u.Host)}
	c.BaseURL = c.baseURL.String()
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("LOGINSIGN_ADDR %q: want host:port such as :8080", c.Addr)
	}
	return nil
}

// parseRelay checks the relay's listen address, its certificate and RCPT limit; MailFrom and RelayDomain
// default to no-reply@ and relay. before the base URL's host.
func (c *Config) parseRelay(raw configText) error {
	if c.RelayAddr != "" {
		if _, _, err := net.SplitHostPort(c.RelayAddr); err != nil {
			return fmt.Errorf("LOGINSIGN_RELAY_ADDR %q: want host:port such as :2525", c.RelayAddr)
		}
	}
	switch {
	case (c.RelayTLSCert == "") != (c.RelayTLSKey == ""):
		return fmt.Errorf("LOGINSIGN_RELAY_TLS_CERT and LOGINSIGN_RELAY_TLS_KEY: set both or neither")
	case c.RelayTLSCert != "":
		if _, err := tls.LoadX509KeyPair(c.RelayTLSCert, c.RelayTLSKey); err != nil {
			return fmt.Errorf("LOGINSIGN_RELAY_TLS_CERT, LOGINSIGN_RELAY_TLS_KEY: %w", err)
		}
	}
	var err error
	if c.RelayRcptLimit, err = strconv.Atoi(raw.rcptLimit); err != nil || c.RelayRcptLimit < 1 {
		return fmt.Errorf("LOGINSIGN_RELAY_RCPT_LIMIT %q: want a whole number of at least 1", raw.rcptLimit)
	}
	if c.RelayReplyLimit, err = strconv.Atoi(raw.replyLimit); err != nil || c.RelayReplyLimit < 1 {
		return fmt.Errorf("LOGINSIGN_RELAY_REPLY_LIMIT %q: want a whole number of at least 1", raw.replyLimit)
	}
	host := c.baseURL.Hostname()
	if c.MailFrom == "" {
		c.MailFrom = "no-reply@" + host
	}
	if c.RelayDomain == "" {
		c.RelayDomain = "relay." + host
	}
	c.RelayDomain = strings.ToLower(c.RelayDomain)
	return nil
}

// parseRetention reads how many days activity and audit events are kept, 1 to 36500.
func (c *Config) parseRetention(raw configText) error {
	days, err := strconv.Atoi(raw.retention)
	if err != nil || days < 1 || days > 36500 {
		return fmt.Errorf("LOGINSIGN_ACTIVITY_RETENTION_DAYS %q: want a whole number of days from 1 to 36500", raw.retention)
	}
	c.ActivityRetention = time.Duration(days) * 24 * time.Hour
	return nil
}

// SecureCookies reports whether LoginSign's cookies are Secure and __Host- prefixed: outside
// dev mode, and in dev mode too when the public origin (BaseURL) is https. Browsers reach an
// https origin over https only, so nothing needs plain cookies there, while a plain session
// cookie would be sent in clear to any http:// URL of the host a network attacker makes the
// browser load, and could be planted from a sibling subdomain.
func (c *Config) SecureCookies() bool {
	if !c.Dev {
		return true
	}
	u, err := url.Parse(c.BaseURL)
	return err == nil && strings.EqualFold(u.Scheme, "https")
}

// parseDev reads LOGINSIGN_DEV; unset, dev mode is on for http on localhost or 127.0.0.1.
func (c *Config) parseDev(raw configText) error {
	switch strings.ToLower(raw.dev) {
	case "":
		host := c.baseURL.Hostname()
		c.Dev = c.baseURL.Scheme == "http" && (host == "localhost" || host == "127.0.0.1")
	case "1", "true", "yes", "on":
		c.Dev = true
	case "0", "false", "no", "off":
		c.Dev = false
	default:
		return fmt.Errorf("LOGINSIGN_DEV %q: want true or false", raw.dev)
	}
	return nil
}

// parseShutdown reads the graceful shutdown bound, a duration of zero or more.
func (c *Config) parseShutdown(raw configText) error {
	var err error
	if c.ShutdownTimeout, err = time.ParseDuration(raw.shutdown); err != nil || c.ShutdownTimeout < 0 {
		return fmt.Errorf("LOGINSIGN_SHUTDOWN_TIMEOUT %q: want a duration such as 20s", raw.shutdown)
	}
	return nil
}

// parseHTTP checks the log level and reads the CORS origins, the trusted proxies and the
// largest GraphQL body (at least 1024 bytes).
func (c *Config) parseHTTP(raw configText) error {
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("LOGINSIGN_LOG_LEVEL %q: want debug, info, warn or error", c.LogLevel)
	}
	for _, o := range strings.Split(raw.origins, ",") {
		if o = strings.TrimRight(strings.TrimSpace(o), "/"); o != "" {
			if err := portal.CheckOrigin(o); err != nil {
				return fmt.Errorf("LOGINSIGN_CORS_ORIGINS: %q is not an origin: %v", o, err)
			}
			c.CORSOrigins = append(c.CORSOrigins, o)
		}
	}
	var err error
	if c.TrustedProxies, err = httpx.ParseProxies(raw.proxies, raw.forwardedHeader); err != nil {
		return fmt.Errorf("LOGINSIGN_TRUSTED_PROXIES / LOGINSIGN_FORWARDED_HEADER: %v", err)
	}
	if c.GraphQLMaxBody, err = strconv.ParseInt(raw.gqlBody, 10, 64); err != nil || c.GraphQLMaxBody < 1024 {
		return fmt.Errorf("LOGINSIGN_GRAPHQL_MAX_BODY %q: want a number of bytes, at least 1024", raw.gqlBody)
	}
	return nil
}

// checkMetrics checks the metrics listen address ("off", "none" or "false" turn it off) and
// that a metrics token has at least 16 characters.
func (c *Config) checkMetrics(configText) error {
	switch strings.ToLower(c.MetricsAddr) {
	case "off", "none", "false":
		c.MetricsAddr = ""
	default:
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			return fmt.Errorf("LOGINSIGN_METRICS_ADDR %q: want host:port such as 127.0.0.1:9090, or off", c.MetricsAddr)
		}
	}
	if c.MetricsToken != "" && len(c.MetricsToken) < 16 {
		return errors.New("LOGINSIGN_METRICS_TOKEN must be at least 16 characters")
	}
	return nil
}

// requireSMTP requires an SMTP server outside dev mode.
func (c *Config) requireSMTP(configText) error {
	if c.SMTPURL == "" && !c.Dev {
		// The outbox would be the only way mail leaves, and it is meant for a developer's eyes.
		return errors.New("LOGINSIGN_SMTP_URL is required outside dev mode: without it sign-in links would only reach the data/outbox folder; set it to smtp://host:port (or LOGINSIGN_DEV=true on a developer's machine)")
	}
	return nil
}

// parseSecret reads LOGINSIGN_SECRET when set: at least 32 characters, hex-decoded when it is
// hex of 16 bytes or more, else its bytes as given.
func (c *Config) parseSecret(raw configText) error {
	if raw.secret == "" {
		return nil
	}
	if len(raw.secret) < 32 {
		return errors.New("LOGINSIGN_SECRET must be at least 32 characters")
	}
	if b, err := hex.DecodeString(raw.secret); err == nil && len(b) >= 16 {
		c.Secret = b
	} else {
		c.Secret = []byte(raw.secret)
	}
	return nil
}

// ensureSecret generates the server secret into DataDir/secret on first start when
// LOGINSIGN_SECRET is unset. Several instances must share one: set LOGINSIGN_SECRET for them.
func (c *Config) ensureSecret() error {
	if c.Secret != nil {
		return nil
	}
	path := filepath.Join(c.DataDir, "secret")
	if b, err := os.ReadFile(path); err == nil {
		s, err := hex.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(s) < 16 {
			return fmt.Errorf("%s: not a hex secret; delete it or set LOGINSIGN_SECRET", path)
		}
		c.Secret = s
		return nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return fmt.Errorf("creating data directory: %w", err)
	}
	s := make([]byte, 32)
	rand.Read(s)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return c.ensureSecret() // another process wrote it first
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer f.Close()
	if _, err := f.WriteString(hex.EncodeToString(s) + "\n"); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	c.Secret = s
	return nil
}
