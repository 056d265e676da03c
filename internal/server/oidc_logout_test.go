package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"loginsign/internal/auth"
	"loginsign/internal/oauth"
	"loginsign/internal/portal"
)

// logoutReceiver is an RP's back-channel logout endpoint that records what it is sent.
type logoutReceiver struct {
	*httptest.Server
	mu   sync.Mutex
	got  []*http.Request
	body []string
}

// newLogoutReceiver answers statuses[i] to the i-th request, then 200.
func newLogoutReceiver(t *testing.T, statuses ...int) *logoutReceiver {
	lr := &logoutReceiver{}
	lr.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		lr.mu.Lock()
		n := len(lr.got)
		lr.got, lr.body = append(lr.got, r), append(lr.body, string(b))
		lr.mu.Unlock()
		if n < len(statuses) {
			w.WriteHeader(statuses[n])
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(lr.Close)
	return lr
}

// updateApp changes app's settings through the portal domain operation, as its developer
// signed in just now: a new back-channel logout URI needs a recent sign-in.
func (e *oauthEnv) updateApp(app testApp, p portal.ApplicationPatch) {
	e.t.Helper()
	ctx := context.Background()
	u, _, err := e.srv.identity.EnsureUser(ctx, "dev@example.com")
	if err != nil {
		e.t.Fatal(err)
	}
	dev := auth.WithSession(ctx, auth.Session{UserID: u.ID, SignedInAt: time.Now()})
	if _, err := e.srv.portal.UpdateApplication(dev, app.ID, p); err != nil {
		e.t.Fatal(err)
	}
}

// RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) checks id_token_hint and the
// registered post_logout_redirect_uri, asks the person unless the hint is theirs, returns them
// with state, and sends a signed logout token (Back-Channel Logout 1.0) through the outbox.
func TestRPInitiatedAndBackChannelLogout(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		rcv := newLogoutReceiver(t)
		const bye = "https://app.example.test/bye"
		alg := "RS256"
		e.updateApp(e.app, portal.ApplicationPatch{PostLogoutRedirectURIs: []string{bye}, BackchannelLogoutURI: &rcv.URL, IDTokenSigningAlg: &alg})

		ctx := oidc.ClientContext(context.Background(), http.DefaultClient)
		provider, err := oidc.NewProvider(ctx, e.base)
		if err != nil {
			t.Fatal(err)
		}
		var meta struct {
			EndSession     string `json:"end_session_endpoint"`
			Backchannel    bool   `json:"backchannel_logout_supported"`
			BackchannelSID *bool  `json:"backchannel_logout_session_supported"`
		}
		provider.Claims(&meta)
		if meta.EndSession != e.base+"/oauth/logout" || !meta.Backchannel || meta.BackchannelSID == nil || *meta.BackchannelSID {
			t.Fatalf("discovery: %+v", meta)
		}

		b := e.browser()
		idToken := e.signInIDToken(b, e.app, "n")
		idt, err := provider.Verifier(&oidc.Config{ClientID: e.app.ID}).Verify(ctx, idToken)
		if err != nil {
			t.Fatal(err)
		}
		signedIn := func() bool { return strings.Contains(b.get(e.base+"/logout").Body, "Signed in as") }
		if !signedIn() {
			t.Fatal("not signed in after the flow")
		}

		logout := func(q url.Values) page { return b.get(e.base + "/oauth/logout?" + q.Encode()) }
		for name, q := range map[string]url.Values{
			"unregistered post_logout_redirect_uri": {"client_id": {e.app.ID}, "post_logout_redirect_uri": {"https://evil.example/"}},
			"redirect without a client":             {"post_logout_redirect_uri": {bye}},
			"forged id_token_hint":                  {"id_token_hint": {"eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."}},
			"hint of another client":                {"id_token_hint": {idToken}, "client_id": {"app_other"}},
			"repeated state":                        {"client_id": {e.app.ID}, "state": {"a", "b"}},
		} {
			p := logout(q)
			if p.StatusCode != 400 || !strings.Contains(p.Body, "invalid_request") || p.Header.Get("Location") != "" {
				t.Errorf("%s: %d %s", name, p.StatusCode, p.Header.Get("Location"))
			}
		}
		if !signedIn() {
			t.Fatal("an invalid logout request signed the person out")
		}

		// Without a hint the person is asked; a POST without the page's confirm field (what a
		// cross-site form could send) asks again.
		q := url.Values{"client_id": {e.app.ID}, "post_logout_redirect_uri": {bye}, "state": {"s-1"}}
		if p := logout(q); p.StatusCode != 200 || !strings.Contains(p.Body, "Demo App asks to sign you out") {
			t.Fatalf("confirmation page: %d %s", p.StatusCode, p.Body)
		}
		forged := url.Values{"client_id": {e.app.ID}, "confirm": {"guess"}}
		if p := b.post(e.base+"/oauth/logout", forged); p.StatusCode != 200 || !strings.Contains(p.Body, `name="confirm"`) || !signedIn() {
			t.Fatalf("forged confirmation: %d, signed in %v", p.StatusCode, signedIn())
		}

		// With the person's own id_token as the hint: signed out at once, back to the app with state.
		p := logout(url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {bye}, "state": {"s-2"}})
		if p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != bye+"?state=s-2" {
			t.Fatalf("logout with hint: %d %q", p.StatusCode, p.Header.Get("Location"))
		}
		if signedIn() {
			t.Fatal("still signed in after logout")
		}

		// The outbox delivers one logout token for the app the person signed in to.
		if _, err := e.srv.webhooks.Worker.DeliverDue(context.Background()); err != nil {
			t.Fatal(err)
		}
		rcv.mu.Lock()
		defer rcv.mu.Unlock()
		if len(rcv.got) != 1 || rcv.got[0].Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			t.Fatalf("receiver got %d requests", len(rcv.got))
		}
		form, _ := url.ParseQuery(rcv.body[0])
		tok := form.Get("logout_token")
		if alg, _ := jwtHeader(t, tok); alg != "RS256" {
			t.Fatalf("logout token signed %s, want the app's RS256", alg)
		}
		hdr, _ := base64Header(tok)
		if !strings.Contains(hdr, `"typ":"logout+jwt"`) {
			t.Fatalf("logout token header %s", hdr)
		}
		lt, err := provider.Verifier(&oidc.Config{ClientID: e.app.ID}).Verify(ctx, tok)
		if err != nil {
			t.Fatalf("logout token does not verify: %v", err)
		}
		var c struct {
			Events map[string]any `json:"events"`
			JTI    string         `json:"jti"`
			Nonce  *string        `json:"nonce"`
		}
		lt.Claims(&c)
		if _, ok := c.Events["http://schemas.openid.net/event/backchannel-logout"]; !ok || c.JTI == "" || c.Nonce != nil ||
			lt.Subject != idt.Subject || lt.Expiry.Sub(lt.IssuedAt) > 120e9 {
			t.Fatalf("logout token claims %+v sub %s (want %s)", c, lt.Subject, idt.Subject)
		}
	})
}

// TestTheLogoutOfAnApplicationThatIsGoneStillSignsThePersonOut: the sign-out button of an
// application whose developer deleted it (or is deleting it) sends its id_token to the
// end-session endpoint; the person is signed out of LoginSign (asked first once their
// connection to it is gone) and lands on LoginSign's signed-out page, as no registered address
// is left to send them to. Before, the request was an "unknown client_id" error and the person stayed
// signed in. An unknown client_id without a hint is still an error.
func TestTheLogoutOfAnApplicationThatIsGoneStillSignsThePersonOut(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		const bye = "https://app.example.test/bye"
		ctx := context.Background()
		dev, _, err := e.srv.identity.EnsureUser(ctx, "dev@example.com")
		if err != nil {
			t.Fatal(err)
		}
		devCtx := auth.WithSession(ctx, auth.Session{UserID: dev.ID, SignedInAt: time.Now()})
		for name, end := range map[string]func(app testApp){
			"deleted": func(app testApp) {
				if err := e.srv.portal.DeleteApplication(devCtx, app.ID); err != nil {
					t.Fatal(err)
				}
			},
			"being deleted": func(app testApp) {
				if err := e.srv.db.Application.UpdateOneID(app.ID).SetDeletingSince(time.Now()).Exec(ctx); err != nil {
					t.Fatal(err)
				}
			},
		} {
			app := e.createApp("Gone App "+name, rpCallback)
			e.updateApp(app, portal.ApplicationPatch{PostLogoutRedirectURIs: []string{bye}})
			b := e.browser()
			idToken := e.signInIDToken(b, app, "n")
			signedIn := func() bool { return strings.Contains(b.get(e.base+"/logout").Body, "Signed in as") }
			end(app)

			if p := b.get(e.base + "/oauth/logout?" + url.Values{"client_id": {app.ID}}.Encode()); p.StatusCode != 400 || !strings.Contains(p.Body, "invalid_request") {
				t.Errorf("%s: a logout naming the application by client_id alone: %d, want 400 invalid_request", name, p.StatusCode)
			}
			p := b.get(e.base + "/oauth/logout?" + url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {bye}, "state": {"s"}}.Encode())
			if p.StatusCode == 200 && strings.Contains(p.Body, `name="confirm"`) {
				p = b.post(e.base+"/oauth/logout", url.Values{"confirm": {p.hidden(t, "confirm")}, "id_token_hint": {idToken},
					"post_logout_redirect_uri": {bye}, "state": {"s"}})
			}
			if p.StatusCode != 200 || p.Header.Get("Location") != "" || !strings.Contains(p.Body, "Signed out") {
				t.Errorf("%s: the logout with the application's id_token: %d %q, want LoginSign's signed-out page:\n%s",
					name, p.StatusCode, p.Header.Get("Location"), p.Body)
			}
			if signedIn() {
				t.Errorf("%s: still signed in after confirming the sign-out", name)
			}
		}
	})
}

// A back-channel logout the receiver fails is retried by the outbox (the event stays pending
// with its attempt recorded) and each attempt carries a freshly signed logout token of the same
// jti, so its short exp never lapses between retries. /logout (LoginSign's own sign-out button)
// sends it too.
func TestBackChannelLogoutIsRetriedWithAFreshToken(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		rcv := newLogoutReceiver(t, http.StatusServiceUnavailable)
		e.updateApp(e.app, portal.ApplicationPatch{BackchannelLogoutURI: &rcv.URL})
		b := e.browser()
		e.signInIDToken(b, e.app, "n")
		other := e.createApp("Never Signed In", rpCallback)
		e.updateApp(other, portal.ApplicationPatch{BackchannelLogoutURI: &rcv.URL})

		if p := b.post(e.base+"/logout", url.Values{}); p.Request.URL.Path != "/login" {
			t.Fatalf("sign-out landed on %s", p.Request.URL)
		}
		ctx := context.Background()
		if _, err := e.srv.webhooks.Worker.DeliverDue(ctx); err != nil {
			t.Fatal(err)
		}
		evs, err := e.srv.db.WebhookEvent.Query().All(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 1 || evs[0].ApplicationID != e.app.ID || evs[0].Type != "backchannel_logout" ||
			evs[0].Status != "pending" || evs[0].Attempts != 1 || evs[0].LastStatusCode != 503 {
			t.Fatalf("after a 503: %d events %+v", len(evs), evs)
		}
		// The retry is due (as if its wait had passed), ten seconds on: its token must be signed
		// then, not replayed (RFC 6979 signatures: the same claims would give the same token).
		e.srv.oauth.Now = func() time.Time { return time.Now().Add(10 * time.Second) }
		if err := e.srv.db.WebhookEvent.UpdateOne(evs[0]).SetNextAttemptAt(time.Now().Add(-time.Second)).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := e.srv.webhooks.Worker.DeliverDue(ctx); err != nil {
			t.Fatal(err)
		}
		if ev, _ := e.srv.db.WebhookEvent.Get(ctx, evs[0].ID); ev.Status != "delivered" || ev.Attempts != 2 {
			t.Fatalf("after the retry: %s, %d attempts", ev.Status, ev.Attempts)
		}
		// The developer's manual redelivery works for it although the app has no webhook URL.
		e.srv.oauth.Now = func() time.Time { return time.Now().Add(20 * time.Second) }
		dev, _, _ := e.srv.identity.EnsureUser(ctx, "dev@example.com")
		if _, err := e.srv.webhooks.Redeliver(auth.WithSession(ctx, auth.Session{UserID: dev.ID}), e.app.ID, evs[0].ID); err != nil {
			t.Fatalf("redeliver: %v", err)
		}
		if _, err := e.srv.webhooks.Worker.DeliverDue(ctx); err != nil {
			t.Fatal(err)
		}
		rcv.mu.Lock()
		defer rcv.mu.Unlock()
		if len(rcv.body) != 3 {
			t.Fatalf("receiver got %d requests, want 3 (503, retry, redelivery)", len(rcv.body))
		}
		var jtis []string
		var iats []int64
		for _, body := range rcv.body {
			form, _ := url.ParseQuery(body)
			tok := form.Get("logout_token")
			raw, err := decodeSegment(strings.Split(tok, ".")[1])
			if err != nil {
				t.Fatal(err)
			}
			var c struct {
				JTI      string
				IAT, EXP int64
			}
			json.Unmarshal(raw, &c)
			if c.EXP-c.IAT != int64(oauth.LogoutTokenTTL/time.Second) {
				t.Errorf("a token lives %d s, want %s", c.EXP-c.IAT, oauth.LogoutTokenTTL)
			}
			jtis, iats = append(jtis, c.JTI), append(iats, c.IAT)
		}
		if rcv.body[0] == rcv.body[1] || rcv.body[1] == rcv.body[2] || jtis[0] == "" || jtis[0] != jtis[1] || jtis[2] != jtis[0] {
			t.Fatalf("attempts sent the same token or different jtis: %v", jtis)
		}
		if iats[1] < iats[0]+9 || iats[2] < iats[1]+9 {
			t.Fatalf("iat of the attempts %v: want each signed when sent, 10 s apart", iats)
		}
	})
}

// A session the person ends from the dashboard (one they do not recognise, say) takes its
// sign-ins to apps with it: each application signed in to since that session began gets a
// back-channel logout, as when the person signs out there themselves; ending a session that
// began after the app's last sign-in tells it nothing.
func TestEndingASessionFromTheDashboardLogsItsAppsOut(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	rcv := newLogoutReceiver(t)
	e.updateApp(e.app, portal.ApplicationPatch{BackchannelLogoutURI: &rcv.URL})
	laptop, phone, tablet := e.browser(), e.browser(), e.browser()
	laptop.signIn(laptop.get(e.base+"/login"), defaultTestEmail)
	e.signInIDToken(phone, e.app, "n") // signs in to LoginSign, then to the app
	tablet.signIn(tablet.get(e.base+"/login"), defaultTestEmail)

	data, errs := laptop.graphql(`{ viewer { sessions { id current createdAt } } }`, nil)
	if errs != nil {
		t.Fatal(errs)
	}
	var others []map[string]any
	for _, s := range data["viewer"].(map[string]any)["sessions"].([]any) {
		if s := s.(map[string]any); s["current"] != true {
			others = append(others, s)
		}
	}
	if len(others) != 2 {
		t.Fatalf("sessions %v, want the phone's and the tablet's", others)
	}
	// By time, not by text: a time's trailing zeros are left out ("…15.24Z"), and that text
	// sorts after "…15.246Z".
	began := func(s map[string]any) time.Time {
		at, err := time.Parse(time.RFC3339Nano, s["createdAt"].(string))
		if err != nil {
			t.Fatal(err)
		}
		return at
	}
	slices.SortFunc(others, func(a, b map[string]any) int { return began(a).Compare(began(b)) })
	phoneID, tabletID := others[0]["id"].(string), others[1]["id"].(string)
	delivered := func() int {
		t.Helper()
		if _, err := e.srv.webhooks.Worker.DeliverDue(context.Background()); err != nil {
			t.Fatal(err)
		}
		rcv.mu.Lock()
		defer rcv.mu.Unlock()
		return len(rcv.got)
	}

	revoke := `mutation($id: ID!) { revokeSession(input: {sessionId: $id}) { revokedSessionId } }`
	if _, errs := laptop.graphql(revoke, map[string]any{"id": tabletID}); errs != nil {
		t.Fatal(errs)
	}
	if n := delivered(); n != 0 {
		t.Fatalf("ending the tablet's session, which began after the app's sign-in, sent %d logouts", n)
	}
	if _, errs := laptop.graphql(revoke, map[string]any{"id": phoneID}); errs != nil {
		t.Fatal(errs)
	}
	if n := delivered(); n != 1 {
		t.Fatalf("ending the phone's session sent %d logouts, want 1 to the app it signed in to", n)
	}
	form, _ := url.ParseQuery(rcv.body[0])
	if form.Get("logout_token") == "" {
		t.Fatalf("the logout carries no token: %q", rcv.body[0])
	}

	// Signing out everywhere else does the same.
	e.signInIDToken(phone, e.app, "n2")
	if _, errs := laptop.graphql(`mutation { revokeOtherSessions(input: {}) { revokedSessions } }`, nil); errs != nil {
		t.Fatal(errs)
	}
	if n := delivered(); n != 2 {
		t.Fatalf("after signing out everywhere else: %d logouts, want 2", n)
	}
}
