package oauth

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"loginsign/ent"
	"loginsign/ent/appconnection"
	"loginsign/ent/application"
	"loginsign/ent/predicate"
	"loginsign/ent/refreshtoken"
	"loginsign/internal/activity"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/httpx"
	"loginsign/internal/ids"
	"loginsign/internal/store"
	"loginsign/internal/webhooks"
)

// LogoutTokenTTL is the life of a back-channel logout token (Back-Channel Logout 1.0 §2.4
// recommends two minutes or less); the worker signs a fresh one at every attempt.
const LogoutTokenTTL = 2 * time.Minute

// backchannelLogoutEvent is the events member of a logout token (Back-Channel Logout §2.4).
const backchannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// LogoutRequest is a validated RP-initiated logout request (OpenID Connect RP-Initiated Logout
// 1.0 §2).
type LogoutRequest struct {
	// Application is the relying party named by id_token_hint or client_id; nil when neither
	// was sent, or when the hint's application is gone.
	Application *ent.Application
	// HintConnectionID is the sub of a valid id_token_hint (a connection id), else "".
	HintConnectionID string
	// HintIssuedAt is the iat of a valid id_token_hint (zero without one).
	HintIssuedAt time.Time
	// HintAuthTime is the auth_time of a valid id_token_hint: when the sign-in it came from
	// happened, which a refreshed id_token keeps (zero without one, or without the claim).
	HintAuthTime time.Time
	// RedirectURI is where to send the person afterwards: the registered
	// post_logout_redirect_uri with state appended; "" to show LoginSign's signed-out page.
	RedirectURI string
	// Params are the request's parameters, for the confirmation form.
	Params url.Values
}

// ParseLogout validates the parameters of the end-session endpoint (RP-Initiated Logout §2,
// §3). Errors are invalid_request and are shown, never redirected: a repeated or overlong
// parameter; an id_token_hint that LoginSign did not sign (an expired one is accepted, §2);
// a client_id that disagrees with the hint's audience, or that is unknown without a hint; a
// post_logout_redirect_uri without a client to check it against, or not registered for that
// client exactly. The hint of an application that is gone (or being deleted) signs the person
// out all the same, without a redirect.
func (s *Service) ParseLogout(ctx context.Context, q url.Values) (*LogoutRequest, error) {
	get := func(name string, max int) (string, error) {
		v := q[name]
		switch {
		case len(v) == 0:
			return "", nil
		case len(v) > 1:
			return "", ErrInvalidRequest.WithDescription("%s must not be repeated", name).Shown()
		case len(v[0]) > max:
			return "", ErrInvalidRequest.WithDescription("%s is longer than %d characters", name, max).Shown()
		}
		return v[0], nil
	}
	out := &LogoutRequest{Params: url.Values{}}
	vals := map[string]string{}
	for _, p := range []struct {
		name string
		max  int
	}{{"id_token_hint", 8192}, {"client_id", maxIDLength}, {"post_logout_redirect_uri", maxParam},
		{"state", maxState}, {"logout_hint", 254}, {"ui_locales", 64}} {
		v, err := get(p.name, p.max)
		if err != nil {
			return nil, err
		}
		if v != "" {
			vals[p.name] = v
			out.Params.Set(p.name, v)
		}
	}
	clientID := vals["client_id"]
	if hint := vals["id_token_hint"]; hint != "" {
		h, err := s.verifyIDTokenHint(ctx, hint)
		if err != nil {
			return nil, err
		}
		sub, aud := h.sub, h.aud
		out.HintIssuedAt, out.HintAuthTime = h.issuedAt, h.authTime
		if clientID != "" && clientID != aud {
			return nil, ErrInvalidRequest.WithDescription("client_id does not match the audience of id_token_hint").Shown()
		}
		clientID, out.HintConnectionID = aud, sub
	}
	if clientID != "" {
		app, err := s.application(ctx, clientID)
		if err != nil {
			return nil, err
		}
		switch {
		case app != nil:
			out.Application = app
		case out.HintConnectionID == "":
			return nil, ErrInvalidRequest.WithDescription("unknown client_id").Shown()
		default:
			// LoginSign signed the hint for an application since deleted, or being deleted:
			// the person still signs out (asked first, as their connection to it is gone),
			// and goes to LoginSign's signed-out page, as no registered address is left to
			// check post_logout_redirect_uri against.
			return out, nil
		}
	}
	if uri := vals["post_logout_redirect_uri"]; uri != "" {
		if out.Application == nil {
			return nil, ErrInvalidRequest.WithDescription("post_logout_redirect_uri needs id_token_hint or client_id to name the client").Shown()
		}
		if !slices.Contains(out.Application.PostLogoutRedirectUris, uri) {
			return nil, ErrInvalidRequest.WithDescription("post_logout_redirect_uri is not registered for this client").Shown()
		}
		if _, err := url.Parse(uri); err != nil {
			return nil, ErrInvalidRequest.WithDescription("post_logout_redirect_uri is not a URL").Shown()
		}
		out.RedirectURI = uri
		if st := vals["state"]; st != "" {
			out.RedirectURI = appendQuery(uri, url.Values{"state": {st}}, "state")
		}
	}
	return out, nil
}

// idTokenHint is what a verified id_token_hint says: its sub, its (single) audience, its iat
// and its auth_time (zero when absent).
type idTokenHint struct {
	sub, aud           string
	issuedAt, authTime time.Time
}

// verifyIDTokenHint checks that hint is an id_token LoginSign signed (any of its keys, published
// or retired, ES256 or RS256, typ JWT) for this issuer, and returns its sub, its (single) audience, iat and
// auth_time. Expiry is not checked (RP-Initiated Logout §2: the OP need not be concerned if
// it has expired).
func (s *Service) verifyIDTokenHint(ctx context.Context, hint string) (idTokenHint, error) {
	bad := ErrInvalidRequest.WithDescription("id_token_hint is not an id_token issued by LoginSign").Shown()
	tok, perr := jwt.ParseSigned(hint, []jose.SignatureAlgorithm{jose.ES256, jose.RS256})
	if perr != nil || len(tok.Headers) != 1 {
		return idTokenHint{}, bad
	}
	if typ, _ := tok.Headers[0].ExtraHeaders[jose.HeaderType].(string); typ != "JWT" {
		return idTokenHint{}, bad // a logout token (typ logout+jwt) is signed by the same keys
	}
	// Any key LoginSign signed with, published or retired since: a relying party keeps the
	// id_token of its sign-in across a key rotation.
	key, kerr := s.Keys.verificationKey(ctx, tok.Headers[0].KeyID)
	if kerr != nil {
		return idTokenHint{}, serverError(kerr)
	}
	if key == nil || key.alg != tok.Headers[0].Algorithm {
		return idTokenHint{}, bad
	}
	var c jwt.Claims
	var extra struct {
		AuthTime *jwt.NumericDate `json:"auth_time"`
	}
	if err := tok.Claims(key.public, &c, &extra); err != nil {
		return idTokenHint{}, bad
	}
	// An id_token signed while LOGINSIGN_BASE_URL was kept with its host in upper case (it
	// is now kept in lower case, and the issuer with it) is still this issuer's: apps keep
	// an id_token for the logout of a session that may last months.
	if !httpx.SameOrigin(c.Issuer, s.Config.Issuer) || c.Subject == "" || len(c.Audience) != 1 {
		return idTokenHint{}, bad
	}
	h := idTokenHint{sub: c.Subject, aud: c.Audience[0]}
	if c.IssuedAt != nil {
		h.issuedAt = c.IssuedAt.Time()
	}
	if extra.AuthTime != nil {
		h.authTime = extra.AuthTime.Time()
	}
	return h, nil
}

// EndSession signs the person of session out of LoginSign: it queues a back-channel logout
// token for every application the person signed in to during this session (its connection's
// last sign-in is not older than the session) or its line (queueLogouts) that registered a back-channel logout URI,
// revokes the tokens the applications were given from the session's line (endLines), then
// ends the session (rawSession is the cookie value). The logout events commit before the
// session ends, so a crash never loses one. The session of an account closed meanwhile just
// ends: its connections ended with the account, and no activity event is left of it.
func (s *Service) EndSession(ctx context.Context, session auth.Session, rawSession string) error {
	started, err := s.Identity.Sessions.CreatedAt(ctx, session.ID)
	if err != nil {
		return serverError(err)
	}
	if started.IsZero() { // the session has already ended
		return nil
	}
	now := s.Now()
	queued := false
	err = s.DB.Tx(ctx, func(tx *ent.Tx) error {
		// The person first (store.HoldUser), as every transaction that locks a person and an
		// application does (the events' foreign key takes the application's key share): the
		// closing of the account locks the person before it deletes their events and
		// connections, so this either commits before or finds the account gone.
		_, err := store.HoldUser(ctx, tx, s.DB.Dialect, session.UserID)
		if apperr.Is(err, apperr.NotFound) {
			return nil
		} else if err != nil {
			return err
		}
		if queued, err = s.queueLogouts(ctx, tx, session.UserID, started, []string{session.Line}, now); err != nil {
			return err
		}
		return activity.Record(ctx, tx, activity.Event{Type: activity.SessionsEnded, Actor: activity.ByPerson,
			UserID: session.UserID, Details: map[string]string{"count": "1", "method": "sign_out"}, At: now})
	})
	if err != nil {
		return serverError(fmt.Errorf("queueing back-channel logouts: %w", err))
	}
	if queued && s.WakeWebhooks != nil {
		s.WakeWebhooks()
	}
	if err := s.endLines(ctx, []string{session.Line}); err != nil {
		return err
	}
	if err := s.Identity.Sessions.Delete(ctx, rawSession); err != nil {
		return serverError(err)
	}
	return nil
}

// LogoutApps queues a back-channel logout for every application userID signed in to since
// (the start of the earliest session ending) that registered a back-channel logout URI, and
// revokes the tokens the applications were given from the sessions' lines (endLines): what
// EndSession does for the person's own sign-out, for sessions the person ends from the
// dashboard (identity.Service.SessionsEnding). A session ended there is often one the person
// does not recognise, and its sign-ins to apps must end with it.
func (s *Service) LogoutApps(ctx context.Context, userID string, since time.Time, lines []string) error {
	queued := false
	err := s.DB.Tx(ctx, func(tx *ent.Tx) error {
		// The person first, as in EndSession: a logout queued after the closing of the
		// account would name a connection that ended with it.
		if _, err := store.HoldUser(ctx, tx, s.DB.Dialect, userID); err != nil {
			return err
		}
		var err error
		queued, err = s.queueLogouts(ctx, tx, userID, since, lines, s.Now())
		return err
	})
	if apperr.Is(err, apperr.NotFound) {
		return nil // the account is closed: its tokens ended with it
	}
	if err != nil {
		return serverError(fmt.Errorf("queueing back-channel logouts: %w", err))
	}
	if queued && s.WakeWebhooks != nil {
		s.WakeWebhooks()
	}
	return s.endLines(ctx, lines)
}

// endedLineKey marks a line of browser sessions (auth.Session.Line) the person ended, for as
// long as a code its session approved may still be exchanged (exchangeCode).
func endedLineKey(line string) string { return "lend:" + line }

// endLinesBatch is how many families one revokeFamilies call of endLines takes.
const endLinesBatch = 200

// endLines revokes the refresh-token families, and their access tokens, that the applications
// were given from the lines of browser sessions that end (OpenID Connect Back-Channel Logout
// 1.0 §2.7: refresh tokens issued without offline access to a session that is logged out
// should be revoked): a session someone stole, or the person left signed in elsewhere, keeps
// nothing at the apps signed in to from it. The marker comes first, so a code approved by
// the session and exchanged after the families were read is refused (exchangeCode). Families
// of sessions that merely expire stay, as do those of sessions begun before lines were kept.
func (s *Service) endLines(ctx context.Context, lines []string) error {
	lines = slices.DeleteFunc(slices.Clone(lines), func(l string) bool { return l == "" })
	if len(lines) == 0 {
		return nil
	}
	pipe := s.KV.Pipeline()
	for _, l := range lines {
		pipe.Set(ctx, endedLineKey(l), 1, s.Config.CodeTTL+time.Minute)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return serverError(fmt.Errorf("marking the ended sessions: %w", err))
	}
	families, err := s.DB.RefreshToken.Query().
		Where(refreshtoken.SessionLineIn(lines...), refreshtoken.RevokedAtIsNil(), refreshtoken.ExpiresAtGT(s.Now())).
		Unique(true).Select(refreshtoken.FieldFamilyID).Strings(ctx)
	if err != nil {
		return serverError(fmt.Errorf("finding the tokens of the ended sessions: %w", err))
	}
	for batch := range slices.Chunk(families, endLinesBatch) {
		if err := s.revokeFamilies(ctx, batch); err != nil {
			return err
		}
	}
	return nil
}

// queueLogouts writes, through tx, a back-channel logout event for each connection of userID,
// of an application with a back-channel logout URI, whose last sign-in is not older than since
// or that was given tokens from one of the ending lines of browser sessions (lines, whose
// tokens endLines revokes), and reports whether it wrote any. A connection keeps only its last
// sign-in, not the session it came from, so an application signed in to since then, from any
// session, is told too. The lines find the applications signed in to before a
// re-authentication in the same browser (prompt=login, max_age): it starts a new session of
// the same line, later than their sign-ins, and they are as much the browser's as the later
// ones (Back-Channel Logout 1.0 §2.7: every RP the person is logged in to through the OP's
// session is told).
// only, when given, narrows the connections to those it matches (QueueRemovalLogout: one).
func (s *Service) queueLogouts(ctx context.Context, tx *ent.Tx, userID string, since time.Time, lines []string, now time.Time, only ...predicate.AppConnection) (bool, error) {
	signedIn := appconnection.LastSessionAtGTE(since)
	if lines = slices.DeleteFunc(slices.Clone(lines), func(l string) bool { return l == "" }); len(lines) > 0 {
		signedIn = appconnection.Or(signedIn, appconnection.HasRefreshTokensWith(refreshtoken.SessionLineIn(lines...)))
	}
	where := append([]predicate.AppConnection{appconnection.UserID(userID), signedIn,
		appconnection.HasApplicationWith(application.BackchannelLogoutURINEQ(""))}, only...)
	conns, err := tx.AppConnection.Query().Where(where...).WithApplication().All(ctx)
	if err != nil {
		return false, err
	}
	for _, c := range conns {
		claims := logoutClaims{Issuer: s.Config.Issuer, Subject: c.ID, Audience: []string{c.ApplicationID},
			ID: ids.New(""), Events: map[string]struct{}{backchannelLogoutEvent: {}}}
		if _, err := webhooks.EnqueueLogout(ctx, tx, c.Edges.Application, claims, now); err != nil {
			return false, err
		}
	}
	return len(conns) > 0, nil
}

// QueueClosingLogouts writes through tx, the closing of userID's account (account.Service
// ClosingLogouts), before it deletes their connections, a back-channel logout for every
// connection of theirs to an application with a back-channel logout URI that the person ever
// signed in to (queueLogouts since the beginning): the account ends every sign-in, not only
// those of the browser sessions still live, and the application's own session of the person,
// which may outlast LoginSign's, must end with it. sub is the connection id, as in every
// logout token (no sid is sent). Before, closing the account told these applications nothing
// (an application without a webhook URL kept the person signed in).
func (s *Service) QueueClosingLogouts(ctx context.Context, tx *ent.Tx, userID string, now time.Time) error {
	_, err := s.queueLogouts(ctx, tx, userID, time.Time{}, nil, now)
	return err
}

// QueueRemovalLogout writes through tx, the person's removal of one application from their
// dashboard (account.Service.RemoveConnection, RemovalLogouts), before it deletes the
// connection connectionID of userID, a back-channel logout for it when its application has a
// back-channel logout URI and the person ever signed in to it (queueLogouts since the
// beginning, as QueueClosingLogouts, narrowed to that one connection). Removing an application
// revokes its tokens, and a person who removes it expects to be signed out of it too: its own
// session of the person, which may outlast its tokens, ends with the connection. sub is the
// connection id, as in every logout token.
func (s *Service) QueueRemovalLogout(ctx context.Context, tx *ent.Tx, userID, connectionID string, now time.Time) error {
	_, err := s.queueLogouts(ctx, tx, userID, time.Time{}, nil, now, appconnection.ID(connectionID))
	return err
}

// LogoutNeedsConfirmation reports whether the signed-in person must confirm the sign-out
// (RP-Initiated Logout §2: the OP SHOULD ask, and MUST when there is no id_token_hint or it
// does not belong to the current session and person): unless the request's id_token_hint names
// one of the person's own connections and was issued during this session. Anyone can send
// someone to the end-session endpoint, and an id_token of an earlier session (even expired:
// any application the person ever signed in to keeps one) would otherwise sign the person out
// of LoginSign, and end the tokens other applications got from this session, without a word.
// LoginSign's id_tokens carry no sid: one of the session is one whose iat is not before the
// session's start (to the second) and whose sign-in (auth_time) is not either, but for
// hintSignInSlack. The iat alone does not tell: an application holding a live refresh token of
// an earlier sign-in (a session that timed out, another browser's) gets an id_token issued now
// at every refresh, which keeps its sign-in's auth_time. A hint without auth_time asks.
func (s *Service) LogoutNeedsConfirmation(ctx context.Context, req *LogoutRequest, session auth.Session) (bool, error) {
	if req.HintConnectionID == "" {
		return true, nil
	}
	conn, err := s.DB.AppConnection.Get(ctx, req.HintConnectionID)
	if store.NotFound(err) {
		return true, nil
	}
	if err != nil {
		return false, serverError(err)
	}
	if conn.UserID != session.UserID {
		return true, nil
	}
	started, err := s.Identity.Sessions.CreatedAt(ctx, session.ID)
	if err != nil {
		return false, serverError(err)
	}
	if started.IsZero() || req.HintAuthTime.IsZero() {
		return true, nil
	}
	from := started.Truncate(time.Second)
	return req.HintIssuedAt.Before(from) || req.HintAuthTime.Before(from.Add(-hintSignInSlack)), nil
}

// hintSignInSlack is how much earlier than its session's start a sign-in of that session may
// be timed: a sign-in within an authorization records its time (the flow's, the id_token's
// auth_time) just before the browser's session is written.
const hintSignInSlack = time.Second

// logoutClaims are a logout token's claims (Back-Channel Logout §2.4): sub is the connection
// id (LoginSign sends no sid; backchannel_logout_session_supported is false). There is never a
// nonce.
type logoutClaims struct {
	Issuer   string              `json:"iss"`
	Subject  string              `json:"sub"`
	Audience []string            `json:"aud"`
	IssuedAt int64               `json:"iat,omitempty"`
	Expiry   int64               `json:"exp,omitempty"`
	ID       string              `json:"jti"`
	Events   map[string]struct{} `json:"events"`
}

// LogoutToken signs the logout token of a queued back-channel logout event (claims as
// EnqueueLogout stored them) with app's algorithm, iat now and exp LogoutTokenTTL later, typ
// logout+jwt (§2.4).
func (s *Service) LogoutToken(ctx context.Context, app *ent.Application, stored []byte) (string, error) {
	var c logoutClaims
	if err := json.Unmarshal(stored, &c); err != nil {
		return "", fmt.Errorf("reading logout token claims: %w", err)
	}
	now := s.Now()
	c.IssuedAt, c.Expiry = now.Unix(), now.Add(LogoutTokenTTL).Unix()
	return s.Keys.SignTyped(ctx, app.IDTokenSigningAlg, "logout+jwt", c)
}
