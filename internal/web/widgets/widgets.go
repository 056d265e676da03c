// Package widgets serves the embeddable UI of spec §9: the widget script and stylesheet at the
// stable versioned path /widgets/v1/, and the two iframe pages it uses, /embed/banner and
// /embed/login.
//
// Every widget ends in the ordinary authorization code flow: the browser is sent to
// /oauth/authorize in the top window and comes back to the app's registered redirect URI with a
// code, which the app's backend exchanges. No token ever passes through the browser or
// postMessage.
package widgets

import (
	"context"
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"loginsign/ent"
	"loginsign/internal/apperr"
	"loginsign/internal/i18n"
	"loginsign/internal/identity"
	"loginsign/internal/oauth"
	"loginsign/internal/web/page"
	"loginsign/internal/web/static"
)

//go:embed files
var embedded embed.FS

// Handler serves the widget assets and embeds.
type Handler struct {
	clients  Clients
	identity *identity.Service
	assets   *static.Files
	banner   *template.Template
	login    *template.Template
	invalid  *template.Template
}

// Clients finds the application named by a client_id (oauth.Service.Client): unknown → nil,
// nil.
type Clients interface {
	Client(ctx context.Context, clientID string) (*ent.Application, error)
}

// New returns the widget handler; r renders the embed pages inside the shared frame.
func New(clients Clients, id *identity.Service, r *page.Renderer) *Handler {
	sub, err := fs.Sub(embedded, "files")
	if err != nil {
		panic(err)
	}
	return &Handler{
		clients: clients, identity: id,
		assets:  static.New(sub, "/widgets/"),
		banner:  r.Parse(bannerTemplate),
		login:   r.Parse(loginTemplate),
		invalid: r.Parse(invalidTemplate),
	}
}

// Assets serves /widgets/… (the script is loaded from apps' pages at a fixed URL, so it is
// cached briefly and revalidated rather than forever).
func (h *Handler) Assets() http.Handler { return h.assets }

// Origins are the browser origins of app: its allowed origins plus the origins of its http(s)
// redirect URIs, in that order, each once. These, and only these, may frame its embeds. It
// runs on anonymous /embed requests, so it takes time linear in the lists, whatever they hold.
func Origins(app *ent.Application) []string {
	var out []string
	seen := make(map[string]bool, len(app.AllowedOrigins)+len(app.RedirectUris))
	add := func(o string) {
		if o != "" && !seen[o] {
			seen[o] = true
			out = append(out, o)
		}
	}
	for _, o := range app.AllowedOrigins {
		add(strings.TrimRight(o, "/"))
	}
	for _, raw := range app.RedirectUris {
		if u, err := url.Parse(raw); err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" {
			add(u.Scheme + "://" + u.Host)
		}
	}
	return out
}

type embedData struct {
	App          *ent.Application
	Initial      string
	Viewer       *ent.User
	ViewerName   string
	AuthorizeURL string
	Position     string
	Params       url.Values
	Message      string
	// ParentOrigins are the origins that may frame the embed (its CSP frame-ancestors),
	// space-separated: the only ones its script posts messages to.
	ParentOrigins string
}

// app loads the application named by client_id, or answers an error page (never framed). An
// application that requires pushed authorization requests has no widget: each starts the
// code flow with the request in the top window's URL, which it refuses.
func (h *Handler) app(w http.ResponseWriter, r *http.Request) *ent.Application {
	id := r.URL.Query().Get("client_id")
	if id == "" || len(id) > 100 {
		h.fail(w, r, http.StatusBadRequest, "widget.no_client")
		return nil
	}
	app, err := h.clients.Client(r.Context(), id)
	if err != nil && apperr.DependencyDown(err) {
		// The database is down: an outage, 503 with Retry-After, as every page answers it
		// (the caller's retry can succeed), not a 500.
		slog.WarnContext(r.Context(), "dependency unavailable", "err", err, "path", r.URL.Path)
		w.Header().Set("Retry-After", strconv.Itoa(apperr.RetryAfterUnavailable))
		h.fail(w, r, http.StatusServiceUnavailable, "error.unavailable")
		return nil
	}
	if err != nil {
		slog.ErrorContext(r.Context(), "internal error", "err", err, "path", r.URL.Path)
		h.fail(w, r, http.StatusInternalServerError, "widget.internal")
		return nil
	}
	if app == nil {
		h.fail(w, r, http.StatusNotFound, "widget.unknown_client")
		return nil
	}
	if app.RequirePushedAuthorizationRequests {
		h.fail(w, r, http.StatusBadRequest, "widget.pushed_only")
		return nil
	}
	return app
}

// fail answers an error page whose message is the catalog key msg with args.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, status int, msg string, args ...any) {
	l := h.locale(r)
	page.Render(w, status, h.invalid, page.Policy{}, page.Frame{Title: l.T("widget.error"), BodyClass: "embed", L: l, Content: embedData{Message: l.T(msg, args...)}})
}

// locale is the language of an embed: the signed-in person's setting, then the widget's
// ui_locales (its locale option), then Accept-Language.
func (h *Handler) locale(r *http.Request) *i18n.Locale {
	return i18n.Choose(h.identity.ViewerLanguage(r.Context()), r.URL.Query().Get("ui_locales"), r.Header.Get("Accept-Language"))
}

func (h *Handler) viewer(r *http.Request) *ent.User {
	u, err := h.identity.Viewer(r.Context())
	if err != nil {
		return nil
	}
	return u
}

func displayName(u *ent.User) string {
	if u == nil {
		return ""
	}
	if u.Name != "" {
		return u.Name
	}
	return u.Email
}

func initial(s string) string {
	for _, r := range s {
		return strings.ToUpper(string(r))
	}
	return "?"
}

// validPosition reports whether p names a corner of the banner.
func validPosition(p string) bool {
	switch p {
	case "top-right", "top-left", "bottom-right", "bottom-left":
		return true
	}
	return false
}

// Banner serves GET /embed/banner?client_id=…&position=…: "Continue as <name>" when the visitor
// has a LoginSign session, else an empty page. The page tells its parent (the widget script) what
// was clicked with postMessage; the parent then starts authorize in the top window with a state
// it keeps itself. Only the app's own origins may frame it, and its messages (which say whether
// the visitor is signed in to LoginSign) go to those origins only, never to "*".
func (h *Handler) Banner(w http.ResponseWriter, r *http.Request) {
	app := h.app(w, r)
	if app == nil {
		return
	}
	pos := r.URL.Query().Get("position")
	if pos == "" {
		pos = "top-right"
	}
	if !validPosition(pos) {
		h.fail(w, r, http.StatusBadRequest, "widget.bad_position")
		return
	}
	v := h.viewer(r)
	l := h.locale(r)
	origins := Origins(app)
	page.Render(w, http.StatusOK, h.banner, page.Policy{FrameAncestors: origins, Personal: true}, page.Frame{
		Title: l.T("widget.banner_title"), BodyClass: "embed", Scripts: []string{"embed-banner.js"}, L: l,
		Content: embedData{App: app, Viewer: v, ViewerName: displayName(v), Initial: initial(displayName(v)), Position: pos,
			ParentOrigins: strings.Join(page.Sources(origins), " ")},
	})
}

// Login serves GET /embed/login?client_id&redirect_uri&state&scope&nonce&code_challenge&
// code_challenge_method&ui_locales: the sign-in start page for an app's own pages to frame. Its
// form and link target the top window, so sign-in continues at /oauth/authorize full-page and
// ends on the redirect URI with a code. The app's state, nonce and PKCE challenge (RFC 7636)
// pass through unchanged, so its code stays bound to its verifier and its id_token to its
// nonce. The authorization request the page builds is checked as /oauth/authorize checks it
// (oauth.ParseAuthorizeRequest: sizes, repeats, scopes, S256 only); one it would refuse is a
// 400 error page here, naming what is wrong.
func (h *Handler) Login(w http.ResponseWriter, r *http.Request) {
	app := h.app(w, r)
	if app == nil {
		return
	}
	q := r.URL.Query()
	redirect := q.Get("redirect_uri")
	if redirect == "" && len(app.RedirectUris) == 1 {
		redirect = app.RedirectUris[0]
	}
	if !slices.Contains(app.RedirectUris, redirect) {
		h.fail(w, r, http.StatusBadRequest, "widget.bad_redirect")
		return
	}
	built := url.Values{"client_id": {app.ID}, "redirect_uri": {redirect}, "response_type": {"code"}}
	// Passed on as sent, repeats included, for the parser to judge.
	for _, k := range []string{"scope", "state", "nonce", "code_challenge", "code_challenge_method"} {
		if v, ok := q[k]; ok {
			built[k] = v
		}
	}
	if built.Get("scope") == "" {
		built.Set("scope", "openid email profile")
	}
	if ui := q.Get("ui_locales"); ui != "" && len(ui) <= 64 {
		built.Set("ui_locales", ui)
	}
	req, err := oauth.ParseAuthorizeRequest(built)
	if err != nil {
		h.fail(w, r, http.StatusBadRequest, "widget.bad_request", oauth.AsError(err).Description)
		return
	}
	params := req.Query()
	v := h.viewer(r)
	origins := Origins(app)
	l := h.locale(r)
	page.Render(w, http.StatusOK, h.login, page.Policy{FrameAncestors: origins, FormAction: origins, Personal: true}, page.Frame{
		Title: l.T("widget.sign_in_to", app.Name), BodyClass: "embed", L: l,
		Content: embedData{App: app, Initial: initial(app.Name), Viewer: v, ViewerName: displayName(v),
			AuthorizeURL: "/oauth/authorize?" + params.Encode(), Params: params},
	})
}

const invalidTemplate = `{{define "content"}}<div class="alert error" role="alert">{{.Content.Message}}</div>{{end}}`

const bannerTemplate = `{{define "content"}}{{with .Content}}<div id="banner-parent" data-origins="{{.ParentOrigins}}" hidden></div>{{if .Viewer}}
<div class="banner" data-position="{{.Position}}">
  <span class="avatar" aria-hidden="true">{{.Initial}}</span>
  <div class="grow"><div class="small muted">{{$.L.T "widget.sign_in_to" .App.Name}}</div>
  <button type="button" class="primary block" id="continue">{{$.L.T "widget.continue_as" .ViewerName}}</button></div>
  <button type="button" class="link" id="dismiss" aria-label="{{$.L.T "widget.dismiss"}}">✕</button>
</div>{{else}}<div id="no-session" hidden></div>{{end}}{{end}}{{end}}`

const loginTemplate = `{{define "content"}}{{with .Content}}
<div class="card auth-card">
  <div class="app">{{if .App.IconURL}}<img class="app-icon" src="{{.App.IconURL}}" alt="">{{else}}<span class="app-icon" aria-hidden="true">{{.Initial}}</span>{{end}}
    <div><h1>{{$.L.T "widget.sign_in_to" .App.Name}}</h1><div class="muted small">{{$.L.T "widget.private"}}</div></div></div>
  {{if .Viewer}}
  <a class="btn primary block" href="{{.AuthorizeURL}}" target="_top" draggable="false">{{$.L.T "widget.continue_as" .ViewerName}}</a>
  {{else}}
  <form method="get" action="/oauth/authorize" target="_top">
    {{range $k, $v := .Params}}<input type="hidden" name="{{$k}}" value="{{index $v 0}}">{{end}}
    <div class="field"><label for="email">{{$.L.T "widget.email"}}</label>
    <input id="email" name="login_hint" type="email" autocomplete="email" required></div>
    <button class="primary block" type="submit">{{$.L.T "widget.continue_email"}}</button>
  </form>
  {{end}}
</div>{{end}}{{end}}`
