package i18n

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/language"
)

// verbs are the fmt verbs of a message, for comparing a translation with its English source.
var verbRe = regexp.MustCompile(`%(\[\d+\])?[a-z]`)

func verbs(t *testing.T, l *Locale, key string) string {
	t.Helper()
	// Render with sample arguments: a message that drops or adds an argument shows %!(EXTRA
	// or %!s(MISSING). Five: a security notice's advice takes up to five times (mail.UndoTimes).
	out := l.T(key, "A", "B", 5, 6, "E")
	if strings.Contains(out, "MISSING") || strings.Contains(out, "BADINDEX") {
		t.Errorf("%s %q renders %q", l.Lang(), key, out)
	}
	return out
}

// TestCatalogsComplete fails when a catalog lacks a key the English one has (or has one
// English lacks), or formats its arguments differently.
func TestCatalogsComplete(t *testing.T) {
	t.Parallel()
	en := catalogs[language.English]
	if len(en) < 50 {
		t.Fatalf("English catalog has %d keys", len(en))
	}
	for tag, msgs := range catalogs {
		if tag == language.English {
			continue
		}
		for key, m := range en {
			tm, ok := msgs[key]
			if !ok {
				t.Errorf("%s catalog lacks %q", tag, key)
				continue
			}
			if fmt.Sprintf("%T", tm) != fmt.Sprintf("%T", m) {
				t.Errorf("%s %q is a %T, English a %T", tag, key, tm, m)
			}
			if s, ok := m.(string); ok {
				ts := tm.(string)
				want, got := verbRe.FindAllString(s, -1), verbRe.FindAllString(ts, -1)
				if strings.Join(uniq(want), ",") != strings.Join(uniq(got), ",") {
					t.Errorf("%s %q has verbs %v, English %v", tag, key, got, want)
				}
				if strings.Count(s, "<") != strings.Count(ts, "<") {
					t.Errorf("%s %q has different markup from English", tag, key)
				}
			}
			verbs(t, For(tag), key)
		}
		for key := range msgs {
			if _, ok := en[key]; !ok {
				t.Errorf("%s catalog has %q, which English lacks", tag, key)
			}
		}
	}
	for _, p := range scriptProblems(scriptCatalogs) {
		t.Error(p)
	}
}

// scriptProblems: every language has exactly English's script keys, each the same kind
// (string or Plural) with the same {placeholders}, no markup, and a Plural has an "other" form
// and only CLDR categories. It returns what is wrong.
func scriptProblems(cats map[language.Tag]map[string]any) []string {
	var bad []string
	errf := func(f string, a ...any) { bad = append(bad, fmt.Sprintf(f, a...)) }
	src := cats[language.English]
	if len(src) < 10 {
		errf("English script catalog has %d keys", len(src))
	}
	forms := func(m any) []string {
		switch m := m.(type) {
		case string:
			return []string{m}
		case Plural:
			var out []string
			for cat, s := range m {
				switch cat {
				case "zero", "one", "two", "few", "many", "other":
				default:
					errf("plural category %q", cat)
				}
				out = append(out, s)
			}
			if _, ok := m["other"]; !ok {
				errf("plural %v has no other form", m)
			}
			return out
		}
		errf("script message %v is a %T", m, m)
		return nil
	}
	names := func(m any) string {
		var all []string
		for _, f := range forms(m) {
			all = append(all, placeholders(f)...)
		}
		return strings.Join(uniq(all), ",")
	}
	for tag, msgs := range cats {
		for key, m := range src {
			tm, ok := msgs[key]
			if !ok {
				errf("%s script catalog lacks %q", tag, key)
				continue
			}
			if fmt.Sprintf("%T", tm) != fmt.Sprintf("%T", m) {
				errf("%s script %q is a %T, English a %T", tag, key, tm, m)
				continue
			}
			if got, w := names(tm), names(m); got != w {
				errf("%s script %q has placeholders %s, English %s", tag, key, got, w)
			}
			for _, f := range forms(tm) {
				if strings.ContainsAny(f, "<>") || strings.Contains(f, "%") {
					errf("%s script %q holds markup or a fmt verb: %q", tag, key, f)
				}
			}
		}
		for key := range msgs {
			if _, ok := src[key]; !ok {
				errf("%s script catalog has %q, which English lacks", tag, key)
			}
		}
	}
	return bad
}

// TestScriptCatalogCheckFails: the completeness check of script catalogs fails for a missing
// key, other placeholders, a plural without "other" and markup.
func TestScriptCatalogCheckFails(t *testing.T) {
	en := map[string]any{"x.a": "{app} was removed", "x.b": Plural{"one": "{count} sign-in", "other": "{count} sign-ins"}}
	for i, fr := range []map[string]any{
		{"x.a": "{app} supprimée"},
		{"x.a": "{name} supprimée", "x.b": Plural{"one": "{count} connexion", "other": "{count} connexions"}},
		{"x.a": "{app} supprimée", "x.b": Plural{"one": "{count} connexion"}},
		{"x.a": "{app} <b>supprimée</b>", "x.b": Plural{"one": "{count} connexion", "other": "{count} connexions"}},
	} {
		for j := 0; j < 10; j++ {
			en["x.pad"+fmt.Sprint(j)] = "p"
			fr["x.pad"+fmt.Sprint(j)] = "p"
		}
		if len(scriptProblems(map[language.Tag]map[string]any{language.English: en, language.French: fr})) == 0 {
			t.Errorf("case %d: a broken French script catalog passed", i)
		}
	}
	fr := map[string]any{"x.a": "{app} supprimée", "x.b": Plural{"one": "{count} connexion", "many": "{count} de connexions", "other": "{count} connexions"}}
	for j := 0; j < 10; j++ {
		fr["x.pad"+fmt.Sprint(j)] = "p"
	}
	if p := scriptProblems(map[language.Tag]map[string]any{language.English: en, language.French: fr}); len(p) != 0 {
		t.Errorf("a complete French script catalog failed: %v", p)
	}
}

// TestScriptMessages: a page gets its scripts' messages in its language, English where the
// language lacks one, and ScriptT formats them like LS.t.
func TestScriptMessages(t *testing.T) {
	fr := Choose("", "fr", "")
	m := fr.Script("ls.")
	if m["ls.copy"] != "Copier" {
		t.Errorf("ls.copy in French: %v", m["ls.copy"])
	}
	for k := range m {
		if !strings.HasPrefix(k, "ls.") {
			t.Errorf("Script(ls.) returned %q", k)
		}
	}
	if got := Choose("", "de", "").ScriptT("ls.request_failed", map[string]any{"status": "503"}); got != "Die Anfrage ist fehlgeschlagen (503)." {
		t.Errorf("ScriptT: %q", got)
	}
}

func uniq(v []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range v {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	// order-insensitive
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// TestChoose: the person's setting, then ui_locales, then Accept-Language; unsupported or
// malformed values fall through; English when nothing matches.
func TestChoose(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ setting, ui, accept, want string }{
		{"", "", "", "en"},
		{"", "", "fr-CH, fr;q=0.9, en;q=0.8", "fr"},
		{"", "de", "fr", "de"},
		{"", "ja de-AT", "fr", "de"},
		{"", "ja", "fr", "fr"},
		{"", "not a tag!!", "de-DE", "de"},
		{"fr", "de", "de", "fr"},
		{"", "", "ja, zh;q=0.8", "en"},
		{"", "", "*", "en"},
		{"", "", "en-GB", "en"},
		{"", "", "garbage;;;q=x", "en"},
		// Longer than MaxUILocales: ignored whole, not split into thousands of fields.
		{"", strings.Repeat("x ", MaxUILocales) + "de", "fr", "fr"},
		{"", strings.Repeat(" ", MaxUILocales-2) + "de", "fr", "de"},
	} {
		if got := Choose(c.setting, c.ui, c.accept).Lang(); got != c.want {
			t.Errorf("Choose(%q, %q, %q) = %s, want %s", c.setting, c.ui, c.accept, got, c.want)
		}
	}
	if d := Choose("", "de", "").Dir(); d != "ltr" {
		t.Errorf("German dir %q", d)
	}
	if d := (&Locale{Tag: language.Arabic}).Dir(); d != "rtl" {
		t.Errorf("Arabic dir %q", d)
	}
}

// TestPluralsNumbersDates: plural rules, number grouping and long dates per locale.
func TestPluralsNumbersDates(t *testing.T) {
	t.Parallel()
	day := time.Date(2026, time.March, 5, 14, 7, 0, 0, time.UTC)
	for _, c := range []struct {
		lang             string
		one, many        string
		number, date, dt string
	}{
		{"en", "Sign-in links work once, for 1 minute.", "Sign-in links work once, for 15 minutes.", "1,234,567", "March 5, 2026", "March 5, 2026 at 2:07 PM"},
		{"fr", "Les liens de connexion sont valables une fois, pendant 1 minute.", "Les liens de connexion sont valables une fois, pendant 15 minutes.", "1\u00a0234\u00a0567", "5 mars 2026", "5 mars 2026 à 14:07"},
		{"de", "Anmeldelinks gelten einmal, 1 Minute lang.", "Anmeldelinks gelten einmal, 15 Minuten lang.", "1.234.567", "5. März 2026", "5. März 2026, 14:07 Uhr"},
	} {
		l := Choose("", c.lang, "")
		if got := l.T("link_error.expiry", 1); got != c.one {
			t.Errorf("%s one: %q", c.lang, got)
		}
		if got := l.T("link_error.expiry", 15); got != c.many {
			t.Errorf("%s other: %q", c.lang, got)
		}
		if got := l.Number(1234567); got != c.number {
			t.Errorf("%s number: %q, want %q", c.lang, got, c.number)
		}
		if got := l.Date(day); got != c.date {
			t.Errorf("%s date: %q", c.lang, got)
		}
		if got := l.DateTime(day); got != c.dt {
			t.Errorf("%s date and time: %q", c.lang, got)
		}
	}
	// Arguments of H are escaped; the catalog's markup is kept.
	if got := string(English.H("login.lead", `<b>&"x"`)); got != `to continue to <strong>&lt;b&gt;&amp;&#34;x&#34;</strong>` {
		t.Errorf("H: %q", got)
	}
}
