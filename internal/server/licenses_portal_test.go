package server

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"loginsign/internal/licenses"
	"loginsign/internal/ratelimit"
	"loginsign/internal/store/storetest"
)

type variantOut struct {
	ID, Name, Duration, CreatedAt string
	Description                   *string
	CodeCounts                    map[string]int
}

type codeOut struct {
	ID, Code, VariantID, VariantName, State, Source, CreatedAt string
	ActivatedAt, ExpiresAt                                     *string
	Owner                                                      *struct {
		ConnectionID, GlobalID, Email string
		Name                          *string
	}
}

type codesOut struct {
	Codes      []codeOut
	Total      int
	NextCursor string
}

func TestDeveloperLicensesAPI(t *testing.T) {
	t.Parallel()
	for name, dbURL := range storetest.URLs(t) {
		t.Run(name, func(t *testing.T) {
			e := newAPIEnv(t, dbURL, licenses.RedeemLimits{})
			dev, rival := e.cookie(e.dev), e.cookie(e.rival)
			base := "/api/developer/applications/" + e.app.ID + "/licenses"

			code, _, body := e.call("POST", base+"/variants", map[string]any{"name": "Premium", "description": "All features", "defaultDuration": "YEAR"}, nil, dev)
			v := decode[variantOut](t, body)
			if want := fmt.Sprintf(`{"id":%q,"name":"Premium","description":"All features","duration":"YEAR","createdAt":"%s","codeCounts":{"UNUSED":0,"ACTIVE":0,"EXPIRED":0}}`, v.ID, v.CreatedAt); code != 201 || body != want {
				t.Fatalf("create = %d %s", code, body)
			}
			code, _, body = e.call("POST", base+"/variants", map[string]any{"name": "Basic"}, nil, dev)
			basicV := decode[variantOut](t, body)
			if code != 201 || basicV.Duration != "LIFETIME" || basicV.Description != nil {
				t.Fatalf("create basic = %d %s", code, body)
			}

			code, _, body = e.call("POST", base+"/codes/generate", map[string]any{"variantId": v.ID, "count": 3, "prefix": "prem"}, nil, dev)
			gen := decode[struct {
				Created   int
				VariantID string
				Codes     []string
			}](t, body)
			if code != 201 || gen.Created != 3 || len(gen.Codes) != 3 || gen.VariantID != v.ID || !strings.HasPrefix(gen.Codes[0], "PREM-") {
				t.Fatalf("generate = %d %s", code, body)
			}

			code, _, body = e.call("POST", base+"/codes/upload", map[string]any{"variantId": basicV.ID, "codes": []string{"BASIC-0001", "basic0001", "x", gen.Codes[0]}}, nil, dev)
			if want := `{"created":1,"duplicates":["basic0001","` + gen.Codes[0] + `"],"invalid":[{"line":3,"code":"x","reason":"a code is 4 to 64 characters of A-Z, a-z, 0-9, - and _"}]}`; code != 200 || body != want {
				t.Fatalf("JSON upload = %d %s\nwant %s", code, body, want)
			}
			csv := "code,variant\nCSV-0001,premium\nCSV-0002,\nCSV-0001,\nbad code,\nCSV-0003,Gold\n"
			code, _, body = e.call("POST", base+"/codes/upload?variantId="+basicV.ID, csv, map[string]string{"Content-Type": "text/csv"}, dev)
			if want := `{"created":2,"duplicates":["CSV-0001"],"invalid":[{"line":5,"code":"bad code","reason":"a code is 4 to 64 characters of A-Z, a-z, 0-9, - and _"},{"line":6,"code":"CSV-0003","reason":"unknown variant \"Gold\""}]}`; code != 200 || body != want {
				t.Fatalf("CSV upload = %d %s\nwant %s", code, body, want)
			}

			// A person redeems one; the developer sees them as its owner.
			ann := e.person("ann@example.com", "Ann")
			conn := e.connect(ann, e.app, e.now)
			e.now = e.now.Add(time.Minute)
			if code, _, body := e.call("POST", "/api/user/licenses/redeem", map[string]any{"code": gen.Codes[1], "client_id": e.app.ID}, nil, e.cookie(ann)); code != 200 {
				t.Fatalf("redeem = %d %s", code, body)
			}
			code, _, body = e.call("GET", base+"/codes?state=ACTIVE", nil, nil, dev)
			list := decode[codesOut](t, body)
			if code != 200 || list.Total != 1 || len(list.Codes) != 1 || list.Codes[0].Owner == nil ||
				list.Codes[0].Owner.ConnectionID != conn.ID || list.Codes[0].Owner.GlobalID != ann.GlobalID ||
				list.Codes[0].Owner.Email != conn.AliasEmail || *list.Codes[0].Owner.Name != "Ann" ||
				list.Codes[0].VariantName != "Premium" || *list.Codes[0].ExpiresAt != "2027-03-01T12:01:00.000Z" {
				t.Fatalf("active codes = %d %s", code, body)
			}
			redeemed := list.Codes[0]
			code, _, body = e.call("GET", base+"/codes?limit=2", nil, nil, dev)
			page := decode[codesOut](t, body)
			if code != 200 || page.Total != 6 || len(page.Codes) != 2 || page.NextCursor == "" {
				t.Fatalf("page 1 = %d %s", code, body)
			}
			code, _, body = e.call("GET", base+"/codes?limit=5&cursor="+url.QueryEscape(page.NextCursor), nil, nil, dev)
			if page2 := decode[codesOut](t, body); code != 200 || page2.Total != 6 || len(page2.Codes) != 4 || page2.NextCursor != "" {
				t.Fatalf("page 2 = %d %s", code, body)
			}
			code, _, body = e.call("GET", base+"/codes?variantId="+basicV.ID+"&q=csv", nil, nil, dev)
			if l := decode[codesOut](t, body); code != 200 || l.Total != 1 || l.Codes[0].Code != "CSV-0002" || l.Codes[0].Owner != nil || l.Codes[0].State != "UNUSED" {
				t.Fatalf("filtered = %d %s", code, body)
			}
			// Expiry shows at once.
			e.now = e.now.AddDate(1, 0, 0)
			code, _, body = e.call("GET", base+"/codes?state=expired", nil, nil, dev)
			if l := decode[codesOut](t, body); code != 200 || l.Total != 1 || l.Codes[0].ID != redeemed.ID || l.Codes[0].State != "EXPIRED" {
				t.Fatalf("expired = %d %s", code, body)
			}
			e.now = e.now.AddDate(-1, 0, 0)

			code, _, body = e.call("GET", base+"/variants", nil, nil, dev)
			vs := decode[struct{ Variants []variantOut }](t, body)
			if code != 200 || len(vs.Variants) != 2 || vs.Variants[0].Name != "Basic" || vs.Variants[1].CodeCounts["ACTIVE"] != 1 ||
				vs.Variants[1].CodeCounts["UNUSED"] != 3 || vs.Variants[0].CodeCounts["UNUSED"] != 2 {
				t.Fatalf("variants = %d %s", code, body)
			}
			code, _, body = e.call("PATCH", base+"/variants/"+basicV.ID, map[string]any{"name": "Starter", "duration": "MONTH"}, nil, dev)
			if p := decode[variantOut](t, body); code != 200 || p.Name != "Starter" || p.Duration != "MONTH" || p.CodeCounts["UNUSED"] != 2 {
				t.Fatalf("patch = %d %s", code, body)
			}

			unused := page.Codes[0].ID
			if page.Codes[0].ID == redeemed.ID {
				unused = page.Codes[1].ID
			}
			for _, tt := range []struct {
				name, method, path string
				body               any
				headers            map[string]string
				cookie             bool
				status             int
				want               string
			}{
				{"no session", "GET", base + "/variants", nil, nil, false, 401, `{"error":"unauthorized","message":"sign in first"}`},
				{"no session, write", "POST", base + "/variants", map[string]any{"name": "X"}, nil, false, 401, `{"error":"unauthorized","message":"sign in first"}`},
				{"duplicate variant name", "POST", base + "/variants", map[string]any{"name": "premium"}, nil, true, 409, `{"error":"variant_name_taken","message":"a variant named \"premium\" already exists"}`},
				{"bad duration", "POST", base + "/variants", map[string]any{"name": "X", "duration": "DAY"}, nil, true, 400, `{"error":"invalid_request","message":"duration must be MONTH, YEAR or LIFETIME"}`},
				{"empty patch", "PATCH", base + "/variants/" + v.ID, map[string]any{}, nil, true, 400, `{"error":"invalid_request","message":"set at least one of name, description, duration"}`},
				{"unknown variant", "PATCH", base + "/variants/var_nope", map[string]any{"name": "X"}, nil, true, 404, `{"error":"not_found","message":"license variant not found"}`},
				{"variant with active codes", "DELETE", base + "/variants/" + v.ID, nil, nil, true, 409, `{"error":"variant_has_active_codes","message":"1 codes of this variant are active; pass force=true to delete them too"}`},
				{"bad force", "DELETE", base + "/variants/" + v.ID + "?force=maybe", nil, nil, true, 400, `{"error":"invalid_request","message":"force must be true or false"}`},
				{"generate zero", "POST", base + "/codes/generate", map[string]any{"variantId": v.ID, "count": 0}, nil, true, 400, `{"error":"invalid_request","message":"count must be between 1 and 10000"}`},
				{"generate too many", "POST", base + "/codes/generate", map[string]any{"variantId": v.ID, "count": 10001}, nil, true, 400, `{"error":"invalid_request","message":"count must be between 1 and 10000"}`},
				{"generate without variant", "POST", base + "/codes/generate", map[string]any{"count": 1}, nil, true, 400, `{"error":"invalid_request","message":"variantId is required"}`},
				{"upload without variant", "POST", base + "/codes/upload", map[string]any{"codes": []string{"ABCD"}}, nil, true, 400, `{"error":"invalid_request","message":"variantId is required"}`},
				{"upload CSV without code column", "POST", base + "/codes/upload", "name\nx\n", map[string]string{"Content-Type": "text/csv"}, true, 400, `{"error":"invalid_request","message":"the CSV header has no \"code\" column"}`},
				{"upload larger than 2 MiB", "POST", base + "/codes/upload", `{"variantId":"x","codes":["` + strings.Repeat("A", 2<<20) + `"]}`, nil, true, 413, `{"error":"payload_too_large","message":"body larger than 2097152 bytes"}`},
				{"CSV upload larger than 2 MiB", "POST", base + "/codes/upload", "code\n" + strings.Repeat("A", 2<<20) + "\n", map[string]string{"Content-Type": "text/csv"}, true, 413, `{"error":"payload_too_large","message":"body larger than 2097152 bytes"}`},
				{"upload of another type", "POST", base + "/codes/upload", "x", map[string]string{"Content-Type": "text/plain"}, true, 400, `{"error":"invalid_request","message":"send application/json or text/csv"}`},
				{"list with a bad state", "GET", base + "/codes?state=LOST", nil, nil, true, 400, `{"error":"invalid_request","message":"state must be UNUSED, ACTIVE or EXPIRED"}`},
				{"list with a bad cursor", "GET", base + "/codes?cursor=nope", nil, nil, true, 400, `{"error":"invalid_request","message":"cursor is not valid"}`},
				{"list with a bad limit", "GET", base + "/codes?limit=0", nil, nil, true, 400, `{"error":"invalid_request","message":"limit must be between 1 and 1000"}`},
				{"delete a redeemed code", "DELETE", base + "/codes/" + redeemed.ID, nil, nil, true, 409, `{"error":"code_not_unused","message":"only unused codes can be deleted"}`},
				{"delete an unknown code", "DELETE", base + "/codes/lic_nope", nil, nil, true, 404, `{"error":"not_found","message":"license code not found"}`},
				{"delete an unused code", "DELETE", base + "/codes/" + unused, nil, nil, true, 200, `{"ok":true}`},
				{"force-delete the variant", "DELETE", base + "/variants/" + v.ID + "?force=true", nil, nil, true, 200, `{"ok":true}`},
			} {
				t.Run(tt.name, func(t *testing.T) {
					var c = dev
					if !tt.cookie {
						c = nil
					}
					code, _, body := e.call(tt.method, tt.path, tt.body, tt.headers, c)
					if code != tt.status || body != tt.want {
						t.Fatalf("= %d %s; want %d %s", code, body, tt.status, tt.want)
					}
				})
			}
			t.Run("the forced delete is logged apart, with the licenses it took", func(t *testing.T) {
				code, _, body := e.call("GET", "/api/developer/applications/"+e.app.ID+"/activity?type=license_action&limit=100", nil, nil, dev)
				var log struct {
					Events []struct{ Details map[string]string }
				}
				json.Unmarshal([]byte(body), &log)
				// The test clock stands still, so the order among same-time events is the ids'.
				var forced []map[string]string
				for _, ev := range log.Events {
					if ev.Details["action"] == "variant_force_deleted" {
						forced = append(forced, ev.Details)
					}
				}
				if code != 200 || len(forced) != 1 || forced[0]["count"] != "1" || forced[0]["name"] != "Premium" {
					t.Fatalf("activity = %d %s; want one variant_force_deleted, count 1", code, body)
				}
			})
			t.Run("another developer's application is not found on every route", func(t *testing.T) {
				notFound := `{"error":"not_found","message":"application not found"}`
				for _, r := range []struct {
					method, path string
					body         any
				}{
					{"GET", base + "/variants", nil},
					{"POST", base + "/variants", map[string]any{"name": "Mine"}},
					{"PATCH", base + "/variants/" + basicV.ID, map[string]any{"name": "Mine"}},
					{"DELETE", base + "/variants/" + basicV.ID, nil},
					{"POST", base + "/codes/generate", map[string]any{"variantId": basicV.ID, "count": 1}},
					{"POST", base + "/codes/upload", map[string]any{"variantId": basicV.ID, "codes": []string{"MINE1"}}},
					{"GET", base + "/codes", nil},
					{"DELETE", base + "/codes/" + redeemed.ID, nil},
				} {
					if code, _, body := e.call(r.method, r.path, r.body, nil, rival); code != 404 || body != notFound {
						t.Fatalf("%s %s = %d %s", r.method, r.path, code, body)
					}
				}
			})
		})
	}
}

func TestPersonLicensesAPI(t *testing.T) {
	t.Parallel()
	for name, dbURL := range storetest.URLs(t) {
		t.Run(name, func(t *testing.T) {
			e := newAPIEnv(t, dbURL, licenses.RedeemLimits{PerHolder: ratelimit.Rule{N: 8}})
			dev := e.cookie(e.dev)
			base := "/api/developer/applications/" + e.app.ID + "/licenses"
			_, _, body := e.call("POST", base+"/variants", map[string]any{"name": "Monthly", "duration": "MONTH"}, nil, dev)
			v := decode[variantOut](t, body)
			_, _, body = e.call("POST", base+"/codes/generate", map[string]any{"variantId": v.ID, "count": 3}, nil, dev)
			codes := decode[struct{ Codes []string }](t, body).Codes
			ann, bob := e.person("ann@example.com", "Ann"), e.person("bob@example.com", "Bob")
			annConn := e.connect(ann, e.app, e.now)
			e.connect(bob, e.app, e.now)
			annC, bobC := e.cookie(ann), e.cookie(bob)

			code, _, body := e.call("POST", "/api/user/licenses/redeem?client_id="+e.app.ID, map[string]any{"code": strings.ToLower(codes[0])}, nil, annC)
			l := decode[map[string]any](t, body)
			if code != 200 || l["state"] != "ACTIVE" || l["linkedConnectionId"] != annConn.ID || l["activatedAt"] != "2026-03-01T12:00:00.000Z" ||
				l["expiresAt"] != "2026-04-01T12:00:00.000Z" || l["code"] != codes[0] || l["source"] != "code" {
				t.Fatalf("redeem = %d %s", code, body)
			}
			code, _, body = e.call("GET", "/api/user/licenses/subscriptions?client_id="+e.app.ID, nil, nil, annC)
			want := fmt.Sprintf(`{"applicationId":%q,"connectionId":%q,"subscriptions":[{"id":%q,"code":%q,"variant":{"id":%q,"name":"Monthly","duration":"MONTH"},"state":"ACTIVE","source":"code","activatedAt":"2026-03-01T12:00:00.000Z","expiresAt":"2026-04-01T12:00:00.000Z","linkedConnectionId":%q}]}`,
				e.app.ID, annConn.ID, l["id"], codes[0], v.ID, annConn.ID)
			if code != 200 || body != want {
				t.Fatalf("subscriptions = %d %s\nwant %s", code, body, want)
			}
			for _, tt := range []struct {
				name   string
				body   any
				query  string
				cookie bool
				status int
				want   string
			}{
				{"no session", map[string]any{"code": codes[1], "client_id": e.app.ID}, "", false, 401, `{"error":"unauthorized","message":"sign in first"}`},
				{"no application", map[string]any{"code": codes[1]}, "", true, 400, `{"error":"invalid_request","message":"client_id is required: which application's licenses?"}`},
				{"malformed code", map[string]any{"code": "!!", "client_id": e.app.ID}, "", true, 400, `{"error":"invalid_code","message":"a license code is 4 to 64 letters, digits, - and _"}`},
				{"unknown code", map[string]any{"code": "ZZZZ-ZZZZ-ZZZZ-ZZZZ", "applicationId": e.app.ID}, "", true, 404, `{"error":"code_not_found","message":"no such license code for this application"}`},
				{"code used by another", map[string]any{"code": codes[0]}, "?client_id=" + e.app.ID, true, 409, `{"error":"code_already_used","message":"this license code has already been redeemed"}`},
				{"unknown field", map[string]any{"code": codes[1], "plan": "x"}, "", true, 400, `{"error":"invalid_request","message":"unknown field \"plan\""}`},
				{"not connected", map[string]any{"code": codes[1], "client_id": e.rivalApp.ID}, "", true, 404, `{"error":"not_found","message":"you are not connected to this application"}`},
			} {
				t.Run(tt.name, func(t *testing.T) {
					c := bobC
					if !tt.cookie {
						c = nil
					}
					code, _, body := e.call("POST", "/api/user/licenses/redeem"+tt.query, tt.body, nil, c)
					if code != tt.status || body != tt.want {
						t.Fatalf("= %d %s; want %d %s", code, body, tt.status, tt.want)
					}
				})
			}
			t.Run("an expired code", func(t *testing.T) {
				e.now = e.now.AddDate(0, 1, 0)
				code, _, body := e.call("GET", "/api/user/licenses/subscriptions?applicationId="+e.app.ID, nil, nil, annC)
				if code != 200 || !strings.Contains(body, `"state":"EXPIRED"`) {
					t.Fatalf("subscriptions after expiry = %d %s", code, body)
				}
				code, _, body = e.call("POST", "/api/user/licenses/redeem", map[string]any{"code": codes[0], "client_id": e.app.ID}, nil, annC)
				if want := `{"error":"code_expired","message":"this license code has expired"}`; code != 410 || body != want {
					t.Fatalf("= %d %s", code, body)
				}
			})
			t.Run("subscriptions errors", func(t *testing.T) {
				if code, _, body := e.call("GET", "/api/user/licenses/subscriptions?client_id="+e.app.ID, nil, nil, nil); code != 401 {
					t.Fatalf("no session = %d %s", code, body)
				}
				if code, _, body := e.call("GET", "/api/user/licenses/subscriptions", nil, nil, bobC); code != 400 {
					t.Fatalf("no application = %d %s", code, body)
				}
				if code, _, body := e.call("GET", "/api/user/licenses/subscriptions?client_id="+e.rivalApp.ID, nil, nil, bobC); code != 404 {
					t.Fatalf("not connected = %d %s", code, body)
				}
			})
			t.Run("redemptions are rate limited", func(t *testing.T) {
				var code int
				var hdr map[string][]string
				var body string
				for range 10 {
					code, hdr, body = e.call("POST", "/api/user/licenses/redeem", map[string]any{"code": "ZZZZ-ZZZZ", "client_id": e.app.ID}, nil, bobC)
					if code == 429 {
						break
					}
				}
				if code != 429 || body != `{"error":"rate_limited","message":"too many requests; retry later"}` || len(hdr["Retry-After"]) != 1 {
					t.Fatalf("= %d %s %v", code, body, hdr)
				}
			})
		})
	}
}
