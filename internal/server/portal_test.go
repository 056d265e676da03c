package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/ent/appconnection"
	"loginsign/ent/application"
	"loginsign/ent/importsource"
	"loginsign/ent/retiredalias"
	"loginsign/ent/webhookevent"
	"loginsign/internal/connections"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/store/storetest"
)

// portalEnv is a running server on one backend with helpers to act as signed-in people.
type portalEnv struct {
	t   *testing.T
	srv *Server
	url string
}

// forEachBackend runs fn against a fresh server on SQLite and, when configured, PostgreSQL.
func forEachBackend(t *testing.T, fn func(t *testing.T, e *portalEnv)) {
	for name, dbURL := range storetest.URLs(t) {
		t.Run(name, func(t *testing.T) {
			cfg, err := loadConfig(nil, env(map[string]string{
				"DATABASE_URL": dbURL, "REDIS_URL": kvtest.URL(t), "LOGINSIGN_DATA_DIR": t.TempDir(),
			}))
			if err != nil {
				t.Fatal(err)
			}
			s, err := newServer(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(s.Close)
			hs := httptest.NewServer(validated(t, s.routes()))
			t.Cleanup(hs.Close)
			fn(t, &portalEnv{t: t, srv: s, url: hs.URL})
		})
	}
}

// person is a LoginSign account, signed in when cookie is set.
type person struct {
	e      *portalEnv
	user   *ent.User
	cookie string
}

func (e *portalEnv) person(email, name string, signedIn bool) *person {
	e.t.Helper()
	u, err := e.srv.identity.CreateUser(context.Background(), email, name)
	if err != nil {
		e.t.Fatal(err)
	}
	p := &person{e: e, user: u}
	if signedIn {
		p.cookie, err = e.srv.identity.Sessions.Create(context.Background(), u.ID, "test", "127.0.0.1")
		if err != nil {
			e.t.Fatal(err)
		}
	}
	return p
}

// anonymous is a caller without a session.
func (e *portalEnv) anonymous() *person { return &person{e: e} }

// do sends a request and returns the status and body. body may be a string (sent as is, with
// contentType) or a value encoded as JSON.
func (p *person) do(method, path string, body any, contentType ...string) (int, []byte) {
	p.e.t.Helper()
	var r io.Reader
	ct := "application/json"
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			p.e.t.Fatal(err)
		}
		r = bytes.NewReader(j)
	}
	if len(contentType) > 0 {
		ct = contentType[0]
	}
	req, err := http.NewRequest(method, p.e.url+path, r)
	if err != nil {
		p.e.t.Fatal(err)
	}
	if r != nil && ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if p.cookie != "" {
		req.AddCookie(&http.Cookie{Name: "ls_session", Value: p.cookie})
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		p.e.t.Fatal(err)
	}
	return resp.StatusCode, out
}

// json sends a request, checks the status and decodes the answer into a generic value.
func (p *person) json(method, path string, body any, want int) map[string]any {
	p.e.t.Helper()
	status, out := p.do(method, path, body)
	if status != want {
		p.e.t.Fatalf("%s %s = %d %s, want %d", method, path, status, out, want)
	}
	var v map[string]any
	if err := json.Unmarshal(out, &v); err != nil {
		p.e.t.Fatalf("%s %s: %v in %s", method, path, err, out)
	}
	return v
}

// gqlResult is a GraphQL answer.
type gqlResult struct {
	Data   map[string]any `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Path       []any          `json:"path"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

// code is the extensions.code of the first error, or "".
func (g gqlResult) code() string {
	if len(g.Errors) == 0 {
		return ""
	}
	c, _ := g.Errors[0].Extensions["code"].(string)
	return c
}

func (p *person) gql(query string, vars map[string]any) gqlResult {
	p.e.t.Helper()
	status, out := p.do("POST", "/graphql", map[string]any{"query": query, "variables": vars})
	if status != http.StatusOK {
		p.e.t.Fatalf("graphql = %d %s", status, out)
	}
	var g gqlResult
	if err := json.Unmarshal(out, &g); err != nil {
		p.e.t.Fatalf("graphql: %v in %s", err, out)
	}
	return g
}

// mustGQL runs query and fails on any error.
func (p *person) mustGQL(query string, vars map[string]any) map[string]any {
	p.e.t.Helper()
	g := p.gql(query, vars)
	if len(g.Errors) > 0 {
		p.e.t.Fatalf("graphql errors: %+v", g.Errors)
	}
	return g.Data
}

// createApp registers an application through REST and returns its id.
func (p *person) createApp(name string, webhook bool) string {
	p.e.t.Helper()
	body := map[string]any{"name": name, "redirectUris": []string{"https://" + strings.ToLower(name) + ".example.com/cb"}}
	if webhook {
		body["webhookUrl"] = "https://" + strings.ToLower(name) + ".example.com/hook"
	}
	v := p.json("POST", "/api/developer/applications", body, http.StatusCreated)
	return v["id"].(string)
}

// connect links who to appID the way sign-in does, with some counters.
func (e *portalEnv) connect(who *person, appID string, set ...func(*ent.AppConnectionCreate)) *ent.AppConnection {
	e.t.Helper()
	var c *ent.AppConnection
	err := e.srv.db.Tx(context.Background(), func(tx *ent.Tx) error {
		var err error
		c, err = connections.Create(context.Background(), tx, who.user.ID, appID, e.srv.cfg.RelayDomain, e.srv.now(), set...)
		if err != nil {
			return err
		}
		// As a sign-in leaves it: the person granted the default scopes (so the name shows).
		return tx.Consent.Create().SetConnectionID(c.ID).SetScopes([]string{"openid", "email", "profile"}).Exec(context.Background())
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// snapshot is the portal state a refused request must leave untouched.
type snapshot struct {
	Apps, Connections, Sources, Retired, Events int
	AppUpdated                                  []string
	Conns                                       []string
}

func (e *portalEnv) snapshot() snapshot {
	e.t.Helper()
	ctx := context.Background()
	db := e.srv.db
	var s snapshot
	var err error
	must := func(n int, err2 error) int {
		if err2 != nil {
			err = err2
		}
		return n
	}
	s.Apps = must(db.Application.Query().Count(ctx))
	s.Connections = must(db.AppConnection.Query().Count(ctx))
	s.Sources = must(db.ImportSource.Query().Count(ctx))
	s.Retired = must(db.RetiredAlias.Query().Count(ctx))
	s.Events = must(db.WebhookEvent.Query().Count(ctx))
	apps, err2 := db.Application.Query().Order(ent.Asc(application.FieldID)).All(ctx)
	if err2 != nil {
		e.t.Fatal(err2)
	}
	for _, a := range apps {
		s.AppUpdated = append(s.AppUpdated, fmt.Sprintf("%s %s %s %x %v %s", a.ID, a.Name, a.SecretHash, a.WebhookSecret, a.RedirectUris, a.UpdatedAt))
	}
	conns, err2 := db.AppConnection.Query().Order(ent.Asc(appconnection.FieldID)).WithUser().All(ctx)
	if err2 != nil {
		e.t.Fatal(err2)
	}
	for _, c := range conns {
		s.Conns = append(s.Conns, fmt.Sprintf("%s %s %v %s %s", c.ID, c.AppEmail, c.IsForwarding, c.UpdatedAt, c.Edges.User.Email))
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

func (e *portalEnv) sameSnapshot(before snapshot, what string) {
	e.t.Helper()
	after := e.snapshot()
	b, _ := json.Marshal(before)
	a, _ := json.Marshal(after)
	if !bytes.Equal(a, b) {
		e.t.Errorf("%s changed the data:\nbefore %s\nafter  %s", what, b, a)
	}
}

var (
	_ = importsource.Table
	_ = retiredalias.Table
	_ = webhookevent.Table
	_ = time.Second
)
