package rest

import (
	"net/http/httptest"
	"strings"
	"testing"

	"loginsign/internal/apperr"
	"loginsign/internal/httpx"
)

// TestAnArrayElementOfTheWrongTypeNamesItsField: since an import's users and an upload's
// codes are decoded one element at a time, an element of the wrong type ({"users": [1]},
// {"codes": [["a"]]}) was decoded with no field around it, and the answer said "body must be a
// JSON object" of a body that is one. Before that change it named the field; now it does again.
func TestAnArrayElementOfTheWrongTypeNamesItsField(t *testing.T) {
	decode := func(body string, v any) error {
		r := httptest.NewRequest("POST", "/", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		return httpx.DecodeJSON(httptest.NewRecorder(), r, v, 0)
	}
	for _, c := range []struct {
		body, want string
		v          any
	}{
		{`{"sourceName": "CRM", "users": [1]}`, `field "users" must be an array of users`, &importBody{}},
		{`{"users": [{"email": "a@example.com"}, [1]]}`, `field "users" must be an array of users`, &importBody{}},
		{`{"users": ["a@example.com"]}`, `field "users" must be an array of users`, &importBody{}},
		{`{"users": [{"email": 5}]}`, `field "email" must be string`, &importBody{}},
		{`{"variantId": "v", "codes": [1]}`, `field "codes" must be an array of strings`, &struct {
			VariantID string      `json:"variantId"`
			Codes     uploadCodes `json:"codes"`
		}{}},
		{`{"codes": ["A-1", ["B-2"]]}`, `field "codes" must be an array of strings`, &struct {
			Codes uploadCodes `json:"codes"`
		}{}},
	} {
		err := decode(c.body, c.v)
		if e := apperr.As(err); err == nil || e.Code != apperr.Invalid || e.Message != c.want {
			t.Errorf("%s: %v, want invalid_request %q", c.body, err, c.want)
		}
	}
}
