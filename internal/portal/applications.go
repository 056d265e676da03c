package portal

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"entgo.io/contrib/entgql"

	"loginsign/ent"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/displaytext"
	"loginsign/internal/ids"
	"loginsign/internal/oauth"
	"loginsign/internal/ratelimit"
	"loginsign/internal/store"
	"loginsign/internal/team"
	"loginsign/internal/webhooks"
)

// Prefixes of the secrets shown once to a developer.
const (
	ClientSecretPrefix  = "lss_"
	WebhookSecretPrefix = "whsec_"
)

// ApplicationInput is what a developer sets on an application.
type ApplicationInput struct {
	Name           string
	Website        string
	IconURL        string
	TermsURL       string
	PrivacyURL     string
	RedirectURIs   []string
	AllowedOrigins []string
	WebhookURL     string
	// IDTokenSigningAlg is ES256 or RS256 (oauth.SigningAlgs); empty means ES256.
	IDTokenSigningAlg string
	// PostLogoutRedirectURIs are where RP-initiated logout may return the person; the same
	// rules as redirect URIs.
	PostLogoutRedirectURIs []string
	// BackchannelLogoutURI receives logout tokens; empty for none. The same rules as the
	// webhook URL (https outside dev mode, public address).
	BackchannelLogoutURI string
	// RequirePushedAuthorizationRequests makes the authorization endpoint take the
	// application's requests only as pushed ones (RFC 9126 §6).
	RequirePushedAuthorizationRequests bool
}

// MaxAllowedOrigins bounds an application's allowedOrigins, as redirect URIs are bounded: the
// list is written into every embed's CSP frame-ancestors and CORS compares against it.
const MaxAllowedOrigins = 50

// MaxRedirectURIs and MaxPostLogoutRedirectURIs bound an application's redirectUris and
// postLogoutRedirectUris.
const (
	MaxRedirectURIs           = 50
	MaxPostLogoutRedirectURIs = 50
)

// DefaultSigningAlg is the algorithm of an application that chose none.
const DefaultSigningAlg = "ES256"

// CreatedApplication is a new application with its secrets, shown this once.
type CreatedApplication struct {
	Application   *ent.Application
	ClientSecret  string
	WebhookSecret string // empty when no webhook URL was set
}

// MaxApplicationsPerOwner bounds the applications one developer owns, by creation or by
// transfer (team.MaxOwnedApplications).
const MaxApplicationsPerOwner = team.MaxOwnedApplications

// DefaultApplicationCreations is how many applications one developer may create per hour.
var DefaultApplicationCreations = ratelimit.Rule{Name: "application-creations", N: 60, Window: time.Hour}

// CreateApplication registers an application owned by the signed-in developer. Each valid
// request counts against the developer's ApplicationCreations per hour (RateLimited past
// them); a developer who owns MaxApplicationsPerOwner already is refused (Invalid), and so is
// a redirect or post-logout redirect URI whose host or private-use scheme another developer's
// application registers (Conflict, redirect_uri_taken: checkRedirectClaims). It needs a
// recent sign-in (Unauthorized, reauthentication_required), as RotateClientSecret and
// redirectsPeople's changes do: the answer hands out a client secret, and from an old session
// cookie a thief would otherwise hold an application in the developer's name, claim redirect
// hosts for it and fill the developer's MaxApplicationsPerOwner.
func (s *Service) CreateApplication(ctx context.Context, in ApplicationInput) (*CreatedApplication, error) {
	uid, err := auth.RequireRecentSignIn(ctx, s.now())
	if err != nil {
		return nil, err
	}
	if err := s.validate(ctx, &in, true, nil); err != nil {
		return nil, err
	}
	// Counted once the settings are valid (a typo costs nothing), before anything is written.
	if err := s.Limiter.TakeForUser(ctx, s.ApplicationCreations.Or(DefaultApplicationCreations)); err != nil {
		return nil, err
	}
	if err := s.takeDeliveryTargets(ctx, uid, nil, in.WebhookURL, in.BackchannelLogoutURI); err != nil {
		return nil, err
	}
	secret := ids.Secret(ClientSecretPrefix)
	out := &CreatedApplication{ClientSecret: secret}
	if in.WebhookURL != "" {
		out.WebhookSecret = NewWebhookSecret()
	}
	added := newRedirectClaims(nil, in)
	err = s.DB.Tx(ctx, func(tx *ent.Tx) error {
		if len(added) > 0 {
			if err := lockRedirectClaims(ctx, tx, s.DB.Dialect); err != nil {
				return err
			}
		}
		if err := team.CheckOwnedApplications(ctx, tx, s.DB.Dialect, uid); err != nil {
			return err
		}
		if err := checkRedirectClaims(ctx, tx, "", uid, added); err != nil {
			return err
		}
		create := tx.Application.Create().
			SetOwnerID(uid).
			SetName(in.Name).
			SetWebsite(in.Website).
			SetIconURL(in.IconURL).
			SetTermsURL(in.TermsURL).
			SetPrivacyURL(in.PrivacyURL).
			SetRedirectUris(in.RedirectURIs).
			SetAllowedOrigins(in.AllowedOrigins).
			SetIDTokenSigningAlg(in.IDTokenSigningAlg).
			SetPostLogoutRedirectUris(in.PostLogoutRedirectURIs).
			SetBackchannelLogoutURI(in.BackchannelLogoutURI).
			SetRequirePushedAuthorizationRequests(in.RequirePushedAuthorizationRequests).
			SetSecretHash(ids.Hash(secret))
		if in.WebhookURL != "" {
			create.SetWebhookURL(in.WebhookURL).SetWebhookSecret(s.WebhookSecrets.Seal([]byte(out.WebhookSecret)))
		}
		out.Application, err = create.Save(ctx)
		return store.Err(err, "application")
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// validate trims and checks an application's settings. Redirect and post-logout redirect
// URIs on LoginSign's own site (BaseURL) are refused (checkOwnOrigin); whether another
// developer's application holds their hosts is checked with the write (checkRedirectClaims).
//
// resolve also checks the delivery URLs' targets (webhooks.CheckTarget: no IP literal or
// localhost name outside PublicAddr; no DNS lookup, so that the answer never tells whether an
// internal name exists). UpdateApplication checks the URLs it changes before its
// transaction (resolveDeliveryURLs) and validates inside it without, so that an unchanged
// URL saved under older rules does not block other edits. For the same reason the
// redirect URIs saved already (saved, the application before the edit; nil for a new one)
// are not checked for an answer's parameters in their query (checkURI).
func (s *Service) validate(ctx context.Context, in *ApplicationInput, resolve bool, saved *ent.Application) error {
	var err error
	if in.Name, err = displaytext.Line("name", in.Name); err != nil {
		return err
	}
	if in.Name == "" || utf8.RuneCountInString(in.Name) > 200 {
		return apperr.New(apperr.Invalid, "name is required (at most 200 characters)")
	}
	// The rule of names shown to people: not LoginSign, no lookalike letters, links or phone
	// numbers (displaytext.Name).
	if in.Name, err = displaytext.Name("name", in.Name); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"website", &in.Website}, {"iconUrl", &in.IconURL}, {"termsUrl", &in.TermsURL}, {"privacyUrl", &in.PrivacyURL}} {
		*f.v = strings.TrimSpace(*f.v)
		if *f.v != "" {
			if err := checkWebURL(*f.v); err != nil {
				return apperr.New(apperr.Invalid, "%s: %v", f.name, err)
			}
		}
	}
	if len(in.RedirectURIs) > MaxRedirectURIs {
		return apperr.New(apperr.Invalid, "at most %d redirect URIs", MaxRedirectURIs)
	}
	var savedRedirects, savedLogouts []string
	if saved != nil {
		savedRedirects, savedLogouts = saved.RedirectUris, saved.PostLogoutRedirectUris
	}
	seen := map[string]bool{}
	uris := in.RedirectURIs[:0:0]
	for _, u := range in.RedirectURIs {
		u = strings.TrimSpace(u)
		if err := checkURI(oauth.CheckRedirectURI, savedRedirects, u); err != nil {
			return apperr.New(apperr.Invalid, "redirect URI %q: %v", u, err)
		}
		if err := checkOwnOrigin(s.BaseURL, u); err != nil {
			return err
		}
		if !seen[u] {
			seen[u] = true
			uris = append(uris, u)
		}
	}
	in.RedirectURIs = uris
	if in.IDTokenSigningAlg == "" {
		in.IDTokenSigningAlg = DefaultSigningAlg
	}
	if !oauth.ValidSigningAlg(in.IDTokenSigningAlg) {
		return apperr.New(apperr.Invalid, "idTokenSigningAlg must be ES256 or RS256")
	}
	if len(in.PostLogoutRedirectURIs) > MaxPostLogoutRedirectURIs {
		return apperr.New(apperr.Invalid, "at most %d post-logout redirect URIs", MaxPostLogoutRedirectURIs)
	}
	logoutURIs := make([]string, 0, len(in.PostLogoutRedirectURIs))
	for _, u := range in.PostLogoutRedirectURIs {
		u = strings.TrimSpace(u)
		if err := checkURI(oauth.CheckPostLogoutRedirectURI, savedLogouts, u); err != nil {
			return apperr.New(apperr.Invalid, "post-logout redirect URI %q: %v", u, err)
		}
		if err := checkOwnOrigin(s.BaseURL, u); err != nil {
			return err
		}
		if !slices.Contains(logoutURIs, u) {
			logoutURIs = append(logoutURIs, u)
		}
	}
	in.PostLogoutRedirectURIs = logoutURIs
	if len(in.AllowedOrigins) > MaxAllowedOrigins {
		return apperr.New(apperr.Invalid, "at most %d allowed origins", MaxAllowedOrigins)
	}
	seenOrigin := map[string]bool{}
	origins := in.AllowedOrigins[:0:0]
	for _, o := range in.AllowedOrigins {
		o = strings.ToLower(strings.TrimRight(strings.TrimSpace(o), "/"))
		if err := checkOrigin(o); err != nil {
			return apperr.New(apperr.Invalid, "allowed origin %q: %v", o, err)
		}
		if !seenOrigin[o] {
			seenOrigin[o] = true
			origins = append(origins, o)
		}
	}
	in.AllowedOrigins = origins
	for _, f := range []struct {
		name string
		v    *string
	}{{"webhookUrl", &in.WebhookURL}, {"backchannelLogoutUri", &in.BackchannelLogoutURI}} {
		if err := s.checkDeliveryURL(ctx, f.name, f.v, resolve); err != nil {
			return err
		}
	}
	return nil
}

// checkURI checks u, a redirect or post-logout redirect URI, with check, or, when it is one
// of saved (the application's own before the edit), as saved under older rules
// (oauth.CheckSavedRedirectURI): the answer replaces what its query holds of its parameters.
func checkURI(check func(string) error, saved []string, u string) error {
	if slices.Contains(saved, u) {
		return oauth.CheckSavedRedirectURI(u)
	}
	return check(u)
}

// checkDeliveryURL trims and checks a URL LoginSign POSTs to (webhooks, logout tokens): an
// absolute http(s) URL, https outside dev mode, and with resolve, not naming a private or
// loopback target (webhooks.CheckTarget, which looks nothing up).
func (s *Service) checkDeliveryURL(ctx context.Context, name string, v *string, resolve bool) error {
	*v = strings.TrimSpace(*v)
	if *v == "" {
		return nil
	}
	if err := checkWebURL(*v); err != nil {
		return apperr.New(apperr.Invalid, "%s: %v", name, err)
	}
	if u, _ := url.Parse(*v); u.Scheme != "https" && !s.Dev {
		return apperr.New(apperr.Invalid, "%s: must be https", name)
	}
	if !resolve {
		return nil
	}
	// Save-time companion of the delivery dialer's connect-time check (SSRF).
	if err := webhooks.CheckTarget(ctx, *v, s.Dev); err != nil {
		return apperr.New(apperr.Invalid, "%s: %v", name, err)
	}
	return nil
}

// resolveDeliveryURLs checks the delivery URLs a patch changes (nil: unchanged) with
// checkDeliveryURL. Unchanged URLs were checked when they were saved, and the delivery dialer
// checks every connection again.
func (s *Service) resolveDeliveryURLs(ctx context.Context, webhookURL, backchannelLogoutURI *string) error {
	for _, f := range []struct {
		name string
		v    *string
	}{{"webhookUrl", webhookURL}, {"backchannelLogoutUri", backchannelLogoutURI}} {
		if f.v == nil {
			continue
		}
		v := *f.v
		if err := s.checkDeliveryURL(ctx, f.name, &v, true); err != nil {
			return err
		}
	}
	return nil
}

// checkWebURL accepts an absolute http(s) URL of at most 2048 characters without user
// information, whose scheme and host make an origin CheckOrigin accepts (a DNS name without
// empty labels or an IP literal, a port from 1 to 65535; the host in any case), and which
// holds no space, control or format character (oauth.CheckURIText). These URLs are links
// shown to people (website, icon, terms, privacy) or receive LoginSign's POSTs (webhooks,
// logout tokens); url.Parse alone lets all of that through.
func checkWebURL(raw string) error {
	if len(raw) > 2048 {
		return fmt.Errorf("longer than 2048 characters")
	}
	if err := oauth.CheckURIText(raw); err != nil {
		return err
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("must be an absolute http(s) URL")
	}
	if u.User != nil {
		return fmt.Errorf("must not contain user information")
	}
	if CheckOrigin(u.Scheme+"://"+strings.ToLower(u.Host)) != nil {
		return fmt.Errorf("the host must be a DNS name or an IP address, and the port a number from 1 to 65535")
	}
	return nil
}

func checkOrigin(o string) error { return CheckOrigin(o) }

// dnsName is a host name of letter-digit-hyphen labels (RFC 1123 §2.1).
var dnsName = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// CheckOrigin accepts exactly the serialization of an origin (RFC 6454 §6.2):
// scheme://host[:port] with scheme http or https, a lower-case DNS name or an IP literal
// (IPv6 in brackets) as host, and a port of 1 to 65535 — nothing before, after or between
// (no wildcard, path, query, user information or stray character). Origins are compared
// exactly by CORS and written into CSP frame-ancestors, so anything looser would widen them.
func CheckOrigin(o string) error {
	bad := fmt.Errorf("must be an origin such as https://app.example.com or http://localhost:3000")
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || o != u.Scheme+"://"+u.Host ||
		len(o) > 300 || strings.HasSuffix(u.Host, ":") {
		return bad
	}
	if !oauth.PortInRange(u.Port()) {
		return bad
	}
	host := u.Hostname()
	if strings.HasPrefix(u.Host, "[") {
		if a, err := netip.ParseAddr(host); err != nil || !a.Is6() || a.Zone() != "" {
			return bad
		}
		return nil
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return nil
	}
	if !dnsName.MatchString(host) || len(host) > 253 {
		return bad
	}
	return nil
}

// ListApplications pages through the applications the signed-in developer owns or is a
// member of.
func (s *Service) ListApplications(ctx context.Context, after *entgql.Cursor[string], first *int, before *entgql.Cursor[string], last *int,
	orderBy []*ent.ApplicationOrder, where *ent.ApplicationWhereInput) (*ent.ApplicationConnection, error) {
	uid, err := auth.RequireUser(ctx)
	if err != nil {
		return nil, err
	}
	if first, err = listPage(first, last); err != nil {
		return nil, err
	}
	// ent's default order is by id alone, whose cursor holds the id and no value: one holding a
	// value reached ent's pager, which failed on it (an internal error since pageErr tells
	// errors by type).
	var kinds []store.CursorValue
	if len(orderBy) > 0 {
		kinds = make([]store.CursorValue, len(orderBy))
	}
	for i, o := range orderBy {
		if o.Field.String() == ent.ApplicationOrderFieldName.String() { // GraphQL's orders hold copies
			kinds[i] = store.StringValue
		}
	}
	if err := store.CheckCursors(true, kinds, after, before); err != nil {
		return nil, err
	}
	if err := repeatedOrder(orderBy, func(o *ent.ApplicationOrder) *ent.ApplicationOrderField { return o.Field },
		func(o *ent.ApplicationOrder) entgql.OrderDirection { return o.Direction }); err != nil {
		return nil, err
	}
	c, err := s.DB.Application.Query().Where(team.OnTeam(uid)).
		Paginate(ctx, after, first, before, last, ent.WithApplicationOrder(orderBy), ent.WithApplicationFilter(where.Filter))
	if err != nil {
		return nil, pageErr(err)
	}
	return c, nil
}

// Applications is a page of the signed-in developer's applications, newest first, for REST:
// at most first (nil: MaxListPage) after the cursor after, through ListApplications, so both
// transports list the same applications.
func (s *Service) Applications(ctx context.Context, first *int, after *store.Cursor) (*ent.ApplicationConnection, error) {
	return s.ListApplications(ctx, after, first, nil, nil, []*ent.ApplicationOrder{{
		Direction: entgql.OrderDirectionDesc, Field: ent.ApplicationOrderFieldCreatedAt}}, nil)
}

// MaxListPage bounds a page of the developer's applications and of an application's import
// runs, and is the page of a list asked for without first or last (REST's lists without
// limit).
const MaxListPage = 100

// listPage is the first of a page asked for with first and last: MaxListPage when neither is
// given, Invalid when either is past it.
func listPage(first, last *int) (*int, error) {
	switch {
	case first != nil && *first > MaxListPage, last != nil && *last > MaxListPage:
		return nil, apperr.New(apperr.Invalid, "a page holds at most %d items", MaxListPage)
	case first == nil && last == nil:
		n := MaxListPage
		return &n, nil
	}
	return first, nil
}

// NewWebhookSecret returns a Standard Webhooks signing secret: whsec_ and 32 random bytes in
// standard base64, the form the Standard Webhooks libraries decode.
func NewWebhookSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return WebhookSecretPrefix + base64.StdEncoding.EncodeToString(b)
}
