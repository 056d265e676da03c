package rest

import (
	"html/template"
	"net/http"
	"net/url"

	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/identity"
)

// confirmPage is the first-party page behind the links LoginSign mails about addresses
// (verifying an alternative address, confirming or cancelling a requested change of the
// primary address). GET only shows what the link would do and a button (mail scanners that
// follow links must not change anything); the POST of that form acts. When the action needs
// the signed-in account and nobody is signed in, the page offers to sign in and come back.
var confirmPage = template.Must(template.New("confirm").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{{.Title}} · LoginSign</title><link rel="stylesheet" href="/static/app.css"></head>
<body class="auth"><main class="auth-card">
<h1>{{.Title}}</h1>
<p id="confirm-message">{{.Message}}</p>
{{if .SignIn}}<p><a class="button" id="confirm-sign-in" href="{{.SignIn}}">Sign in to LoginSign</a></p>{{end}}
{{if .Token}}<form method="post" action="{{.Action}}">
<input type="hidden" name="token" value="{{.Token}}">
<button type="submit" id="confirm-submit">{{.Button}}</button>
</form>{{end}}
</main></body></html>
`))

type confirmView struct{ Title, Message, Token, Action, Button, SignIn string }

func writeConfirmPage(w http.ResponseWriter, status int, v confirmView) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	w.WriteHeader(status)
	confirmPage.Execute(w, v)
}

// signInLink is /login that comes back to the page of this link.
func signInLink(path, token string) string {
	return "/login?" + url.Values{"return_to": {path + "?" + url.Values{"token": {token}}.Encode()}}.Encode()
}

// failurePage shows a domain error on a confirm page; sign-in errors offer to sign in.
func (a *API) failurePage(w http.ResponseWriter, r *http.Request, title string, err error, path, token string) {
	e := apperr.As(err)
	v := confirmView{Title: title, Message: e.Message}
	if e.Code == apperr.Internal {
		a.Log.ErrorContext(r.Context(), title, "err", err)
		v.Message = "Something went wrong; please try again."
	}
	if e.Code == apperr.Unauthorized {
		v.SignIn = signInLink(path, token)
	}
	writeConfirmPage(w, apperr.HTTPStatus(e.Code), v)
}

const verifyPath = "/dashboard/emails/verify"

// VerifyEmailPage is GET /dashboard/emails/verify?token=…: a page with a confirm button, or,
// signed out, an explanation and a sign-in link (only the account that added the address may
// confirm it).
func (a *API) VerifyEmailPage(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	if token == "" || len(token) > 128 {
		writeConfirmPage(w, http.StatusBadRequest, confirmView{Title: "Link not valid",
			Message: "This verification link is incomplete. Add the address again in your dashboard to get a new one."})
		return
	}
	if _, ok := auth.SessionFrom(r.Context()); !ok {
		writeConfirmPage(w, http.StatusOK, confirmView{Title: "Sign in to confirm your address",
			Message: "Only the LoginSign account that added this address can confirm it. Sign in to that account; you will come back here.",
			SignIn:  signInLink(verifyPath, token)})
		return
	}
	writeConfirmPage(w, http.StatusOK, confirmView{Title: "Confirm your address",
		Message: "Confirm that this address belongs to you and may be linked to your LoginSign account.",
		Token:   token, Action: verifyPath, Button: "Confirm this address"})
}

// VerifyEmail is POST /dashboard/emails/verify (form field token): confirms the address.
func (a *API) VerifyEmail(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	token := r.PostFormValue("token")
	ue, err := a.Account.VerifyAlternativeEmail(r.Context(), token)
	if err != nil {
		a.failurePage(w, r, "Address not confirmed", err, verifyPath, token)
		return
	}
	writeConfirmPage(w, http.StatusOK, confirmView{Title: "Address confirmed",
		Message: ue.Email + " is now linked to your LoginSign account."})
}

// EmailChangePage is GET /account/email-change/confirm?token=…: what an application asked to
// change, and a confirm button; signed out, a sign-in link first.
func (a *API) EmailChangePage(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	ec, err := a.Identity.PendingEmailChange(r.Context(), token, false)
	if err != nil {
		a.failurePage(w, r, "Link not valid", err, identity.EmailChangeConfirmPath, token)
		return
	}
	msg := ec.ApplicationName + " asked to make " + ec.NewEmail + " the primary address of your LoginSign account (now " + ec.OldEmail + "). "
	if _, ok := auth.SessionFrom(r.Context()); !ok {
		writeConfirmPage(w, http.StatusOK, confirmView{Title: "Sign in to confirm the change",
			Message: msg + "Only that account can confirm it. Sign in to it; you will come back here.",
			SignIn:  signInLink(identity.EmailChangeConfirmPath, token)})
		return
	}
	writeConfirmPage(w, http.StatusOK, confirmView{Title: "Change your primary address?",
		Message: msg + "Sign-in links sent to the old address stop working.",
		Token:   token, Action: identity.EmailChangeConfirmPath, Button: "Make it my primary address"})
}

// EmailChange is POST /account/email-change/confirm (form field token).
func (a *API) EmailChange(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	token := r.PostFormValue("token")
	ec, err := a.Identity.ConfirmEmailChange(r.Context(), token)
	if err != nil {
		a.failurePage(w, r, "Address not changed", err, identity.EmailChangeConfirmPath, token)
		return
	}
	writeConfirmPage(w, http.StatusOK, confirmView{Title: "Primary address changed",
		Message: ec.NewEmail + " is now the primary address of your LoginSign account."})
}

// EmailChangeCancelPage is GET /account/email-change/cancel?token=…: the "this wasn't me"
// page of the notice mailed to the old address.
func (a *API) EmailChangeCancelPage(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	ec, err := a.Identity.PendingEmailChange(r.Context(), token, true)
	if err != nil {
		a.failurePage(w, r, "Link not valid", err, identity.EmailChangeCancelPath, token)
		return
	}
	writeConfirmPage(w, http.StatusOK, confirmView{Title: "Cancel the address change?",
		Message: ec.ApplicationName + " asked to change the primary address of your LoginSign account to " + ec.NewEmail + ". If this wasn't you, cancel it.",
		Token:   token, Action: identity.EmailChangeCancelPath, Button: "Cancel the change"})
}

// EmailChangeCancel is POST /account/email-change/cancel (form field token).
func (a *API) EmailChangeCancel(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	token := r.PostFormValue("token")
	if _, err := a.Identity.CancelEmailChange(r.Context(), token); err != nil {
		a.failurePage(w, r, "Nothing to cancel", err, identity.EmailChangeCancelPath, token)
		return
	}
	writeConfirmPage(w, http.StatusOK, confirmView{Title: "Change cancelled",
		Message: "Your primary address stays as it was."})
}
