package oauth

import (
	"encoding/json"
	"fmt"
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

// The reflection-free decoder of stored access tokens gives what json.Unmarshal gives for
// every grant json.Marshal writes, and declines (leaving it to json.Unmarshal) anything else.
func TestAccessGrantFastDecode(t *testing.T) {
	for _, g := range []accessGrant{
		{ApplicationID: "app_1", ConnectionID: "con_2", UserID: "usr_3", Scopes: []string{"openid", "email"}, Family: "fam_4", IssuedAt: 1700000000, ExpiresAt: 1700003600},
		{ApplicationID: "app_1", Scopes: []string{}, Family: "f", IssuedAt: 0, ExpiresAt: 5},
		{ApplicationID: "app_1", Family: "f"},
		{ApplicationID: "app_1", Scopes: []string{"app:users:read"}, Family: "f", IssuedAt: 1, ExpiresAt: 2, SecretStamp: "0123456789abcdef"},
		{ApplicationID: "app_\"x\\", ConnectionID: "Zoë", Scopes: []string{"a"}},
	} {
		b, _ := json.Marshal(g)
		var want accessGrant
		json.Unmarshal(b, &want)
		var got accessGrant
		if got.decodeFast(b) {
			if fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", want) {
				t.Errorf("decodeFast(%s) = %#v, want %#v", b, got, want)
			}
		} else if g.ApplicationID == "app_1" {
			t.Errorf("decodeFast declined %s", b)
		}
	}
	for _, bad := range []string{``, `{}`, `{"a":"x"}`, `{"a":"x","c":"","u":"","s":["a",],"f":"","i":1,"e":2}`,
		`{"a":"x","c":"","u":"","s":null,"f":"","i":1,"e":2} `, `{"a":"x","c":"","u":"","s":null,"f":"","i":-1,"e":2}`,
		`{"a":"x","c":"","u":"","s":null,"f":"","i":1,"e":99999999999999999999}`, `{"c":"","a":"x","u":"","s":null,"f":"","i":1,"e":2}`,
		`{"a":"x","c":"","u":"","s":null,"f":"","i":1,"e":2,"k":1}`, `{"a":"x","c":"","u":"","s":null,"f":"","i":1,"e":2,"k":"a","z":"b"}`} {
		var g accessGrant
		if g.decodeFast([]byte(bad)) {
			t.Errorf("decodeFast accepted %s: %#v", bad, g)
		}
	}
}
