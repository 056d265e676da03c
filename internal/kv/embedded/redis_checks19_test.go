package embedded_test

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"loginsign/internal/kv/kvtest"
)

// reply19 is a reply in a form both servers' replies compare in: an array (a set's members,
// a hash's fields) sorted, a RESP3 map flattened first, an error by its text; a TTL is
// kept only as its sign (-2, -1, or "live"), the clocks of two servers being apart.
func reply19(cmd string, v any, err error) string {
	switch {
	case err == redis.Nil:
		return "nil"
	case err != nil:
		return "error: " + err.Error()
	}
	switch x := v.(type) {
	case int64:
		if (cmd == "TTL" || cmd == "PTTL") && x > 0 {
			return "live"
		}
		return fmt.Sprint(x)
	case map[any]any:
		var out []string
		for k, v := range x {
			out = append(out, fmt.Sprint(k), fmt.Sprint(v))
		}
		sort.Strings(out)
		return fmt.Sprint(out)
	case []any:
		out := make([]string, len(x))
		for i, e := range x {
			out[i] = fmt.Sprint(e)
		}
		if cmd != "HMGET" {
			sort.Strings(out)
		}
		return fmt.Sprint(out)
	}
	return fmt.Sprintf("%T %v", v, v)
}

// Every command LoginSign sends, with the arguments it sends and the edge cases around them
// (types, TTL options, integers, arity), answers on the embedded store as on a real Redis:
// the same reply, or an error with the same text. Each script runs on fresh keys, one command
// at a time, on both servers.
func TestCommandsAnswerAsRedisAnswers(t *testing.T) {
	if os.Getenv(kvtest.EnvRedis) == "" {
		t.Skip(kvtest.EnvRedis + " is not set: no real Redis to compare with")
	}
	ctx := context.Background()
	real, emb := kvtest.Real(t), kvtest.Embedded(t)
	scripts := []string{
		"SET k v EX 100 NX | SET k w NX | SET k w XX KEEPTTL | TTL k | GET k | SET k x XX | TTL k",
		"SET k v EX 0 | SET k v PX -1 | SET k v EX abc | SET k v EX 10 PX 10 | SET k v NX XX | SET k v KEEPTTL EX 10 | SET k v EX 9223372036854775807 | SET k v FOO | EXISTS k",
		"SADD k a | SET k v XX | TYPE k | GET k",
		"SADD k a | EXPIRE k 100 | SET k v XX KEEPTTL | TYPE k | TTL k",
		"SADD k a | SETNX k v | GET k | GETDEL k | SMEMBERS k",
		"SET k v | GETDEL k | GETDEL k | EXISTS k",
		"SET k 1 EX 100 | INCR k | TTL k | INCRBY k 5 | INCRBY k -7 | GET k",
		"SET k abc | INCR k | INCRBY k 1 | SET k 05 | INCR k | SET k -0 | INCR k | SET k +5 | INCR k | SET k ' 5' | INCR k",
		"INCRBY k +5 | INCRBY k 05 | INCRBY k 9223372036854775807 | INCR k | INCRBY k -9223372036854775808 | GET k",
		"SET k 9223372036854775807 | INCR k | GET k | SET j -9223372036854775808 | INCRBY j -1 | INCRBY j 0",
		"SADD k a | INCR k | HSET k f v | HGET k f | GET k | HGETALL k | HMGET k f | HLEN k | HDEL k f",
		"HSET k f v | SADD k a | SREM k a | SMEMBERS k | SISMEMBER k a | SCARD k",
		"SET k v | EXPIRE k 100 NX | EXPIRE k 100 XX | EXPIRE k 200 GT | EXPIRE k 100 GT | EXPIRE k 50 LT | EXPIRE k 500 LT | TTL k",
		"SET k v | EXPIRE k 100 XX | EXPIRE k 100 GT | EXPIRE k 100 LT | TTL k | EXPIRE k 100 NX | EXPIRE k 300 NX | PERSIST k | PERSIST k | TTL k",
		"SET k v EX 100 | EXPIRE k -1 GT | EXISTS k | EXPIRE k 0 | EXISTS k | EXPIRE k 10 | PEXPIRE k 10",
		"SET k v | EXPIRE k abc | EXPIRE k 10 FOO | EXPIRE k 9223372036854775807 | PEXPIRE k 9223372036854775807 | EXPIRE k -9223372036854775808 | EXISTS k",
		"PTTL k | TTL k | SET k v | PTTL k | TTL k | PEXPIRE k 100000 | PTTL k | PERSIST k | PTTL k",
		"SADD k a a b | SADD k a c | SCARD k | SISMEMBER k a | SISMEMBER k z | SREM k a z | SMEMBERS k | SREM k b c | EXISTS k | SREM k b | SCARD k | SMEMBERS k",
		"SADD k a | EXPIRE k 100 | SADD k b | TTL k | SREM k a b | TTL k",
		"HSET k f v f w | HGET k f | HSET k f x g y | HLEN k | HMGET k f g h | HGETALL k | HDEL k f h | HDEL k g | EXISTS k | HGETALL k | HMGET k f | HLEN k",
		"HSET k f v | EXPIRE k 100 | HSET k g w | TTL k | HDEL k f g | TTL k",
		"HSET k f | HSET k | HGET k | HMGET k | HDEL k | SADD k | SREM k | SISMEMBER k a b | GET | SET k | SETNX k v w | INCRBY k | EXPIRE k | PERSIST | GETDEL",
		"SET k v | SET j w | DEL k k j x | EXISTS k j | SET k v | UNLINK k x | EXISTS k k | TYPE x",
		"SETNX k v | SETNX k w | GET k | TTL k",
		"EXPIRE x 10 FOO | EXPIRE x abc FOO | SET k v | EXPIRE k abc NX XX | EXPIRE k 10 NX XX | EXPIRE k 10 GT LT | EXPIRE k 10 nx NX | TTL k | EXPIRE k 20 xx gt | EXPIRE k 5 XX GT | EXPIRE k 50 XX GT | TTL k | PEXPIRE k 10 NX GT",
	}
	for i, script := range scripts {
		prefix := fmt.Sprintf("t19:%d:%d:", os.Getpid(), i)
		var keys []string
		for _, k := range []string{"k", "j", "x"} {
			keys = append(keys, prefix+k)
		}
		t.Cleanup(func() { real.Del(ctx, keys...) })
		real.Del(ctx, keys...)
		for _, line := range strings.Split(script, "|") {
			var args []any
			for _, w := range strings.Fields(strings.TrimSpace(line)) {
				switch {
				case w == "k" || w == "j" || w == "x":
					w = prefix + w
				case w == "'":
					continue
				}
				args = append(args, strings.Trim(w, "'"))
			}
			if strings.Contains(line, "' 5'") {
				args = []any{"SET", prefix + "k", " 5"}
			}
			cmd := args[0].(string)
			rv, rerr := real.Do(ctx, args...).Result()
			ev, eerr := emb.Do(ctx, args...).Result()
			want, got := reply19(cmd, rv, rerr), reply19(cmd, ev, eerr)
			if got != want {
				t.Errorf("%q: after %q: %v\n  embedded: %s\n  redis:    %s", script, line, args, got, want)
			}
		}
	}
}
