package oauth

import (
	"strings"
	"testing"
	"time"
)

// The redirect-URI healthcheck names the closest registered URI to a member of the
// application's team, by edit distance, whose cost is the product of the two lengths. A free
// developer registers 50 redirect URIs of 2,048 bytes on their own application and asks with
// a redirect_uri of 2,048: before, each such request cost most of a second of CPU (about
// 850 ms on the 2-core test machine), 30 a minute from each address. The work is now bounded
// (closestCompared), and a near URI is still found.
func TestTheClosestRedirectURIIsFoundInBoundedWork(t *testing.T) {
	registered := make([]string, 50)
	for i := range registered {
		registered[i] = "https://app" + string(rune('a'+i%26)) + ".example/" + strings.Repeat(string(rune('a'+i%26)), 2048-21)
	}
	sent := "https://attacker.example/" + strings.Repeat("z", 2048-25)
	took := time.Hour
	for range 3 { // the fastest of three: a busy machine only slows one down
		start := time.Now()
		closest(registered, sent)
		took = min(took, time.Since(start))
	}
	if took > 250*time.Millisecond {
		t.Errorf("closest over 50 registered URIs of 2,048 bytes took %v, want well under 250ms", took)
	}

	// Still the nearest: a typo in the host, and, among URIs alike in what is compared, the
	// one whose length is nearest.
	long := "https://app.example.com/callback?x=" + strings.Repeat("q", 400)
	if c := closest([]string{"https://a.example/x", long, long + "extra-extra-extra"}, "https://app.exampel.com/callback?x="+strings.Repeat("q", 401)); c != long {
		t.Errorf("closest = %.60q…, want the long callback", c)
	}
	if c := closest([]string{"https://a.example/x", "https://app.example.com/callback"}, "https://app.example.com/callbak"); c != "https://app.example.com/callback" {
		t.Errorf("closest = %q", c)
	}
}
