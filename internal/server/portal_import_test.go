package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/ent/appconnection"
	"loginsign/ent/importsource"
	"loginsign/ent/pendinglink"
	"loginsign/internal/licenses"
	"loginsign/internal/portal"
)

type importAnswer struct {
	SourceID   string
	SourceName string
	Total      int
	Counts     map[string]int
	Results    []struct {
		Row            int
		ExternalUserID string
		Email          string
		Status         string
		ConnectionID   string
		GlobalID       string
		Message        string
	}
}

func (p *person) importJSON(app string, body any, want int) importAnswer {
	p.e.t.Helper()
	status, out := p.do("POST", "/api/developer/applications/"+app+"/import-existing-users/csv", body)
	if status != want {
		p.e.t.Fatalf("import = %d %s, want %d", status, out, want)
	}
	var a importAnswer
	json.Unmarshal(out, &a)
	return a
}

func statuses(a importAnswer) []string {
	var out []string
	for _, r := range a.Results {
		out = append(out, r.Status)
	}
	return out
}

func TestImportExistingUsers(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, e *portalEnv) {
		ctx := t.Context()
		dev := e.person("importer@example.com", "Importer", true)
		app := dev.createApp("Importer", true)
		ann := e.person("ann@example.com", "Ann Example", false)
		e.person("bob@example.com", "", false)
		cid := e.person("cid@example.com", "Cid", false)
		e.srv.db.UserEmail.Create().SetUserID(cid.user.ID).SetEmail("cid-alt@example.com").SetVerifiedAt(time.Now()).ExecX(ctx)
		e.srv.db.UserEmail.Create().SetUserID(cid.user.ID).SetEmail("cid-pending@example.com").ExecX(ctx)
		// Dan connected the app himself and shared his address with it; Fay connected with the
		// private alias only.
		dan := e.person("dan@example.com", "Dan", false)
		danConn := e.connect(dan, app, func(c *ent.AppConnectionCreate) { c.SetActive(false).SetAppEmail("dan@example.com") })
		fay := e.person("fay@example.com", "Fay", false)
		e.connect(fay, app)
		e.person("eve@example.com", "Eve", false)

		rows := []map[string]string{
			{"externalUserId": "u1", "email": "ANN@example.com", "name": "ann example", "registrationDate": "2024-01-10T09:00:00Z", "lastLoginDate": "2026-05-03"},
			{"externalUserId": "u2", "email": "bob@example.com", "name": "Robert"},
			{"externalUserId": "u3", "email": "cid-alt@example.com"},
			{"externalUserId": "u4", "email": "dan@example.com", "lastLoginDate": "2026-05-04"},
			{"externalUserId": "u5", "email": "nobody@example.com"},
			{"externalUserId": "u6", "email": "eve@example.com", "name": "Mallory"},
			{"externalUserId": "", "email": "ann@example.com"},
			{"externalUserId": "u8", "email": "not-an-address"},
			{"externalUserId": "u9", "email": "eve@example.com", "registrationDate": "yesterday"},
			{"externalUserId": "u10", "email": "cid-pending@example.com"},
			{"externalUserId": "u11", "email": "fay@example.com"},
		}
		// Known and unknown addresses, matching names or not: all imported (proposed). Only
		// Dan, whose connection already shows the app this address, is already_connected.
		want := []string{"imported", "imported", "imported", "already_connected", "imported", "imported",
			"invalid_row", "invalid_row", "invalid_row", "imported", "imported"}
		first := dev.importJSON(app, map[string]any{"sourceName": "Nightly Sync", "users": rows}, 200)
		if got := statuses(first); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("statuses = %v, want %v", got, want)
		}
		wantCounts := map[string]int{"imported": 7, "already_connected": 1, "invalid_row": 3}
		if fmt.Sprint(first.Counts) != fmt.Sprint(wantCounts) || first.Total != 11 || first.SourceName != "Nightly Sync" {
			t.Errorf("answer %+v", first)
		}
		// The answer echoes what the developer sent; only the already_connected row names a
		// connection (the app's own), and no row carries a Global User ID.
		for i, r := range first.Results {
			if r.ExternalUserID != strings.TrimSpace(rows[i]["externalUserId"]) || r.Email != rows[i]["email"] || r.GlobalID != "" {
				t.Errorf("row %d = %+v, sent %v", r.Row, r, rows[i])
			}
			if (r.ConnectionID != "") != (r.Status == "already_connected") {
				t.Errorf("row %d (%s): connectionId %q", r.Row, r.Status, r.ConnectionID)
			}
		}
		if first.Results[3].ConnectionID != danConn.ID {
			t.Errorf("Dan's row names %s", first.Results[3].ConnectionID)
		}
		// Nobody was connected: the import made pending links, one per valid imported address.
		if n, _ := e.srv.db.AppConnection.Query().Where(appconnection.ApplicationID(app)).Count(ctx); n != 2 {
			t.Errorf("connections = %d, want the 2 people connected themselves", n)
		}
		links, _ := e.srv.db.PendingLink.Query().Where(pendinglink.ApplicationID(app)).Order(ent.Asc(pendinglink.FieldExternalUserID)).All(ctx)
		if len(links) != 7 {
			t.Fatalf("pending links = %d, want 7", len(links))
		}
		annLink, _ := e.srv.db.PendingLink.Query().Where(pendinglink.Email("ann@example.com")).Only(ctx)
		if annLink == nil || annLink.ExternalUserID != "u1" || annLink.RegisteredAt == nil ||
			!annLink.RegisteredAt.Equal(time.Date(2024, 1, 10, 9, 0, 0, 0, time.UTC)) || annLink.ImportSourceID == nil || *annLink.ImportSourceID != first.SourceID {
			t.Errorf("Ann's pending link %+v", annLink)
		}
		// already_connected refreshes the connection the person made: reactivated, the
		// external id stored, a later last-login backfilled.
		dc, _ := e.srv.db.AppConnection.Get(ctx, danConn.ID)
		if !dc.Active || dc.ExternalUserID != "u4" || dc.LastSessionAt == nil || !dc.LastSessionAt.Equal(time.Date(2026, 5, 4, 0, 0, 0, 0, time.UTC)) {
			t.Errorf("Dan's connection %+v", dc)
		}
		_ = ann

		// Re-running is safe: the same answers, the same pending links (updated, not doubled).
		rows[0]["externalUserId"] = "u1-renamed"
		second := dev.importJSON(app, map[string]any{"sourceName": "Nightly Sync", "users": rows}, 200)
		if got := statuses(second); fmt.Sprint(got) != fmt.Sprint(want) || second.SourceID == first.SourceID {
			t.Errorf("re-run statuses = %v (source %s)", got, second.SourceID)
		}
		if n, _ := e.srv.db.PendingLink.Query().Where(pendinglink.ApplicationID(app)).Count(ctx); n != 7 {
			t.Errorf("re-run left %d pending links, want 7", n)
		}
		if l, _ := e.srv.db.PendingLink.Query().Where(pendinglink.Email("ann@example.com")).Only(ctx); l.ExternalUserID != "u1-renamed" || *l.ImportSourceID != second.SourceID {
			t.Errorf("re-run did not update Ann's link: %+v", l)
		}

		// Both runs are stored and listed, newest first, with their rows.
		list := dev.json("GET", "/api/developer/applications/"+app+"/import-sources", nil, 200)["sources"].([]any)
		if len(list) != 2 || list[0].(map[string]any)["id"] != second.SourceID {
			t.Errorf("sources = %v", list)
		}
		stored := dev.json("GET", "/api/developer/applications/"+app+"/import-sources/"+first.SourceID, nil, 200)
		if len(stored["results"].([]any)) != 11 || stored["counts"].(map[string]any)["imported"] != float64(7) || stored["rolledBackAt"] != nil {
			t.Errorf("stored run %v", stored)
		}

		// Rolling back the first run withdraws nothing the second run proposed again; rolling
		// back the second withdraws the open links. Connections people made stay.
		rb := dev.json("POST", "/api/developer/applications/"+app+"/import-sources/"+first.SourceID+"/rollback", nil, 200)
		if rb["deletedConnections"] != float64(0) || rb["withdrawnLinks"] != float64(0) || rb["ok"] != true || rb["rolledBackAt"] == nil {
			t.Errorf("rollback = %v", rb)
		}
		if status, body := dev.do("POST", "/api/developer/applications/"+app+"/import-sources/"+first.SourceID+"/rollback", nil); status != 409 {
			t.Errorf("second rollback = %d %s, want 409", status, body)
		}
		if rb := dev.json("POST", "/api/developer/applications/"+app+"/import-sources/"+second.SourceID+"/rollback", nil, 200); rb["withdrawnLinks"] != float64(7) {
			t.Errorf("rollback of the re-run = %v", rb)
		}
		if n, _ := e.srv.db.PendingLink.Query().Where(pendinglink.ApplicationID(app)).Count(ctx); n != 0 {
			t.Errorf("%d pending links left after rollback", n)
		}
		if n, _ := e.srv.db.AppConnection.Query().Where(appconnection.ApplicationID(app)).Count(ctx); n != 2 {
			t.Errorf("rollback touched the people's own connections: %d left", n)
		}
		// GraphQL sees the same runs; the retired statuses count 0.
		g := dev.mustGQL(`query($app: ID!) { application(id: $app) { importSources(first: 50) { totalCount edges { node { id rolledBackAt counts { imported alreadyConnected notFound nameMismatch invalidRow } } } } } }`,
			map[string]any{"app": app})
		srcs := edges(g["application"].(map[string]any)["importSources"])
		if len(srcs) != 2 || srcs[1]["id"] != first.SourceID || srcs[1]["rolledBackAt"] == nil ||
			fmt.Sprint(srcs[1]["counts"]) != "map[alreadyConnected:1 imported:7 invalidRow:3 nameMismatch:0 notFound:0]" {
			t.Errorf("GraphQL import sources %v", srcs)
		}
	})
}

func TestImportCSV(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, e *portalEnv) {
		dev := e.person("csv@example.com", "CSV", true)
		app := dev.createApp("Csv", false)
		e.person("one@example.com", "One", false)
		e.person("two@example.com", "Two", false)
		path := "/api/developer/applications/" + app + "/import-existing-users/csv"
		for _, tc := range []struct {
			name, contentType, body string
			want                    []string
		}{
			{"semicolons, header in another order, BOM", "text/csv",
				"\ufeffemail;user_id;name\none@example.com;a1;One\nnobody@example.com;a2;\n", []string{"imported", "imported"}},
			{"commas without header", "text/csv; charset=utf-8",
				"b1,two@example.com,Two,2025-01-01,2026-01-01T10:00:00Z\nb2,one@example.com,Someone Else\n", []string{"imported", "imported"}},
			{"quoted fields", "text/csv", "user_id,email\n\"c,1\",\"one@example.com\"\n", []string{"imported"}},
			{"bad date", "text/csv", "user_id,email,name,registration_date\nd1,one@example.com,,someday\n", []string{"invalid_row"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				status, out := dev.do("POST", path+"?sourceName=upload", tc.body, tc.contentType)
				var a importAnswer
				json.Unmarshal(out, &a)
				if status != 200 || fmt.Sprint(statuses(a)) != fmt.Sprint(tc.want) || a.SourceName != "upload" {
					t.Errorf("= %d %s, want statuses %v", status, out, tc.want)
				}
			})
		}
		t.Run("multipart upload", func(t *testing.T) {
			var buf bytes.Buffer
			mw := multipart.NewWriter(&buf)
			mw.WriteField("sourceName", "From the portal")
			fw, _ := mw.CreateFormFile("file", "users.csv")
			fw.Write([]byte("user_id,email\nm1,two@example.com\nm2,nobody@example.com\n"))
			mw.Close()
			status, out := dev.do("POST", path, buf.Bytes(), mw.FormDataContentType())
			var a importAnswer
			json.Unmarshal(out, &a)
			if status != 200 || fmt.Sprint(statuses(a)) != "[imported imported]" || a.SourceName != "From the portal" {
				t.Errorf("= %d %s", status, out)
			}
			src, _ := e.srv.db.ImportSource.Get(t.Context(), a.SourceID)
			if src == nil || src.Kind != importsource.KindCsv {
				t.Errorf("source %+v", src)
			}
		})
		t.Run("bad CSV changes nothing", func(t *testing.T) {
			before := e.snapshot()
			var mp bytes.Buffer
			mw := multipart.NewWriter(&mp)
			mw.WriteField("sourceName", "no file")
			mw.Close()
			for _, tc := range []struct {
				name, contentType, body string
				status                  int
			}{
				{"unterminated quote", "text/csv", "user_id,email\n\"a1,one@example.com\n", 400},
				{"stray quote", "text/csv", "user_id,email\na\"1,one@example.com\n", 400},
				{"empty", "text/csv", "", 400},
				{"header only", "text/csv", "user_id,email\n", 400},
				{"header without email", "text/csv", "user_id,name\na1,Ann\n", 400},
				{"multipart without a file", mw.FormDataContentType(), mp.String(), 400},
				{"multipart without boundary", "multipart/form-data", "x", 400},
				{"unknown content type", "application/xml", "<users/>", 400},
			} {
				status, out := dev.do("POST", path, tc.body, tc.contentType)
				if status != tc.status || !strings.Contains(string(out), `"error":"invalid_request"`) {
					t.Errorf("%s: %d %s, want %d invalid_request", tc.name, status, out, tc.status)
				}
			}
			e.sameSnapshot(before, "bad CSV uploads")
		})
	})
}

// Calls that store up to 10,000 rows each are counted per developer and hour, whichever
// transport makes them and on whichever of their applications: 30 import runs, 60 code
// generations or uploads. Past them REST answers 429 with Retry-After and GraphQL
// rate_limited, and nothing is stored; another developer is not held up.
func TestBulkWritesAreCountedPerDeveloper(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, e *portalEnv) {
		dev := e.person("bulk@example.com", "Bulk", true)
		apps := []string{dev.createApp("BulkOne", false), dev.createApp("BulkTwo", false)}
		row := map[string]any{"users": []map[string]any{{"externalUserId": "1", "email": "someone@example.com"}}}
		const imp = `mutation($in: ImportAppUsersInput!) { importAppUsers(input: $in) { source { id } } }`
		for i := range portal.DefaultImports.N {
			if i%2 == 0 {
				dev.json("POST", "/api/developer/applications/"+apps[i%4/2]+"/import-existing-users/csv", row, http.StatusOK)
				continue
			}
			dev.mustGQL(imp, map[string]any{"in": map[string]any{"applicationId": apps[i%4/2], "sourceName": "gql",
				"users": []map[string]any{{"externalUserId": "1", "email": "someone@example.com"}}}})
		}
		before, _ := e.srv.db.ImportSource.Query().Count(context.Background())
		if status, body := dev.do("POST", "/api/developer/applications/"+apps[0]+"/import-existing-users/csv", row); status != http.StatusTooManyRequests ||
			!strings.Contains(string(body), `"error":"rate_limited"`) {
			t.Fatalf("import %d = %d %s, want 429 rate_limited", portal.DefaultImports.N+1, status, body)
		}
		if g := dev.gql(imp, map[string]any{"in": map[string]any{"applicationId": apps[1], "sourceName": "gql",
			"users": []map[string]any{{"externalUserId": "1", "email": "someone@example.com"}}}}); g.code() != "rate_limited" {
			t.Fatalf("GraphQL import past the limit = %+v, want rate_limited", g)
		} else if wait, _ := g.Errors[0].Extensions["retryAfter"].(float64); wait < 1 || wait > 3600 {
			// GraphQL says how long to wait, as REST's Retry-After does.
			t.Fatalf("GraphQL import past the limit: retryAfter %v, want 1..3600 s", g.Errors[0].Extensions["retryAfter"])
		}
		if after, _ := e.srv.db.ImportSource.Query().Count(context.Background()); after != before {
			t.Fatalf("%d import runs stored past the limit", after-before)
		}
		other := e.person("other-bulk@example.com", "Other", true)
		otherApp := other.createApp("OtherBulk", false)
		other.json("POST", "/api/developer/applications/"+otherApp+"/import-existing-users/csv", row, http.StatusOK)

		v := dev.json("POST", "/api/developer/applications/"+apps[0]+"/licenses/variants", map[string]any{"name": "Pro"}, http.StatusCreated)
		gen := map[string]any{"variantId": v["id"], "count": 1}
		for range licenses.DefaultBulk.N {
			dev.json("POST", "/api/developer/applications/"+apps[0]+"/licenses/codes/generate", gen, http.StatusCreated)
		}
		if status, body := dev.do("POST", "/api/developer/applications/"+apps[0]+"/licenses/codes/generate", gen); status != http.StatusTooManyRequests {
			t.Fatalf("generation %d = %d %s, want 429", licenses.DefaultBulk.N+1, status, body)
		}
		up := map[string]any{"variantId": v["id"], "codes": []string{"MINE-0001"}}
		if status, body := dev.do("POST", "/api/developer/applications/"+apps[0]+"/licenses/codes/upload", up); status != http.StatusTooManyRequests {
			t.Fatalf("an upload past the limit = %d %s, want 429", status, body)
		}
		if n, _ := e.srv.db.LicenseCode.Query().Count(context.Background()); n != licenses.DefaultBulk.N {
			t.Fatalf("%d codes stored, want %d", n, licenses.DefaultBulk.N)
		}
	})
}

func TestImportRowLimit(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, e *portalEnv) {
		dev := e.person("bulk@example.com", "Bulk", true)
		app := dev.createApp("Bulk", false)
		e.person("bulk-0@example.com", "", false)
		path := "/api/developer/applications/" + app + "/import-existing-users/csv"
		users := func(n int) []map[string]string {
			out := make([]map[string]string, n)
			for i := range out {
				out[i] = map[string]string{"externalUserId": fmt.Sprint("x", i), "email": fmt.Sprintf("bulk-%d@example.com", i)}
			}
			return out
		}
		csvRows := func(n int) string {
			var b strings.Builder
			b.WriteString("user_id,email\n")
			for i := range n {
				fmt.Fprintf(&b, "x%d,bulk-%d@example.com\n", i, i)
			}
			return b.String()
		}
		before := e.snapshot()
		for _, tc := range []struct {
			name string
			send func() (int, []byte)
		}{
			{"JSON 10,001 rows", func() (int, []byte) { return dev.do("POST", path, map[string]any{"users": users(10_001)}) }},
			{"CSV 10,001 rows", func() (int, []byte) { return dev.do("POST", path, csvRows(10_001), "text/csv") }},
			{"GraphQL 10,001 rows", func() (int, []byte) {
				g := dev.gql(`mutation($app: ID!, $u: [ImportUserInput!]!) { importUsers(appId: $app, input: {users: $u}) { source { id } } }`,
					map[string]any{"app": app, "u": users(10_001)})
				if g.code() == "payload_too_large" {
					return 413, nil
				}
				b, _ := json.Marshal(g)
				return 200, b
			}},
		} {
			if status, out := tc.send(); status != http.StatusRequestEntityTooLarge {
				t.Errorf("%s: %d %.300s, want 413", tc.name, status, out)
			}
		}
		e.sameSnapshot(before, "oversized imports")

		a := dev.importJSON(app, map[string]any{"users": users(10_000)}, 200)
		if a.Total != 10_000 || len(a.Results) != 10_000 || a.Counts["imported"] != 10_000 {
			t.Errorf("10,000 rows: total %d, %d results, counts %v", a.Total, len(a.Results), a.Counts)
		}
		if n, _ := e.srv.db.ImportRow.Query().Count(t.Context()); n != 10_000 {
			t.Errorf("stored rows = %d", n)
		}
		if n, _ := e.srv.db.PendingLink.Query().Count(t.Context()); n != 10_000 {
			t.Errorf("pending links = %d", n)
		}
	})
}

// TestImportConcurrent runs the same import four times at once: every run succeeds, every
// row of every run is imported, and each address has exactly one pending link.
func TestImportConcurrent(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, e *portalEnv) {
		dev := e.person("racer@example.com", "Racer", true)
		app := dev.createApp("Racer", false)
		var rows []map[string]string
		for i := range 20 {
			who := e.person(fmt.Sprintf("racer-%d@example.com", i), "", false)
			rows = append(rows, map[string]string{"externalUserId": fmt.Sprint(i), "email": who.user.Email})
		}
		const runs = 4
		type answer struct {
			status int
			body   []byte
		}
		answers := make(chan answer, runs)
		for range runs {
			go func() {
				status, body := dev.do("POST", "/api/developer/applications/"+app+"/import-existing-users/csv", map[string]any{"users": rows})
				answers <- answer{status, body}
			}()
		}
		imported := 0
		for range runs {
			a := <-answers
			var v importAnswer
			json.Unmarshal(a.body, &v)
			if a.status != 200 {
				t.Fatalf("concurrent import = %d %s", a.status, a.body)
			}
			imported += v.Counts["imported"]
		}
		links, _ := e.srv.db.PendingLink.Query().Where(pendinglink.ApplicationID(app)).Count(t.Context())
		conns, _ := e.srv.db.AppConnection.Query().Where(appconnection.ApplicationID(app)).Count(t.Context())
		if links != 20 || conns != 0 || imported != 20*runs {
			t.Errorf("%d pending links, %d connections, %d rows imported across runs; want 20, 0 and %d", links, conns, imported, 20*runs)
		}
	})
}

// TestParityImport runs the same rows through REST and GraphQL (on two applications of one
// developer) and compares the results, the stored runs and the rollbacks.
func TestParityImport(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, e *portalEnv) {
		dev := e.person("twin@example.com", "Twin", true)
		restApp, gqlApp := dev.createApp("TwinRest", false), dev.createApp("TwinGraph", false)
		e.person("known@example.com", "Known Person", false)
		rows := []map[string]any{
			{"externalUserId": "1", "email": "known@example.com", "name": "Known Person"},
			{"externalUserId": "2", "email": "unknown@example.com"},
			{"externalUserId": "3", "email": "known@example.com", "name": "Someone"},
			{"externalUserId": "", "email": "known@example.com"},
		}
		rest := dev.importJSON(restApp, map[string]any{"sourceName": "twin", "users": rows}, 200)
		g := dev.mustGQL(`mutation($app: ID!, $u: [ImportUserInput!]!) { importAppUsers(input: {applicationId: $app, sourceName: "twin", users: $u}) {
			source { id name total counts { imported alreadyConnected notFound nameMismatch invalidRow } }
			results { row externalUserId email status message } } }`, map[string]any{"app": gqlApp, "u": rows})["importAppUsers"].(map[string]any)
		var gs []string
		for i, r := range g["results"].([]any) {
			r := r.(map[string]any)
			// GraphQL spells the stored status UPPER_SNAKE (graph/enum); REST keeps the stored value.
			gs = append(gs, strings.ToLower(r["status"].(string)))
			if r["row"] != float64(rest.Results[i].Row) || r["externalUserId"] != rest.Results[i].ExternalUserID ||
				r["email"] != rest.Results[i].Email || fmt.Sprint(blank(r["message"])) != fmt.Sprint(blank(rest.Results[i].Message)) {
				t.Errorf("row %d: GraphQL %v, REST %+v", i+1, r, rest.Results[i])
			}
		}
		if fmt.Sprint(gs) != fmt.Sprint(statuses(rest)) {
			t.Errorf("statuses: GraphQL %v, REST %v", gs, statuses(rest))
		}
		src := g["source"].(map[string]any)
		c := src["counts"].(map[string]any)
		if src["name"] != rest.SourceName || src["total"] != float64(rest.Total) || c["imported"] != float64(rest.Counts["imported"]) ||
			c["notFound"] != float64(rest.Counts["not_found"]) || c["nameMismatch"] != float64(rest.Counts["name_mismatch"]) ||
			c["invalidRow"] != float64(rest.Counts["invalid_row"]) || c["alreadyConnected"] != float64(rest.Counts["already_connected"]) {
			t.Errorf("source: GraphQL %v, REST %+v", src, rest)
		}
		rb := dev.json("POST", "/api/developer/applications/"+restApp+"/import-sources/"+rest.SourceID+"/rollback", nil, 200)
		gb := dev.mustGQL(`mutation($app: ID!, $src: ID!) { rollbackImport(appId: $app, sourceId: $src) { deletedConnections withdrawnLinks source { rolledBackAt } } }`,
			map[string]any{"app": gqlApp, "src": src["id"]})["rollbackImport"].(map[string]any)
		if rb["deletedConnections"] != gb["deletedConnections"] || rb["withdrawnLinks"] != gb["withdrawnLinks"] || rb["withdrawnLinks"] != float64(2) ||
			gb["source"].(map[string]any)["rolledBackAt"] == nil {
			t.Errorf("rollback: REST %v, GraphQL %v", rb, gb)
		}
	})
}
