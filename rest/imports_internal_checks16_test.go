package rest

import (
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"loginsign/internal/apperr"
)

// An import's JSON of millions of empty users (8 MiB of "{},", within the body limit) is
// refused at its 10,001st user, without decoding the rest: decoded whole it made 2.8 million
// users and over a gigabyte of allocations before the domain counted them.
func TestAnImportOfMillionsOfJSONUsersIsRefusedAtItsLimit(t *testing.T) {
	n := (MaxImportBody - 32) / 3
	body := `{"sourceName":"big","users":[` + strings.Repeat("{},", n-1) + `{}]}`
	r := httptest.NewRequest("POST", "/api/developer/applications/app_x/import-existing-users/csv", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := readImport(httptest.NewRecorder(), r)
	runtime.ReadMemStats(&after)
	if apperr.CodeOf(err) != apperr.TooLarge || !strings.Contains(err.Error(), "at most 10000 rows per import") {
		t.Fatalf("err = %v, want TooLarge at most 10000 rows per import", err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 256<<20 {
		t.Errorf("%d MiB allocated reading an 8 MiB import, want it bounded by the first 10,001 users", got>>20)
	}
}

// Users up to the limit still decode, with their fields; a wrong type or an unknown member in
// a user is still a 400.
func TestImportJSONUsersStillDecode(t *testing.T) {
	read := func(body string) (int, error) {
		r := httptest.NewRequest("POST", "/x", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		req, err := readImport(httptest.NewRecorder(), r)
		if err == nil && len(req.Users) > 0 && req.Users[0].Email != "a@example.com" {
			t.Errorf("%s: first user %+v", body, req.Users[0])
		}
		return len(req.Users), err
	}
	if n, err := read(`{"users":[{"externalUserId":"1","email":"a@example.com"},{"email":"b@example.com"}]}`); err != nil || n != 2 {
		t.Errorf("two users: %d, %v", n, err)
	}
	if n, err := read(`{"users":null}`); err != nil || n != 0 {
		t.Errorf("null users: %d, %v", n, err)
	}
	for _, bad := range []string{`{"users":[{"email":1}]}`, `{"users":[{"mail":"a@example.com"}]}`, `{"users":5}`, `{"users":[1]}`, `{"users":{}}`} {
		if _, err := read(bad); apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("%s: err = %v, want Invalid", bad, err)
		}
	}
}
