package rest

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode"

	"loginsign/internal/apperr"
	"loginsign/internal/httpx"
)

// AccountExport answers GET /api/account/export: everything LoginSign holds about the
// signed-in person as one JSON document, as a download (dataexport.Service.Export).
// A request a browser made from another site (Sec-Fetch-Site cross-site or same-site: a link
// or a navigation started by another page, which carries the SameSite=Lax session cookie) is
// refused with 403 before it spends one of the day's exports or mails the notice. A session
// signed in more than auth.RecentSignIn ago gets 401 reauthentication_required, with nothing
// spent, recorded or mailed (dataexport.Service.Export).
func (a *API) AccountExport(w http.ResponseWriter, r *http.Request) {
	if site := r.Header.Get("Sec-Fetch-Site"); site == "cross-site" || site == "same-site" {
		httpx.WritePersonError(w, r, apperr.WithReason(apperr.Forbidden, "cross_site_request",
			"the data export starts from your LoginSign dashboard, not from another site"))
		return
	}
	doc, err := a.Export.Export(r.Context())
	if err != nil {
		httpx.WritePersonError(w, r, err)
		return
	}
	w.Header().Set("Content-Disposition", `attachment; filename="loginsign-data-`+doc.ExportedAt[:10]+`.json"`)
	w.Header().Set("Cache-Control", "no-store")
	httpx.WriteJSON(w, http.StatusOK, doc)
}

// userCSVHeader are the columns of the users export: the fields of the users list.
var userCSVHeader = []string{"id", "globalId", "name", "email", "active", "blocked", "emailMuted", "sessions", "lastSession", "joined", "region", "appEmail"}

// DeveloperUsersExport answers GET /api/developer/applications/:appId/users/export with the
// users list (same filters and order as GET …/users, every page) as text/csv. Every cell is
// made safe for spreadsheets (csvCell). A session signed in more than auth.RecentSignIn ago
// gets 401 reauthentication_required (portal.Service.ExportUsers).
func (a *API) DeveloperUsersExport(w http.ResponseWriter, r *http.Request) {
	q, err := query(r)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	if q.Has("limit") || q.Has("cursor") {
		httpx.WriteError(w, r, apperr.New(apperr.Invalid, "the export holds every page: drop limit and cursor"))
		return
	}
	p, err := parseUserPage(q)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	conns, err := a.Portal.ExportUsers(r.Context(), r.PathValue("appId"), p)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="users-%s.csv"`, r.PathValue("appId")))
	w.Header().Set("Cache-Control", "no-store")
	cw := csv.NewWriter(w)
	cw.Write(userCSVHeader)
	for _, c := range conns {
		u := toDeveloperUser(c)
		cw.Write([]string{csvCell(u.ID), csvCell(u.GlobalID), csvCell(deref(u.Name)), csvCell(u.Email), strconv.FormatBool(u.Active),
			strconv.FormatBool(u.Blocked), strconv.FormatBool(u.EmailMuted), strconv.Itoa(u.Sessions), csvCell(deref(u.LastSession)),
			csvCell(u.Joined), csvCell(deref(u.Region)), csvCell(u.AppEmail)})
	}
	cw.Flush()
}

// csvCell neutralises a cell a spreadsheet would run as a formula (OWASP CSV injection): one
// starting with =, +, -, @, a tab or a carriage return gets a leading apostrophe. A lone "-"
// (the list's "not shared" email) is no formula and stays as the list shows it. The same
// holds for every piece after a ';': a spreadsheet whose list separator is ';' (German,
// French, … locales) splits a .csv there, and encoding/csv quotes a field for a ',' but not
// for a ';', so "Ann;=cmd|…" in a person's name was a formula cell of its own. A piece after
// a ';' that starts with '"' gets the apostrophe too: encoding/csv doubles the quote ("" in
// the file), and such a spreadsheet reads "" at the start of a cell as an empty quoted text
// and the rest as typed, so `Ann;"=cmd|…;` in a name was the formula cell =cmd|… as well. Both
// are looked for behind leading white space too (formulaSafe): a spreadsheet that trims the
// spaces around a cell read "Ann; =cmd|…" as the formula =cmd|….
func csvCell(s string) string {
	if !strings.Contains(s, ";") {
		return formulaSafe(s)
	}
	pieces := strings.Split(s, ";")
	for i, p := range pieces {
		if i > 0 && strings.HasPrefix(strings.TrimLeftFunc(p, unicode.IsSpace), `"`) {
			pieces[i] = "'" + p
			continue
		}
		pieces[i] = formulaSafe(p)
	}
	return strings.Join(pieces, ";")
}

// formulaSafe is s with an apostrophe before it when s starts like a formula: with a tab or a
// carriage return, or with =, +, - or @ once its leading white space (any Unicode space) is
// trimmed, as some spreadsheets trim a cell before they read it. A lone "-" is no formula.
func formulaSafe(s string) string {
	t := strings.TrimLeftFunc(s, unicode.IsSpace)
	if s != "" && strings.ContainsRune("\t\r", rune(s[0])) || t != "" && t != "-" && strings.ContainsRune("=+-@", rune(t[0])) {
		return "'" + s
	}
	return s
}
