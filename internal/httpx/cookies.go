package httpx

import (
	"net/http"
	"time"
)

// Cookies names and flags LoginSign's cookies. Outside dev mode they are Secure and use the
// __Host- prefix (no Domain, Path=/, Secure), so no sibling subdomain can set or read them.
type Cookies struct {
	Secure bool
}

// BrowserCookie is the base name of the cookie that holds a random id of the browser (set by
// the sign-in pages).
const BrowserCookie = "browser"

// SessionName is the name of the browser session cookie.
func (c Cookies) SessionName() string { return c.Name("session") }

// Name returns the full cookie name for base.
func (c Cookies) Name(base string) string {
	if c.Secure {
		return "__Host-ls_" + base
	}
	return "ls_" + base
}

// Set writes an HttpOnly, SameSite=Lax cookie; maxAge 0 makes it a session cookie.
func (c Cookies) Set(w http.ResponseWriter, base, value string, maxAge time.Duration) {
	http.SetCookie(w, &http.Cookie{
		Name: c.Name(base), Value: value, Path: "/", HttpOnly: true, Secure: c.Secure,
		SameSite: http.SameSiteLaxMode, MaxAge: int(maxAge.Seconds()),
	})
}

// Clear deletes the cookie base.
func (c Cookies) Clear(w http.ResponseWriter, base string) {
	http.SetCookie(w, &http.Cookie{
		Name: c.Name(base), Value: "", Path: "/", HttpOnly: true, Secure: c.Secure,
		SameSite: http.SameSiteLaxMode, MaxAge: -1,
	})
}

// Get returns the value of cookie base, or "".
func (c Cookies) Get(r *http.Request, base string) string {
	ck, err := r.Cookie(c.Name(base))
	if err != nil {
		return ""
	}
	return ck.Value
}
