// Package kvtest opens Redis stores for tests: the embedded server always, and a real server
// when LOGINSIGN_TEST_REDIS_URL names one.
package kvtest

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"loginsign/internal/kv"
)

// EnvRedis names the real Redis server tests may use.
const EnvRedis = "LOGINSIGN_TEST_REDIS_URL"

// Run runs fn once per store as a subtest named "embedded" or "redis".
func Run(t *testing.T, fn func(t *testing.T, s *kv.Store)) {
	t.Helper()
	t.Run("embedded", func(t *testing.T) { fn(t, Embedded(t)) })
	if os.Getenv(EnvRedis) != "" {
		t.Run("redis", func(t *testing.T) { fn(t, Real(t)) })
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
	// Databases 1–15 are leased: a test holds its database until it ends, so a test in another
	// package running at the same time never empties it. A lease outlives a crashed test run by
	// at most leaseTTL.
	ctx := context.Background()
	db, token := 0, fmt.Sprintf("%d-%d", os.Getpid(), time.Now().UnixNano())
	deadline := time.Now().Add(5 * time.Minute)
	for db == 0 {
		for n := 1; n <= 15; n++ {
			ok, err := c.SetNX(ctx, fmt.Sprintf("loginsign:test:lease:%d", n), token, leaseTTL).Result()
			if err != nil {
				t.Fatalf("real redis: %v", err)
			}
			if ok {
				db = n
				break
			}
		}
		if db == 0 {
			if time.Now().After(deadline) {
				t.Fatal("real redis: all 15 test databases stayed leased for 5 minutes")
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	lease := fmt.Sprintf("loginsign:test:lease:%d", db)
	t.Cleanup(func() {
		c := redis.NewClient(opts)
		defer c.Close()
		if v, _ := c.Get(ctx, lease).Result(); v == token {
			c.Del(ctx, lease)
		}
	})
	o := *opts
	o.DB = db
	d := redis.NewClient(&o)
	defer d.Close()
	if err := d.FlushDB(ctx).Err(); err != nil {
		t.Fatalf("real redis: %v", err)
	}
	return fmt.Sprintf("redis://%s/%d", opts.Addr, db)
}

// leaseTTL bounds how long a test may hold a database (the longest test is the browser test).
const leaseTTL = 20 * time.Minute

// Real opens a store on a database of its own of the real server LOGINSIGN_TEST_REDIS_URL
// names (URL); the embedded server when it names none.
func Real(t testing.TB) *kv.Store {
	t.Helper()
	s, err := kv.Open(context.Background(), URL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
