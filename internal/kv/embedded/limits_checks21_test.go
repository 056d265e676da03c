package embedded_test

import (
	"context"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"loginsign/internal/apperr"
	"loginsign/internal/kv"
	"loginsign/internal/kv/embedded"
)

// A write the embedded store refuses for its log's limits reaches the app as the class of error
// it is, over the protocol (go-redis) and in kv.Transact alike: a set or hash past the members a
// record holds is a want of room, answered OOM as a full store is (an outage: 503 with
// Retry-After); a string past 512 MiB is Redis's own ERR (proto-max-bulk-len), a bug, since
// no request carries one (500, as on Redis). Before, the set or hash answered ERR: a route
// answered 500 for a store out of room, where a full store answers 503.
func TestAWritePastTheLogsLimitsReachesTheAppAsItsClass(t *testing.T) {
	embedded.LowLimitsForTest(t, 16, 3, 1<<20)
	ctx := context.Background()
	s, err := kv.OpenWith(ctx, "", kv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.SAdd(ctx, "set", "a", "b", "c").Err(); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", 17)
	for name, err := range map[string]error{
		"SADD":              s.SAdd(ctx, "set", "d").Err(),
		"HSET":              s.HSet(ctx, "hash", "a", "1", "b", "2", "c", "3", "d", "4").Err(),
		"Transact SADD":     second(s.Transact(ctx, []string{"SADD", "set", "e"})),
		"Transact HSET new": second(s.Transact(ctx, []string{"HSET", "h2", "a", "1", "b", "2", "c", "3", "d", "4"})),
	} {
		if err == nil || !strings.HasPrefix(err.Error(), "OOM ") || !apperr.DependencyDown(err) {
			t.Errorf("%s past the members a record holds: %v, want an OOM the app reads as an outage (503)", name, err)
		}
	}
	for name, err := range map[string]error{
		"SET":          s.Set(ctx, "str", long, 0).Err(),
		"Transact SET": second(s.Transact(ctx, []string{"SET", "str", long})),
	} {
		_, isRedis := err.(redis.Error)
		if err == nil || err.Error() != "ERR string exceeds maximum allowed size (proto-max-bulk-len)" || !isRedis || apperr.DependencyDown(err) {
			t.Errorf("%s past 512 MiB: %v, want Redis's ERR, not an outage (500, as on Redis)", name, err)
		}
	}
}

func second(_ []any, err error) error { return err }
