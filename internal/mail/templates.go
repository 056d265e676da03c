package mail

import (
	"bytes"
	"embed"
	htmltemplate "html/template"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode"

	"loginsign/internal/i18n"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

// Templates are parsed once; parsing embedded files cannot fail at run time, so a broken
// template is caught by the first test that renders it.
var (
	textTemplates = texttemplate.Must(texttemplate.ParseFS(templateFS, "templates/*.txt.tmpl"))
	htmlTemplates = htmltemplate.Must(htmltemplate.ParseFS(templateFS, "templates/*.html.tmpl"))
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
	appName = cleanLine(appName, 100)
	subject := l.T("mail.magic.subject")
	if appName != "" {
		subject = l.T("mail.magic.subject_app", appName)
	}
	data := map[string]any{
		"L":       l,
		"Subject": subject,
		"App":     appName,
		"Link":    cleanLine(link, 4096),
		"TTL":     l.Duration(ttl),
		"Code":    spacedCode(code),
	}
	return render(to, subject, "magic_link", data)
}

// VerifyEmail asks the owner of an alternative address to confirm it; link confirms it. The
// text part carries link as a plain absolute URL on a line of its own.
func VerifyEmail(to, link string) Message {
	subject := "Confirm your email address for LoginSign"
	data := map[string]any{
		"Subject": subject,
		"Link":    cleanLine(link, 4096),
		"Address": cleanLine(to, 254),
	}
	return render(to, subject, "verify_email", data)
}

// spacedCode writes a 6-digit code as "123 456", easier to read and type.
func spacedCode(code string) string {
	code = cleanLine(code, 6)
	if len(code) != 6 {
		return code
	}
	return code[:3] + " " + code[3:]
}

// DataExport tells the person that a copy of their data was downloaded at when.
func DataExport(to string, when time.Time) Message {
	subject := "A copy of your LoginSign data was downloaded"
	data := map[string]any{
		"Subject": subject,
		"Address": cleanLine(to, 254),
		"When":    when.UTC().Format("2 January 2006 at 15:04 UTC"),
	}
	return render(to, subject, "data_export", data)
}

// render executes the text and HTML templates of name. The templates are embedded and take
// only strings, so execution errors are programming errors: they panic in tests.
func render(to, subject, name string, data map[string]any) Message {
	var text, html bytes.Buffer
	if err := textTemplates.ExecuteTemplate(&text, name+".txt.tmpl", data); err != nil {
		panic("mail: template " + name + ": " + err.Error())
	}
	if err := htmlTemplates.ExecuteTemplate(&html, name+".html.tmpl", data); err != nil {
		panic("mail: template " + name + ": " + err.Error())
	}
	return Message{To: to, Subject: subject, Text: text.String(), HTML: html.String()}
}

// cleanLine makes s safe for a header or a single text line: control characters (line breaks
// included) become spaces, and it is cut to at most max runes.
func cleanLine(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if r := []rune(s); len(r) > max {
		s = string(r[:max])
	}
	return s
}

// humanDuration writes ttl as "15 minutes", "1 hour", "2 hours", "45 seconds".
func humanDuration(ttl time.Duration) string {
	unit, n := "minute", int(ttl/time.Minute)
	switch {
	case ttl >= time.Hour && ttl%time.Hour == 0:
		unit, n = "hour", int(ttl/time.Hour)
	case ttl < time.Minute:
		unit, n = "second", int(ttl/time.Second)
	}
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}

// EmailChangeConfirm asks the owner of the new address to confirm a change of primary address
// that appName asked for; link opens the confirmation page. The text part carries link as a
// plain absolute URL on a line of its own.
func EmailChangeConfirm(to, link, appName string, ttl time.Duration) Message {
	appName = cleanLine(appName, 100)
	if appName == "" {
		appName = "An application"
	}
	subject := "Confirm your new LoginSign address"
	data := map[string]any{
		"Subject": subject,
		"App":     appName,
		"Address": cleanLine(to, 254),
		"Link":    cleanLine(link, 4096),
		"TTL":     humanDuration(ttl),
	}
	return render(to, subject, "email_change_confirm", data)
}

// EmailChangeNotice tells the current primary address that appName asked to replace it with
// newAddress; link cancels the request ("this wasn't me").
func EmailChangeNotice(to, newAddress, link, appName string) Message {
	appName = cleanLine(appName, 100)
	if appName == "" {
		appName = "An application"
	}
	subject := "A change of your LoginSign address was requested"
	data := map[string]any{
		"Subject":    subject,
		"App":        appName,
		"Address":    cleanLine(to, 254),
		"NewAddress": cleanLine(newAddress, 254),
		"Link":       cleanLine(link, 4096),
	}
	return render(to, subject, "email_change_notice", data)
}

// SecurityNoticeSubject starts the subject of every security notice.
const SecurityNoticeSubject = "LoginSign security notice: "

// SecurityNotice tells the person at to that their sign-in factors changed: headline is the
// subject and title ("A passkey was added"), what the sentence it starts ("A passkey named …
// was added"), when the time, link their dashboard.
func SecurityNotice(to, headline, what string, when time.Time, link string) Message {
	headline = cleanLine(headline, 120)
	subject := SecurityNoticeSubject + headline
	data := map[string]any{
		"Subject":  subject,
		"Headline": headline,
		"What":     cleanLine(what, 300),
		"Address":  cleanLine(to, 254),
		"When":     when.UTC().Format("2 January 2006 at 15:04 UTC"),
		"Link":     cleanLine(link, 4096),
	}
	return render(to, subject, "security_notice", data)
}

// TeamInvitation invites to to the team of application appName with role; link (valid ttl,
// single use) opens the portal page where the invitee accepts while signed in. The mail is the
// same whether or not the address has an account.
func TeamInvitation(to, link, appName, role string, ttl time.Duration) Message {
	appName = cleanLine(appName, 100)
	subject := "You are invited to help run " + appName + " on LoginSign"
	data := map[string]any{
		"Subject": subject,
		"App":     appName,
		"Role":    cleanLine(role, 20),
		"Link":    cleanLine(link, 4096),
		"Address": cleanLine(to, 254),
		"TTL":     humanDuration(ttl),
	}
	return render(to, subject, "team_invitation", data)
}
