package ratelimit_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"loginsign/internal/apperr"
	"loginsign/internal/i18n"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/ratelimit"
)

// A refusal speaks the person's language where the catalogs have its message: the default one
// and a rule's own with the seconds to wait. Before, the message was formatted as "%s" and
// no catalog found it: every 429 a French or German page showed was English.
func TestARefusalSpeaksThePersonsLanguage(t *testing.T) {
	t.Parallel()
	l := ratelimit.New(kvtest.Embedded(t))
	ctx := context.Background()
	fr := i18n.Choose("fr", "", "")
	for _, tt := range []struct {
		rule     ratelimit.Rule
		en, want string
	}{
		{ratelimit.Rule{Name: "plain", N: 1, Window: time.Minute}, "too many requests; retry later", "trop de requêtes"},
		{ratelimit.Rule{Name: "mails", N: 1, Window: time.Minute, Message: "too many verification mails; try again in %d s"},
			"too many verification mails; try again in ", "trop d’e-mails de vérification ; réessayez dans "},
		{ratelimit.Rule{Name: "odd", N: 1, Window: time.Minute, Message: "not in any catalog, %d s or %s"},
			"not in any catalog, ", "not in any catalog, "},
	} {
		if err := l.Take(ctx, tt.rule, "p"); err != nil {
			t.Fatal(err)
		}
		ae := apperr.As(l.Take(ctx, tt.rule, "p"))
		if ae.Code != apperr.RateLimited || ae.RetryAfter < 1 || ae.RetryAfter > 60 {
			t.Fatalf("%s past its limit: %#v", tt.rule, ae)
		}
		secs := strconv.Itoa(ae.RetryAfter)
		if !strings.HasPrefix(ae.Message, tt.en) || (strings.Contains(tt.rule.Message, "%d") && !strings.Contains(ae.Message, secs)) {
			t.Errorf("%s: English %q, want %q… with the %s seconds", tt.rule, ae.Message, tt.en, secs)
		}
		if got := ae.MessageIn(fr); !strings.HasPrefix(got, tt.want) || (strings.Contains(tt.rule.Message, "%d") && !strings.Contains(got, secs)) {
			t.Errorf("%s: French %q, want %q… with the %s seconds", tt.rule, got, tt.want, secs)
		}
	}
}
