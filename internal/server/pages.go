package server

import (
	"net/http"

	"loginsign/internal/httpx"
	accountpages "loginsign/internal/web/account"
	"loginsign/internal/web/dashboard"
	"loginsign/internal/web/home"
	webpage "loginsign/internal/web/page"
	"loginsign/internal/web/portalui"
	"loginsign/internal/web/static"
	"loginsign/internal/web/widgets"
)

// pageRoutes mounts the pages people see: the shared assets, the widgets and their embeds, the
// person's dashboard and the Developer Portal. The sign-in and consent pages are mounted with
// OAuth. It returns the writer of the HTML 404 and 405 pages.
func (s *Server) pageRoutes(mux *http.ServeMux, cookies httpx.Cookies) httpx.PageError {
	assets := static.Assets()
	pages := webpage.New(assets)
	home := home.New(pages)
	mux.Handle("GET /{$}", home)
	mux.Handle("GET /static/", assets)
	mux.Handle("GET /brand/icon-light.svg", assets.ServeFile("brand/icon-light.svg"))
	mux.Handle("GET /brand/icon-dark.svg", assets.ServeFile("brand/icon-dark.svg"))
	mux.Handle("GET /favicon.ico", assets.ServeFile("brand/icon-light.svg"))

	// The pages of the account links LoginSign mails: an address-verification link (dashboard →
	// alternative emails), the links of a requested change of the primary address (email-sync API)
	// and the "this wasn't me" link of a new authenticator app.
	accountpages.New(s.account, s.identity, s.mfa, cookies, s.log, pages).Register(mux)
	w := widgets.New(s.oauth, s.identity, pages)
	mux.Handle("GET /widgets/", w.Assets())
	mux.HandleFunc("GET /embed/banner", w.Banner)
	mux.HandleFunc("GET /embed/login", w.Login)

	mux.Handle("GET /dashboard", dashboard.New(s.identity, pages))

	portal := portalui.New(s.identity, s.portal.Team(), pages)
	for _, p := range []string{"/portal", "/portal/apps", "/portal/apps/{id}", "/portal/users", "/portal/licenses", "/portal/synchronisation", "/portal/invitation"} {
		mux.Handle("GET "+p, portal)
	}
	return home.Error
}
