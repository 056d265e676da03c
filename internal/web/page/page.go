// Package page holds what every first-party HTML page shares: the frame (header, navigation,
// stylesheet and scripts from internal/web/static) and the security headers.
//
// Pages load no inline script and no inline style: the Content-Security-Policy allows scripts,
// styles and fetches from this origin only, images also from https: (app icons and avatars the
// app or person configured) and data:, except on pages that set Policy.OwnImages. Pages may not be framed, except the widget embeds, which
// name the app's own origins in frame-ancestors.
package page

import (
	"bytes"
	"html/template"
	"net/http"
	"regexp"
	"strings"
	"time"

	"loginsign/internal/i18n"
	"loginsign/internal/mfa"
	"loginsign/internal/portal"
	"loginsign/internal/web/static"
)

// Policy is what a page allows beyond the defaults.
type Policy struct {
	// FrameAncestors are the origins that may frame the page; none means 'none'.
	FrameAncestors []string
	// FormAction are origins forms and their redirects may go to, besides 'self'.
	FormAction []string
	// Personal marks a page showing a person's data: never stored by any cache.
	Personal bool
	// OwnImages limits the page's images to this origin and data: URIs (img-src 'self' data:).
	// A page that lists applications to the person who uses them sets it: an https: image
	// would be an icon URL a developer chose, fetched on every view, telling the developer's
	// server when and from where the person looked (their address, the time, the browser).
	OwnImages bool
}

// CSP is the Content-Security-Policy for p. Of FrameAncestors and FormAction it names only
// Sources.
func (p Policy) CSP() string {
	fa := "'none'"
	if anc := Sources(p.FrameAncestors); len(anc) > 0 {
		fa = strings.Join(anc, " ")
	}
	form := "'self'"
	for _, src := range Sources(p.FormAction) {
		form += " " + src
	}
	img := "'self' https: data:"
	if p.OwnImages {
		img = "'self' data:"
	}
	return "default-src 'none'; script-src 'self'; style-src 'self'; img-src " + img + "; " +
		"connect-src 'self'; font-src 'self'; base-uri 'none'; form-action " + form + "; frame-ancestors " + fa
}

// Sources keeps of list the CSP sources that are one origin (scheme://host[:port], CSP3
// host-source) or one scheme (scheme:). The origins come from an application's registered
// URIs; one stored before their checks were tightened could hold a ';' (the end of a
// directive: the developer would write their own), a ',' (the end of a policy) or a space (one
// more source), or non-ASCII a browser would drop with the rest.
func Sources(list []string) []string {
	var out []string
	for _, src := range list {
		if sourceRE.MatchString(src) {
			out = append(out, src)
		}
	}
	return out
}

var sourceRE = regexp.MustCompile(`^(?:[a-zA-Z][a-zA-Z0-9+.-]*://(?:[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*|\[[0-9a-fA-F:.]+\])(?::[0-9]{1,5})?|[a-zA-Z][a-zA-Z0-9+.-]{0,62}:)$`)

// Headers sets the security and caching headers of an HTML page.
func Headers(w http.ResponseWriter, p Policy) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", p.CSP())
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cross-Origin-Opener-Policy", "same-origin-allow-popups")
	if len(Sources(p.FrameAncestors)) == 0 {
		h.Set("X-Frame-Options", "DENY")
	}
	if p.Personal {
		h.Set("Cache-Control", "no-store")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
}

// NavLink is one entry of a page's navigation.
type NavLink struct {
	Href, Label string
	Current     bool
}

// Frame is the data of the shared page frame.
type Frame struct {
	Title     string
	Nav       []NavLink
	Who       string   // the signed-in person's address or name, when shown
	Scripts   []string // static names loaded with defer, in order
	BodyClass string
	Narrow    bool
	// Page names the view for the page scripts (data-page on <main>).
	Page string
	// Content is the page's own data.
	Content any
	// L is the page's language; nil is English for a page that is not translated (the
	// Developer Portal). A page with L answers Content-Language and Vary: Accept-Language.
	L *i18n.Locale
	// Messages are the prefixes of the script messages (i18n.Locale.Script) the page's scripts
	// use besides ls.js's own ("ls."), e.g. "dashboard.". They are embedded in the page as
	// JSON (<script type="application/json" id="ls-messages">) for LS.t.
	Messages []string
}

// ScriptMessages are the script messages embedded in the page, in its language, with the
// times they state written in (ScriptPeriods).
func (f Frame) ScriptMessages() map[string]any {
	return f.L.ScriptWith(ScriptPeriods(), append([]string{"ls."}, f.Messages...)...)
}

// ScriptPeriods are the times the script messages state, by placeholder, from the code that
// enforces them (i18n.Locale.ScriptWith): how long a mailed confirmation code works
// ({code_ttl}), a passkey's confirmation ({confirmation_ttl}), and a replaced webhook secret
// still signs ({secret_overlap}). The scripts cannot learn them from the answers they get.
func ScriptPeriods() map[string]time.Duration {
	return map[string]time.Duration{
		"code_ttl":         mfa.ChangeCodeTTL,
		"confirmation_ttl": mfa.PasskeyConfirmationTTL,
		"secret_overlap":   portal.WebhookSecretOverlap,
	}
}

// Renderer renders page templates inside the shared frame.
type Renderer struct {
	assets *static.Files
	tmpl   *template.Template
}

const frame = `{{define "frame"}}<!doctype html>
<html lang="{{.L.Lang}}" dir="{{.L.Dir}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{{.Title}} · LoginSign</title>
<link rel="stylesheet" href="{{asset "app.css"}}">
<link rel="icon" href="{{asset "brand/icon-light.svg"}}" type="image/svg+xml">
{{if .Scripts}}<script type="application/json" id="ls-messages">{{.ScriptMessages}}</script>
{{end}}{{range .Scripts}}<script defer src="{{asset .}}"></script>
{{end}}</head>
<body{{with .BodyClass}} class="{{.}}"{{end}}>
{{if ne .BodyClass "embed"}}<a class="skip" href="#main">{{.L.T "frame.skip"}}</a>
<header class="topbar">
<a class="brand" href="/"><img src="{{asset "brand/icon-light.svg"}}" alt="" width="28" height="28">LoginSign</a>
{{with .Nav}}<nav aria-label="{{$.L.T "frame.nav"}}">{{range .}}<a href="{{.Href}}"{{if .Current}} aria-current="page"{{end}}>{{.Label}}</a>{{end}}</nav>{{end}}
{{with .Who}}<div class="account"><span class="who">{{.}}</span><a class="btn small" href="/logout">{{$.L.T "frame.sign_out"}}</a></div>{{end}}
</header>
{{end}}<main id="main"{{if .Narrow}} class="narrow"{{end}}{{with .Page}} data-page="{{.}}"{{end}}>
{{template "content" .}}
</main>
</body>
</html>
{{end}}`

// New returns a Renderer whose templates can call {{asset "name"}} for cache-busted static URLs.
func New(assets *static.Files) *Renderer {
	t := template.Must(template.New("frame").Funcs(template.FuncMap{"asset": assets.URL}).Parse(frame))
	return &Renderer{assets: assets, tmpl: t}
}

// Parse returns a template set holding the frame and content, which must define "content".
func (r *Renderer) Parse(content string) *template.Template {
	t := template.Must(r.tmpl.Clone())
	return template.Must(t.Parse(content))
}

// Render writes f through t with the headers of p. A template error (a bug) is a 500.
func Render(w http.ResponseWriter, status int, t *template.Template, p Policy, f Frame) {
	chosen := f.L != nil
	if !chosen {
		f.L = i18n.English
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "frame", f); err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	Headers(w, p)
	w.Header().Set("Content-Language", f.L.Lang())
	if chosen {
		w.Header().Add("Vary", "Accept-Language")
	}
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}
