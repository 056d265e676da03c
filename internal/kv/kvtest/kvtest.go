// Package kvtest opens Redis stores for tests: the embedded server always, and a real server
// when LOGINSIGN_TEST_REDIS_URL names one.
package kvtest

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"

	"loginsign/internal/kv"
)

// EnvRedis names the real Redis server tests may use.
const EnvRedis = "LOGINSIGN_TEST_REDIS_URL"

// Run runs fn once per store as a subtest named "embedded" or "redis".
func Run(t *testing.T, fn func(t *testing.T, s *kv.Store)) {
	t.Helper()
	t.Run("embedded", func(t *testing.T) { fn(t, Embedded(t)) })
	if u := os.Getenv(EnvRedis); u != "" {
		t.Run("redis", func(t *testing.T) { fn(t, Real(t, u)) })
	}
}

// Embedded starts an embedded store, stopped when the test ends.
func Embedded(t testing.TB) *kv.Store {
	t.Helper()
	s, err := kv.Open(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// URL returns a Redis URL for a test: a real server's database picked for this test and
// emptied, when LOGINSIGN_TEST_REDIS_URL is set; "" (embedded) otherwise.
func URL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvRedis)
	if base == "" {
		return ""
	}
	opts, err := redis.ParseURL(base)
	if err != nil {
		t.Fatalf("%s: %v", EnvRedis, err)
	}
	c := redis.NewClient(opts)
	defer c.Close()
	// Databases 1–15 are handed out round-robin; packages run at most a few at a time.
	n, err := c.Incr(context.Background(), "loginsign:test:db").Result()
	if err != nil {
		t.Fatalf("real redis: %v", err)
	}
	db := int(n%15) + 1
	o := *opts
	o.DB = db
	d := redis.NewClient(&o)
	defer d.Close()
	if err := d.FlushDB(context.Background()).Err(); err != nil {
		t.Fatalf("real redis: %v", err)
	}
	return fmt.Sprintf("redis://%s/%d", opts.Addr, db)
}

// Real opens a real store on a database of its own.
func Real(t testing.TB, _ string) *kv.Store {
	t.Helper()
	s, err := kv.Open(context.Background(), URL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
