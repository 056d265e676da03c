package apperr_test

import (
	"errors"
	"fmt"
	"testing"

	"loginsign/internal/apperr"
)

// Replies of a Redis (or the embedded store) that refuses for now are outages, answered 503;
// a reply about the request itself is not.
func TestDependencyDownReadsRedisReplies(t *testing.T) {
	t.Parallel()
	for msg, down := range map[string]bool{
		"MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk": true,
		"TRYAGAIN embedded store: writing its log data/kv.aof failed (no space left on device)":           true,
		"LOADING Redis is loading the dataset in memory":                                                  true,
		"WRONGTYPE Operation against a key holding the wrong kind of value":                               false,
	} {
		if got := apperr.DependencyDown(fmt.Errorf("reading: %w", errors.New(msg))); got != down {
			t.Errorf("DependencyDown(%q) = %v, want %v", msg, got, down)
		}
	}
}
