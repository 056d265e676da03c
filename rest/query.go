package rest

import (
	"net/http"
	"net/url"

	"loginsign/internal/apperr"
)

// query is r's query string, refused (400 invalid_request) when it is malformed or names a
// parameter more than once. r.URL.Query() drops a pair it cannot decode and Get keeps the
// first of repeated ones, so ?cursor=%zz listed from the start and ?limit=1&limit=100000 read
// 1 here while a proxy, cache or log that keeps the last read 100000. No route takes a
// parameter twice.
func query(r *http.Request) (url.Values, error) {
	v, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, apperr.New(apperr.Invalid, "malformed query string")
	}
	for k, vs := range v {
		if len(vs) > 1 {
			return nil, apperr.New(apperr.Invalid, "query parameter %q is given more than once", k)
		}
	}
	return v, nil
}
