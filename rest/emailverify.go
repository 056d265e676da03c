package rest

import (
	"html/template"
	"net/http"

	"loginsign/internal/apperr"
)

// verifyPage is the first-party page behind the link of an address-verification mail. GET
// only shows a button (mail scanners that follow links must not confirm anything); the POST
// of that form confirms.
var verifyPage = template.Must(template.New("verify").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{{.Title}} · LoginSign</title><link rel="stylesheet" href="/static/app.css"></head>
<body class="auth"><main class="auth-card">
<h1>{{.Title}}</h1>
<p>{{.Message}}</p>
{{if .Token}}<form method="post" action="/dashboard/emails/verify">
<input type="hidden" name="token" value="{{.Token}}">
<button type="submit">Confirm this address</button>
</form>{{end}}
</main></body></html>
`))

type verifyView struct{ Title, Message, Token string }

func writeVerifyPage(w http.ResponseWriter, status int, v verifyView) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	w.WriteHeader(status)
	verifyPage.Execute(w, v)
}

// VerifyEmailPage is GET /dashboard/emails/verify?token=…: a page with a confirm button.
func (a *API) VerifyEmailPage(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	if token == "" || len(token) > 128 {
		writeVerifyPage(w, http.StatusBadRequest, verifyView{Title: "Link not valid",
			Message: "This verification link is incomplete. Add the address again in your dashboard to get a new one."})
		return
	}
	writeVerifyPage(w, http.StatusOK, verifyView{Title: "Confirm your address",
		Message: "Confirm that this address belongs to you and may be linked to your LoginSign account.", Token: token})
}

// VerifyEmail is POST /dashboard/emails/verify (form field token): confirms the address.
func (a *API) VerifyEmail(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	ue, err := a.Account.VerifyAlternativeEmail(r.Context(), r.PostFormValue("token"))
	if err != nil {
		e := apperr.As(err)
		status := apperr.HTTPStatus(e.Code)
		msg := e.Message
		if e.Code == apperr.Internal {
			a.Log.ErrorContext(r.Context(), "verifying address", "err", err)
			msg = "Something went wrong; please try again."
		}
		writeVerifyPage(w, status, verifyView{Title: "Address not confirmed", Message: msg})
		return
	}
	writeVerifyPage(w, http.StatusOK, verifyView{Title: "Address confirmed",
		Message: ue.Email + " is now linked to your LoginSign account."})
}
