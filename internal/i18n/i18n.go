// Package i18n chooses the language of a page or mail and holds LoginSign's message catalogs
// (golang.org/x/text/message with plural rules; numbers and dates per locale). English,
// French and German are supported; English is the source and the fallback.
//
// The language is chosen in order from the person's setting (none exists yet), the OpenID
// Connect ui_locales of the authorization in progress, then the browser's Accept-Language.
package i18n

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"golang.org/x/text/message/catalog"
)

// Supported are the languages with a catalog, the first being the fallback.
var Supported = []language.Tag{language.English, language.French, language.German}

var (
	matcher = language.NewMatcher(Supported)
	cat     = build()
)

// catalogs maps each supported language to its messages: a string (a fmt format) or a
// catalog.Message such as plural.Selectf.
var catalogs = merged(map[language.Tag]map[string]any{language.English: en, language.French: fr, language.German: de},
	map[language.Tag]map[string]any{language.English: dashboardEN, language.French: dashboardFR, language.German: dashboardDE},
	map[language.Tag]map[string]any{language.English: enMail, language.French: frMail, language.German: deMail},
	map[language.Tag]map[string]any{language.English: errorCatalog(-1), language.French: errorCatalog(0), language.German: errorCatalog(1)},
	map[language.Tag]map[string]any{language.English: widgetsEN, language.French: widgetsFR, language.German: widgetsDE},
	map[language.Tag]map[string]any{language.English: linkPagesEN, language.French: linkPagesFR, language.German: linkPagesDE},
	map[language.Tag]map[string]any{language.English: portalEN, language.French: portalFR, language.German: portalDE})

// merged adds the keys of each of parts (catalogs of one area, such as the dashboard's) to
// cats; a key defined twice is a bug.
func merged(cats map[language.Tag]map[string]any, parts ...map[language.Tag]map[string]any) map[language.Tag]map[string]any {
	for _, part := range parts {
		for tag, msgs := range part {
			for k, m := range msgs {
				if _, dup := cats[tag][k]; dup {
					panic("i18n: message " + k + " is defined twice")
				}
				cats[tag][k] = m
			}
		}
	}
	return cats
}

// errorKey is the catalog key of an error message: its English format, prefixed.
func errorKey(format string) string { return "error:" + format }

// errorCatalog is the catalog part of errorMessages in language i (0 French, 1 German; -1 is
// English, the format itself).
func errorCatalog(i int) map[string]any {
	out := make(map[string]any, len(errorMessages))
	for format, tr := range errorMessages {
		if i < 0 {
			out[errorKey(format)] = format
			if m, ok := errorEnglish[format]; ok {
				out[errorKey(format)] = m
			}
		} else {
			out[errorKey(format)] = tr[i]
		}
	}
	return out
}

func build() catalog.Catalog {
	b := catalog.NewBuilder(catalog.Fallback(language.English))
	for tag, msgs := range catalogs {
		for key, m := range msgs {
			var err error
			switch m := m.(type) {
			case string:
				err = b.SetString(tag, key, m)
			case catalog.Message:
				err = b.Set(tag, key, m)
			default:
				err = fmt.Errorf("message %q of %s is a %T", key, tag, m)
			}
			if err != nil {
				panic(err)
			}
		}
	}
	return b
}

// Locale is a chosen language with its printer.
type Locale struct {
	Tag language.Tag
	p   *message.Printer
}

// For returns the Locale of tag, which must be one of Supported (else English).
func For(tag language.Tag) *Locale {
	_, i, _ := matcher.Match(tag)
	t := Supported[i]
	return &Locale{Tag: t, p: message.NewPrinter(t, message.Catalog(cat))}
}

// English is the fallback locale.
var English = For(language.English)

// MaxUILocales is the longest ui_locales Choose reads (sixteen tags and their spaces are far
// shorter): every page and widget passes the request's value as it came.
const MaxUILocales = 256

// Choose picks the language from, in order: the person's setting (a BCP 47 tag, "" when none),
// ui_locales (space-separated BCP 47 tags, OpenID Connect Core §3.1.2.1) and the
// Accept-Language header. The first source that names a supported language wins; when none
// does, English. A ui_locales longer than MaxUILocales is ignored, as is an Accept-Language
// over 1,024 bytes.
func Choose(setting, uiLocales, acceptLanguage string) *Locale {
	if t, ok := match(strings.Fields(setting)); ok {
		return For(t)
	}
	if len(uiLocales) > MaxUILocales {
		uiLocales = ""
	}
	if t, ok := match(strings.Fields(uiLocales)); ok {
		return For(t)
	}
	if tags, _, err := language.ParseAcceptLanguage(acceptLanguage); err == nil && len(acceptLanguage) <= 1024 {
		if t, ok := matchTags(tags); ok {
			return For(t)
		}
	}
	return English
}

func match(fields []string) (language.Tag, bool) {
	var tags []language.Tag
	for _, f := range fields {
		if len(tags) == 16 {
			break
		}
		if t, err := language.Parse(f); err == nil {
			tags = append(tags, t)
		}
	}
	return matchTags(tags)
}

func matchTags(tags []language.Tag) (language.Tag, bool) {
	if len(tags) == 0 {
		return language.Und, false
	}
	_, i, c := matcher.Match(tags...)
	if c == language.No {
		return language.Und, false
	}
	return Supported[i], true
}

// Lang is the language's BCP 47 tag, for <html lang>.
func (l *Locale) Lang() string { return l.Tag.String() }

// Dir is the writing direction, for <html dir>: "rtl" for right-to-left scripts, else "ltr".
func (l *Locale) Dir() string {
	base, _ := l.Tag.Base()
	switch base.String() {
	case "ar", "he", "fa", "ur", "yi", "ps", "dv", "ckb", "sd", "ug":
		return "rtl"
	}
	return "ltr"
}

// T is the message key in this language, formatted with args (numbers per locale, plural
// rules applied).
func (l *Locale) T(key string, args ...any) string { return l.p.Sprintf(key, args...) }

// H is like T for a message that holds markup: string arguments are HTML-escaped, the
// catalog's own text is trusted.
func (l *Locale) H(key string, args ...any) template.HTML {
	esc := make([]any, len(args))
	for i, a := range args {
		if s, ok := a.(string); ok {
			a = template.HTMLEscapeString(s)
		}
		esc[i] = a
	}
	return template.HTML(l.p.Sprintf(key, esc...))
}

// Number is n written the locale's way (grouping and decimal separators).
func (l *Locale) Number(n any) string { return l.p.Sprint(n) }

var months = map[string][12]string{
	"en": {"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"},
	"fr": {"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"},
	"de": {"Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November", "Dezember"},
}

// Date is t's day written in the locale's long form: "November 30, 2026", "30 novembre 2026",
// "30. November 2026".
func (l *Locale) Date(t time.Time) string {
	m := months[l.Lang()][t.Month()-1]
	switch l.Lang() {
	case "fr":
		return fmt.Sprintf("%d %s %d", t.Day(), m, t.Year())
	case "de":
		return fmt.Sprintf("%d. %s %d", t.Day(), m, t.Year())
	}
	return fmt.Sprintf("%s %d, %d", m, t.Day(), t.Year())
}

// DateTime is Date with the time of day (24-hour in French and German, 12-hour in English).
func (l *Locale) DateTime(t time.Time) string {
	switch l.Lang() {
	case "fr":
		return l.Date(t) + " à " + t.Format("15:04")
	case "de":
		return l.Date(t) + ", " + t.Format("15:04") + " Uhr"
	}
	return l.Date(t) + " at " + t.Format("3:04 PM")
}

type ctxKey struct{}

// WithLocale returns ctx carrying l, for work that a request starts and that speaks to the
// person later in the same call (the sign-in mail).
func WithLocale(ctx context.Context, l *Locale) context.Context {
	return context.WithValue(ctx, ctxKey{}, l)
}

// ForPerson is the language to speak to a person in: their setting (a BCP 47 tag, "" when
// none) when it names a supported language, else the language of the request they are making
// (FromContext), else English. Mail a developer's request causes goes out in
// ForPerson(context.Background(), setting), never in the developer's language.
func ForPerson(ctx context.Context, setting string) *Locale {
	if t, ok := match(strings.Fields(setting)); ok {
		return For(t)
	}
	return FromContext(ctx)
}

// FromContext is the Locale WithLocale put in ctx, or English.
func FromContext(ctx context.Context) *Locale {
	switch l := ctx.Value(ctxKey{}).(type) {
	case *Locale:
		if l != nil {
			return l
		}
	case *lazyLocale:
		return l.get()
	}
	return English
}

// Duration writes d in whole hours, minutes or seconds: "15 minutes", "1 Stunde".
func (l *Locale) Duration(d time.Duration) string {
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return l.T("duration.hours", int(d/time.Hour))
	case d < time.Minute:
		return l.T("duration.seconds", int(d/time.Second))
	}
	return l.T("duration.minutes", int(d/time.Minute))
}

// Period writes d, a time the code enforces (how long a link works, how long until something
// happens), in whole days from two days on ("7 days", "3 jours"), else as Duration does, so a
// message states it from the constant or setting instead of in its own words. It is the form
// for a duration that is the object of its sentence or stands before "later" ("You have 3 days",
// "3 Tage später"); after a preposition that governs the dative in German ("innerhalb von",
// "in", "nach") use PeriodDative.
func (l *Locale) Period(d time.Duration) string { return l.period(d, "duration.days") }

// PeriodDative is Period in the dative where the language has one: "innerhalb von 7 Tagen" in
// German; the same as Period in English and French.
func (l *Locale) PeriodDative(d time.Duration) string { return l.period(d, "duration.days_dative") }

func (l *Locale) period(d time.Duration, days string) string {
	const day = 24 * time.Hour
	if d >= 2*day && d%day == 0 {
		return l.T(days, int(d/day))
	}
	return l.Duration(d)
}

// Ago writes how long ago something happened, d before now: "just now" under a minute,
// then in whole minutes or hours ("3 minutes ago", "vor 3 Minuten").
func (l *Locale) Ago(d time.Duration) string {
	switch {
	case d < time.Minute:
		return l.T("ago.now")
	case d < time.Hour:
		return l.T("ago", l.Duration(d.Truncate(time.Minute)))
	}
	return l.T("ago", l.Duration(d.Truncate(time.Hour)))
}

// Has reports whether the catalogs have a message key (every catalog has the English keys:
// TestCatalogsComplete).
func (l *Locale) Has(key string) bool {
	_, ok := catalogs[language.English][key]
	return ok
}

// EnglishError is the English message of format with args when English needs the catalog
// for it (a plural), for apperr.New; ok is false otherwise.
func EnglishError(format string, args ...any) (msg string, ok bool) {
	if _, ok := errorEnglish[format]; !ok {
		return "", false
	}
	return English.Error(format, args...)
}

// Error is the domain error message whose English fmt format is format, in this language with
// args (apperr.Error.MessageIn); ok is false when the catalogs do not have it.
func (l *Locale) Error(format string, args ...any) (msg string, ok bool) {
	key := errorKey(format)
	if _, ok := catalogs[language.English][key]; !ok {
		return "", false
	}
	return l.p.Sprintf(key, args...), true
}

// RequestLanguage puts the language of the request into its context for what the request
// causes (the mails it sends, the messages of the errors GraphQL and the person's REST routes
// answer with): the signed-in person's setting (setting, called with the request's context
// only when something asks, at most once), then Accept-Language, then English. Pages choose
// their own (ui_locales before Accept-Language) and pass it on with WithLocale.
func RequestLanguage(setting func(context.Context) string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, al := r.Context(), r.Header.Get("Accept-Language")
			lz := &lazyLocale{choose: func() *Locale { return Choose(setting(ctx), "", al) }}
			next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, ctxKey{}, lz)))
		})
	}
}

// lazyLocale is a Locale chosen when first asked for.
type lazyLocale struct {
	once   sync.Once
	choose func() *Locale
	l      *Locale
}

func (z *lazyLocale) get() *Locale {
	z.once.Do(func() { z.l = z.choose() })
	return z.l
}

// SupportedList is the supported tags joined with ", ": "en, fr, de".
func SupportedList() string {
	s := make([]string, len(Supported))
	for i, t := range Supported {
		s[i] = t.String()
	}
	return strings.Join(s, ", ")
}
