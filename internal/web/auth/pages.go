// Package authpages serves LoginSign's first-party sign-in pages and the browser side of the
// authorization endpoint: /oauth/authorize, the consent page, magic-link sign-in at /login and
// /logout. It is a transport: every decision is a call into internal/oauth or
// internal/identity. Pages are plain HTML forms (an email input and a submit button; consent
// with allow and deny buttons), so a browser or a plain HTTP client can drive them; every POST
// answers 303.
package authpages

import (
	"bytes"
	"embed"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"loginsign/ent"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/httpx"
	"loginsign/internal/i18n"
	"loginsign/internal/identity"
	"loginsign/internal/ids"
	"loginsign/internal/oauth"
	"loginsign/internal/passkey"
	"loginsign/internal/web/page"
)

//go:embed templates/*.html
var templateFS embed.FS

var templates = template.Must(template.ParseFS(templateFS, "templates/*.html"))

// Pages serves the sign-in and consent pages.
type Pages struct {
	OAuth    *oauth.Service
	Identity *identity.Service
	Cookies  httpx.Cookies
	Log      *slog.Logger
}

// Cookie base names.
const (
	sessionCookie = "session"
	// browserCookie holds a random id of the browser; flows are bound to its hash.
	browserCookie = httpx.BrowserCookie
	// secondStepCookie holds the token of a sign-in waiting for its TOTP or recovery code.
	secondStepCookie = "second_step"
	// waitingCookie holds the id of this browser's "check your email" sign-in.
	waitingCookie = "waiting"
)

// SecondStepPath is the page that asks for the second step of a sign-in.
const SecondStepPath = "/login/verify"

// Register adds the pages' routes to mux.
func (p *Pages) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /oauth/authorize", p.Authorize)
	mux.HandleFunc("POST /oauth/authorize", p.Authorize)
	mux.HandleFunc("GET /oauth/consent", p.ConsentPage)
	mux.HandleFunc("POST /oauth/consent", p.ConsentAnswer)
	mux.HandleFunc("GET /login", p.LoginPage)
	mux.HandleFunc("POST /login", p.LoginSubmit)
	mux.HandleFunc("GET /login/sent", p.Sent)
	mux.HandleFunc("POST /login/resend", p.Resend)
	mux.HandleFunc("POST /login/code", p.CodeSubmit)
	mux.HandleFunc("GET /login/waiting", p.WaitingState)
	mux.HandleFunc("POST /login/waiting", p.WaitingFinish)
	mux.HandleFunc("GET "+oauth.MagicLinkPath, p.MagicPage)
	mux.HandleFunc("POST "+oauth.MagicLinkPath, p.MagicSubmit)
	mux.HandleFunc("POST "+oauth.MagicLinkPath+"/approve", p.MagicApprove)
	mux.HandleFunc("GET /login/passkey", p.PasskeyOptions)
	mux.HandleFunc("POST /login/passkey", p.PasskeySubmit)
	mux.HandleFunc("GET "+SecondStepPath, p.SecondStepPage)
	mux.HandleFunc("POST "+SecondStepPath, p.SecondStepSubmit)
	mux.HandleFunc("GET /logout", p.LogoutPage)
	mux.HandleFunc("POST /logout", p.LogoutSubmit)
	mux.HandleFunc("GET /oauth/logout", p.EndSession)
	mux.HandleFunc("POST /oauth/logout", p.EndSession)
}

// pageHeaders are the headers of every page: no framing, no referrer, no sniffing, no
// caching. formAction lists origins a form may end up at after redirects (the client's
// redirect URI).
func pageHeaders(w http.ResponseWriter, formAction ...string) { Headers(w, nil, formAction...) }

// Headers sets the security headers of a sign-in page. frameAncestors are the origins that
// may frame it (none: 'none'; an embedded login variant passes the app's own origins);
// formAction lists extra origins a form may end up at after redirects.
func Headers(w http.ResponseWriter, frameAncestors []string, formAction ...string) {
	h := w.Header()
	if len(page.Sources(frameAncestors)) == 0 {
		h.Set("X-Frame-Options", "DENY")
	}
	// OwnImages: the consent page shows an application's initial, never its icon URL, which
	// would tell its developer when and from where a signed-in person looked.
	h.Set("Content-Security-Policy", page.Policy{FrameAncestors: frameAncestors, FormAction: formAction, OwnImages: true}.CSP())
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
}

// redirectOrigin is the scheme://host of an http(s) redirect URI ("" for any other).
func redirectOrigin(uri string) string {
	u, err := url.Parse(uri)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// formActionSource is the form-action source (CSP3) that lets a form's navigation end at the
// redirect URI uri: its origin, or, for a native app's private-use scheme (RFC 8252 §7.1,
// com.example.app:/cb), the scheme. The browser checks form-action against every redirect of
// a form's navigation, so a page whose form may end at the client (the sign-in forms, the
// consent page) names it, or the person stops on LoginSign's page.
func formActionSource(uri string) string {
	if o := redirectOrigin(uri); o != "" {
		return o
	}
	u, err := url.Parse(uri)
	if err != nil || !privateScheme.MatchString(u.Scheme) || u.Scheme == "http" || u.Scheme == "https" {
		return ""
	}
	return u.Scheme + ":"
}

// privateScheme is a URI scheme (RFC 3986 §3.1) as a CSP scheme-source takes it.
var privateScheme = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]{0,62}$`)

// flowFormAction is the form-action of a page whose forms continue the flow flowID: where the
// flow's answer goes (formActionSource); nil without a flow.
func (p *Pages) flowFormAction(r *http.Request, flowID string) []string {
	if flowID == "" {
		return nil
	}
	f, err := p.OAuth.Flow(r.Context(), flowID)
	if err != nil {
		return nil
	}
	return []string{formActionSource(f.Request.RedirectURI)}
}

type pageData struct {
	// L is the page's language; render chooses it when nil. Title is a catalog key, with
	// TitleArg its argument when it has one.
	L        *i18n.Locale
	TitleArg string
	// Hidden are hidden form fields (the end-session confirmation repeats its request; a
	// form_post answer carries its parameters), posted to PostTo when it is set.
	Hidden  map[string]string
	PostTo  string
	Title   string
	AppName string
	Flow    string
	Email   string
	// Error is shown as the page's error; Err, when set, is a domain error whose message
	// render writes into Error in the page's language.
	Error  string
	Err    *apperr.Error
	Code   string
	Token  string
	Viewer string
	Screen *oauth.ConsentScreen
	Scopes []string
	// Hinted tells the login page its address is the application's login_hint, which it
	// names as the application's proposal (oauth.Service.LoginHint).
	Hinted bool
	// Passkeys offers passkey sign-in on the login page.
	Passkeys bool
	// Again tells the login page the person is asked to sign in again before a change to how
	// they sign in (auth.RequireRecentSignIn).
	Again bool
	// StepUp tells the login page the application asks for two steps (acr_values) and the
	// person has a second factor they did not use (oauth.Next.StepUp).
	StepUp bool
	// Waiting is the "check your email" state of this browser; Asker is the browser waiting
	// for a link opened in another one, AskedAgo how long ago it asked.
	Waiting  *oauth.Waiting
	Asker    *oauth.Asker
	AskedAgo time.Duration
	// ResendIn is the seconds until the waiting page may send again.
	ResendIn int
	// Field names the input an Error is about ("code", "email", "match").
	Field string
	// Next are the ways on from an error page.
	Next *nextSteps
}

// nextSteps are what an error page of a sign-in offers: a new link (to Email when known,
// continuing Flow when it is still alive), the way back to the app, and, for a person who is
// already signed in, a button that continues as them.
type nextSteps struct {
	// Email is the old link's address, only in the browser that asked for it; elsewhere
	// Masked names it, and the address is typed: a new link from the old link itself, in a
	// browser that did not ask for it, let any site that sent a browser to its own old link
	// leave that browser waiting for a sign-in to its account.
	Email, Masked   string
	Flow            string
	AppName, AppURL string
	SignedInAs      string
	ContinueURL     string
}

func (p *Pages) render(w http.ResponseWriter, r *http.Request, status int, name string, d pageData, formAction ...string) {
	flowID := d.Flow
	if flowID == "" && d.Next != nil {
		flowID = d.Next.Flow
	}
	var f *oauth.Flow // read once, for the language and the form-action
	if flowID != "" && len(flowID) <= 128 && (d.L == nil || len(formAction) == 0) {
		if got, err := p.OAuth.Flow(r.Context(), flowID); err == nil {
			f = got
		}
	}
	if d.L == nil {
		if f != nil {
			d.L = p.flowLocale(r, f)
		} else {
			d.L = p.locale(r, "")
		}
	}
	if len(formAction) == 0 && f != nil {
		// A page of a flow: its forms (the address, the code, a passkey) may end at the client.
		formAction = []string{formActionSource(f.Request.RedirectURI)}
	}
	if d.Err != nil {
		d.Error = d.Err.MessageIn(d.L)
	}
	if d.TitleArg != "" {
		d.Title = d.L.T(d.Title, d.TitleArg)
	} else {
		d.Title = d.L.T(d.Title)
	}
	w.Header().Set("Content-Language", d.L.Lang())
	w.Header().Add("Vary", "Accept-Language")
	var buf bytes.Buffer
	if err := templates.ExecuteTemplate(&buf, name, d); err != nil {
		p.Log.ErrorContext(r.Context(), "rendering page", "page", name, "err", err)
		status, buf = http.StatusInternalServerError, *bytes.NewBufferString("internal error")
	}
	pageHeaders(w, formAction...)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// errorPage shows err: an apperr with its status, an OAuth error with 400, anything else as
// a logged 500.
func (p *Pages) errorPage(w http.ResponseWriter, r *http.Request, err error) {
	if httpx.AnswerClientGone(w, r, p.Log, err) {
		return
	}
	l := p.locale(r, r.URL.Query().Get("flow"))
	d := pageData{L: l, Title: "title.error"}
	status := http.StatusInternalServerError
	var oe *oauth.Error
	var ae *apperr.Error
	switch {
	case asOAuth(err, &oe) && oe.Code != oauth.ServerError:
		status, d.Error, d.Code, d.Title = http.StatusBadRequest, oe.Description, oe.Code, "title.invalid"
		if oe.Code == oauth.RateLimited {
			status = http.StatusTooManyRequests
			w.Header().Set("Retry-After", strconv.Itoa(oe.RetryAfter))
		}
	case asApp(err, &ae) && ae.Code != apperr.Internal:
		status, d.Error, d.Code = apperr.HTTPStatus(ae.Code), ae.MessageIn(l), ae.Name()
		if ae.Code == apperr.RateLimited {
			d.Title = "title.rate_limited"
			w.Header().Set("Retry-After", strconv.Itoa(max(1, ae.RetryAfter)))
		}
		if ae.Code == apperr.Gone {
			d.Title = "title.expired"
		}
	case apperr.DependencyDown(err):
		p.Log.WarnContext(r.Context(), "dependency unavailable", "err", err, "path", r.URL.Path)
		status, d.Title, d.Error = http.StatusServiceUnavailable, "title.unavailable", l.T("error.unavailable")
		w.Header().Set("Retry-After", strconv.Itoa(apperr.RetryAfterUnavailable))
	default:
		p.Log.ErrorContext(r.Context(), "internal error", "err", err, "path", r.URL.Path)
		d.Error = l.T("error.internal")
	}
	p.render(w, r, status, "error", d)
}

// linkError shows why a sign-in link (raw, may be unknown) cannot be used, with the next
// steps: a new link to its address when known, back to the app, or on as the person who is
// already signed in here.
func (p *Pages) linkError(w http.ResponseWriter, r *http.Request, raw string, err error) {
	var ae *apperr.Error
	if !asApp(err, &ae) || (ae.Code != apperr.Gone && ae.Code != apperr.Forbidden) {
		p.errorPage(w, r, err)
		return
	}
	d := pageData{Title: "title.link_error", Err: ae, Next: p.nextSteps(r, raw)}
	p.render(w, r, apperr.HTTPStatus(ae.Code), "link-error", d)
}

func (p *Pages) nextSteps(r *http.Request, raw string) *nextSteps {
	n := &nextSteps{ContinueURL: "/dashboard"}
	if old := p.OAuth.UsedLink(r.Context(), raw, p.Cookies.Get(r, browserCookie)); old != nil {
		n.Email, n.AppName, n.AppURL = old.Email, old.AppName, old.AppURL
		if n.Email == "" {
			n.Masked = old.Masked
		}
		if f, err := p.OAuth.Flow(r.Context(), old.FlowID); err == nil {
			if n.AppURL == "" {
				n.AppURL = redirectOrigin(f.Request.RedirectURI)
			}
			// The flow goes on only in the browser it is bound to.
			if _, err := p.OAuth.BrowserFlow(r.Context(), old.FlowID, p.Cookies.Get(r, browserCookie)); err == nil {
				n.Flow = old.FlowID
				n.ContinueURL = "/oauth/consent?" + url.Values{"flow": {old.FlowID}}.Encode()
			}
		}
	}
	if s, ok := auth.SessionFrom(r.Context()); ok {
		if u, err := p.Identity.User(r.Context(), s.UserID); err == nil {
			n.SignedInAs = u.Email
		}
	}
	return n
}

// viewer is the signed-in person and their session's start, from the session middleware.
func (p *Pages) viewer(r *http.Request) (auth.Session, time.Time, bool) {
	s, ok := auth.SessionFrom(r.Context())
	if !ok {
		return s, time.Time{}, false
	}
	start, err := p.Identity.Sessions.CreatedAt(r.Context(), s.ID)
	if err != nil || start.IsZero() {
		return s, time.Time{}, false
	}
	return s, start, true
}

// Authorize is GET and POST /oauth/authorize (RFC 6749 §4.1.1). An unknown client or unregistered
// redirect URI shows an error page (never a redirect); other errors go back to the client.
// A valid request becomes a flow kept in Redis, bound to this browser (its browser cookie)
// and continues: sign-in, consent, or straight back with a code when consent is remembered.
func (p *Pages) Authorize(w http.ResponseWriter, r *http.Request) {
	params := r.URL.Query()
	if r.Method == http.MethodPost {
		// OpenID Connect Core §3.1.2.1: the endpoint takes POST too, its parameters form
		// serialized in the body (a client's auto-submitting form, from its own origin).
		r.Body = http.MaxBytesReader(w, r.Body, maxAuthorizeBody)
		if err := r.ParseForm(); err != nil {
			p.errorPage(w, r, formError(err))
			return
		}
		params = r.PostForm
		if crossSitePost(r) {
			// A cross-site POST carries none of LoginSign's SameSite=Lax cookies, so this
			// browser would look new and be given a new browser cookie, replacing its own
			// (and the sign-in budget of its own that goes with it, loginLimits): any page
			// could do that with an auto-submitting form. The same request as a GET, a
			// top-level navigation, carries them.
			http.Redirect(w, r, "/oauth/authorize?"+params.Encode(), http.StatusSeeOther)
			return
		}
	}
	req, _, err := p.OAuth.Authorize(r.Context(), params)
	if err != nil {
		e := oauth.AsError(err)
		if e.Redirect {
			// 303 after a POST (RFC 9700 §4.12: a 307 would resend the form to the app).
			status := http.StatusFound
			if r.Method == http.MethodPost {
				status = http.StatusSeeOther
			}
			p.answerClient(w, r, p.flowLocale(r, &oauth.Flow{Request: *req}), p.OAuth.ErrorResponse(req, e), status)
			return
		}
		p.errorPage(w, r, e)
		return
	}
	browser := p.browser(w, r)
	flowID, err := p.OAuth.StartFlow(r.Context(), req, browser)
	if err != nil {
		p.errorPage(w, r, err)
		return
	}
	p.continueFlow(w, r, flowID, browser)
}

// crossSitePost reports whether the POST r may come from a page of another site, and so
// carry none of LoginSign's SameSite=Lax cookies: Sec-Fetch-Site cross-site or, from a
// browser that sends no Fetch Metadata (Safari before 16.4), an Origin whose host is not
// this request's ("null" included), as http.CrossOriginProtection judges such a browser.
// A request with neither header (a server, a same-origin form of an old browser) is not.
func crossSitePost(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "cross-site":
		return true
	case "":
		origin := r.Header.Get("Origin")
		if origin == "" {
			return false
		}
		u, err := url.Parse(origin)
		return err != nil || u.Host != r.Host
	}
	return false
}

// maxAuthorizeBody bounds the form of POST /oauth/authorize: an authorization request's
// parameters, which GET carries in a URL (browsers take about 8 KiB there).
const maxAuthorizeBody = 16 << 10

// ConsentPage is GET /oauth/consent?flow=…: where sign-in returns to continue the flow.
func (p *Pages) ConsentPage(w http.ResponseWriter, r *http.Request) {
	p.continueFlow(w, r, r.URL.Query().Get("flow"), p.Cookies.Get(r, browserCookie))
}

// browser returns this browser's id from its cookie, setting a new one when missing.
func (p *Pages) browser(w http.ResponseWriter, r *http.Request) string {
	if b := p.Cookies.Get(r, browserCookie); len(b) >= 32 && len(b) <= 128 {
		return b
	}
	b := ids.Secret("lsbr_")
	p.Cookies.Set(w, browserCookie, b, 400*24*time.Hour)
	return b
}

func (p *Pages) continueFlow(w http.ResponseWriter, r *http.Request, flowID, browser string) {
	f, err := p.OAuth.BrowserFlow(r.Context(), flowID, browser)
	if err != nil {
		p.errorPage(w, r, err)
		return
	}
	sess, start, _ := p.viewer(r)
	next, err := p.OAuth.Continue(r.Context(), f, sess.UserID, start)
	if err != nil {
		p.errorPage(w, r, err)
		return
	}
	switch {
	case next.Answer != nil:
		if err := p.OAuth.EndFlow(r.Context(), flowID); err != nil {
			p.errorPage(w, r, err)
			return
		}
		p.answerClient(w, r, p.flowLocale(r, f), next.Answer, http.StatusSeeOther)
	case next.Login:
		http.Redirect(w, r, loginAgain(flowID, next), http.StatusSeeOther)
	default:
		u, err := p.Identity.User(r.Context(), sess.UserID)
		if err != nil {
			p.errorPage(w, r, err)
			return
		}
		l := p.flowLocale(r, f)
		p.render(w, r, http.StatusOK, "consent", pageData{L: l, Title: "title.consent", TitleArg: next.Consent.AppName, Flow: flowID,
			Screen: next.Consent, Scopes: scopeLabels(l, next.Consent.Scopes, u), Viewer: u.Email},
			formActionSource(f.Request.RedirectURI))
	}
}

// loginAgain is the login page of the flow flowID that next asks for: with step_up=1 when the
// application asks for two steps the person has not taken yet, so that the page says which
// sign-in is enough (a sign-in link alone sent them back to it again); with again=1 when the
// consent the person chose needs a recent sign-in (oauth.Next.Again).
func loginAgain(flowID string, next oauth.Next) string {
	q := url.Values{"flow": {flowID}}
	if next.StepUp {
		q.Set("step_up", "1")
	}
	if next.Again {
		q.Set("again", "1")
	}
	return "/login?" + q.Encode()
}

// scopeLabels says what each scope gives the app; for profile, what the person actually set.
func scopeLabels(l *i18n.Locale, scopes []string, u *ent.User) []string {
	var out []string
	for _, s := range scopes {
		switch s {
		case oauth.ScopeOpenID:
			out = append(out, l.T("scope.openid"))
		case oauth.ScopeEmail:
			out = append(out, l.T("scope.email"))
		case oauth.ScopeProfile:
			out = append(out, profileLabel(l, u.Name, u.Image != ""))
		}
	}
	return out
}

// profileLabel is the consent line of the profile scope: the name and the picture as set, or
// that nothing is set (the app then gets neither).
func profileLabel(l *i18n.Locale, name string, picture bool) string {
	switch {
	case name != "" && picture:
		return l.T("scope.profile_both", name)
	case name != "":
		return l.T("scope.profile_name", name)
	case picture:
		return l.T("scope.profile_pic")
	default:
		return l.T("scope.profile_none")
	}
}

// ConsentAnswer is POST /oauth/consent: action=allow (with share=alias or a verified
// address) or action=deny. The flow in the form must be bound to this browser.
func (p *Pages) ConsentAnswer(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		p.errorPage(w, r, formError(err))
		return
	}
	flowID := r.PostForm.Get("flow")
	f, err := p.OAuth.BrowserFlow(r.Context(), flowID, p.Cookies.Get(r, browserCookie))
	if err != nil {
		p.errorPage(w, r, err)
		return
	}
	sess, start, ok := p.viewer(r)
	if !ok {
		http.Redirect(w, r, "/login?"+url.Values{"flow": {flowID}}.Encode(), http.StatusSeeOther)
		return
	}
	// "allow_link" allows and links the application's record of the person the page named
	// (its form's "known"); "allow" links nothing.
	var allow bool
	known := ""
	switch r.PostForm.Get("action") {
	case "allow_link":
		known = r.PostForm.Get("known")
		allow = true
	case "allow":
		allow = true
	case "deny":
	default:
		p.errorPage(w, r, apperr.New(apperr.Invalid, "action must be allow, allow_link or deny"))
		return
	}
	next, err := p.OAuth.Decide(r.Context(), f, sess.UserID, start, allow, r.PostForm.Get("share"), known)
	if err != nil {
		p.errorPage(w, r, err)
		return
	}
	if next.Login {
		http.Redirect(w, r, loginAgain(flowID, next), http.StatusSeeOther)
		return
	}
	if err := p.OAuth.EndFlow(r.Context(), flowID); err != nil {
		p.errorPage(w, r, err)
		return
	}
	p.answerClient(w, r, p.flowLocale(r, f), next.Answer, http.StatusSeeOther)
}

// answerClient sends the browser to the client with a (its code or error), the one way every
// answer of the authorization endpoint leaves: in query mode a redirect with status (302 or
// 303) to the redirect URI with the answer in its query; in form_post mode (OAuth 2.0 Form
// Post Response Mode §2) a page (200, in language l) whose form posts the answer to the
// redirect URI, submitted by /static/form-post.js as soon as it loads, or by its button
// without script. Its form-action names the redirect URI's origin and nothing else
// (formActionSource).
func (p *Pages) answerClient(w http.ResponseWriter, r *http.Request, l *i18n.Locale, a *oauth.AuthorizeResponse, status int) {
	if !a.FormPost() {
		pageHeaders(w)
		http.Redirect(w, r, a.URL(), status)
		return
	}
	hidden := make(map[string]string, len(a.Params))
	for k := range a.Params {
		hidden[k] = a.Params.Get(k)
	}
	d := pageData{L: l, Title: "title.form_post", TitleArg: oauth.ReturnsTo(a.RedirectURI), PostTo: a.PostURL(), Hidden: hidden}
	p.render(w, r, http.StatusOK, "form_post", d, formActionSource(a.RedirectURI))
}

func (p *Pages) flowApp(r *http.Request, flowID string) string {
	if flowID == "" {
		return ""
	}
	f, err := p.OAuth.BrowserFlow(r.Context(), flowID, p.Cookies.Get(r, browserCookie))
	if err != nil {
		return ""
	}
	app, err := p.OAuth.FlowApplication(r.Context(), f)
	if err != nil {
		return ""
	}
	return app.Name
}

// returnCookie remembers, for the browser that asked to sign in, the first-party page to show
// after signing in (GET /login?return_to=/portal) when no authorization is in progress.
const returnCookie = "return_to"

// SafeReturnPath reports whether p is a path on this origin: it starts with one "/", names no
// scheme or host, and is short. Anything else could turn /login into an open redirect. It is
// also one of the pages that send a signed-out visitor to sign in and back (returnPages),
// without dot segments, decoded or not: any site can set the return_to cookie (a top-level
// GET /login?return_to=…), and a path of its choosing met the person right after their own
// sign-in, such as its application's authorization (its consent screen, or straight back to
// it with a code) or a sign-in link of its own.
func SafeReturnPath(p string) bool {
	if len(p) == 0 || len(p) > 512 || p[0] != '/' || strings.HasPrefix(p, "//") || strings.ContainsAny(p, "\\\r\n") {
		return false
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return false
	}
	for _, seg := range strings.Split(u.Path, "/") {
		if seg == "." || seg == ".." {
			return false
		}
	}
	for _, page := range returnPages {
		if u.Path == page || strings.HasPrefix(u.Path, page+"/") {
			return true
		}
	}
	return false
}

// returnPages are the first-party pages (and the pages under them) that send a signed-out
// visitor to /login?return_to=…: the dashboard and its address-verification link, the
// Developer Portal, the pages of the account links LoginSign mails and the playground.
var returnPages = []string{"/dashboard", "/portal", "/account", "/playground"}

// LoginPage is GET /login: the email form.
func (p *Pages) LoginPage(w http.ResponseWriter, r *http.Request) {
	if rt := r.URL.Query().Get("return_to"); SafeReturnPath(rt) {
		p.Cookies.Set(w, returnCookie, rt, 30*time.Minute)
	}
	flowID := r.URL.Query().Get("flow")
	d := pageData{Title: "title.login", Flow: flowID, Passkeys: p.OAuth.PasskeysAvailable(), Again: r.URL.Query().Get("again") == "1",
		StepUp: r.URL.Query().Get("step_up") == "1"}
	// Only the browser of the authorization sees its login_hint and its application: a flow
	// id seen elsewhere (a shared screen, a pasted link) tells nobody who is signing in where.
	if f, err := p.OAuth.BrowserFlow(r.Context(), flowID, p.Cookies.Get(r, browserCookie)); err == nil {
		sess, _ := auth.SessionFrom(r.Context())
		d.Email = p.OAuth.LoginHint(r.Context(), f, sess.UserID, p.Cookies.Get(r, browserCookie))
		d.Hinted = d.Email != ""
		if app, err := p.OAuth.FlowApplication(r.Context(), f); err == nil {
			d.AppName = app.Name
		}
	}
	p.render(w, r, http.StatusOK, "login", d)
}

// LoginSubmit is POST /login: mails a magic link and answers 303 to /login/sent, the same
// whether or not the address has an account.
func (p *Pages) LoginSubmit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		p.errorPage(w, r, formError(err))
		return
	}
	flowID, email := r.PostForm.Get("flow"), r.PostForm.Get("email")
	if len(flowID) > 128 {
		flowID = ""
	}
	ctx := i18n.WithLocale(r.Context(), p.locale(r, flowID))
	var waiting string
	var err error
	if old := r.PostForm.Get("link"); email == "" && old != "" {
		// An old link's page asks for a new link to that link's address without showing it.
		waiting, err = p.OAuth.StartSignInFromLink(ctx, old, flowID, httpx.ClientIP(r), p.browser(w, r), r.UserAgent())
	} else {
		waiting, err = p.OAuth.StartSignIn(ctx, email, flowID, httpx.ClientIP(r), p.browser(w, r), r.UserAgent())
	}
	if err != nil {
		if apperr.Is(err, apperr.Invalid) {
			p.render(w, r, http.StatusBadRequest, "login", pageData{Title: "title.login", Flow: flowID, Passkeys: p.OAuth.PasskeysAvailable(),
				AppName: p.flowApp(r, flowID), Email: email, Err: apperr.As(err), Field: "email"})
			return
		}
		p.errorPage(w, r, err)
		return
	}
	p.Cookies.Set(w, waitingCookie, waiting, 15*time.Minute)
	target := "/login/sent"
	if flowID != "" {
		target += "?" + url.Values{"flow": {flowID}}.Encode()
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// Sent is GET /login/sent: "check your email", with the address, the code form, a resend
// button with its countdown, and the number another device asks for. Its script follows the
// waiting sign-in (GET /login/waiting) and moves on when the link is used elsewhere.
func (p *Pages) Sent(w http.ResponseWriter, r *http.Request) {
	p.renderSent(w, r, http.StatusOK, nil, "")
}

func (p *Pages) renderSent(w http.ResponseWriter, r *http.Request, status int, msg *apperr.Error, field string) {
	flowID := r.URL.Query().Get("flow")
	d := pageData{Title: "title.sent", Flow: flowID, Err: msg, Field: field}
	if wt, err := p.OAuth.WaitingSignIn(r.Context(), p.Cookies.Get(r, waitingCookie), p.Cookies.Get(r, browserCookie)); err == nil {
		d.Waiting, d.ResendIn = wt, int((wt.ResendIn+time.Second-1)/time.Second)
		if flowID == "" {
			d.Flow = wt.FlowID
		}
	}
	d.AppName = p.flowApp(r, d.Flow)
	p.render(w, r, status, "sent", d)
}

// sentURL is the "check your email" page of flowID.
func sentURL(flowID string) string {
	if flowID == "" {
		return "/login/sent"
	}
	return "/login/sent?" + url.Values{"flow": {flowID}}.Encode()
}

// Resend is POST /login/resend: a new link and code for this browser's waiting sign-in.
func (p *Pages) Resend(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		p.errorPage(w, r, formError(err))
		return
	}
	err := p.OAuth.Resend(i18n.WithLocale(r.Context(), p.locale(r, r.PostForm.Get("flow"))), p.Cookies.Get(r, waitingCookie), httpx.ClientIP(r), p.Cookies.Get(r, browserCookie))
	var ae *apperr.Error
	switch {
	case err == nil:
		http.Redirect(w, r, sentURL(r.PostForm.Get("flow"))+"#resent", http.StatusSeeOther)
	case asApp(err, &ae) && ae.Code == apperr.RateLimited:
		w.Header().Set("Retry-After", strconv.Itoa(max(1, ae.RetryAfter)))
		p.renderSent(w, r, http.StatusTooManyRequests, ae, "resend")
	case asApp(err, &ae) && (ae.Code == apperr.Gone || ae.Code == apperr.Forbidden || ae.Code == apperr.Conflict):
		p.linkError(w, r, "", err)
	default:
		p.errorPage(w, r, err)
	}
}

// CodeSubmit is POST /login/code: the 6-digit code from the mail, typed on the waiting page,
// signs in here. A wrong code shows the page again (400) with the attempts left.
func (p *Pages) CodeSubmit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		p.errorPage(w, r, formError(err))
		return
	}
	in, err := p.OAuth.UseCode(r.Context(), p.Cookies.Get(r, waitingCookie), r.PostForm.Get("code"), httpx.ClientIP(r), p.browser(w, r))
	var ae *apperr.Error
	switch {
	case err == nil:
	case asApp(err, &ae) && (ae.Code == apperr.Invalid || ae.Code == apperr.Gone):
		status := http.StatusBadRequest
		if ae.Code == apperr.Gone {
			status = http.StatusGone
		}
		p.renderSent(w, r, status, ae, "code")
		return
	default:
		p.errorPage(w, r, err)
		return
	}
	p.Cookies.Clear(w, waitingCookie)
	p.finish(w, r, in)
}

// finish ends a mailbox sign-in in this browser: the second step when it has one, else signed in.
func (p *Pages) finish(w http.ResponseWriter, r *http.Request, in *oauth.SignIn) {
	if in.SecondStep != "" {
		p.Cookies.Set(w, secondStepCookie, in.SecondStep, 10*time.Minute)
		pageHeaders(w)
		http.Redirect(w, r, SecondStepPath, http.StatusSeeOther)
		return
	}
	p.SignedIn(w, r, in)
}

// WaitingState is GET /login/waiting: the state of this browser's waiting sign-in as JSON
// ({"state": "", "signed_in", "signed_in_elsewhere", "approved" or "expired", "resendIn": s}),
// polled by the waiting page.
func (p *Pages) WaitingState(w http.ResponseWriter, r *http.Request) {
	pageHeaders(w)
	w.Header().Set("Content-Type", "application/json")
	wt, err := p.OAuth.WaitingSignIn(r.Context(), p.Cookies.Get(r, waitingCookie), p.Cookies.Get(r, browserCookie))
	if err != nil {
		if apperr.DependencyDown(err) {
			w.Header().Set("Retry-After", strconv.Itoa(apperr.RetryAfterUnavailable))
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"state":"unavailable"}`))
			return
		}
		w.Write([]byte(`{"state":"expired","resendIn":0}`))
		return
	}
	resend := int((wt.ResendIn + time.Second - 1) / time.Second)
	w.Write([]byte(`{"state":"` + wt.State + `","resendIn":` + strconv.Itoa(resend) + `}`))
}

// WaitingFinish is POST /login/waiting: signs in this browser after another device approved
// it (the page's script posts it when the state turns "approved").
func (p *Pages) WaitingFinish(w http.ResponseWriter, r *http.Request) {
	in, err := p.OAuth.FinishApproved(r.Context(), p.Cookies.Get(r, waitingCookie), p.browser(w, r))
	if err != nil {
		p.linkError(w, r, "", err)
		return
	}
	p.Cookies.Clear(w, waitingCookie)
	p.finish(w, r, in)
}

// MagicPage is GET /login/magic?token=…: a confirmation page with a POST button. It does not
// use the link, so mail scanners that prefetch links cannot burn it.
func (p *Pages) MagicPage(w http.ResponseWriter, r *http.Request) {
	tok := r.URL.Query().Get("token")
	if !p.OAuth.MagicLinkPending(r.Context(), tok) {
		p.linkError(w, r, tok, apperr.New(apperr.Gone, "%s", p.locale(r, "").T("error.link_used")))
		return
	}
	p.renderMagic(w, r, http.StatusOK, tok, nil)
}

func (p *Pages) renderMagic(w http.ResponseWriter, r *http.Request, status int, tok string, msg *apperr.Error) {
	d := pageData{Title: "title.magic", Token: tok, Err: msg}
	d.Asker = p.OAuth.LinkAsker(r.Context(), tok, p.Cookies.Get(r, browserCookie), httpx.ClientIP(r))
	if msg != nil {
		d.Field = "match"
	}
	if d.Asker == nil {
		// Opened in the browser that asked (or with nobody waiting): the page names the
		// account too, and the session it would replace. That browser need not have typed the
		// address: a site can send it to an authorization whose login_hint fills in its own,
		// and then its link, opened here, signed in to its account without naming it.
		masked, owner := p.OAuth.LinkAccount(r.Context(), tok)
		d.Email = masked
		if s, ok := auth.SessionFrom(r.Context()); ok && masked != "" && s.UserID != owner {
			if u, err := p.Identity.User(r.Context(), s.UserID); err == nil {
				d.Viewer = u.Email
			}
		}
	} else {
		d.Email = d.Asker.Account
		d.AskedAgo = p.OAuth.Now().Sub(d.Asker.AskedAt)
		// A link asked for elsewhere may be someone else's, forwarded: the page says whose
		// account it opens (d.Email), and that it replaces the one this browser is signed in to.
		if s, ok := auth.SessionFrom(r.Context()); ok {
			if u, err := p.Identity.User(r.Context(), s.UserID); err == nil && oauth.MaskEmail(u.Email) != d.Email {
				d.Viewer = u.Email
			}
		}
	}
	// The link's POST may end at any app (the flow of another tab), so any web origin; a native
	// app's private-use scheme is named when the link continues its flow.
	p.render(w, r, status, "magic", d, append([]string{"https:", "http:"}, p.flowFormAction(r, p.OAuth.MagicLinkFlow(r.Context(), tok))...)...)
}

// MagicApprove is POST /login/magic/approve (token, match): the link was opened on another
// device than the one waiting for it; the number that device shows approves it, which then
// signs in by itself. This device stays signed out and says so.
func (p *Pages) MagicApprove(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		p.errorPage(w, r, formError(err))
		return
	}
	tok := r.PostForm.Get("token")
	err := p.OAuth.ApproveOther(r.Context(), tok, r.PostForm.Get("match"), httpx.ClientIP(r))
	var ae *apperr.Error
	switch {
	case err == nil:
		p.render(w, r, http.StatusOK, "approved", pageData{Title: "title.approved"})
	case asApp(err, &ae) && ae.Code == apperr.Invalid:
		p.renderMagic(w, r, http.StatusBadRequest, tok, ae)
	default:
		p.linkError(w, r, tok, err)
	}
}

// MagicSubmit is POST /login/magic: uses the link, rotates the session (the old one ends, a
// new id is set), and continues the authorization in progress (303).
func (p *Pages) MagicSubmit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		p.errorPage(w, r, formError(err))
		return
	}
	in, err := p.OAuth.UseMagicLink(r.Context(), r.PostForm.Get("token"), httpx.ClientIP(r), p.browser(w, r))
	if err != nil {
		p.linkError(w, r, r.PostForm.Get("token"), err)
		return
	}
	p.finish(w, r, in)
}

// PasskeyOptions is GET /login/passkey: the options (JSON) of a passkey sign-in, for the login
// page's script; their challenge is this browser's (its cookie, set here when missing).
func (p *Pages) PasskeyOptions(w http.ResponseWriter, r *http.Request) {
	opts, err := p.OAuth.PasskeyOptions(r.Context(), httpx.ClientIP(r), p.browser(w, r))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	pageHeaders(w)
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(opts))
}

// PasskeySubmit is POST /login/passkey (form: flow, credential = the assertion as JSON): signs
// in with the passkey and continues like a magic link (303). The session remembers the passkey,
// so that removing it ends the session.
func (p *Pages) PasskeySubmit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 96<<10)
	if err := r.ParseForm(); err != nil {
		p.errorPage(w, r, formError(err))
		return
	}
	in, err := p.OAuth.PasskeySignIn(r.Context(), r.PostForm.Get("flow"), r.PostForm.Get("credential"), httpx.ClientIP(r), p.browser(w, r))
	if err != nil {
		p.errorPage(w, r, err)
		return
	}
	p.signedIn(w, r, in, passkey.SignInRef(r.PostForm.Get("credential")))
}

// SecondStepPage is GET /login/verify: the code form of a sign-in waiting for its second step.
func (p *Pages) SecondStepPage(w http.ResponseWriter, r *http.Request) {
	flowID, err := p.OAuth.SecondStepPending(r.Context(), p.Cookies.Get(r, secondStepCookie), p.Cookies.Get(r, browserCookie))
	if err != nil {
		p.errorPage(w, r, err)
		return
	}
	p.render(w, r, http.StatusOK, "second-step", pageData{Title: "title.second_step"}, p.flowFormAction(r, flowID)...)
}

// SecondStepSubmit is POST /login/verify: checks the code; a wrong one shows the form again
// (400), a right one signs in like a magic link.
func (p *Pages) SecondStepSubmit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		p.errorPage(w, r, formError(err))
		return
	}
	in, err := p.OAuth.CompleteSecondStep(r.Context(), p.Cookies.Get(r, secondStepCookie), r.PostForm.Get("code"),
		httpx.ClientIP(r), p.Cookies.Get(r, browserCookie))
	if apperr.Is(err, apperr.Invalid) {
		p.render(w, r, http.StatusBadRequest, "second-step", pageData{Title: "title.second_step", Err: apperr.As(err)})
		return
	}
	if err != nil {
		p.errorPage(w, r, err)
		return
	}
	p.Cookies.Clear(w, secondStepCookie)
	p.SignedIn(w, r, in)
}

// SignedIn finishes a sign-in in the browser: rotates the session (the old one ends, a new id
// carrying the sign-in's methods is set) and continues the authorization in progress, or goes
// to the page that asked for the sign-in, or the dashboard (303). An account closed since the
// sign-in was recorded gets no session and no remembered browser: the answer is that of a
// link to an account that no longer exists (410, the link used or expired).
func (p *Pages) SignedIn(w http.ResponseWriter, r *http.Request, in *oauth.SignIn) {
	p.signedIn(w, r, in, "")
}

// stillHeld answers NotFound when the account of the sign-in in is gone, and Gone when it no
// longer holds the address the sign-in proved (in.Address), or its email_version moved since
// the sign-in's check (a primary change, or the person signed out everywhere else meanwhile),
// as the sign-in's link then would. A sign-in with the passkey named by passkeyRef (passkey.Ref)
// answers Unauthorized, as the passkey itself then would, once the account no longer has it
// (removed since its assertion verified).
func (p *Pages) stillHeld(r *http.Request, in *oauth.SignIn, passkeyRef string) error {
	u, err := p.Identity.User(r.Context(), in.User.ID)
	if err != nil {
		return err
	}
	if passkeyRef != "" && p.OAuth.Passkeys != nil {
		held, err := p.OAuth.Passkeys.Registered(r.Context(), u.ID, passkeyRef)
		if err != nil {
			return err
		}
		if !held {
			return apperr.New(apperr.Unauthorized, "this passkey could not sign you in")
		}
	}
	if in.Address == "" {
		return nil
	}
	holds := u.EmailVersion == in.User.EmailVersion
	if holds {
		if holds, err = p.Identity.HoldsAddress(r.Context(), u, in.Address); err != nil {
			return err
		}
	}
	if !holds {
		return oauth.ErrLinkVoided()
	}
	return nil
}

// signedIn is SignedIn for a sign-in with the passkey named by passkeyRef (passkey.Ref), "" for
// any other.
func (p *Pages) signedIn(w http.ResponseWriter, r *http.Request, in *oauth.SignIn, passkeyRef string) {
	raw, err := p.Identity.Sessions.Start(r.Context(), identity.NewSession{UserID: in.User.ID, UserAgent: r.UserAgent(),
		IP: httpx.ClientIP(r), AMR: in.AMR, Passkey: passkeyRef, Address: in.Address, Replacing: p.Cookies.Get(r, sessionCookie),
		Browser: p.Cookies.Get(r, browserCookie)})
	if err != nil {
		p.errorPage(w, r, err)
		return
	}
	// The account is read again now that the session exists: the closing of an account ends
	// its sessions once it has committed, so a session written later would outlive it. Either
	// the closing commits after this read, and ends the session itself, or this read finds
	// the account gone and the session ends here. The same holds for the address the sign-in
	// proved: its removal ends the sessions it started once it has committed
	// (identity.Service.EndAddressSessions), and for the passkey that signed in: its removal
	// ends its sessions once it has committed (passkey.Service.Delete).
	if err := p.stillHeld(r, in, passkeyRef); err != nil {
		if err := p.Identity.Sessions.Delete(r.Context(), raw); err != nil {
			p.Log.ErrorContext(r.Context(), "ending the session of a closed account or a removed address", "err", err)
		}
		p.Cookies.Clear(w, sessionCookie)
		if apperr.Is(err, apperr.NotFound) {
			err = apperr.New(apperr.Gone, "this sign-in link was already used or has expired; ask for a new one")
		}
		p.linkError(w, r, "", err)
		return
	}
	p.Cookies.Set(w, sessionCookie, raw, 0)
	if err := p.OAuth.RememberBrowser(r.Context(), p.Cookies.Get(r, browserCookie), in.User); err != nil {
		p.Log.WarnContext(r.Context(), "remembering the browser of a sign-in", "err", err)
	}
	target := "/dashboard"
	if rt := p.Cookies.Get(r, returnCookie); SafeReturnPath(rt) {
		target = rt
	}
	p.Cookies.Clear(w, returnCookie)
	if in.FlowID != "" {
		target = "/oauth/consent?" + url.Values{"flow": {in.FlowID}}.Encode()
	}
	pageHeaders(w)
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// LogoutPage is GET /logout: a page with a sign-out button (GET never signs out).
func (p *Pages) LogoutPage(w http.ResponseWriter, r *http.Request) {
	d := pageData{Title: "title.logout"}
	if s, ok := auth.SessionFrom(r.Context()); ok {
		if u, err := p.Identity.User(r.Context(), s.UserID); err == nil {
			d.Viewer = u.Email
		}
	}
	p.render(w, r, http.StatusOK, "logout", d)
}

// LogoutSubmit is POST /logout: ends the session (back-channel logouts included) and answers
// 303 to /login.
//
// A signed-in browser's sign-out is noted (oauth.BrowserSignedOut) before its session ends;
// one without a session notes nothing: the note is a key the store keeps a day, and an
// anonymous POST with a made-up browser cookie could otherwise write as many as it liked.
func (p *Pages) LogoutSubmit(w http.ResponseWriter, r *http.Request) {
	if raw := p.Cookies.Get(r, sessionCookie); raw != "" {
		var err error
		if s, ok := auth.SessionFrom(r.Context()); ok {
			if err := p.OAuth.BrowserSignedOut(r.Context(), p.Cookies.Get(r, browserCookie)); err != nil {
				p.errorPage(w, r, err)
				return
			}
			err = p.OAuth.EndSession(r.Context(), s, raw)
		} else {
			err = p.Identity.Sessions.Delete(r.Context(), raw)
		}
		if err != nil {
			p.errorPage(w, r, err)
			return
		}
	}
	p.clearSignIn(w)
	pageHeaders(w)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// clearSignIn ends the session cookie and what this browser keeps of a sign-in: the waiting
// sign-in ("check your email", which shows its address and offers to mail it again), a
// second step in progress and the page to return to. Signing out on a shared computer leaves
// nothing of the person's sign-in to whoever uses the browser next. The browser cookie stays:
// it names the browser, not the person; what the person asked for in it before (a sign-in
// link, whose page named their address there) the sign-out's oauth.BrowserSignedOut ends.
func (p *Pages) clearSignIn(w http.ResponseWriter) {
	for _, c := range []string{sessionCookie, waitingCookie, secondStepCookie, returnCookie} {
		p.Cookies.Clear(w, c)
	}
}

// formError is the answer to a form that could not be read: 413 when it is over its limit,
// else 400.
func formError(err error) error {
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return apperr.New(apperr.TooLarge, "the form is larger than %d bytes", mb.Limit)
	}
	return apperr.New(apperr.Invalid, "malformed form")
}

// locale is the language of a page: the signed-in person's setting, then the ui_locales of
// the authorization flow in progress (flowID, may be empty) or of the request itself, then
// Accept-Language.
func (p *Pages) locale(r *http.Request, flowID string) *i18n.Locale {
	ui := r.URL.Query().Get("ui_locales")
	if flowID != "" && len(flowID) <= 128 {
		if f, err := p.OAuth.Flow(r.Context(), flowID); err == nil && f.Request.UILocales != "" {
			ui = f.Request.UILocales
		}
	}
	return i18n.Choose(p.Identity.ViewerLanguage(r.Context()), ui, r.Header.Get("Accept-Language"))
}

// flowLocale is locale for a flow already loaded.
func (p *Pages) flowLocale(r *http.Request, f *oauth.Flow) *i18n.Locale {
	ui := f.Request.UILocales
	if ui == "" {
		ui = r.URL.Query().Get("ui_locales")
	}
	return i18n.Choose(p.Identity.ViewerLanguage(r.Context()), ui, r.Header.Get("Accept-Language"))
}
