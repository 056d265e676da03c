package auth_test

import (
	"context"
	"testing"
	"time"

	"loginsign/internal/apperr"
	"loginsign/internal/auth"
)

// A context carries a principal only when it names one: a session without a person, a
// client without an application, or a grant without a connection is nobody, and RequireUser
// answers Unauthorized for it as for no session at all.
func TestAPrincipalWithoutItsIDIsNobody(t *testing.T) {
	ctx := context.Background()
	if s, ok := auth.SessionFrom(auth.WithSession(ctx, auth.Session{ID: "session-hash", SignedInAt: time.Now()})); ok {
		t.Errorf("a session without a person: %+v; want none", s)
	}
	for name, c := range map[string]context.Context{
		"no session":                 ctx,
		"a session without a person": auth.WithSession(ctx, auth.Session{ID: "session-hash"}),
	} {
		if id, err := auth.RequireUser(c); !apperr.Is(err, apperr.Unauthorized) {
			t.Errorf("%s: RequireUser = %q, %v; want Unauthorized", name, id, err)
		}
	}
	if id, err := auth.RequireUser(auth.WithSession(ctx, auth.Session{UserID: "usr_a"})); err != nil || id != "usr_a" {
		t.Errorf("a person's session: RequireUser = %q, %v; want usr_a", id, err)
	}
	if c, ok := auth.ClientFrom(auth.WithClient(ctx, auth.Client{})); ok {
		t.Errorf("a client without an application: %+v; want none", c)
	}
	if c, ok := auth.ClientFrom(auth.WithClient(ctx, auth.Client{ApplicationID: "app_a"})); !ok || c.ApplicationID != "app_a" {
		t.Errorf("an application's client: %+v, %v; want app_a", c, ok)
	}
	if tok, ok := auth.TokenFrom(auth.WithToken(ctx, auth.Token{ApplicationID: "app_a", UserID: "usr_a"})); ok {
		t.Errorf("a grant without a connection: %+v; want none", tok)
	}
	if tok, ok := auth.TokenFrom(auth.WithToken(ctx, auth.Token{ConnectionID: "conn_a"})); !ok || tok.ConnectionID != "conn_a" {
		t.Errorf("a connection's grant: %+v, %v; want conn_a", tok, ok)
	}
}

// A sign-in is recent for RecentSignIn and not a moment longer; a session with no sign-in
// time, or none at all, is never recent. Past it the answer asks to sign in again
// (reauthentication_required).
func TestARecentSignInLastsRecentSignInAndNoLonger(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(signedIn time.Time) context.Context {
		return auth.WithSession(context.Background(), auth.Session{UserID: "usr_a", SignedInAt: signedIn})
	}
	for _, c := range []struct {
		name   string
		ctx    context.Context
		recent bool
	}{
		{"just now", at(now), true},
		{"exactly RecentSignIn ago", at(now.Add(-auth.RecentSignIn)), true},
		{"a second past RecentSignIn", at(now.Add(-auth.RecentSignIn - time.Second)), false},
		{"a day ago", at(now.Add(-24 * time.Hour)), false},
		{"no sign-in time", at(time.Time{}), false},
		{"no session", context.Background(), false},
	} {
		id, err := auth.RequireRecentSignIn(c.ctx, now)
		switch {
		case c.recent && (err != nil || id != "usr_a"):
			t.Errorf("%s: %q, %v; want usr_a", c.name, id, err)
		case !c.recent && !apperr.Is(err, apperr.Unauthorized):
			t.Errorf("%s: %q, %v; want Unauthorized", c.name, id, err)
		case !c.recent && c.name != "no session" && apperr.As(err).Reason != "reauthentication_required":
			t.Errorf("%s: %v; want the reason reauthentication_required", c.name, err)
		}
	}
}
