package kv

import (
	"context"
	"testing"
	"time"
)

func TestParseURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url     string
		addrs   int
		master  string
		cluster bool
		db      int
	}{
		{"redis://127.0.0.1:6379/2", 1, "", false, 2},
		{"rediss://user:pw@cache.example.com:6380", 1, "", false, 0},
		{"redis-sentinel://s1:26379,s2:26379,s3:26379/mymaster/1", 3, "mymaster", false, 1},
		{"redis-cluster://n1:7000,n2:7001", 2, "", true, 0},
	}
	for _, tt := range tests {
		o, err := parse(tt.url)
		if err != nil {
			t.Fatalf("parse(%q): %v", tt.url, err)
		}
		if len(o.Addrs) != tt.addrs || o.MasterName != tt.master || o.IsClusterMode != tt.cluster || o.DB != tt.db {
			t.Errorf("parse(%q) = %+v", tt.url, o)
		}
	}
	for _, bad := range []string{"http://x", "redis-sentinel://s1:26379", "redis://[::1"} {
		if _, err := parse(bad); err == nil {
			t.Errorf("parse(%q) accepted", bad)
		}
	}
}

func TestEmbeddedExpiresByWallClock(t *testing.T) {
	t.Parallel()
	s, err := Open(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	s.Set(ctx, "k", "v", 100*time.Millisecond)
	if n, _ := s.Exists(ctx, "k").Result(); n != 1 {
		t.Fatal("the key is gone before its TTL")
	}
	// Nobody moves this store's clock: the key goes once the wall clock passes its TTL.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if n, _ := s.Exists(ctx, "k").Result(); n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("embedded store did not expire a key by the wall clock")
		}
	}
}

func TestLimit(t *testing.T) {
	t.Parallel()
	s, err := Open(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	for i := range 3 {
		if ok, _, err := s.Limit(ctx, "t", 3, time.Minute); !ok || err != nil {
			t.Fatalf("hit %d refused: %v", i+1, err)
		}
	}
	ok, retry, err := s.Limit(ctx, "t", 3, time.Minute)
	if ok || err != nil || retry <= 0 || retry > time.Minute {
		t.Fatalf("4th hit: ok=%v retry=%v err=%v", ok, retry, err)
	}
}

// A closed store answers GetEach with the client's error, in-process path included, so that
// callers see the outage (503) rather than missing keys.
func TestGetEachAfterClose(t *testing.T) {
	t.Parallel()
	s, err := Open(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Set(context.Background(), "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if vals, err := s.GetEach(context.Background(), "k"); err == nil {
		t.Fatalf("GetEach on a closed store = %q, nil; want an error", vals)
	}
	if vals, err := s.Transact(context.Background(), []string{"GET", "k"}); err == nil {
		t.Fatalf("Transact on a closed store = %q, nil; want an error", vals)
	}
}
