package kv_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"loginsign/internal/kv"
)

// The marker of a revoked token family (kv.RevokedPrefix, package oauth) is never evicted for
// room, only expired, as a rate-limit counter is: it refuses a token written for the family
// after its revocation (a rotation from a refresh row another process still kept), and a
// flood of anonymous writes that expire later (a sign-in link's day-long record, say) would
// otherwise push it out at the bound, since it expires sooner.
func TestRevocationMarkersAreNeverEvicted(t *testing.T) {
	t.Parallel()
	s, err := kv.OpenWith(context.Background(), "", kv.Options{MaxKeys: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	marker := kv.RevokedPrefix + "family-1"
	if err := s.Set(ctx, marker, 1, 2*time.Hour+time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if err := s.Set(ctx, fmt.Sprintf("mlx:%d", i), "{}", 24*time.Hour).Err(); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	if n, err := s.Exists(ctx, marker).Result(); err != nil || n != 1 {
		t.Fatalf("a revoked family's marker after a flood of later-expiring writes: exists %d (%v), want kept", n, err)
	}
	if ttl, err := s.PTTL(ctx, marker).Result(); err != nil || ttl <= 0 || ttl > 2*time.Hour+time.Minute {
		t.Fatalf("the marker's TTL %v (%v): want it to expire as set", ttl, err)
	}
}
