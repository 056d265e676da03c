package server

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// mailedChangeCode clicks the "Mail me a code" button sel in tb once the page has loaded
// every part it fills in (a part still loading moves the button under the click), and
// returns the confirmation code of the mail it made go to to. When no mail comes it fails
// with what the page says, so a refusal reads as one.
func (ls *liveServer) mailedChangeCode(t *testing.T, tb *tab, to, sel string) string {
	t.Helper()
	codes := func() []string {
		var out []string
		for _, m := range ls.Mail.Messages() {
			if containsFold(m.To, to) && m.Subject == "Your LoginSign confirmation code" {
				out = append(out, m.Text)
			}
		}
		return out
	}
	before := len(codes())
	tb.waitFor(t, `!document.querySelector('[aria-busy=true]')`)
	tb.do(t, chromedp.Click(sel))
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if got := codes(); len(got) > before {
			c := mailedCode(got[len(got)-1])
			if c == "" {
				t.Fatalf("the confirmation code mail has no code:\n%s", got[len(got)-1])
			}
			// The mail goes before the answer: the page is done with the click (and has said
			// so) only when the button is enabled again; keys typed before could land elsewhere.
			tb.waitFor(t, `(document.querySelector('`+sel+`') || {}).disabled !== true`)
			return c
		}
	}
	said := evalIn[string](t, tb, `[...document.querySelectorAll('.form-status, .alert, #status, .field-error')].map(e => e.textContent.trim()).filter(Boolean).join(" | ")`)
	t.Fatalf("no confirmation code mail went to %s after a click on %s; the page says %q", to, sel, said)
	return ""
}
