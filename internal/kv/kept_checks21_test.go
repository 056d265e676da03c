package kv_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"loginsign/internal/apperr"
	"loginsign/internal/kv"
)

// Rate-limit counters take at most half of the embedded store: a flood of distinct ones (one
// per source address) is refused past that with an outage (503), and sessions stay. Before,
// the counters, never evicted, pushed out every session and then refused every write.
func TestDistinctCountersLeaveSessionsTheirHalf(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := kv.OpenWith(ctx, "", kv.Options{MaxKeys: 40})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	for i := range 10 {
		if err := s.Set(ctx, fmt.Sprint("sess:", i), "v", time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
	}
	var refused error
	for i := range 100 {
		if _, _, err := s.Limit(ctx, fmt.Sprintf("signin:ip:2001:db8:%x::/64", i), 5, time.Hour); err != nil {
			refused = err
		}
	}
	if n, err := s.Exists(ctx, "sess:0", "sess:1", "sess:2", "sess:3", "sess:4", "sess:5", "sess:6", "sess:7", "sess:8", "sess:9").Result(); err != nil || n != 10 {
		t.Errorf("after 100 distinct counters %d of 10 sessions are kept (%v), want all", n, err)
	}
	if refused == nil || !apperr.DependencyDown(refused) {
		t.Errorf("a counter past the counters' half: %v, want an outage (503)", refused)
	}
}
