package rest_test

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"net/http"
	"net/http/httptest"
	"path"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"loginsign/ent/appmember"
	"loginsign/internal/auth"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/portal"
	"loginsign/internal/profile"
	"loginsign/internal/ratelimit"
	"loginsign/internal/store/storetest"
	"loginsign/rest"
)

// The transport is the gate of the app-backend API: AppClient decides which application and
// which scope a request carries before any handler runs. These tests put a handler that only
// counts behind it, so a gate that lets a request through shows as a reached handler, whatever
// checks the domain would add behind it.

// gatedServer serves AppClient in front of a handler that counts the requests it is given and
// answers 204, for GET and PATCH of the app-backend routes.
func gatedServer(t *testing.T, api *rest.API) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var reached atomic.Int32
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		w.WriteHeader(http.StatusNoContent)
	})
	mux := http.NewServeMux()
	mux.Handle("GET /api/applications/{appId}/users", api.AppClient(next))
	mux.Handle("PATCH /api/applications/{appId}/users/{globalId}/status", api.AppClient(next))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, &reached
}

func gatedRequest(t *testing.T, srv *httptest.Server, method, path, authorization string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(`{"status":"PRO"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", authorization)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func TestAReadOnlyAppTokenReachesNoWritingRoute(t *testing.T) {
	t.Parallel()
	e := newRESTEnv(t, storetest.SQLite(t), kvtest.Embedded(t))
	app, secret, _ := e.client(t)
	cc := e.do(t, "POST", "/oauth/token", form, "grant_type=client_credentials&scope=app%3Ausers%3Aread",
		map[string]string{"Authorization": basic(app.ID, secret)}, nil)
	readOnly, _ := cc.body["access_token"].(string)
	if readOnly == "" {
		t.Fatalf("client_credentials: %v", cc.body)
	}
	srv, reached := gatedServer(t, e.api)

	if resp := gatedRequest(t, srv, "GET", "/api/applications/"+app.ID+"/users", "Bearer "+readOnly); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("GET with an app:users:read token: status %d, want the handler's 204", resp.StatusCode)
	}
	resp := gatedRequest(t, srv, "PATCH", "/api/applications/"+app.ID+"/users/usr_x/status", "Bearer "+readOnly)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `scope="app:users:write"`) {
		t.Errorf("PATCH with an app:users:read token: status %d, WWW-Authenticate %q; want 403 asking for app:users:write",
			resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	if n := reached.Load(); n != 1 {
		t.Errorf("the handler behind AppClient ran %d times, want once (the GET only)", n)
	}
}

func TestAppClientStopsAnotherApplicationsCredentialsBeforeTheHandler(t *testing.T) {
	t.Parallel()
	e := newRESTEnv(t, storetest.SQLite(t), kvtest.Embedded(t))
	app, _, _ := e.client(t)
	other, otherSecret, _ := e.client(t)
	srv, reached := gatedServer(t, e.api)
	for _, method := range []string{"GET", "PATCH"} {
		path := "/api/applications/" + app.ID + "/users"
		if method == "PATCH" {
			path += "/usr_x/status"
		}
		if resp := gatedRequest(t, srv, method, path, basic(other.ID, otherSecret)); resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s %s with another application's Basic credentials: status %d, want 403", method, path, resp.StatusCode)
		}
	}
	if n := reached.Load(); n != 0 {
		t.Errorf("the handler behind AppClient ran %d times for another application's credentials, want never", n)
	}
}

func TestAnAnonymousPictureUploadIsUnauthorizedWhateverItsSize(t *testing.T) {
	t.Parallel()
	api := &rest.API{}
	req := httptest.NewRequest(http.MethodPut, "/api/profile/picture", strings.NewReader("not read"))
	req.ContentLength = profile.MaxPictureBytes + 1
	rec := httptest.NewRecorder()
	api.UploadPicture(rec, req)
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("anonymous PUT /api/profile/picture announcing %d bytes: status %d (%s), want 401 before the size is judged",
			req.ContentLength, rec.Code, strings.TrimSpace(rec.Body.String()))
	}
}

// A support member reads the application in the portal as its team does, but not where its
// webhooks are delivered: GET /api/developer/applications/{appId} answers them the
// application as portal.AsViewer shows it, without the webhook URL.
func TestASupportMemberReadsNoWebhookURLOfTheApplication(t *testing.T) {
	t.Parallel()
	e := newRESTEnv(t, storetest.SQLite(t), kvtest.Embedded(t))
	ctx := context.Background()
	owner, err := e.identity.CreateUser(ctx, "owner@example.com", "Owner")
	if err != nil {
		t.Fatal(err)
	}
	support, err := e.identity.CreateUser(ctx, "support@example.com", "Support")
	if err != nil {
		t.Fatal(err)
	}
	const hook = "https://hooks.internal.example/in"
	created, err := e.api.Portal.CreateApplication(auth.WithSession(ctx, auth.Session{UserID: owner.ID, SignedInAt: time.Now()}),
		portal.ApplicationInput{Name: "Shop", RedirectURIs: []string{"https://shop.example/cb"}, WebhookURL: hook})
	if err != nil {
		t.Fatal(err)
	}
	app := created.Application
	if err := e.db.AppMember.Create().SetApplicationID(app.ID).SetUserID(support.ID).SetRole(appmember.RoleSupport).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	cookie := func(uid string) *http.Cookie {
		raw, err := e.identity.Sessions.Create(ctx, uid, "test", "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		return &http.Cookie{Name: "ls_session", Value: raw}
	}
	path := "/api/developer/applications/" + app.ID
	if a := e.do(t, "GET", path, "", "", nil, cookie(owner.ID)); a.status != http.StatusOK || a.body["webhookUrl"] != hook {
		t.Fatalf("the owner's GET %s: status %d, webhookUrl %v; want 200 and %s", path, a.status, a.body["webhookUrl"], hook)
	}
	a := e.do(t, "GET", path, "", "", nil, cookie(support.ID))
	if a.status != http.StatusOK || a.body["role"] != "support" {
		t.Fatalf("the support member's GET %s: status %d, %v; want 200 with role support", path, a.status, a.body)
	}
	if a.body["webhookUrl"] != nil {
		t.Errorf("the support member reads webhookUrl %v, want null", a.body["webhookUrl"])
	}
}

// OptionalBearer lets a request without Authorization through to the session routes, but a
// request that sends a Bearer token is judged by that token: an unknown one is 401
// invalid_token, never handed on as if it were a request of the session.
func TestOptionalBearerJudgesEveryTokenItIsSent(t *testing.T) {
	t.Parallel()
	e := newRESTEnv(t, storetest.SQLite(t), kvtest.Embedded(t))
	var reached atomic.Int32
	srv := httptest.NewServer(e.api.OptionalBearer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		w.WriteHeader(http.StatusNoContent)
	})))
	t.Cleanup(srv.Close)
	for _, tt := range []struct {
		authorization string
		status        int
	}{
		{"", http.StatusNoContent},
		{"Bearer lsat_unknown", http.StatusUnauthorized},
		{"Bearer a b", http.StatusBadRequest},
	} {
		if resp := gatedRequest(t, srv, "GET", "/api/user/licenses/subscriptions", tt.authorization); resp.StatusCode != tt.status {
			t.Errorf("Authorization %q: status %d, want %d", tt.authorization, resp.StatusCode, tt.status)
		}
	}
	if n := reached.Load(); n != 1 {
		t.Errorf("the handler behind OptionalBearer ran %d times, want once (the request without a token)", n)
	}
}

// POST /api/user takes its access token from the Authorization header or from the form body,
// one method only (RFC 6750 §2): a request that sends one each way is invalid_request, and
// neither token is looked up.
func TestUserInfoRefusesATokenSentBothWays(t *testing.T) {
	t.Parallel()
	e := newRESTEnv(t, storetest.SQLite(t), kvtest.Embedded(t))
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/user", e.api.User)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	req, err := http.NewRequest("POST", srv.URL+"/api/user", strings.NewReader("access_token=lsat_fromthebody"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", form)
	req.Header.Set("Authorization", "Bearer lsat_fromtheheader")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_request"`) {
		t.Fatalf("POST /api/user with a token in the header and one in the body: status %d, WWW-Authenticate %q; want 400 invalid_request",
			resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
}

// A Basic header that is not base64 of "client_id:client_secret" is a failed attempt like a
// wrong secret: it spends the address's budget of failures, so garbage headers cannot probe
// forever, and once the budget is spent the address is answered 429.
func TestMalformedBasicHeadersSpendTheAddresssFailureBudget(t *testing.T) {
	t.Parallel()
	e := newRESTEnv(t, storetest.SQLite(t), kvtest.Embedded(t))
	e.api.OAuth.Clients.Limits.FailuresPerAddress = ratelimit.Rule{Name: "client-fail:ip", N: 3, Window: time.Minute}
	app, _, _ := e.client(t)
	users := "/api/applications/" + app.ID + "/users"
	for i := range 3 {
		if a := e.do(t, "GET", users, "", "", map[string]string{"Authorization": "Basic !!!"}, nil); a.status != http.StatusUnauthorized {
			t.Fatalf("malformed Basic header %d: status %d %v, want 401", i+1, a.status, a.body)
		}
	}
	if a := e.do(t, "GET", users, "", "", map[string]string{"Authorization": "Basic !!!"}, nil); a.status != http.StatusTooManyRequests {
		t.Fatalf("a 4th malformed Basic header from the address with a budget of 3: status %d %v, want 429", a.status, a.body)
	}
}

// A stored picture is served as an image and nothing else: whatever bytes a person managed to
// store, nosniff and a sandboxing CSP keep a browser from running them on LoginSign's origin.
func TestAPictureIsServedSandboxed(t *testing.T) {
	t.Parallel()
	e := newRESTEnv(t, storetest.SQLite(t), kvtest.Embedded(t))
	ctx := context.Background()
	person, err := e.identity.CreateUser(ctx, "pic@example.com", "Pic")
	if err != nil {
		t.Fatal(err)
	}
	svc := profile.New(e.db, nil, "https://id.test.example", nil)
	svc.Limiter = nil
	var raw bytes.Buffer
	if err := png.Encode(&raw, image.NewGray(image.Rect(0, 0, 64, 64))); err != nil {
		t.Fatal(err)
	}
	v, err := svc.SetPicture(auth.WithSession(ctx, auth.Session{UserID: person.ID}), raw.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	api := &rest.API{Profiles: svc}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/pictures/x", nil)
	req.SetPathValue("pictureId", path.Base(v.PictureURL))
	api.Picture(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s: status %d %s", v.PictureURL, rec.Code, rec.Body.String())
	}
	for h, want := range map[string]string{"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'; sandbox"} {
		if got := rec.Header().Get(h); got != want {
			t.Errorf("GET %s: %s %q, want %q", v.PictureURL, h, got, want)
		}
	}
}
