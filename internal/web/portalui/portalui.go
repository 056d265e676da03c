// Package portalui serves the Developer Portal's pages: /portal (overview, charts and apps),
// /portal/apps/{id} (settings), /portal/users, /portal/licenses and /portal/synchronisation
// ("Sync and import": endpoint tests, webhook deliveries, importing users and past imports).
//
// Each page is a server-rendered frame that portal.js (internal/web/static) fills as a client of
// /graphql only; the portal has no API of its own. The pages speak the person's chosen language,
// else the browser's (internal/i18n): the frame through the Go catalogs ("portal.*"), the
// scripts through the script messages ("portal.*", "charts.*", "quickstart.*"). Signed-out visitors are sent to
// /login?return_to=<the page>.
//
// The invitation page (/portal/invitation?token=…, the link of a team invitation mail) names
// the application and the role before the person presses Accept, and takes the token out of
// the address bar and the tab's history (forget-link.js); its button reads the token from the
// page (data-token), so it works as before.
package portalui

import (
	"html/template"
	"log/slog"
	"net/http"
	"strings"

	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/httpx"
	"loginsign/internal/i18n"
	"loginsign/internal/identity"
	"loginsign/internal/portal"
	"loginsign/internal/team"
	"loginsign/internal/web/dashboard"
	"loginsign/internal/web/page"
)

// Handler serves the portal pages.
type Handler struct {
	identity *identity.Service
	team     *team.Service
	tmpl     *template.Template
}

// New returns the portal handler; tm reads the invitation a link names.
func New(id *identity.Service, tm *team.Service, r *page.Renderer) *Handler {
	return &Handler{identity: id, team: tm, tmpl: r.Parse(content)}
}

// viewOf names the view of a portal path; ok is false for an unknown path. Its title is the
// message "portal.title.<name>".
func viewOf(path string) (name string, ok bool) {
	switch path {
	case "/portal":
		return "overview", true
	case "/portal/apps":
		return "apps", true
	case "/portal/users":
		return "users", true
	case "/portal/licenses":
		return "licenses", true
	case "/portal/synchronisation":
		return "synchronisation", true
	case "/portal/invitation":
		return "invitation", true
	}
	return "", false
}

// ServeHTTP answers GET for the portal pages; /portal/apps/{id} is the settings of one app.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, ok := viewOf(r.URL.Path)
	appID := r.PathValue("id")
	if appID != "" {
		name, ok = "app", true
	}
	if !ok {
		http.NotFound(w, r)
		return
	}
	if _, signed := auth.SessionFrom(r.Context()); !signed {
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, dashboard.LoginURL(r.URL.RequestURI()), http.StatusSeeOther)
		return
	}
	u, err := h.identity.Viewer(r.Context())
	if err != nil && apperr.DependencyDown(err) {
		// The database is down: the outage page, 503 with Retry-After, not a 500.
		slog.WarnContext(r.Context(), "dependency unavailable", "err", err, "path", r.URL.Path)
		httpx.WriteUnavailable(w, r)
		return
	}
	if err != nil {
		slog.ErrorContext(r.Context(), "internal error", "err", err, "path", r.URL.Path)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if u == nil {
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, dashboard.LoginURL(r.URL.RequestURI()), http.StatusSeeOther)
		return
	}
	// The person's setting, else the browser's Accept-Language (README, Languages).
	l := i18n.Choose(u.Language, "", r.Header.Get("Accept-Language"))
	title := l.T("portal.title." + name)
	nav := []page.NavLink{
		{Href: "/portal", Label: l.T("portal.nav.overview")}, {Href: "/portal/apps", Label: l.T("portal.nav.apps")},
		{Href: "/portal/users", Label: l.T("portal.nav.users")}, {Href: "/portal/licenses", Label: l.T("portal.nav.licenses")},
		{Href: "/portal/synchronisation", Label: l.T("portal.nav.synchronisation")},
		{Href: "/playground", Label: l.T("portal.nav.playground")},
	}
	for i := range nav {
		nav[i].Current = nav[i].Href == r.URL.Path || (appID != "" && nav[i].Href == "/portal/apps")
	}
	// ImportColumns: the header names of an import CSV, by which the page counts a chosen
	// file's rows as the server will read them (a first row naming one is the header).
	c := viewContent{View: name, Title: title, AppID: appID, ImportColumns: strings.Join(portal.ImportHeaderNames(), " ")}
	scripts := []string{"ls.js", "charts.js", "quickstart.js", "portal.js"}
	if name == "invitation" {
		if token := r.URL.Query().Get("token"); token != "" {
			h.invitation(r, l, token, &c)
			scripts = append(scripts, "forget-link.js")
		}
	}
	// OwnImages: an application's icon URL is chosen by its owner or an admin; fetched on
	// every view it told them when and from where each teammate, or an invitee, looked.
	page.Render(w, http.StatusOK, h.tmpl, page.Policy{Personal: true, OwnImages: true}, page.Frame{
		Title: title, Who: u.Email, Page: name, Nav: nav, L: l,
		Scripts: scripts, Messages: []string{"portal.", "charts.", "quickstart."}, Content: c,
	})
}

// viewContent is the data of a portal page. Of the invitation page, Invitation names the
// application and the role, Closed says why the link no longer works, and Token is the link's
// token for the Accept button (empty for a closed invitation: no button).
type viewContent struct {
	View, Title, AppID, ImportColumns string
	Invitation                        template.HTML
	Closed, Token                     string
}

// invitation fills c for the invitation page of the link token: what the person would join,
// before they press Accept (team.Service.InvitationByToken), or why the link no longer works.
// A store that fails leaves the button to try, and to say what failed.
func (h *Handler) invitation(r *http.Request, l *i18n.Locale, token string, c *viewContent) {
	inv, err := h.team.InvitationByToken(r.Context(), token)
	if err == nil {
		c.Invitation = l.H("portal.invitation_summary", inv.ApplicationName, l.T("portal.invitation_role."+string(inv.Role)))
		c.Token = token
		return
	}
	if e := apperr.As(err); e.Code != apperr.Internal {
		c.Closed = e.MessageIn(l)
		return
	}
	slog.ErrorContext(r.Context(), "reading an invitation", "err", err)
	c.Token = token
}

const content = `{{define "content"}}{{$l := .L}}{{with .Content}}
<div class="row spread"><h1>{{.Title}}</h1>
{{if and (ne .View "apps") (ne .View "app") (ne .View "invitation")}}<div class="field"><label for="app-picker">{{$l.T "portal.application"}}</label><select id="app-picker"></select></div>{{end}}
</div>
{{with .Invitation}}<p id="invitation-summary">{{.}}</p>{{end}}
{{with .Closed}}<div class="alert error" role="alert" id="invitation-closed">{{.}}</div>{{end}}
<div id="status" role="status" aria-live="polite"></div>
<div id="view" data-view="{{.View}}" data-app-id="{{.AppID}}" data-import-columns="{{.ImportColumns}}"{{with .Token}} data-token="{{.}}"{{end}}><p class="empty">{{$l.T "portal.loading"}}</p></div>
{{end}}{{end}}`
