package server

import (
	"regexp"
	"testing"
	"time"
)

// changeCodeRE finds the 8-digit confirmation code ("1234 5678") in its mail.
var changeCodeRE = regexp.MustCompile(`\b(\d{4}) (\d{4})\b`)

// mailedChangeCode runs send (a click on a "Mail me a code" button) and returns the
// confirmation code of the mail it made go to to.
func (ls *liveServer) mailedChangeCode(t *testing.T, to string, send func()) string {
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
	send()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if got := codes(); len(got) > before {
			c := changeCodeRE.FindStringSubmatch(got[len(got)-1])
			if c == nil {
				t.Fatalf("the confirmation code mail has no code:\n%s", got[len(got)-1])
			}
			return c[1] + c[2]
		}
	}
	t.Fatalf("no confirmation code mail went to %s", to)
	return ""
}
