package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vektah/gqlparser/v2/ast"

	"loginsign/graph"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/kv"
	"loginsign/internal/portal"
)

// TestGraphQLBadInput is the GraphQL counterpart of TestRESTBadInput. It takes the schema the
// server executes and, for every argument of every field of Query and Mutation (and of the
// fields with arguments of the types reached through application(id:) and viewer), sends an
// operation that passes validation but carries a bad value: huge, badly encoded, empty or
// strange text, ids of the wrong kind or of someone else's rows, Ints at and past their
// bounds, malformed Times and Cursors, lists of 10,000 items, and each field of an input
// object bad in turn. Values go as variables (raw bytes where JSON cannot say them) and,
// for the arguments of a field, also inline. Each goes with the credential that reaches the
// resolver: the signed-in person's session, a developer's, and no session for the queries.
//
// Every answer is below 500, a GraphQL response, within a few seconds; every error carries an
// extensions.code and none is the internal error; and a refused operation (a 4xx or an
// error) changes no row of any table. No case is rate limited, nor, with a session,
// unauthorized: each reaches its resolver (the sweep's server has its limits raised, and
// its principals' GraphQL budget emptied before each case: liftLimits, freshGraphQLBudget).
func TestGraphQLBadInput(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		fx := newGraphQLBadInputFixture(t, e)
		fx.liftLimits()
		schema := graph.NewExecutableSchema(graph.Config{}).Schema()
		targets := sweptFields(schema)
		client := &http.Client{Timeout: 60 * time.Second}

		// SQLite takes every case; PostgreSQL, whose requests take longer, every tenth (the
		// same ones each run).
		every := 1
		if strings.HasPrefix(dbURL, "postgres") {
			every = 10
		}
		type slow struct {
			name string
			took time.Duration
		}
		var slowest []slow
		before := fx.fingerprint()
		var sent, refused, changed int
		codes := map[string]int{}
		for _, tg := range targets {
			// A mutation's refusal is checked after each request; a query's (which changes
			// no row, refused or not) after all its requests.
			mutation := tg.parent == "Mutation"
			for _, cred := range fx.gqlCredentials(tg) {
				for i, c := range fx.gqlCases(schema, tg) {
					if i%every != 0 {
						continue
					}
					name := fmt.Sprintf("%s [%s] %s", tg, cred.name, c.name)
					fx.freshGraphQLBudget(cred)
					start := time.Now()
					status, body, err := fx.postGraphQL(client, cred.cookie, c.body)
					took := time.Since(start)
					sent++
					slowest = append(slowest, slow{name, took})
					if err != nil {
						t.Errorf("%s: no answer (dropped connection or panic): %v", name, err)
						continue
					}
					if took > 5*time.Second {
						t.Errorf("%s: answered after %v", name, took.Round(time.Millisecond))
					}
					if status >= 500 {
						t.Errorf("%s: %d %.300s", name, status, body)
					}
					var answer struct {
						Data   json.RawMessage `json:"data"`
						Errors []struct {
							Message    string         `json:"message"`
							Extensions map[string]any `json:"extensions"`
						} `json:"errors"`
					}
					if err := json.Unmarshal(body, &answer); err != nil || (answer.Data == nil && answer.Errors == nil) {
						t.Errorf("%s: %d %.300q is not a GraphQL response", name, status, body)
						continue
					}
					for _, ge := range answer.Errors {
						code, _ := ge.Extensions["code"].(string)
						codes[code]++
						switch {
						case code == "":
							t.Errorf("%s: an error without extensions.code: %.300s", name, body)
						case code == string(apperr.RateLimited) || (code == string(apperr.Unauthorized) && cred.cookie != nil):
							t.Errorf("%s: %s, so the case never reached its resolver: %.300s", name, code, body)
						case code == "internal" || code == "INTERNAL_SERVER_ERROR" ||
							strings.Contains(ge.Message, "internal error") || strings.Contains(ge.Message, "internal system error"):
							t.Errorf("%s: %d %.300s", name, status, body)
						}
					}
					isRefused := status >= 400 || len(answer.Errors) > 0
					if isRefused {
						refused++
					}
					if !mutation {
						continue
					}
					after := fx.fingerprintAfter(before)
					diff := before.diff(after)
					switch {
					case isRefused && diff != "":
						t.Errorf("%s: refused (%d %.200s) but changed %s", name, status, body, diff)
					case diff != "":
						changed++
					}
					before = after
				}
				if !mutation {
					after := fx.fingerprintAfter(before)
					if diff := before.diff(after); diff != "" {
						t.Errorf("%s [%s]: the bad queries changed %s", tg, cred.name, diff)
					}
					before = after
				}
			}
		}
		sort.Slice(slowest, func(i, j int) bool { return slowest[i].took > slowest[j].took })
		for _, sl := range slowest[:min(10, len(slowest))] {
			t.Logf("slowest: %v %.200s", sl.took.Round(time.Millisecond), sl.name)
		}
		t.Logf("%d fields, %d requests, %d refused, %d accepted and changed data; error codes %v", len(targets), sent, refused, changed, codes)
	})
}

// sweptField is one field with arguments, reached from the root through path.
type sweptField struct {
	parent string // Query, Mutation, or the type reached by via
	field  *ast.FieldDefinition
}

func (f sweptField) String() string { return f.parent + "." + f.field.Name }

// nestedVia is how the sweep reaches a type other than Query and Mutation: the selection
// around the field, as the developer (the application of the fixture, $sweepApp) or as the
// signed-in person (viewer).
var nestedVia = map[string][2]string{
	"Application":   {"application(id: $sweepApp) { ", " }"},
	"AppAnalytics":  {"application(id: $sweepApp) { analytics { ", " } }"},
	"AppConnection": {"application(id: $sweepApp) { users(first: 1) { edges { node { ", " } } } }"},
	"ImportSource":  {"application(id: $sweepApp) { importSources(first: 1) { edges { node { ", " } } } }"},
	"WebhookEvent":  {"application(id: $sweepApp) { webhookEvents(first: 1) { edges { node { ", " } } } }"},
	"User":          {"viewer { ", " }"},
}

// destructive reports whether a mutation removes or ends something: those run last, so that
// a bad input one of them accepts cannot remove what the others use; closing the account
// runs at the very end.
func destructive(name string) int {
	switch name {
	case "deleteAccount", "closeAccount":
		return 2
	}
	for _, p := range []string{"delete", "remove", "close", "revoke", "rotate", "reset", "rollback", "undo",
		"disconnect", "leave", "signOut", "cancel", "disable", "refuse"} {
		if strings.HasPrefix(name, p) {
			return 1
		}
	}
	return 0
}

// sweptFields lists the fields with arguments of Query, Mutation and the nested types, queries
// first and destructive mutations last, each group by name.
func sweptFields(s *ast.Schema) []sweptField {
	var out []sweptField
	for _, parent := range []string{"Query", "Mutation"} {
		for _, f := range s.Types[parent].Fields {
			if len(f.Arguments) > 0 && !strings.HasPrefix(f.Name, "__") {
				out = append(out, sweptField{parent, f})
			}
		}
	}
	for parent := range nestedVia {
		for _, f := range s.Types[parent].Fields {
			if len(f.Arguments) > 0 {
				out = append(out, sweptField{parent, f})
			}
		}
	}
	rank := func(f sweptField) int {
		if f.parent != "Mutation" {
			return 0
		}
		return 1 + destructive(f.field.Name)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if ri, rj := rank(out[i]), rank(out[j]); ri != rj {
			return ri < rj
		}
		return out[i].String() < out[j].String()
	})
	return out
}

// graphQLBadInputFixture adds to the REST sweep's fixture what the GraphQL arguments refer to:
// the person's address and session, someone else's application and connection, and cursors.
type graphQLBadInputFixture struct {
	*badInputFixture
	emailID, sessionID   string
	otherApp, otherConn  string // another developer's application, and another person's connection to it
	appsCursor, usersCur string // real cursors of the developer's applications and of the app's users
	now                  time.Time
	devID                string
}

func newGraphQLBadInputFixture(t *testing.T, e *oauthEnv) *graphQLBadInputFixture {
	t.Helper()
	fx := &graphQLBadInputFixture{badInputFixture: newBadInputFixture(t, e), now: time.Now().UTC()}
	ctx := context.Background()
	other, _, err := e.srv.identity.EnsureUser(ctx, "odev@example.com")
	if err != nil {
		t.Fatal(err)
	}
	created, err := e.srv.portal.CreateApplication(auth.WithSession(ctx, auth.Session{UserID: other.ID, SignedInAt: time.Now()}),
		portal.ApplicationInput{Name: "Other App", RedirectURIs: []string{rpLoopback}}) // the demo app's host is its developer's
	if err != nil {
		t.Fatal(err)
	}
	fx.otherApp = created.Application.ID
	dev, _, err := e.srv.identity.EnsureUser(ctx, "dev@example.com")
	if err != nil {
		t.Fatal(err)
	}
	fx.devID = dev.ID
	e.smtp.Next(t, 10*time.Second) // the fixture's invitation to zed@example.com
	e.connect(e.browser(), testApp{ID: created.Application.ID, Secret: created.ClientSecret, Redirects: []string{rpLoopback}}, "zoe@example.com")
	conns, err := e.srv.db.AppConnection.Query().All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range conns {
		if c.ApplicationID == fx.otherApp {
			fx.otherConn = c.ID
		}
	}

	// An alternative address (not yet confirmed) of the person's.
	code := mailedChangeCode(t, e.srv, func() string {
		return fx.gql(fx.personCookie, sendCodeMutation, nil)["sendConfirmationCode"].(map[string]any)["sentTo"].(string)
	})
	fx.gql(fx.personCookie, `mutation($c: String) { addEmail(input: {email: "ann.other@example.com", code: $c}) { __typename } }`, map[string]any{"c": code})
	e.smtp.Next(t, 10*time.Second)
	data := fx.gql(fx.personCookie, `{ viewer { emails(first: 5) { edges { node { id } } } sessions { id current } } }`, nil)
	v := data["viewer"].(map[string]any)
	fx.emailID = v["emails"].(map[string]any)["edges"].([]any)[0].(map[string]any)["node"].(map[string]any)["id"].(string)
	for _, s := range v["sessions"].([]any) {
		if s.(map[string]any)["current"] == true {
			fx.sessionID = s.(map[string]any)["id"].(string)
		}
	}
	data = fx.gql(fx.devCookie, `query($app: ID!) { viewer { applications(first: 1) { edges { cursor } } }
		application(id: $app) { users(first: 1) { edges { cursor } } } }`, map[string]any{"app": e.app.ID})
	fx.appsCursor = data["viewer"].(map[string]any)["applications"].(map[string]any)["edges"].([]any)[0].(map[string]any)["cursor"].(string)
	fx.usersCur = data["application"].(map[string]any)["users"].(map[string]any)["edges"].([]any)[0].(map[string]any)["cursor"].(string)
	return fx
}

// gql runs a query with cookie and fails on errors.
func (fx *graphQLBadInputFixture) gql(cookie *http.Cookie, query string, vars map[string]any) map[string]any {
	fx.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	status, out, err := fx.postGraphQL(http.DefaultClient, cookie, body)
	var answer struct {
		Data   map[string]any
		Errors []any
	}
	if err != nil || status != 200 || json.Unmarshal(out, &answer) != nil || answer.Errors != nil {
		fx.t.Fatalf("%s: %d %s %v", query, status, out, err)
	}
	return answer.Data
}

// postGraphQL posts body to /graphql with cookie (none when nil).
func (fx *graphQLBadInputFixture) postGraphQL(client *http.Client, cookie *http.Cookie, body []byte) (int, []byte, error) {
	req, err := http.NewRequest(http.MethodPost, fx.e.base+"/graphql", bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if cookie != nil {
		req.AddCookie(cookie)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, out, err
}

// gqlCredential is a session cookie, or none; principal is what the GraphQL endpoint's
// per-principal limit counts it as.
type gqlCredential struct {
	name      string
	cookie    *http.Cookie
	principal string
}

// liftLimits raises, on the sweep's server only, the domain's rate limits that the sweep's
// bursts (a field's bad values one after another, from one person at one address) would meet
// before the input handling; each limit has tests of its own.
func (fx *graphQLBadInputFixture) liftLimits() {
	const many = 1 << 20
	s := fx.e.srv
	s.portal.Imports.N = many                   // importUsers, importAppUsers: 30 an hour per developer
	s.licenses.Limits.PerHolder.N = many        // redeemLicenseCode, claimLicenseCode: 20 a minute per person
	s.licenses.Limits.PerAddress.N = many       // and 60 a minute per address
	s.webhooks.ManualSends.N = many             // retryWebhookEvent: 30 a minute per application
	s.webhooks.ManualSendsPerDeveloper.N = many // and 300 an hour per developer
	s.portal.Writes.N = many                    // settings, connections, transfers: 1,000 an hour per developer
	s.portal.AccessChanges.N = many             // secrets and roles: 100 an hour per developer
	s.licenses.Writes.N = many                  // and license variants created or deleted, in the same budget
	s.mfa.AccountAttempts.N = many              // disableTwoStep, regenerateRecoveryCodes: 10 per 15 minutes per person
	s.mfa.ChangeCodeSends.N = many              // sendConfirmationCode: 5 an hour per person
}

// freshGraphQLBudget empties cred's counter of the GraphQL endpoint's limit per principal
// (graph.Limits.PerPrincipal: 200,000 complexity points a minute from the first, which the
// server's configuration does not set). The developer's thousands of mutations (100 points
// and more each) would use it up in the sweep's last fields, as many of them as the timing
// made it; and the budget is per person, not per session, while only the developer owns the
// fixture's application.
func (fx *graphQLBadInputFixture) freshGraphQLBudget(cred gqlCredential) {
	key := kv.CounterPrefix + "graphql:" + cred.principal
	if err := fx.e.srv.kv.Del(context.Background(), key).Err(); err != nil {
		fx.t.Fatal(err)
	}
}

// personMutations are the mutations a person runs on their own account (the others are a
// developer's).
var personMutations = []string{"signOutSession", "removeConnection", "setConnectionEmailMuted", "addAlternativeEmail",
	"verifyAlternativeEmail", "removeAlternativeEmail", "makePrimaryEmail", "deleteAccount", "refusePendingLink",
	"redeemLicenseCode", "beginTotpEnrolment", "confirmTotpEnrolment", "disableTwoStep", "regenerateRecoveryCodes",
	"beginPasskeyRegistration", "finishPasskeyRegistration", "renamePasskey", "deletePasskey", "revokeSession",
	"revokeOtherSessions", "disconnectApp", "setAppEmailMuted", "addEmail", "verifyEmail", "removeEmail",
	"setPrimaryEmail", "closeAccount", "claimLicenseCode", "updateProfile", "setProfilePicture", "removeProfilePicture",
	"setLanguage", "acceptInvitation", "acceptOwnershipTransfer"}

// gqlCredentials are the credentials that reach f's resolver: the person's session for their
// own account's fields, the developer's for an application's; queries also without a session
// (what anonymous may call).
func (fx *graphQLBadInputFixture) gqlCredentials(f sweptField) []gqlCredential {
	person := gqlCredential{"person", fx.personCookie, "usr:" + fx.pathValues["userId"]}
	dev := gqlCredential{"developer", fx.devCookie, "usr:" + fx.devID}
	switch f.parent {
	case "Query":
		return []gqlCredential{dev, person, {"anonymous", nil, "ip:127.0.0.1"}}
	case "User":
		return []gqlCredential{person}
	case "Mutation":
		if slices.Contains(personMutations, f.field.Name) {
			return []gqlCredential{person}
		}
	}
	return []gqlCredential{dev}
}

// gqlCase is one request body.
type gqlCase struct {
	name string
	body []byte
}

// badValue is a bad value for one argument or input field: value goes in the variables; raw,
// when set, is the JSON text sent in its place (bytes json.Marshal would not write: invalid
// UTF-8, a lone surrogate, numbers past float64); inline, when set, is the GraphQL literal
// that sends it in the document instead.
type badValue struct {
	name   string
	value  any
	raw    string
	inline string
}

// badAt is a bad value at a path inside an argument: the argument's name, then input fields
// and list indexes.
type badAt struct {
	path []any
	badValue
}

const gqlPlaceholder = "\uE000gqlsweep\uE000"

// gqlCases are f's bad operations: each argument, and each field of an input argument, bad in
// turn, the others valid.
func (fx *graphQLBadInputFixture) gqlCases(s *ast.Schema, f sweptField) []gqlCase {
	var bads []badAt
	sample := 0
	for _, a := range f.field.Arguments {
		bads = append(bads, fx.badValues(s, f.field.Name, a.Name, a.Type, []any{a.Name}, 0, &sample)...)
	}
	var out []gqlCase
	for _, b := range bads {
		out = append(out, gqlCase{name: fmt.Sprintf("%v %s", pathString(b.path), b.name), body: fx.operation(s, f, b, false)})
		if len(b.path) == 1 && b.inline != "" && (f.parent == "Query" || f.parent == "Mutation") {
			out = append(out, gqlCase{name: fmt.Sprintf("%v %s inline", pathString(b.path), b.name), body: fx.operation(s, f, b, true)})
		}
	}
	return out
}

func pathString(p []any) string {
	var parts []string
	for _, x := range p {
		parts = append(parts, fmt.Sprint(x))
	}
	return strings.Join(parts, ".")
}

// operation is the request body running f with every argument valid but the one at b.path.
func (fx *graphQLBadInputFixture) operation(s *ast.Schema, f sweptField, b badAt, inline bool) []byte {
	var defs, args []string
	vars := map[string]any{}
	for _, a := range f.field.Arguments {
		v, ok := fx.validValue(s, f.field.Name, a.Name, a.Type, true)
		if a.Name == b.path[0] {
			v, ok = setPath(v, b.path[1:], gqlPlaceholder), true
			if inline {
				args = append(args, a.Name+": "+b.inline)
				continue
			}
		} else if a.Name == "first" && !ok {
			v, ok = 2, true // a connection's rows need first or last
		}
		if !ok {
			continue
		}
		defs = append(defs, "$"+a.Name+": "+a.Type.String())
		args = append(args, a.Name+": $"+a.Name)
		vars[a.Name] = v
	}
	sel := f.field.Name + "(" + strings.Join(args, ", ") + ")" + selectionOf(s, f.field.Type.Name())
	kind := "query"
	switch f.parent {
	case "Mutation":
		kind = "mutation"
	case "Query":
	default:
		via := nestedVia[f.parent]
		sel = via[0] + sel + via[1]
		if strings.Contains(via[0], "$sweepApp") {
			defs = append(defs, "$sweepApp: ID!")
			vars["sweepApp"] = fx.e.app.ID
		}
	}
	doc := kind + " Sweep"
	if len(defs) > 0 {
		doc += "(" + strings.Join(defs, ", ") + ")"
	}
	doc += " { " + sel + " }"
	body, err := json.Marshal(map[string]any{"query": doc, "variables": vars})
	if err != nil {
		panic(err)
	}
	// The bad value replaces the placeholder (raw JSON text, or the value marshalled).
	repl := b.raw
	if repl == "" || inline {
		j, err := json.Marshal(b.value)
		if err != nil {
			panic(err)
		}
		repl = string(j)
	}
	return bytes.Replace(body, []byte(`"`+gqlPlaceholder+`"`), []byte(repl), 1)
}

// selectionOf selects __typename of a composite type (and the cursors of a connection's
// edges, so that its rows are read).
func selectionOf(s *ast.Schema, typeName string) string {
	def := s.Types[typeName]
	if def == nil || def.Kind == ast.Scalar || def.Kind == ast.Enum {
		return ""
	}
	if edges := def.Fields.ForName("edges"); edges != nil {
		if e := s.Types[edges.Type.Name()]; e != nil && e.Fields.ForName("cursor") != nil {
			return " { __typename edges { cursor } }"
		}
	}
	return " { __typename }"
}

// setPath returns v with the value at path replaced by x.
func setPath(v any, path []any, x any) any {
	if len(path) == 0 {
		return x
	}
	switch p := path[0].(type) {
	case string:
		m, _ := v.(map[string]any)
		out := map[string]any{}
		for k, y := range m {
			out[k] = y
		}
		out[p] = setPath(out[p], path[1:], x)
		return out
	case int:
		l, _ := v.([]any)
		l = slices.Clone(l)
		for len(l) <= p {
			l = append(l, nil)
		}
		l[p] = setPath(l[p], path[1:], x)
		return l
	}
	panic(fmt.Sprint("bad path ", path))
}

// validValue is a value of t for the argument or input field name of field: ok is false for
// an optional one left out (a required one is always given).
func (fx *graphQLBadInputFixture) validValue(s *ast.Schema, field, name string, t *ast.Type, top bool) (any, bool) {
	if !t.NonNull {
		return nil, false
	}
	if t.Elem != nil {
		v, _ := fx.validValue(s, field, name, nonNull(t.Elem), false)
		return []any{v}, true
	}
	def := s.Types[t.Name()]
	switch def.Kind {
	case ast.Enum:
		return def.EnumValues[0].Name, true
	case ast.InputObject:
		m := map[string]any{}
		for _, f := range def.Fields {
			if v, ok := fx.validValue(s, field, f.Name, f.Type, false); ok {
				m[f.Name] = v
			}
		}
		return m, true
	}
	switch t.Name() {
	case "Boolean":
		return false, true
	case "Int":
		return 1, true
	case "Time":
		if name == "from" {
			return fx.now.Add(-7 * 24 * time.Hour).Format(time.RFC3339), true
		}
		return fx.now.Format(time.RFC3339), true
	case "ID":
		return fx.validID(field, name), true
	}
	switch name {
	case "email":
		return "sweep@example.com", true
	case "code":
		return "AAAA-BBBB-CCCC", true
	case "confirmGlobalId":
		return "ZZ9999", true // not the person's: closing the account stays refused
	case "name":
		return "Sweep", true
	case "redirectUri":
		return rpCallback, true
	case "externalUserId":
		return "ext-sweep", true
	case "codes":
		return "SWEEP-0001", true
	}
	return "x", true
}

func nonNull(t *ast.Type) *ast.Type {
	c := *t
	c.NonNull = true
	return &c
}

// validID is the fixture's row an ID argument or input field refers to.
func (fx *graphQLBadInputFixture) validID(field, name string) string {
	pv := fx.pathValues
	switch name {
	case "applicationId", "appId", "ids":
		return fx.e.app.ID
	case "connectionId":
		return pv["connectionId"]
	case "variantId":
		return pv["variantId"]
	case "codeId":
		return pv["codeId"]
	case "sourceId":
		return pv["sourceId"]
	case "invitationId":
		return pv["invitationId"]
	case "userId":
		return pv["userId"]
	case "eventId":
		return "msg_aaaaaaaaaaaaaaaa"
	case "emailId":
		return fx.emailID
	case "sessionId":
		return fx.sessionID
	}
	switch field {
	case "updateLicenseVariant", "deleteLicenseVariant":
		return pv["variantId"]
	case "deleteLicenseCode":
		return pv["codeId"]
	case "signOutSession":
		return fx.sessionID
	case "refusePendingLink":
		return "pln_aaaaaaaaaaaaaaaa"
	case "renamePasskey", "deletePasskey":
		return "pky_aaaaaaaaaaaaaaaa"
	}
	return fx.e.app.ID
}

// badValues are the bad values of t at path (the argument name of field, then input fields
// and list indexes). Inside a where input each field gets one value of its type in turn
// (sample counts them): those inputs have hundreds of generated fields, all read by the
// same code.
func (fx *graphQLBadInputFixture) badValues(s *ast.Schema, field, name string, t *ast.Type, path []any, depth int, sample *int) []badAt {
	at := func(vs []badValue) []badAt {
		var out []badAt
		for _, v := range vs {
			out = append(out, badAt{slices.Clone(path), v})
		}
		return out
	}
	inWhere := slices.ContainsFunc(path, func(p any) bool { return p == "where" })
	pick := func(vs []badValue) []badValue {
		if !inWhere || len(vs) == 0 {
			return vs
		}
		*sample++
		return vs[*sample%len(vs) : *sample%len(vs)+1]
	}
	if t.Elem != nil {
		elem := nonNull(t.Elem)
		item, _ := fx.validValue(s, field, name, elem, false)
		many := make([]any, 10000)
		for i := range many {
			many[i] = item
		}
		out := at([]badValue{{name: "10,000 items", value: many}})
		if depth < 3 && !inWhere {
			out = append(out, fx.badValues(s, field, name, elem, append(slices.Clone(path), 0), depth+1, sample)...)
		}
		return out
	}
	def := s.Types[t.Name()]
	switch def.Kind {
	case ast.Enum:
		return at(pick([]badValue{{name: "unknown enum value", value: "NOT_A_VALUE", inline: "NOT_A_VALUE"}}))
	case ast.InputObject:
		if depth >= 3 || (inWhere && len(path) >= 2) {
			return nil // nested filters (not, and, or, has…With) read as the top one
		}
		var out []badAt
		for _, f := range def.Fields {
			out = append(out, fx.badValues(s, field, f.Name, f.Type, append(slices.Clone(path), f.Name), depth+1, sample)...)
		}
		return out
	}
	switch t.Name() {
	case "Boolean":
		return nil // type-checked by validation
	case "Int":
		return at(pick([]badValue{
			{name: "-1", value: -1, inline: "-1"}, {name: "0", value: 0, inline: "0"},
			{name: "2^31-1", value: 2147483647, inline: "2147483647"},
			{name: "2^31", raw: "2147483648", inline: "2147483648"},
			{name: "-2^31-1", raw: "-2147483649", inline: "-2147483649"},
			{name: "100000", value: 100000, inline: "100000"},
			{name: "1e400", raw: "1e400"}, {name: "1.5", raw: "1.5", inline: "1.5"},
		}))
	case "Time":
		return at(pick([]badValue{
			{name: "not a date", value: "yesterday", inline: `"yesterday"`},
			{name: "impossible date", value: "2024-13-45T25:61:00Z", inline: `"2024-13-45T25:61:00Z"`},
			{name: "empty", value: "", inline: `""`},
			{name: "year 1", value: "0001-01-01T00:00:00Z", inline: `"0001-01-01T00:00:00Z"`},
			{name: "year 9999", value: "9999-12-31T23:59:59Z", inline: `"9999-12-31T23:59:59Z"`},
			{name: "negative year", value: "-0001-01-01T00:00:00Z"},
			{name: "a number", value: 1700000000, inline: "1700000000"},
			{name: "10 kB", value: strings.Repeat("9", 10<<10)},
			{name: "NUL", value: "2024-01-01T00:00:00Z\x00"},
		}))
	case "Cursor":
		b64 := base64.RawURLEncoding.EncodeToString
		return at(pick([]badValue{
			{name: "empty", value: "", inline: `""`},
			{name: "base64 garbage", value: "!!!not*base64", inline: `"!!!not*base64"`},
			{name: "base64 of text", value: b64([]byte("garbage"))},
			{name: "base64 of JSON", value: b64([]byte(`{"id":"x","value":[1,2]}`))},
			{name: "base64 of msgpack garbage", value: b64([]byte("\x82\xa1i\xc1\xa1v\xdf\xff\xff\xff\xff"))},
			{name: "cursor of the applications", value: fx.appsCursor},
			{name: "cursor of the users", value: fx.usersCur},
			{name: "10 kB", value: strings.Repeat("A", 10<<10)},
		}))
	case "ID":
		other := fx.e.app.ID
		if name == "applicationId" || name == "appId" || name == "id" {
			other = fx.pathValues["connectionId"]
		}
		return at(pick(append(badStrings(false),
			badValue{name: "other prefix", value: other, inline: fmt.Sprintf("%q", other)},
			badValue{name: "dot-dot", value: "..", inline: `".."`},
			badValue{name: "dot-dot path", value: "../../x"},
			badValue{name: "unicode", value: "ünï-çødé-😀", inline: `"ünï-çødé-😀"`},
			badValue{name: "quote", value: `'";--`},
			badValue{name: "a number", value: 12345, inline: "12345"},
			badValue{name: "someone else's application", value: fx.otherApp, inline: fmt.Sprintf("%q", fx.otherApp)},
			badValue{name: "someone else's connection", value: fx.otherConn, inline: fmt.Sprintf("%q", fx.otherConn)},
		)))
	}
	return at(pick(badStrings(true)))
}

// badStrings are troublesome texts (the megabyte only for strings: an ID that long says
// nothing the 10 kB one does not).
func badStrings(megabyte bool) []badValue {
	out := []badValue{
		{name: "10 kB", value: strings.Repeat("é", 5<<10), inline: `"` + strings.Repeat("é", 5<<10) + `"`},
		{name: "invalid UTF-8", raw: "\"a\xff\xfeb\""},
		{name: "lone surrogate", raw: `"\ud800"`, inline: `"\ud800"`},
		{name: "NUL", value: "a\x00b", inline: `"a\u0000b"`},
		{name: "control characters", value: "a\x01\x1b[31m\r\n\tb", inline: `"a\u0001\u001b[31m\r\n\tb"`},
		{name: "bidi override", value: "a\u202eb", inline: `"a\u202eb"`},
		{name: "empty", value: "", inline: `""`},
		{name: "blank", value: "   ", inline: `"   "`},
	}
	if megabyte {
		out = append(out, badValue{name: "1 MB", value: strings.Repeat("x", 1000000)})
	}
	return out
}
