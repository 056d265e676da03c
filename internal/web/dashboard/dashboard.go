// Package dashboard serves the person's own page, /dashboard: connected apps (what each sees,
// last sign-in, mute mail, remove), addresses, licenses per app, active sessions and account
// deletion.
//
// The page is a small server-rendered frame; dashboard.js (internal/web/static) fills it as a
// client of /graphql, so every action runs the same domain function as the GraphQL mutation and
// the same authorization. Signed-out visitors are sent to /login?return_to=/dashboard.
package dashboard

import (
	"html/template"
	"net/http"
	"net/url"

	"loginsign/internal/auth"
	"loginsign/internal/identity"
	"loginsign/internal/web/page"
)

// Handler serves /dashboard.
type Handler struct {
	identity *identity.Service
	tmpl     *template.Template
}

// New returns the dashboard handler.
func New(id *identity.Service, r *page.Renderer) *Handler {
	return &Handler{identity: id, tmpl: r.Parse(content)}
}

// LoginURL is where a signed-out visitor of path is sent.
func LoginURL(path string) string {
	return "/login?" + url.Values{"return_to": {path}}.Encode()
}

// ServeHTTP answers GET /dashboard.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, ok := auth.SessionFrom(r.Context()); !ok {
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, LoginURL("/dashboard"), http.StatusSeeOther)
		return
	}
	u, err := h.identity.Viewer(r.Context())
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if u == nil {
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, LoginURL("/dashboard"), http.StatusSeeOther)
		return
	}
	page.Render(w, http.StatusOK, h.tmpl, page.Policy{Personal: true}, page.Frame{
		Title: "Your account", Who: u.Email, Page: "dashboard",
		Nav:     []page.NavLink{{Href: "/dashboard", Label: "Your account", Current: true}},
		Scripts: []string{"ls.js", "passkey.js", "dashboard.js", "security.js"},
		Content: u,
	})
}

const content = `{{define "content"}}
<h1>Hello{{with .Content.Name}}, {{.}}{{end}}</h1>
<p class="muted">Your LoginSign ID is <code id="global-id">{{.Content.GlobalID}}</code>. Apps you sign in to see a private address unless you choose to share a real one.</p>
<div id="status" role="status" aria-live="polite"></div>

<section class="card" id="profile" aria-labelledby="profile-h">
  <header><h2 id="profile-h">Your profile</h2></header>
  <p class="muted small">Apps you allow to see your profile get your name and picture. Your country or region is shown to the developers of the apps you use.</p>
  <div class="profile-picture-row">
    <img id="profile-picture" class="avatar" alt="Your picture" width="96" height="96" hidden>
    <span id="profile-no-picture" class="avatar avatar-empty" aria-hidden="true"></span>
    <div class="profile-picture-controls">
      <label for="profile-picture-file">Picture (PNG, JPEG or GIF, up to 512 KB)</label>
      <input id="profile-picture-file" name="picture" type="file" accept="image/png,image/jpeg,image/gif">
      <button type="button" id="profile-picture-remove" class="small" hidden>Remove picture</button>
    </div>
  </div>
  <form id="profile-form" class="stack" novalidate>
    <div class="grid">
      <div class="field"><label for="profile-name">Display name</label><input id="profile-name" name="name" type="text" maxlength="200" autocomplete="name"></div>
      <div class="field"><label for="profile-region">Country or region</label><select id="profile-region" name="region"><option value="">Not set</option></select>
      <p class="small muted" id="profile-region-hint" hidden></p></div>
    </div>
    <button class="primary" type="submit">Save profile</button>
  </form>
</section>

<section class="card" id="apps" aria-labelledby="apps-h">
  <header><h2 id="apps-h">Connected apps</h2></header>
  <div data-slot="apps"><p class="empty">Loading…</p></div>
</section>

<section class="card" id="pending-links" aria-labelledby="pending-links-h" hidden>
  <header><h2 id="pending-links-h">Apps that say they know you</h2></header>
  <p class="muted small">These apps imported one of your addresses. They have learnt nothing about you from LoginSign: an app is linked only when you sign in to it and allow it.</p>
  <div data-slot="pending-links"></div>
</section>

<section class="card" id="licenses" aria-labelledby="licenses-h">
  <header><h2 id="licenses-h">Licenses</h2></header>
  <div data-slot="licenses"><p class="empty">Loading…</p></div>
  <form id="redeem-form" class="stack" novalidate>
    <h3>Redeem a code</h3>
    <div class="grid">
      <div class="field"><label for="redeem-app">App</label><select id="redeem-app" name="app" required></select></div>
      <div class="field"><label for="redeem-code">Code</label><input id="redeem-code" name="code" type="text" autocomplete="off" spellcheck="false" required></div>
    </div>
    <button class="primary" type="submit">Redeem</button>
  </form>
</section>

<section class="card" id="addresses" aria-labelledby="addresses-h">
  <header><h2 id="addresses-h">Email addresses</h2></header>
  <div data-slot="addresses"><p class="empty">Loading…</p></div>
  <form id="add-email-form" class="row" novalidate>
    <label class="visually-hidden" for="add-email">Add an address</label>
    <input id="add-email" name="email" type="email" autocomplete="email" placeholder="another@example.com" required>
    <button type="submit">Add address</button>
  </form>
</section>

<section class="card" id="passkeys" aria-labelledby="passkeys-h">
  <header><h2 id="passkeys-h">Passkeys</h2></header>
  <p class="muted">Sign in with your fingerprint, face or device PIN instead of waiting for mail. A passkey counts as both steps of two-step verification.</p>
  <div data-slot="passkeys"><p class="empty">Loading…</p></div>
  <form id="add-passkey-form" class="row" novalidate>
    <label class="visually-hidden" for="passkey-name">Passkey name</label>
    <input id="passkey-name" name="name" type="text" maxlength="64" placeholder="Name, e.g. My laptop" autocomplete="off">
    <button type="submit">Add a passkey</button>
  </form>
</section>

<section class="card" id="two-step" aria-labelledby="two-step-h">
  <header><h2 id="two-step-h">Two-step verification</h2></header>
  <div data-slot="two-step"><p class="empty">Loading…</p></div>
</section>

<section class="card" id="sessions" aria-labelledby="sessions-h">
  <header><h2 id="sessions-h">Where you're signed in</h2><button type="button" id="sign-out-others" class="small">Sign out everywhere else</button></header>
  <div data-slot="sessions"><p class="empty">Loading…</p></div>
</section>

<section class="card" id="activity" aria-labelledby="activity-h">
  <header><h2 id="activity-h">Your activity</h2>
  <label class="small">Show <select id="activity-type">
    <option value="">everything</option>
    <option value="SIGN_IN">sign-ins</option>
    <option value="CONSENT_GIVEN,CONSENT_WITHDRAWN">apps allowed and removed</option>
    <option value="ADDRESS_ADDED,ADDRESS_VERIFIED,ADDRESS_REMOVED,ADDRESS_MADE_PRIMARY,EMAIL_CHANGE_REQUESTED,EMAIL_CHANGE_CONFIRMED,EMAIL_CHANGE_CANCELLED">addresses</option>
    <option value="SESSIONS_ENDED,PASSKEY_ADDED,PASSKEY_RENAMED,PASSKEY_REMOVED,TOTP_ENABLED,TOTP_DISABLED,RECOVERY_CODES_RENEWED">security</option>
    <option value="PENDING_LINK_ACCEPTED,PENDING_LINK_REFUSED,CONNECTION_EDITED,CONNECTION_DELETED,LICENSE_ACTION,LICENSE_ENDED">what apps did</option>
  </select></label></header>
  <div data-slot="activity"><p class="empty">Loading…</p></div>
  <div data-slot="activity-more"></div>
</section>

<section class="card" id="your-data" aria-labelledby="your-data-h">
  <header><h2 id="your-data-h">Your data</h2></header>
  <p class="muted">Download everything LoginSign holds about you as one JSON file: your account, addresses, apps and what each one sees, licenses, sessions and activity. We email you when a copy is downloaded.</p>
  <button type="button" id="download-data">Download your data</button>
</section>

<section class="card" id="delete" aria-labelledby="delete-h">
  <header><h2 id="delete-h">Delete your account</h2></header>
  <p class="muted">Every app you use is told, your private addresses stop working, and you are signed out everywhere. This cannot be undone.</p>
  <form id="delete-form" class="stack" novalidate>
    <div class="field"><label for="delete-confirm">Type your LoginSign ID, <strong>{{.Content.GlobalID}}</strong>, to confirm</label>
    <input id="delete-confirm" name="confirm" type="text" autocomplete="off" spellcheck="false" pattern="[A-Za-z]{2}[0-9]{4}" required></div>
    <button class="danger" type="submit">Delete my account</button>
  </form>
</section>
<p class="muted small" id="for-developers">Building an app? Any LoginSign account can use the <a href="/portal">Developer Portal</a>.</p>
{{end}}`
