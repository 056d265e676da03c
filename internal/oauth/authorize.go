package oauth

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql"
	"golang.org/x/net/publicsuffix"

	"loginsign/ent"
	"loginsign/ent/appconnection"
	"loginsign/ent/application"
	"loginsign/ent/consent"
	"loginsign/ent/pendinglink"
	"loginsign/internal/activity"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/connections"
	"loginsign/internal/identity"
	"loginsign/internal/ids"
	"loginsign/internal/profile"
	"loginsign/internal/store"
	"loginsign/internal/webhooks"
)

// requirePushedDescription is what an application that requires pushed authorization
// requests is told of a request in the browser's URL (authorization and redirect check).
const requirePushedDescription = "this client requires pushed authorization requests: push the request to /oauth/par and pass its request_uri"

// Authorize validates an authorization request against the registered client (RFC 6749
// §4.1.1, §4.1.2.1): an unknown client_id or a redirect_uri not registered for it is an error
// that must be shown, never redirected; any other error comes back redirectable, with the
// parsed request (for state) and the client. A request_uri of a pushed authorization request
// stands for the request its client pushed (pushedRequest); a client that requires pushed
// requests gets invalid_request for any other.
func (s *Service) Authorize(ctx context.Context, q url.Values) (*AuthorizeRequest, *ent.Application, error) {
	pushed := isPushed(q)
	if pushed {
		stored, err := s.pushedRequest(ctx, q)
		if err != nil {
			return &AuthorizeRequest{MaxAge: -1}, nil, err
		}
		q = stored
	}
	req, perr := ParseAuthorizeRequest(q)
	if perr != nil && !AsError(perr).Redirect {
		return req, nil, AsError(perr).Shown()
	}
	app, err := s.application(ctx, req.ClientID)
	if err != nil {
		return req, nil, err
	}
	if app == nil {
		return req, nil, ErrInvalidRequest.WithDescription("unknown client_id %q", truncate(req.ClientID, 64)).Shown()
	}
	if e := unregisteredRedirect(app, req.RedirectURI); e != nil {
		return req, app, e
	}
	if perr != nil {
		return req, app, perr
	}
	if app.RequirePushedAuthorizationRequests && !pushed {
		// RFC 9126 §6: its parameters in the browser's URL are taken from nobody.
		return req, app, ErrInvalidRequest.WithDescription(requirePushedDescription).Redirectable()
	}
	if err := s.checkIDTokenHint(ctx, req, app); err != nil {
		return req, app, err.Redirectable()
	}
	return req, app, nil
}

// checkIDTokenHint checks the id_token_hint of req, if any: an id_token LoginSign signed for
// app (expired or not), whose sub it keeps in req.HintConnection for flowSignIn.
func (s *Service) checkIDTokenHint(ctx context.Context, req *AuthorizeRequest, app *ent.Application) *Error {
	if req.IDTokenHint == "" {
		return nil
	}
	h, err := s.verifyIDTokenHint(ctx, req.IDTokenHint)
	if err != nil {
		return AsError(err)
	}
	if h.aud != app.ID {
		return ErrInvalidRequest.WithDescription("id_token_hint was issued to another client")
	}
	req.HintConnection = h.sub
	return nil
}

// hintNames reports whether the id_token_hint of req, if any, names userID: its connection is
// userID's connection to the request's client. A connection ended since names nobody.
func (s *Service) hintNames(ctx context.Context, req *AuthorizeRequest, userID string) (bool, error) {
	if req.HintConnection == "" {
		return true, nil
	}
	n, err := s.DB.AppConnection.Query().Where(appconnection.ID(req.HintConnection), appconnection.ApplicationID(req.ClientID),
		appconnection.UserID(userID)).Count(ctx)
	if err != nil {
		return false, serverError(err)
	}
	return n == 1, nil
}

// unregisteredRedirect is the error shown, never redirected, for a redirect URI that is not
// among app's registered ones as they are now (RFC 6749 §3.1.2.3, §4.1.2.1); nil when it is
// one of them. The authorization request is checked, and so is every later step that sends
// a code there (Continue, Decide) or exchanges one (exchangeCode): a URI the developer
// removed meanwhile gets nothing more.
func unregisteredRedirect(app *ent.Application, redirectURI string) *Error {
	if _, ok := MatchRedirectURI(app.RedirectUris, redirectURI); ok {
		return nil
	}
	return ErrInvalidRequest.WithDescription("redirect_uri %q is not registered for %s; register it exactly in the Developer Portal",
		redirectURI, app.Name).Shown()
}

// AuthorizeResponse is an answer of the authorization endpoint to the client, a code (RFC
// 6749 §4.1.2) or an error (§4.1.2.1), with iss (RFC 9207): its parameters and how they reach
// the redirect URI. Build it only for a request whose client and redirect URI were validated
// (Authorize returned no shown error).
type AuthorizeResponse struct {
	RedirectURI string
	// Mode is ResponseModeQuery (also when "") or ResponseModeFormPost.
	Mode   string
	Params url.Values
}

// FormPost reports whether the answer is posted to the redirect URI (OAuth 2.0 Form Post
// Response Mode) rather than added to its query.
func (a *AuthorizeResponse) FormPost() bool { return a.Mode == ResponseModeFormPost }

// URL is the redirect URI with the answer in its query, where a query-mode answer sends the
// browser; a form-post answer posts Params to RedirectURI instead.
func (a *AuthorizeResponse) URL() string {
	return appendQuery(a.RedirectURI, a.Params, AuthorizationResponseParams...)
}

// PostURL is where a form_post answer posts Params: RedirectURI without what its query holds
// of them (kept from before CheckOwnQuery refused them), the rest of it byte for byte, so that
// a client that reads the query before the body (Java's servlets) reads LoginSign's.
func (a *AuthorizeResponse) PostURL() string {
	return appendQuery(a.RedirectURI, nil, AuthorizationResponseParams...)
}

// CodeResponse is the answer of req carrying code.
func (s *Service) CodeResponse(req *AuthorizeRequest, code string) *AuthorizeResponse {
	return s.response(req, url.Values{"code": {code}})
}

// ErrorResponse is the answer of req carrying e.
func (s *Service) ErrorResponse(req *AuthorizeRequest, e *Error) *AuthorizeResponse {
	q := url.Values{"error": {e.Code}}
	if e.Description != "" {
		q.Set("error_description", e.Description)
	}
	return s.response(req, q)
}

// response adds iss and state to the answer q of req.
func (s *Service) response(req *AuthorizeRequest, q url.Values) *AuthorizeResponse {
	q.Set("iss", s.Config.Issuer)
	if req.State != "" {
		q.Set("state", req.State)
	}
	return &AuthorizeResponse{RedirectURI: req.RedirectURI, Mode: req.ResponseMode, Params: q}
}

// appendQuery adds q to uri's query, keeping the registered query byte for byte (RFC 6749
// §3.1.2: it MUST be retained): parsing and encoding it again would drop what Go's parser
// refuses (a ";" separator, a bad escape) and reorder the rest. The registered query's
// parameters named one of reserved (kept from before CheckOwnQuery refused them) are left
// out, not repeated: the client reads one code, one state and one iss, LoginSign's. With q
// empty, uri is returned without them (as it is when it holds none).
func appendQuery(uri string, q url.Values, reserved ...string) string {
	u, err := url.Parse(uri)
	if err != nil {
		return uri
	}
	var kept []string
	dropped := false
	if u.RawQuery != "" {
		for seg := range strings.SplitSeq(u.RawQuery, "&") {
			if !slices.Contains(reserved, paramName(seg)) {
				kept = append(kept, seg)
			} else {
				dropped = true
			}
		}
	}
	if len(q) == 0 {
		if !dropped {
			return uri
		}
	} else {
		kept = append(kept, q.Encode())
	}
	u.RawQuery = strings.Join(kept, "&")
	return u.String()
}

// ConsentNeeded reports whether the person must see the consent page for req: no connection
// or consent yet, a scope not yet granted, or prompt=consent.
//
// An open pending link (an import naming one of the person's addresses) is not a reason:
// the application chose what it imported, and a page it caused only when its guess was one
// of the person's addresses would answer the guess (prompt=none's consent_required, or a
// sign-in that does not come straight back). The consent page offers the link whenever it
// is shown (Consent), and the person's dashboard lists it.
func (s *Service) ConsentNeeded(ctx context.Context, req *AuthorizeRequest, userID string) (bool, error) {
	if req.HasPrompt(PromptConsent) {
		return true, nil
	}
	c, err := s.DB.Consent.Query().
		Where(consent.HasConnectionWith(appconnection.UserID(userID), appconnection.ApplicationID(req.ClientID))).
		Only(ctx)
	if store.NotFound(err) {
		return true, nil
	}
	if err != nil {
		return false, serverError(err)
	}
	for _, sc := range req.Scopes {
		if !slices.Contains(c.Scopes, sc) {
			return true, nil
		}
	}
	return false, nil
}

// Address is one choice of which address an application will see.
type Address struct {
	// Value is posted back: "alias" for the masked address, else the address itself.
	Value string
	// Email is the address shown ("a new private address @relay…" for a first connect).
	Email   string
	Masked  bool
	Checked bool
}

// ShareAlias is the Address value of the masked relay address.
const ShareAlias = "alias"

// ConsentScreen is what the consent page shows.
type ConsentScreen struct {
	// AppWebsite is the host of the app's website (WebsiteHost), not its whole URL, and only
	// when the request returns the person to the same site (ConsentWebsite).
	// AppInitial stands for the app's icon (Initial): the page loads no image the developer
	// chose.
	AppName, AppInitial, AppWebsite string
	// AppTerms and AppPrivacy are the app's own terms and privacy policy, when it set them.
	AppTerms, AppPrivacy string
	Scopes               []string
	// Addresses are the choices of the address the app will see; none when the app gets no
	// address (the email scope is neither asked nor granted before).
	Addresses []Address
	// Relay is the app's relay alias, also when it gets no address: its developer can write
	// to the person there (forwarded unless muted).
	Relay string
	// FirstConnect is true when no connection exists yet.
	FirstConnect bool
	// KnownAs, when set, is the application's own user id for the person, from an import
	// (a pending link): the person may allow with or without linking that record to this
	// account.
	KnownAs string
	// KnownLink is the version of that record (pendingLinkVersion, "" for none): the page's
	// form sends it back with an answer that links it, so Decide accepts what this page
	// showed, not what a later drawing of it (another tab, a reload) did.
	KnownLink string
	// ReturnsTo is where the answer goes (ReturnsTo of the redirect URI): the one thing on the
	// page the developer cannot choose freely, which tells an app that borrows another's
	// name and icon apart from it.
	ReturnsTo string
}

// ReturnsTo is the host of an http(s) redirect URI (with its port), or the private-use scheme
// of a native app's ("com.example.app:"), as the consent page names where the answer goes.
func ReturnsTo(redirectURI string) string {
	u, err := url.Parse(redirectURI)
	switch {
	case err != nil:
		return ""
	case u.Scheme == "https" || u.Scheme == "http":
		return u.Host
	}
	return u.Scheme + ":"
}

// WebsiteHost is the host (with its port) of an application's website, which the consent page
// shows under the app's name, or "" for none. The page shows no more of the URL: its path,
// query and fragment are up to 2,000 characters the developer writes freely
// ("https://acme.example/Your-LoginSign-account-is-locked-call-+1-555-0100"), and on the
// consent page they read as LoginSign's text, where an application name may not even hold a
// link.
func WebsiteHost(website string) string {
	u, err := url.Parse(website)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") {
		return ""
	}
	return u.Host
}

// ConsentWebsite is the host of website (WebsiteHost) when it is on the site of redirectURI,
// the address the consent page returns the person to (the same registrable domain, eTLD+1:
// "www.notes.example" for "https://app.notes.example/cb"; the same host for an IP address or
// a name without a public suffix), or "" otherwise. No one checks that an application's
// website is its developer's: shown under the app's name as LoginSign's text, "google.com"
// vouched for an app that returns people to evil.example. The redirect URI is where the
// code goes, so a developer who names a site there gains nothing from it unless it is theirs.
func ConsentWebsite(website, redirectURI string) string {
	host := WebsiteHost(website)
	if host == "" {
		return ""
	}
	w, err := url.Parse(website)
	if err != nil {
		return ""
	}
	// Only a web redirect URI's host is where the person returns: a native app's private-use
	// scheme ("com.evil.app://google.com/cb", a valid redirect URI) opens the app that claims
	// the scheme whatever host follows it, and nobody checks that host.
	r, err := url.Parse(redirectURI)
	if err != nil || (r.Scheme != "https" && r.Scheme != "http") || r.Hostname() == "" {
		return ""
	}
	if site(w.Hostname()) != site(r.Hostname()) {
		return ""
	}
	return host
}

// site is the registrable domain of host (eTLD+1, lower-cased, without a trailing dot), or the
// host itself when it has none (an IP address, localhost, a public suffix).
func site(host string) string {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if d, err := publicsuffix.EffectiveTLDPlusOne(host); err == nil {
		return d
	}
	return host
}

// Initial is the first letter of an application's name, upper-cased, shown where its icon
// would be; "?" for no name.
func Initial(name string) string {
	for _, r := range strings.TrimSpace(name) {
		return strings.ToUpper(string(r))
	}
	return "?"
}

// pendingLink is the open pending link of appID for one of userID's verified addresses.
func (s *Service) pendingLink(ctx context.Context, appID, userID string) (*ent.PendingLink, error) {
	u, err := s.Identity.User(ctx, userID)
	if err != nil {
		return nil, err
	}
	addrs, err := s.Identity.VerifiedAddresses(ctx, u)
	if err != nil {
		return nil, serverError(err)
	}
	l, err := connections.PendingLinkFor(ctx, s.DB.Client, appID, addrs)
	if err != nil {
		return nil, serverError(err)
	}
	return l, nil
}

// Consent returns what the consent page shows for req and the signed-in userID: the app, the
// scopes, and the addresses the app may see — the masked alias (checked by default) or one of
// the person's verified addresses (primary or verified alternatives).
func (s *Service) Consent(ctx context.Context, req *AuthorizeRequest, app *ent.Application, userID string) (*ConsentScreen, error) {
	u, err := s.Identity.User(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := &ConsentScreen{AppName: app.Name, AppInitial: Initial(app.Name), AppWebsite: ConsentWebsite(app.Website, req.RedirectURI), AppTerms: app.TermsURL,
		AppPrivacy: app.PrivacyURL, Scopes: req.Scopes, ReturnsTo: ReturnsTo(req.RedirectURI)}
	conn, err := s.DB.AppConnection.Query().Where(appconnection.UserID(userID), appconnection.ApplicationID(app.ID)).
		WithConsent().Only(ctx)
	if err != nil && !store.NotFound(err) {
		return nil, serverError(err)
	}
	alias := Address{Value: ShareAlias, Masked: true}
	current := ""
	if conn != nil {
		alias.Email, current = conn.AliasEmail, conn.AppEmail
	} else {
		// A first connect shows the exact alias the app will get; req keeps it (Continue
		// saves it with the flow) and Approve claims it.
		out.FirstConnect = true
		if req.Alias == "" {
			if req.Alias, err = connections.ProposeAlias(ctx, s.DB.Client, s.Config.RelayDomain); err != nil {
				return nil, serverError(err)
			}
		}
		alias.Email = req.Alias
	}
	l, err := s.pendingLink(ctx, app.ID, userID)
	if err != nil {
		return nil, err
	}
	req.KnownLink = pendingLinkVersion(l)
	out.KnownLink = req.KnownLink
	if l != nil {
		out.KnownAs = l.ExternalUserID
	}
	out.Relay = alias.Email
	if !slices.Contains(req.Scopes, ScopeEmail) && (conn == nil || !connections.SharesEmail(conn)) {
		return out, nil // no address to choose: the app gets none
	}
	alias.Checked = current == ""
	out.Addresses = append(out.Addresses, alias)
	verified, err := s.verifiedAddresses(ctx, u)
	if err != nil {
		return nil, err
	}
	for _, e := range verified {
		out.Addresses = append(out.Addresses, Address{Value: e, Email: e, Checked: e == current})
	}
	return out, nil
}

// verifiedAddresses are the primary address and the verified alternatives of u.
func (s *Service) verifiedAddresses(ctx context.Context, u *ent.User) ([]string, error) {
	out, err := s.Identity.VerifiedAddresses(ctx, u)
	if err != nil {
		return nil, serverError(err)
	}
	return out, nil
}

// Approve records the person's consent to req and returns an authorization code for it. On
// first connect it creates the connection with a fresh alias address. share is ShareAlias, one
// of the person's verified addresses, or "" to keep the connection's current choice (a
// remembered consent). authTime is when the person signed in.
func (s *Service) Approve(ctx context.Context, req *AuthorizeRequest, userID, share string, authTime time.Time) (string, error) {
	now := s.Now()
	var conn *ent.AppConnection
	var err error
	// A concurrent first connect of the same person to the same app collides on a unique
	// index; the whole transaction is retried (PostgreSQL aborts a transaction on a
	// constraint error) and then finds the other's connection.
	for attempt := 0; attempt < 5; attempt++ {
		err = s.DB.Tx(ctx, func(tx *ent.Tx) error {
			var err error
			conn, err = s.approve(ctx, tx, req, userID, share, now)
			return err
		})
		if !errors.Is(err, errAliasTaken) {
			break
		}
	}
	if errors.Is(err, errAliasTaken) {
		return "", serverError(fmt.Errorf("creating the connection: %w", err))
	}
	if err != nil {
		return "", err
	}
	return s.issueCode(ctx, codeGrant{
		ApplicationID: req.ClientID, ConnectionID: conn.ID, UserID: userID, RedirectURI: req.RedirectURI,
		Scopes: req.Scopes, Challenge: req.CodeChallenge, Nonce: req.Nonce, AuthTime: authTime.Unix(),
		Family: ids.New(""), AMR: sessionAMR(ctx, userID), Line: sessionLine(ctx, userID),
	})
}

var errAliasTaken = errors.New("alias or connection created concurrently")

// errConsentGone is approve's answer to an approval on a remembered consent (Continue found
// one) when the transaction finds none that covers the request: the person removed the
// application, or removed it and consented again to less, since Continue looked. Going on would
// link them again, or widen the consent, without a consent page; the page is asked for again.
var errConsentGone = errors.New("the remembered consent was withdrawn or narrowed")

// rememberedConsent checks, inside the approving transaction, that conn (nil: none) has a
// consent covering scopes.
func rememberedConsent(ctx context.Context, tx *ent.Tx, conn *ent.AppConnection, scopes []string) error {
	if conn == nil {
		return errConsentGone
	}
	c, err := tx.Consent.Query().Where(consent.ConnectionID(conn.ID)).Only(ctx)
	if store.NotFound(err) {
		return errConsentGone
	}
	if err != nil {
		return serverError(err)
	}
	for _, sc := range scopes {
		if !slices.Contains(c.Scopes, sc) {
			return errConsentGone
		}
	}
	return nil
}

// namedPendingLink is the open pending link of application appID, for one of the person's
// verified addresses, whose version (pendingLinkVersion) is known; nil when there is none,
// or when it was changed, replaced or refused since the page showed it. Such a record is not
// accepted (the person never saw it: an app could import guesses of a person's address under
// telling ids while the page is open), and the answer goes on without it; the record waits
// for a later consent page. Sending the person back to the page instead would let that app
// tell a right guess by the answer that does not come back.
func namedPendingLink(ctx context.Context, tx *ent.Tx, appID, known string, verified []string) (*ent.PendingLink, error) {
	id, _, ok := strings.Cut(known, "@")
	if !ok || !ids.Valid(ids.PendingLink, id) || len(verified) == 0 {
		return nil, nil // the form's text names no record (a NUL would reach SQL)
	}
	l, err := tx.PendingLink.Query().Where(pendinglink.ID(id), pendinglink.ApplicationID(appID),
		pendinglink.EmailIn(verified...), pendinglink.RefusedAtIsNil()).Only(ctx)
	if store.NotFound(err) || err == nil && pendingLinkVersion(l) != known {
		return nil, nil
	}
	return l, err
}

// pendingLinkVersion identifies l as the consent page shows it: its id and when it last
// changed ("" for none).
func pendingLinkVersion(l *ent.PendingLink) string {
	if l == nil {
		return ""
	}
	return l.ID + "@" + strconv.FormatInt(l.UpdatedAt.UnixNano(), 10)
}

// holdApplication answers Gone when the application appID is gone or being deleted, as read
// inside tx, after the person (the lock order of approve): the consent page read it before a
// deletion began, and the connection made now would outlive the batches that already ran. On
// PostgreSQL the row is held (key share) until tx ends, so the deletion's mark, which locks it
// for update, either committed before and is seen here, or waits, and its batches then end the
// connection made here.
func (s *Service) holdApplication(ctx context.Context, tx *ent.Tx, appID string) error {
	hold := func(sel *sql.Selector) {
		if s.DB.Dialect == dialect.Postgres {
			sel.For(sql.LockKeyShare)
		}
	}
	apps, err := tx.Application.Query().Where(application.ID(appID), application.DeletingSinceIsNil()).
		Select(application.FieldID).Modify(hold).Strings(ctx)
	if err != nil {
		return serverError(err)
	}
	if len(apps) == 0 {
		return apperr.New(apperr.Gone, "this application no longer exists")
	}
	return nil
}

// approve runs inside a transaction; errAliasTaken means a concurrent insert collided.
func (s *Service) approve(ctx context.Context, tx *ent.Tx, req *AuthorizeRequest, userID, share string, now time.Time) (*ent.AppConnection, error) {
	// The person first, as every transaction that locks a person and an application does
	// (team.AuthorizeTx): a first connect's insert takes the application's key share, and
	// an ownership transfer to this person locks the person, then the application.
	u, err := store.HoldUser(ctx, tx, s.DB.Dialect, userID)
	if err != nil {
		return nil, err
	}
	if err := s.holdApplication(ctx, tx, req.ClientID); err != nil {
		return nil, err
	}
	q := tx.AppConnection.Query().Where(appconnection.UserID(userID), appconnection.ApplicationID(req.ClientID))
	if s.DB.Dialect == dialect.Postgres {
		// A removal of the connection running now waits for this transaction (and then takes
		// the code's connection with it) instead of landing between its reads and writes.
		// FOR UPDATE, not FOR SHARE: two approvals sharing the row would both wait to update
		// it. SQLite transactions take turns anyway.
		q = q.ForUpdate()
	}
	conn, err := q.Only(ctx)
	if err != nil && !store.NotFound(err) {
		return nil, serverError(err)
	}
	if share == "" {
		if err := rememberedConsent(ctx, tx, conn, req.Scopes); err != nil {
			return nil, err
		}
	}
	created := conn == nil
	var prior *ent.Consent
	if conn != nil {
		if prior, err = tx.Consent.Query().Where(consent.ConnectionID(conn.ID)).Only(ctx); err != nil && !store.NotFound(err) {
			return nil, serverError(err)
		}
	}
	scopes := grantedScopes(prior, req.Scopes)
	appEmail := ""
	var verified []string // read only when the person answered the consent page
	if share != "" {
		if verified, err = identity.VerifiedAddressesOf(ctx, tx.Client(), u); err != nil {
			return nil, serverError(err)
		}
	}
	if share != "" && share != ShareAlias {
		if !slices.Contains(verified, share) {
			return nil, ErrInvalidRequest.WithDescription("the chosen address is not a verified address of this account").Redirectable()
		}
		if !slices.Contains(scopes, ScopeEmail) {
			// The page offered no choice: without the email scope the app gets no address.
			return nil, ErrInvalidRequest.WithDescription("the app did not ask for an email address; it can be shown none").Redirectable()
		}
		appEmail = share
	}
	if conn == nil {
		// First connect: the account needs a valid address for the relay to forward to.
		if _, err := identity.NormalizeEmail(u.Email); err != nil {
			return nil, (&Error{Code: "email_required", Status: 400,
				Description: "your LoginSign account needs a valid email address before connecting an app"}).Redirectable()
		}
		conn, err = connections.CreateWithAlias(ctx, tx, userID, req.ClientID, s.Config.RelayDomain, req.Alias, now,
			func(c *ent.AppConnectionCreate) {
				c.SetAppEmail(appEmail).SetLoginCount(1).SetLastSessionAt(now)
				if r := profile.RegionName(u.Region); r != "" {
					c.SetRegion(r) // the person's chosen region (internal/profile)
				}
			})
		if apperr.Is(err, apperr.Conflict) {
			return nil, errAliasTaken
		}
		if err != nil {
			return nil, serverError(err)
		}
	} else {
		if conn.Blocked {
			return nil, ErrAccessDenied.WithDescription("sign-in to this app is blocked for this account").Redirectable()
		}
		up := tx.AppConnection.UpdateOne(conn).AddLoginCount(1).SetLastSessionAt(now).SetActive(true).SetUpdatedAt(now)
		if r := profile.RegionName(u.Region); r != "" && r != conn.Region {
			up.SetRegion(r)
		}
		shownBefore := conn.AppEmail
		if share != "" {
			up.SetAppEmail(appEmail)
		}
		if conn, err = up.Save(ctx); store.NotFound(err) {
			// Removed since it was read (PostgreSQL): as if never read.
			if share == "" {
				return nil, errConsentGone
			}
			return nil, errAliasTaken
		} else if err != nil {
			return nil, serverError(err)
		}
		if share != "" && appEmail != shownBefore {
			// The person changed the address the app is shown (the alias instead, or another
			// address): its undelivered events that carry the person's addresses
			// (email_changed, queued while it was shown the one before) are withdrawn, as when
			// the connection ends, so they do not hand it an address the person just took back.
			if err := webhooks.WithdrawConnection(ctx, tx, req.ClientID, conn.ID); err != nil {
				return nil, serverError(err)
			}
		}
	}
	if share != "" {
		// The person answered the consent page. The application's record of them it named
		// becomes part of the connection only when they chose to link it (req.KnownLink), and
		// only as the page showed it.
		l, err := namedPendingLink(ctx, tx, req.ClientID, req.KnownLink, verified)
		if err != nil {
			return nil, serverError(err)
		}
		if l != nil {
			if conn, err = connections.AcceptPendingLink(ctx, tx, l, conn, created, now); err != nil {
				return nil, serverError(err)
			}
		}
		if err := activity.Record(ctx, tx, activity.Event{Type: activity.ConsentGiven, Actor: activity.ByPerson, UserID: userID,
			ApplicationID: req.ClientID, ConnectionID: conn.ID, Details: map[string]string{"scopes": strings.Join(req.Scopes, " ")}, At: now}); err != nil {
			return nil, serverError(err)
		}
	}
	if prior == nil {
		err = tx.Consent.Create().SetConnectionID(conn.ID).SetScopes(scopes).SetCreatedAt(now).SetUpdatedAt(now).Exec(ctx)
		if store.Conflict(err) {
			return nil, errAliasTaken
		}
	} else {
		err = tx.Consent.UpdateOne(prior).SetScopes(scopes).SetUpdatedAt(now).Exec(ctx)
	}
	if err != nil {
		return nil, serverError(err)
	}
	return conn, nil
}

// grantedScopes are the scopes a connection holds once the person allows asked: those of its
// consent so far (prior, nil for none) and the new ones after them.
func grantedScopes(prior *ent.Consent, asked []string) []string {
	if prior == nil {
		return slices.Clone(asked)
	}
	out := slices.Clone(prior.Scopes)
	for _, sc := range asked {
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	return out
}

// Next is what the authorization endpoint does next for a flow.
type Next struct {
	// Answer, when set, sends the browser back to the client with a code or an error.
	Answer *AuthorizeResponse
	// Login asks the person to sign in first.
	Login bool
	// StepUp, with Login, says why: the request asks for two factors (acr_values) and the
	// person, who has a second factor, has not used it (the login page says so).
	StepUp bool
	// Again, with Login, says why: the person chose to show the application a real address
	// from a sign-in older than auth.RecentSignIn (Decide; the login page asks them to sign in
	// again).
	Again bool
	// Consent, when set, shows the consent page.
	Consent *ConsentScreen
}

// Continue decides the next step of the authorization in progress f for the signed-in userID
// ("" when nobody is signed in; sessionStart is when their session began): sign in, consent,
// or back to the client with a code (remembered consent) or an error (prompt=none). A
// redirect URI the application no longer registers is the authorization endpoint's error
// page (unregisteredRedirect), whatever the step.
func (s *Service) Continue(ctx context.Context, f *Flow, userID string, sessionStart time.Time) (Next, error) {
	req := &f.Request
	app, err := s.FlowApplication(ctx, f)
	if err != nil {
		return Next{}, err
	}
	if e := unregisteredRedirect(app, req.RedirectURI); e != nil {
		return Next{}, e
	}
	if userID == "" {
		if req.HasPrompt(PromptNone) {
			return Next{Answer: s.ErrorResponse(req, ErrLoginRequired)}, nil
		}
		return Next{Login: true}, nil
	}
	need, err := s.ConsentNeeded(ctx, req, userID)
	if err != nil {
		return Next{}, err
	}
	if need && req.HasPrompt(PromptNone) {
		// Before anything of the session: an application the person has not consented to
		// would otherwise tell login_required from consent_required, and learn whether its
		// visitor has a second factor to step up to (acr_values) or how old their sign-in is
		// (max_age).
		return Next{Answer: s.ErrorResponse(req, ErrConsentRequired)}, nil
	}
	authTime, again, stepUp, err := s.flowSignIn(ctx, f, userID, sessionStart)
	if e := AsError(err); err != nil && e.Redirect {
		return Next{Answer: s.ErrorResponse(req, e)}, nil
	} else if err != nil {
		return Next{}, err
	}
	if again {
		if req.HasPrompt(PromptNone) {
			return Next{Answer: s.ErrorResponse(req, ErrLoginRequired)}, nil
		}
		return Next{Login: true, StepUp: stepUp}, nil
	}
	if !need {
		code, err := s.Approve(ctx, req, userID, "", authTime)
		if err == nil {
			return Next{Answer: s.CodeResponse(req, code)}, nil
		}
		if !errors.Is(err, errConsentGone) {
			if e := AsError(err); e.Redirect {
				return Next{Answer: s.ErrorResponse(req, e)}, nil
			}
			return Next{}, err
		}
		// Withdrawn or narrowed since ConsentNeeded read it: the person is asked again.
	}
	if req.HasPrompt(PromptNone) {
		return Next{Answer: s.ErrorResponse(req, ErrConsentRequired)}, nil
	}
	known := req.KnownLink
	screen, err := s.Consent(ctx, req, app, userID)
	if err != nil {
		return Next{}, err
	}
	if (screen.FirstConnect || req.KnownLink != known) && f.id != "" {
		// The page names the exact alias and the application's record of the person:
		// keep them in the flow for Approve to claim and accept.
		if err := s.saveFlow(ctx, f.id, f); err != nil {
			return Next{}, err
		}
	}
	return Next{Consent: screen}, nil
}

// flowSignIn is when the person userID signed in for the flow f (sessionStart: when their
// session began), and whether the request asks them to sign in again first: prompt=login, a
// sign-in older than max_age, or a person other than the one id_token_hint names, unless they
// signed in within this flow; or a sign-in weaker than acr_values asks (stepUp), even one
// within this flow. Continue and Decide both ask it, so a consent form posted straight away
// gets no further than the authorization request would. Someone who signed in within the flow
// and is still not the person id_token_hint names is login_required, redirected (OpenID
// Connect Core §3.1.2.1): the client asked for that person only.
//
// A sign-in within the flow answers prompt=login and max_age, which ask for a sign-in, but not
// acr_values=urn:loginsign:acr:mfa, which asks for a kind of sign-in: a person with a passkey
// and no authenticator app who signed in within the flow with a magic link alone was answered
// with a code whose id_token said acr 1fa, although they could have stepped up. The request
// is voluntary (§3.1.2.1), so a person with no second factor still goes on with one
// (needsStepUp); one who has a passkey is asked to sign in with it, once (Flow.StepUpAsked):
// a person whose passkey is not at hand signed in with a link again and was sent back to the
// login page each time, a dead end the application never heard of. After the login page has
// asked, a sign-in within the flow goes on with what the person did, and the id_token's acr
// says it (the application decides).
func (s *Service) flowSignIn(ctx context.Context, f *Flow, userID string, sessionStart time.Time) (authTime time.Time, again, stepUp bool, err error) {
	req := &f.Request
	named, err := s.hintNames(ctx, req, userID)
	if err != nil {
		return time.Time{}, false, false, err
	}
	stepUp, err = s.needsStepUp(ctx, req, userID)
	if err != nil {
		return time.Time{}, false, false, err
	}
	if f.LoginUserID == userID && f.LoginAt > 0 {
		if !named {
			return time.Time{}, false, false, ErrLoginRequired.WithDescription("the person who signed in is not the one id_token_hint names").Redirectable()
		}
		if stepUp && f.StepUpAsked {
			return time.Unix(f.LoginAt, 0), false, false, nil
		}
		if err := s.askStepUp(ctx, f, stepUp); err != nil {
			return time.Time{}, false, false, err
		}
		return time.Unix(f.LoginAt, 0), stepUp, stepUp, nil
	}
	// max_age has up to ten digits: past 292 years, time.Duration(max_age) * time.Second
	// overflowed to a negative limit that every sign-in exceeded. No sign-in is older than
	// the longest Duration.
	limit := time.Duration(min(int64(req.MaxAge), int64(math.MaxInt64/time.Second))) * time.Second
	again = !named || stepUp || req.HasPrompt(PromptLogin) || (req.MaxAge >= 0 && s.Now().Sub(sessionStart) > limit)
	if again {
		if err := s.askStepUp(ctx, f, stepUp); err != nil {
			return time.Time{}, false, false, err
		}
	}
	return sessionStart, again, stepUp, nil
}

// askStepUp notes in the flow f, when stepUp, that the login page it is sent to asks for the
// second step (Flow.StepUpAsked), saving the flow the first time.
func (s *Service) askStepUp(ctx context.Context, f *Flow, stepUp bool) error {
	if !stepUp || f.StepUpAsked || f.id == "" {
		return nil
	}
	f.StepUpAsked = true
	return s.saveFlow(ctx, f.id, f)
}

// newAddressFor reports whether share (a real address) is not the address userID's connection to
// application appID shows it already (none, the alias, or another address).
func (s *Service) newAddressFor(ctx context.Context, appID, userID, share string) (bool, error) {
	n, err := s.DB.AppConnection.Query().Where(appconnection.UserID(userID), appconnection.ApplicationID(appID),
		appconnection.AppEmail(share)).Count(ctx)
	if err != nil {
		return false, serverError(err)
	}
	return n == 0, nil
}

// Decide answers the consent page: allow (with the chosen address, linking the application's
// record of the person the page named when knownLink is its KnownLink) or deny. Next is where the
// browser goes: the client's redirect URI with a code, or with error=access_denied, or, for an
// allow, to sign in again when the request asks for a newer or stronger sign-in than the
// person's (flowSignIn), or when the person chose to show the application a real address it is
// not shown already and signed in longer ago than auth.RecentSignIn (Next.Again). A redirect
// URI the application no longer registers gets neither answer: it is the authorization
// endpoint's error page (unregisteredRedirect).
func (s *Service) Decide(ctx context.Context, f *Flow, userID string, sessionStart time.Time, allow bool, share, knownLink string) (Next, error) {
	req := &f.Request
	// The record the answered page named and the person chose to link (its form's
	// KnownLink), whatever a later drawing of the page saved with the flow.
	req.KnownLink = knownLink
	app, err := s.FlowApplication(ctx, f)
	if err != nil {
		return Next{}, err
	}
	if e := unregisteredRedirect(app, req.RedirectURI); e != nil {
		return Next{}, e
	}
	if !allow {
		return Next{Answer: s.ErrorResponse(req, ErrAccessDenied)}, nil
	}
	if share == "" {
		share = ShareAlias
	}
	authTime, again, stepUp, err := s.flowSignIn(ctx, f, userID, sessionStart)
	if e := AsError(err); err != nil && e.Redirect {
		return Next{Answer: s.ErrorResponse(req, e)}, nil
	} else if err != nil {
		return Next{}, err
	}
	if !again && share != ShareAlias && !auth.SignedInRecently(authTime, s.Now()) {
		// Showing the application a real address it is not shown already needs a sign-in of
		// the last auth.RecentSignIn, as every other change that widens what an application
		// sees does. From an old session cookie (a copy taken from a browser) a thief connected
		// an application of their own to the person's real address, and it went on receiving
		// that address, and each one the person moved to (email_changed), long after the
		// cookie was gone. The login page brings the person back to this page (the flow's
		// sign-in is recent then). Sharing the alias, or the address the application is shown
		// already, needs no new sign-in.
		newAddress, err := s.newAddressFor(ctx, req.ClientID, userID, share)
		if err != nil {
			return Next{}, err
		}
		if newAddress {
			return Next{Login: true, Again: true}, nil
		}
	}
	if again {
		return Next{Login: true, StepUp: stepUp}, nil
	}
	code, err := s.Approve(ctx, req, userID, share, authTime)
	if err != nil {
		if e := AsError(err); e.Redirect {
			return Next{Answer: s.ErrorResponse(req, e)}, nil
		}
		return Next{}, err
	}
	return Next{Answer: s.CodeResponse(req, code)}, nil
}
