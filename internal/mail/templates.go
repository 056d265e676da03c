package mail

import (
	"bytes"
	"embed"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode"

	"loginsign/internal/displaytext"
	"loginsign/internal/i18n"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

// Templates are parsed once; parsing embedded files cannot fail at run time, so a broken
// template is caught by the first test that renders it.
var (
	textTemplates = texttemplate.Must(texttemplate.ParseFS(templateFS, "templates/*.txt.tmpl"))
	htmlTemplates = htmltemplate.Must(htmltemplate.New("").Funcs(htmltemplate.FuncMap{"strong": strong}).
			ParseFS(templateFS, "templates/*.html.tmpl"))
)

// MagicLink is the sign-in mail. Its text part carries link as a plain absolute URL on a line
// of its own; the HTML part shows it as a button. appName, when not empty, names the app the
// person is signing in to ("Sign in to <App> with LoginSign"); ttl is how long the link works.
// code, when not empty, is the 6-digit code that may be typed on the "check your email" page
// instead of opening the link (shown as "123 456").
func MagicLink(to, link, code, appName string, ttl time.Duration) Message {
	return MagicLinkIn(i18n.English, to, link, code, appName, ttl)
}

// MagicLinkIn is MagicLink in the language l.
func MagicLinkIn(l *i18n.Locale, to, link, code, appName string, ttl time.Duration) Message {
	appName = cleanName(appName, 100)
	subject := l.T("mail.magic.subject")
	if appName != "" {
		subject = l.T("mail.magic.subject_app", appName)
	}
	data := map[string]any{
		"App":  appName,
		"Link": cleanLine(link, 4096),
		"TTL":  l.Duration(ttl),
		"Code": spacedCode(code),
	}
	return render(l, to, subject, "magic_link", data)
}

// VerifyEmail asks the owner of an alternative address to confirm it, in l; link confirms it.
// The text part carries link as a plain absolute URL on a line of its own.
func VerifyEmail(l *i18n.Locale, to, link string) Message {
	data := map[string]any{
		"Link":    cleanLine(link, 4096),
		"Address": cleanLine(to, 254),
	}
	return render(l, to, l.T("mail.verify.subject"), "verify_email", data)
}

// ChangeCode mails to, in l, the code that confirms a change to how their account signs in
// (mfa.Service.SendChangeCode): adding an address or a passkey, another primary address,
// removing an address, closing the account. code is 8 digits, shown as "1234 5678"; it works
// for ttl.
func ChangeCode(l *i18n.Locale, to, code string, ttl time.Duration) Message {
	code = cleanLine(code, 8)
	if len(code) == 8 {
		code = code[:4] + " " + code[4:]
	}
	data := map[string]any{"Code": code, "TTL": l.Duration(ttl)}
	return render(l, to, l.T("mail.change_code.subject"), "change_code", data)
}

// spacedCode writes a 6-digit code as "123 456", easier to read and type.
func spacedCode(code string) string {
	code = cleanLine(code, 6)
	if len(code) != 6 {
		return code
	}
	return code[:3] + " " + code[3:]
}

// DataExport tells the person, in l, that a copy of their data was downloaded at when.
func DataExport(l *i18n.Locale, to string, when time.Time) Message {
	data := map[string]any{
		"Address": cleanLine(to, 254),
		"When":    whenUTC(l, when),
	}
	return render(l, to, l.T("mail.export.subject"), "data_export", data)
}

// whenUTC is t in UTC written the locale's way, marked as UTC: "November 30, 2026 at 3:04 PM
// (UTC)", "30 novembre 2026 à 15:04 (UTC)".
func whenUTC(l *i18n.Locale, t time.Time) string {
	return l.T("mail.when_utc", l.DateTime(t.UTC()))
}

// render executes the text and HTML templates of name with data, l (as .L) and subject (as
// .Subject); the mail says its language in Content-Language, and name is its Kind. The
// templates are embedded and take only strings, so execution errors are programming errors:
// they panic in tests.
func render(l *i18n.Locale, to, subject, name string, data map[string]any) Message {
	subject = cleanLine(subject, 200)
	data["L"], data["Subject"] = l, subject
	var text, html bytes.Buffer
	if err := textTemplates.ExecuteTemplate(&text, name+".txt.tmpl", data); err != nil {
		panic("mail: template " + name + ": " + err.Error())
	}
	if err := htmlTemplates.ExecuteTemplate(&html, name+".html.tmpl", data); err != nil {
		panic("mail: template " + name + ": " + err.Error())
	}
	return Message{To: to, Subject: subject, Text: text.String(), HTML: html.String(),
		Headers: map[string]string{"Content-Language": l.Lang()}, Kind: name}
}

// strong is s in bold, escaped, for a catalog message written with Locale.H (which leaves
// template.HTML arguments as they are).
func strong(s string) htmltemplate.HTML {
	return htmltemplate.HTML("<strong>" + htmltemplate.HTMLEscapeString(s) + "</strong>")
}

// cleanLine makes s safe for a header or a single text line: control characters (line breaks
// included) and line or paragraph separators become spaces, format characters (bidirectional
// overrides, zero-width spaces: displaytext.Hidden) are dropped, and it is cut to at most max
// runes. The names it is given passed displaytext.Line when they were saved, but a mail is the
// last place to make sure: "Notes\u202egpj.exe" reads "Notesexe.jpg".
func cleanLine(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case unicode.IsControl(r) || unicode.In(r, unicode.Zl, unicode.Zp):
			return ' '
		case displaytext.Hidden(r):
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if r := []rune(s); len(r) > max {
		s = string(r[:max])
	}
	return s
}

// cleanName is cleanLine for a name shown inside a sentence (an application's name in a
// subject): cut to at most max runes at the last space before the limit, with an ellipsis, so
// that the reader sees the name goes on and no word is cut into another one ("Acme Asse…"
// rather than "Acme Ass"). A name without a space in its last quarter before the limit (a
// single long word, or a script written without spaces) is cut at max-1 runes, before any
// combining mark, with the ellipsis.
func cleanName(s string, max int) string {
	s = cleanLine(s, len(s))
	r := []rune(s)
	if len(r) <= max {
		return s
	}
	cut := max - 1 // room for the ellipsis
	for cut > 0 && unicode.Is(unicode.M, r[cut]) {
		cut-- // the rune at cut would lose its base: cut before the base too
	}
	if !unicode.IsSpace(r[cut]) {
		for i := cut - 1; i >= max-max/4 && i > 0; i-- {
			if unicode.IsSpace(r[i]) {
				cut = i
				break
			}
		}
	}
	return strings.TrimRightFunc(string(r[:cut]), func(c rune) bool {
		return unicode.IsSpace(c) || unicode.IsPunct(c) && c != ')' && c != ']'
	}) + "…"
}

// appOrUnknown is appName made safe for a line, or "An application" in l.
func appOrUnknown(l *i18n.Locale, appName string) string {
	if appName = cleanName(appName, 100); appName == "" {
		return l.T("mail.unknown_app")
	}
	return appName
}

// EmailChangeConfirm asks the owner of the new address, in l, to confirm a change of primary
// address that appName asked for; link opens the confirmation page. The text part carries link
// as a plain absolute URL on a line of its own.
func EmailChangeConfirm(l *i18n.Locale, to, link, appName string, ttl time.Duration) Message {
	data := map[string]any{
		"App":     appOrUnknown(l, appName),
		"Address": cleanLine(to, 254),
		"Link":    cleanLine(link, 4096),
		"TTL":     l.Duration(ttl),
	}
	return render(l, to, l.T("mail.change_confirm.subject"), "email_change_confirm", data)
}

// EmailChangeNotice tells the current primary address, in l, that appName asked to replace it
// with newAddress; link cancels the request ("this wasn't me").
func EmailChangeNotice(l *i18n.Locale, to, newAddress, link, appName string) Message {
	data := map[string]any{
		"App":        appOrUnknown(l, appName),
		"Address":    cleanLine(to, 254),
		"NewAddress": cleanLine(newAddress, 254),
		"Link":       cleanLine(link, 4096),
	}
	return render(l, to, l.T("mail.change_notice.subject"), "email_change_notice", data)
}

// SecurityNoticeSubject starts the subject of every security notice in English.
const SecurityNoticeSubject = "LoginSign security notice: "

// SecurityNotice tells the person at to, in l, that their sign-in factors changed: event names
// what happened (the catalog's "mail.notice.<event>.headline" is the title, ".what" the
// sentence, ".advice", when there is one, what to do instead of the usual
// "mail.notice.advice"), when the time, link their dashboard. ok is false for an event the
// catalog does not know.
func SecurityNotice(l *i18n.Locale, to, event string, when time.Time, link string) (m Message, ok bool) {
	return securityNotice(l, to, event, "", when, link, "", UndoTimes{})
}

// UndoTimes are the times the notices of two-step verification state, from the code that
// enforces them: Link is how long an authenticator app's "this wasn't me" link works
// (mfa.UndoTOTPTTL), Removal how long after that link is used the app is turned off
// (mfa.Service.UndoTOTPDelay, which the operator may change), Pause how long the second step
// stays paused once too many wrong codes were typed (the window of the rule the event spent:
// mfa.Service.NewBrowserFailures or KnownBrowserFailures). An event's ".advice" and
// ".undo_advice" take them as arguments written by i18n.Locale.Period: %[1]s Link, %[2]s
// Removal, %[3]s and %[4]s the same in the dative (PeriodDative: "innerhalb von 7 Tagen"),
// %[5]s Pause.
type UndoTimes struct{ Link, Removal, Pause time.Duration }

// UndoableSecurityNotice is SecurityNotice with a "this wasn't me" link, undo, when it is not
// empty: its button comes first, and the catalog's ".undo_advice" of the event says what it
// does. times are the times its advice states (UndoTimes); the notice of an event whose advice
// states one must come from here, with them.
func UndoableSecurityNotice(l *i18n.Locale, to, event string, when time.Time, link, undo string, times UndoTimes) (m Message, ok bool) {
	return securityNotice(l, to, event, "", when, link, undo, times)
}

// AddressSecurityNotice is SecurityNotice of a change to the person's sign-in addresses: the
// catalog's ".what" of event names about, the address added or removed, as the caller gives
// it (masked: the notice names an address, not who reads it).
func AddressSecurityNotice(l *i18n.Locale, to, event, about string, when time.Time, link string) (m Message, ok bool) {
	return securityNotice(l, to, event, about, when, link, "", UndoTimes{})
}

// securityNotice is UndoableSecurityNotice with about, when not empty, the argument of the
// event's ".what".
func securityNotice(l *i18n.Locale, to, event, about string, when time.Time, link, undo string, times UndoTimes) (m Message, ok bool) {
	key := "mail.notice." + event
	if !l.Has(key+".headline") || !l.Has(key+".what") {
		return Message{}, false
	}
	spans := []any{l.Period(times.Link), l.Period(times.Removal), l.PeriodDative(times.Link), l.PeriodDative(times.Removal),
		l.Period(times.Pause)}
	headline, advice := l.T(key+".headline"), l.T("mail.notice.advice")
	if l.Has(key + ".advice") {
		advice = l.T(key+".advice", spans...)
	}
	if undo != "" && l.Has(key+".undo_advice") {
		advice = l.T(key+".undo_advice", spans...)
	} else {
		undo = ""
	}
	what := l.T(key + ".what")
	if about != "" {
		what = l.T(key+".what", cleanLine(about, 254))
	}
	data := map[string]any{
		"Headline": headline,
		"What":     what,
		"Advice":   advice,
		"Address":  cleanLine(to, 254),
		"When":     whenUTC(l, when),
		"Link":     cleanLine(link, 4096),
		"Undo":     cleanLine(undo, 4096),
	}
	return render(l, to, l.T("mail.notice.subject", headline), "security_notice", data), true
}

// TeamInvitation invites to, in l, to the team of application appName with role; link (valid
// ttl, single use) opens the portal page where the invitee accepts while signed in. The mail is
// the same whether or not the address has an account.
func TeamInvitation(l *i18n.Locale, to, link, appName, role string, ttl time.Duration) Message {
	appName = cleanName(appName, 100)
	data := map[string]any{
		"App":     appName,
		"Role":    l.T("mail.invite.role_" + cleanLine(role, 20)),
		"Link":    cleanLine(link, 4096),
		"Address": cleanLine(to, 254),
		"TTL":     l.Period(ttl),
	}
	return render(l, to, l.T("mail.invite.subject", appName), "team_invitation", data)
}

// AppNotice is a security notice of an application (AppSecurityNotice): Event names what
// changed (the catalog's "mail.app_notice.<event>.headline" and ".what"), App the application,
// Actor who changed it (masked by the caller; empty: a member who has left the team since),
// About what the change is about (a member, masked; the settings changed, named) and Role a
// role key ("admin"). Settings, when About is empty, are the keys of the settings changed
// ("redirect_uris": the catalog's "mail.app_notice.setting.<key>"), named in l. Last says that
// no further notice of the application follows for up to Budget, the window of the budget it
// spent (team.DefaultNotices' hour), written by i18n.Locale.Period (".<event>.last" when the
// event has a budget of its own). Concerned says that the recipient is told as the member the change is
// about (removed, demoted, proposed the ownership), not as the owner or an admin: the mail says
// so, with the event's advice to them (".<event>.advice_concerned"). Within, for an advice that
// takes it (a proposed transfer's: "You have %s to accept"), is how long the member has to act,
// written from the duration the code enforces (team.TransferTTL), so the text cannot drift from
// it, as i18n.Locale.Period writes it (whole days from two days on).
type AppNotice struct {
	Event, App, Actor, About, Role string
	Settings                       []string
	When                           time.Time
	Link                           string
	Last, Concerned                bool
	Budget, Within                 time.Duration
	// InvitedBy, for a member who joined, is who invited them (masked by the caller; empty:
	// not said, as for an inviter who has left the team since).
	InvitedBy string
}

// AppSecurityNotice tells to, in l, as the owner or an admin of application n.App, that a
// setting that decides who may act for it or where its people and events go changed (n). It
// names no value beyond n.About: no secret, no URI. Its subject starts as every security
// notice's (SecurityNoticeSubject). ok is false for an event the catalog does not know.
func AppSecurityNotice(l *i18n.Locale, to string, n AppNotice) (m Message, ok bool) {
	key := "mail.app_notice." + n.Event
	if !l.Has(key+".headline") || !l.Has(key+".what") {
		return Message{}, false
	}
	actor := cleanLine(n.Actor, 254)
	if actor == "" {
		actor = l.T("mail.app_notice.someone")
	}
	role := ""
	if n.Role != "" {
		role = l.T("mail.invite.role_" + cleanLine(n.Role, 20))
	}
	about := cleanLine(n.About, 254)
	if about == "" && len(n.Settings) > 0 {
		names := make([]string, 0, len(n.Settings))
		for _, k := range n.Settings {
			if l.Has("mail.app_notice.setting." + k) {
				names = append(names, l.T("mail.app_notice.setting."+k))
			}
		}
		about = strings.Join(names, ", ")
	}
	// The event's own words where it has them, else the notices' common ones.
	own := func(suffix, common string) string {
		if l.Has(key + "." + suffix) {
			return key + "." + suffix
		}
		return common
	}
	advice, button, why := own("advice", "mail.app_notice.advice"), own("button", "mail.app_notice.button"), "mail.app_notice.why"
	if n.Concerned {
		advice, button, why = own("advice_concerned", advice), own("button_concerned", button), "mail.app_notice.why_concerned"
	}
	headline := l.T(key + ".headline")
	adviceText := l.T(advice)
	if n.Concerned && n.Within > 0 && advice == key+".advice_concerned" {
		adviceText = l.T(advice, l.Period(n.Within))
	}
	data := map[string]any{
		"Headline":  headline,
		"WhatKey":   key + ".what",
		"Advice":    adviceText,
		"WhyKey":    why,
		"ButtonKey": button,
		"LastKey":   own("last", "mail.app_notice.last"),
		"Budget":    l.Period(n.Budget),
		"App":       appOrUnknown(l, n.App),
		"About":     about,
		"Role":      role,
		"Actor":     actor,
		"When":      whenUTC(l, n.When),
		"Link":      cleanLine(n.Link, 4096),
		"Last":      n.Last,
		"InvitedBy": cleanLine(n.InvitedBy, 254),
	}
	return render(l, to, l.T("mail.notice.subject", headline), "app_notice", data), true
}
