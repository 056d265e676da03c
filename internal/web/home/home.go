// Package home serves LoginSign's front page (/) and the HTML answers to unknown pages (404)
// and wrong methods (405), in the design of every other page. API paths (/api/, /oauth/,
// /.well-known/, /graphql) keep their JSON error shape (httpx.APIErrors).
package home

import (
	"html/template"
	"net/http"
	"strings"

	"loginsign/internal/web/page"
)

// Handler serves / and the HTML error pages.
type Handler struct {
	home, missing *template.Template
}

// New returns the home page handler.
func New(r *page.Renderer) *Handler {
	return &Handler{home: r.Parse(homeContent), missing: r.Parse(errorContent)}
}

// nav is the front page's navigation: the three places a visitor goes.
var nav = []page.NavLink{{Href: "/login", Label: "Sign in"}, {Href: "/dashboard", Label: "Your account"}, {Href: "/portal", Label: "Developer Portal"}}

// ServeHTTP answers GET /.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	page.Render(w, http.StatusOK, h.home, page.Policy{}, page.Frame{Title: "One sign-in, your addresses private", Nav: nav, Page: "home"})
}

type errorData struct {
	Status  int
	Heading string
	Message string
	Path    string
	Allow   string
}

// Error writes the HTML page of status (404, 405 or 403; allow lists the methods the path
// takes, for 405). 403 is a form sent from a page of another site (httpx.CrossOriginRefused).
func (h *Handler) Error(w http.ResponseWriter, r *http.Request, status int, allow []string) {
	d := errorData{Status: status, Path: r.URL.Path}
	switch status {
	case http.StatusMethodNotAllowed:
		d.Heading = "This page can't do that"
		d.Message = "The address exists, but not for a " + r.Method + " request."
		d.Allow = strings.Join(allow, ", ")
		if d.Allow != "" {
			w.Header().Set("Allow", d.Allow)
		}
	case http.StatusForbidden:
		// A form a browser sent from a page of another site (httpx.CrossOriginRefused).
		d.Heading = "This form came from another site"
		d.Message = "Your browser sent this request from a page of another site, so LoginSign did nothing with it. " +
			"Go back to the LoginSign page you were on, reload it and send the form from there."
	default:
		status = http.StatusNotFound
		d.Status, d.Heading = status, "Page not found"
		d.Message = "There is no page at this address. It may have moved, or the link may be mistyped."
	}
	if r.Method == http.MethodHead {
		page.Headers(w, page.Policy{})
		w.WriteHeader(status)
		return
	}
	page.Render(w, status, h.missing, page.Policy{}, page.Frame{Title: d.Heading, Nav: nav, Narrow: true, Page: "error", Content: d})
}

const homeContent = `{{define "content"}}
<section class="hero">
<h1>Sign in once. Keep your address to yourself.</h1>
<p class="lead">LoginSign signs you in to apps with a link sent to your email: no password to remember. Each app gets its own private address that forwards to you, so you can stop any app from mailing you, and see and remove every app you use in one place.</p>
<p class="actions"><a class="btn primary" href="/login">Sign in or create an account</a> <a class="btn" href="/dashboard">Your account</a></p>
</section>
<div class="grid home-grid">
<section class="card" aria-labelledby="people-h">
<h2 id="people-h">For people</h2>
<ul>
<li><a href="/login">Sign in</a> with a link or a 6-digit code from your mail, or a passkey.</li>
<li><a href="/dashboard">Your account</a>: the apps you use, what each one sees, your addresses, licenses and where you are signed in.</li>
</ul>
</section>
<section class="card" aria-labelledby="dev-h">
<h2 id="dev-h">For developers</h2>
<p>Any LoginSign account can use the <a href="/portal">Developer Portal</a>: create an app, get its client ID and secret, see who signed in, sell licenses and keep your users in sync.</p>
<ul>
<li><a href="/docs">REST API reference</a> and <a href="/.well-known/openid-configuration">OpenID Connect discovery</a></li>
<li><a href="/playground">GraphQL playground</a> for analytics queries</li>
</ul>
</section>
</div>
{{end}}`

const errorContent = `{{define "content"}}
<section class="card error-page">
<p class="muted">Error {{.Content.Status}}</p>
<h1>{{.Content.Heading}}</h1>
<p>{{.Content.Message}}</p>
{{with .Content.Allow}}<p class="muted">It answers: {{.}}.</p>{{end}}
<p class="actions"><a class="btn primary" href="/">Go to the home page</a> <a class="btn" href="/dashboard">Your account</a> <a class="btn" href="/portal">Developer Portal</a></p>
</section>
{{end}}`
