package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// tenant is one developer with an application, a connected person and an import run.
type tenant struct {
	dev                              *person
	app, conn, source, variant, code string
}

func (e *portalEnv) tenant(name string, customer *person) tenant {
	e.t.Helper()
	dev := e.person("dev-"+strings.ToLower(name)+"@example.com", "Dev "+name, true)
	app := dev.createApp(name, true)
	conn := e.connect(customer, app)
	imp := dev.json("POST", "/api/developer/applications/"+app+"/import-existing-users/csv", map[string]any{
		"sourceName": "run " + name,
		"users":      []map[string]string{{"externalUserId": "ext-1", "email": customer.user.Email}},
	}, http.StatusOK)
	lic := "/api/developer/applications/" + app + "/licenses"
	v := dev.json("POST", lic+"/variants", map[string]any{"name": "Premium " + name}, http.StatusCreated)
	dev.json("POST", lic+"/codes/generate", map[string]any{"variantId": v["id"], "count": 1}, http.StatusCreated)
	codes := dev.json("GET", lic+"/codes", nil, http.StatusOK)["codes"].([]any)
	return tenant{dev: dev, app: app, conn: conn.ID, source: imp["sourceId"].(string), variant: v["id"].(string),
		code: codes[0].(map[string]any)["id"].(string)}
}

// ids is what fill puts for the placeholders {app}, {conn}, {src}, {var} and {code}.
func (tn tenant) ids() [5]string { return [5]string{tn.app, tn.conn, tn.source, tn.variant, tn.code} }

// Unknown ids of the right shape: what a missing resource answers.
const (
	missingApp    = "app_aaaaaaaaaaaaaaaaaaaaaaaa"
	missingConn   = "con_aaaaaaaaaaaaaaaaaaaaaaaa"
	missingSource = "imp_aaaaaaaaaaaaaaaaaaaaaaaa"
	missingVar    = "var_aaaaaaaaaaaaaaaaaaaaaaaa"
	missingCode   = "lic_aaaaaaaaaaaaaaaaaaaaaaaa"
)

var missingIDs = [5]string{missingApp, missingConn, missingSource, missingVar, missingCode}

// restRoute is one Developer Portal REST route with the body a caller would send.
type restRoute struct {
	name, method, path string
	body               any
}

func portalRoutes() []restRoute {
	return []restRoute{
		{"get application", "GET", "/api/developer/applications/{app}", nil},
		{"update application", "PATCH", "/api/developer/applications/{app}", map[string]any{"name": "Taken over"}},
		{"delete application", "DELETE", "/api/developer/applications/{app}", nil},
		{"rotate client secret", "POST", "/api/developer/applications/{app}/secret/rotate", nil},
		{"rotate webhook secret", "POST", "/api/developer/applications/{app}/webhook/secret/rotate", nil},
		{"list users", "GET", "/api/developer/applications/{app}/users", nil},
		{"update user", "PATCH", "/api/developer/applications/{app}/users/{conn}", map[string]any{"isForwarding": false}},
		{"delete user", "DELETE", "/api/developer/applications/{app}/users/{conn}", nil},
		{"sync email", "PATCH", "/api/developer/applications/{app}/users/{conn}/email", map[string]any{"email": "new-address@example.com"}},
		{"email sync test", "POST", "/api/developer/applications/{app}/email-sync-api/test", nil},
		{"current logins test", "POST", "/api/developer/applications/{app}/current-logins-sync-api/test", nil},
		{"import users", "POST", "/api/developer/applications/{app}/import-existing-users/csv",
			map[string]any{"users": []map[string]string{{"externalUserId": "x", "email": "someone@example.com"}}}},
		{"list import sources", "GET", "/api/developer/applications/{app}/import-sources", nil},
		{"get import source", "GET", "/api/developer/applications/{app}/import-sources/{src}", nil},
		{"rollback import", "POST", "/api/developer/applications/{app}/import-sources/{src}/rollback", nil},
		{"application activity", "GET", "/api/developer/applications/{app}/activity", nil},
		{"export users", "GET", "/api/developer/applications/{app}/users/export", nil},
		{"list license variants", "GET", "/api/developer/applications/{app}/licenses/variants", nil},
		{"create license variant", "POST", "/api/developer/applications/{app}/licenses/variants", map[string]any{"name": "Stolen"}},
		{"edit license variant", "PATCH", "/api/developer/applications/{app}/licenses/variants/{var}", map[string]any{"name": "Renamed"}},
		{"delete license variant", "DELETE", "/api/developer/applications/{app}/licenses/variants/{var}", nil},
		{"force-delete license variant", "DELETE", "/api/developer/applications/{app}/licenses/variants/{var}?force=true", nil},
		{"generate license codes", "POST", "/api/developer/applications/{app}/licenses/codes/generate", map[string]any{"variantId": "{var}", "count": 1}},
		{"upload license codes", "POST", "/api/developer/applications/{app}/licenses/codes/upload", map[string]any{"variantId": "{var}", "codes": []string{"STOLEN-0001"}}},
		{"list license codes", "GET", "/api/developer/applications/{app}/licenses/codes", nil},
		{"delete license code", "DELETE", "/api/developer/applications/{app}/licenses/codes/{code}", nil},
		{"webhook events", "GET", "/api/developer/applications/{app}/webhook/events", nil},
		{"test webhook", "POST", "/api/developer/applications/{app}/webhook/test", nil},
	}
}

func fill(path string, ids [5]string) string {
	return strings.NewReplacer("{app}", ids[0], "{conn}", ids[1], "{src}", ids[2], "{var}", ids[3], "{code}", ids[4]).Replace(path)
}

// fillBody is body as JSON with fill's placeholders replaced.
func fillBody(body any, ids [5]string) any {
	if body == nil {
		return nil
	}
	j, _ := json.Marshal(body)
	return []byte(fill(string(j), ids))
}

// mixIDs is the attacker's application with the victim's other ids.
func mixIDs(own, their [5]string) [5]string {
	their[0] = own[0]
	return their
}

// gqlOperation is one portal GraphQL query or mutation with its variables.
type gqlOperation struct {
	name, query string
	vars        func(app, conn, src string) map[string]any
}

func portalOperations() []gqlOperation {
	appOnly := func(app, _, _ string) map[string]any { return map[string]any{"app": app} }
	appConn := func(app, conn, _ string) map[string]any { return map[string]any{"app": app, "conn": conn} }
	appSrc := func(app, _, src string) map[string]any { return map[string]any{"app": app, "src": src} }
	return []gqlOperation{
		{"application", `query($app: ID!) { application(id: $app) { id name } }`, appOnly},
		{"node application", `query($app: ID!) { node(id: $app) { id } }`, appOnly},
		{"node connection", `query($conn: ID!) { node(id: $conn) { id } }`, func(_, conn, _ string) map[string]any { return map[string]any{"conn": conn} }},
		{"node import source", `query($src: ID!) { node(id: $src) { id } }`, func(_, _, src string) map[string]any { return map[string]any{"src": src} }},
		{"application users", `query($app: ID!) { application(id: $app) { users { totalCount } } }`, appOnly},
		{"application activity", `query($app: ID!) { application(id: $app) { activity { events { id } } } }`, appOnly},
		{"application analytics", `query($app: ID!) { application(id: $app) { analytics { usersPerRegion { count } } } }`, appOnly},
		{"redirect uri check", `query($app: ID!) { redirectUriCheck(appId: $app, redirectUri: "https://x.example.com/cb") { ok } }`, appOnly},
		{"updateApplication", `mutation($app: ID!) { updateApplication(id: $app, input: {name: "Taken over"}) { application { id } } }`, appOnly},
		{"rotateClientSecret", `mutation($app: ID!) { rotateClientSecret(id: $app) { secret } }`, appOnly},
		{"rotateWebhookSecret", `mutation($app: ID!) { rotateWebhookSecret(id: $app) { secret } }`, appOnly},
		{"deleteApplication", `mutation($app: ID!) { deleteApplication(id: $app) { deletedId } }`, appOnly},
		{"updateAppConnection", `mutation($app: ID!, $conn: ID!) { updateAppConnection(appId: $app, connectionId: $conn, input: {isForwarding: false}) { id } }`, appConn},
		{"syncConnectionEmail", `mutation($app: ID!, $conn: ID!) { syncConnectionEmail(appId: $app, connectionId: $conn, email: "new-address@example.com") { changed } }`, appConn},
		{"deleteAppConnection", `mutation($app: ID!, $conn: ID!) { deleteAppConnection(appId: $app, connectionId: $conn) { deletedId } }`, appConn},
		{"importUsers", `mutation($app: ID!) { importUsers(appId: $app, input: {users: [{externalUserId: "x", email: "someone@example.com"}]}) { source { id } } }`, appOnly},
		{"rollbackImport", `mutation($app: ID!, $src: ID!) { rollbackImport(appId: $app, sourceId: $src) { deletedConnections } }`, appSrc},
		{"testEmailSyncApi", `mutation($app: ID!) { testEmailSyncApi(appId: $app) { ok } }`, appOnly},
		{"testCurrentLoginsSyncApi", `mutation($app: ID!) { testCurrentLoginsSyncApi(appId: $app) { ok } }`, appOnly},
		// The conforming mutations that replace the deprecated ones above, and the quickstart.
		{"editApplication", `mutation($app: ID!) { editApplication(input: {applicationId: $app, changes: {name: "Taken over"}}) { application { id } } }`, appOnly},
		{"resetClientSecret", `mutation($app: ID!) { resetClientSecret(input: {applicationId: $app}) { clientSecret } }`, appOnly},
		{"resetWebhookSecret", `mutation($app: ID!) { resetWebhookSecret(input: {applicationId: $app}) { webhookSecret } }`, appOnly},
		{"removeApplication", `mutation($app: ID!) { removeApplication(input: {applicationId: $app}) { deletedApplicationId } }`, appOnly},
		{"editAppConnection", `mutation($app: ID!, $conn: ID!) { editAppConnection(input: {applicationId: $app, connectionId: $conn, isForwarding: false}) { connection { id } } }`, appConn},
		{"proposeConnectionEmail", `mutation($app: ID!, $conn: ID!) { proposeConnectionEmail(input: {applicationId: $app, connectionId: $conn, email: "new-address@example.com"}) { changed } }`, appConn},
		{"closeAppConnection", `mutation($app: ID!, $conn: ID!) { closeAppConnection(input: {applicationId: $app, connectionId: $conn}) { deletedConnectionId } }`, appConn},
		{"importAppUsers", `mutation($app: ID!) { importAppUsers(input: {applicationId: $app, users: [{externalUserId: "x", email: "someone@example.com"}]}) { source { id } } }`, appOnly},
		{"undoImport", `mutation($app: ID!, $src: ID!) { undoImport(input: {applicationId: $app, sourceId: $src}) { deletedConnections } }`, appSrc},
		{"checkEmailSyncApi", `mutation($app: ID!) { checkEmailSyncApi(input: {applicationId: $app}) { result { ok } } }`, appOnly},
		{"checkCurrentLoginsSyncApi", `mutation($app: ID!) { checkCurrentLoginsSyncApi(input: {applicationId: $app}) { result { ok } } }`, appOnly},
		{"retryWebhookEvent", `mutation($app: ID!) { retryWebhookEvent(input: {applicationId: $app, eventId: "evt_missing"}) { event { id } } }`, appOnly},
		{"pingWebhook", `mutation($app: ID!) { pingWebhook(input: {applicationId: $app}) { event { id } } }`, appOnly},
		{"addLicenseVariant", `mutation($app: ID!) { addLicenseVariant(input: {applicationId: $app, name: "Stolen"}) { variant { id } } }`, appOnly},
		{"editLicenseVariant", `mutation($app: ID!) { editLicenseVariant(input: {applicationId: $app, variantId: "` + missingVar + `", name: "Renamed"}) { variant { id } } }`, appOnly},
		{"removeLicenseVariant force", `mutation($app: ID!) { removeLicenseVariant(input: {applicationId: $app, variantId: "` + missingVar + `", force: true}) { deletedVariantId } }`, appOnly},
		{"createLicenseCodes", `mutation($app: ID!) { createLicenseCodes(input: {applicationId: $app, variantId: "` + missingVar + `", count: 1}) { codes } }`, appOnly},
		{"importLicenseCodes", `mutation($app: ID!) { importLicenseCodes(input: {applicationId: $app, variantId: "` + missingVar + `", codes: ["STOLEN-0001"]}) { created } }`, appOnly},
		{"removeLicenseCode", `mutation($app: ID!) { removeLicenseCode(input: {applicationId: $app, codeId: "` + missingCode + `"}) { deletedCodeId } }`, appOnly},
		{"application quickstart", `query($app: ID!) { application(id: $app) { quickstart { issuer authorizeUrl } } }`, appOnly},
	}
}

// TestPortalIsolation signs in two developers and proves, for every portal REST route and
// GraphQL operation, that neither reads or changes the other's data: the other's ids answer
// exactly like missing ones, and nothing changes.
func TestPortalIsolation(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, e *portalEnv) {
		customer := e.person("customer@example.com", "Casey Customer", true)
		a := e.tenant("Alpha", customer)
		b := e.tenant("Beta", customer)
		before := e.snapshot()

		for _, dir := range []struct {
			name             string
			attacker, victim tenant
		}{{"beta against alpha", b, a}, {"alpha against beta", a, b}} {
			t.Run(dir.name, func(t *testing.T) {
				for _, rt := range portalRoutes() {
					t.Run("REST "+rt.name, func(t *testing.T) {
						probes := []struct {
							name      string
							got, want [5]string
						}{{"their application", dir.victim.ids(), missingIDs}}
						if strings.Contains(rt.path, "{conn}") || strings.Contains(rt.path, "{src}") || strings.Contains(rt.path, "{var}") ||
							strings.Contains(rt.path, "{code}") || strings.Contains(fmt.Sprint(rt.body), "{var}") {
							probes = append(probes, struct {
								name      string
								got, want [5]string
							}{"own application, their connection, run, variant or code",
								mixIDs(dir.attacker.ids(), dir.victim.ids()), mixIDs(dir.attacker.ids(), missingIDs)})
						}
						for _, p := range probes {
							gotStatus, gotBody := dir.attacker.dev.do(rt.method, fill(rt.path, p.got), fillBody(rt.body, p.got))
							wantStatus, wantBody := dir.attacker.dev.do(rt.method, fill(rt.path, p.want), fillBody(rt.body, p.want))
							if gotStatus != http.StatusNotFound || gotStatus != wantStatus || !bytes.Equal(gotBody, wantBody) {
								t.Errorf("%s: %s %s = %d %s; a missing id answers %d %s (want both 404 and equal)",
									p.name, rt.method, fill(rt.path, p.got), gotStatus, gotBody, wantStatus, wantBody)
							}
						}
						if status, body := e.anonymous().do(rt.method, fill(rt.path, dir.victim.ids()), fillBody(rt.body, dir.victim.ids())); status != http.StatusUnauthorized {
							t.Errorf("without a session: %d %s, want 401", status, body)
						}
					})
				}
				for _, op := range portalOperations() {
					t.Run("GraphQL "+op.name, func(t *testing.T) {
						got := dir.attacker.dev.gql(op.query, op.vars(dir.victim.app, dir.victim.conn, dir.victim.source))
						want := dir.attacker.dev.gql(op.query, op.vars(missingApp, missingConn, missingSource))
						gj, _ := json.Marshal(got)
						wj, _ := json.Marshal(want)
						if got.code() != "not_found" || !bytes.Equal(gj, wj) {
							t.Errorf("their ids answer %s; missing ids answer %s (want both not_found and equal)", gj, wj)
						}
						if strings.Contains(op.query, "$conn") || strings.Contains(op.query, "$src") {
							got := dir.attacker.dev.gql(op.query, op.vars(dir.attacker.app, dir.victim.conn, dir.victim.source))
							if got.code() != "not_found" {
								t.Errorf("own application with their connection or run: %+v, want not_found", got)
							}
						}
						if g := e.anonymous().gql(op.query, op.vars(dir.victim.app, dir.victim.conn, dir.victim.source)); g.code() == "" {
							t.Errorf("without a session: no error: %+v", g)
						}
					})
				}
			})
		}

		// A person connected to both applications sees the applications through their
		// connections, but none of the applications' data.
		t.Run("connected person", func(t *testing.T) {
			g := customer.gql(`{ viewer { connections(first: 50) { edges { node { application { id name webhookUrl } } } } } }`, nil)
			if g.code() != "not_found" {
				t.Errorf("webhookUrl through a connection: %+v, want not_found", g)
			}
			for _, field := range []string{"users { totalCount }", "importSources { totalCount }", "analytics { usersPerRegion { count } }",
				"activity { events { id } }", "quickstart { issuer }", "licenseVariants { id }", "licenseCodes { totalCount }"} {
				g := customer.gql(`{ viewer { connections(first: 5) { edges { node { application { `+field+` } } } } } }`, nil)
				if g.code() != "not_found" {
					t.Errorf("%s through a connection: %+v, want not_found", field, g)
				}
			}
			for _, op := range portalOperations() {
				if g := customer.gql(op.query, op.vars(a.app, a.conn, a.source)); g.code() != "not_found" &&
					!(op.name == "node connection" && len(g.Errors) == 0) { // their own connection
					t.Errorf("%s as the connected person: %+v, want not_found", op.name, g)
				}
			}
		})

		e.sameSnapshot(before, "the other developer's requests")

		// The owners still reach their own data: the refusals above were about ownership.
		for _, tn := range []tenant{a, b} {
			v := tn.dev.json("GET", "/api/developer/applications/"+tn.app+"/users", nil, http.StatusOK)
			if v["total"] != float64(1) {
				t.Errorf("owner's user list: %v", v)
			}
			tn.dev.json("GET", "/api/developer/applications/"+tn.app+"/import-sources/"+tn.source, nil, http.StatusOK)
		}
	})
}
