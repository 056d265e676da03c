// Package portalui serves the Developer Portal's pages: /portal (overview, charts and apps),
// /portal/apps/{id} (settings), /portal/users, /portal/licenses and /portal/synchronisation
// ("Sync and import": endpoint tests, webhook deliveries, importing users and past imports).
//
// Each page is a server-rendered frame that portal.js (internal/web/static) fills as a client of
// /graphql only; the portal has no API of its own. Signed-out visitors are sent to
// /login?return_to=<the page>.
package portalui

import (
	"html/template"
	"net/http"

	"loginsign/internal/auth"
	"loginsign/internal/identity"
	"loginsign/internal/web/dashboard"
	"loginsign/internal/web/page"
)

// Handler serves the portal pages.
type Handler struct {
	identity *identity.Service
	tmpl     *template.Template
}

// New returns the portal handler.
func New(id *identity.Service, r *page.Renderer) *Handler {
	return &Handler{identity: id, tmpl: r.Parse(content)}
}

// viewOf names the view of a portal path and its title; ok is false for an unknown path.
func viewOf(path string) (name, title string, ok bool) {
	switch path {
	case "/portal":
		return "overview", "Developer Portal", true
	case "/portal/apps":
		return "apps", "Applications", true
	case "/portal/users":
		return "users", "Users", true
	case "/portal/licenses":
		return "licenses", "Licenses", true
	case "/portal/synchronisation":
		return "synchronisation", "Sync and import", true
	case "/portal/invitation":
		return "invitation", "Team invitation", true
	}
	return "", "", false
}

// ServeHTTP answers GET for the portal pages; /portal/apps/{id} is the settings of one app.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, title, ok := viewOf(r.URL.Path)
	appID := r.PathValue("id")
	if appID != "" {
		name, title, ok = "app", "Application settings", true
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
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if u == nil {
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, dashboard.LoginURL(r.URL.RequestURI()), http.StatusSeeOther)
		return
	}
	nav := []page.NavLink{
		{Href: "/portal", Label: "Overview"}, {Href: "/portal/apps", Label: "Apps"}, {Href: "/portal/users", Label: "Users"},
		{Href: "/portal/licenses", Label: "Licenses"}, {Href: "/portal/synchronisation", Label: "Sync & import"},
		{Href: "/playground", Label: "Playground"},
	}
	for i := range nav {
		nav[i].Current = nav[i].Href == r.URL.Path || (appID != "" && nav[i].Href == "/portal/apps")
	}
	page.Render(w, http.StatusOK, h.tmpl, page.Policy{Personal: true}, page.Frame{
		Title: title, Who: u.Email, Page: name, Nav: nav,
		Scripts: []string{"ls.js", "charts.js", "quickstart.js", "portal.js"},
		Content: struct{ View, Title, AppID string }{name, title, appID},
	})
}

const content = `{{define "content"}}{{with .Content}}
<div class="row spread"><h1>{{.Title}}</h1>
{{if and (ne .View "apps") (ne .View "app") (ne .View "invitation")}}<div class="field"><label for="app-picker">Application</label><select id="app-picker"></select></div>{{end}}
</div>
<div id="status" role="status" aria-live="polite"></div>
<div id="view" data-view="{{.View}}" data-app-id="{{.AppID}}"><p class="empty">Loading…</p></div>
{{end}}{{end}}`
