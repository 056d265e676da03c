package oauth

import (
	"crypto/sha256"
	"encoding/base64"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"loginsign/internal/connections"
	"loginsign/internal/httpx"
)

// Scopes LoginSign knows (OpenID Connect Core §5.4).
const (
	ScopeOpenID  = "openid"
	ScopeEmail   = connections.ScopeEmail   // an address: the alias or one the person chose
	ScopeProfile = connections.ScopeProfile // the name and picture
)

// defaultScopes are granted when an authorization request names none (RFC 6749 §3.3 lets the
// server pick; these are the documented recommendation).
var defaultScopes = []string{ScopeOpenID, ScopeEmail, ScopeProfile}

// Prompt values of OpenID Connect Core §3.1.2.1 that LoginSign honours.
const (
	PromptNone    = "none"
	PromptLogin   = "login"
	PromptConsent = "consent"
)

// AuthorizeRequest is a parsed authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3, OpenID
// Connect Core §3.1.2.1). Parsing checks only its shape; Service.Authorize checks it against
// the registered client.
type AuthorizeRequest struct {
	ClientID            string   `json:"client_id"`
	RedirectURI         string   `json:"redirect_uri"`
	ResponseType        string   `json:"response_type"`
	Scopes              []string `json:"scopes"`
	State               string   `json:"state,omitempty"`
	Nonce               string   `json:"nonce,omitempty"`
	CodeChallenge       string   `json:"code_challenge,omitempty"`
	CodeChallengeMethod string   `json:"code_challenge_method,omitempty"`
	Prompt              []string `json:"prompt,omitempty"`
	// MaxAge is OpenID Connect's max_age in seconds: a sign-in older than this must be
	// repeated. -1 when absent.
	MaxAge int `json:"max_age"`
	// ResponseMode is how the answer reaches the redirect URI: ResponseModeQuery (also when
	// absent) or ResponseModeFormPost (AuthorizeResponse).
	ResponseMode string `json:"response_mode,omitempty"`
	// LoginHint prefills the login form (OpenID Connect login_hint).
	LoginHint string `json:"login_hint,omitempty"`
	// UILocales are the languages the client prefers for the pages (OpenID Connect
	// ui_locales, space-separated BCP 47 tags), kept with the flow.
	UILocales string `json:"ui_locales,omitempty"`
	// ACRValues are the requested authentication context classes (OpenID Connect acr_values,
	// voluntary): mfa.ACRMFA asks a person who has a second factor to use it.
	ACRValues []string `json:"acr_values,omitempty"`
	// IDTokenHint is an id_token the client was given, naming the person it expects (OpenID
	// Connect id_token_hint); Service.Authorize checks it and sets HintConnection.
	IDTokenHint string `json:"id_token_hint,omitempty"`
	// HintConnection is the connection (the sub) IDTokenHint names. Set by the server, never
	// parsed.
	HintConnection string `json:"hint_connection,omitempty"`
	// Alias is the relay address the consent page showed for a first connect; approving
	// claims it (a fresh one if it was taken meanwhile). Set by the server, never parsed.
	Alias string `json:"alias,omitempty"`
	// KnownLink is the pending link (an import's record of the person) the consent page
	// named, as pendingLinkVersion writes it; an answer that links it accepts that link
	// only, unchanged. Set by the server, never parsed.
	KnownLink string `json:"known_link,omitempty"`
}

// HasPrompt reports whether p is among the request's prompt values.
func (r *AuthorizeRequest) HasPrompt(p string) bool { return slices.Contains(r.Prompt, p) }

// Query returns the request as authorization-endpoint query parameters.
func (r *AuthorizeRequest) Query() url.Values {
	q := url.Values{"client_id": {r.ClientID}, "redirect_uri": {r.RedirectURI}, "response_type": {r.ResponseType},
		"scope": {strings.Join(r.Scopes, " ")}}
	for k, v := range map[string]string{"state": r.State, "nonce": r.Nonce, "code_challenge": r.CodeChallenge,
		"code_challenge_method": r.CodeChallengeMethod, "prompt": strings.Join(r.Prompt, " "), "login_hint": r.LoginHint,
		"ui_locales": r.UILocales, "id_token_hint": r.IDTokenHint, "response_mode": r.ResponseMode,
		"acr_values": strings.Join(r.ACRValues, " ")} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if r.MaxAge >= 0 {
		q.Set("max_age", strconv.Itoa(r.MaxAge))
	}
	return q
}

// Limits on parameter sizes: generous for real clients, small enough to keep flow state small.
const (
	maxParam    = 2048
	maxState    = 1024
	maxIDLength = 128
	// maxIDTokenHint bounds id_token_hint, as the end-session endpoint does.
	maxIDTokenHint = 8192
)

// ParseAuthorizeRequest parses the query of an authorization request. Errors about client_id
// and redirect_uri (missing, repeated, too long) are not redirectable; every other error is,
// once the caller has validated the client and redirect URI it found here, so the returned
// request carries those two even when err is not nil.
func ParseAuthorizeRequest(q url.Values) (*AuthorizeRequest, error) {
	r := &AuthorizeRequest{MaxAge: -1}
	if err := r.parseClient(q); err != nil {
		return r, err
	}
	// From here on, errors may be redirected once client and redirect URI check out.
	if err := r.parseProtocol(q); err != nil {
		return r, err.Redirectable()
	}
	return r, nil
}

// singleParam returns parameter name of q, "" when absent; repeated, longer than max, or text
// no store takes (invalid UTF-8, a NUL: httpx.CheckText) answers invalid_request. The query of
// a GET is refused such text at the server's edge, but the form of a POST to the
// authorization endpoint is not, and a NUL in the nonce reached the refresh-token row, which
// PostgreSQL refuses: the code exchange answered 500.
func singleParam(q url.Values, name string, max int) (string, *Error) {
	v := q[name]
	switch {
	case len(v) == 0:
		return "", nil
	case len(v) > 1:
		return "", ErrInvalidRequest.WithDescription("%s must not be repeated", name)
	case len(v[0]) > max:
		return "", ErrInvalidRequest.WithDescription("%s is longer than %d characters", name, max)
	}
	if e := httpx.CheckText(name, v[0]); e != nil {
		return "", ErrInvalidRequest.WithDescription("%s", e.Message)
	}
	return v[0], nil
}

// parseClient reads client_id and redirect_uri, both required (RFC 6749 §4.1.1). Its errors
// are never redirected.
func (r *AuthorizeRequest) parseClient(q url.Values) *Error {
	var err *Error
	if r.ClientID, err = singleParam(q, "client_id", maxIDLength); err != nil {
		return err
	}
	if r.RedirectURI, err = singleParam(q, "redirect_uri", maxParam); err != nil {
		return err
	}
	if r.ClientID == "" {
		return ErrInvalidRequest.WithDescription("client_id is required")
	}
	if r.RedirectURI == "" {
		return ErrInvalidRequest.WithDescription("redirect_uri is required")
	}
	return nil
}

// authorizeParams are the raw values of the parameters that parseProtocol reads into fields of
// another shape.
type authorizeParams struct{ scope, prompt, maxAge, acrValues string }

// parseProtocol reads and checks every parameter after client_id and redirect_uri, in the
// order of the errors it answers: sizes, request objects, response type and mode, scopes,
// prompt, max_age, acr_values, then PKCE. The response mode is read first, so that every
// error reaches the client the way it asked for once it is known.
func (r *AuthorizeRequest) parseProtocol(q url.Values) *Error {
	modeErr := r.parseResponseMode(q)
	raw, err := r.readParams(q)
	if err != nil {
		return err
	}
	if err := checkResponse(q, r.ResponseType); err != nil {
		return err
	}
	if modeErr != nil {
		return modeErr
	}
	if r.Scopes, err = ParseScopes(raw.scope); err != nil {
		return err
	}
	if err := r.parsePrompt(raw.prompt); err != nil {
		return err
	}
	if raw.maxAge != "" {
		n, err := strconv.Atoi(raw.maxAge)
		if err != nil || n < 0 {
			return ErrInvalidRequest.WithDescription("max_age must be a number of seconds")
		}
		r.MaxAge = n
	}
	for _, v := range strings.Fields(raw.acrValues) {
		if len(r.ACRValues) < 8 && !slices.Contains(r.ACRValues, v) {
			r.ACRValues = append(r.ACRValues, v)
		}
	}
	if r.HasPrompt(PromptNone) && len(r.Prompt) > 1 {
		return ErrInvalidRequest.WithDescription("prompt=none cannot be combined with other values")
	}
	return r.checkPKCE()
}

// readParams reads the single-valued parameters with their size limits into r, and returns
// those parsed further by the caller.
func (r *AuthorizeRequest) readParams(q url.Values) (authorizeParams, *Error) {
	var raw authorizeParams
	for _, p := range []struct {
		name string
		max  int
		dst  *string
	}{
		// state first: every error after it goes back with it (RFC 6749 §4.1.2.1), and a
		// client that checks state before the error could not read one without it.
		{"state", maxState, &r.State}, {"response_type", 64, &r.ResponseType}, {"nonce", maxState, &r.Nonce},
		{"code_challenge", 128, &r.CodeChallenge}, {"code_challenge_method", 16, &r.CodeChallengeMethod},
		{"scope", 512, &raw.scope}, {"prompt", 64, &raw.prompt}, {"max_age", 10, &raw.maxAge}, {"login_hint", 254, &r.LoginHint},
		{"ui_locales", 64, &r.UILocales}, {"id_token_hint", maxIDTokenHint, &r.IDTokenHint},
		{"acr_values", 512, &raw.acrValues},
	} {
		var err *Error
		if *p.dst, err = singleParam(q, p.name, p.max); err != nil {
			return raw, err
		}
	}
	return raw, nil
}

// Response modes (OAuth 2.0 Multiple Response Types §2.1) LoginSign answers in.
const (
	// ResponseModeQuery adds the answer to the redirect URI's query, the default for code.
	ResponseModeQuery = "query"
	// ResponseModeFormPost posts the answer to the redirect URI from an auto-submitting form
	// (OAuth 2.0 Form Post Response Mode).
	ResponseModeFormPost = "form_post"
)

// parseResponseMode reads response_mode: query or form_post. fragment, which OAuth 2.0
// Multiple Response Types allows for code, is refused: the code would stay in the page's URL,
// readable by every script of the client's page, and a client that reads a fragment reads a
// query as well. form_post needs an http(s) redirect URI: a native app's private-use scheme
// (com.example.app:/cb) hands the app the URL only, never a posted body.
func (r *AuthorizeRequest) parseResponseMode(q url.Values) *Error {
	mode, err := singleParam(q, "response_mode", 16)
	if err != nil {
		return err
	}
	switch mode {
	case "", ResponseModeQuery:
	case ResponseModeFormPost:
		if u, err := url.Parse(r.RedirectURI); err != nil || (u.Scheme != "https" && u.Scheme != "http") {
			return ErrInvalidRequest.WithDescription("response_mode=form_post needs an http(s) redirect_uri; a native app's redirect_uri takes response_mode=query")
		}
	default:
		return ErrInvalidRequest.WithDescription("response_mode must be query or form_post")
	}
	r.ResponseMode = mode
	return nil
}

// checkResponse refuses request objects and any response_type but code.
func checkResponse(q url.Values, responseType string) *Error {
	// OpenID Connect Core §3.1.2.6: each of the two ways of passing a request object has its
	// own error; discovery says neither is supported.
	// A parameter without a value is as if omitted (RFC 6749 §3.1).
	if sent(q, "request") {
		return ErrRequestNotSupported
	}
	if sent(q, "request_uri") {
		return ErrRequestURINotSupported
	}
	switch responseType {
	case "":
		return ErrInvalidRequest.WithDescription("response_type is required")
	case "code":
	default:
		return ErrUnsupportedResponseType
	}
	return nil
}

// sent reports whether q carries parameter name with a value: RFC 6749 §3.1 treats a parameter
// sent without one as omitted.
func sent(q url.Values, name string) bool {
	return slices.ContainsFunc(q[name], func(v string) bool { return v != "" })
}

// parsePrompt reads the space-separated prompt values (none, login, consent), without
// repeats.
func (r *AuthorizeRequest) parsePrompt(prompt string) *Error {
	for _, p := range strings.Fields(prompt) {
		switch p {
		case PromptNone, PromptLogin, PromptConsent:
			if !slices.Contains(r.Prompt, p) {
				r.Prompt = append(r.Prompt, p)
			}
		default:
			return ErrInvalidRequest.WithDescription("prompt %q is not supported (none, login, consent)", p)
		}
	}
	return nil
}

// checkPKCE requires S256 whenever a code challenge is sent (RFC 7636 §4.3; plain is refused),
// and a challenge for a redirect URI of a private-use scheme (com.example.app:/callback): such
// a URI belongs to a native app, whose client secret ships inside the app and whose scheme any
// other app on the device may claim, so the challenge is all that keeps the code to the app
// that asked (RFC 8252 §8.1, RFC 9700 §2.1.1).
func (r *AuthorizeRequest) checkPKCE() *Error {
	switch {
	case r.CodeChallenge == "" && r.CodeChallengeMethod == "" && privateUseScheme(r.RedirectURI):
		return ErrInvalidRequest.WithDescription("a redirect_uri of a native app's private-use scheme needs PKCE: send code_challenge and code_challenge_method=S256")
	case r.CodeChallengeMethod == "plain":
		return ErrInvalidRequest.WithDescription("code_challenge_method plain is not allowed; use S256")
	case r.CodeChallengeMethod != "" && r.CodeChallengeMethod != "S256":
		return ErrInvalidRequest.WithDescription("code_challenge_method must be S256")
	case r.CodeChallenge != "" && r.CodeChallengeMethod == "":
		// RFC 7636 §4.3 would default to plain, which LoginSign refuses.
		return ErrInvalidRequest.WithDescription("code_challenge_method=S256 is required with code_challenge")
	case r.CodeChallenge == "" && r.CodeChallengeMethod != "":
		return ErrInvalidRequest.WithDescription("code_challenge is required with code_challenge_method")
	case r.CodeChallenge != "" && !validChallenge(r.CodeChallenge):
		return ErrInvalidRequest.WithDescription("code_challenge must be 43 base64url characters (S256)")
	}
	return nil
}

// ParseScopes splits a scope parameter (RFC 6749 §3.3) and checks every value is known. Empty
// gives the default scopes. The result is deduplicated, in a stable order.
func ParseScopes(scope string) ([]string, *Error) {
	fields := strings.Fields(scope)
	if len(fields) == 0 {
		return slices.Clone(defaultScopes), nil
	}
	var out []string
	for _, s := range fields {
		switch s {
		case ScopeOpenID, ScopeEmail, ScopeProfile:
		default:
			return nil, ErrInvalidScope.WithDescription("unknown scope %q (openid, email, profile)", truncate(s, 40))
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b string) int { return scopeRank(a) - scopeRank(b) })
	return out, nil
}

func scopeRank(s string) int { return slices.Index(defaultScopes, s) }

// validChallenge reports whether c is an S256 code challenge: BASE64URL(SHA256(verifier)),
// 43 characters without padding. Strict: a last character with its two unused bits set
// decodes to 32 bytes too, but no verifier's S256 is that string, so the code it was sent
// for could never be redeemed.
func validChallenge(c string) bool {
	if len(c) != 43 {
		return false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(c)
	return err == nil && len(b) == sha256.Size
}

// validVerifier reports whether v is a code verifier of RFC 7636 §4.1: 43–128 characters of
// [A-Za-z0-9-._~].
func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// S256 is the code challenge of verifier (RFC 7636 §4.2).
func S256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// MatchRedirectURI returns the registered URI that requested matches, by exact string
// comparison (RFC 9700 §2.1, OAuth 2.1), with one exception: for an http loopback IP literal
// (127.0.0.1 or [::1]) or localhost, the port may differ, because native apps listen on an
// ephemeral port (RFC 8252 §7.3). Nothing else is normalised: no case folding, no trailing
// slash, no default port.
func MatchRedirectURI(registered []string, requested string) (string, bool) {
	for _, r := range registered {
		if r == requested {
			return r, true
		}
	}
	if !strings.HasPrefix(requested, "http://") {
		return "", false
	}
	req, err := url.Parse(requested)
	if err != nil || !isLoopback(req.Hostname()) || req.User != nil || req.Fragment != "" {
		return "", false
	}
	for _, r := range registered {
		if !strings.HasPrefix(r, "http://") {
			continue
		}
		reg, err := url.Parse(r)
		if err != nil || reg.Hostname() != req.Hostname() {
			continue
		}
		if PortInRange(req.Port()) && reg.Path == req.Path && reg.RawPath == req.RawPath &&
			reg.RawQuery == req.RawQuery && reg.ForceQuery == req.ForceQuery && withoutPort(reg) == withoutPort(req) {
			return r, true
		}
	}
	return "", false
}

func withoutPort(u *url.URL) string {
	c := *u
	c.Host = u.Hostname()
	if strings.Contains(c.Host, ":") {
		c.Host = "[" + c.Host + "]"
	}
	return c.String()
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
