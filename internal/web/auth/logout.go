package authpages

import (
	"net/http"

	"loginsign/internal/auth"
	"loginsign/internal/ids"
)

// EndSession is GET and POST /oauth/logout, the end_session_endpoint of OpenID Connect
// RP-Initiated Logout 1.0. An invalid request (see oauth.ParseLogout) is an error page, never a
// redirect. A signed-in person is signed out at once when id_token_hint names one of their own
// connections; otherwise they confirm first, with a form whose confirm field only their own
// page knows (the session's hash), so a cross-site POST cannot sign anyone out. Signing out
// sends the back-channel logouts (oauth.EndSession). Then the person goes to the registered
// post_logout_redirect_uri (with state), or sees the signed-out page.
func (p *Pages) EndSession(w http.ResponseWriter, r *http.Request) {
	params := r.URL.Query()
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil {
			p.errorPage(w, r, formError(err))
			return
		}
		params = r.PostForm
	}
	req, err := p.OAuth.ParseLogout(r.Context(), params)
	if err != nil {
		p.errorPage(w, r, err)
		return
	}
	if s, ok := auth.SessionFrom(r.Context()); ok {
		confirmed := r.Method == http.MethodPost && len(params["confirm"]) == 1 && ids.Equal(params.Get("confirm"), s.ID)
		if !confirmed {
			ask, err := p.OAuth.LogoutNeedsConfirmation(r.Context(), req, s)
			if err != nil {
				p.errorPage(w, r, err)
				return
			}
			if ask {
				d := pageData{Title: "title.end_session", Hidden: map[string]string{"confirm": s.ID}}
				if req.Application != nil {
					d.AppName = req.Application.Name
				}
				if u, err := p.Identity.User(r.Context(), s.UserID); err == nil {
					d.Viewer = u.Email
				}
				for k := range req.Params {
					d.Hidden[k] = req.Params.Get(k)
				}
				p.render(w, r, http.StatusOK, "end_session", d, formActionSource(req.RedirectURI))
				return
			}
		}
		if err := p.OAuth.BrowserSignedOut(r.Context(), p.Cookies.Get(r, browserCookie)); err != nil {
			p.errorPage(w, r, err)
			return
		}
		if err := p.OAuth.EndSession(r.Context(), s, p.Cookies.Get(r, sessionCookie)); err != nil {
			p.errorPage(w, r, err)
			return
		}
		p.clearSignIn(w)
	}
	if req.RedirectURI != "" {
		pageHeaders(w)
		http.Redirect(w, r, req.RedirectURI, http.StatusSeeOther)
		return
	}
	p.render(w, r, http.StatusOK, "logout", pageData{Title: "title.signed_out"})
}
