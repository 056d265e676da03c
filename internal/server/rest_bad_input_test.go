package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	"github.com/getkin/kin-openapi/openapi3"

	"loginsign/internal/openapi"
)

// TestRESTBadInput sweeps every operation of the OpenAPI document with input that violates
// what the document declares (bodies, form fields, path and query parameters), sent with each
// kind of credential the operation accepts so that it reaches the input handling. Every
// answer is below 500 and arrives (no panic, no dropped connection); every 4xx is in the
// documented shape (validated checks the document; JSON errors carry an "error" code); and a
// refused request changes no row of any table. The cases are generated from the document, so
// a new route is swept without being listed here.
func TestRESTBadInput(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		fx := newBadInputFixture(t, e)
		doc, err := openapi.Load()
		if err != nil {
			t.Fatal(err)
		}
		ops := sweptOperations(doc)
		client := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}}
		// Cases the generator cannot tell are bad, with the exact answer (first: the export is
		// rate limited, and the sweep uses its budget up).
		app := "/api/developer/applications/" + e.app.ID
		long := strings.Repeat("r", 101)
		for _, tc := range []struct {
			name, method, path string
			cookie             *http.Cookie
			status             int
			prefix             string
		}{
			{"a users filter on a region longer than any stored", "GET", app + "/users?region=" + long, fx.devCookie, 400,
				`{"error":"invalid_request","message":"region is longer than 100 characters"}`},
			{"an export filter on a region longer than any stored", "GET", app + "/users/export?region=" + long, fx.devCookie, 400,
				`{"error":"invalid_request","message":"region is longer than 100 characters"}`},
			{"a picture path with a NUL", "GET", "/pictures/x%00y", nil, 400, `{"error":"invalid_request","message":"the path contains a NUL character"}`},
			{"a picture path that is not UTF-8", "GET", "/pictures/%ff", nil, 400, `{"error":"invalid_request","message":"the path is not valid UTF-8"}`},
		} {
			req, _ := http.NewRequest(tc.method, e.base+tc.path, nil)
			if tc.cookie != nil {
				req.AddCookie(tc.cookie)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			out, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || !strings.HasPrefix(string(out), tc.prefix) {
				t.Errorf("%s: = %d %.300s, want %d %s", tc.name, resp.StatusCode, out, tc.status, tc.prefix)
			}
		}

		before := fx.fingerprint()
		var sent, refused, changed int
		var accepted []string
		statuses := map[string]map[int]int{}
		for _, op := range ops {
			for _, c := range badInputCases(op, fx) {
				for _, cred := range fx.credentials(op) {
					name := fmt.Sprintf("%s %s [%s] %s", op.method, op.path, cred.name, c.name)
					status, ct, body, err := fx.send(client, op, c, cred)
					sent++
					key := op.method + " " + op.path + " [" + cred.name + "]"
					if statuses[key] == nil {
						statuses[key] = map[int]int{}
					}
					statuses[key][status]++
					switch {
					case err != nil:
						t.Errorf("%s: no answer (dropped connection or panic): %v", name, err)
						continue
					case status >= 500:
						t.Errorf("%s: %d %.300s", name, status, body)
					case status >= 400:
						refused++
						checkErrorShape(t, name, op, status, ct, body)
					case status < 300:
						accepted = append(accepted, fmt.Sprintf("%s: %d", name, status))
					}
					after := fx.fingerprintAfter(before)
					diff := before.diff(after)
					switch {
					case status >= 400 && diff != "":
						t.Errorf("%s: refused with %d but changed %s", name, status, diff)
					case diff != "":
						changed++
					}
					before = after
				}
			}
		}
		t.Logf("%d operations, %d requests, %d refused, %d accepted and changed data", len(ops), sent, refused, changed)
		if testing.Verbose() {
			keys := make([]string, 0, len(statuses))
			for k := range statuses {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				t.Logf("statuses %s: %v", k, statuses[k])
			}
			// Accepted despite the case: the review list (an ignored unknown query
			// parameter, a cleared optional field, the first of repeated parameters).
			for _, a := range accepted {
				t.Logf("accepted: %s", a)
			}
		}
	})
}

// sweptOperation is one operation of the document.
type sweptOperation struct {
	path, method string
	op           *openapi3.Operation
	params       openapi3.Parameters // path-item and operation parameters
}

// sweptOperations lists the document's operations in a fixed order: the destructive ones
// (DELETE) last, so that a bad input they accept cannot remove what the others use.
func sweptOperations(doc *openapi3.T) []sweptOperation {
	var ops []sweptOperation
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			params := slices.Clone(item.Parameters)
			params = append(params, op.Parameters...)
			ops = append(ops, sweptOperation{path: path, method: method, op: op, params: params})
		}
	}
	sort.Slice(ops, func(i, j int) bool {
		di, dj := ops[i].method == http.MethodDelete, ops[j].method == http.MethodDelete
		if di != dj {
			return dj
		}
		if ops[i].path != ops[j].path {
			return ops[i].path < ops[j].path
		}
		return ops[i].method < ops[j].method
	})
	return ops
}

// badInputFixture is the data the sweep's valid parts refer to, and the credentials.
type badInputFixture struct {
	t              *testing.T
	e              *oauthEnv
	devCookie      *http.Cookie // dev@example.com, owner of e.app
	personCookie   *http.Cookie // ann@example.com, connected to e.app
	personBearer   string       // ann's access token (authorization-code flow)
	appBearer      string       // a client_credentials token of e.app
	formToken      string       // a token for the revoke/introspect forms (not one used to authenticate)
	pathValues     map[string]string
	otherPrefixIDs map[string]string
	// version is, on SQLite, a connection of the fixture's own to the database, whose PRAGMA
	// data_version changes when another connection commits (lastVersion: its last value).
	version     *sql.Conn
	lastVersion int64
}

func newBadInputFixture(t *testing.T, e *oauthEnv) *badInputFixture {
	t.Helper()
	ctx := context.Background()
	fx := &badInputFixture{t: t, e: e}
	if e.srv.db.Dialect == dialect.SQLite {
		var seq int
		var name, file string
		if err := e.srv.db.SQL.QueryRowContext(ctx, `PRAGMA database_list`).Scan(&seq, &name, &file); err != nil {
			t.Fatal(err)
		}
		raw, err := sql.Open("sqlite", "file:"+file+"?_pragma=busy_timeout(10000)")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { raw.Close() })
		if fx.version, err = raw.Conn(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { fx.version.Close() })
		fx.wrote()
	}
	b := e.browser()
	code, verifier := e.authorizeCode(b, defaultTestEmail)
	st, body, _ := e.tokenRequest(e.app, url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {rpCallback}, "code_verifier": {verifier}})
	if st != 200 {
		t.Fatalf("code exchange: %d %v", st, body)
	}
	fx.personBearer = body["access_token"].(string)
	base, _ := url.Parse(e.base)
	for _, c := range b.Jar.Cookies(base) {
		if strings.Contains(c.Name, "session") {
			fx.personCookie = &http.Cookie{Name: c.Name, Value: c.Value}
		}
	}
	if fx.personCookie == nil {
		t.Fatal("no session cookie after sign-in")
	}
	dev, _, err := e.srv.identity.EnsureUser(ctx, "dev@example.com")
	if err != nil {
		t.Fatal(err)
	}
	v, err := e.srv.identity.Sessions.Create(ctx, dev.ID, "test", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	fx.devCookie = &http.Cookie{Name: fx.personCookie.Name, Value: v}
	fx.appBearer = e.clientToken(e.app)
	fx.formToken = e.clientToken(e.app)

	ann := e.userByEmail(defaultTestEmail)
	annUser, err := e.srv.db.User.Get(ctx, ann.ID)
	if err != nil {
		t.Fatal(err)
	}
	app := "/api/developer/applications/" + e.app.ID
	variant := fx.devJSON("POST", app+"/licenses/variants", map[string]any{"name": "Sweep"}, 201)["id"].(string)
	fx.devJSON("POST", app+"/licenses/codes/generate", map[string]any{"variantId": variant, "count": 1}, 201)
	codes := fx.devJSON("GET", app+"/licenses/codes", nil, 200)["codes"].([]any)
	source := fx.devJSON("POST", app+"/import-existing-users/csv", map[string]any{"users": []any{
		map[string]any{"externalUserId": "1", "email": "imported@example.com"}}}, 200)["sourceId"].(string)
	inv := fx.devJSON("POST", app+"/members/invitations", map[string]any{"email": "zed@example.com", "role": "developer"}, 201)
	fx.pathValues = map[string]string{
		"appId":        e.app.ID,
		"globalId":     annUser.GlobalID,
		"connectionId": e.connectionOf(ctx, ann.ID),
		"sourceId":     source,
		"variantId":    variant,
		"codeId":       codes[0].(map[string]any)["id"].(string),
		"invitationId": inv["invitation"].(map[string]any)["id"].(string),
		"userId":       ann.ID,
		"eventId":      "evt_none",
		"pictureId":    "pic_none",
	}
	// An id of another kind in each parameter: the application's id where a connection is
	// wanted, and a connection's id everywhere else.
	fx.otherPrefixIDs = map[string]string{}
	for k := range fx.pathValues {
		fx.otherPrefixIDs[k] = fx.pathValues["connectionId"]
	}
	fx.otherPrefixIDs["connectionId"] = e.app.ID
	return fx
}

// devJSON sends a request as the developer and decodes the answer.
func (fx *badInputFixture) devJSON(method, path string, body any, want int) map[string]any {
	fx.t.Helper()
	var r io.Reader
	if body != nil {
		j, _ := json.Marshal(body)
		r = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, fx.e.base+path, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.AddCookie(fx.devCookie)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fx.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	var v map[string]any
	if resp.StatusCode != want || json.Unmarshal(out, &v) != nil {
		fx.t.Fatalf("%s %s = %d %s, want %d", method, path, resp.StatusCode, out, want)
	}
	return v
}

// sweepCredential is one way to authenticate a request.
type sweepCredential struct {
	name  string
	apply func(*http.Request)
}

// credentials are the real credentials of each kind op accepts. An empty alternative
// (anonymous) is skipped when the operation accepts a credential: it would test only the
// refusal of the missing credential. Operations without security are sent anonymously and
// with the person's session (the pages behave differently for a signed-in person).
func (fx *badInputFixture) credentials(op sweptOperation) []sweepCredential {
	cookie := func(c *http.Cookie) func(*http.Request) { return func(r *http.Request) { r.AddCookie(c) } }
	bearer := func(tok string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
	}
	session := fx.personCookie
	if strings.HasPrefix(op.path, "/api/developer/") {
		session = fx.devCookie
	}
	var out []sweepCredential
	if op.op.Security != nil {
		for _, req := range *op.op.Security {
			for scheme := range req {
				switch scheme {
				case "session":
					out = append(out, sweepCredential{"session", cookie(session)})
				case "bearer":
					out = append(out, sweepCredential{"bearer", bearer(fx.personBearer)})
				case "appBearer":
					out = append(out, sweepCredential{"appBearer", bearer(fx.appBearer)})
				case "clientBasic":
					out = append(out, sweepCredential{"clientBasic", func(r *http.Request) {
						r.SetBasicAuth(url.QueryEscape(fx.e.app.ID), url.QueryEscape(fx.e.app.Secret))
					}})
				default:
					fx.t.Fatalf("%s %s: unknown security scheme %q", op.method, op.path, scheme)
				}
			}
		}
	}
	if len(out) == 0 {
		out = []sweepCredential{{"anonymous", func(*http.Request) {}}, {"session", cookie(fx.personCookie)}}
	}
	return out
}

// badInput is one request that violates the document: the path and raw query to send, and
// the body with its content type.
type badInput struct {
	name        string
	path        string // with its parameters filled in, escaped
	rawQuery    string
	body        []byte
	contentType string
	noBody      bool
}

const sweepPlaceholder = "\uE000sweep\uE000"

// badInputCases derives op's bad inputs from the document: for each path parameter,
// strange values; for each query parameter, values of the wrong type or form; for a JSON
// body, malformed documents and each property of the wrong type or text; for a form body,
// repeated, huge and badly encoded fields. Every case is sent (no sampling): the whole
// sweep takes a few seconds per backend.
func badInputCases(op sweptOperation, fx *badInputFixture) []badInput {
	valid := map[string]string{}
	var pathParams, queryParams []*openapi3.Parameter
	for _, p := range op.params {
		switch p.Value.In {
		case "path":
			valid[p.Value.Name] = fx.pathValues[p.Value.Name]
			pathParams = append(pathParams, p.Value)
		case "query":
			queryParams = append(queryParams, p.Value)
		}
	}
	fill := func(override map[string]string) string {
		path := op.path
		for name, v := range valid {
			if o, ok := override[name]; ok {
				v = o // already escaped
			} else {
				v = url.PathEscape(v)
			}
			path = strings.ReplaceAll(path, "{"+name+"}", v)
		}
		return path
	}
	base := badInput{path: fill(nil)}
	validBody, bodyType, bodySchema := requestBodyOf(op, fx)
	withBase := func(c badInput) badInput {
		if c.path == "" {
			c.path = base.path
		}
		if c.rawQuery == "" {
			c.rawQuery = base.rawQuery
		}
		if c.body == nil && !c.noBody {
			c.body, c.contentType = validBody, bodyType
		}
		return c
	}
	var cases []badInput

	// Path parameters.
	for _, p := range pathParams {
		for _, v := range []struct{ name, raw string }{
			{"blank", "%20"},
			{"10 kB", strings.Repeat("a", 10<<10)},
			{"unicode", url.PathEscape("ünï-çødé-😀")},
			{"NUL", "x%00y"},
			{"invalid UTF-8", "%ff%fe"},
			{"dot-dot slash", "..%2F..%2Fapi%2Fuser"},
			{"dot-dot", ".."},
			{"quote", url.PathEscape(`'";--`)},
			{"other prefix", url.PathEscape(fx.otherPrefixIDs[p.Name])},
		} {
			cases = append(cases, withBase(badInput{name: "path " + p.Name + " " + v.name, path: fill(map[string]string{p.Name: v.raw})}))
		}
	}

	// Query parameters: the required ones valid (so that the request gets past them), one at
	// a time replaced by a bad value. Only a GET's, or an operation's that declares them:
	// query variants of a valid DELETE or POST without parameters would only repeat the valid
	// request.
	validQuery := url.Values{}
	for _, p := range queryParams {
		if p.Required {
			validQuery.Set(p.Name, fmt.Sprint(plausible(p.Name, p.Schema.Value, fx)))
		}
	}
	base.rawQuery = validQuery.Encode()
	query := func(name, raw string) string {
		q := url.Values{}
		for k, v := range validQuery {
			if k != name {
				q[k] = v
			}
		}
		if len(q) == 0 {
			return raw
		}
		return q.Encode() + "&" + raw
	}
	if len(queryParams) > 0 || op.method == http.MethodGet {
		kinds := []struct{ name, value string }{
			{"wrong type", "ten"}, {"negative", "-1"}, {"huge number", "99999999999999999999999999"},
			{"10 kB", strings.Repeat("q", 10<<10)}, {"NUL", "%00"}, {"invalid UTF-8", "%ff"},
			{"bad percent-encoding", "%zz"}, {"control characters", "%01%1b%7f"}, {"empty", ""},
			{"date", "yesterday"},
		}
		for _, p := range queryParams {
			for _, k := range kinds {
				cases = append(cases, badInput{name: "query " + p.Name + " " + k.name, rawQuery: query(p.Name, p.Name+"="+k.value)})
			}
			cases = append(cases, badInput{name: "query " + p.Name + " repeated", rawQuery: query("", p.Name+"=1&"+p.Name+"=2")})
		}
		cases = append(cases,
			badInput{name: "query unknown parameter", rawQuery: query("", "zzUnknown=1")},
			badInput{name: "query bad percent-encoding in a name", rawQuery: query("", "%zz=1")},
			badInput{name: "query semicolon", rawQuery: query("", "a=1;b=2")},
		)
	}

	// Bodies.
	switch {
	case bodyType == "application/json":
		cases = append(cases, jsonBodyCases(validBody, bodySchema)...)
	case bodyType == "application/x-www-form-urlencoded":
		cases = append(cases, formBodyCases(validBody, bodySchema)...)
	case bodyType != "":
		cases = append(cases,
			badInput{name: "body not an image", body: []byte("not an image at all"), contentType: bodyType},
			badInput{name: "body empty", body: []byte{}, contentType: bodyType},
			badInput{name: "body truncated PNG", body: []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\xff\xff"), contentType: "image/png"},
			badInput{name: "body over the limit", body: bytes.Repeat([]byte{0}, 2<<20), contentType: bodyType},
			badInput{name: "body JSON", body: []byte(`{"picture":1}`), contentType: "application/json"},
		)
	}
	if bodyType != "" {
		cases = append(cases,
			badInput{name: "body wrong content type", body: validBody, contentType: "text/xml"},
			badInput{name: "body malformed content type", body: validBody, contentType: "application/json; charset"},
			badInput{name: "body over 16 MB", body: bytes.Repeat([]byte("a"), 16<<20), contentType: bodyType},
		)
	}
	for i := range cases {
		cases[i] = withBase(cases[i])
	}
	return cases
}

// requestBodyOf is a body that matches op's declared schema (a plausible value of each
// property), its content type (JSON, then form, then the first declared) and schema.
func requestBodyOf(op sweptOperation, fx *badInputFixture) ([]byte, string, *openapi3.Schema) {
	if op.op.RequestBody == nil || op.op.RequestBody.Value == nil {
		return nil, "", nil
	}
	content := op.op.RequestBody.Value.Content
	for _, ct := range []string{"application/json", "application/x-www-form-urlencoded"} {
		mt := content.Get(ct)
		if mt == nil || mt.Schema == nil {
			continue
		}
		s := mt.Schema.Value
		if ct == "application/json" {
			v := map[string]any{}
			for name, p := range s.Properties {
				v[name] = plausible(name, p.Value, fx)
			}
			b, _ := json.Marshal(v)
			return b, ct, s
		}
		f := url.Values{}
		for name, p := range s.Properties {
			f.Set(name, fmt.Sprint(plausible(name, p.Value, fx)))
		}
		return []byte(f.Encode()), ct, s
	}
	for _, ct := range []string{"image/*", "application/octet-stream"} {
		if content.Get(ct) != nil {
			if ct == "image/*" {
				ct = "image/png"
			}
			return []byte("\x89PNG\r\n\x1a\n"), ct, nil
		}
	}
	return nil, "", nil
}

// plausible is a value of s's type for the property name.
func plausible(name string, s *openapi3.Schema, fx *badInputFixture) any {
	switch {
	case len(s.Enum) > 0:
		return s.Enum[0]
	case s.Const != nil:
		return s.Const
	}
	switch name {
	case "client_id":
		return fx.e.app.ID
	case "client_secret":
		return fx.e.app.Secret
	case "redirect_uri":
		return rpCallback
	case "token", "access_token", "refresh_token":
		return fx.formToken
	case "variantId":
		return fx.pathValues["variantId"]
	case "userId":
		return fx.pathValues["userId"]
	case "email":
		return "sweep@example.com"
	}
	t := s.Type
	switch {
	case t == nil:
		return "x"
	case t.Includes("boolean"):
		return true
	case t.Includes("integer"), t.Includes("number"):
		return 1
	case t.Includes("array"):
		return []any{}
	case t.Includes("object"):
		return map[string]any{}
	default:
		return "x"
	}
}

// jsonBodyCases are malformed JSON documents, and base with one property at a time replaced
// by a value of the wrong type or by troublesome text.
func jsonBodyCases(base []byte, s *openapi3.Schema) []badInput {
	ct := "application/json"
	raw := func(name, body string) badInput {
		return badInput{name: "body " + name, body: []byte(body), contentType: ct}
	}
	cases := []badInput{
		raw("not JSON", "hello"),
		raw("truncated", string(base[:len(base)/2])),
		raw("null", "null"),
		raw("array", "["+string(base)+"]"),
		raw("string", `"x"`),
		raw("number", `1`),
		raw("empty", ""),
		raw("two documents", string(base)+string(base)),
		raw("deeply nested", strings.Repeat("[", 100000)+strings.Repeat("]", 100000)),
		raw("deeply nested objects", strings.Repeat(`{"a":`, 20000)+"1"+strings.Repeat("}", 20000)),
		raw("over the size limit", `{"x":"`+strings.Repeat("x", 2<<20)+`"}`),
		raw("unknown property", strings.TrimSuffix(string(base), "}")+sepAfter(base)+`"zzUnknown":1}`),
		raw("invalid UTF-8 outside strings", "{\xff}"),
		raw("BOM", "\ufeff"+string(base)),
		{name: "body without content type", body: base},
		{name: "body as text/plain", body: base, contentType: "text/plain"},
		{name: "body as a form", body: base, contentType: "application/x-www-form-urlencoded"},
	}
	names := make([]string, 0, len(s.Properties))
	for name := range s.Properties {
		names = append(names, name)
	}
	sort.Strings(names)
	var v map[string]any
	json.Unmarshal(base, &v)
	with := func(name string, value any) []byte {
		w := map[string]any{}
		for k, x := range v {
			w[k] = x
		}
		w[name] = value
		b, _ := json.Marshal(w)
		return b
	}
	wrong := []struct {
		kind  string
		value any
	}{{"string", "x"}, {"number", 12.5}, {"integer", 7}, {"boolean", true}, {"object", map[string]any{"a": 1}},
		{"array", []any{1}}, {"null", nil}}
	text := []struct{ name, value string }{
		{"10 kB", strings.Repeat("é", 5<<10)},
		{"1 MB", strings.Repeat("x", 1<<20)},
		{"invalid UTF-8", "a\xff\xfeb"},
		{"NUL", "a\x00b"},
		{"control characters", "a\x01\x1b[31m\r\n\tb"},
		{"lone surrogate", `\ud800`},
		{"bidi override", "a\u202eb"},
		{"blank", "   "},
		{"empty", ""},
	}
	for _, name := range names {
		p := s.Properties[name].Value
		for _, w := range wrong {
			if schemaAllows(p, w.kind, w.value) {
				continue
			}
			cases = append(cases, badInput{name: fmt.Sprintf("body %s %s", name, w.kind), body: with(name, w.value), contentType: ct})
		}
		if p.Type != nil && p.Type.Includes("string") || p.Type == nil && len(p.Enum) > 0 {
			for _, tx := range text {
				b := bytes.Replace(with(name, sweepPlaceholder), []byte(sweepPlaceholder), []byte(tx.value), 1)
				if tx.name != "lone surrogate" && tx.name != "invalid UTF-8" {
					b = with(name, tx.value)
				}
				cases = append(cases, badInput{name: fmt.Sprintf("body %s %s", name, tx.name), body: b, contentType: ct})
			}
		}
		if p.Type != nil && (p.Type.Includes("integer") || p.Type.Includes("number")) {
			for _, n := range []string{"-1", "0", "1e400", "99999999999999999999999", "1.5", "-9223372036854775809"} {
				b := bytes.Replace(with(name, sweepPlaceholder), []byte(`"`+sweepPlaceholder+`"`), []byte(n), 1)
				cases = append(cases, badInput{name: fmt.Sprintf("body %s %s", name, n), body: b, contentType: ct})
			}
		}
		if p.Type != nil && p.Type.Includes("array") {
			many := make([]any, 10000)
			for i := range many {
				many[i] = fmt.Sprintf("https://a%d.example.com/cb", i)
			}
			cases = append(cases,
				badInput{name: fmt.Sprintf("body %s 10,000 items", name), body: with(name, many), contentType: ct},
				badInput{name: fmt.Sprintf("body %s items of the wrong type", name), body: with(name, []any{1, true, nil, map[string]any{}}), contentType: ct})
		}
		// A duplicate key: the second value is of the wrong type.
		dup := bytes.Replace(base, []byte("{"), []byte(fmt.Sprintf(`{%q:[[]],`, name)), 1)
		cases = append(cases, badInput{name: fmt.Sprintf("body %s duplicate key", name), body: dup, contentType: ct})
	}
	return cases
}

// sepAfter is the separator to add a property to the JSON object base.
func sepAfter(base []byte) string {
	if bytes.Equal(bytes.TrimSpace(base), []byte("{}")) {
		return ""
	}
	return ","
}

// schemaAllows reports whether a value of kind matches p's declared type.
func schemaAllows(p *openapi3.Schema, kind string, value any) bool {
	if len(p.Enum) > 0 {
		for _, e := range p.Enum {
			if e == value {
				return true
			}
		}
		return false
	}
	if p.Type == nil {
		return true // any value
	}
	switch kind {
	case "integer":
		return p.Type.Includes("integer") || p.Type.Includes("number")
	case "number":
		return p.Type.Includes("number")
	default:
		return p.Type.Includes(kind)
	}
}

// formBodyCases are form bodies with each field repeated, huge or badly encoded.
func formBodyCases(base []byte, s *openapi3.Schema) []badInput {
	ct := "application/x-www-form-urlencoded"
	f, _ := url.ParseQuery(string(base))
	enc := func(extra string) []byte {
		if len(base) == 0 {
			return []byte(extra)
		}
		return []byte(string(base) + "&" + extra)
	}
	cases := []badInput{
		{name: "form bad percent-encoding", body: enc("a=%zz"), contentType: ct},
		{name: "form invalid UTF-8 name", body: enc("%ff=1"), contentType: ct},
		{name: "form semicolon", body: []byte(strings.ReplaceAll(string(base), "&", ";")), contentType: ct},
		{name: "form over the size limit", body: enc("x=" + strings.Repeat("x", 2<<20)), contentType: ct},
		{name: "form as JSON", body: []byte(`{"a":1}`), contentType: "application/json"},
		{name: "form as multipart", body: []byte("--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--b--\r\n"), contentType: "multipart/form-data; boundary=b"},
		{name: "form empty", body: []byte{}, contentType: ct},
		{name: "form without content type", body: base},
	}
	names := make([]string, 0, len(s.Properties))
	for name := range s.Properties {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		set := func(value string) []byte {
			g := url.Values{}
			for k, v := range f {
				g[k] = v
			}
			g.Set(name, value)
			return []byte(g.Encode())
		}
		rawSet := func(raw string) []byte {
			g := url.Values{}
			for k, v := range f {
				if k != name {
					g[k] = v
				}
			}
			if len(g) == 0 {
				return []byte(url.QueryEscape(name) + "=" + raw)
			}
			return []byte(g.Encode() + "&" + url.QueryEscape(name) + "=" + raw)
		}
		cases = append(cases,
			badInput{name: "form " + name + " repeated", body: enc(url.QueryEscape(name) + "=other"), contentType: ct},
			badInput{name: "form " + name + " 10 kB", body: set(strings.Repeat("v", 10<<10)), contentType: ct},
			badInput{name: "form " + name + " 1 MB", body: set(strings.Repeat("v", 1<<20)), contentType: ct},
			badInput{name: "form " + name + " invalid UTF-8", body: rawSet("%ff%fe"), contentType: ct},
			badInput{name: "form " + name + " NUL", body: rawSet("a%00b"), contentType: ct},
			badInput{name: "form " + name + " control characters", body: rawSet("a%01%1b%0d%0ab"), contentType: ct},
			badInput{name: "form " + name + " bad percent-encoding", body: rawSet("%zz"), contentType: ct},
			badInput{name: "form " + name + " empty", body: set(""), contentType: ct},
		)
	}
	return cases
}

// send sends c to op with cred and returns the answer.
func (fx *badInputFixture) send(client *http.Client, op sweptOperation, c badInput, cred sweepCredential) (int, string, []byte, error) {
	u := fx.e.base + c.path
	if c.rawQuery != "" {
		u += "?" + c.rawQuery
	}
	var body io.Reader
	if c.body != nil {
		body = bytes.NewReader(c.body)
	}
	req, err := http.NewRequest(strings.ToUpper(op.method), fx.e.base, body)
	if err != nil {
		return 0, "", nil, err
	}
	// The path goes as written (escapes and dot segments included).
	parsed, err := url.Parse(u)
	if err != nil {
		fx.t.Fatalf("%s: %v", u, err)
	}
	req.URL = parsed
	if c.contentType != "" {
		req.Header.Set("Content-Type", c.contentType)
	}
	cred.apply(req)
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, "", nil, err
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), out, nil
}

// checkErrorShape checks that a 4xx of a JSON route is a JSON object with an "error" code,
// and that a page's is text (validated checks both against the document).
func checkErrorShape(t *testing.T, name string, op sweptOperation, status int, ct string, body []byte) {
	t.Helper()
	mt, _, _ := mime.ParseMediaType(ct)
	if documentsJSONError(op, status) {
		var v map[string]any
		if mt != "application/json" || json.Unmarshal(body, &v) != nil {
			t.Errorf("%s: %d %s %.300q is not a JSON error", name, status, ct, body)
			return
		}
		if code, _ := v["error"].(string); code == "" {
			t.Errorf("%s: %d %.300s has no error code", name, status, body)
		}
		return
	}
	if mt != "text/html" && mt != "text/plain" {
		t.Errorf("%s: %d %s, want text", name, status, ct)
	}
}

// documentsJSONError reports whether op's errors are JSON: the APIs, the OAuth endpoints a
// client calls, the metadata and the pictures. Pages and the operations endpoints answer
// text (the document says which).
func documentsJSONError(op sweptOperation, status int) bool {
	p := op.path
	return strings.HasPrefix(p, "/api/") || strings.HasPrefix(p, "/.well-known/") || strings.HasPrefix(p, "/pictures/") ||
		p == "/oauth/token" || p == "/oauth/revoke" || p == "/oauth/introspect" || p == "/oauth/par"
}

// dbFingerprint is a digest of every row of every table.
type dbFingerprint map[string]string

// wrote reports whether anything may have been committed to the database since it was last
// asked: on SQLite whether the fixture's own connection sees another data_version (it changes
// when another connection commits), elsewhere always.
func (fx *badInputFixture) wrote() bool {
	if fx.version == nil {
		return true
	}
	var v int64
	if err := fx.version.QueryRowContext(context.Background(), `PRAGMA data_version`).Scan(&v); err != nil {
		fx.t.Fatal(err)
	}
	changed := v != fx.lastVersion
	fx.lastVersion = v
	return changed
}

// fingerprintAfter is the fingerprint once a request has been answered, prev (the one before
// it) when nothing was committed meanwhile: reading every row after each of thousands of
// requests took most of the sweeps' time.
func (fx *badInputFixture) fingerprintAfter(prev dbFingerprint) dbFingerprint {
	if !fx.wrote() {
		return prev
	}
	return fx.fingerprint()
}

func (fx *badInputFixture) fingerprint() dbFingerprint {
	fx.t.Helper()
	ctx := context.Background()
	db := fx.e.srv.db
	q := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`
	if db.Dialect != "sqlite3" && db.Dialect != "sqlite" {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`
	}
	tables, err := queryStrings(ctx, db.SQL, q)
	if err != nil {
		fx.t.Fatal(err)
	}
	out := dbFingerprint{}
	for _, table := range tables {
		rows, err := db.SQL.QueryContext(ctx, `SELECT * FROM "`+table+`"`)
		if err != nil {
			fx.t.Fatal(err)
		}
		cols, _ := rows.Columns()
		var lines []string
		for rows.Next() {
			vals := make([]sql.RawBytes, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				fx.t.Fatal(err)
			}
			var line []string
			for i, v := range vals {
				line = append(line, cols[i]+"="+string(v))
			}
			lines = append(lines, strings.Join(line, "\x1f"))
		}
		rows.Close()
		sort.Strings(lines)
		sum := sha256.Sum256([]byte(strings.Join(lines, "\n")))
		out[table] = fmt.Sprintf("%d rows %x", len(lines), sum[:6])
	}
	return out
}

func queryStrings(ctx context.Context, db *sql.DB, q string) ([]string, error) {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// diff names the tables whose rows differ.
func (a dbFingerprint) diff(b dbFingerprint) string {
	var out []string
	for k, v := range a {
		if b[k] != v {
			out = append(out, fmt.Sprintf("%s (%s → %s)", k, v, b[k]))
		}
	}
	for k, v := range b {
		if _, ok := a[k]; !ok {
			out = append(out, fmt.Sprintf("%s (new, %s)", k, v))
		}
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}
