// Package rest is the REST transport: it parses each documented route, authenticates the
// caller, calls the same domain operation as the GraphQL field, and writes the exact
// documented JSON from explicit response types (never ent structs).
package rest

import (
	"log/slog"
	"net/http"

	"loginsign/internal/account"
	"loginsign/internal/activity"
	"loginsign/internal/appapi"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/dataexport"
	"loginsign/internal/httpx"
	"loginsign/internal/identity"
	"loginsign/internal/kv"
	"loginsign/internal/licenses"
	"loginsign/internal/oauth"
	"loginsign/internal/portal"
	"loginsign/internal/profile"
	"loginsign/internal/webhooks"
)

// API holds the domain services the REST handlers call.
type API struct {
	Log      *slog.Logger
	Cookies  httpx.Cookies
	Identity *identity.Service
	Portal   *portal.Service
	OAuth    *oauth.Service
	// App backends and licenses (rest/app.go, rest/licenses.go).
	AppAPI   *appapi.Service
	Licenses *licenses.Service
	KV       *kv.Store
	Webhooks *webhooks.Service
	Account  *account.Service
	Profiles *profile.Service
	Activity *activity.Service
	Export   *dataexport.Service
}

// Sessions puts the signed-in person of the session cookie into the request's context. A
// missing, unknown or expired session leaves the context anonymous; routes that need a person
// answer 401 from the domain. When the session store is down the request is answered 503
// (httpx.WriteUnavailable), never treated as signed out.
func (a *API) Sessions(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw := a.Cookies.Get(r, "session")
		if raw != "" {
			s, err := a.Identity.Sessions.Lookup(r.Context(), raw)
			if err == nil {
				r = r.WithContext(auth.WithSession(r.Context(), s))
			} else if apperr.DependencyDown(err) {
				// Not "signed out": the session store is down. Say so, in the route's shape.
				a.Log.WarnContext(r.Context(), "dependency unavailable", "err", err, "path", r.URL.Path)
				httpx.WriteUnavailable(w, r)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
