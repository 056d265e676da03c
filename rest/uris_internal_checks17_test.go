package rest

import (
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"loginsign/internal/httpx"
)

// An application body whose redirectUris is 1 MiB of "" (350,000 entries) is decoded no
// further than the 51st entry, which the domain refuses ("at most 50 redirect URIs"): decoded
// whole it made 350,000 strings and some 31 MiB of allocations, against 8 MiB for a 1 MiB
// body of one long string.
func TestAnApplicationsListOfHundredsOfThousandsOfURIsIsDecodedOnlyToItsLimit(t *testing.T) {
	n := (httpx.MaxJSONBody - 64) / 3
	for _, field := range []string{"redirectUris", "postLogoutRedirectUris", "allowedOrigins"} {
		body := `{"` + field + `":[` + strings.Repeat(`"",`, n-1) + `""]}`
		var b applicationBody
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		err := httpx.DecodeJSON(httptest.NewRecorder(), httptest.NewRequest("POST", "/", strings.NewReader(body)), &b, 0)
		runtime.ReadMemStats(&after)
		var got []string
		switch field {
		case "redirectUris":
			got = *b.RedirectURIs
		case "postLogoutRedirectUris":
			got = *b.PostLogoutRedirectURIs
		case "allowedOrigins":
			got = *b.AllowedOrigins
		}
		if err != nil || len(got) != maxURIListItems+1 {
			t.Errorf("%s: %d entries, %v; want %d, no error (the domain refuses them)", field, len(got), err, maxURIListItems+1)
		}
		if a := after.TotalAlloc - before.TotalAlloc; a > 16<<20 {
			t.Errorf("%s: %d MiB allocated decoding 1 MiB of empty entries, want the list read only to its limit", field, a>>20)
		}
	}
}

// Lists within the limit decode whole and in order; null leaves the field unset (a PATCH
// keeps the list); anything but an array of strings is Invalid naming the field.
func TestAnApplicationsListsStillDecode(t *testing.T) {
	decode := func(body string) (applicationBody, error) {
		var b applicationBody
		err := httpx.DecodeJSON(httptest.NewRecorder(), httptest.NewRequest("POST", "/", strings.NewReader(body)), &b, 0)
		return b, err
	}
	b, err := decode(`{"redirectUris":["https://a.example/cb","https://b.example/cb"],"allowedOrigins":[],"postLogoutRedirectUris":null}`)
	if err != nil || len(*b.RedirectURIs) != 2 || (*b.RedirectURIs)[1] != "https://b.example/cb" || len(*b.AllowedOrigins) != 0 || b.PostLogoutRedirectURIs != nil {
		t.Fatalf("decode = %+v, %v", b, err)
	}
	for _, bad := range []string{`{"redirectUris":"x"}`, `{"redirectUris":[1]}`, `{"redirectUris":{}}`, `{"allowedOrigins":true}`, `{"postLogoutRedirectUris":[["a"]]}`} {
		if _, err := decode(bad); err == nil || !strings.Contains(err.Error(), "must be an array of strings") {
			t.Errorf("%s: %v, want Invalid naming the field", bad, err)
		}
	}
}
