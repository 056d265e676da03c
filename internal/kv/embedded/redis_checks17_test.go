package embedded_test

import (
	"context"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"loginsign/internal/kv"
	"loginsign/internal/kv/kvtest"
)

// t17 is a key of these tests (a real server's database is shared).
func t17(name string) string { return "t17:" + name }

func cleanup17(t *testing.T, s *kv.Store, keys ...string) {
	t.Cleanup(func() { s.Del(context.Background(), keys...) })
	s.Del(context.Background(), keys...)
}

// A command Redis refuses inside MULTI (unknown, or with a wrong number of arguments) discards
// the whole transaction at EXEC (EXECABORT), on the protocol and in kv.Transact (the embedded
// store's DoAll): the embedded store answered the refusal and then ran the rest, so a
// transaction that Redis runs all or nothing of ran in part. Run against a real Redis too
// (LOGINSIGN_TEST_REDIS_URL), as the reference.
func TestATransactionWithARefusedCommandRunsNothing(t *testing.T) {
	kvtest.Run(t, func(t *testing.T, s *kv.Store) {
		ctx := context.Background()
		a, b := t17("tx-a"), t17("tx-b")
		cleanup17(t, s, a, b)
		for _, bad := range [][]any{{"NOSUCHCOMMAND", "x"}, {"GET"}, {"INCRBY", a}} {
			client, single := s.UniversalClient.(*redis.Client)
			if !single {
				t.Skip("one connection needs a single server")
			}
			c := client.Conn()
			for _, cmd := range [][]any{{"MULTI"}, {"SET", a, "1"}, bad, {"SET", b, "2"}} {
				c.Do(ctx, cmd...) // the refused command answers its error
			}
			_, err := c.Do(ctx, "EXEC").Result()
			c.Close()
			if err == nil || !strings.HasPrefix(err.Error(), "EXECABORT") {
				t.Errorf("EXEC after %v inside MULTI: %v, want EXECABORT", bad, err)
			}
			if n, _ := s.Exists(ctx, a, b).Result(); n != 0 {
				t.Errorf("after a transaction with %v: %d of its keys written, want none", bad, n)
			}
			cmds := [][]string{{"SET", a, "1"}, {"SET", b, "2"}}
			cmds = append(cmds[:1], append([][]string{toStrings(bad)}, cmds[1:]...)...)
			if _, err := s.Transact(ctx, cmds...); err == nil {
				t.Errorf("kv.Transact with %v: no error", bad)
			}
			if n, _ := s.Exists(ctx, a, b).Result(); n != 0 {
				t.Errorf("after kv.Transact with %v: %d of its keys written, want none", bad, n)
			}
		}
		// A refused command outside MULTI, and an error at EXEC (a command Redis queued),
		// leave the rest as Redis leaves it: run.
		if _, err := s.Transact(ctx, []string{"SET", a, "x"}, []string{"INCR", a}, []string{"SET", b, "2"}); err == nil {
			t.Errorf("kv.Transact with INCR of a string: no error")
		}
		if n, _ := s.Exists(ctx, a, b).Result(); n != 2 {
			t.Errorf("a transaction with an error at EXEC: %d of its 2 keys written, want both (as Redis)", n)
		}
	})
}

func toStrings(a []any) []string {
	out := make([]string, len(a))
	for i, x := range a {
		out[i] = x.(string)
	}
	return out
}

// An integer argument or value is read as Redis reads it (string2ll): no '+', no leading
// zero, no "-0", no space. The embedded store read them with strconv.ParseInt, which takes
// "+5" and "05": INCRBY k +5 answered 10 where Redis answers an error.
func TestIntegersAreReadAsRedisReadsThem(t *testing.T) {
	kvtest.Run(t, func(t *testing.T, s *kv.Store) {
		ctx := context.Background()
		n, str := t17("int-n"), t17("int-s")
		cleanup17(t, s, n, str)
		if err := s.Set(ctx, n, "5", 0).Err(); err != nil {
			t.Fatal(err)
		}
		for _, arg := range []string{"+5", "05", "-0", " 5", "5 ", "0x5", "-", "", "5.0", "99999999999999999999"} {
			for _, cmd := range [][]any{{"INCRBY", n, arg}, {"EXPIRE", n, arg}, {"PEXPIRE", n, arg}, {"SET", str, "v", "EX", arg}, {"SET", str, "v", "PX", arg}} {
				err := s.Do(ctx, cmd...).Err()
				if err == nil || !strings.Contains(err.Error(), "not an integer") {
					t.Errorf("%q: %v, want Redis's \"value is not an integer or out of range\"", cmd, err)
				}
			}
		}
		if v, _ := s.Get(ctx, n).Result(); v != "5" {
			t.Errorf("the counter after refused INCRBYs: %q, want 5", v)
		}
		for _, stored := range []string{"+5", "05", "-0", " 5"} {
			s.Set(ctx, str, stored, 0)
			if err := s.Incr(ctx, str).Err(); err == nil || !strings.Contains(err.Error(), "not an integer") {
				t.Errorf("INCR of the value %q: %v, want an error", stored, err)
			}
		}
		for arg, want := range map[string]int64{"0": 0, "-5": -5, "12": 12, "-9223372036854775808": -9223372036854775808} {
			s.Set(ctx, n, "0", 0)
			if got, err := s.Do(ctx, "INCRBY", n, arg).Int64(); err != nil || got != want {
				t.Errorf("INCRBY %s: %d, %v; want %d", arg, got, err, want)
			}
		}
	})
}
