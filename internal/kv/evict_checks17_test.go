package kv_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"loginsign/internal/kv"
)

// Every sign-in mail asked for writes an old link's memo (kv.UsedLinkPrefix, package oauth) for
// 24 hours, the idle time of a session. Under the volatile-ttl order (soonest deadline goes
// first) a flood of them, fresh, outlived every session idle for a while: at the bound the
// sessions were evicted and the flood stayed. The memos now go first.
func TestSignInLinkMemosAreEvictedBeforeSessions(t *testing.T) {
	t.Parallel()
	s, err := kv.OpenWith(context.Background(), "", kv.Options{MaxKeys: 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	// Ten sessions, idle for an hour (23 hours left).
	for i := range 10 {
		k := fmt.Sprintf("sess:%d", i)
		if err := s.HSet(ctx, k, "uid", "u").Err(); err != nil {
			t.Fatal(err)
		}
		if err := s.Expire(ctx, k, 23*time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// An anonymous flood of sign-in mails: each leaves a day-long memo.
	for i := range 100 {
		if err := s.Set(ctx, fmt.Sprintf("%sflood-%d", kv.UsedLinkPrefix, i), `{"e":"x@example.com"}`, 24*time.Hour).Err(); err != nil {
			t.Fatalf("memo %d: %v", i, err)
		}
	}
	var kept int
	for i := range 10 {
		n, err := s.Exists(ctx, fmt.Sprintf("sess:%d", i)).Result()
		if err != nil {
			t.Fatal(err)
		}
		kept += int(n)
	}
	if kept != 10 {
		t.Errorf("after a flood of 100 day-long link memos into a store of 20 keys, %d of 10 sessions are left, want all", kept)
	}
	// The memos still take room the sessions leave, and the newest stay.
	if n, err := s.Exists(ctx, kv.UsedLinkPrefix+"flood-99").Result(); err != nil || n != 1 {
		t.Errorf("the newest memo: exists %d (%v), want kept", n, err)
	}
	// A memo goes before a key that expires sooner, too (a sign-in link of 15 minutes).
	if err := s.Set(ctx, "ml:fresh", "{}", 15*time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Exists(ctx, "ml:fresh").Result(); err != nil || n != 1 {
		t.Errorf("a sign-in link written at the bound: exists %d (%v), want kept", n, err)
	}
}
