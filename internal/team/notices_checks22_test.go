package team_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"loginsign/internal/kv"
	"loginsign/internal/ratelimit"
	"loginsign/internal/team"
)

// TestANoticeGoesWhileTheCountersAreFull22 (review21, checks22): since checks21 the embedded
// store refuses a new rate-limit counter once counters fill their half of it (OOM), and anyone
// with enough addresses can fill it. An application's security notice counts itself in a new
// counter (one a window per application): refused, TakeNotice answered the error and the
// notice went unsent, so whoever filled the counters changed an application's redirects or
// replaced its secret with a stolen session while its owner was told nothing. A notice the
// store cannot count is sent, uncounted and not the last; the cap still holds while it counts.
func TestANoticeGoesWhileTheCountersAreFull22(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	k, err := kv.OpenWith(ctx, "", kv.Options{MaxKeys: 40})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	l := ratelimit.New(k)
	rule := ratelimit.Rule{Name: "app-notices", N: 2, Window: time.Hour}

	// Within the cap while the store counts: the second is the last, the third is not sent.
	for i, want := range []struct{ send, last bool }{{true, false}, {true, true}, {false, false}} {
		send, last, err := team.TakeNotice(ctx, l, rule, "app_counted")
		if err != nil || send != want.send || last != want.last {
			t.Fatalf("notice %d of a counting store: send %v, last %v, err %v; want %v, %v", i+1, send, last, err, want.send, want.last)
		}
	}
	for i := 0; ; i++ {
		if _, _, err := k.Limit(ctx, fmt.Sprintf("flood:%d", i), 5, time.Hour); err != nil {
			break
		}
		if i > 40 {
			t.Fatal("no counter was refused")
		}
	}
	send, last, err := team.TakeNotice(ctx, l, rule, "app_changed")
	if err != nil || !send || last {
		t.Fatalf("a notice while the counters are full: send %v, last %v, err %v; want it sent, not the last", send, last, err)
	}
	if send, _, err := team.TakeNotice(ctx, l, rule, "app_counted"); err != nil || send {
		t.Fatalf("an application past its cap while the counters are full: send %v, err %v", send, err)
	}
}
