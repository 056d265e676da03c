// Package auth carries the authenticated principal through a request's context. Transport
// middleware puts it there (session cookie, HTTP Basic client credentials, Bearer token);
// domain functions read it and decide. Nothing below the transport reads headers or cookies.
package auth

import (
	"context"
	"time"

	"loginsign/internal/apperr"
)

// Session is a signed-in person in the browser.
type Session struct {
	UserID string
	// ID is the hash of the session id: it names the session without being usable as a cookie.
	ID string
	// AMR are the authentication methods of the sign-in that started the session (RFC 8176
	// values; empty for a magic link alone).
	AMR []string
	// SignedInAt is when the sign-in that started the session happened.
	SignedInAt time.Time
	// Line names the browser's run of sessions: signing in again in a browser whose session
	// is the same person's (a re-authentication) continues its line, any other sign-in starts
	// one. What the applications were given from the line (refresh-token families) ends when
	// the person ends its session.
	Line string
}

// Client is an application authenticated with its client credentials.
type Client struct {
	ApplicationID string
}

// Token is a Bearer access token's grant.
type Token struct {
	ApplicationID string
	ConnectionID  string
	UserID        string
	Scopes        []string
}

type (
	sessionKey struct{}
	clientKey  struct{}
	tokenKey   struct{}
)

// WithSession returns ctx carrying s.
func WithSession(ctx context.Context, s Session) context.Context {
	return context.WithValue(ctx, sessionKey{}, s)
}

// SessionFrom returns the session of ctx.
func SessionFrom(ctx context.Context) (Session, bool) {
	s, ok := ctx.Value(sessionKey{}).(Session)
	return s, ok && s.UserID != ""
}

// RequireUser returns the signed-in user's id, or an Unauthorized error.
func RequireUser(ctx context.Context) (string, error) {
	s, ok := SessionFrom(ctx)
	if !ok {
		return "", apperr.New(apperr.Unauthorized, "sign in first")
	}
	return s.UserID, nil
}

// WithClient returns ctx carrying c.
func WithClient(ctx context.Context, c Client) context.Context {
	return context.WithValue(ctx, clientKey{}, c)
}

// ClientFrom returns the authenticated application of ctx.
func ClientFrom(ctx context.Context) (Client, bool) {
	c, ok := ctx.Value(clientKey{}).(Client)
	return c, ok && c.ApplicationID != ""
}

// WithToken returns ctx carrying t.
func WithToken(ctx context.Context, t Token) context.Context {
	return context.WithValue(ctx, tokenKey{}, t)
}

// TokenFrom returns the Bearer grant of ctx.
func TokenFrom(ctx context.Context) (Token, bool) {
	t, ok := ctx.Value(tokenKey{}).(Token)
	return t, ok && t.ConnectionID != ""
}

// RecentSignIn is how long after signing in a session may change how the person signs in
// (their addresses, passkeys and authenticator app), close the account, hand an application
// to someone else (invitations, roles, removals, transfer, secrets, redirect and delivery
// URLs, deletion), carry off the list of its people (the users CSV export), mint, carry off or
// destroy its license codes (generating, uploading, listing unused ones, deleting a variant),
// or carry off everything LoginSign holds about the person at once (their data export),
// show an application a real address of the person it is not shown already (the consent page,
// oauth.Decide), or stop the relay forwarding an application's mail to a person (the person's
// muting, the developer's isForwarding=false) (RequireRecentSignIn, SignedInRecently).
const RecentSignIn = 15 * time.Minute

// RequireRecentSignIn returns the signed-in user's id when their sign-in happened at most
// RecentSignIn before now. Otherwise it answers Unauthorized with the reason
// reauthentication_required, and the person signs in again (by a link to their own mailbox, a
// passkey, and their second step if they have one): a session cookie taken from a browser must
// not be enough to lock the person out of their own account, or a developer out of their
// application.
func RequireRecentSignIn(ctx context.Context, now time.Time) (string, error) {
	s, ok := SessionFrom(ctx)
	if !ok {
		return "", apperr.New(apperr.Unauthorized, "sign in first")
	}
	if !SignedInRecently(s.SignedInAt, now) {
		return "", apperr.WithReason(apperr.Unauthorized, "reauthentication_required",
			"for your safety, sign in again to do this: your last sign-in was more than %d minutes ago", int(RecentSignIn/time.Minute))
	}
	return s.UserID, nil
}

// SignedInRecently reports whether a sign-in at signedIn is at most RecentSignIn before now:
// the rule of RequireRecentSignIn, for the one place that knows the time of a sign-in without
// a session in ctx (the consent page, whose flow may have its own sign-in: oauth.Decide).
func SignedInRecently(signedIn, now time.Time) bool {
	return !signedIn.IsZero() && now.Sub(signedIn) <= RecentSignIn
}
