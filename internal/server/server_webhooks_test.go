package server

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/internal/auth"
	"loginsign/internal/ids"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/mail/mailtest"
	"loginsign/internal/portal"
	"loginsign/internal/store/storetest"
	"loginsign/internal/webhooks"
)

// webhookReceiver records what LoginSign POSTs to a developer's endpoint.
type webhookReceiver struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []*receivedHook
}

type receivedHook struct {
	Header http.Header
	Body   string
}

func newWebhookReceiver(t *testing.T) *webhookReceiver {
	r := &webhookReceiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.reqs = append(r.reqs, &receivedHook{Header: req.Header.Clone(), Body: string(b)})
		r.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *webhookReceiver) received() []*receivedHook {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*receivedHook(nil), r.reqs...)
}

// signedBy checks the Standard Webhooks signature of h with secret, independently of the
// server's code.
func (h *receivedHook) signedBy(secret string) bool {
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "%s.%s.%s", h.Header.Get("webhook-id"), h.Header.Get("webhook-timestamp"), h.Body)
	want := "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
	for _, s := range strings.Fields(h.Header.Get("webhook-signature")) {
		if hmac.Equal([]byte(s), []byte(want)) {
			return true
		}
	}
	return false
}

type testServer struct {
	*Server
	url  string
	smtp *mailtest.Server
}

func startTestServer(t *testing.T, dbURL string) *testServer {
	t.Helper()
	smtp := mailtest.Start(t)
	cfg, err := loadConfig(nil, env(map[string]string{
		"DATABASE_URL": dbURL, "LOGINSIGN_DATA_DIR": t.TempDir(), "REDIS_URL": kvtest.URL(t),
		"LOGINSIGN_SMTP_URL": smtp.URL(), "LOGINSIGN_BASE_URL": "http://localhost:8080",
	}))
	if err != nil {
		t.Fatal(err)
	}
	s, err := newServer(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	hs := httptest.NewServer(validated(t, s.routes()))
	t.Cleanup(hs.Close)
	return &testServer{Server: s, url: hs.URL, smtp: smtp}
}

// session signs u in and returns the cookie header value.
func (s *testServer) session(t *testing.T, u *ent.User) string {
	t.Helper()
	raw, err := s.identity.Sessions.Create(context.Background(), u.ID, "test", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	return s.routesCookies().SessionName() + "=" + raw
}

func (s *testServer) routesCookies() interface{ SessionName() string } {
	return cookieNamer{!s.cfg.Dev}
}

type cookieNamer struct{ secure bool }

func (c cookieNamer) SessionName() string {
	if c.secure {
		return "__Host-ls_session"
	}
	return "ls_session"
}

func (s *testServer) do(t *testing.T, method, path, cookie string, body any) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.url+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (s *testServer) graphql(t *testing.T, cookie, query string, vars map[string]any) map[string]any {
	t.Helper()
	_, body := s.do(t, http.MethodPost, "/graphql", cookie, map[string]any{"query": query, "variables": vars})
	var out map[string]any
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatalf("graphql answer %s: %v", body, err)
	}
	return out
}

func (s *testServer) user(t *testing.T, email string) *ent.User {
	t.Helper()
	u, err := s.identity.CreateUser(context.Background(), email, "")
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func (s *testServer) app(t *testing.T, owner *ent.User, webhookURL string) *portal.CreatedApplication {
	t.Helper()
	ctx := auth.WithSession(context.Background(), auth.Session{UserID: owner.ID, SignedInAt: time.Now()})
	a, err := s.portal.CreateApplication(ctx, portal.ApplicationInput{Name: "Notes", WebhookURL: webhookURL,
		RedirectURIs: []string{"http://localhost:3000/callback"}})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func assertJSON(t *testing.T, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("not JSON: %s", got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want: %s", want)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if string(gb) != string(wb) {
		t.Errorf("got  %s\nwant %s", gb, wb)
	}
}

func TestWebhookPortalRESTAndGraphQL(t *testing.T) {
	t.Parallel()
	for backend, dbURL := range storetest.URLs(t) {
		t.Run(backend, func(t *testing.T) {
			s := startTestServer(t, dbURL)
			rcv := newWebhookReceiver(t)
			dev, stranger := s.user(t, "dev@example.com"), s.user(t, "stranger@example.com")
			created := s.app(t, dev, rcv.URL+"/hook")
			appID := created.Application.ID
			devCookie, strangerCookie := s.session(t, dev), s.session(t, stranger)
			base := "/api/developer/applications/" + appID + "/webhook"

			// The test button delivers a ping at once.
			status, body := s.do(t, http.MethodPost, base+"/test", devCookie, nil)
			if status != http.StatusOK {
				t.Fatalf("test: %d %s", status, body)
			}
			var ev struct {
				ID, Status string
				Attempts   int
				Deliveries []struct {
					Attempt    int
					StatusCode *int
				}
			}
			json.Unmarshal([]byte(body), &ev)
			if ev.Status != "delivered" || ev.Attempts != 1 || len(ev.Deliveries) != 1 || *ev.Deliveries[0].StatusCode != 200 {
				t.Fatalf("test answer %s", body)
			}
			hooks := rcv.received()
			if len(hooks) != 1 || hooks[0].Header.Get("webhook-id") != ev.ID || !hooks[0].signedBy(created.WebhookSecret) {
				t.Fatalf("receiver got %d requests; first signed: %v", len(hooks), len(hooks) > 0 && hooks[0].signedBy(created.WebhookSecret))
			}
			var ping map[string]any
			json.Unmarshal([]byte(hooks[0].Body), &ping)
			if ping["type"] != "ping" || ping["applicationId"] != appID || len(ping) != 3 {
				t.Errorf("ping body %s", hooks[0].Body)
			}

			// The delivery log, REST.
			status, body = s.do(t, http.MethodGet, base+"/events", devCookie, nil)
			var page struct {
				Events []struct {
					ID            string
					Status        string
					NextAttemptAt *string
					Payload       map[string]any
				}
				NextCursor *string
				TotalCount int
			}
			json.Unmarshal([]byte(body), &page)
			if status != 200 || len(page.Events) != 1 || page.Events[0].ID != ev.ID || page.Events[0].Payload["type"] != "ping" ||
				page.Events[0].NextAttemptAt != nil || page.NextCursor != nil || page.TotalCount != 1 {
				t.Fatalf("events: %d %s", status, body)
			}

			// Manual redelivery: same webhook-id, sent again at once (as a test event is, so
			// that the addresses it connects to count against the developer's budget of new
			// delivery targets); the answer is the event after that attempt.
			status, body = s.do(t, http.MethodPost, base+"/events/"+ev.ID+"/redeliver", devCookie, nil)
			if status != http.StatusAccepted || !strings.Contains(body, `"status":"delivered"`) {
				t.Fatalf("redeliver: %d %s", status, body)
			}
			if _, err := s.webhooks.Worker.DeliverDue(context.Background()); err != nil {
				t.Fatal(err)
			}
			hooks = rcv.received()
			if len(hooks) != 2 || hooks[1].Header.Get("webhook-id") != ev.ID || hooks[1].Body != hooks[0].Body {
				t.Fatalf("after redelivery the receiver has %d requests", len(hooks))
			}

			// Errors, in the documented shape.
			for _, tt := range []struct {
				name, method, path, cookie string
				status                     int
				body                       string
			}{
				{"no session", "GET", base + "/events", "", 401, `{"error":"unauthorized","message":"sign in first"}`},
				{"another developer's application", "GET", base + "/events", strangerCookie, 404, `{"error":"not_found","message":"application not found"}`},
				{"another developer redelivers", "POST", base + "/events/" + ev.ID + "/redeliver", strangerCookie, 404, `{"error":"not_found","message":"application not found"}`},
				{"another developer tests", "POST", base + "/test", strangerCookie, 404, `{"error":"not_found","message":"application not found"}`},
				{"unknown event", "POST", base + "/events/msg_nope/redeliver", devCookie, 404, `{"error":"not_found","message":"webhook event not found"}`},
				{"bad status filter", "GET", base + "/events?status=lost", devCookie, 400, `{"error":"invalid_request","message":"status must be pending, delivered, failed or disabled"}`},
				{"bad limit", "GET", base + "/events?limit=0", devCookie, 400, `{"error":"invalid_request","message":"limit must be a number from 1 to 100"}`},
				{"bad cursor", "GET", base + "/events?cursor=%21%21", devCookie, 400, `{"error":"invalid_request","message":"cursor is not one this API returned"}`},
			} {
				t.Run(tt.name, func(t *testing.T) {
					status, body := s.do(t, tt.method, tt.path, tt.cookie, nil)
					if status != tt.status {
						t.Errorf("status %d, want %d (%s)", status, tt.status, body)
					}
					assertJSON(t, body, tt.body)
				})
			}

			// Paging through REST with the cursor.
			for range 3 {
				s.do(t, http.MethodPost, base+"/test", devCookie, nil)
			}
			seen := map[string]bool{}
			next := base + "/events?limit=3"
			for pages := 0; next != ""; pages++ {
				if pages > 3 {
					t.Fatal("paging does not end")
				}
				_, body := s.do(t, http.MethodGet, next, devCookie, nil)
				page.NextCursor = nil
				json.Unmarshal([]byte(body), &page)
				for _, e := range page.Events {
					seen[e.ID] = true
				}
				next = ""
				if page.NextCursor != nil {
					next = base + "/events?limit=3&cursor=" + url.QueryEscape(*page.NextCursor)
				}
			}
			if len(seen) != 4 {
				t.Errorf("paging saw %d events, want 4", len(seen))
			}

			// The delivery log, GraphQL: the same rule. Statuses are UPPER_SNAKE; the stored
			// lower_snake spelling is still accepted as input for one release (deprecated).
			var out map[string]any
			for _, status := range []string{"DELIVERED", "delivered"} {
				q := `query($id: ID!) { node(id: $id) { ... on Application { webhookEvents(first: 10, status: ` + status + `) {
				totalCount edges { node { id type status attempts deliveries(first: 10) { totalCount edges { node { attempt statusCode } } } } } } } } }`
				out = s.graphql(t, devCookie, q, map[string]any{"id": appID})
				if out["errors"] != nil {
					t.Fatalf("graphql: %v", out)
				}
				conn := out["data"].(map[string]any)["node"].(map[string]any)["webhookEvents"].(map[string]any)
				if conn["totalCount"].(float64) != 4 || conn["edges"].([]any)[0].(map[string]any)["node"].(map[string]any)["status"] != "DELIVERED" {
					t.Errorf("webhookEvents(status: %s): %v", status, conn)
				}
			}
			// A person connected to the app reaches the Application through their connection,
			// but not its delivery log.
			person := s.user(t, "person@example.com")
			s.db.AppConnection.Create().SetUserID(person.ID).SetApplicationID(appID).
				SetAliasEmail(ids.RandomLower(10) + "@relay.localhost").SaveX(context.Background())
			out = s.graphql(t, s.session(t, person), `{ viewer { connections(first: 10) { edges { node { application {
				webhookEvents { totalCount } } } } } } }`, nil)
			errs, _ := json.Marshal(out["errors"])
			assertJSON(t, string(errs), `[{"message":"application not found","locations":[{"column":5,"line":2}],"path":["viewer","connections","edges",0,"node","application","webhookEvents"],"extensions":{"code":"not_found"}}]`)
			out = s.graphql(t, devCookie, `mutation($a: ID!, $e: ID!) { retryWebhookEvent(input: {applicationId: $a, eventId: $e}) { event { id status } } }`,
				map[string]any{"a": appID, "e": ev.ID})
			if out["errors"] != nil || !strings.Contains(fmt.Sprint(out["data"]), "status:DELIVERED") {
				t.Errorf("retryWebhookEvent: %v", out)
			}
			out = s.graphql(t, strangerCookie, `mutation($a: ID!) { pingWebhook(input: {applicationId: $a}) { event { id } } }`, map[string]any{"a": appID})
			errs, _ = json.Marshal(out["errors"])
			assertJSON(t, string(errs), `[{"message":"application not found","locations":[{"column":21,"line":1}],"path":["pingWebhook"],"extensions":{"code":"not_found"}}]`)
		})
	}
}

var verifyLinkRE = regexp.MustCompile(`http://localhost:8080(/dashboard/emails/verify\?token=\S+)`)

// TestDashboardOperationsDeliverTheDocumentedBodies drives the person's dashboard mutations
// through GraphQL and compares what the developer's receiver gets with the documented JSON.
func TestDashboardOperationsDeliverTheDocumentedBodies(t *testing.T) {
	t.Parallel()
	for backend, dbURL := range storetest.URLs(t) {
		t.Run(backend, func(t *testing.T) {
			s := startTestServer(t, dbURL)
			rcv := newWebhookReceiver(t)
			dev := s.user(t, "dev@example.com")
			person := s.user(t, "person@example.com")
			apps := []*portal.CreatedApplication{s.app(t, dev, rcv.URL+"/a"), s.app(t, dev, rcv.URL+"/b"), s.app(t, dev, rcv.URL+"/c")}
			conns := make([]*ent.AppConnection, 3)
			for i, a := range apps {
				c := s.db.AppConnection.Create().SetUserID(person.ID).SetApplicationID(a.Application.ID).
					SetAliasEmail(ids.RandomLower(10) + "@relay.localhost")
				if i == 1 {
					c.SetAppEmail("person@example.com") // shown the real address
				}
				conns[i] = c.SaveX(context.Background())
			}
			cookie := s.session(t, person)
			deliver := func() []*receivedHook {
				t.Helper()
				if _, err := s.webhooks.Worker.DeliverDue(context.Background()); err != nil {
					t.Fatal(err)
				}
				return rcv.received()
			}
			gql := func(q string, vars map[string]any) map[string]any {
				t.Helper()
				out := s.graphql(t, cookie, q, vars)
				if out["errors"] != nil {
					t.Fatalf("%s: %v", q, out["errors"])
				}
				return out["data"].(map[string]any)
			}

			// Mute and unmute: no event.
			gql(`mutation($c: ID!) { setAppEmailMuted(input: {connectionId: $c, muted: true}) { connection { emailMuted } } }`, map[string]any{"c": conns[0].ID})
			gql(`mutation($c: ID!) { setAppEmailMuted(input: {connectionId: $c, muted: false}) { connection { emailMuted } } }`, map[string]any{"c": conns[0].ID})
			if n := len(deliver()); n != 0 {
				t.Fatalf("muting sent %d webhooks", n)
			}

			// Alternative address, verified through the mailed link's page, then made primary.
			added := gql(`mutation($c: String) { addEmail(input: {email: "new@example.org", code: $c}) { userEmail { id verifiedAt } } }`, map[string]any{"c": s.changeCode(t, cookie)})["addEmail"].(map[string]any)["userEmail"].(map[string]any)
			link := verifyLinkRE.FindStringSubmatch(s.smtp.Wait(t, 1)[0].Text)
			if link == nil {
				t.Fatal("no verification link in the mail")
			}
			// Signed out, the page only offers to sign in; the form posts from the account's session.
			if status, page := s.do(t, http.MethodGet, link[1], "", nil); status != 200 || strings.Contains(page, "<form") ||
				!strings.Contains(page, "/login?return_to=") {
				t.Fatalf("signed-out verify page: %d %s", status, page)
			}
			status, page := s.do(t, http.MethodGet, link[1], cookie, nil)
			if status != 200 || !strings.Contains(page, `<form method="post" action="/dashboard/emails/verify">`) {
				t.Fatalf("verify page: %d %s", status, page)
			}
			token, _ := url.Parse(link[1])
			postVerify := func(cookie string) (int, string) {
				req, _ := http.NewRequest(http.MethodPost, s.url+"/dashboard/emails/verify",
					strings.NewReader(url.Values{"token": {token.Query().Get("token")}}.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				if cookie != "" {
					req.Header.Set("Cookie", cookie)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(b)
			}
			if status, body := postVerify(""); status != 401 || !strings.Contains(body, "/login?return_to=") {
				t.Fatalf("signed-out confirm: %d %s", status, body)
			}
			if status, confirmed := postVerify(cookie); status != 200 || !strings.Contains(confirmed, "new@example.org is now linked") {
				t.Fatalf("confirm: %d %s", status, confirmed)
			}
			if status, _ := postVerify(cookie); status != 400 {
				t.Errorf("second use of the link: %d, want 400", status)
			}
			gql(`mutation($e: ID!, $c: String) { setPrimaryEmail(input: {emailId: $e, code: $c}) { user { email } } }`, map[string]any{"e": added["id"], "c": s.changeCode(t, cookie)})
			hooks := deliver()
			if len(hooks) != 1 {
				t.Fatalf("primary change sent %d webhooks, want 1", len(hooks))
			}
			var changed map[string]any
			json.Unmarshal([]byte(hooks[0].Body), &changed)
			assertJSON(t, hooks[0].Body, fmt.Sprintf(`{"type":"email_changed","applicationId":%q,"connectionId":%q,"userId":%q,
				"aliasEmail":%q,"oldEmail":"person@example.com","newEmail":"new@example.org","changedAt":%q,"reason":"user_email_change"}`,
				apps[1].Application.ID, conns[1].ID, person.GlobalID, conns[1].AliasEmail, changed["changedAt"]))
			if !hooks[0].signedBy(apps[1].WebhookSecret) {
				t.Error("email_changed not signed with the app's secret")
			}

			// Remove one app.
			gql(`mutation($c: ID!) { disconnectApp(input: {connectionId: $c}) { deletedConnectionId } }`, map[string]any{"c": conns[0].ID})
			hooks = deliver()[1:]
			if len(hooks) != 1 {
				t.Fatalf("removal sent %d webhooks, want 1", len(hooks))
			}
			var removed map[string]any
			json.Unmarshal([]byte(hooks[0].Body), &removed)
			assertJSON(t, hooks[0].Body, fmt.Sprintf(`{"type":"connection_deleted","connectionId":%q,"userId":%q,"aliasEmail":%q,
				"applicationId":%q,"reason":null,"deletedAt":%q}`, conns[0].ID, person.GlobalID, conns[0].AliasEmail,
				apps[0].Application.ID, removed["deletedAt"]))
			if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`).MatchString(fmt.Sprint(removed["deletedAt"])) {
				t.Errorf("deletedAt %v is not ISO 8601 UTC with milliseconds", removed["deletedAt"])
			}

			// Delete the account: one user_account_deleted per remaining connection.
			out := s.graphql(t, cookie, `mutation($c: String) { closeAccount(input: {confirmGlobalId: "XX0000", code: $c}) { endedConnections } }`, map[string]any{"c": s.changeCode(t, cookie)})
			if out["errors"] == nil {
				t.Fatal("closeAccount without the right confirmation succeeded")
			}
			data := gql(`mutation($g: String!, $c: String) { closeAccount(input: {confirmGlobalId: $g, code: $c}) { endedConnections } }`, map[string]any{"g": person.GlobalID, "c": s.changeCode(t, cookie)})
			if n := data["closeAccount"].(map[string]any)["endedConnections"].(float64); n != 2 {
				t.Errorf("endedConnections %v, want 2", n)
			}
			hooks = deliver()[2:]
			if len(hooks) != 2 {
				t.Fatalf("account deletion sent %d webhooks, want 2", len(hooks))
			}
			got := map[string]string{}
			for _, h := range hooks {
				var m map[string]any
				json.Unmarshal([]byte(h.Body), &m)
				got[fmt.Sprint(m["applicationId"])] = h.Body
			}
			for _, i := range []int{1, 2} {
				assertJSON(t, got[apps[i].Application.ID], fmt.Sprintf(`{"type":"user_account_deleted","applicationId":%q,
					"connectionId":%q,"userId":%q,"aliasEmail":%q}`, apps[i].Application.ID, conns[i].ID, person.GlobalID, conns[i].AliasEmail))
			}
			// The session ended with the account.
			out = s.graphql(t, cookie, `{ viewer { id } }`, nil)
			if v := out["data"].(map[string]any)["viewer"]; v != nil {
				t.Errorf("viewer after deletion: %v", v)
			}
		})
	}
}

// TestServeDeliversEventsCommittedWhileItWasDown: a change and its event are committed, the
// server dies before delivering, and the next `loginsign serve` on the same database delivers
// the event (its worker starts with the server and stops with it).
func TestServeDeliversEventsCommittedWhileItWasDown(t *testing.T) {
	t.Parallel()
	for backend, dbURL := range storetest.URLs(t) {
		t.Run(backend, func(t *testing.T) {
			rcv := newWebhookReceiver(t)
			e := env(map[string]string{
				"LOGINSIGN_ADDR": "127.0.0.1:0", "DATABASE_URL": dbURL, "LOGINSIGN_DATA_DIR": t.TempDir(),
				"REDIS_URL": kvtest.URL(t), "LOGINSIGN_LOG_LEVEL": "error",
			})
			var out bytes.Buffer
			if err := Run(context.Background(), []string{"apps", "create", "--owner", "dev@example.com", "--name", "Notes",
				"--redirect-uri", "http://localhost:3000/cb", "--webhook-url", rcv.URL, "--json"}, e, &out, io.Discard); err != nil {
				t.Fatal(err)
			}
			var app struct{ ID, WebhookSecret string }
			json.Unmarshal(out.Bytes(), &app)

			// The committed change's event, written while no server runs.
			db := storetest.Open(t, dbURL)
			a := db.Application.GetX(context.Background(), app.ID)
			var eventID string
			err := db.Tx(context.Background(), func(tx *ent.Tx) error {
				ev, err := webhooks.Enqueue(context.Background(), tx, a, webhooks.TypeUserAccountDeleted,
					webhooks.UserAccountDeleted{Type: webhooks.TypeUserAccountDeleted, ApplicationID: a.ID,
						ConnectionID: "con_x", UserID: "AB1234", AliasEmail: "x9s8d7@relay.localhost"}, time.Now())
				if ev != nil {
					eventID = ev.ID
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}

			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- Run(ctx, []string{"serve"}, e, io.Discard, io.Discard) }()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("serve: %v", err)
				}
			}()
			deadline := time.Now().Add(20 * time.Second)
			for len(rcv.received()) == 0 {
				if time.Now().After(deadline) {
					t.Fatal("the restarted server did not deliver the event")
				}
				time.Sleep(20 * time.Millisecond)
			}
			h := rcv.received()[0]
			if h.Header.Get("webhook-id") != eventID || !h.signedBy(app.WebhookSecret) {
				t.Errorf("got webhook-id %s (want %s), signed: %v", h.Header.Get("webhook-id"), eventID, h.signedBy(app.WebhookSecret))
			}
			assertJSON(t, h.Body, fmt.Sprintf(`{"type":"user_account_deleted","applicationId":%q,"connectionId":"con_x",
				"userId":"AB1234","aliasEmail":"x9s8d7@relay.localhost"}`, app.ID))
		})
	}
}
