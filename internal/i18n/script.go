package i18n

import (
	"regexp"
	"slices"
	"strings"
	"time"

	"golang.org/x/text/language"
)

// Messages for text written by page scripts (ls.js, dashboard.js, ... in internal/web/static).
//
// They live here, next to the Go catalogs, in scriptEN, scriptFR and scriptDE, and
// TestCatalogsComplete checks them like the Go ones: a French or German catalog lacking a key,
// or naming other placeholders, fails. A page sends the messages its scripts use in the
// chosen language (Locale.Script, embedded in the page by internal/web/page as JSON), and
// ls.js formats them: LS.t(key, args).
//
// A message is a string with named placeholders, "{app} was removed.", or a Plural: one text
// per CLDR plural category of the language ("one", "few", "many", "other"; "other" is
// required), chosen by Intl.PluralRules for the argument "count". Number arguments are
// written with Intl.NumberFormat in the page's language. Script messages are plain text (the
// scripts put them in text nodes), never markup.
//
// Keys start with the name of the script's page: "ls." for ls.js (every page gets those),
// "dashboard.", and so on.

// Plural is a script message with one text per CLDR plural category.
type Plural map[string]string

// scriptCatalogs maps each supported language to its script messages.
var scriptCatalogs = merged(map[language.Tag]map[string]any{language.English: scriptEN, language.French: scriptFR, language.German: scriptDE},
	map[language.Tag]map[string]any{language.English: scriptDashboardEN, language.French: scriptDashboardFR, language.German: scriptDashboardDE},
	map[language.Tag]map[string]any{language.English: scriptPasskeyEN, language.French: scriptPasskeyFR, language.German: scriptPasskeyDE},
	map[language.Tag]map[string]any{language.English: scriptPortalEN, language.French: scriptPortalFR, language.German: scriptPortalDE})

// Script returns the script messages of this language whose keys start with one of prefixes
// ("ls.", "dashboard."), English where the language lacks one, ready to be written as JSON.
func (l *Locale) Script(prefixes ...string) map[string]any {
	out := map[string]any{}
	for _, m := range []map[string]any{scriptEN, scriptCatalogs[l.Tag]} {
		for k, v := range m {
			for _, p := range prefixes {
				if strings.HasPrefix(k, p) {
					out[k] = v
					break
				}
			}
		}
	}
	return out
}

// ScriptWith is Script with the times its messages state written in: each {name} of a message
// that periods names is replaced, in every plural form, by l.Period of its duration, so that a
// message says the time the code enforces ("It works once, for {code_ttl}": "for 10
// minutes"), never one of its own that a changed constant would leave behind.
func (l *Locale) ScriptWith(periods map[string]time.Duration, prefixes ...string) map[string]any {
	out := l.Script(prefixes...)
	if len(periods) == 0 {
		return out
	}
	fill := func(s string) string {
		return placeholderRe.ReplaceAllStringFunc(s, func(p string) string {
			if d, ok := periods[p[1:len(p)-1]]; ok {
				return l.Period(d)
			}
			return p
		})
	}
	for k, m := range out {
		switch m := m.(type) {
		case string:
			out[k] = fill(m)
		case Plural:
			filled := make(Plural, len(m))
			for form, s := range m {
				filled[form] = fill(s)
			}
			out[k] = filled
		}
	}
	return out
}

// ScriptT formats a script message on the server, as LS.t does in the browser (for tests and
// for pages that write a script message themselves): named placeholders from args, the Plural
// form "one" for a count of 1 and "other" otherwise (enough for en, fr and de below 2).
func (l *Locale) ScriptT(key string, args map[string]any) string {
	m, ok := scriptCatalogs[l.Tag][key]
	if !ok {
		m, ok = scriptEN[key]
	}
	if !ok {
		return key
	}
	var s string
	switch m := m.(type) {
	case string:
		s = m
	case Plural:
		s = m["other"]
		if c, _ := args["count"].(int); c == 1 || (c == 0 && l.Lang() == "fr") {
			if one, ok := m["one"]; ok {
				s = one
			}
		}
	}
	return placeholderRe.ReplaceAllStringFunc(s, func(p string) string {
		if v, ok := args[p[1:len(p)-1]]; ok {
			if n, ok := v.(int); ok {
				return l.Number(n)
			}
			if str, ok := v.(string); ok {
				return str
			}
		}
		return p
	})
}

var placeholderRe = regexp.MustCompile(`\{[a-zA-Z_][a-zA-Z0-9_]*\}`)

// placeholders are the distinct {names} of s, sorted.
func placeholders(s string) []string {
	p := placeholderRe.FindAllString(s, -1)
	slices.Sort(p)
	return slices.Compact(p)
}
