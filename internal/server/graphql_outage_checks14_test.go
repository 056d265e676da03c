package server

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"loginsign/ent/application"
	"loginsign/internal/kv/kvtest"
)

// A GraphQL operation whose budget (the per-principal operation limit, counted in Redis)
// cannot be counted, Redis down or out of memory for writes, is an outage: 503 with
// Retry-After and extensions.code temporarily_unavailable, the operation not run. Before, every
// operation answered 200 {"errors":[{"extensions":{"code":"internal"}}]}, an "internal error"
// for a dependency outage, with nothing telling the client to retry.
func TestAGraphQLOperationWhoseBudgetCannotBeCountedAnswers503(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		f := kvtest.InjectFaults(t, e.srv.kv)
		b := e.browser()
		b.signInTo(defaultTestEmail)

		f.Arm("", "rl:graphql:", -1)
		for _, q := range []string{`{ viewer { globalID } }`, `mutation { createApplication(input: {name: "Outage"}) { application { id } } }`} {
			req, _ := http.NewRequest(http.MethodPost, e.base+"/graphql", strings.NewReader(`{"query":`+jsonString(q)+`}`))
			req.Header.Set("Content-Type", "application/json")
			resp, err := b.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var out struct {
				Data   any `json:"data"`
				Errors []struct {
					Extensions map[string]any `json:"extensions"`
				} `json:"errors"`
			}
			json.Unmarshal(raw, &out)
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
				len(out.Errors) != 1 || out.Errors[0].Extensions["code"] != "temporarily_unavailable" || out.Data != nil {
				t.Errorf("%s with the GraphQL budget unreadable: %d Retry-After=%q %s; want 503 with Retry-After and code temporarily_unavailable",
					q, resp.StatusCode, resp.Header.Get("Retry-After"), raw)
			}
		}
		if f.Injected() == 0 {
			t.Fatal("no fault was injected")
		}
		f.Disarm()
		if b.viewer() == "" {
			t.Fatal("after the outage the viewer is unknown")
		}
		if n, _ := e.srv.db.Application.Query().Where(application.Name("Outage")).Count(e.ctx()); n != 0 {
			t.Errorf("the refused createApplication made %d applications, want none", n)
		}
	})
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
