package httpx

import (
	"net/http/httptest"
	"strings"
	"testing"

	"loginsign/internal/apperr"
)

// TestDecodeJSONRefusesDuplicateMembers: DecodeJSON kept the last of two members of one name
// (also of names that differ only in case, which the decoder matches to one field), so
// {"status":"PRO","status":"REVOKED"} acted on REVOKED while a gateway or log reading the
// first saw PRO. Such bodies are 400 now, at any depth; one name in two different objects is
// fine.
func TestDecodeJSONRefusesDuplicateMembers(t *testing.T) {
	t.Parallel()
	type inner struct {
		Name string `json:"name"`
	}
	type body struct {
		Status string         `json:"status"`
		Revoke bool           `json:"revoke"`
		Users  []inner        `json:"users"`
		Meta   map[string]any `json:"meta"`
	}
	decode := func(s string) error {
		r := httptest.NewRequest("POST", "/", strings.NewReader(s))
		r.Header.Set("Content-Type", "application/json")
		var b body
		return DecodeJSON(httptest.NewRecorder(), r, &b, 0)
	}
	for _, ok := range []string{
		`{"status":"PRO","revoke":false}`,
		`{"users":[{"name":"a"},{"name":"b"}],"meta":{"name":"x","status":"y"}}`,
		`{"status":"status","meta":{"a":["status","status"]}}`,
	} {
		if err := decode(ok); err != nil {
			t.Errorf("%s: %v, want it accepted", ok, err)
		}
	}
	for _, bad := range []string{
		`{"status":"PRO","status":"REVOKED"}`,
		`{"status":"PRO","Status":"REVOKED"}`,
		`{"revoke":false,"REVOKE":true}`,
		`{"users":[{"name":"a","name":"b"}]}`,
		`{"meta":{"k":1,"k":2}}`,
		`{"meta":{"a":{"k":1}},"meta":{}}`,
	} {
		if err := decode(bad); apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("%s: %v, want Invalid", bad, err)
		}
	}
}
