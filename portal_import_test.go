package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/ent/appconnection"
	"loginsign/ent/importsource"
	"loginsign/ent/webhookevent"
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
	forEachBackend(t, func(t *testing.T, e *portalEnv) {
		ctx := t.Context()
		dev := e.person("importer@example.com", "Importer", true)
		app := dev.createApp("Importer", true)
		ann := e.person("ann@example.com", "Ann Example", false)
		e.person("bob@example.com", "", false)
		cid := e.person("cid@example.com", "Cid", false)
		e.srv.db.UserEmail.Create().SetUserID(cid.user.ID).SetEmail("cid-alt@example.com").SetVerifiedAt(time.Now()).ExecX(ctx)
		e.srv.db.UserEmail.Create().SetUserID(cid.user.ID).SetEmail("cid-pending@example.com").ExecX(ctx)
		dan := e.person("dan@example.com", "Dan", false)
		e.connect(dan, app, func(c *ent.AppConnectionCreate) { c.SetActive(false) })
		e.person("eve@example.com", "Eve", false)

		rows := []map[string]string{
			{"externalUserId": "u1", "email": "ANN@example.com", "name": "ann example", "registrationDate": "2024-01-10T09:00:00Z", "lastLoginDate": "2026-05-03"},
			{"externalUserId": "u2", "email": "bob@example.com", "name": "Robert"}, // no profile name: nothing to mismatch
			{"externalUserId": "u3", "email": "cid-alt@example.com"},
			{"externalUserId": "u4", "email": "dan@example.com"},
			{"externalUserId": "u5", "email": "nobody@example.com"},
			{"externalUserId": "u6", "email": "eve@example.com", "name": "Mallory"},
			{"externalUserId": "", "email": "ann@example.com"},
			{"externalUserId": "u8", "email": "not-an-address"},
			{"externalUserId": "u9", "email": "eve@example.com", "registrationDate": "yesterday"},
			{"externalUserId": "u10", "email": "cid-pending@example.com"},
		}
		want := []string{"imported", "imported", "imported", "already_connected", "not_found", "name_mismatch",
			"invalid_row", "invalid_row", "invalid_row", "not_found"}
		first := dev.importJSON(app, map[string]any{"sourceName": "Nightly Sync", "users": rows}, 200)
		if got := statuses(first); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("statuses = %v, want %v", got, want)
		}
		wantCounts := map[string]int{"imported": 3, "already_connected": 1, "not_found": 2, "name_mismatch": 1, "invalid_row": 3}
		if fmt.Sprint(first.Counts) != fmt.Sprint(wantCounts) || first.Total != 10 || first.SourceName != "Nightly Sync" {
			t.Errorf("answer %+v", first)
		}
		// Linked rows carry the connection and the Global User ID, nothing else about the person.
		for _, r := range first.Results {
			linked := r.Status == "imported" || r.Status == "already_connected"
			if linked != (r.ConnectionID != "" && r.GlobalID != "") {
				t.Errorf("row %d (%s): connectionId %q globalId %q", r.Row, r.Status, r.ConnectionID, r.GlobalID)
			}
		}
		if first.Results[0].GlobalID != ann.user.GlobalID {
			t.Errorf("row 1 globalId = %s", first.Results[0].GlobalID)
		}
		// The created connection looks like a sign-in's: alias on the relay domain, backfilled dates.
		c, err := e.srv.db.AppConnection.Get(ctx, first.Results[0].ConnectionID)
		if err != nil {
			t.Fatal(err)
		}
		alias := regexp.MustCompile(`^[a-z0-9]{6,10}@` + regexp.QuoteMeta(e.srv.cfg.RelayDomain) + `$`)
		if !alias.MatchString(c.AliasEmail) || c.ExternalUserID != "u1" || !c.JoinedAt.Equal(time.Date(2024, 1, 10, 9, 0, 0, 0, time.UTC)) ||
			c.LastSessionAt == nil || !c.LastSessionAt.Equal(time.Date(2026, 5, 3, 0, 0, 0, 0, time.UTC)) || c.ImportSourceID == nil {
			t.Errorf("imported connection %+v", c)
		}
		connsAfterFirst, _ := e.srv.db.AppConnection.Query().Where(appconnection.ApplicationID(app)).Count(ctx)
		if connsAfterFirst != 4 {
			t.Errorf("connections = %d, want 4", connsAfterFirst)
		}

		// Re-running is safe: linked rows are already connected and nothing is created twice.
		second := dev.importJSON(app, map[string]any{"sourceName": "Nightly Sync", "users": rows}, 200)
		want2 := []string{"already_connected", "already_connected", "already_connected", "already_connected", "not_found",
			"name_mismatch", "invalid_row", "invalid_row", "invalid_row", "not_found"}
		if got := statuses(second); fmt.Sprint(got) != fmt.Sprint(want2) || second.SourceID == first.SourceID {
			t.Errorf("re-run statuses = %v (source %s)", got, second.SourceID)
		}
		for i := range 4 {
			if second.Results[i].ConnectionID != first.Results[i].ConnectionID && i != 3 {
				t.Errorf("row %d linked to another connection on re-run", i+1)
			}
		}
		if n, _ := e.srv.db.AppConnection.Query().Where(appconnection.ApplicationID(app)).Count(ctx); n != connsAfterFirst {
			t.Errorf("re-run changed the connection count to %d", n)
		}

		// Both runs are stored and listed, newest first, with their rows.
		list := dev.json("GET", "/api/developer/applications/"+app+"/import-sources", nil, 200)["sources"].([]any)
		if len(list) != 2 || list[0].(map[string]any)["id"] != second.SourceID {
			t.Errorf("sources = %v", list)
		}
		stored := dev.json("GET", "/api/developer/applications/"+app+"/import-sources/"+first.SourceID, nil, 200)
		if len(stored["results"].([]any)) != 10 || stored["counts"].(map[string]any)["imported"] != float64(3) || stored["rolledBackAt"] != nil {
			t.Errorf("stored run %v", stored)
		}

		// Rolling back the first run deletes the three connections it created, and only those.
		eventsBefore, _ := e.srv.db.WebhookEvent.Query().Where(webhookevent.Type("user_account_deleted")).Count(ctx)
		rb := dev.json("POST", "/api/developer/applications/"+app+"/import-sources/"+first.SourceID+"/rollback", nil, 200)
		if rb["deletedConnections"] != float64(3) || rb["ok"] != true || rb["rolledBackAt"] == nil {
			t.Errorf("rollback = %v", rb)
		}
		left, _ := e.srv.db.AppConnection.Query().Where(appconnection.ApplicationID(app)).All(ctx)
		if len(left) != 1 || left[0].UserID != dan.user.ID {
			t.Errorf("after rollback %d connections left", len(left))
		}
		eventsAfter, _ := e.srv.db.WebhookEvent.Query().Where(webhookevent.Type("user_account_deleted")).Count(ctx)
		if eventsAfter-eventsBefore != 3 {
			t.Errorf("rollback queued %d user_account_deleted events, want 3", eventsAfter-eventsBefore)
		}
		if status, body := dev.do("POST", "/api/developer/applications/"+app+"/import-sources/"+first.SourceID+"/rollback", nil); status != 409 {
			t.Errorf("second rollback = %d %s, want 409", status, body)
		}
		// The second run created nothing, so its rollback deletes nothing.
		if rb := dev.json("POST", "/api/developer/applications/"+app+"/import-sources/"+second.SourceID+"/rollback", nil, 200); rb["deletedConnections"] != float64(0) {
			t.Errorf("rollback of the re-run = %v", rb)
		}
		// GraphQL sees the same runs.
		g := dev.mustGQL(`query($app: ID!) { application(id: $app) { importSources { totalCount edges { node { id rolledBackAt counts { imported alreadyConnected notFound nameMismatch invalidRow } } } } } }`,
			map[string]any{"app": app})
		srcs := edges(g["application"].(map[string]any)["importSources"])
		if len(srcs) != 2 || srcs[1]["id"] != first.SourceID || srcs[1]["rolledBackAt"] == nil ||
			fmt.Sprint(srcs[1]["counts"]) != "map[alreadyConnected:1 imported:3 invalidRow:3 nameMismatch:1 notFound:2]" {
			t.Errorf("GraphQL import sources %v", srcs)
		}
	})
}

func TestImportCSV(t *testing.T) {
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
				"\ufeffemail;user_id;name\none@example.com;a1;One\nnobody@example.com;a2;\n", []string{"imported", "not_found"}},
			{"commas without header", "text/csv; charset=utf-8",
				"b1,two@example.com,Two,2025-01-01,2026-01-01T10:00:00Z\nb2,one@example.com,Someone Else\n", []string{"imported", "name_mismatch"}},
			{"quoted fields", "text/csv", "user_id,email\n\"c,1\",\"one@example.com\"\n", []string{"already_connected"}},
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
			if status != 200 || fmt.Sprint(statuses(a)) != "[already_connected not_found]" || a.SourceName != "From the portal" {
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

func TestImportRowLimit(t *testing.T) {
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
		if a.Total != 10_000 || len(a.Results) != 10_000 || a.Counts["imported"] != 1 || a.Counts["not_found"] != 9_999 {
			t.Errorf("10,000 rows: total %d, %d results, counts %v", a.Total, len(a.Results), a.Counts)
		}
		if n, _ := e.srv.db.ImportRow.Query().Count(t.Context()); n != 10_000 {
			t.Errorf("stored rows = %d", n)
		}
	})
}
