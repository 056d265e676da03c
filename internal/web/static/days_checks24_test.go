package static_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"loginsign/internal/i18n"
)

// TestEveryScriptThatSaysHowManyDaysPassesThem: the portal's charts span the days portal.js
// asks the analytics for (its days), and their captions ("last {days} days") take that
// number from the script instead of writing 30 themselves: every call of a message with a
// {days} placeholder, in every script, passes days. Before, the captions said "last 30 days"
// whatever the script asked for.
func TestEveryScriptThatSaysHowManyDaysPassesThem(t *testing.T) {
	t.Parallel()
	var keys []string
	for key, m := range i18n.English.Script("") {
		texts := []string{}
		switch m := m.(type) {
		case string:
			texts = append(texts, m)
		case i18n.Plural:
			for _, s := range m {
				texts = append(texts, s)
			}
		}
		for _, s := range texts {
			if strings.Contains(s, "{days}") {
				keys = append(keys, key)
				break
			}
		}
	}
	if len(keys) == 0 {
		t.Fatal("no script message says {days}: the charts' captions write their span themselves")
	}
	scripts, err := filepath.Glob(filepath.Join("files", "*.js"))
	if err != nil || len(scripts) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	calls := 0
	for _, name := range scripts {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		src := string(b)
		for _, key := range keys {
			for _, at := range regexp.MustCompile(`\b[Tt]\("`+regexp.QuoteMeta(key)+`"`).FindAllStringIndex(src, -1) {
				calls++
				if call := callAt(src, at[0]+1); !regexp.MustCompile(`\bdays:`).MatchString(call) {
					t.Errorf("%s: %s does not pass days: %s", name, key, call)
				}
			}
		}
	}
	if calls == 0 {
		t.Errorf("no script calls %v", keys)
	}
}

// callAt is the parenthesised arguments of the call whose "(" is at src[open].
func callAt(src string, open int) string {
	depth := 0
	for i := open; i < len(src); i++ {
		switch src[i] {
		case '(':
			depth++
		case ')':
			if depth--; depth == 0 {
				return src[open : i+1]
			}
		}
	}
	return src[open:]
}
