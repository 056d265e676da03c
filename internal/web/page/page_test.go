package page_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"loginsign/internal/i18n"
	"loginsign/internal/web/page"
	"loginsign/internal/web/static"
)

func TestHeaders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                   string
		policy                 page.Policy
		ancestors, form, cache string
		frameOptions           string
	}{
		{"a page is not framable and not stored when personal", page.Policy{Personal: true}, "'none'", "'self'", "no-store", "DENY"},
		{"a public page is revalidated", page.Policy{}, "'none'", "'self'", "no-cache", "DENY"},
		{"an embed names its app's origins", page.Policy{FrameAncestors: []string{"https://a.example", "http://localhost:3000"}, FormAction: []string{"https://a.example"}},
			"https://a.example http://localhost:3000", "'self' https://a.example", "no-cache", ""},
		// Registered URIs stored before their checks were tightened: none may end the
		// directive (';'), the policy (',') or add a source (' ').
		{"only plain origins and schemes are named", page.Policy{
			FrameAncestors: []string{"https://a.com;sandbox", "https://b.com, script-src *", "https://c.com 'unsafe-inline'", "https://münchen.de", ""},
			FormAction:     []string{"https://a.com;sandbox", "", "https://[2001:db8::1]:8443", "com.example.app:", "https://x.example.com:443"}},
			"'none'", "'self' https://[2001:db8::1]:8443 com.example.app: https://x.example.com:443", "no-cache", "DENY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			page.Headers(w, tt.policy)
			h := w.Header()
			csp := h.Get("Content-Security-Policy")
			if !strings.HasSuffix(csp, "; frame-ancestors "+tt.ancestors) || !strings.Contains(csp, "; form-action "+tt.form+";") ||
				!strings.Contains(csp, "script-src 'self';") || strings.Contains(csp, "unsafe") {
				t.Fatalf("CSP = %q", csp)
			}
			// Scripts, styles, fonts, connections and the base URL come from this origin
			// alone, whatever the application registered (images may be any https: avatar).
			for _, d := range strings.Split(csp, "; ") {
				name, sources, _ := strings.Cut(d, " ")
				switch name {
				case "default-src", "script-src", "style-src", "connect-src", "font-src", "base-uri":
					if sources != "'self'" && sources != "'none'" {
						t.Errorf("CSP %s %s, want only 'self' or 'none' (CSP %q)", name, sources, csp)
					}
				}
			}
			if h.Get("Cache-Control") != tt.cache || h.Get("X-Frame-Options") != tt.frameOptions ||
				h.Get("Referrer-Policy") != "no-referrer" || h.Get("X-Content-Type-Options") != "nosniff" {
				t.Fatalf("headers = %v", h)
			}
		})
	}
}

func TestRenderEscapesAndLinksVersionedAssets(t *testing.T) {
	t.Parallel()
	r := page.New(static.Assets())
	tmpl := r.Parse(`{{define "content"}}<p id="x">{{.Content}}</p>{{end}}`)
	w := httptest.NewRecorder()
	page.Render(w, http.StatusOK, tmpl, page.Policy{Personal: true}, page.Frame{
		Title: "T", Who: "ann@example.com", Page: "p", Scripts: []string{"ls.js"}, Content: `<script>alert(1)</script>`,
		Nav: []page.NavLink{{Href: "/a", Label: "A", Current: true}},
	})
	body := w.Body.String()
	for _, want := range []string{
		`&lt;script&gt;alert(1)&lt;/script&gt;`, `<link rel="stylesheet" href="/static/app.css?v=`, `<script defer src="/static/ls.js?v=`,
		`<a href="/a" aria-current="page">A</a>`, `data-page="p"`, `<span class="who">ann@example.com</span>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s:\n%s", want, body)
		}
	}
	if strings.Contains(body, "<script>") {
		t.Error("page has an inline script")
	}
	if w.Header().Get("Cache-Control") != "no-store" {
		t.Error("personal page is cacheable")
	}
}

// TestRenderLanguage: a page with a language says so in <html lang dir>, Content-Language and
// Vary, writes the frame in it and embeds its scripts' messages in it as JSON; a page without
// one is English and does not vary.
func TestRenderLanguage(t *testing.T) {
	r := page.New(static.Assets())
	tmpl := r.Parse(`{{define "content"}}<p>x</p>{{end}}`)
	w := httptest.NewRecorder()
	page.Render(w, http.StatusOK, tmpl, page.Policy{}, page.Frame{
		Title: "T", Who: "ann@example.com", Scripts: []string{"ls.js"}, L: i18n.Choose("", "fr", ""), Messages: []string{"ls."},
	})
	body := w.Body.String()
	if w.Header().Get("Content-Language") != "fr" || w.Header().Get("Vary") != "Accept-Language" {
		t.Errorf("headers %v", w.Header())
	}
	for _, want := range []string{`<html lang="fr" dir="ltr">`, `>Aller au contenu</a>`, `>Se déconnecter</a>`} {
		if !strings.Contains(body, want) {
			t.Errorf("French page lacks %s", want)
		}
	}
	m := regexp.MustCompile(`(?s)<script type="application/json" id="ls-messages">(.*?)</script>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no messages in %s", body)
	}
	var msgs map[string]any
	if err := json.Unmarshal([]byte(m[1]), &msgs); err != nil {
		t.Fatalf("messages are not JSON: %v: %s", err, m[1])
	}
	if msgs["ls.copy"] != "Copier" || msgs["ls.unreachable"] == nil {
		t.Errorf("messages %v", msgs)
	}

	w = httptest.NewRecorder()
	page.Render(w, http.StatusOK, tmpl, page.Policy{}, page.Frame{Title: "T", Scripts: []string{"ls.js"}})
	if !strings.Contains(w.Body.String(), `<html lang="en" dir="ltr">`) || w.Header().Get("Vary") != "" || !strings.Contains(w.Body.String(), `"ls.copy":"Copy"`) {
		t.Errorf("untranslated page: %v %s", w.Header(), w.Body.String())
	}
}
