package rest

import (
	"bufio"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"loginsign/internal/appapi"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/httpx"
	"loginsign/internal/licenses"
	"loginsign/internal/oauth"
)

// AppErrorBody is the error shape of the app-backend routes (spec §4, §10.2).
type AppErrorBody struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

// writeAppError writes err as {"error","error_description"}. 401s carry
// WWW-Authenticate: Basic; 429s Retry-After; internal errors are logged and hidden.
func writeAppError(w http.ResponseWriter, r *http.Request, err error) {
	if httpx.AnswerClientGone(w, r, nil, err) {
		return
	}
	e := httpx.Unavailable(r, err, apperr.As(err))
	if e.Code == apperr.Internal {
		slog.ErrorContext(r.Context(), "internal error", "err", err, "path", r.URL.Path)
		e = &apperr.Error{Code: apperr.Internal, Message: "internal error"}
	}
	switch e.Code {
	case apperr.Unauthorized:
		w.Header().Set("WWW-Authenticate", `Basic realm="loginsign", charset="UTF-8"`)
	case apperr.RateLimited, apperr.Unavailable:
		w.Header().Set("Retry-After", strconv.Itoa(max(e.RetryAfter, 1)))
	}
	w.Header().Set("Cache-Control", "no-store")
	httpx.WriteJSON(w, apperr.HTTPStatus(e.Code), AppErrorBody{Error: e.Name(), ErrorDescription: e.Message})
}

// AppMethodNotAllowed answers a method an app-backend route does not take: 405 with Allow
// and the routes' error shape, {"error":"method_not_allowed","error_description"}.
func (a *API) AppMethodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		w.Header().Set("Cache-Control", "no-store")
		httpx.WriteJSON(w, http.StatusMethodNotAllowed, AppErrorBody{Error: "method_not_allowed",
			ErrorDescription: "method " + apperr.Echo(r.Method) + " not allowed; use " + allow})
	}
}

// AppClient authenticates /api/applications/{appId}/… with HTTP Basic client_id:client_secret,
// or a client_credentials access token (appBearer), and puts the application into the context
// (auth.WithClient). It answers, with {"error","error_description"}:
//   - 401 unauthorized: no Authorization header, or one of another scheme;
//   - 401 invalid_client: more than one Authorization header, whatever their schemes (as at
//     the token endpoint: the route never picks one of them);
//   - 401 invalid_client: credentials that are not base64 of "client_id:client_secret"
//     (bad base64, no colon, bad percent-encoding), an unknown application or a wrong secret —
//     one answer for all, so nobody can probe which applications exist (a Basic header was
//     sent, so the failure is the client's credentials, not their absence);
//   - 403 forbidden: valid credentials of an application other than {appId};
//   - 429 rate_limited with Retry-After: too many failed attempts from this address or for
//     this client_id, or the application's quota of successful requests is used up
//     (clientauth.Service.Authenticate).
func (a *API) AppClient(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		header, one := oauth.OneAuthorization(r.Header.Values("Authorization"))
		if !one {
			// As at the token endpoint (oauth.ClientFromRequest): never pick one of two.
			writeAppError(w, r, apperr.WithReason(apperr.Unauthorized, oauth.InvalidClient, "send one Authorization header"))
			return
		}
		if scheme, _, _ := strings.Cut(header, " "); strings.EqualFold(scheme, "Bearer") {
			a.appBearer(w, r, next)
			return
		}
		creds, basic, err := oauth.ParseBasic(strings.TrimSpace(header))
		if !basic {
			writeAppError(w, r, apperr.New(apperr.Unauthorized, "send Authorization: Basic base64(client_id:client_secret)"))
			return
		}
		if err != nil {
			// A malformed header is a failed attempt too: counted like a wrong secret.
			creds = oauth.ClientCredentials{}
		}
		client, err := a.AppAPI.Authenticate(r.Context(), creds.ID, creds.Secret)
		if err != nil {
			writeAppError(w, r, err)
			return
		}
		if client.ApplicationID != r.PathValue("appId") {
			writeAppError(w, r, apperr.New(apperr.Forbidden, "the client_id does not match the application in the path"))
			return
		}
		next.ServeHTTP(w, r.WithContext(auth.WithClient(r.Context(), client)))
	})
}

// appBearer is AppClient for a client_credentials access token (Authorization: Bearer): the
// token must be the {appId} application's and carry app:users:read for GET and HEAD (a GET
// without its body), app:users:write otherwise. As on the other Bearer routes (RFC 6750 §3.1), a malformed header is 400
// invalid_request, a bad token 401 invalid_token, both with the error in WWW-Authenticate;
// a token of another application or without the scope is 403 insufficient_scope.
func (a *API) appBearer(w http.ResponseWriter, r *http.Request, next http.Handler) {
	appID := r.PathValue("appId")
	scope := oauth.ScopeAppUsersWrite
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		scope = oauth.ScopeAppUsersRead
	}
	tok, err := bearerToken(r)
	if err == nil {
		err = a.OAuth.AppAccessToken(r.Context(), tok, appID, scope)
	}
	if err != nil {
		e := oauth.AsError(err)
		switch {
		case e == errMalformedBearer:
			w.Header().Set("WWW-Authenticate", bearerChallenge+`, error="invalid_request"`)
			w.Header().Set("Cache-Control", "no-store")
			httpx.WriteJSON(w, http.StatusBadRequest, AppErrorBody{Error: oauth.InvalidRequest, ErrorDescription: e.Description})
		case e.Code == oauth.InvalidToken:
			w.Header().Set("WWW-Authenticate", bearerChallenge+`, error="invalid_token"`)
			w.Header().Set("Cache-Control", "no-store")
			httpx.WriteJSON(w, http.StatusUnauthorized, AppErrorBody{Error: oauth.InvalidToken, ErrorDescription: e.Description})
		case e.Code == oauth.InsufficientScope:
			w.Header().Set("WWW-Authenticate", bearerChallenge+`, error="insufficient_scope", scope="`+scope+`"`)
			w.Header().Set("Cache-Control", "no-store")
			httpx.WriteJSON(w, http.StatusForbidden, AppErrorBody{Error: oauth.InsufficientScope, ErrorDescription: e.Description})
		default:
			writeAppError(w, r, err)
		}
		return
	}
	next.ServeHTTP(w, r.WithContext(auth.WithClient(r.Context(), auth.Client{ApplicationID: appID})))
}

// currentLogin is one user of GET /api/applications/{appId}/users (spec §4.1).
type currentLogin struct {
	GlobalID    string  `json:"globalId"`
	Email       string  `json:"email"`
	AliasEmail  string  `json:"aliasEmail"`
	DisplayName *string `json:"displayName"`
	LoginCount  int     `json:"loginCount"`
	LastSession *string `json:"lastSession"`
	JoinedAt    string  `json:"joinedAt"`
	IsActive    bool    `json:"isActive"`
}

// CurrentLogins is GET /api/applications/{appId}/users: {"users":[…],"total":n}, with
// "nextCursor" only when limit cut the list short. The array is streamed from batched keyset
// queries, so memory stays flat however many users the application has.
func (a *API) CurrentLogins(w http.ResponseWriter, r *http.Request) {
	var q appapi.LoginsQuery
	qs, err := query(r)
	if err != nil {
		writeAppError(w, r, err)
		return
	}
	if v := qs.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeAppError(w, r, apperr.New(apperr.Invalid, "limit must be between 1 and %d", appapi.MaxLoginsPage))
			return
		}
		q.Limit = n
	}
	q.Cursor = qs.Get("cursor")
	list, err := a.AppAPI.CurrentLogins(r.Context(), r.PathValue("appId"), q)
	if err != nil {
		writeAppError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteString(`{"users":[`)
	first := true
	var row currentLogin
	next, err := list.Each(r.Context(), func(l *appapi.Login) error {
		row = currentLogin{GlobalID: l.GlobalID, Email: l.Email, AliasEmail: l.AliasEmail, DisplayName: nil,
			LoginCount: l.LoginCount, LastSession: httpx.TimePtr(l.LastSession), JoinedAt: httpx.Time(l.JoinedAt), IsActive: l.IsActive}
		if l.DisplayName != "" {
			name := l.DisplayName
			row.DisplayName = &name
		}
		b, err := json.Marshal(&row)
		if err != nil {
			return err
		}
		if !first {
			bw.WriteByte(',')
		}
		first = false
		_, err = bw.Write(b)
		return err
	})
	if err != nil {
		// The status is sent: cut the response so the client sees a broken body, not a
		// short list.
		slog.ErrorContext(r.Context(), "streaming current logins", "err", err)
		panic(http.ErrAbortHandler)
	}
	bw.WriteString(`],"total":` + strconv.Itoa(list.Total))
	if next != "" {
		bw.WriteString(`,"nextCursor":"` + next + `"`)
	}
	bw.WriteString("}\n")
	bw.Flush()
}

// statusRequest is the body of PATCH …/users/{globalId}/status (spec §4.2).
type statusRequest struct {
	Status      *string `json:"status"`
	VariantName *string `json:"variantName"`
	Duration    *string `json:"duration"`
	ExpiresAt   *string `json:"expiresAt"`
	Revoke      *bool   `json:"revoke"`
}

type variantRef struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Duration string `json:"duration"`
}

type statusLicense struct {
	ID          string  `json:"id"`
	Code        string  `json:"code"`
	State       string  `json:"state"`
	ActivatedAt *string `json:"activatedAt"`
	ExpiresAt   *string `json:"expiresAt"`
	Reused      bool    `json:"reused"`
}

type statusResponse struct {
	OK           bool           `json:"ok"`
	Action       string         `json:"action"`
	ConnectionID string         `json:"connectionId"`
	Status       string         `json:"status,omitempty"`
	Variant      *variantRef    `json:"variant,omitempty"`
	License      *statusLicense `json:"license,omitempty"`
}

// StatusSync is PATCH /api/applications/{appId}/users/{globalId}/status.
func (a *API) StatusSync(w http.ResponseWriter, r *http.Request) {
	var body statusRequest
	if err := httpx.DecodeJSON(w, r, &body, 16<<10); err != nil {
		writeAppError(w, r, err)
		return
	}
	in := licenses.StatusInput{Status: zeroIfNil(body.Status), VariantName: zeroIfNil(body.VariantName),
		Duration: zeroIfNil(body.Duration), Revoke: zeroIfNil(body.Revoke)}
	if body.ExpiresAt != nil {
		t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(*body.ExpiresAt))
		if err != nil {
			writeAppError(w, r, apperr.New(apperr.Invalid, "expiresAt must be an RFC 3339 timestamp such as 2026-05-03T11:04:12.000Z, or null"))
			return
		}
		in.ExpiresAt = &t
	}
	res, err := a.Licenses.SyncStatus(r.Context(), r.PathValue("appId"), r.PathValue("globalId"), in)
	if err != nil {
		writeAppError(w, r, err)
		return
	}
	out := statusResponse{OK: true, Action: res.Action, ConnectionID: res.ConnectionID, Status: res.Status}
	if v := res.Variant; v != nil {
		out.Variant = &variantRef{ID: v.ID, Name: v.Name, Duration: string(v.Duration)}
	}
	if c := res.License; c != nil {
		out.License = &statusLicense{ID: c.ID, Code: c.Code, State: string(licenses.EffectiveState(c, a.now())),
			ActivatedAt: httpx.TimePtr(c.ActivatedAt), ExpiresAt: httpx.TimePtr(c.ExpiresAt), Reused: res.Reused}
	}
	w.Header().Set("Cache-Control", "no-store")
	httpx.WriteJSON(w, http.StatusOK, out)
}

func zeroIfNil[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
