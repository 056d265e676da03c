// Package accountpages serves the pages behind the account links LoginSign mails: confirming
// an added address (/dashboard/emails/verify), confirming or cancelling a change of the
// primary address an application requested (identity.EmailChangeConfirmPath and
// EmailChangeCancelPath) and turning off an authenticator app the person did not set up
// (mfa.UndoTOTPPath). GET only shows what the link would do and a button (mail scanners
// that follow links must not change anything); the POST of that form acts, through
// internal/account and internal/identity. When the action needs the signed-in account and
// nobody is signed in, the page offers to sign in and come back.
//
// The pages speak the person's language, domain errors included (apperr MessageIn): the
// setting of the signed-in person (the only one who may act on a verification or confirm link),
// else Accept-Language. The cancel link goes to the account's primary address, proven to be
// the person's, so its page also uses the setting of the account it is for; the verification
// and confirm links go to an address not yet proven (possibly an attacker's mailbox in a
// takeover attempt), so their pages reveal nothing of the account's setting to a signed-out
// visitor. They are never stored by a cache (no-store), may not be framed and post only to
// this origin. Their one script, forget-link.js, takes the link's token out of the address bar
// and the tab's history once the page is shown (the forms carry it in a hidden field): a token
// that still works stayed in the history of a shared computer for as long as the link worked
// (a day for a verification link). A person signed in to another account than the link's is
// told so at once (403), with how to switch, and offered no button.
package accountpages

import (
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"loginsign/internal/account"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/httpx"
	"loginsign/internal/i18n"
	"loginsign/internal/identity"
	"loginsign/internal/mfa"
	"loginsign/internal/web/page"
)

// VerifyPath is the page of an address-verification link (?token=…).
const VerifyPath = "/dashboard/emails/verify"

// EmailChangeCodePath mails the confirmation code the confirm page of a requested address
// change asks a person without two-step verification for (form field token).
const EmailChangeCodePath = "/account/email-change/code"

// Pages serves the link pages.
type Pages struct {
	Account  *account.Service
	Identity *identity.Service
	MFA      *mfa.Service
	Cookies  httpx.Cookies
	Log      *slog.Logger
	tmpl     *template.Template
}

// New returns the link pages, rendered in the shared page frame of r.
func New(acc *account.Service, id *identity.Service, m *mfa.Service, cookies httpx.Cookies, log *slog.Logger, r *page.Renderer) *Pages {
	return &Pages{Account: acc, Identity: id, MFA: m, Cookies: cookies, Log: log, tmpl: r.Parse(content)}
}

// Register adds the pages' routes to mux.
func (p *Pages) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET "+VerifyPath, p.VerifyEmailPage)
	mux.HandleFunc("POST "+VerifyPath, p.VerifyEmail)
	mux.HandleFunc("GET "+identity.EmailChangeConfirmPath, p.EmailChangePage)
	mux.HandleFunc("POST "+identity.EmailChangeConfirmPath, p.EmailChange)
	mux.HandleFunc("POST "+EmailChangeCodePath, p.EmailChangeCode)
	mux.HandleFunc("GET "+identity.EmailChangeCancelPath, p.EmailChangeCancelPage)
	mux.HandleFunc("POST "+identity.EmailChangeCancelPath, p.EmailChangeCancel)
	mux.HandleFunc("GET "+mfa.UndoTOTPPath, p.UndoTOTPPage)
	mux.HandleFunc("POST "+mfa.UndoTOTPPath, p.UndoTOTP)
}

const content = `{{define "content"}}{{$l := .L}}{{with .Content}}<section class="card auth-card">
<h1>{{.Title}}</h1>
<p id="confirm-message">{{.Message}}</p>
{{if .SignIn}}<p><a class="btn" id="confirm-sign-in" href="{{.SignIn}}">{{$l.T "linkpage.sign_in"}}</a></p>{{end}}
{{if .SignOut}}<p id="confirm-switch">{{$l.T "linkpage.switch_account"}}</p>
<p><a class="btn" id="confirm-sign-out" href="/logout">{{$l.T "linkpage.sign_out"}}</a></p>{{end}}
{{if .Token}}<form method="post" action="{{.Action}}">
<input type="hidden" name="token" value="{{.Token}}">
{{if .Code}}<label for="confirm-code">{{.Code}}</label>
<input id="confirm-code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" maxlength="64" required>
{{end}}<button type="submit" class="btn primary" id="confirm-submit">{{.Button}}</button>
</form>{{if .SendCode}}
<form method="post" action="{{.SendCode}}">
<input type="hidden" name="token" value="{{.Token}}">
<button type="submit" class="btn" id="confirm-send-code">{{$l.T "linkpage.send_code"}}</button>
</form>{{end}}{{end}}
</section>
<script src="/static/forget-link.js"></script>{{end}}{{end}}`

type view struct {
	Title, Message, Token, Action, Button, SignIn string
	// Code, when set, is the label of a code field sent with the form (the person's second
	// step); SendCode, when set, the action of a form beside it that mails a code.
	Code, SendCode string
	// SignOut explains how to switch to the account the link is for, with a sign-out link.
	SignOut bool
}

// language is the page's language: linkSetting (the setting of the account a cancel link is
// for), else the signed-in person's setting, else Accept-Language.
func (p *Pages) language(r *http.Request, linkSetting string) *i18n.Locale {
	setting := linkSetting
	if setting == "" {
		setting = p.Identity.ViewerLanguage(r.Context())
	}
	return i18n.Choose(setting, "", r.Header.Get("Accept-Language"))
}

func (p *Pages) write(w http.ResponseWriter, status int, l *i18n.Locale, v view) {
	page.Render(w, status, p.tmpl, page.Policy{Personal: true}, page.Frame{Title: v.Title, L: l, Narrow: true, Page: "account-link", Content: v})
}

// signInLink is /login that comes back to the page of this link.
func signInLink(path, token string) string {
	return "/login?" + url.Values{"return_to": {path + "?" + url.Values{"token": {token}}.Encode()}}.Encode()
}

// failure shows a domain error in the page's language; sign-in errors offer to sign in.
func (p *Pages) failure(w http.ResponseWriter, r *http.Request, l *i18n.Locale, title string, err error, path, token string) {
	if httpx.AnswerClientGone(w, r, p.Log, err) {
		return
	}
	e := apperr.As(err)
	v := view{Title: title, Message: e.MessageIn(l)}
	if e.Code == apperr.Internal {
		p.Log.ErrorContext(r.Context(), title, "err", err)
		v.Message = l.T("linkpage.error")
	}
	if e.Reason == "other_account" {
		v.SignOut = true
	}
	if e.Code == apperr.Unauthorized {
		v.SignIn = signInLink(path, token)
		if e.Reason == "reauthentication_required" {
			v.SignIn += "&again=1"
		}
	}
	p.write(w, apperr.HTTPStatus(e.Code), l, v)
}

// VerifyEmailPage is GET /dashboard/emails/verify?token=…: a page with a confirm button, or,
// signed out, an explanation and a sign-in link (only the account that added the address may
// confirm it). Signed in to another account, or with a link that no longer works, it says
// what the confirmation would (account.Service.CheckVerification: other_account, with how to
// switch; 400 invalid_token), offers no button, and changes nothing.
func (p *Pages) VerifyEmailPage(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	l := p.language(r, "")
	if token == "" || len(token) > 128 {
		p.write(w, http.StatusBadRequest, l, view{Title: l.T("linkpage.invalid_title"), Message: l.T("linkpage.verify_incomplete")})
		return
	}
	if _, ok := auth.SessionFrom(r.Context()); !ok {
		p.write(w, http.StatusOK, l, view{Title: l.T("linkpage.verify_sign_in_title"), Message: l.T("linkpage.verify_sign_in"),
			SignIn: signInLink(VerifyPath, token)})
		return
	}
	if _, err := p.Account.CheckVerification(r.Context(), token); err != nil {
		p.failure(w, r, l, l.T("linkpage.verify_failed"), err, VerifyPath, token)
		return
	}
	p.write(w, http.StatusOK, l, view{Title: l.T("linkpage.verify_title"), Message: l.T("linkpage.verify"),
		Token: token, Action: VerifyPath, Button: l.T("linkpage.verify_button")})
}

// VerifyEmail is POST /dashboard/emails/verify (form field token): confirms the address.
func (p *Pages) VerifyEmail(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	token := r.PostFormValue("token")
	l := p.language(r, "")
	ue, err := p.Account.VerifyAlternativeEmail(r.Context(), token)
	if err != nil {
		p.failure(w, r, l, l.T("linkpage.verify_failed"), err, VerifyPath, token)
		return
	}
	p.write(w, http.StatusOK, l, view{Title: l.T("linkpage.verified_title"), Message: l.T("linkpage.verified", ue.Email)})
}

// EmailChangePage is GET /account/email-change/confirm?token=…: what an application asked to
// change, and a confirm button; signed out, a sign-in link first.
func (p *Pages) EmailChangePage(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	l := p.language(r, "")
	ec, err := p.Identity.PendingEmailChange(r.Context(), token, false)
	if err != nil {
		p.failure(w, r, l, l.T("linkpage.invalid_title"), err, identity.EmailChangeConfirmPath, token)
		return
	}
	// The current address is shown only to its account (PendingEmailChange); anyone else
	// holding the link reads what was asked, not of whom.
	asked := l.T("linkpage.change_asked_other", ec.ApplicationName, ec.NewEmail) + " "
	if ec.OldEmail != "" {
		asked = l.T("linkpage.change_asked", ec.ApplicationName, ec.NewEmail, ec.OldEmail) + " "
	}
	if _, ok := auth.SessionFrom(r.Context()); !ok {
		p.write(w, http.StatusOK, l, view{Title: l.T("linkpage.change_sign_in_title"), Message: asked + l.T("linkpage.change_sign_in"),
			SignIn: signInLink(identity.EmailChangeConfirmPath, token)})
		return
	}
	if ec.OldEmail == "" {
		// Signed in to another account (PendingEmailChange names the current address to the
		// account's own browser only): explain at once, as the POSTs would, rather than offer
		// a form and a code mail that can only be refused.
		p.failure(w, r, l, l.T("linkpage.change_failed"), errOtherAccount(), identity.EmailChangeConfirmPath, token)
		return
	}
	p.confirmChangePage(w, r, l, ec, token, asked)
}

func errOtherAccount() error {
	return apperr.WithReason(apperr.Forbidden, "other_account",
		"this change was requested for another LoginSign account than the one you are signed in to; nothing was changed")
}

// confirmChangePage is the confirm form of the requested change ec, for its signed-in person:
// lead, what was asked, then the code field of their second step (mfa.Service.ConfirmChange)
// and, without two-step verification, the button that mails them a code.
func (p *Pages) confirmChangePage(w http.ResponseWriter, r *http.Request, l *i18n.Locale, ec *identity.EmailChange, token, lead string) {
	follow := ""
	if len(ec.SeenBy) > 0 {
		follow = l.T("linkpage.change_seen_by", strings.Join(ec.SeenBy, ", ")) + " "
	}
	v := view{Title: l.T("linkpage.change_title"),
		Message: lead + l.T("linkpage.change") + " " + follow + l.T("linkpage.change_warning", ec.NewEmail),
		Token:   token, Action: identity.EmailChangeConfirmPath, Button: l.T("linkpage.change_button"),
		Code: l.T("linkpage.code_mail"), SendCode: EmailChangeCodePath}
	sess, _ := auth.SessionFrom(r.Context())
	on, err := p.MFA.Enabled(r.Context(), sess.UserID)
	if err != nil {
		p.failure(w, r, l, l.T("linkpage.change_failed"), err, identity.EmailChangeConfirmPath, token)
		return
	}
	if on {
		v.Code, v.SendCode = l.T("linkpage.code_app"), ""
	}
	p.write(w, http.StatusOK, l, v)
}

// EmailChangeCode is POST /account/email-change/code (form field token): mails the signed-in
// person a confirmation code (mfa.Service.SendChangeCode, to their primary address) and shows
// the confirm form again.
func (p *Pages) EmailChangeCode(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	token := r.PostFormValue("token")
	l := p.language(r, "")
	ec, err := p.Identity.PendingEmailChange(r.Context(), token, false)
	switch _, signedIn := auth.SessionFrom(r.Context()); {
	case err != nil:
	case !signedIn:
		err = apperr.WithReason(apperr.Unauthorized, "sign_in_required", "sign in to the LoginSign account this change is for, then confirm again")
	case ec.OldEmail == "": // shown to the account's own browser only
		err = errOtherAccount()
	}
	var to string
	if err == nil {
		to, _, err = p.MFA.SendChangeCode(r.Context(), "")
	}
	if err != nil {
		p.failure(w, r, l, l.T("linkpage.change_failed"), err, identity.EmailChangeConfirmPath, token)
		return
	}
	p.confirmChangePage(w, r, l, ec, token, l.T("linkpage.code_sent", to, l.Period(mfa.ChangeCodeTTL))+" ")
}

// EmailChange is POST /account/email-change/confirm (form field token).
func (p *Pages) EmailChange(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	token := r.PostFormValue("token")
	l := p.language(r, "")
	ec, err := p.Identity.ConfirmEmailChange(r.Context(), token, r.PostFormValue("code"))
	if err != nil {
		p.failure(w, r, l, l.T("linkpage.change_failed"), err, identity.EmailChangeConfirmPath, token)
		return
	}
	p.write(w, http.StatusOK, l, view{Title: l.T("linkpage.changed_title"), Message: l.T("linkpage.changed", ec.NewEmail)})
}

// EmailChangeCancelPage is GET /account/email-change/cancel?token=…: the "this wasn't me"
// page of the notice mailed to the old address.
func (p *Pages) EmailChangeCancelPage(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	l := p.language(r, p.Identity.EmailChangeCancelLanguage(r.Context(), token))
	ec, err := p.Identity.PendingEmailChange(r.Context(), token, true)
	if err != nil {
		p.failure(w, r, l, l.T("linkpage.invalid_title"), err, identity.EmailChangeCancelPath, token)
		return
	}
	p.write(w, http.StatusOK, l, view{Title: l.T("linkpage.cancel_title"), Message: l.T("linkpage.cancel", ec.ApplicationName, ec.NewEmail),
		Token: token, Action: identity.EmailChangeCancelPath, Button: l.T("linkpage.cancel_button")})
}

// EmailChangeCancel is POST /account/email-change/cancel (form field token).
func (p *Pages) EmailChangeCancel(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	token := r.PostFormValue("token")
	l := p.language(r, p.Identity.EmailChangeCancelLanguage(r.Context(), token))
	if _, err := p.Identity.CancelEmailChange(r.Context(), token); err != nil {
		p.failure(w, r, l, l.T("linkpage.cancel_failed"), err, identity.EmailChangeCancelPath, token)
		return
	}
	p.write(w, http.StatusOK, l, view{Title: l.T("linkpage.cancelled_title"), Message: l.T("linkpage.cancelled")})
}

// UndoTOTPPage is GET /account/two-step/undo?token=…: the "this wasn't me" page of the notice
// mailed when an authenticator app was set up. Its button is shown only where the link works
// (mfa.Service.CanUndoTOTP: a browser that signed in to the account before).
func (p *Pages) UndoTOTPPage(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	userID, err := p.MFA.CanUndoTOTP(r.Context(), token, p.Cookies.Get(r, httpx.BrowserCookie))
	l := p.language(r, p.accountLanguage(r, userID))
	if err != nil {
		p.failure(w, r, l, l.T("linkpage.undo_totp_failed"), err, mfa.UndoTOTPPath, token)
		return
	}
	p.write(w, http.StatusOK, l, view{Title: l.T("linkpage.undo_totp_title"), Message: l.T("linkpage.undo_totp", l.Period(p.MFA.UndoTOTPDelay)),
		Token: token, Action: mfa.UndoTOTPPath, Button: l.T("linkpage.undo_totp_button")})
}

// UndoTOTP is POST /account/two-step/undo (form field token).
func (p *Pages) UndoTOTP(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	token := r.PostFormValue("token")
	browser := p.Cookies.Get(r, httpx.BrowserCookie)
	userID, _ := p.MFA.CanUndoTOTP(r.Context(), token, browser)
	l := p.language(r, p.accountLanguage(r, userID))
	due, err := p.MFA.UndoTOTP(r.Context(), token, browser)
	if err != nil {
		p.failure(w, r, l, l.T("linkpage.undo_totp_failed"), err, mfa.UndoTOTPPath, token)
		return
	}
	p.Cookies.Clear(w, "session")
	if due.After(p.MFA.Now()) {
		p.write(w, http.StatusOK, l, view{Title: l.T("linkpage.undo_totp_scheduled_title"),
			Message: l.T("linkpage.undo_totp_scheduled", l.DateTime(due.UTC())+" UTC")})
		return
	}
	p.write(w, http.StatusOK, l, view{Title: l.T("linkpage.undone_totp_title"), Message: l.T("linkpage.undone_totp")})
}

// accountLanguage is the language setting of the account userID ("" for none): an undo link
// goes to the account's primary address, proven to be the person's.
func (p *Pages) accountLanguage(r *http.Request, userID string) string {
	if userID == "" {
		return ""
	}
	u, err := p.Identity.User(r.Context(), userID)
	if err != nil {
		return ""
	}
	return u.Language
}
