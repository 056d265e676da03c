// Package dashboard serves the person's own page, /dashboard: connected apps (what each sees,
// last sign-in, mute mail, remove), addresses, licenses per app, active sessions and account
// deletion.
//
// The page is a small server-rendered frame; dashboard.js (internal/web/static) fills it as a
// client of /graphql, so every action runs the same domain function as the GraphQL mutation and
// the same authorization. Signed-out visitors are sent to /login?return_to=/dashboard.
//
// The page speaks the person's chosen language, else the browser's (internal/i18n): the frame
// through the Go catalogs ("dashboard.*"), the scripts through the script messages
// ("dashboard.*", "security.*").
package dashboard

import (
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"loginsign/ent"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/httpx"
	"loginsign/internal/i18n"
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

// view is the page's Content: the person, and whether they came back from signing in again
// to download their data (DownloadReady).
type view struct {
	*ent.User
	// DownloadReady is true on /dashboard?download=1 for a session signed in at most
	// auth.RecentSignIn ago: the data export needs such a sign-in, and the dashboard's button
	// sends a person whose sign-in is older to /login?again=1&return_to=/dashboard?download=1.
	// The page then says they can download now, by the button: it never starts the download
	// itself, since any site can send a person to this address (or set return_to), and an
	// export spends one of the day's three and mails a notice.
	DownloadReady bool
	// RecentSignIn is how recent a sign-in the data export needs (auth.RecentSignIn), which
	// the page states.
	RecentSignIn time.Duration
}

// ServeHTTP answers GET /dashboard.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sess, ok := auth.SessionFrom(r.Context())
	if !ok {
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, LoginURL("/dashboard"), http.StatusSeeOther)
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
		http.Redirect(w, r, LoginURL("/dashboard"), http.StatusSeeOther)
		return
	}
	l := i18n.Choose(u.Language, "", r.Header.Get("Accept-Language"))
	// The applications the person uses are shown by their initials, never by the icon URL
	// their developer chose: fetched on every visit, it told each developer when and from
	// where the person opened their dashboard. The person's own picture is LoginSign's.
	page.Render(w, http.StatusOK, h.tmpl, page.Policy{Personal: true, OwnImages: true}, page.Frame{
		Title: l.T("dashboard.title"), Who: u.Email, Page: "dashboard", L: l,
		Nav:      []page.NavLink{{Href: "/dashboard", Label: l.T("dashboard.title"), Current: true}},
		Scripts:  []string{"ls.js", "passkey.js", "dashboard.js", "security.js"},
		Messages: []string{"dashboard.", "security."},
		Content: view{User: u, DownloadReady: r.URL.Query().Get("download") == "1" &&
			!sess.SignedInAt.IsZero() && h.identity.Now().Sub(sess.SignedInAt) <= auth.RecentSignIn,
			RecentSignIn: auth.RecentSignIn},
	})
}

const content = `{{define "content"}}{{$l := .L}}
<h1>{{with .Content.Name}}{{$l.T "dashboard.hello_name" .}}{{else}}{{$l.T "dashboard.hello"}}{{end}}</h1>
<p class="muted">{{$l.H "dashboard.intro" .Content.GlobalID}}</p>
<div id="status" role="status" aria-live="polite"></div>

<section class="card" id="profile" aria-labelledby="profile-h">
  <header><h2 id="profile-h">{{$l.T "dashboard.profile"}}</h2></header>
  <p class="muted small">{{$l.T "dashboard.profile_lead"}}</p>
  <div class="profile-picture-row">
    <img id="profile-picture" class="avatar" alt="{{$l.T "dashboard.picture_alt"}}" width="96" height="96" hidden>
    <span id="profile-no-picture" class="avatar avatar-empty" aria-hidden="true"></span>
    <div class="profile-picture-controls">
      <label for="profile-picture-file">{{$l.T "dashboard.picture"}}</label>
      <input id="profile-picture-file" name="picture" type="file" accept="image/png,image/jpeg,image/gif">
      <button type="button" id="profile-picture-remove" class="small" hidden>{{$l.T "dashboard.picture_remove"}}</button>
    </div>
  </div>
  <form id="profile-form" class="stack" novalidate>
    <div class="grid">
      <div class="field"><label for="profile-name">{{$l.T "dashboard.name"}}</label><input id="profile-name" name="name" type="text" maxlength="200" autocomplete="name"></div>
      <div class="field"><label for="profile-region">{{$l.T "dashboard.region"}}</label><select id="profile-region" name="region"><option value="">{{$l.T "dashboard.not_set"}}</option></select>
      <p class="small muted" id="profile-region-hint" hidden></p></div>
    </div>
    <button class="primary" type="submit">{{$l.T "dashboard.profile_save"}}</button>
  </form>
  <form id="language-form" class="stack" novalidate>
    <div class="field"><label for="language-select">{{$l.T "dashboard.language"}}</label>
    <select id="language-select" name="language">
      <option value=""{{if not .Content.Language}} selected{{end}}>{{$l.T "dashboard.language_auto"}}</option>
      <option value="en" lang="en"{{if eq .Content.Language "en"}} selected{{end}}>English</option>
      <option value="fr" lang="fr"{{if eq .Content.Language "fr"}} selected{{end}}>Français</option>
      <option value="de" lang="de"{{if eq .Content.Language "de"}} selected{{end}}>Deutsch</option>
    </select>
    <p class="small muted" id="language-hint">{{$l.T "dashboard.language_hint"}}</p></div>
    <button type="submit" id="language-save">{{$l.T "dashboard.language_save"}}</button>
  </form>
</section>

<section class="card" id="apps" aria-labelledby="apps-h">
  <header><h2 id="apps-h">{{$l.T "dashboard.apps"}}</h2></header>
  <div data-slot="apps" aria-busy="true"><p class="empty">{{$l.T "dashboard.loading"}}</p></div>
</section>

<section class="card" id="pending-links" aria-labelledby="pending-links-h" hidden>
  <header><h2 id="pending-links-h">{{$l.T "dashboard.pending"}}</h2></header>
  <p class="muted small">{{$l.T "dashboard.pending_lead"}}</p>
  <div data-slot="pending-links"></div>
</section>

<section class="card" id="licenses" aria-labelledby="licenses-h">
  <header><h2 id="licenses-h">{{$l.T "dashboard.licenses"}}</h2></header>
  <div data-slot="licenses" aria-busy="true"><p class="empty">{{$l.T "dashboard.loading"}}</p></div>
  <form id="redeem-form" class="stack" novalidate>
    <h3>{{$l.T "dashboard.redeem"}}</h3>
    <div class="grid">
      <div class="field"><label for="redeem-app">{{$l.T "dashboard.redeem_app"}}</label><select id="redeem-app" name="app" required></select></div>
      <div class="field"><label for="redeem-code">{{$l.T "dashboard.redeem_code"}}</label><input id="redeem-code" name="code" type="text" autocomplete="off" spellcheck="false" required></div>
    </div>
    <button class="primary" type="submit">{{$l.T "dashboard.redeem_submit"}}</button>
  </form>
</section>

<section class="card" id="addresses" aria-labelledby="addresses-h">
  <header><h2 id="addresses-h">{{$l.T "dashboard.addresses"}}</h2></header>
  <div data-slot="addresses" aria-busy="true"><p class="empty">{{$l.T "dashboard.loading"}}</p></div>
  <form id="add-email-form" class="row" novalidate>
    <label class="visually-hidden" for="add-email">{{$l.T "dashboard.add_email_label"}}</label>
    <input id="add-email" name="email" type="email" autocomplete="email" placeholder="{{$l.T "dashboard.add_email_placeholder"}}" required>
    <button type="submit">{{$l.T "dashboard.add_email"}}</button>
  </form>
</section>

<section class="card" id="passkeys" aria-labelledby="passkeys-h">
  <header><h2 id="passkeys-h">{{$l.T "dashboard.passkeys"}}</h2></header>
  <p class="muted">{{$l.T "dashboard.passkeys_lead"}}</p>
  <div data-slot="passkeys" aria-busy="true"><p class="empty">{{$l.T "dashboard.loading"}}</p></div>
  <form id="add-passkey-form" class="row" novalidate>
    <label class="visually-hidden" for="passkey-name">{{$l.T "dashboard.passkey_name"}}</label>
    <input id="passkey-name" name="name" type="text" maxlength="64" placeholder="{{$l.T "dashboard.passkey_placeholder"}}" autocomplete="off">
    <button type="submit">{{$l.T "dashboard.passkey_add"}}</button>
  </form>
</section>

<section class="card" id="two-step" aria-labelledby="two-step-h">
  <header><h2 id="two-step-h">{{$l.T "dashboard.two_step"}}</h2></header>
  <div data-slot="two-step" aria-busy="true"><p class="empty">{{$l.T "dashboard.loading"}}</p></div>
</section>

<section class="card" id="sessions" aria-labelledby="sessions-h">
  <header><h2 id="sessions-h">{{$l.T "dashboard.sessions"}}</h2><button type="button" id="sign-out-others" class="small">{{$l.T "dashboard.sign_out_others"}}</button></header>
  <div data-slot="sessions" aria-busy="true"><p class="empty">{{$l.T "dashboard.loading"}}</p></div>
</section>

<section class="card" id="activity" aria-labelledby="activity-h">
  <header><h2 id="activity-h">{{$l.T "dashboard.activity"}}</h2>
  <label class="small">{{$l.T "dashboard.activity_show"}} <select id="activity-type">
    <option value="">{{$l.T "dashboard.activity_all"}}</option>
    <option value="SIGN_IN">{{$l.T "dashboard.activity_sign_ins"}}</option>
    <option value="CONSENT_GIVEN,CONSENT_WITHDRAWN">{{$l.T "dashboard.activity_apps"}}</option>
    <option value="ADDRESS_ADDED,ADDRESS_VERIFIED,ADDRESS_REMOVED,ADDRESS_MADE_PRIMARY,EMAIL_CHANGE_REQUESTED,EMAIL_CHANGE_CONFIRMED,EMAIL_CHANGE_CANCELLED">{{$l.T "dashboard.activity_addresses"}}</option>
    <option value="SESSIONS_ENDED,PASSKEY_ADDED,PASSKEY_RENAMED,PASSKEY_REMOVED,TOTP_ENABLED,TOTP_DISABLED,RECOVERY_CODES_RENEWED">{{$l.T "dashboard.activity_security"}}</option>
    <option value="PENDING_LINK_ACCEPTED,PENDING_LINK_REFUSED,CONNECTION_EDITED,CONNECTION_DELETED,LICENSE_ACTION,LICENSE_ENDED,LICENSE_REDEEMED">{{$l.T "dashboard.activity_by_apps"}}</option>
  </select></label></header>
  <div data-slot="activity" aria-busy="true"><p class="empty">{{$l.T "dashboard.loading"}}</p></div>
  <div data-slot="activity-more"></div>
</section>

<section class="card" id="your-data" aria-labelledby="your-data-h">
  <header><h2 id="your-data-h">{{$l.T "dashboard.data"}}</h2></header>
  <p class="muted">{{$l.T "dashboard.data_lead" ($l.Period .Content.RecentSignIn)}}</p>
  {{if .Content.DownloadReady}}<p class="notice" id="download-ready" role="status">{{$l.T "dashboard.data_ready"}}</p>{{end}}
  <button type="button" id="download-data">{{$l.T "dashboard.data_download"}}</button>
</section>

<section class="card" id="delete" aria-labelledby="delete-h">
  <header><h2 id="delete-h">{{$l.T "dashboard.delete"}}</h2></header>
  <p class="muted">{{$l.T "dashboard.delete_lead"}}</p>
  <form id="delete-form" class="stack" novalidate>
    <div class="field"><label for="delete-confirm">{{$l.H "dashboard.delete_confirm" .Content.GlobalID}}</label>
    <input id="delete-confirm" name="confirm" type="text" autocomplete="off" spellcheck="false" pattern="[A-Za-z]{2}[0-9]{4}" required></div>
    <button class="danger" type="submit">{{$l.T "dashboard.delete_submit"}}</button>
  </form>
</section>
<p class="muted small" id="for-developers">{{$l.H "dashboard.developers"}}</p>
{{end}}`
