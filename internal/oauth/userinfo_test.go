package oauth

import (
	"encoding/json"
	"testing"
)

// UserInfo's hand-written JSON is byte for byte what json.Marshal of the claims map gives
// (the shape before it was written by hand), for every scope combination and for values
// that need escaping.
func TestUserInfoJSONMatchesMapEncoding(t *testing.T) {
	viaMap := func(u *UserInfo) string {
		m := map[string]any{"sub": u.Subject, "id": u.Subject}
		if u.Email != "" {
			m["email"], m["email_verified"] = u.Email, true
		}
		if u.Profile {
			m["globalId"], m["global_id"] = u.GlobalID, u.GlobalID
			m["name"], m["image"] = nullable(u.Name), nullable(u.Picture)
			if u.Picture != "" {
				m["picture"] = u.Picture
			}
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	for _, u := range []*UserInfo{
		{Subject: "con_1"},
		{Subject: "con_1", Email: "a@relay.example.com"},
		{Subject: "con_1", Profile: true, GlobalID: "AB1234"},
		{Subject: "con_1", Email: "a@example.com", Profile: true, GlobalID: "AB1234", Name: "Zoë <b>&\"x\"\\ \u2028\n", Picture: "https://example.com/a.png?x=1&y=<2>"},
		{Subject: "con_1", Email: "a@example.com", Profile: true, GlobalID: "AB1234", Name: "Ann"},
	} {
		got, err := u.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		if want := viaMap(u); string(got) != want {
			t.Errorf("MarshalJSON = %s\nwant          %s", got, want)
		}
	}
}
