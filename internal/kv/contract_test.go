package kv_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"loginsign/internal/kv"
	"loginsign/internal/kv/kvtest"
)

// TestContract is the behaviour LoginSign relies on, run against the embedded store and,
// when LOGINSIGN_TEST_REDIS_URL names one, a real Redis: both must answer alike.
func TestContract(t *testing.T) {
	t.Parallel()
	kvtest.Run(t, func(t *testing.T, s *kv.Store) {
		ctx := t.Context()
		t.Run("strings", func(t *testing.T) {
			if err := s.Set(ctx, "s:a", "1", 0).Err(); err != nil {
				t.Fatal(err)
			}
			if v, err := s.Get(ctx, "s:a").Result(); v != "1" || err != nil {
				t.Fatalf("GET = %q, %v", v, err)
			}
			if _, err := s.Get(ctx, "s:missing").Result(); err != redis.Nil {
				t.Fatalf("GET missing: %v, want redis.Nil", err)
			}
			if ok, _ := s.SetNX(ctx, "s:a", "2", time.Minute).Result(); ok {
				t.Fatal("SETNX replaced a key")
			}
			if ok, _ := s.SetNX(ctx, "s:b", "2", time.Minute).Result(); !ok {
				t.Fatal("SETNX did not set a new key")
			}
			if err := s.SetArgs(ctx, "s:c", "x", redis.SetArgs{Mode: "XX"}).Err(); err != redis.Nil {
				t.Fatalf("SET XX on a missing key: %v, want redis.Nil", err)
			}
			if v, err := s.GetDel(ctx, "s:b").Result(); v != "2" || err != nil {
				t.Fatalf("GETDEL = %q, %v", v, err)
			}
			if n, _ := s.Exists(ctx, "s:a", "s:b", "s:a").Result(); n != 2 {
				t.Fatalf("EXISTS counted %d, want 2", n)
			}
			if n, _ := s.Incr(ctx, "s:n").Result(); n != 1 {
				t.Fatalf("INCR of a missing key = %d", n)
			}
			if n, _ := s.Incr(ctx, "s:n").Result(); n != 2 {
				t.Fatalf("INCR = %d", n)
			}
			if err := s.Incr(ctx, "s:a").Err(); err != nil {
				t.Fatalf("INCR of \"1\": %v", err)
			}
			s.Set(ctx, "s:t", "text", 0)
			if err := s.Incr(ctx, "s:t").Err(); err == nil || !strings.Contains(err.Error(), "not an integer") {
				t.Fatalf("INCR of text: %v", err)
			}
			if n, _ := s.Del(ctx, "s:a", "s:n", "s:none").Result(); n != 2 {
				t.Fatalf("DEL removed %d, want 2", n)
			}
			s.SAdd(ctx, "s:set", "m")
			if err := s.Get(ctx, "s:set").Err(); err == nil || !strings.HasPrefix(err.Error(), "WRONGTYPE") {
				t.Fatalf("GET of a set: %v, want WRONGTYPE", err)
			}
		})
		t.Run("get each", func(t *testing.T) {
			if err := s.Set(ctx, "ge:a", "one", 0).Err(); err != nil {
				t.Fatal(err)
			}
			if err := s.Set(ctx, "ge:empty", "", 0).Err(); err != nil {
				t.Fatal(err)
			}
			if err := s.SAdd(ctx, "ge:set", "m").Err(); err != nil {
				t.Fatal(err)
			}
			vals, err := s.GetEach(ctx, "ge:a", "ge:missing", "ge:empty", "ge:set")
			if err != nil {
				t.Fatal(err)
			}
			if len(vals) != 4 || string(vals[0]) != "one" || vals[1] != nil || vals[2] == nil || len(vals[2]) != 0 || vals[3] != nil {
				t.Fatalf("GetEach = %q, want [one <nil> \"\" <nil>] (a key of another type reads as missing, as MGET has it)", vals)
			}
		})
		t.Run("transact", func(t *testing.T) {
			if err := s.Set(ctx, "tx:flag", "1", 0).Err(); err != nil {
				t.Fatal(err)
			}
			vals, err := s.Transact(ctx,
				[]string{"SET", "tx:a", "v", "PX", "60000"},
				[]string{"SADD", "tx:set", "m1", "m2"},
				[]string{"PEXPIRE", "tx:set", "60000"},
				[]string{"GET", "tx:a"},
				[]string{"GET", "tx:missing"},
				[]string{"EXISTS", "tx:flag", "tx:missing"},
				[]string{"SMEMBERS", "tx:set"})
			if err != nil {
				t.Fatal(err)
			}
			if len(vals) != 7 || vals[0] != "OK" || vals[1] != int64(2) || vals[2] != int64(1) || vals[3] != "v" ||
				vals[4] != nil || vals[5] != int64(1) {
				t.Fatalf("Transact = %#v", vals)
			}
			members, ok := vals[6].([]any)
			if !ok || len(members) != 2 {
				t.Fatalf("SMEMBERS in Transact = %#v, want two members", vals[6])
			}
			if d := s.PTTL(ctx, "tx:a").Val(); d <= 59*time.Second || d > time.Minute {
				t.Fatalf("PTTL after Transact = %v", d)
			}
			// A failing command fails the call; the others were run, as in MULTI … EXEC.
			if _, err := s.Transact(ctx, []string{"SET", "tx:b", "w"}, []string{"INCR", "tx:a"}); err == nil {
				t.Fatal("Transact with INCR of a string: no error")
			} else if _, reply := err.(redis.Error); !reply {
				t.Fatalf("Transact error %v (%T) is not a reply", err, err)
			}
			if v := s.Get(ctx, "tx:b").Val(); v != "w" {
				t.Fatalf("GET tx:b = %q, want w", v)
			}
		})
		// Concurrent calls (which share pipelines on a Redis server): each gets its own
		// replies, atomic transactions, and a failing one fails alone.
		t.Run("concurrent transactions", func(t *testing.T) {
			const n = 200
			var wg sync.WaitGroup
			counts := make([]int64, n)
			errs := make([]error, 2*n)
			if err := s.Set(ctx, "ctx:set", "x", 0).Err(); err != nil {
				t.Fatal(err)
			}
			s.SAdd(ctx, "ctx:members", "m")
			for i := range n { // GetEach alongside, of a value, a missing key and a set
				wg.Go(func() {
					v, err := s.GetEach(ctx, "ctx:set", fmt.Sprintf("ctx:none:%d", i), "ctx:members")
					if err != nil || len(v) != 3 || string(v[0]) != "x" || v[1] != nil || v[2] != nil {
						errs[n+i] = fmt.Errorf("GetEach %d: %q %v", i, v, err)
					}
				})
			}
			for i := range n {
				wg.Go(func() {
					k := fmt.Sprintf("ctx:%d", i)
					cmds := [][]string{{"SET", k, "v" + k}, {"INCR", "ctx:n"}, {"GET", k}}
					if i%10 == 0 {
						cmds = append(cmds, []string{"INCR", k}) // not a number: an error reply
					}
					r, err := s.Transact(ctx, cmds...)
					switch {
					case i%10 == 0 && err == nil:
						errs[i] = fmt.Errorf("call %d with INCR of a string: no error", i)
					case i%10 == 0:
						if _, reply := err.(redis.Error); !reply {
							errs[i] = fmt.Errorf("call %d: %v (%T), want the error reply", i, err, err)
						}
					case err != nil:
						errs[i] = fmt.Errorf("call %d: %v", i, err)
					case len(r) != 3 || r[0] != "OK" || r[2] != "v"+k:
						errs[i] = fmt.Errorf("call %d got %#v, want its own replies", i, r)
					default:
						counts[i] = r[1].(int64)
					}
				})
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
			if v, _ := s.Get(ctx, "ctx:n").Int64(); v != n {
				t.Fatalf("ctx:n = %d after %d transactions, want %d", v, n, n)
			}
			counts = slices.DeleteFunc(slices.Sorted(slices.Values(counts)), func(c int64) bool { return c == 0 })
			if len(counts) != n-n/10 || len(slices.Compact(counts)) != n-n/10 {
				t.Fatalf("INCR replies of the successful calls are not distinct: %v", counts)
			}
			if v := s.Get(ctx, "ctx:0").Val(); v != "vctx:0" {
				t.Fatalf("the failed call's SET: %q, want it run (as in MULTI … EXEC)", v)
			}
		})
		t.Run("expiry", func(t *testing.T) {
			if d, _ := s.PTTL(ctx, "e:none").Result(); d != -2*time.Nanosecond && d != -2*time.Millisecond && d != -2 {
				t.Fatalf("PTTL of a missing key = %v, want -2", d)
			}
			s.Set(ctx, "e:p", "v", 0)
			if d, _ := s.PTTL(ctx, "e:p").Result(); d >= 0 {
				t.Fatalf("PTTL of a persistent key = %v, want -1", d)
			}
			s.Set(ctx, "e:a", "v", 10*time.Second)
			if d, _ := s.PTTL(ctx, "e:a").Result(); d <= 9*time.Second || d > 10*time.Second {
				t.Fatalf("PTTL = %v, want about 10s", d)
			}
			if ok, _ := s.ExpireNX(ctx, "e:a", time.Hour).Result(); ok {
				t.Fatal("EXPIRE NX changed a TTL")
			}
			if ok, _ := s.ExpireNX(ctx, "e:p", time.Hour).Result(); !ok {
				t.Fatal("EXPIRE NX did not set a TTL")
			}
			if ok, _ := s.Expire(ctx, "e:none", time.Hour).Result(); ok {
				t.Fatal("EXPIRE of a missing key answered true")
			}
			s.Set(ctx, "e:kt", "v", time.Hour)
			s.SetArgs(ctx, "e:kt", "w", redis.SetArgs{KeepTTL: true})
			if d, _ := s.PTTL(ctx, "e:kt").Result(); d < 59*time.Minute {
				t.Fatalf("SET KEEPTTL lost the TTL: %v", d)
			}
			s.Set(ctx, "e:kt", "w", 0)
			if d, _ := s.PTTL(ctx, "e:kt").Result(); d >= 0 {
				t.Fatalf("SET without TTL kept the TTL: %v", d)
			}
			s.Set(ctx, "e:short", "v", 50*time.Millisecond)
			s.SAdd(ctx, "e:set", "m")
			s.PExpire(ctx, "e:set", 50*time.Millisecond)
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				n, _ := s.Exists(ctx, "e:short", "e:set").Result()
				if n == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%d keys outlived their TTL by 10 s", n)
				}
			}
		})
		t.Run("sets", func(t *testing.T) {
			if n, _ := s.SAdd(ctx, "set:a", "x", "y", "x").Result(); n != 2 {
				t.Fatalf("SADD added %d, want 2", n)
			}
			if ok, _ := s.SIsMember(ctx, "set:a", "y").Result(); !ok {
				t.Fatal("SISMEMBER y = false")
			}
			m, _ := s.SMembers(ctx, "set:a").Result()
			slices.Sort(m)
			if !slices.Equal(m, []string{"x", "y"}) {
				t.Fatalf("SMEMBERS = %v", m)
			}
			if m, err := s.SMembers(ctx, "set:none").Result(); len(m) != 0 || err != nil {
				t.Fatalf("SMEMBERS of a missing key = %v, %v", m, err)
			}
			if n, _ := s.SRem(ctx, "set:a", "x", "y", "z").Result(); n != 2 {
				t.Fatalf("SREM removed %d", n)
			}
			if n, _ := s.Exists(ctx, "set:a").Result(); n != 0 {
				t.Fatal("an emptied set still exists")
			}
		})
		t.Run("hashes", func(t *testing.T) {
			if n, _ := s.HSet(ctx, "h:a", map[string]any{"u": "usr_1", "seen": 5}).Result(); n != 2 {
				t.Fatalf("HSET added %d", n)
			}
			if n, _ := s.HSet(ctx, "h:a", "seen", 6).Result(); n != 0 {
				t.Fatalf("HSET of an existing field added %d", n)
			}
			if v, _ := s.HGet(ctx, "h:a", "seen").Result(); v != "6" {
				t.Fatalf("HGET = %q", v)
			}
			if err := s.HGet(ctx, "h:a", "none").Err(); err != redis.Nil {
				t.Fatalf("HGET missing field: %v", err)
			}
			vals, _ := s.HMGet(ctx, "h:a", "u", "none").Result()
			if len(vals) != 2 || vals[0] != "usr_1" || vals[1] != nil {
				t.Fatalf("HMGET = %v", vals)
			}
			all, _ := s.HGetAll(ctx, "h:a").Result()
			if len(all) != 2 || all["u"] != "usr_1" {
				t.Fatalf("HGETALL = %v", all)
			}
		})
		t.Run("transactions and pipelines", func(t *testing.T) {
			ok, _, err := s.Limit(ctx, "c", 2, time.Minute)
			if !ok || err != nil {
				t.Fatalf("first hit: %v %v", ok, err)
			}
			s.Limit(ctx, "c", 2, time.Minute)
			ok, retry, err := s.Limit(ctx, "c", 2, time.Minute)
			if ok || err != nil || retry <= 0 || retry > time.Minute {
				t.Fatalf("third hit: ok=%v retry=%v err=%v", ok, retry, err)
			}
			// The other limits: weighted hits, a peek that counts nothing, both in one call.
			if ok, _, err := s.LimitN(ctx, "w", 3, 4, time.Minute); !ok || err != nil {
				t.Fatalf("3 of 4: %v %v", ok, err)
			}
			if ok, retry, err := s.LimitN(ctx, "w", 2, 4, time.Minute); ok || err != nil || retry <= 0 || retry > time.Minute {
				t.Fatalf("5 of 4: ok=%v retry=%v err=%v", ok, retry, err)
			}
			if ok, retry, err := s.Peek(ctx, "none", 1); !ok || retry != 0 || err != nil {
				t.Fatalf("peek of an unused budget: %v %v %v", ok, retry, err)
			}
			if ok, retry, err := s.Peek(ctx, "w", 5); ok || err != nil || retry < time.Second || retry > time.Minute {
				t.Fatalf("peek of a spent budget: ok=%v retry=%v err=%v", ok, retry, err)
			}
			if ok, _, _ := s.Peek(ctx, "w", 6); !ok {
				t.Fatal("peek counted hits")
			}
			peekLimit := func(peekKey string, peekLimit int) (peekOK bool, peekRetry time.Duration, ok bool, retry time.Duration) {
				t.Helper()
				r, err := s.Transact(ctx, append(kv.PeekLimitCmds(peekKey, "q", 1, time.Minute), []string{"SET", "after", "x"})...)
				if err != nil || len(r) != 6 || r[5] != "OK" {
					t.Fatalf("PeekLimitCmds ahead of a command of the caller's: %v %v", r, err)
				}
				return kv.ReadPeekLimit(r, peekLimit, 1, time.Minute)
			}
			if peekOK, peekRetry, ok, _ := peekLimit("w", 5); peekOK || peekRetry < time.Second || !ok {
				t.Fatalf("PeekLimit of a spent budget and a fresh quota: %v %v %v", peekOK, peekRetry, ok)
			}
			if peekOK, _, ok, retry := peekLimit("none", 1); !peekOK || ok || retry <= 0 || retry > time.Minute {
				t.Fatalf("PeekLimit counts its hit even so: %v %v %v", peekOK, ok, retry)
			}
			if ttl, _ := s.PTTL(ctx, "rl:q").Result(); ttl <= 0 || ttl > time.Minute {
				t.Fatalf("the quota's window: %v", ttl)
			}
			// A pipeline far larger than any buffer: nothing deadlocks, every reply arrives.
			big := strings.Repeat("v", 4096)
			pipe := s.Pipeline()
			for i := range 2000 {
				pipe.Set(ctx, fmt.Sprintf("p:%d", i), big, time.Minute)
			}
			get := pipe.Get(ctx, "p:1999")
			if _, err := pipe.Exec(ctx); err != nil || get.Val() != big {
				t.Fatalf("big pipeline: %v", err)
			}
			tx := s.TxPipeline()
			tx.Set(ctx, "tx:a", "1", time.Minute)
			tx.SAdd(ctx, "tx:s", "h")
			inc := tx.Incr(ctx, "tx:a")
			if _, err := tx.Exec(ctx); err != nil || inc.Val() != 2 {
				t.Fatalf("MULTI/EXEC: %v %d", err, inc.Val())
			}
		})
	})
}
