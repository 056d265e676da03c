package rest

import (
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/httpx"
	"loginsign/internal/oauth"
)

// writeOAuthError is the one place an OAuth error becomes an HTTP answer (RFC 6749 §5.2):
// {"error","error_description"} with its status and Cache-Control: no-store; invalid_client
// adds WWW-Authenticate: Basic; the Bearer routes' errors (invalid_token, errNoBearer,
// errMalformedBearer, errMalformedBearerForm) add WWW-Authenticate: Bearer (RFC 6750 §3);
// rate_limited adds Retry-After. Server errors are logged and shown as server_error.
func (a *API) writeOAuthError(w http.ResponseWriter, r *http.Request, err error) {
	if httpx.AnswerClientGone(w, r, a.Log, err) {
		return
	}
	e := oauth.AsError(err)
	switch {
	case e.Code == oauth.ServerError && apperr.DependencyDown(err):
		// RFC 6749 §4.1.2.1 temporarily_unavailable, with 503 and Retry-After.
		a.Log.WarnContext(r.Context(), "dependency unavailable", "err", err, "path", r.URL.Path)
		e = oauth.ErrTemporarilyUnavailable
	case e.Code == oauth.ServerError:
		a.Log.ErrorContext(r.Context(), "oauth internal error", "err", err, "path", r.URL.Path)
		e = oauth.ErrServer
	}
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	switch {
	case e == errNoBearer:
		// No credentials: a bare challenge, no error code (RFC 6750 §3.1).
		h.Set("WWW-Authenticate", bearerChallenge)
	case e.Code == oauth.InvalidClient:
		h.Set("WWW-Authenticate", `Basic realm="loginsign", charset="UTF-8"`)
	case e.Code == oauth.InvalidToken, e == errMalformedBearer, e == errMalformedBearerForm:
		h.Set("WWW-Authenticate", bearerChallenge+`, error="`+e.Code+`", error_description=`+strconv.Quote(e.Description))
	case e.Code == oauth.RateLimited, e.Code == oauth.TemporarilyUnavailable:
		h.Set("Retry-After", strconv.Itoa(max(1, e.RetryAfter)))
	}
	status := e.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	writeNoStoreJSON(w, status, struct {
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description,omitempty"`
	}{e.Code, e.Description})
}

func writeNoStoreJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	httpx.WriteJSON(w, status, v)
}

// MaxOAuthForm bounds the form body of the token, revocation and introspection endpoints.
const MaxOAuthForm = 64 << 10

// tooLarge reports whether err is a body over its http.MaxBytesReader limit.
func tooLarge(err error) bool {
	var mb *http.MaxBytesError
	return errors.As(err, &mb)
}

// oauthForm reads a form-encoded POST body of a token-style endpoint (at most 64 KiB) and the
// client credentials.
func oauthForm(w http.ResponseWriter, r *http.Request) (oauth.ClientCredentials, map[string][]string, error) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/x-www-form-urlencoded" {
		return oauth.ClientCredentials{}, nil, oauth.ErrInvalidRequest.WithDescription("Content-Type must be application/x-www-form-urlencoded")
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxOAuthForm)
	if err := r.ParseForm(); err != nil {
		if tooLarge(err) {
			return oauth.ClientCredentials{}, nil, oauth.ErrBodyTooLarge.WithDescription("the form body is larger than %d bytes", MaxOAuthForm)
		}
		return oauth.ClientCredentials{}, nil, oauth.ErrInvalidRequest.WithDescription("malformed form body")
	}
	if r.URL.RawQuery != "" {
		return oauth.ClientCredentials{}, nil, oauth.ErrInvalidRequest.WithDescription("parameters belong in the form body, not the query")
	}
	for k, vs := range r.PostForm {
		for _, v := range append(vs, k) {
			if err := httpx.CheckText("form parameter "+k, v); err != nil {
				return oauth.ClientCredentials{}, nil, oauth.ErrInvalidRequest.WithDescription("%s", err.Message)
			}
		}
	}
	creds, err := oauth.ClientFromRequest(r.Header.Values("Authorization"), r.PostForm)
	return creds, r.PostForm, err
}

// Token is POST /oauth/token (RFC 6749 §3.2): grants authorization_code and refresh_token.
func (a *API) Token(w http.ResponseWriter, r *http.Request) {
	creds, form, err := oauthForm(w, r)
	if err != nil {
		a.writeOAuthError(w, r, err)
		return
	}
	resp, err := a.OAuth.Token(r.Context(), creds, form)
	if err != nil {
		a.writeOAuthError(w, r, err)
		return
	}
	writeNoStoreJSON(w, http.StatusOK, resp)
}

// PushAuthorizationRequest is POST /oauth/par (RFC 9126): 201 with the request_uri that stands
// for the pushed authorization request.
func (a *API) PushAuthorizationRequest(w http.ResponseWriter, r *http.Request) {
	creds, form, err := oauthForm(w, r)
	if err != nil {
		a.writeOAuthError(w, r, err)
		return
	}
	out, err := a.OAuth.PushAuthorizationRequest(r.Context(), creds, form)
	if err != nil {
		a.writeOAuthError(w, r, err)
		return
	}
	writeNoStoreJSON(w, http.StatusCreated, out)
}

// Revoke is POST /oauth/revoke (RFC 7009): 200 with an empty body, also for unknown tokens.
func (a *API) Revoke(w http.ResponseWriter, r *http.Request) {
	creds, form, err := oauthForm(w, r)
	if err == nil {
		err = a.OAuth.Revoke(r.Context(), creds, form)
	}
	if err != nil {
		a.writeOAuthError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// Introspect is POST /oauth/introspect (RFC 7662) for the client's own tokens.
func (a *API) Introspect(w http.ResponseWriter, r *http.Request) {
	creds, form, err := oauthForm(w, r)
	if err != nil {
		a.writeOAuthError(w, r, err)
		return
	}
	out, err := a.OAuth.Introspect(r.Context(), creds, form)
	if err != nil {
		a.writeOAuthError(w, r, err)
		return
	}
	writeNoStoreJSON(w, http.StatusOK, out)
}

// Discovery is GET /.well-known/openid-configuration.
func (a *API) Discovery(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	httpx.WriteJSON(w, http.StatusOK, a.OAuth.Discovery())
}

// JWKS is GET /.well-known/jwks.json: every published signing key.
func (a *API) JWKS(w http.ResponseWriter, r *http.Request) {
	set, err := a.OAuth.Keys.JWKS(r.Context())
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	b, err := json.Marshal(set)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Write(b)
}

// maxBearer is the longest access token bearerToken accepts; LoginSign's are far shorter.
const maxBearer = 512

// isB64Token reports whether tok is a b64token of RFC 6750 §2.1 (not empty).
func isB64Token(tok string) bool {
	if tok == "" {
		return false
	}
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' || c == '=') {
			return false
		}
	}
	return true
}

// bearerChallenge is the WWW-Authenticate challenge of the Bearer routes, before any error
// attributes.
const bearerChallenge = `Bearer realm="loginsign"`

var (
	// errNoBearer answers a request to a Bearer route that carries no credentials: no
	// Authorization header, or one of another scheme (RFC 6750 §3.1: the client may not know
	// the route needs them, or tried an unsupported method). 401 with the bare challenge,
	// WWW-Authenticate: Bearer realm="loginsign", no error code in it; the body keeps the
	// route's {"error":"invalid_token","error_description"} shape.
	errNoBearer = oauth.ErrInvalidToken.WithDescription("no access token: send Authorization: Bearer <access token>")
	// errMalformedBearer answers a Bearer Authorization header that is not "Bearer" and one
	// b64token (RFC 6750 §2.1), or more than one Authorization header: 400 invalid_request
	// (RFC 6750 §3.1), with the error in the challenge (its description in plain ASCII without
	// quotes, as §3 requires of error_description).
	errMalformedBearer = oauth.ErrInvalidRequest.WithDescription("the Authorization header must be Bearer and one access token (RFC 6750 section 2.1)")
	// errMalformedBearerForm answers a form body of POST /api/user that cannot be read (too
	// large, or not form-encoded): 400 invalid_request, with the error in the challenge as
	// for errMalformedBearer (RFC 6750 section 3: a request without a usable access token
	// gets WWW-Authenticate).
	errMalformedBearerForm = oauth.ErrInvalidRequest.WithDescription("the body must be a form of at most %d bytes", maxUserInfoForm)
)

// bearerToken returns the access token of r's Authorization header, or the error to answer:
// errNoBearer without credentials, errMalformedBearer for a malformed Bearer header, and
// invalid_token for a token longer than any LoginSign issues (well formed, but not one of
// its tokens).
func bearerToken(r *http.Request) (string, error) {
	header, one := oauth.OneAuthorization(r.Header.Values("Authorization"))
	if !one {
		return "", errMalformedBearer
	}
	if header == "" {
		return "", errNoBearer
	}
	scheme, tok, _ := strings.Cut(header, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", errNoBearer
	}
	tok = strings.TrimLeft(tok, " ")
	switch {
	case !isB64Token(tok):
		return "", errMalformedBearer
	case len(tok) > maxBearer:
		return "", oauth.ErrInvalidToken
	}
	return tok, nil
}

// Bearer validates the Bearer access token and puts its grant into the context
// (auth.WithToken). Per RFC 6750 §3.1, a request without credentials answers 401 with the
// bare challenge WWW-Authenticate: Bearer realm="loginsign" (errNoBearer); a malformed
// Bearer header 400 invalid_request; an unknown, expired or revoked token 401 invalid_token,
// both with the error in WWW-Authenticate.
func (a *API) Bearer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, err := bearerToken(r)
		var tok auth.Token
		if err == nil {
			tok, err = a.OAuth.AccessToken(r.Context(), raw)
		}
		if err != nil {
			a.writeOAuthError(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(auth.WithToken(r.Context(), tok)))
	})
}

// OptionalBearer is Bearer for requests that carry an Authorization header; requests without
// one pass through unchanged (routes that also accept the session cookie).
func (a *API) OptionalBearer(next http.Handler) http.Handler {
	bearer := a.Bearer(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Two headers go to Bearer, which refuses them, even when the first is empty.
		if h, one := oauth.OneAuthorization(r.Header.Values("Authorization")); one && h == "" {
			next.ServeHTTP(w, r)
			return
		}
		bearer.ServeHTTP(w, r)
	})
}

// maxUserInfoForm bounds the form body of POST /api/user: one access token.
const maxUserInfoForm = 4 << 10

// formBearer is the access token of POST /api/user (OpenID Connect Core §5.3.1): the one of
// the Authorization header (tok, or err from bearerToken), or, without one, the access_token
// of a form-encoded body (RFC 6750 §2.2). A token sent both ways is invalid_request (RFC 6750
// §2: one method only).
func formBearer(w http.ResponseWriter, r *http.Request, tok string, err error) (string, error) {
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		return tok, err
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxUserInfoForm)
	if perr := r.ParseForm(); perr != nil {
		return "", errMalformedBearerForm
	}
	body, sent := r.PostForm["access_token"]
	switch {
	case !sent:
		return tok, err
	case err != errNoBearer || len(body) != 1:
		return "", errMalformedBearer
	case !isB64Token(body[0]):
		return "", errMalformedBearer
	case len(body[0]) > maxBearer:
		return "", oauth.ErrInvalidToken
	}
	return body[0], nil
}

// User is GET and POST /api/user (Bearer, checked by oauth.Service.UserInfo): {"id","globalId","name","email","image"}, the
// connection's profile as the app may see it. It doubles as the OpenID Connect userinfo. Its
// errors are Bearer's (RFC 6750 §3.1).
func (a *API) User(w http.ResponseWriter, r *http.Request) {
	tok, err := bearerToken(r)
	if r.Method == http.MethodPost {
		tok, err = formBearer(w, r, tok, err)
	}
	var u *oauth.UserInfo
	if err == nil {
		u, err = a.OAuth.UserInfo(r.Context(), tok)
	}
	if err != nil {
		a.writeOAuthError(w, r, err)
		return
	}
	// What writeNoStoreJSON writes, without the encoder re-validating MarshalJSON's output.
	b, _ := u.MarshalJSON()
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	w.Write(append(b, '\n'))
}

// Healthcheck is GET /api/oauth/healthcheck?client_id=…&redirect_uri=…: public, rate limited
// per IP; 400 when a parameter is missing.
func (a *API) Healthcheck(w http.ResponseWriter, r *http.Request) {
	q, err := query(r)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	res, err := a.OAuth.CheckRedirect(r.Context(), q.Get("client_id"), q.Get("redirect_uri"))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	httpx.WriteJSON(w, http.StatusOK, res)
}

// OAuthMethodNotAllowed answers a token-style endpoint called with another method than POST:
// 405 with Allow and an RFC 6749 error body.
func (a *API) OAuthMethodNotAllowed(w http.ResponseWriter, r *http.Request) {
	a.OAuthMethodNotAllowedFor(http.MethodPost)(w, r)
}

// OAuthMethodNotAllowedFor answers 405 with Allow: allow and an RFC 6749 error body.
func (a *API) OAuthMethodNotAllowedFor(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		desc := "use POST with a form-encoded body"
		if allow != http.MethodPost {
			desc = "use " + allow
		}
		e := *oauth.ErrInvalidRequest.WithDescription("%s", desc)
		e.Status = http.StatusMethodNotAllowed
		a.writeOAuthError(w, r, &e)
	}
}
