package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
)

// graphql posts a query with the browser's cookies and returns data and errors.
func (b *browser) graphql(query string, vars map[string]any) (map[string]any, []map[string]any) {
	b.e.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, b.e.base+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := b.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	var out struct {
		Data   map[string]any
		Errors []map[string]any
	}
	decodeJSON(b.e.t, resp, &out)
	return out.Data, out.Errors
}

// The dashboard's sessions: the viewer lists their sessions (the current one marked), signs
// out the others, or one by id; another person's session id answers NOT_FOUND.
func TestGraphQLSessions(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	laptop, phone, other := e.browser(), e.browser(), e.browser()
	laptop.signIn(laptop.get(e.base+"/login"), defaultTestEmail)
	phone.signIn(phone.get(e.base+"/login"), defaultTestEmail)
	other.signIn(other.get(e.base+"/login"), "zoe@example.com")

	const q = `{ viewer { sessions { id current userAgent createdAt lastSeen } } }`
	data, errs := laptop.graphql(q, nil)
	if errs != nil {
		t.Fatal(errs)
	}
	sessions := data["viewer"].(map[string]any)["sessions"].([]any)
	if len(sessions) != 2 {
		t.Fatalf("sessions = %v, want 2", sessions)
	}
	current := 0
	for _, s := range sessions {
		if s.(map[string]any)["current"] == true {
			current++
		}
	}
	if current != 1 {
		t.Fatalf("%d current sessions, want 1", current)
	}
	data, _ = other.graphql(q, nil)
	otherID := data["viewer"].(map[string]any)["sessions"].([]any)[0].(map[string]any)["id"].(string)
	_, errs = laptop.graphql(`mutation($id: ID!) { revokeSession(input: {sessionId: $id}) { revokedSessionId } }`, map[string]any{"id": otherID})
	if len(errs) != 1 || errs[0]["extensions"].(map[string]any)["code"] != "not_found" {
		t.Fatalf("signing out someone else's session: %v", errs)
	}
	data, errs = laptop.graphql(`mutation { revokeOtherSessions(input: {}) { revokedSessions } }`, nil)
	if errs != nil || data["revokeOtherSessions"].(map[string]any)["revokedSessions"] != float64(1) {
		t.Fatalf("revokeOtherSessions = %v %v, want 1", data, errs)
	}
	if data, _ := phone.graphql(`{ viewer { id } }`, nil); data["viewer"] != nil {
		t.Fatalf("the phone's session survived: %v", data)
	}
	if data, _ := other.graphql(`{ viewer { id } }`, nil); data["viewer"] == nil {
		t.Fatal("another person's session ended")
	}
	if _, errs := (e.browser()).graphql(`mutation { revokeOtherSessions(input: {}) { revokedSessions } }`, nil); len(errs) != 1 || errs[0]["extensions"].(map[string]any)["code"] != "unauthorized" {
		t.Fatalf("anonymous: %v", errs)
	}
}
