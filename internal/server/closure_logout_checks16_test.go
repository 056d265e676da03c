package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"loginsign/ent/appconnection"
	"loginsign/ent/webhookevent"
	"loginsign/internal/portal"
)

// TestClosingTheAccountLogsOutTheAppsSignedInTo16: a person signed in to two applications
// with a back-channel logout URI, one of which never answers, and closes their LoginSign
// account. Signing out sends each a logout token (OpenID Connect Back-Channel Logout 1.0);
// closing the account sent none: an application that keeps its own session of the person
// (and has no webhook URL to hear user_account_deleted) kept them signed in after the
// account was gone. Now each gets a logout token whose sub is its connection id, through
// the outbox once the closing committed: the closing succeeds although one receiver
// fails, whose logout stays queued for its retries.
func TestClosingTheAccountLogsOutTheAppsSignedInTo16(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		ctx := context.Background()
		rcv := newLogoutReceiver(t)
		down := newLogoutReceiver(t, http.StatusServiceUnavailable)
		e.updateApp(e.app, portal.ApplicationPatch{BackchannelLogoutURI: &rcv.URL})
		other := e.createApp("Unreachable Logout App", rpCallback)
		e.updateApp(other, portal.ApplicationPatch{BackchannelLogoutURI: &down.URL})

		const email = "closing-logout@example.com"
		b := e.browser()
		e.connect(b, e.app, email)
		e.connect(b, other, email)
		u := e.userByEmail(email)
		conns := map[string]string{} // application → connection
		for _, c := range e.srv.db.AppConnection.Query().Where(appconnection.UserID(u.ID)).AllX(ctx) {
			conns[c.ApplicationID] = c.ID
		}
		if len(conns) != 2 {
			t.Fatalf("%d connections, want 2", len(conns))
		}

		out := b.gql(`mutation($g: String!, $c: String) { closeAccount(input: {confirmGlobalId: $g, code: $c}) { endedConnections } }`,
			map[string]any{"g": b.viewer(), "c": b.changeCode()})
		if n := out["closeAccount"].(map[string]any)["endedConnections"]; n != float64(2) {
			t.Fatalf("closeAccount: %v", out)
		}
		if _, err := e.srv.webhooks.Worker.DeliverDue(ctx); err != nil {
			t.Fatal(err)
		}

		rcv.mu.Lock()
		defer rcv.mu.Unlock()
		if len(rcv.got) != 1 {
			t.Fatalf("the application got %d back-channel logouts after the closing, want 1", len(rcv.got))
		}
		form, _ := url.ParseQuery(rcv.body[0])
		if sub := logoutSubject(t, form.Get("logout_token")); sub != conns[e.app.ID] {
			t.Errorf("logout token sub %q, want the connection %s", sub, conns[e.app.ID])
		}
		down.mu.Lock()
		defer down.mu.Unlock()
		if len(down.got) != 1 {
			t.Errorf("the unreachable application was tried %d times, want 1", len(down.got))
		}
		left := e.srv.db.WebhookEvent.Query().Where(webhookevent.ApplicationID(other.ID),
			webhookevent.Type("backchannel_logout")).OnlyX(ctx)
		if left.Status != webhookevent.StatusPending || !strings.Contains(left.Payload, conns[other.ID]) {
			t.Errorf("the unreachable application's logout: %s %s, want pending for its connection", left.Status, left.Payload)
		}
	})
}

// logoutSubject is the sub of a logout token (its signature is checked by
// TestRPInitiatedAndBackChannelLogout).
func logoutSubject(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Sub    string         `json:"sub"`
		Events map[string]any `json:"events"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Events["http://schemas.openid.net/event/backchannel-logout"]; !ok {
		t.Fatalf("not a logout token: %s", raw)
	}
	return c.Sub
}
